"""Run one backtest under several brokers and compare the complete records.

``run_recorded(build, "rust")`` builds a fresh ``Cerebro`` with the user's ``build()``, sets the
named broker (``"backtrader"`` for Backtrader's own ``BackBroker``, ``"python"``/``"rust"`` for
``CrackBroker`` on that core), attaches ``RunRecorder`` and the standard analyzers, runs it and
returns the normalized record. ``compare(records)`` says where each record first differs from
BackBroker's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

import backtrader as bt

from .broker import CrackBroker
from .record import RunRecorder, first_difference, normalize

__all__ = ["BROKERS", "STANDARD_ANALYZERS", "compare", "make_broker", "run_recorded"]

#: ``"backtrader"`` is Backtrader's ``BackBroker``; the others are ``CrackBroker`` backends.
BROKERS = ("backtrader", "python", "rust")

STANDARD_ANALYZERS: dict[str, tuple[Any, dict[str, Any]]] = {
    "tradeanalyzer": (bt.analyzers.TradeAnalyzer, {}),
    "returns": (bt.analyzers.Returns, {}),
    "drawdown": (bt.analyzers.DrawDown, {}),
    "sharpe": (bt.analyzers.SharpeRatio, {}),
    "timereturn": (bt.analyzers.TimeReturn, {}),
}


def make_broker(name: str, **params: Any) -> bt.BrokerBase:
    """A fresh broker: ``BackBroker`` for ``"backtrader"``, else ``CrackBroker(backend=name)``."""
    if name == "backtrader":
        return bt.brokers.BackBroker(**params)
    if name not in BROKERS:
        raise ValueError(f"unknown broker {name!r}: expected one of {', '.join(BROKERS)}")
    return CrackBroker(backend=name, **params)  # type: ignore[call-arg]


def run_recorded(
    build: Callable[[], bt.Cerebro],
    broker: str,
    broker_params: Mapping[str, Any] | None = None,
    setup: Callable[[bt.BrokerBase], None] | None = None,
    **run_kwargs: Any,
) -> dict[str, Any]:
    """Run ``build()``'s Cerebro on the named broker and return its normalized record."""
    cerebro = build()
    brk = make_broker(broker, **dict(broker_params or {}))
    cerebro.setbroker(brk)
    if setup is not None:
        setup(brk)
    cerebro.addanalyzer(RunRecorder, _name="record")
    for name, (cls, kwargs) in STANDARD_ANALYZERS.items():
        cerebro.addanalyzer(cls, _name=name, **kwargs)
    strats = cerebro.run(**run_kwargs)
    result: dict[str, Any] = {}
    for i, strat in enumerate(strats):
        # every analyzer, the user's own too (``build`` may add some)
        analyzers = {
            name: analyzer.get_analysis()
            for name, analyzer in zip(strat.analyzers.getnames(), strat.analyzers)
        }
        result[f"strategy{i}"] = analyzers
    result["final"] = {"cash": brk.getcash(), "value": brk.getvalue()}
    return normalize(result)  # type: ignore[no-any-return]


def compare(records: Mapping[str, Any], reference: str = "backtrader") -> dict[str, str | None]:
    """For each record other than ``reference``: ``None`` if identical, else the first
    difference as ``path: reference value != value``."""
    ref = records[reference]
    return {name: first_difference(ref, rec) for name, rec in records.items() if name != reference}
