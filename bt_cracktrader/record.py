"""The complete record of a backtest, for comparing brokers with ``==``.

``cerebro.addanalyzer(RunRecorder)`` captures, without touching the strategy, every
``notify_order`` (status, created and executed figures), every ``notify_trade``, and the broker's
cash, value, fund value and fund shares on every bar. Order and trade refs come from process-wide
counters in Backtrader, so they are recorded relative to the run's first one.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

import backtrader as bt

__all__ = ["OpenOrders", "RunRecorder", "first_difference", "normalize"]


def _size(value: Any) -> tuple[str, Any]:
    # int and float sizes print differently (``%d`` fails on floats): the type is part of it
    return (type(value).__name__, value)


def normalize(obj: Any) -> Any:
    """Plain, comparable data: NaN becomes ``"NaN"`` (so that ``==`` holds), datetimes become
    ISO strings, mappings become dicts, sequences lists."""
    if isinstance(obj, float):
        return "NaN" if math.isnan(obj) else obj
    if isinstance(obj, (datetime.date, datetime.datetime)):
        return obj.isoformat()
    if isinstance(obj, dict):
        return {str(normalize(k)): normalize(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [normalize(v) for v in obj]
    return obj


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two normalized records first differ (``None`` if they are equal)."""
    if type(a) is not type(b):
        return f"{path or '.'}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if key not in a or key not in b:
                return f"{path}/{key}: present in only one record"
            diff = first_difference(a[key], b[key], f"{path}/{key}")
            if diff:
                return diff
        return None
    if isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b)):
            diff = first_difference(x, y, f"{path}[{i}]")
            if diff:
                return diff
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        return None
    return None if a == b else f"{path or '.'}: {a!r} != {b!r}"


class RunRecorder(bt.Analyzer):
    """Records orders, trades and per-bar cash/value of the strategy it is attached to."""

    def start(self) -> None:
        self.orders: list[list[Any]] = []
        self.trades: list[list[Any]] = []
        self.bars: list[list[Any]] = []

    def notify_order(self, order: Any) -> None:
        created, ex = order.created, order.executed
        self.orders.append(
            [
                order.ref,
                order.ordtypename(),
                order.getordername(),
                order.getstatusname(),
                order.data._name,
                created.dt,
                _size(created.size),
                created.price,
                created.pricelimit,
                ex.dt,
                _size(ex.size),
                _size(ex.remsize),
                ex.price,
                ex.value,
                ex.comm,
                ex.pnl,
                ex.margin,
                _size(ex.psize),
                ex.pprice,
                [
                    [
                        b.dt,
                        _size(b.size),
                        b.price,
                        _size(b.closed),
                        _size(b.opened),
                        b.closedvalue,
                        b.openedvalue,
                        b.closedcomm,
                        b.openedcomm,
                        b.value,
                        b.comm,
                        b.pnl,
                    ]
                    for b in ex.exbits
                ],
            ]
        )

    def notify_trade(self, trade: Any) -> None:
        self.trades.append(
            [
                trade.ref,
                trade.status_names[trade.status],
                trade.data._name,
                trade.tradeid,
                _size(trade.size),
                trade.price,
                trade.value,
                trade.commission,
                trade.pnl,
                trade.pnlcomm,
                trade.baropen,
                trade.dtopen,
                trade.barclose,
                trade.dtclose,
                trade.barlen,
                trade.long,
                trade.justopened,
            ]
        )

    def notify_fund(self, cash: float, value: float, fundvalue: float, shares: float) -> None:
        broker = self.strategy.broker
        positions = [[d._name, _size(p.size), p.price] for d, p in broker.positions.items()]
        self.bars.append(
            [
                len(self.strategy),
                self.strategy.datetime[0],
                cash,
                value,
                fundvalue,
                shares,
                positions,
            ]
        )

    def get_analysis(self) -> dict[str, Any]:
        oref = min((o[0] for o in self.orders), default=0)
        tref = min((t[0] for t in self.trades), default=0)
        orders = [[o[0] - oref, *o[1:]] for o in self.orders]
        trades = [[t[0] - tref, *t[1:]] for t in self.trades]
        return {"orders": orders, "trades": trades, "bars": self.bars}


class OpenOrders(bt.Analyzer):
    """``broker.get_orders_open()`` on every bar, as refs relative to the run's first order."""

    def start(self) -> None:
        self.seen: list[list[int]] = []

    def next(self) -> None:
        self.seen.append([o.ref for o in self.strategy.broker.get_orders_open()])

    def get_analysis(self) -> list[list[int]]:
        base = min((r for refs in self.seen for r in refs), default=0)
        return [[r - base for r in refs] for refs in self.seen]
