"""``CrackData``: a Backtrader data feed of an exchange's candles, through ``CrackStore``.

History first, through ``fetch_ohlcv`` pages (``since`` = the last open time + one bar, so no
bar is delivered twice or skipped across pages, whatever the page size), then, unless
``historical=True``, live: the feed polls the exchange and delivers each candle once it is
CLOSED by the exchange's clock (``open + bar length <= server time``), never the forming one.
After a gap (a reconnect, errors, a slow strategy) the next poll pages from the last delivered
bar, so the missed bars are backfilled in order before the feed is live again.

Each bar's ``datetime`` is the candle's OPEN time in UTC (naive, as Backtrader stores it), as
the exchange stamps it; ``fromdate``/``todate`` are read as UTC when naive.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import time
from typing import Any, Callable

import backtrader as bt
from backtrader.utils import date2num

__all__ = ["CrackData", "TimeFrameError", "ccxt_timeframe", "timeframe_ms"]

logger = logging.getLogger(__name__)

_UTC = dt.timezone.utc

# Backtrader (timeframe, compression) -> ccxt's timeframe strings
_TF_UNITS = {
    bt.TimeFrame.Seconds: ("s", 1),
    bt.TimeFrame.Minutes: ("m", 1),
    bt.TimeFrame.Days: ("d", 1),
    bt.TimeFrame.Weeks: ("w", 1),
    bt.TimeFrame.Months: ("M", 1),
}


class TimeFrameError(ValueError):
    """A Backtrader timeframe/compression the exchange has no candles for."""


def ccxt_timeframe(timeframe: int, compression: int, supported: Any = None) -> str:
    """ccxt's name (``"1m"``, ``"4h"``, ``"1d"``...) of Backtrader's ``timeframe`` and
    ``compression``; minutes in whole hours are named in hours. ``supported``: the exchange's
    ``timeframes`` (a dict or list); a name not in it raises ``TimeFrameError``."""
    tfname = bt.TimeFrame.getname(timeframe, compression)
    if timeframe not in _TF_UNITS or compression < 1:
        raise TimeFrameError(
            f"CrackData: timeframe {tfname} (compression {compression}) has no ccxt candles: "
            "use Seconds, Minutes, Days, Weeks or Months"
        )
    unit, _ = _TF_UNITS[timeframe]
    if unit == "m" and compression % 60 == 0:
        name = f"{compression // 60}h"
    else:
        name = f"{compression}{unit}"
    if supported is not None and name not in supported:
        names = ", ".join(supported)
        raise TimeFrameError(
            f"CrackData: timeframe {tfname} x {compression} ({name!r}) "
            f"is not offered by the exchange: use one of {names}"
        )
    return name


def timeframe_ms(name: str) -> int:
    """Milliseconds of a ccxt timeframe name (months as 30 days: only for polling)."""
    units = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
    units["M"] = 30 * units["d"]
    return int(name[:-1]) * units[name[-1]]


def to_ms(when: dt.datetime) -> int:
    """A datetime as ms since the epoch; a naive one is UTC (never the host's time zone)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=_UTC)
    return int(round(when.timestamp() * 1000))


def from_ms(ms: int) -> dt.datetime:
    """ms since the epoch as a naive UTC datetime, Backtrader's storage."""
    return dt.datetime.fromtimestamp(ms / 1000.0, tz=_UTC).replace(tzinfo=None)


class CrackData(bt.feed.DataBase):
    """Candles of ``dataname`` (a ccxt symbol such as ``"BTC/USDT"``) from ``store``.

    Params (besides ``DataBase``'s ``dataname``, ``timeframe``, ``compression``, ``fromdate``,
    ``todate``, ``name``):

      - ``store``: the ``CrackStore`` (``store.getdata(...)`` sets it).
      - ``historical`` (default ``False``): deliver the history from ``fromdate`` and stop;
        ``False`` continues live after the history.
      - ``backfill_bars`` (default 1000): without ``fromdate``, how many of the latest closed
        bars to start with.
      - ``ohlcv_limit`` (default 1000): candles asked for per ``fetch_ohlcv`` call (the
        exchange may send fewer; paging continues until a page brings nothing new).
      - ``poll_interval`` (default 1.0): live, seconds between polls when no bar closed.
      - ``on_idle`` (default ``None``): live, called instead of sleeping when no bar closed
        (tests advance an emulator clock there).
      - ``max_idle_polls`` (default ``None``): live, stop after that many polls in a row
        without a new bar (``None``: never).
    """

    params = (
        ("store", None),
        ("historical", False),
        ("backfill_bars", 1000),
        ("ohlcv_limit", 1000),
        ("poll_interval", 1.0),
        ("on_idle", None),
        ("max_idle_polls", None),
    )

    _store: Any

    def __init__(self) -> None:
        super().__init__()
        if self.p.store is None:
            raise ValueError("CrackData: store is None: create the feed with store.getdata()")
        self._store = self.p.store
        if not getattr(self, "_name", ""):
            # Backtrader names datas after this (broker comminfo by name, plots, analyzers)
            setattr(self, "_name", str(self.p.dataname))  # noqa: B010 - an untyped base attr
        self._bars: collections.deque[list[Any]] = collections.deque()
        self._last_open: int | None = None  # the open time of the last bar delivered
        self._idle = 0
        self._tf = ""
        self._tf_ms = 0

    # -- Backtrader ---------------------------------------------------------------------------
    def islive(self) -> bool:
        return not self.p.historical

    def haslivedata(self) -> bool:
        return bool(self._bars) and self._laststatus == self.LIVE

    def start(self) -> None:
        super().start()
        store = self._store
        store.start(data=self)
        exchange = store.exchange
        self._tf = ccxt_timeframe(
            self.p.timeframe, self.p.compression, getattr(exchange, "timeframes", None) or None
        )
        self._tf_ms = timeframe_ms(self._tf)
        self.market = store.market(str(self.p.dataname))
        self._bars.clear()
        self._idle = 0
        now = store.milliseconds()
        if self.p.fromdate is not None:
            since = to_ms(self.p.fromdate)
        else:
            since = (now // self._tf_ms - int(self.p.backfill_bars)) * self._tf_ms
        self._last_open = since - self._tf_ms
        self.put_notification(self.DELAYED)
        self._fetch(now)

    def _fetch(self, now: int | None = None) -> int:
        """Page the closed candles after the last one delivered into the queue; how many."""
        store = self._store
        if now is None:
            now = store.milliseconds()
        todate = to_ms(self.p.todate) if self.p.todate is not None else None
        added = 0
        assert self._last_open is not None
        since = self._last_open + self._tf_ms
        while True:
            batch = store.call(
                "fetch_ohlcv", str(self.p.dataname), self._tf, since, int(self.p.ohlcv_limit)
            )
            newest = since - self._tf_ms
            for candle in batch or ():
                t = int(candle[0])
                # dedup on open time, and only closed candles (the last one usually forms)
                if t <= newest or t + self._tf_ms > now:
                    continue
                if todate is not None and t > todate:
                    continue
                self._bars.append(candle)
                newest = t
                added += 1
            if newest < since:  # nothing new on this page: caught up
                break
            since = newest + self._tf_ms
            if since + self._tf_ms > now or (todate is not None and since > todate):
                break
        if self._bars:
            self._last_open = int(self._bars[-1][0])
        logger.debug("CrackData %s %s: %d closed bars fetched", self.p.dataname, self._tf, added)
        return added

    def _load(self) -> bool | None:
        if not self._bars:
            if self.p.historical or self._done():
                return False
            if not self._poll():
                self._idle += 1
                if self.p.max_idle_polls is not None and self._idle > self.p.max_idle_polls:
                    return False
                on_idle: Callable[[], Any] | None = self.p.on_idle
                if on_idle is not None:
                    on_idle()
                else:
                    time.sleep(float(self.p.poll_interval))
                return None  # live: no bar yet, Cerebro comes back
            self._idle = 0
        candle = self._bars.popleft()
        self.lines.datetime[0] = date2num(from_ms(int(candle[0])))
        self.lines.open[0] = float(candle[1])
        self.lines.high[0] = float(candle[2])
        self.lines.low[0] = float(candle[3])
        self.lines.close[0] = float(candle[4])
        self.lines.volume[0] = float(candle[5])
        self.lines.openinterest[0] = 0.0
        return True

    def _poll(self) -> int:
        """One live poll: the closed bars since the last one delivered (a backfill after a
        gap), or 0. A transient error the store could not retry away is notified
        ``DISCONNECTED``, and the next successful poll notifies ``LIVE`` again."""
        import ccxt

        try:
            got = self._fetch()
        except ccxt.OperationFailed as exc:
            logger.warning("CrackData %s: poll failed (%s)", self.p.dataname, type(exc).__name__)
            self.put_notification(self.DISCONNECTED)
            return 0
        if self._laststatus != self.LIVE:
            self.put_notification(self.LIVE)
        return got

    def _done(self) -> bool:
        if self.p.todate is None or self._last_open is None:
            return False
        return self._last_open + self._tf_ms > to_ms(self.p.todate)
