"""The pure-Python core: BackBroker's order matching and accounting on plain numbers.

This is the reference implementation of the contract in ``contract.py``; the Rust core in
``rust/core`` is a line-by-line port of it. Every float operation below is written in the order
``backtrader/brokers/bbroker.py`` and ``backtrader/comminfo.py`` perform it, because a different
association changes the last bit of cash and value.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from typing import Any

from .contract import (
    BAR_FIELDS,
    BAR_LENGTH,
    COMM_METHODS,
    EV_ADD_CASH,
    EV_CANCEL,
    EV_CONFIG,
    EV_DATA,
    EV_FUND,
    EV_HISTORY,
    EV_POSITION,
    EV_SET_CASH,
    EV_SUBMIT,
    EVENT_LENGTHS,
    EVENT_NAMES,
    EXEC_CLOSE,
    EXEC_HISTORICAL,
    EXEC_LIMIT,
    EXEC_MARKET,
    EXEC_STOP,
    EXEC_STOPLIMIT,
    EXEC_STOPTRAIL,
    EXEC_STOPTRAILLIMIT,
    FILLER_BARPOINTPERC,
    FILLER_CALLBACK,
    FILLER_FIXEDBARPERC,
    FILLER_FIXEDSIZE,
    FILLER_NONE,
    REC_ACCEPTED,
    REC_ACTIVATED,
    REC_CANCELED,
    REC_EXECUTED,
    REC_EXPIRED,
    REC_MARGIN,
    REC_POSITION,
    REC_REJECTED,
    REC_SUBMITTED,
    REC_TRAIL,
    REC_TRIGGERED,
    Bar,
    CoreInputError,
    Event,
    Number,
    Record,
)

# Order states inside the core (the adapter owns Backtrader's status codes): created (held in
# a bracket group, not transmitted), submitted (waiting for the submit check), pending
# (accepted, alive), done (completed, cancelled, expired, margin, rejected).
_CREATED, _SUBMITTED, _PENDING, _DONE = range(4)

#: ``backtrader.utils.py3.MAXINT``
MAXINT = 9223372036854775807

Filler = Callable[[int, float, int], Number]


# bits of EV_DATA's ``overrides`` (contract.COMM_METHODS order)
(
    _OV_GETCOMM_,
    _OV_GETCOMMISSION,
    _OV_CONFIRMEXEC,
    _OV_GET_MARGIN,
    _OV_GET_LEVERAGE,
    _OV_OPERATIONCOST,
    _OV_VALUESIZE,
    _OV_GETVALUE,
    _OV_PNL,
    _OV_CASHADJUST,
    _OV_CREDIT,
    _OV_CREDIT_,
) = (1 << i for i in range(12))

CommHook = Callable[..., Number]


class _Comm:
    """A ``CommInfoBase`` reduced to its numbers. Methods a user's subclass overrides (bits of
    ``overrides``) are called back through ``hook``; the others run here, dispatching to each
    other exactly as ``CommInfoBase`` does."""

    __slots__ = (
        "data", "stocklike", "perc", "commission", "mult", "margin", "automargin", "leverage",
        "creditrate", "interest_long", "overrides", "compensate", "hook",
    )  # fmt: skip

    def __init__(
        self,
        data: int,
        stocklike: bool,
        perc: bool,
        commission: float,
        mult: float,
        margin: float,
        automargin: float,
        leverage: float,
        creditrate: float,
        interest_long: bool,
        overrides: int,
        compensate: int,
    ) -> None:
        self.data = data
        self.stocklike = stocklike
        self.perc = perc
        self.commission = commission
        self.mult = mult
        self.margin = margin
        self.automargin = automargin
        self.leverage = leverage
        self.creditrate = creditrate
        self.interest_long = interest_long
        self.overrides = overrides
        self.compensate = compensate
        self.hook: CommHook | None = None

    def _call(self, method: str, *args: object) -> Number:
        if self.hook is None:
            raise CoreInputError(
                "step", "comm", None, f"{method}() is overridden: needs a callable"
            )
        return self.hook(self.data, method, *args)

    def get_margin(self, price: float) -> float:
        if self.overrides & _OV_GET_MARGIN:
            return self._call("get_margin", price)
        if not self.automargin:
            return self.margin
        elif self.automargin < 0:
            return price * self.mult
        return price * self.automargin

    def get_leverage(self) -> float:
        if self.overrides & _OV_GET_LEVERAGE:
            return self._call("get_leverage")
        return self.leverage

    def getoperationcost(self, size: Number, price: float) -> float:
        if self.overrides & _OV_OPERATIONCOST:
            return self._call("getoperationcost", size, price)
        if not self.stocklike:
            return abs(size) * self.get_margin(price)
        return abs(size) * price

    def getvaluesize(self, size: Number, price: float) -> float:
        if self.overrides & _OV_VALUESIZE:
            return self._call("getvaluesize", size, price)
        if not self.stocklike:
            return abs(size) * self.get_margin(price)
        return size * price

    def getvalue(self, size: Number, pprice: float, price: float) -> float:
        if self.overrides & _OV_GETVALUE:
            return self._call("getvalue", size, pprice, price)
        if not self.stocklike:
            return abs(size) * self.get_margin(price)
        if size >= 0:
            return size * price
        value = pprice * size
        value += (pprice - price) * size
        return value

    def _getcommission(self, size: Number, price: float, pseudoexec: bool) -> float:
        if self.overrides & _OV_GETCOMM_:
            return self._call("_getcommission", size, price, pseudoexec)
        if self.perc:
            return abs(size) * self.commission * price
        return abs(size) * self.commission

    def getcommission(self, size: Number, price: float) -> float:
        if self.overrides & _OV_GETCOMMISSION:
            return self._call("getcommission", size, price)
        return self._getcommission(size, price, True)

    def confirmexec(self, size: Number, price: float) -> None:
        # its result is unused by BackBroker: only a user's override (side effects) matters
        if self.overrides & _OV_CONFIRMEXEC:
            self._call("confirmexec", size, price)
        elif self.overrides & _OV_GETCOMM_:
            self._call("_getcommission", size, price, False)

    def profitandloss(self, size: Number, price: float, newprice: float) -> float:
        if self.overrides & _OV_PNL:
            return self._call("profitandloss", size, price, newprice)
        return size * (newprice - price) * self.mult

    def cashadjust(self, size: Number, price: float | None, newprice: float) -> float:
        if self.overrides & _OV_CASHADJUST:
            return self._call("cashadjust", size, price, newprice)
        if not self.stocklike:
            assert price is not None  # a futures position always has an adjustment base
            return size * (newprice - price) * self.mult
        return 0.0

    def get_credit_interest(
        self, size: Number, price: float, posdt: float, posday: int, dt: float, day: int
    ) -> float:
        """``get_credit_interest(data, pos, dt)`` with the position's last update (``posdt``,
        ``posday``) and the bar's date number and date ordinal."""
        if self.overrides & _OV_CREDIT:
            return self._call("get_credit_interest", size, price, posdt, dt)
        if size > 0 and not self.interest_long:
            return 0.0
        if day <= posday:
            return 0.0
        return self._get_credit_interest(size, price, day - posday, dt, posdt)

    def _get_credit_interest(
        self, size: Number, price: float, days: int, dt0: float, dt1: float
    ) -> float:
        if self.overrides & _OV_CREDIT_:
            return self._call("_get_credit_interest", size, price, days, dt0, dt1)
        return days * self.creditrate * abs(size) * price


class _Position:
    __slots__ = ("size", "price", "adjbase", "dt", "day")

    def __init__(self, size: Number = 0, price: float = 0.0) -> None:
        self.size: Number = size
        self.price: float = price if size else 0.0
        self.adjbase: float | None = None
        # date number and date ordinal of the last update (a fill or a credit interest charge)
        self.dt = 0.0
        self.day = 0

    def clone(self) -> _Position:
        return _Position(self.size, self.price)

    def update(self, size: Number, price: float) -> tuple[Number, float, Number, Number]:
        """``backtrader.Position.update``: returns ``(size, price, opened, closed)``."""
        oldsize = self.size
        self.size += size
        opened: Number
        closed: Number
        if not self.size:
            opened, closed = 0, size
            self.price = 0.0
        elif not oldsize:
            opened, closed = size, 0
            self.price = price
        elif oldsize > 0:
            if size > 0:
                opened, closed = size, 0
                self.price = (self.price * oldsize + size * price) / self.size
            elif self.size > 0:
                opened, closed = 0, size
            else:
                opened, closed = self.size, -oldsize
                self.price = price
        else:
            if size < 0:
                opened, closed = size, 0
                self.price = (self.price * oldsize + size * price) / self.size
            elif self.size < 0:
                opened, closed = 0, size
            else:
                opened, closed = self.size, -oldsize
                self.price = price
        return self.size, self.price, opened, closed


class _Order:
    __slots__ = (
        "ref",
        "data",
        "isbuy",
        "size",
        "remsize",
        "exectype",
        "price",
        "pricelimit",
        "pclose",
        "created_dt",
        "valid",
        "dteos",
        "trailamount",
        "trailpercent",
        "limitoffset",
        "parent",
        "transmit",
        "coc",
        "state",
        "active",
        "triggered",
        "pannotated",
        "completed",
    )

    def __init__(self, ev: Event) -> None:
        self.ref: int = ev[1]
        self.data: int = ev[2]
        self.isbuy: bool = ev[3]
        self.size: Number = ev[4]
        self.exectype: int = ev[5]
        self.price: float = ev[6]
        self.pricelimit: float = ev[7]
        self.pclose: float = ev[8]
        self.created_dt: float = ev[9]
        self.valid: float = ev[10]
        self.dteos: float = ev[11]
        self.trailamount: float = ev[12]
        self.trailpercent: float = ev[13]
        self.limitoffset: float = ev[14]
        parent: int = ev[15]
        self.transmit: bool = ev[17]
        self.coc: bool = ev[19]
        self.parent: int | None = None if parent == -1 else parent
        self.remsize: Number = self.size
        self.state = _CREATED
        self.active = self.parent is None
        self.triggered = False
        self.pannotated: float | None = None
        self.completed = False

    def alive(self) -> bool:
        return self.state in (_CREATED, _SUBMITTED, _PENDING)

    def expired(self, dt0: float) -> bool:
        """``Order.expire()``'s test."""
        if self.exectype == EXEC_MARKET:
            return False
        return bool(self.valid and dt0 > self.valid)

    def trailadjust(self, price: float, records: list[Record]) -> None:
        """``Order.trailadjust``: move the stop (and limit) with the close, never back."""
        if self.trailamount:
            pamount = self.trailamount
        elif self.trailpercent:
            pamount = price * self.trailpercent
        else:
            pamount = 0.0
        if self.isbuy:
            price += pamount
            if price < self.price:
                self.price = price
                if self.exectype == EXEC_STOPTRAILLIMIT:
                    self.pricelimit = price - self.limitoffset
                records.append((REC_TRAIL, self.ref, self.price, self.pricelimit))
        else:
            price -= pamount
            if price > self.price:
                self.price = price
                if self.exectype == EXEC_STOPTRAILLIMIT:
                    self.pricelimit = price - self.limitoffset
                records.append((REC_TRAIL, self.ref, self.price, self.pricelimit))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(what: str, field: str, value: object) -> None:
    if not _is_number(value):
        raise CoreInputError(what, field, value, "not a number")


def _finite(what: str, field: str, value: object) -> None:
    _number(what, field, value)
    if not math.isfinite(value):  # type: ignore[arg-type]
        raise CoreInputError(what, field, value, "not finite")


def _flag(what: str, field: str, value: object) -> None:
    if not isinstance(value, bool):
        raise CoreInputError(what, field, value, "not a bool")


def _index(what: str, field: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CoreInputError(what, field, value, "not a non-negative int")


def _ref_or_none(what: str, field: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < -1:
        raise CoreInputError(what, field, value, "not an order ref or -1")


class _Known:
    """The order refs the core knows plus those of the batch being validated (without copying
    every ref ever seen on each call)."""

    __slots__ = ("orders", "new")

    def __init__(self, orders: dict[int, _Order]) -> None:
        self.orders = orders
        self.new: set[int] = set()

    def __contains__(self, ref: object) -> bool:
        return ref in self.orders or ref in self.new

    def add(self, ref: int) -> None:
        self.new.add(ref)


class PyCore:
    """BackBroker's matching and accounting, in pure Python."""

    backend = "python"

    def __init__(
        self,
        cash: float = 10000.0,
        checksubmit: bool = True,
        shortcash: bool = True,
        fundstartval: float = 100.0,
    ) -> None:
        _finite("broker", "cash", cash)
        _finite("broker", "fundstartval", fundstartval)
        if not fundstartval:
            raise CoreInputError("broker", "fundstartval", fundstartval, "zero")
        _flag("broker", "checksubmit", checksubmit)
        _flag("broker", "shortcash", shortcash)
        self.checksubmit = checksubmit
        self.shortcash = shortcash
        self.coc = False
        self.coo = False
        self.slip_perc = 0.0
        self.slip_fixed = 0.0
        self.slip_open = False
        self.slip_match = True
        self.slip_limit = True
        self.slip_out = False
        self.filler = FILLER_NONE
        self.filler_size: Number = 0
        self.filler_perc: Number = 0
        self.filler_minmov: Number = 0
        self.int2pnl = True
        self.d_credit: dict[int, float] = {}
        self.cash_addition: deque[float] = deque()
        self.history: list[Event] = []
        self.fundhist: tuple[float, float] | None = None
        self.cash: float = cash
        self.comm: dict[int, _Comm] = {}
        self.positions: dict[int, _Position] = {}
        self.orders: dict[int, _Order] = {}
        self.submitted: deque[_Order] = deque()
        self.pending: deque[_Order | None] = deque()
        self.toactivate: deque[_Order] = deque()
        self.pchildren: defaultdict[int, deque[_Order]] = defaultdict(deque)
        self.ocos: dict[int, int] = {}
        self.ocol: defaultdict[int, list[int]] = defaultdict(list)
        self.value: float = cash
        self.valuemkt = 0.0
        self.valuelever = 0.0
        self.valuemktlever = 0.0
        self.fundval: float = fundstartval
        self.fundshares: float = cash / fundstartval
        self.leverage = 1.0
        self.unrealized = 0.0

    # -- the contract ------------------------------------------------------------------------
    def state(self) -> tuple[object, ...]:
        idle = not (
            self.submitted
            or self.pending
            or self.toactivate
            or self.history
            or self.cash_addition
            or self.fundhist
        )
        if idle:
            idle = not any(p.size for p in self.positions.values())
        return (
            self.cash,
            self.value,
            self.valuemkt,
            self.valuelever,
            self.valuemktlever,
            self.fundval,
            self.fundshares,
            self.leverage,
            self.unrealized,
            idle,
        )

    def apply(self, events: Sequence[Event]) -> list[Record]:
        """Apply events now, without a bar (what ``step`` does first)."""
        self._validate(events, None)
        records: list[Record] = []
        for ev in events:
            self._apply(ev, records)
        return records

    def step(
        self,
        events: Sequence[Event],
        bars: Sequence[Bar],
        filler: Filler | None = None,
        comm: CommHook | None = None,
    ) -> tuple[list[Record], tuple[object, ...]]:
        """Apply ``events``, then run ``BackBroker.next()`` on ``bars``."""
        self._validate(events, bars)
        if self._filler_after(events) == FILLER_CALLBACK and filler is None:
            raise CoreInputError("step", "filler", None, "a callback filler needs a callable")
        records: list[Record] = []
        for ev in events:
            self._apply(ev, records)
        marks = {bar[0]: bar for bar in bars}
        self._hook(comm)
        try:
            self._next(marks, records, filler)
        finally:
            self._hook(None)
        return records, self.state()

    def step_packed(
        self, batch: bytes, filler: Filler | None = None, comm: CommHook | None = None
    ) -> bytes:
        """Run a packed batch of steps (``bt_cracktrader.core.packed``) in one call: the packed
        records and state of every step, as ``step`` gives them one call at a time. All or
        nothing: on an error the core is as before the call, and an input error names the
        step."""
        from .packed import run_steps, unpack_steps

        steps = unpack_steps(batch)
        before = self.snapshot()
        try:
            return run_steps(self, steps, filler, comm)
        except BaseException:
            self.__dict__ = type(self).restore(before).__dict__
            raise

    def _hook(self, comm: CommHook | None) -> None:
        for info in self.comm.values():
            if info.overrides:
                info.hook = comm

    def _next(self, marks: dict[int, Bar], records: list[Record], filler: Filler | None) -> None:
        self._marks = marks

        while self.toactivate:
            order = self.toactivate.popleft()
            order.active = True
            records.append((REC_ACTIVATED, order.ref))

        if self.checksubmit:
            self._check_submitted(marks, records)

        credit = 0.0
        for data, pos in self.positions.items():
            if pos.size:
                bar = marks[data]
                dt0: float = bar[1]
                day0: int = bar[14]
                dcredit = self.comm[data].get_credit_interest(
                    pos.size, pos.price, pos.dt, pos.day, dt0, day0
                )
                self.d_credit[data] = self.d_credit.get(data, 0.0) + dcredit
                credit += dcredit
                pos.dt, pos.day = dt0, day0
        self.cash -= credit

        history, self.history = self.history, []
        for ev in history:
            order = _Order(ev)
            self.orders[order.ref] = order
            self._ocoize(order, -1)
            self._submit(order, False, False, records)

        self.pending.append(None)
        while True:
            queued = self.pending.popleft()
            if queued is None:
                break
            order = queued
            bar = marks[order.data]
            if order.expired(bar[1]):
                order.state = _DONE
                records.append((REC_EXPIRED, order.ref))
                self._ococheck(order, records)
                self._bracketize(order, records, cancel=True)
            elif not order.active:
                self.pending.append(order)
            else:
                self._try_exec(order, bar, records, filler)
                if order.alive():
                    self.pending.append(order)
                elif order.completed:
                    self._bracketize(order, records)

        for data, pos in self.positions.items():
            if pos.size:
                mark = marks[data][6]
                self.cash += self.comm[data].cashadjust(pos.size, pos.adjbase, mark)
                pos.adjbase = mark

        self._get_value(marks)

    def value_of(
        self,
        datas: Sequence[int],
        closes: Sequence[float],
        lever: bool,
        comm: CommHook | None = None,
    ) -> tuple[float, tuple[object, ...]]:
        """``broker.getvalue(datas=...)``: with one data its raw value, else the partial total,
        which (as in BackBroker) replaces the cached figures."""
        if len(datas) != len(closes) or not datas:
            raise CoreInputError("value request", "datas", list(datas), "empty or unmatched")
        for data, close in zip(datas, closes):
            if data not in self.comm:
                raise CoreInputError("value request", "data", data, "unknown data")
            _finite("value request", "close", close)
        for data in datas:
            self.positions.setdefault(data, _Position())
        marks = {d: (d, 0.0, 0.0, 0.0, 0.0, 0.0, c) for d, c in zip(datas, closes)}
        self._hook(comm)
        try:
            value = self._get_value(marks, datas=datas, lever=lever)
        finally:
            self._hook(None)
        return value, self.state()

    # -- validation: nothing is applied unless everything is valid ----------------------------
    def _filler_after(self, events: Sequence[Event]) -> int:
        filler = self.filler
        for ev in events:
            if ev[0] == EV_CONFIG:
                filler = ev[11]
        return filler

    def _validate(self, events: Sequence[Event], bars: Sequence[Bar] | None) -> None:
        datas = set(self.comm)
        known = _Known(self.orders)
        compensate: dict[int, int] = {d: c.compensate for d, c in self.comm.items()}
        for i, ev in enumerate(events):
            tag = ev[0] if isinstance(ev, tuple) and ev else None
            if not isinstance(tag, int) or isinstance(tag, bool) or not 0 <= tag < len(EVENT_NAMES):
                raise CoreInputError(f"event #{i}", "tag", tag, "unknown event tag")
            what = f"{EVENT_NAMES[tag]} event #{i}"
            if len(ev) != EVENT_LENGTHS[tag]:
                raise CoreInputError(what, "length", len(ev), f"expected {EVENT_LENGTHS[tag]}")
            if tag == EV_DATA:
                _index(what, "data", ev[1])
                _flag(what, "stocklike", ev[2])
                _flag(what, "perc", ev[3])
                for name, value in zip(
                    ("commission", "mult", "margin", "automargin", "leverage"), ev[4:]
                ):
                    _finite(what, name, value)
                if not ev[8] > 0:
                    raise CoreInputError(what, "leverage", ev[8], "not positive")
                _finite(what, "creditrate", ev[9])
                _flag(what, "interest_long", ev[10])
                if (
                    not isinstance(ev[11], int)
                    or isinstance(ev[11], bool)
                    or not (0 <= ev[11] < 1 << len(COMM_METHODS))
                ):
                    raise CoreInputError(what, "overrides", ev[11], "not a bit set of COMM_METHODS")
                _ref_or_none(what, "compensate", ev[12])
                datas.add(ev[1])
                compensate[ev[1]] = ev[12]
            elif tag == EV_POSITION:
                _index(what, "data", ev[1])
                if ev[1] not in datas:
                    raise CoreInputError(what, "data", ev[1], "unknown data")
            elif tag in (EV_SUBMIT, EV_HISTORY):
                self._validate_submit(what, ev, datas, known)
                if tag == EV_HISTORY and (ev[20] or ev[18] or ev[15] != -1 or ev[16] != -1):
                    raise CoreInputError(what, "notified", ev[20], "a history order stands alone")
                known.add(ev[1])
            elif tag == EV_CANCEL:
                _index(what, "ref", ev[1])
                if ev[1] not in known:
                    raise CoreInputError(what, "ref", ev[1], "unknown order ref")
                _flag(what, "notified", ev[2])
            elif tag == EV_CONFIG:
                for name, value in zip(("checksubmit", "shortcash", "coc", "coo"), ev[1:5]):
                    _flag(what, name, value)
                _finite(what, "slip_perc", ev[5])
                _finite(what, "slip_fixed", ev[6])
                for name, value in zip(
                    ("slip_open", "slip_match", "slip_limit", "slip_out"), ev[7:11]
                ):
                    _flag(what, name, value)
                if ev[11] not in range(FILLER_CALLBACK + 1) or isinstance(ev[11], bool):
                    raise CoreInputError(what, "filler", ev[11], "unknown filler")
                for name, value in zip(("filler_size", "filler_perc", "filler_minmov"), ev[12:]):
                    _finite(what, name, value)
                _flag(what, "int2pnl", ev[15])
            elif tag in (EV_SET_CASH, EV_ADD_CASH):
                _finite(what, "cash", ev[1])
            elif tag == EV_FUND:
                _number(what, "fundvalue", ev[1])
                _number(what, "netvalue", ev[2])
        for data, target in compensate.items():
            if target != -1 and target not in datas:
                raise CoreInputError(f"data {data}", "compensate", target, "unknown data")
        if bars is None:
            return
        missing = set(datas)
        for i, bar in enumerate(bars):
            what = f"bar #{i}"
            if not isinstance(bar, tuple) or len(bar) != BAR_LENGTH:
                raise CoreInputError(what, "length", len(bar), f"expected {BAR_LENGTH}")
            _index(what, "data", bar[0])
            if bar[0] not in datas:
                raise CoreInputError(what, "data", bar[0], "unknown data")
            if bar[0] not in missing:
                raise CoreInputError(what, "data", bar[0], "duplicate bar")
            for name, value in zip(BAR_FIELDS, bar[1:]):
                _number(what, name, value)
            if not isinstance(bar[14], int) or isinstance(bar[14], bool):
                raise CoreInputError(what, "day", bar[14], "not an int")
            missing.discard(bar[0])
        if missing:
            raise CoreInputError("bars", "data", min(missing), "no bar for a registered data")

    def _validate_submit(self, what: str, ev: Event, datas: set[int], known: _Known) -> None:
        (_, ref, data, isbuy, size, exectype, price, pricelimit, pclose, created_dt, valid,
         dteos, trailamount, trailpercent, limitoffset, parent, oco, transmit, check, coc,
         notified) = ev  # fmt: skip
        _index(what, "ref", ref)
        if ref in known:
            raise CoreInputError(what, "ref", ref, "duplicate order ref")
        _index(what, "data", data)
        if data not in datas:
            raise CoreInputError(what, "data", data, "unknown data")
        _flag(what, "isbuy", isbuy)
        _finite(what, "size", size)
        if isinstance(size, int) and abs(size) > 2**53:
            raise CoreInputError(what, "size", size, "int beyond 2**53")
        if (
            not isinstance(exectype, int)
            or isinstance(exectype, bool)
            or not (EXEC_MARKET <= exectype <= EXEC_HISTORICAL)
        ):
            raise CoreInputError(what, "exectype", exectype, "unknown exectype")
        # a trailing stop starts at +/-inf until its first adjustment: only those may be inf
        for name, value in (("price", price), ("pricelimit", pricelimit)):
            _number(what, name, value)
            if math.isnan(value) or (
                math.isinf(value) and exectype not in (EXEC_STOPTRAIL, EXEC_STOPTRAILLIMIT)
            ):
                raise CoreInputError(what, name, value, "not finite")
        for name, value in (
            ("pclose", pclose),
            ("created_dt", created_dt),
            ("valid", valid),
            ("dteos", dteos),
            ("trailamount", trailamount),
            ("trailpercent", trailpercent),
        ):
            _finite(what, name, value)
        _number(what, "limitoffset", limitoffset)
        _ref_or_none(what, "parent", parent)
        if parent != -1 and parent not in known:
            raise CoreInputError(what, "parent", parent, "unknown order ref")
        _ref_or_none(what, "oco", oco)
        if oco != -1 and oco not in known:
            raise CoreInputError(what, "oco", oco, "unknown order ref")
        for name, value in (
            ("transmit", transmit),
            ("check", check),
            ("coc", coc),
            ("notified", notified),
        ):
            _flag(what, name, value)
        if notified and (parent != -1 or not transmit):
            raise CoreInputError(what, "notified", notified, "only for orders sent on their own")

    # -- events: BackBroker.buy/sell/submit/transmit/cancel -----------------------------------
    def _apply(self, ev: Event, records: list[Record]) -> None:
        tag = ev[0]
        if tag == EV_DATA:
            self.comm[ev[1]] = _Comm(*ev[1:])
        elif tag == EV_POSITION:
            self.positions.setdefault(ev[1], _Position())
        elif tag == EV_SUBMIT:
            order = _Order(ev)
            self.orders[order.ref] = order
            self._ocoize(order, ev[16])
            self._submit(order, bool(ev[18]), bool(ev[20]), records)
        elif tag == EV_CANCEL:
            order = self.orders[ev[1]]
            self.cancel(order, records, notified=bool(ev[2]))
        elif tag == EV_CONFIG:
            (_, self.checksubmit, self.shortcash, self.coc, self.coo, self.slip_perc,
             self.slip_fixed, self.slip_open, self.slip_match, self.slip_limit, self.slip_out,
             self.filler, self.filler_size, self.filler_perc, self.filler_minmov,
             self.int2pnl) = ev  # fmt: skip
        elif tag == EV_SET_CASH:
            self.cash = ev[1]
        elif tag == EV_ADD_CASH:
            self.cash_addition.append(ev[1])
        elif tag == EV_HISTORY:
            self.history.append(ev)
        elif tag == EV_FUND:
            self.fundhist = (ev[1], ev[2])

    def _ocoize(self, order: _Order, oco: int) -> None:
        if oco == -1:
            self.ocos[order.ref] = order.ref
            self.ocol[order.ref].append(order.ref)
        else:
            ocoref = self.ocos[oco]
            self.ocos[order.ref] = ocoref
            self.ocol[ocoref].append(order.ref)

    def _take_children(self, order: _Order, records: list[Record]) -> int | None:
        pref = order.parent if order.parent is not None else order.ref
        if pref != order.ref and pref not in self.pchildren:
            order.state = _DONE
            records.append((REC_REJECTED, order.ref))
            return None
        return pref

    def _submit(self, order: _Order, check: bool, notified: bool, records: list[Record]) -> None:
        pref = self._take_children(order, records)
        if pref is None:
            return
        pc = self.pchildren[pref]
        pc.append(order)
        if order.transmit:
            for x in list(pc):
                self._transmit(x, check, notified and x is order, records)

    def _transmit(self, order: _Order, check: bool, notified: bool, records: list[Record]) -> None:
        if check:
            order.state = _SUBMITTED
            self.submitted.append(order)
            if not notified:
                records.append((REC_SUBMITTED, order.ref))
        else:
            self._submit_accept(order, records, notified)

    def _submit_accept(self, order: _Order, records: list[Record], notified: bool = False) -> None:
        order.pannotated = None
        order.state = _PENDING
        self.pending.append(order)
        if not notified:
            records.append((REC_ACCEPTED, order.ref))

    def cancel(
        self, order: _Order, records: list[Record], bracket: bool = False, notified: bool = False
    ) -> bool:
        try:
            self.pending.remove(order)
        except ValueError:
            return False
        order.state = _DONE
        order.completed = False
        if not notified:
            records.append((REC_CANCELED, order.ref))
        self._ococheck(order, records)
        if not bracket:
            self._bracketize(order, records, cancel=True)
        return True

    def _bracketize(self, order: _Order, records: list[Record], cancel: bool = False) -> None:
        pref = order.parent if order.parent is not None else order.ref
        pc = self.pchildren[pref]
        if cancel or order.parent is not None:
            while pc:
                self.cancel(pc.popleft(), records, bracket=True)
            del self.pchildren[pref]
        else:
            pc.popleft()
            for o in pc:
                self.toactivate.append(o)

    def _ococheck(self, order: _Order, records: list[Record]) -> None:
        parentref = self.ocos[order.ref]
        ocoref = self.ocos.get(parentref, None)
        ocol = self.ocol.pop(ocoref, None) if ocoref is not None else None
        if ocol:
            for i in range(len(self.pending) - 1, -1, -1):
                o = self.pending[i]
                if o is not None and o.ref in ocol:
                    del self.pending[i]
                    o.state = _DONE
                    # an order re-transmitted into a bracket sits twice in pending: its own fill
                    # cancels its twin, and the order then no longer counts as completed
                    o.completed = False
                    records.append((REC_CANCELED, o.ref))

    def _position(self, data: int, records: list[Record]) -> _Position:
        """``self.positions[data]`` of BackBroker's defaultdict, reporting a new entry."""
        position = self.positions.get(data)
        if position is None:
            position = self.positions[data] = _Position()
            records.append((REC_POSITION, data))
        return position

    # -- BackBroker.check_submitted ----------------------------------------------------------
    def _check_submitted(self, marks: dict[int, Bar], records: list[Record]) -> None:
        cash = self.cash
        positions: dict[int, _Position] = {}
        while self.submitted:
            order = self.submitted.popleft()
            if self._take_children(order, records) is None:
                continue
            position = positions.get(order.data)
            if position is None:
                position = positions[order.data] = self._position(order.data, records).clone()
            cash = self._pseudo_execute(order, cash, position, marks[order.data])
            if cash >= 0.0:
                self._submit_accept(order, records)
                continue
            order.state = _DONE
            records.append((REC_MARGIN, order.ref))
            self._ococheck(order, records)
            self._bracketize(order, records, cancel=True)

    def _pseudo_execute(self, order: _Order, cash: float, position: _Position, bar: Bar) -> float:
        comm = self.comm[order.data]
        cinfocomp = comm if comm.compensate == -1 else self.comm[comm.compensate]
        if self.coo and order.exectype == EXEC_MARKET:
            price: float = bar[2]
        else:
            price = order.price
        _, _, opened, closed = position.update(order.remsize, price)
        if closed:
            if self.shortcash:
                closedvalue = comm.getvaluesize(-closed, price)
            else:
                closedvalue = comm.getoperationcost(closed, price)
            closecash = closedvalue
            if closedvalue > 0:
                closecash /= comm.get_leverage()
            cash += closecash + 0 * comm.stocklike
            cash -= comm.getcommission(closed, price)
        if opened:
            if self.shortcash:
                openedvalue = comm.getvaluesize(opened, price)
            else:
                openedvalue = comm.getoperationcost(opened, price)
            opencash = openedvalue
            if openedvalue > 0:
                opencash /= comm.get_leverage()
            cash -= opencash
            cash -= cinfocomp.getcommission(opened, price)
        return cash

    # -- BackBroker._try_exec and the matching rules ------------------------------------------
    def _slip_up(
        self, pmax: float, price: float, doslip: bool = True, lim: bool = False
    ) -> float | None:
        if not doslip:
            return price
        if self.slip_perc:
            pslip = price * (1 + self.slip_perc)
        elif self.slip_fixed:
            pslip = price + self.slip_fixed
        else:
            return price
        if pslip <= pmax:
            return pslip
        elif self.slip_match or (lim and self.slip_limit):
            if not self.slip_out:
                return pmax
            return pslip
        return None

    def _slip_down(
        self, pmin: float, price: float, doslip: bool = True, lim: bool = False
    ) -> float | None:
        if not doslip:
            return price
        if self.slip_perc:
            pslip = price * (1 - self.slip_perc)
        elif self.slip_fixed:
            pslip = price - self.slip_fixed
        else:
            return price
        if pslip >= pmin:
            return pslip
        elif self.slip_match or (lim and self.slip_limit):
            if not self.slip_out:
                return pmin
            return pslip
        return None

    def _try_exec(
        self, order: _Order, bar: Bar, records: list[Record], filler: Filler | None
    ) -> None:
        _, dt0, popen, phigh, plow, pclose = bar[:6]
        ctx = (bar, records, filler)
        ex = order.exectype
        if ex == EXEC_MARKET:
            self._try_exec_market(order, dt0, popen, phigh, plow, ctx)
        elif ex == EXEC_CLOSE:
            self._try_exec_close(order, dt0, pclose, ctx)
        elif ex == EXEC_LIMIT:
            self._try_exec_limit(order, popen, phigh, plow, order.price, ctx)
        elif order.triggered and ex in (EXEC_STOPLIMIT, EXEC_STOPTRAILLIMIT):
            self._try_exec_limit(order, popen, phigh, plow, order.pricelimit, ctx)
        elif ex in (EXEC_STOP, EXEC_STOPTRAIL):
            self._try_exec_stop(order, popen, phigh, plow, order.price, pclose, ctx)
        elif ex in (EXEC_STOPLIMIT, EXEC_STOPTRAILLIMIT):
            self._try_exec_stoplimit(
                order,
                popen,
                phigh,
                plow,
                pclose,
                order.price,
                order.pricelimit,
                ctx,
            )
        elif ex == EXEC_HISTORICAL:
            self._execute(order, 0, order.price, ctx)

    def _try_exec_market(
        self, order: _Order, dt0: float, popen: float, phigh: float, plow: float, ctx: tuple
    ) -> None:
        dtcoc: float | None
        if self.coc and order.coc:
            dtcoc = order.created_dt
            exprice = order.pclose
        else:
            if not self.coo and dt0 <= order.created_dt:
                return
            dtcoc = None
            exprice = popen
        if order.isbuy:
            p = self._slip_up(phigh, exprice, doslip=self.slip_open)
        else:
            p = self._slip_down(plow, exprice, doslip=self.slip_open)
        self._execute(order, 0, p, ctx, dtcoc=dtcoc)

    def _try_exec_close(self, order: _Order, dt0: float, pclose: float, ctx: tuple) -> None:
        if dt0 > order.created_dt:
            if dt0 >= order.dteos:
                if order.pannotated and dt0 > order.dteos:
                    self._execute(order, -1, order.pannotated, ctx)
                else:
                    self._execute(order, 0, pclose, ctx)
                return
        order.pannotated = pclose

    def _try_exec_limit(
        self, order: _Order, popen: float, phigh: float, plow: float, plimit: float, ctx: tuple
    ) -> None:
        if order.isbuy:
            if plimit >= popen:
                pmax = min(phigh, plimit)
                p = self._slip_up(pmax, popen, doslip=self.slip_open, lim=True)
                self._execute(order, 0, p, ctx)
            elif plimit >= plow:
                self._execute(order, 0, plimit, ctx)
        else:
            if plimit <= popen:
                p = self._slip_down(plimit, popen, doslip=self.slip_open, lim=True)
                self._execute(order, 0, p, ctx)
            elif plimit <= phigh:
                self._execute(order, 0, plimit, ctx)

    def _try_exec_stop(
        self,
        order: _Order,
        popen: float,
        phigh: float,
        plow: float,
        pcreated: float,
        pclose: float,
        ctx: tuple,
    ) -> None:
        if order.isbuy:
            if popen >= pcreated:
                self._execute(order, 0, self._slip_up(phigh, popen, doslip=self.slip_open), ctx)
            elif phigh >= pcreated:
                self._execute(order, 0, self._slip_up(phigh, pcreated), ctx)
        else:
            if popen <= pcreated:
                self._execute(order, 0, self._slip_down(plow, popen, doslip=self.slip_open), ctx)
            elif plow <= pcreated:
                self._execute(order, 0, self._slip_down(plow, pcreated), ctx)
        if order.alive() and order.exectype == EXEC_STOPTRAIL:
            order.trailadjust(pclose, ctx[1])

    def _trigger(self, order: _Order, records: list[Record]) -> None:
        order.triggered = True
        records.append((REC_TRIGGERED, order.ref))

    def _try_exec_stoplimit(
        self,
        order: _Order,
        popen: float,
        phigh: float,
        plow: float,
        pclose: float,
        pcreated: float,
        plimit: float,
        ctx: tuple,
    ) -> None:
        records = ctx[1]
        if order.isbuy:
            if popen >= pcreated:
                self._trigger(order, records)
                self._try_exec_limit(order, popen, phigh, plow, plimit, ctx)
            elif phigh >= pcreated:
                self._trigger(order, records)
                if popen > pclose:
                    if plimit >= pcreated:
                        self._execute(order, 0, self._slip_up(phigh, pcreated, lim=True), ctx)
                    elif plimit >= pclose:
                        self._execute(order, 0, plimit, ctx)
                else:
                    if plimit >= pcreated:
                        self._execute(order, 0, self._slip_up(phigh, pcreated, lim=True), ctx)
        else:
            if popen <= pcreated:
                self._trigger(order, records)
                self._try_exec_limit(order, popen, phigh, plow, plimit, ctx)
            elif plow <= pcreated:
                self._trigger(order, records)
                if popen <= pclose:
                    if plimit <= pcreated:
                        self._execute(order, 0, self._slip_down(plow, pcreated, lim=True), ctx)
                    elif plimit <= pclose:
                        self._execute(order, 0, plimit, ctx)
                else:
                    if plimit <= pcreated:
                        self._execute(order, 0, self._slip_down(plow, pcreated, lim=True), ctx)
        if order.alive() and order.exectype == EXEC_STOPTRAILLIMIT:
            order.trailadjust(pclose, records)

    # -- BackBroker._execute -----------------------------------------------------------------
    def _fill_size(self, order: _Order, price: float, ago: int, ctx: tuple) -> Any:
        bar, _, callback = ctx
        if ago == 0:
            volume, high, low = bar[7], bar[8], bar[9]
        else:
            volume, high, low = bar[13], bar[11], bar[12]
        if self.filler == FILLER_FIXEDSIZE:
            size = self.filler_size or MAXINT
            return min((volume, abs(order.remsize), size))
        if self.filler == FILLER_FIXEDBARPERC:
            maxsize = (volume * self.filler_perc) // 100
            return min(maxsize, abs(order.remsize))
        if self.filler == FILLER_BARPOINTPERC:
            minmov = self.filler_minmov
            parts: Number = 1
            if minmov:
                parts = (high - low + minmov) // minmov
            alloc_vol = ((volume / parts) * self.filler_perc) // 100.0
            return min(alloc_vol, abs(order.remsize))
        size = callback(order.ref, price, ago)
        _number("filler result", "size", size)
        return size

    def _execute(
        self,
        order: _Order,
        ago: int,
        price: float | None,
        ctx: tuple,
        dtcoc: float | None = None,
    ) -> None:
        if price is None:
            return
        bar, records, _ = ctx
        if self.filler == FILLER_NONE:
            size = order.remsize
        else:
            size = self._fill_size(order, price, ago, ctx)
            if not order.isbuy:
                size = -size
        comm = self.comm[order.data]
        # data.compensate(other): the position (and the opening commission) are other's
        pdata = order.data if comm.compensate == -1 else comm.compensate
        cinfocomp = self.comm[pdata]
        position = self._position(pdata, records)
        pprice_orig = position.price
        psize, pprice, opened, closed = position.clone().update(size, price)
        pnl = comm.profitandloss(-closed, pprice_orig, price)
        cash = self.cash

        if closed:
            if self.shortcash:
                closedvalue = comm.getvaluesize(-closed, pprice_orig)
            else:
                closedvalue = comm.getoperationcost(closed, pprice_orig)
            closecash = closedvalue
            if closedvalue > 0:
                closecash /= comm.get_leverage()
            cash += closecash + pnl * comm.stocklike
            closedcomm = comm.getcommission(closed, price)
            cash -= closedcomm
            cash += comm.cashadjust(-closed, position.adjbase, price)
            self.cash = cash
        else:
            closedvalue = closedcomm = 0.0

        popened = opened
        if opened:
            if self.shortcash:
                openedvalue = comm.getvaluesize(opened, price)
            else:
                openedvalue = comm.getoperationcost(opened, price)
            opencash = openedvalue
            if openedvalue > 0:
                opencash /= comm.get_leverage()
            cash -= opencash
            openedcomm = cinfocomp.getcommission(opened, price)
            cash -= openedcomm
            if cash < 0.0:
                opened = 0
                openedvalue = openedcomm = 0.0
            else:
                if abs(psize) > abs(opened):
                    cash += comm.cashadjust(psize - opened, position.adjbase, price)
                position.adjbase = price
                self.cash = cash
        else:
            openedvalue = openedcomm = 0.0

        execsize = closed + opened
        if execsize:
            comm.confirmexec(execsize, price)
            pbar = self._marks[pdata]
            position.update(execsize, price)
            position.dt, position.day = pbar[1], pbar[14]
            if closed and self.int2pnl:
                closedcomm += self.d_credit.pop(pdata, 0.0)
            order.remsize -= execsize
            if not order.remsize:
                order.state = _DONE
                order.completed = True
            if dtcoc is not None:
                dt = dtcoc
            else:
                dt = pbar[1] if ago == 0 else pbar[10]
            records.append(
                (
                    REC_EXECUTED,
                    order.ref,
                    dt,
                    execsize,
                    price,
                    closed,
                    closedvalue,
                    closedcomm,
                    opened,
                    openedvalue,
                    openedcomm,
                    pnl,
                    psize,
                    pprice,
                    position.size,
                    position.price,
                )
            )
            self._ococheck(order, records)

        if popened and not opened:
            order.state = _DONE
            records.append((REC_MARGIN, order.ref))
            self._ococheck(order, records)
            self._bracketize(order, records, cancel=True)

    # -- BackBroker._get_value ---------------------------------------------------------------
    def _get_value(
        self,
        marks: dict[int, Bar],
        datas: Sequence[int] | None = None,
        lever: bool = False,
    ) -> float:
        pos_value = 0.0
        pos_value_unlever = 0.0
        unrealized = 0.0

        while self.cash_addition:
            c = self.cash_addition.popleft()
            self.fundshares += c / self.fundval
            self.cash += c

        for data in datas or list(self.positions):
            comm = self.comm[data]
            position = self.positions[data]
            mark: float = marks[data][6]
            if not self.shortcash:
                dvalue = comm.getvalue(position.size, position.price, mark)
            else:
                dvalue = comm.getvaluesize(position.size, mark)
            dunrealized = comm.profitandloss(position.size, position.price, mark)
            if datas and len(datas) == 1:
                if lever and dvalue > 0:
                    dvalue -= dunrealized
                    return (dvalue / comm.get_leverage()) + dunrealized
                return dvalue
            if not self.shortcash:
                dvalue = abs(dvalue)
            pos_value += dvalue
            unrealized += dunrealized
            if dvalue > 0:
                dvalue -= dunrealized
                pos_value_unlever += dvalue / comm.get_leverage()
                pos_value_unlever += dunrealized
            else:
                pos_value_unlever += dvalue

        if self.fundhist is None:
            self.value = self.cash + pos_value_unlever
            self.fundval = self.value / self.fundshares
        else:
            fval, fvalue = self.fundhist
            self.value = fvalue
            self.cash = fvalue - pos_value_unlever
            self.fundval = fval
            self.fundshares = fvalue / fval
            lev = pos_value / (pos_value_unlever or 1.0)
            pos_value_unlever = fvalue
            pos_value = fvalue * lev
        self.valuemkt = pos_value_unlever
        self.valuelever = self.cash + pos_value
        self.valuemktlever = pos_value
        self.leverage = pos_value / (pos_value_unlever or 1.0)
        self.unrealized = unrealized
        return self.value if not lever else self.valuelever

    # -- snapshots (layout in ``snapshot.py``, shared with the Rust core) ---------------------
    def snapshot(self) -> tuple[Any, ...]:
        """The whole state as a versioned tuple of plain data (``snapshot.SNAPSHOT_FIELDS``),
        exactly as ``RustCore.snapshot()`` writes the same state."""
        from .snapshot import pycore_snapshot

        return pycore_snapshot(self)

    @classmethod
    def restore(cls, snapshot: object) -> PyCore:
        """A core in the state ``snapshot`` (of either backend) describes; a bad snapshot or one
        of another version raises ``CoreInputError("snapshot", ...)``."""
        from .snapshot import pycore_restore

        return pycore_restore(cls, snapshot)

    def __reduce__(self) -> tuple[Any, ...]:
        # pickling (``optstrategy`` sends the broker to worker processes) through the snapshot
        from .snapshot import restore_pycore

        return (restore_pycore, (type(self), self.snapshot()))
