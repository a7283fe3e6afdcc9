"""Progress bars for long runs (``python -m bt_cracktrader run``, the benchmark, sweeps).

A bar is drawn on ``stderr`` only when it is a terminal, so logs, pipes and CI output stay
clean; it is redrawn at most ten times a second.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import backtrader as bt

__all__ = ["ProgressAnalyzer", "ProgressBar", "enabled"]

PROGRESS_ANALYZER = "_crack_progress"


def enabled(stream: TextIO | None = None) -> bool:
    """True when ``stream`` (default ``sys.stderr``) is a terminal."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class ProgressBar:
    """``bar.update(done, total)`` redraws ``label [#####-----] 50% done/total ETA mm:ss``;
    ``total`` may be None (a count without ETA). ``close()`` ends the line."""

    def __init__(self, label: str, unit: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.unit = unit
        self.stream = sys.stderr if stream is None else stream
        self.active = enabled(self.stream)
        self.start = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def update(self, done: int, total: int | None = None, force: bool = False) -> None:
        if not self.active:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        elapsed = now - self.start
        if total:
            frac = min(1.0, done / total)
            filled = int(frac * 30)
            eta = elapsed / done * (total - done) if done else 0.0
            text = (
                f"{self.label} [{'#' * filled}{'-' * (30 - filled)}] {frac:4.0%} "
                f"{done}/{total} {self.unit} ETA {_clock(eta)}"
            )
        else:
            text = f"{self.label} {done} {self.unit} {_clock(elapsed)}"
        self.stream.write("\r" + text + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


class ProgressAnalyzer(bt.Analyzer):
    """Counts the strategy's bars and draws a :class:`ProgressBar` (total known when the
    datas are preloaded). Its analysis is empty: it observes, it does not measure."""

    def start(self) -> None:
        data = self.strategy.datas[0] if self.strategy.datas else None
        total = data.buflen() if data is not None else 0
        self._total = total or None
        self._done = 0
        self._bar = ProgressBar("backtest", "bars")

    def next(self) -> None:
        self._done += 1
        self._bar.update(self._done, self._total)

    def stop(self) -> None:
        self._bar.update(self._done, self._total, force=True)
        self._bar.close()

    def get_analysis(self) -> Any:
        return {}
