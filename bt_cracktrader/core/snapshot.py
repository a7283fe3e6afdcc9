"""Versioned snapshots of a core's whole state, restorable on either backend.

``core.snapshot()`` returns the state of a core (``PyCore`` or the Rust ``RustCore``) as plain
data: nested tuples of ``int``, ``float``, ``bool`` and ``None`` only. ``Core.restore(snapshot)``
builds a core of either class from it: a snapshot taken on one backend restores on the other,
and restoring mid-stream and replaying the rest of a run gives the records of the uninterrupted
run. Both cores produce exactly the same snapshot (same order, same ``int``/``float`` types,
same float bits) for the same state; pickling a core goes through its snapshot. The user's
callables (a volume filler, CommInfo overrides) are never part of it: they are given to each
``step``.

Both cores check a snapshot with ``check_snapshot`` before restoring it, so both refuse a bad
one with the same ``CoreInputError("snapshot", field, value, reason)``; a snapshot of another
version is refused with field ``"version"`` and the reason ``"unknown snapshot version (this
core reads 3)"``. Lists are accepted wherever tuples are, so a snapshot survives
``json.loads(json.dumps(snapshot))`` (NaN and infinities included, as Python's ``json`` writes
them).

Layout (version ``SNAPSHOT_VERSION``), a 16-tuple laid out as ``SNAPSHOT_FIELDS``:

0. ``version``: ``SNAPSHOT_VERSION``.
1. ``config``: the broker parameters, laid out as ``CONFIG_FIELDS`` (``EV_CONFIG`` without its
   tag; ``filler`` an ``int``).
2. ``figures``: ``(cash, value, valuemkt, valuelever, valuemktlever, fundvalue, fundshares,
   leverage, unrealized)``, the state without ``idle``.
3. ``comm``: one tuple per registered data, in registration order, laid out as ``COMM_FIELDS``
   (``EV_DATA`` without its tag).
4. ``positions``: one tuple per position entry, in creation order (Backtrader values positions
   in that order), laid out as ``POSITION_FIELDS``: ``adjbase`` (the price of the last futures
   cash adjustment) is ``None`` until the first one, ``dt``/``day`` are the date number and
   date ordinal of the last update (a fill or a credit interest charge).
5. ``orders``: one tuple per order, laid out as ``ORDER_FIELDS`` (``parent`` is a ref or -1,
   ``state`` one of created, submitted, pending, done as 0..3, ``pannotated`` a float or
   ``None``). The queues below name orders by their index in this list: an order sits in it
   once even when it sits twice in the pending queue. First come the orders still in a queue or
   bracket group that are no longer the last order created with their ref (a history order can
   reuse a ref), in the order ``submitted``, ``pending``, ``toactivate`` and ``pchildren`` meet
   them; then the last order created with each ref, by ref. Orders in neither are gone.
6. ``submitted``: the queue of orders waiting for the submit check (order indices, front first).
7. ``pending``: the queue of accepted orders (order indices, front first); ``-1`` is the
   end-of-pass sentinel that an interrupted pass leaves behind.
8. ``toactivate``: the bracket children to activate on the next bar (order indices).
9. ``pchildren``: the bracket groups, ``(parent ref, (order index, ...))``, by parent ref.
10. ``ocos``: ``(order ref, OCO group leader ref)``, by order ref.
11. ``ocol``: ``(leader ref, (member ref, ...))``, by leader ref.
12. ``d_credit``: ``(data, credit interest not yet assigned to a closing trade)``, by data.
13. ``cash_addition``: the ``add_cash`` amounts not yet applied, oldest first.
14. ``history``: the ``add_order_history`` orders not yet accepted, each laid out as
    ``SPEC_FIELDS`` (``EV_HISTORY`` without its tag).
15. ``fundhist``: the fund history row in force, ``(fundvalue, netvalue)``, or ``None``.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .contract import (
    COMM_METHODS,
    EV_HISTORY,
    EXEC_HISTORICAL,
    FILLER_CALLBACK,
    CoreInputError,
)

if TYPE_CHECKING:
    from .pycore import PyCore

__all__ = [
    "COMM_FIELDS",
    "CONFIG_FIELDS",
    "FIGURE_FIELDS",
    "ORDER_FIELDS",
    "POSITION_FIELDS",
    "SNAPSHOT_FIELDS",
    "SNAPSHOT_VERSION",
    "SPEC_FIELDS",
    "check_snapshot",
]

#: Version of the snapshot layout; a snapshot of any other version is refused.
SNAPSHOT_VERSION = 3

SNAPSHOT_FIELDS = (
    "version", "config", "figures", "comm", "positions", "orders", "submitted", "pending",
    "toactivate", "pchildren", "ocos", "ocol", "d_credit", "cash_addition", "history",
    "fundhist",
)  # fmt: skip
CONFIG_FIELDS = (
    "checksubmit", "shortcash", "coc", "coo", "slip_perc", "slip_fixed", "slip_open",
    "slip_match", "slip_limit", "slip_out", "filler", "filler_size", "filler_perc",
    "filler_minmov", "int2pnl",
)  # fmt: skip
FIGURE_FIELDS = (
    "cash", "value", "valuemkt", "valuelever", "valuemktlever", "fundvalue", "fundshares",
    "leverage", "unrealized",
)  # fmt: skip
COMM_FIELDS = (
    "data", "stocklike", "perc", "commission", "mult", "margin", "automargin", "leverage",
    "creditrate", "interest_long", "overrides", "compensate",
)  # fmt: skip
POSITION_FIELDS = ("data", "size", "price", "adjbase", "dt", "day")
ORDER_FIELDS = (
    "ref", "data", "isbuy", "size", "remsize", "exectype", "price", "pricelimit", "pclose",
    "created_dt", "valid", "dteos", "trailamount", "trailpercent", "limitoffset", "parent",
    "transmit", "coc", "state", "active", "triggered", "pannotated", "completed",
)  # fmt: skip
SPEC_FIELDS = (
    "ref", "data", "isbuy", "size", "exectype", "price", "pricelimit", "pclose", "created_dt",
    "valid", "dteos", "trailamount", "trailpercent", "limitoffset", "parent", "oco", "transmit",
    "check", "coc", "notified",
)  # fmt: skip

# -- checking ---------------------------------------------------------------------------------
# The Rust core keeps ints in 128 bits, refs in 64 bits.
_INT_BOUND = 1 << 127
_REF_BOUND = 1 << 64

_Check = Callable[[str, Any], Any]


def _fail(field: str, value: object, reason: str) -> CoreInputError:
    return CoreInputError("snapshot", field, value, reason)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(field, value, "not a bool")
    return value


def _num(field: str, value: Any) -> int | float:
    if isinstance(value, float):
        return value
    if not _is_int(value):
        raise _fail(field, value, "not a number")
    if not -_INT_BOUND <= value < _INT_BOUND:
        raise _fail(field, value, "int beyond 128 bits")
    return int(value)


def _opt_num(field: str, value: Any) -> int | float | None:
    return None if value is None else _num(field, value)


def _int_in(stop: int, reason: str) -> Callable[[str, Any], int]:
    def check(field: str, value: Any) -> int:
        if not _is_int(value) or not 0 <= value < stop:
            raise _fail(field, value, reason)
        return int(value)

    return check


_index = _int_in(_REF_BOUND, "not a non-negative int")
_ref = _int_in(_REF_BOUND, "not an order ref")


def _opt_ref(field: str, value: Any) -> int:
    if _is_int(value) and value == -1:
        return -1
    return _ref(field, value)


def _day(field: str, value: Any) -> int:
    if not _is_int(value):
        raise _fail(field, value, "not an int")
    return _num(field, value)  # type: ignore[return-value]


def _seq(field: str, value: Any, length: int | None = None) -> tuple[Any, ...]:
    if not isinstance(value, (tuple, list)):
        raise _fail(field, value, "not a tuple")
    if length is not None and len(value) != length:
        raise _fail(field, value, f"expected {length} items")
    return tuple(value)


def _row(field: str, value: Any, names: Sequence[str], checks: Sequence[_Check]) -> tuple:
    items = _seq(field, value, len(names))
    return tuple(check(f"{field}.{name}", v) for name, check, v in zip(names, checks, items))


def _rows(field: str, value: Any, each: Callable[[str, Any], Any]) -> tuple:
    return tuple(each(f"{field}[{k}]", item) for k, item in enumerate(_seq(field, value)))


def _pair(first: _Check, second: _Check) -> _Check:
    return lambda field, value: _row(field, value, ("0", "1"), (first, second))


def _refs(field: str, value: Any) -> tuple[int, ...]:
    return _rows(field, value, _ref)


def _indices(field: str, value: Any) -> tuple[int, ...]:
    return _rows(field, value, _index)


def _pending_index(field: str, value: Any) -> int:
    return _opt_ref(field, value)


_CONFIG_CHECKS = (
    _bool, _bool, _bool, _bool, _num, _num, _bool, _bool, _bool, _bool,
    _int_in(FILLER_CALLBACK + 1, "unknown filler"), _num, _num, _num, _bool,
)  # fmt: skip
_COMM_CHECKS = (
    _index, _bool, _bool, _num, _num, _num, _num, _num, _num, _bool,
    _int_in(1 << len(COMM_METHODS), "not a bit set of COMM_METHODS"), _opt_ref,
)  # fmt: skip
_POSITION_CHECKS = (_index, _num, _num, _opt_num, _num, _day)
_EXECTYPE = _int_in(EXEC_HISTORICAL + 1, "unknown exectype")
_ORDER_CHECKS = (
    _ref, _index, _bool, _num, _num, _EXECTYPE, _num, _num, _num, _num, _num, _num, _num, _num,
    _num, _opt_ref, _bool, _bool, _int_in(4, "unknown order state"), _bool, _bool, _opt_num,
    _bool,
)  # fmt: skip
_SPEC_CHECKS = (
    _ref, _index, _bool, _num, _EXECTYPE, _num, _num, _num, _num, _num, _num, _num, _num, _num,
    _opt_ref, _opt_ref, _bool, _bool, _bool, _bool,
)  # fmt: skip


def _check_version(snapshot: object) -> None:
    if not isinstance(snapshot, (tuple, list)):
        raise _fail("snapshot", snapshot, "not a tuple")
    version = snapshot[0] if snapshot else None
    if not _is_int(version) or version != SNAPSHOT_VERSION:
        raise _fail(
            "version", version, f"unknown snapshot version (this core reads {SNAPSHOT_VERSION})"
        )


def check_snapshot(snapshot: object) -> tuple[Any, ...]:
    """``snapshot`` checked and normalised (lists become tuples): what both cores restore.

    Raises ``CoreInputError("snapshot", field, value, reason)`` for anything that is not a
    consistent snapshot of this version (``field`` names the item, e.g. ``orders[3].size``)."""
    _check_version(snapshot)
    items = _seq("snapshot", snapshot, len(SNAPSHOT_FIELDS))
    config = _row("config", items[1], CONFIG_FIELDS, _CONFIG_CHECKS)
    figures = _row("figures", items[2], FIGURE_FIELDS, (_num,) * len(FIGURE_FIELDS))
    comm = _rows("comm", items[3], lambda f, v: _row(f, v, COMM_FIELDS, _COMM_CHECKS))
    positions = _rows(
        "positions", items[4], lambda f, v: _row(f, v, POSITION_FIELDS, _POSITION_CHECKS)
    )
    orders = _rows("orders", items[5], lambda f, v: _row(f, v, ORDER_FIELDS, _ORDER_CHECKS))
    submitted = _indices("submitted", items[6])
    pending = _rows("pending", items[7], _pending_index)
    toactivate = _indices("toactivate", items[8])
    pchildren = _rows("pchildren", items[9], _pair(_ref, _indices))
    ocos = _rows("ocos", items[10], _pair(_ref, _ref))
    ocol = _rows("ocol", items[11], _pair(_ref, _refs))
    d_credit = _rows("d_credit", items[12], _pair(_index, _num))
    cash_addition = _rows("cash_addition", items[13], _num)
    history = _rows("history", items[14], lambda f, v: _row(f, v, SPEC_FIELDS, _SPEC_CHECKS))
    fundhist = None if items[15] is None else _pair(_num, _num)("fundhist", items[15])

    # consistency: what the cores need to run (Core::from_snapshot checks the same)
    registered: set[int] = set()
    for k, row in enumerate(comm):
        if not row[7] > 0:
            raise _fail(f"comm[{k}].leverage", row[7], "not positive")
        if row[0] in registered:
            raise _fail(f"comm[{k}].data", row[0], "registered twice")
        registered.add(row[0])
    for k, row in enumerate(comm):
        if row[11] != -1 and row[11] not in registered:
            raise _fail(f"comm[{k}].compensate", row[11], "unknown data")
    seen: set[int] = set()
    for k, row in enumerate(positions):
        if row[0] not in registered:
            raise _fail(f"positions[{k}].data", row[0], "unknown data")
        if row[0] in seen:
            raise _fail(f"positions[{k}].data", row[0], "two positions for a data")
        seen.add(row[0])
    refs: set[int] = set()
    for k, row in enumerate(orders):
        if row[1] not in registered:
            raise _fail(f"orders[{k}].data", row[1], "unknown data")
        refs.add(row[0])
    for k, row in enumerate(history):
        if row[1] not in registered:
            raise _fail(f"history[{k}].data", row[1], "unknown data")
    for k, (data, _) in enumerate(d_credit):
        if data not in registered:
            raise _fail(f"d_credit[{k}].0", data, "unknown data")
    n = len(orders)
    queues = (
        ("submitted", submitted),
        ("pending", pending),
        ("toactivate", toactivate),
        *((f"pchildren[{k}].1", members) for k, (_, members) in enumerate(pchildren)),
    )
    for field, queue in queues:
        for k, idx in enumerate(queue):
            if idx >= n:
                raise _fail(f"{field}[{k}]", idx, "an order index beyond the order list")
    for k, (ref, _) in enumerate(ocos):
        if ref not in refs:
            raise _fail(f"ocos[{k}].0", ref, "an OCO entry of an unknown order")
    return (
        SNAPSHOT_VERSION, config, figures, comm, positions, orders, submitted, pending,
        toactivate, pchildren, ocos, ocol, d_credit, cash_addition, history, fundhist,
    )  # fmt: skip


# -- the Python core --------------------------------------------------------------------------
def pycore_snapshot(core: PyCore) -> tuple[Any, ...]:
    """``PyCore.snapshot()``: the layout above, exactly as the Rust core writes it."""
    dict_orders = {id(o) for o in core.orders.values()}
    listed: list[Any] = []
    at: dict[int, int] = {}
    groups = sorted(core.pchildren.items(), key=lambda item: item[0])
    queued = [*core.submitted, *(o for o in core.pending if o is not None), *core.toactivate]
    for _, pc in groups:
        queued.extend(pc)
    for o in queued:
        if id(o) not in dict_orders and id(o) not in at:
            at[id(o)] = len(listed)
            listed.append(o)
    for _, o in sorted(core.orders.items(), key=lambda item: item[0]):
        at[id(o)] = len(listed)
        listed.append(o)
    config = (
        core.checksubmit, core.shortcash, core.coc, core.coo, core.slip_perc, core.slip_fixed,
        core.slip_open, core.slip_match, core.slip_limit, core.slip_out, int(core.filler),
        core.filler_size, core.filler_perc, core.filler_minmov, core.int2pnl,
    )  # fmt: skip
    figures = (
        core.cash, core.value, core.valuemkt, core.valuelever, core.valuemktlever,
        core.fundval, core.fundshares, core.leverage, core.unrealized,
    )  # fmt: skip
    comm = tuple(
        (data, c.stocklike, c.perc, c.commission, c.mult, c.margin, c.automargin, c.leverage,
         c.creditrate, c.interest_long, c.overrides, c.compensate)
        for data, c in core.comm.items()
    )  # fmt: skip
    # int(data): value_of creates a position under the key it is given (1.0 or True finds the
    # comm scheme of data 1), where the Rust core keeps the data index
    positions = tuple(
        (int(data), p.size, p.price, p.adjbase, p.dt, p.day) for data, p in core.positions.items()
    )
    orders = tuple(
        (o.ref, o.data, o.isbuy, o.size, o.remsize, o.exectype, o.price, o.pricelimit, o.pclose,
         o.created_dt, o.valid, o.dteos, o.trailamount, o.trailpercent, o.limitoffset,
         -1 if o.parent is None else o.parent, o.transmit, o.coc, o.state, o.active,
         o.triggered, o.pannotated, o.completed)
        for o in listed
    )  # fmt: skip
    return (
        SNAPSHOT_VERSION,
        config,
        figures,
        comm,
        positions,
        orders,
        tuple(at[id(o)] for o in core.submitted),
        tuple(-1 if o is None else at[id(o)] for o in core.pending),
        tuple(at[id(o)] for o in core.toactivate),
        tuple((ref, tuple(at[id(o)] for o in pc)) for ref, pc in groups),
        tuple(sorted(core.ocos.items())),
        tuple((ref, tuple(members)) for ref, members in sorted(core.ocol.items())),
        tuple(sorted((int(data), credit) for data, credit in core.d_credit.items())),
        tuple(core.cash_addition),
        tuple(tuple(ev[1:]) for ev in core.history),
        core.fundhist,
    )


CoreT = TypeVar("CoreT", bound="PyCore")


def pycore_restore(cls: type[CoreT], snapshot: object) -> CoreT:
    """``PyCore.restore(snapshot)``: a core in the state ``snapshot`` describes."""
    from .pycore import _Comm, _Order, _Position

    (_, config, figures, comm, positions, orders, submitted, pending, toactivate, pchildren,
     ocos, ocol, d_credit, cash_addition, history, fundhist) = check_snapshot(snapshot)  # fmt: skip
    # the constructor first: whatever else a PyCore holds (caches) starts as in a new core
    core = cls()
    (core.checksubmit, core.shortcash, core.coc, core.coo, core.slip_perc, core.slip_fixed,
     core.slip_open, core.slip_match, core.slip_limit, core.slip_out, core.filler,
     core.filler_size, core.filler_perc, core.filler_minmov, core.int2pnl) = config  # fmt: skip
    (core.cash, core.value, core.valuemkt, core.valuelever, core.valuemktlever, core.fundval,
     core.fundshares, core.leverage, core.unrealized) = figures  # fmt: skip
    core.comm = {row[0]: _Comm(*row) for row in comm}
    core.positions = {}
    for data, size, price, adjbase, dt, day in positions:
        position = _Position()
        position.size, position.price, position.adjbase = size, price, adjbase
        position.dt, position.day = dt, day
        core.positions[data] = position
    objects: list[_Order] = []
    core.orders = {}
    for row in orders:
        order = _Order.__new__(_Order)
        for name, value in zip(ORDER_FIELDS, row):
            setattr(order, name, value)
        if order.parent == -1:
            order.parent = None
        objects.append(order)
        core.orders[order.ref] = order
    core.submitted = deque(objects[k] for k in submitted)
    core.pending = deque(None if k == -1 else objects[k] for k in pending)
    core.toactivate = deque(objects[k] for k in toactivate)
    core.pchildren = defaultdict(deque)
    for ref, members in pchildren:
        core.pchildren[ref] = deque(objects[k] for k in members)
    core.ocos = dict(ocos)
    core.ocol = defaultdict(list)
    for ref, members in ocol:
        core.ocol[ref] = list(members)
    core.d_credit = dict(d_credit)
    core.cash_addition = deque(cash_addition)
    core.history = [(EV_HISTORY, *spec) for spec in history]
    core.fundhist = fundhist
    return core


def restore_pycore(cls: type[PyCore], snapshot: object) -> PyCore:
    """Unpickling a ``PyCore`` (``PyCore.__reduce__``)."""
    return cls.restore(snapshot)
