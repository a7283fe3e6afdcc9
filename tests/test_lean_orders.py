"""The adapter's lean ``bt.Order`` construction and cloning build the very objects Backtrader
builds: same class, same attribute values (floats to the bit), same ``__dict__`` key order."""

from __future__ import annotations

import datetime
import gc
import itertools
import sys
from collections import deque
from pathlib import Path
from typing import Any

import backtrader as bt
import pytest
from backtrader.order import BuyOrder, Order, OrderData, OrderExecutionBit, SellOrder

from bt_cracktrader import bench
from bt_cracktrader import broker as crack

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"


def _shape(obj: Any, seen: dict[int, int]) -> Any:
    """A comparable picture of ``obj``: containers and Backtrader objects by content, other
    objects by identity (the datas, the owner, the parent order are the same objects)."""
    if isinstance(obj, float):
        return ("float", obj.hex())
    if obj is None or isinstance(obj, (bool, int, str)):
        return (type(obj).__name__, obj)
    if isinstance(obj, (datetime.date, datetime.timedelta)):
        return (type(obj).__name__, repr(obj))
    if isinstance(obj, deque):
        return ("deque", [_shape(x, seen) for x in obj])
    if isinstance(obj, bt.AutoOrderedDict):
        return ("AutoOrderedDict", [(k, _shape(v, seen)) for k, v in obj.items()], vars(obj))
    if isinstance(obj, (Order, OrderData, OrderExecutionBit)) or hasattr(obj, "_getkeys"):
        if id(obj) in seen:  # an order's parent: compare by ref
            return ("seen", seen[id(obj)])
        seen[id(obj)] = len(seen)
        items = [(k, _shape(v, seen)) for k, v in vars(obj).items()]
        return (type(obj).__name__, items)
    return ("object", id(obj))


class _Builder(bt.Strategy):
    """On one bar, builds each combination both ways and records any difference."""

    def __init__(self) -> None:
        self.checked = 0
        self.differences: list[Any] = []

    def next(self) -> None:
        if len(self) != 3:
            return
        data = self.data
        times: dict[Any, Any] = {}
        parent: Order | None = None
        valids = (
            None,
            0,
            0.0,
            3.5,
            data.datetime[0] + 1.0,
            Order.DAY,
            datetime.timedelta(days=2, hours=3),
            datetime.datetime(2006, 1, 9, 12, 30),
            datetime.date(2006, 1, 9),
        )
        prices = ((None, None), (10.0, None), (None, 11.0), (10.0, 11.0), (0.0, 0.0))
        combos = itertools.product(
            (BuyOrder, SellOrder), crack._LEAN_EXECTYPES, valids, prices, (1, 2.5), (False, True)
        )
        for cls, exectype, valid, (price, plimit), size, child in combos:
            kwargs = dict(owner=self, data=data, size=size, price=price, pricelimit=plimit,
                          exectype=exectype, valid=valid, tradeid=3, trailamount=None,
                          trailpercent=None, parent=parent if child else None,
                          transmit=not child, histnotify=False)  # fmt: skip
            ref = next(Order.refbasis)
            Order.refbasis = itertools.count(ref)
            theirs = cls(**kwargs)
            Order.refbasis = itertools.count(ref)
            ours = crack._lean_order(
                cls, crack._LEAN_DEFAULTS[cls], times, *(kwargs[k] for k in _ARGS)
            )
            Order.refbasis = itertools.count(ref + 1)
            self._compare(kwargs, theirs, ours)
            for order in (theirs, ours):
                order.execute(1.0, order.size, 10.0, 0, 0.0, 0.0, order.size, 10.0, 0.1, None,
                              0.0, order.size, 10.0)  # fmt: skip
            self._compare(kwargs, theirs.clone(), crack._clone(ours))
            self._compare(kwargs, theirs.clone(), crack._clone(ours))  # nothing pending now
            parent = theirs
            self.checked += 1

    def _compare(self, kwargs: dict[str, Any], theirs: Order, ours: Order) -> None:
        if _shape(theirs, {}) != _shape(ours, {}):
            self.differences.append(kwargs)


_ARGS = ("owner", "data", "size", "price", "pricelimit", "exectype", "valid", "tradeid",
         "trailamount", "trailpercent", "parent", "transmit", "histnotify")  # fmt: skip


def test_lean_orders_and_clones_equal_backtraders() -> None:
    assert all(crack._LEAN_DEFAULTS.values()), "the lean path is off for this Backtrader"
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(
        bt.feeds.BacktraderCSVData(
            dataname=str(DATA / "2006-01-02-volume-min-001.txt"),
            timeframe=bt.TimeFrame.Minutes,
        )
    )
    cerebro.addstrategy(_Builder)
    (strategy,) = cerebro.run()
    assert strategy.checked == 2 * 6 * 9 * 5 * 2 * 2
    assert strategy.differences == []


def test_clone_falls_back_for_other_classes() -> None:
    class Custom(BuyOrder):
        def clone(self) -> Any:
            return "custom"

    order = Custom.__new__(Custom)
    order.executed = OrderData()
    assert crack._clone(order) == "custom"


def _deep(obj: Any, base: int, top: bool = True) -> Any:
    """Every attribute of a notified order, recursively and in ``__dict__`` order (floats to
    the bit), with refs relative to the run's first and other objects by type."""
    if isinstance(obj, float):
        return ("float", obj.hex())
    if obj is None or isinstance(obj, (bool, int, str)):
        return (type(obj).__name__, obj)
    if isinstance(obj, deque):
        return ("deque", [_deep(x, base, False) for x in obj])
    if isinstance(obj, bt.AutoOrderedDict):
        return ("AutoOrderedDict", [(k, _deep(v, base, False)) for k, v in obj.items()])
    if isinstance(obj, Order) and not top:
        return ("order", obj.ref - base)
    if isinstance(obj, (Order, OrderData, OrderExecutionBit)) or hasattr(obj, "_getkeys"):
        items = [
            (k, ("int", v - base) if k == "ref" else _deep(v, base, False))
            for k, v in vars(obj).items()
        ]
        return (type(obj).__name__, items)
    return ("object", type(obj).__name__)


class _DeepRecorder(bt.Analyzer):
    def start(self) -> None:
        self.base = next(Order.refbasis)
        self.notes: list[Any] = []

    def notify_order(self, order: Any) -> None:
        self.notes.append(_deep(order, self.base))


def _notified(profile: str, broker: Any, tmp_path: Path) -> list[Any]:
    data = bench.prepare_data(profile, 120, tmp_path / broker.__class__.__name__)
    cerebro = bench.build_cerebro(profile, data.files)
    broker.setcommission(commission=0.001)
    cerebro.setbroker(broker)
    cerebro.addanalyzer(_DeepRecorder, _name="deep")
    (strategy,) = cerebro.run()
    notes: list[Any] = strategy.analyzers.deep.notes
    return notes


@pytest.mark.parametrize("checksubmit", [True, False])
def test_notified_orders_equal_backbrokers(backend: str, checksubmit: bool, tmp_path: Path) -> None:
    """The adapter's direct status, submit/accept and execution updates leave every notified
    clone exactly as BackBroker's (attribute values, key order, execution bits)."""
    params = dict(cash=1_000_000.0, checksubmit=checksubmit)
    for profile in ("order-heavy", "bracket"):
        theirs = _notified(profile, bt.brokers.BackBroker(**params), tmp_path)
        ours = _notified(profile, crack.CrackBroker(backend=backend, **params), tmp_path)
        assert len(ours) == len(theirs) > 100
        for i, (a, b) in enumerate(zip(theirs, ours)):
            assert a == b, f"{profile}: notification {i} differs"


class _Layouts(bt.Strategy):
    """Notifies orders whose attributes a strategy changed (a key of its own, a key no
    attribute store could set, the name of a class property) and compares the clones."""

    def __init__(self) -> None:
        self.differences: list[Any] = []
        self.checked = 0

    def next(self) -> None:
        if len(self) != 3:
            return
        extras = ({}, {"custom": 1}, {"not an identifier": 2}, {"plimit": 3}, {"class": 4})
        for cls in (BuyOrder, SellOrder):
            for extra in extras:
                for on_executed in (False, True):
                    ref = next(Order.refbasis)
                    Order.refbasis = itertools.count(ref)
                    theirs = cls(owner=self, data=self.data, size=2, price=10.0,
                                 exectype=Order.Limit)  # fmt: skip
                    Order.refbasis = itertools.count(ref)
                    ours = crack._lean_order(cls, crack._LEAN_DEFAULTS[cls], {}, self, self.data,
                                             2, 10.0, None, Order.Limit, None, 0, None, None,
                                             None, True, False)  # fmt: skip
                    Order.refbasis = itertools.count(ref + 1)
                    for order in (theirs, ours):
                        target = order.executed if on_executed else order
                        target.__dict__.update(extra)
                    self.broker.notify(ours)
                    clone = self.broker.get_notification()
                    if _shape(theirs.clone(), {}) != _shape(clone, {}):
                        self.differences.append((cls, extra, on_executed))
                    self.checked += 1


def test_notified_clones_keep_any_attribute_layout(backend: str) -> None:
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(
        bt.feeds.BacktraderCSVData(
            dataname=str(DATA / "2006-01-02-volume-min-001.txt"),
            timeframe=bt.TimeFrame.Minutes,
        )
    )
    cerebro.setbroker(crack.CrackBroker(backend=backend))
    cerebro.addstrategy(_Layouts)
    (strategy,) = cerebro.run()
    assert strategy.checked == 20
    assert strategy.differences == []


@pytest.mark.skipif(
    sys.implementation.name != "cpython" or sys.version_info[:2] != (3, 11),
    reason="where CPython keeps instance attributes is version-specific",
)
def test_lean_orders_keep_attributes_in_the_instance(backend: str, tmp_path: Path) -> None:
    """Neither a notified clone (nor its executed copy) nor a lean order's params carries a dict
    of its own: each would be one more object for the cyclic GC, per notification or order."""

    def own_dict(obj: Any) -> bool:
        return any(type(r) is dict for r in gc.get_referents(obj))

    broker = crack.CrackBroker(backend=backend, cash=1_000_000.0)
    clones: list[Any] = []
    original = broker.notify

    def notify(order: Any) -> None:
        original(order)
        clones.append(broker.notifs[-1])

    broker.notify = notify  # type: ignore[method-assign]
    data = bench.prepare_data("order-heavy", 60, tmp_path)
    cerebro = bench.build_cerebro("order-heavy", data.files)  # (no analyzer reading vars())
    cerebro.setbroker(broker)
    cerebro.run()
    lean = [c for c in clones if type(c) in (BuyOrder, SellOrder)]
    assert len(lean) > 100
    assert not [c for c in lean if own_dict(c) or own_dict(c.executed) or own_dict(c.p)]


class _Groups(bt.Strategy):
    """Bracket groups built every way a member's fate can go: transmitted with its group in
    one call, a head whose members come on a later bar, a member of a member (rejected), a
    member of a gone group (rejected), groups that run out of cash (Margin), expire, and are
    cancelled; ``apply`` counts the core crossings of each group."""

    def __init__(self) -> None:
        self.crossings: list[int] = []
        self.late: Any = None
        self.gone: Any = None

    def _applies(self) -> int:
        calls: list[int] = getattr(self.broker, "apply_calls", [0])
        return calls[0]

    def next(self) -> None:
        n, close = len(self), self.data.close[0]
        if n == 2:
            before = self._applies()
            self.buy_bracket(size=5, price=close * 0.99, stopprice=close * 0.95,
                             limitprice=close * 1.05, valid=datetime.timedelta(days=3))  # fmt: skip
            self.crossings.append(self._applies() - before)
            before = self._applies()
            head = self.sell(size=2, exectype=Order.Limit, price=close * 1.01, transmit=False)
            child = self.buy(size=2, exectype=Order.Stop, price=close * 1.06, parent=head,
                             transmit=False)  # fmt: skip
            # a member of a member: its group is not there, rejected at once
            self.buy(size=2, exectype=Order.Limit, price=close, parent=child, transmit=False)
            self.buy(size=2, exectype=Order.Limit, price=close * 0.9, parent=head)
            self.crossings.append(self._applies() - before)
            self.late = self.buy(size=1, exectype=Order.Limit, price=close * 0.97, transmit=False)
            self.gone = self.sell(size=1, exectype=Order.Limit, price=close * 1.2,
                                  transmit=False)  # fmt: skip
            self.buy(size=1, exectype=Order.Stop, price=close * 1.2, parent=self.gone)
            self.cancel(self.gone)
        elif n == 3:
            # members of a head sent on an earlier bar
            self.sell(size=1, exectype=Order.Stop, price=close * 0.9, parent=self.late,
                      transmit=False)  # fmt: skip
            self.sell(size=1, exectype=Order.Limit, price=close * 1.1, parent=self.late)
        elif n == 5:
            self.cancel(self.gone)
            # a bracket far beyond the cash: Margin at the submit check, its members follow
            self.buy_bracket(size=10_000, price=close, stopprice=close * 0.9,
                             limitprice=close * 1.1)  # fmt: skip
        elif n == 8:
            self.sell_bracket(size=3, exectype=Order.Market, stopprice=close * 1.03,
                              limitprice=close * 0.97, valid=1)  # fmt: skip
        elif n == 12:
            orders = self.buy_bracket(size=3, price=close * 0.98, stopprice=close * 0.9,
                                      limitprice=close * 1.1)  # fmt: skip
            self.cancel(orders[0])


def _group_run(broker: Any) -> tuple[list[Any], list[int]]:
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.YahooFinanceCSVData(dataname=str(DATA / "orcl-2003-2005.txt"),
                                                 todate=datetime.datetime(2003, 3, 1)))  # fmt: skip
    cerebro.addstrategy(_Groups)
    cerebro.setbroker(broker)
    cerebro.addanalyzer(_DeepRecorder, _name="deep")
    (strategy,) = cerebro.run()
    return strategy.analyzers.deep.notes, strategy.crossings


@pytest.mark.parametrize("checksubmit", [True, False])
def test_bracket_members_wait_for_the_transmitting_one(backend: str, checksubmit: bool) -> None:
    """A bracket's head and its members that are not transmitted wait in the queue when their
    fate is sure (held, nothing notified): the member that transmits sends the group in one
    crossing. Every other fate is still decided at once, with BackBroker's notifications."""

    class Counting(crack.CrackBroker):
        def _make_core(self, *args: Any) -> Any:
            core = super()._make_core(*args)
            counts = self.apply_calls = [0]

            class Proxy:
                def __getattr__(self, name: str) -> Any:
                    return getattr(core, name)

                def apply(self, events: Any) -> Any:
                    counts[0] += 1
                    return core.apply(events)

            return Proxy()

    params = dict(cash=20_000.0, checksubmit=checksubmit)
    theirs, _ = _group_run(bt.brokers.BackBroker(**params))
    ours, crossings = _group_run(Counting(backend=backend, **params))
    # the bracket: one crossing; the group by hand: the member of a member and the last one
    assert crossings == [1, 2]
    statuses = {note[1][[k for k, _ in note[1]].index("status")][1][1] for note in theirs}
    assert {Order.Rejected, Order.Canceled, Order.Completed} <= statuses
    assert Order.Expired in statuses
    if checksubmit:
        assert Order.Margin in statuses
    assert len(ours) == len(theirs) > 20
    for i, (a, b) in enumerate(zip(theirs, ours)):
        assert a == b, f"notification {i} differs"


class _BadHead(bt.Strategy):
    """An order, a bracket head the core refuses (an infinite size), held in the queue, then
    the member that transmits its group; a valid bracket on a later bar."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str, str]] = []
        self.refs: list[int] = []
        self.notified: list[tuple[int, int]] = []

    def notify_order(self, order: Any) -> None:
        self.notified.append((order.ref, order.status))

    def next(self) -> None:
        n, close = len(self), self.data.close[0]
        if n == 2:
            # an order queued before the group goes with the next crossing all the same
            self.refs.append(self.buy(size=1, exectype=Order.Limit, price=close * 1.01).ref)
            head = self.buy(size=float("inf"), exectype=Order.Limit, price=close, transmit=False)
            self.refs.append(head.ref)
            try:
                member = self.sell(size=1, exectype=Order.Stop, price=close * 0.9, parent=head)
            except Exception as exc:  # noqa: BLE001 - the error is what the test records
                self.errors.append(("member", type(exc).__name__, str(exc)))
            else:
                self.refs.append(member.ref)
        elif n == 4:
            orders = self.buy_bracket(
                size=2, price=close * 0.99, stopprice=close * 0.9, limitprice=close * 1.1
            )
            self.refs.extend(o.ref for o in orders)


def test_a_refused_held_head_is_reported_by_the_member_that_sends_it(backend: str) -> None:
    """A held head waits in the queue: the core's refusal of it comes from the call that sends
    it, the transmitting member's, as an error naming the field and the value; the group never
    exists (nothing notified of it), and what went with it (the data's registration, the order
    queued before) goes with the next crossing: the run goes on."""
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.YahooFinanceCSVData(dataname=str(DATA / "orcl-2003-2005.txt"),
                                                 todate=datetime.datetime(2003, 2, 1)))  # fmt: skip
    cerebro.addstrategy(_BadHead)
    cerebro.setbroker(crack.CrackBroker(backend=backend, cash=10_000.0))
    (strategy,) = cerebro.run()
    # (the refused call's events: the data's registration, the order, the head, the member)
    assert strategy.errors == [
        ("member", "CoreInputError", "invalid submit event #2: size = inf (not finite)")
    ]
    alone, head, *bracket = strategy.refs
    assert len(bracket) == 3
    assert {ref for ref, _ in strategy.notified} == {alone, *bracket}
    assert (alone, Order.Completed) in strategy.notified
    assert (bracket[0], Order.Completed) in strategy.notified
