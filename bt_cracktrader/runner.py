"""Run an unchanged Backtrader script with ``CrackBroker`` in place of ``BackBroker``.

``run_script("strategy.py", ["--cash", "5000"], backend="rust")`` runs the script as
``python strategy.py --cash 5000`` would (``__name__ == "__main__"``, ``sys.argv``, the script's
directory first on ``sys.path``, the current directory unchanged), except that every
``BackBroker`` it creates, explicitly (``bt.brokers.BackBroker(cash=...)``) or through
``bt.Cerebro()``'s default broker, is a ``CrackBroker`` on the chosen core. Everything is restored
when the script ends, also when it raises.

With ``records=[]``, every ``Cerebro.run()`` the script performs is recorded
(:class:`bt_cracktrader.record.RunRecorder` is added to the cerebro as the analyzer
``_crack_record``) and one normalized record per run is appended to the list: this is what
``python -m bt_cracktrader run --compare`` compares between brokers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import runpy
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import backtrader as bt
import backtrader.brokers
import backtrader.brokers.bbroker
import backtrader.cerebro

from .broker import CrackBroker
from .core import BACKENDS, RustBackendUnavailable, load_core, rust_core
from .core import ENV_VAR as BACKEND_ENV_VAR
from .record import RunRecorder, normalize

__all__ = [
    "BROKER_CHOICES",
    "RECORD_ANALYZER",
    "CrackBrokerPython",
    "CrackBrokerRust",
    "recording",
    "resolve_backend",
    "run_script",
    "save_plots",
    "swapped_broker",
    "watching",
]

logger = logging.getLogger(__name__)

#: ``--backend`` values: the ``CrackBroker`` backends, and ``"backtrader"`` for no swap at all.
BROKER_CHOICES = (*BACKENDS, "backtrader")

#: The name under which :class:`RunRecorder` is added to every recorded ``Cerebro``.
RECORD_ANALYZER = "_crack_record"

# Where Backtrader keeps references to BackBroker (``bt.Cerebro()`` uses the one in cerebro's
# own namespace), and under which names.
_BROKER_MODULES = (bt, backtrader.brokers, backtrader.brokers.bbroker, backtrader.cerebro)
_BROKER_NAMES = ("BackBroker", "BrokerBack")
_ORIGINAL_BACKBROKER: type = backtrader.brokers.bbroker.BackBroker


# Module-level classes (not made on the fly): a Cerebro with its broker can be pickled to the
# worker processes of an optimisation run.
class CrackBrokerPython(CrackBroker):
    """``CrackBroker`` on the Python core, standing in for ``BackBroker``."""

    params = (("backend", "python"),)  # type: ignore[assignment]


class CrackBrokerRust(CrackBroker):
    """``CrackBroker`` on the Rust core, standing in for ``BackBroker``."""

    params = (("backend", "rust"),)  # type: ignore[assignment]


_BROKER_CLASSES: dict[str, type[CrackBroker]] = {
    "python": CrackBrokerPython,
    "rust": CrackBrokerRust,
}


def resolve_backend(backend: str | None) -> tuple[str, str | None]:
    """The core that ``backend`` means here: ``(name, why)`` with ``name`` ``"python"`` or
    ``"rust"``, and ``why`` the reason when ``"auto"`` falls back to the Python core.

    ``None`` reads ``BT_CRACKTRADER_BACKEND`` (default ``"auto"``), as ``CrackBroker`` does.
    Raises ``RustBackendUnavailable`` for ``"rust"`` without the extension and ``ValueError``
    for an unknown name.
    """
    name = backend if backend is not None else os.environ.get(BACKEND_ENV_VAR) or "auto"
    if name == "auto":
        try:
            rust_core()
        except RustBackendUnavailable as exc:
            return "python", str(exc)
        return "rust", None
    load_core(name)  # raises for an unknown name or a missing Rust extension
    return name, None


@contextlib.contextmanager
def swapped_broker(backend: str | None = "auto") -> Iterator[type[CrackBroker]]:
    """Within the block, ``BackBroker`` (every name Backtrader exports it under, including the
    one ``bt.Cerebro()`` uses for its default broker) is a ``CrackBroker`` subclass on
    ``backend``, which takes ``BackBroker``'s arguments. Yields that class."""
    name, why = resolve_backend(backend)
    if why is not None:
        logger.warning("backend 'auto' uses the Python core: %s", why)
    cls = _BROKER_CLASSES[name]
    saved: list[tuple[Any, str, Any]] = []
    try:
        for module in _BROKER_MODULES:
            for attr in _BROKER_NAMES:
                if getattr(module, attr, None) is _ORIGINAL_BACKBROKER:
                    saved.append((module, attr, _ORIGINAL_BACKBROKER))
                    setattr(module, attr, cls)
        yield cls
    finally:
        for module, attr, value in reversed(saved):
            setattr(module, attr, value)


def _strategy_record(strategy: Any) -> dict[str, Any] | None:
    """The recorder's analysis of a finished strategy (or of an optimisation's ``OptReturn``)."""
    analyzers = getattr(strategy, "analyzers", None)
    if analyzers is None:
        return None
    try:
        recorder = analyzers.getbyname(RECORD_ANALYZER)
    except (ValueError, KeyError, AttributeError):
        return None
    return recorder.get_analysis()  # type: ignore[no-any-return]


def _run_record(cerebro: Any, result: Any) -> dict[str, Any]:
    strategies: dict[str, Any] = {}
    optimized = bool(getattr(cerebro, "_dooptimize", False))
    if optimized:  # a list of lists: one list of strategies per parameter combination
        for i, combination in enumerate(result or []):
            for j, strategy in enumerate(combination or []):
                strategies[f"combination{i}/strategy{j}"] = _strategy_record(strategy)
    else:
        for j, strategy in enumerate(result or []):
            strategies[f"strategy{j}"] = _strategy_record(strategy)
    broker = cerebro.broker
    return {
        "optimization": optimized,
        "strategies": strategies,
        "final": {"cash": broker.getcash(), "value": broker.getvalue()},
    }


@contextlib.contextmanager
def recording(records: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Within the block, every ``Cerebro.run()`` gets :class:`RunRecorder` (as the analyzer
    ``_crack_record``, added last) and appends its normalized record to ``records``."""
    original = bt.Cerebro.run

    def run(self: Any, **kwargs: Any) -> Any:
        if not any(kw.get("_name") == RECORD_ANALYZER for _, _, kw in self.analyzers):
            self.addanalyzer(RunRecorder, _name=RECORD_ANALYZER)
        result = original(self, **kwargs)
        records.append(normalize(_run_record(self, result)))
        return result

    run.__doc__ = original.__doc__
    bt.Cerebro.run = run
    try:
        yield records
    finally:
        bt.Cerebro.run = original


def _exit_code(exc: SystemExit) -> int:
    """The process exit status ``python script.py`` would have for ``exc``."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


@contextlib.contextmanager
def watching(progress: bool, cerebros: list[Any] | None) -> Iterator[None]:
    """Within the block, every ``Cerebro.run()`` shows a progress bar (with ``progress``, on
    a terminal only) and is appended to ``cerebros`` (when given) for plotting afterwards."""
    from .progress import PROGRESS_ANALYZER, ProgressAnalyzer, enabled

    show = progress and enabled()
    if not show and cerebros is None:
        yield
        return
    original = bt.Cerebro.run

    def run(self: Any, **kwargs: Any) -> Any:
        if show and not any(kw.get("_name") == PROGRESS_ANALYZER for _, _, kw in self.analyzers):
            self.addanalyzer(ProgressAnalyzer, _name=PROGRESS_ANALYZER)
        result = original(self, **kwargs)
        if cerebros is not None:
            cerebros.append(self)
        return result

    run.__doc__ = original.__doc__
    bt.Cerebro.run = run
    try:
        yield
    finally:
        bt.Cerebro.run = original


def save_plots(cerebros: Sequence[Any], path: str) -> list[str]:
    """Plot each run (``cerebro.plot()``) into PNG files: ``path`` for a single run, else
    ``stem-1.png``, ``stem-2.png``, ... Returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    # with pyplot loaded first, Backtrader's own matplotlib.use("TkAgg") cannot take over
    import matplotlib.pyplot as plt

    written: list[str] = []
    stem, ext = os.path.splitext(path)
    figures = []
    for cerebro in cerebros:
        for strategy_figs in cerebro.plot(iplot=False) or []:
            figures.extend(strategy_figs if isinstance(strategy_figs, list) else [strategy_figs])
    for i, fig in enumerate(figures):
        out = path if len(figures) == 1 else f"{stem}-{i + 1}{ext or '.png'}"
        fig.set_size_inches(16, 9)
        fig.savefig(out, dpi=100)
        plt.close(fig)
        written.append(out)
    return written


def run_script(
    path: str | os.PathLike[str],
    args: Sequence[str] = (),
    backend: str | None = "auto",
    records: list[dict[str, Any]] | None = None,
    progress: bool = False,
    cerebros: list[Any] | None = None,
) -> int:
    """Run the script at ``path`` with ``args`` as ``python path *args`` would, with every
    ``BackBroker`` replaced by ``CrackBroker`` on ``backend`` (``"backtrader"``: no swap).
    Returns the script's exit status (0 when it ends normally or with ``sys.exit(0)``);
    exceptions other than ``SystemExit`` propagate. With ``records``, every ``Cerebro.run()``
    is recorded into it (see :func:`recording`); with ``progress``, runs show a progress bar
    on a terminal; with ``cerebros``, every cerebro that ran is appended to it."""
    script = os.fspath(path)
    if not os.path.isfile(script):
        raise FileNotFoundError(f"no such script: {script!r}")
    script_dir = os.path.dirname(os.path.abspath(script))
    saved_argv, saved_path = sys.argv, sys.path[:]
    with contextlib.ExitStack() as stack:
        if backend != "backtrader":
            stack.enter_context(swapped_broker(backend))
        if records is not None:
            stack.enter_context(recording(records))
        stack.enter_context(watching(progress, cerebros))
        sys.argv = [script, *args]
        sys.path.insert(0, script_dir)
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as exc:
            return _exit_code(exc)
        finally:
            sys.argv = saved_argv
            sys.path[:] = saved_path
    return 0
