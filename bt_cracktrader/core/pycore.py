"""The pure-Python core: BackBroker's order matching and accounting on plain numbers.

This is the reference implementation of the contract in ``contract.py``; the Rust core in
``rust/core`` is a line-by-line port of it. Every float operation below is written in the order
``backtrader/brokers/bbroker.py`` and ``backtrader/comminfo.py`` perform it, because a different
association changes the last bit of cash and value.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

from .contract import (
    BAR_LENGTH,
    EV_CANCEL,
    EV_CONFIG,
    EV_DATA,
    EV_POSITION,
    EV_SET_CASH,
    EV_SUBMIT,
    EVENT_LENGTHS,
    EVENT_NAMES,
    EXEC_MARKET,
    REC_ACCEPTED,
    REC_EXECUTED,
    REC_MARGIN,
    Bar,
    CoreInputError,
    Event,
    Number,
    Record,
)

# Order states inside the core (the adapter owns Backtrader's status codes).
_SUBMITTED, _PENDING, _DONE = range(3)


class _Comm:
    """A ``CommInfoBase`` reduced to its numbers (no user overrides)."""

    __slots__ = ("stocklike", "perc", "commission", "mult", "margin", "automargin", "leverage")

    def __init__(
        self,
        stocklike: bool,
        perc: bool,
        commission: float,
        mult: float,
        margin: float,
        automargin: float,
        leverage: float,
    ) -> None:
        self.stocklike = stocklike
        self.perc = perc
        self.commission = commission
        self.mult = mult
        self.margin = margin
        self.automargin = automargin
        self.leverage = leverage

    def get_margin(self, price: float) -> float:
        if not self.automargin:
            return self.margin
        elif self.automargin < 0:
            return price * self.mult
        return price * self.automargin

    def getoperationcost(self, size: Number, price: float) -> float:
        if not self.stocklike:
            return abs(size) * self.get_margin(price)
        return abs(size) * price

    def getvaluesize(self, size: Number, price: float) -> float:
        if not self.stocklike:
            return abs(size) * self.get_margin(price)
        return size * price

    def getvalue(self, size: Number, pprice: float, price: float) -> float:
        if not self.stocklike:
            return abs(size) * self.get_margin(price)
        if size >= 0:
            return size * price
        value = pprice * size
        value += (pprice - price) * size
        return value

    def getcommission(self, size: Number, price: float) -> float:
        if self.perc:
            return abs(size) * self.commission * price
        return abs(size) * self.commission

    def profitandloss(self, size: Number, price: float, newprice: float) -> float:
        return size * (newprice - price) * self.mult

    def cashadjust(self, size: Number, price: float | None, newprice: float) -> float:
        if not self.stocklike:
            assert price is not None  # a futures position always has an adjustment base
            return size * (newprice - price) * self.mult
        return 0.0


class _Position:
    __slots__ = ("size", "price", "adjbase")

    def __init__(self, size: Number = 0, price: float = 0.0) -> None:
        self.size: Number = size
        self.price: float = price if size else 0.0
        self.adjbase: float | None = None

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
    __slots__ = ("ref", "data", "size", "remsize", "price", "created_dt", "exectype", "state")

    def __init__(
        self, ref: int, data: int, size: Number, price: float, created_dt: float, exectype: int
    ) -> None:
        self.ref = ref
        self.data = data
        self.size = size
        self.remsize = size
        self.price = price
        self.created_dt = created_dt
        self.exectype = exectype
        self.state = _SUBMITTED


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(what: str, field: str, value: object) -> None:
    if not _is_number(value):
        raise CoreInputError(what, field, value, "not a number")
    if not math.isfinite(value):  # type: ignore[arg-type]
        raise CoreInputError(what, field, value, "not finite")


def _flag(what: str, field: str, value: object) -> None:
    if not isinstance(value, bool):
        raise CoreInputError(what, field, value, "not a bool")


def _index(what: str, field: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CoreInputError(what, field, value, "not a non-negative int")


class PyCore:
    """BackBroker's matching and accounting for Market orders, in pure Python."""

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
        self.cash: float = cash
        self.comm: dict[int, _Comm] = {}
        self.positions: dict[int, _Position] = {}
        self.orders: dict[int, _Order] = {}
        self.submitted: deque[_Order] = deque()
        self.pending: deque[_Order] = deque()
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
        idle = not self.submitted and not self.pending
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

    def apply(self, events: Sequence[Event]) -> None:
        """Apply events now, without a bar (what ``step`` does first)."""
        self._validate(events, None)
        for ev in events:
            self._apply(ev)

    def step(
        self, events: Sequence[Event], bars: Sequence[Bar]
    ) -> tuple[list[Record], tuple[object, ...]]:
        self._validate(events, bars)
        records: list[Record] = []
        for ev in events:
            self._apply(ev)
        marks = {bar[0]: bar for bar in bars}

        if self.checksubmit:
            self._check_submitted(records)

        self.pending.append(None)  # type: ignore[arg-type]
        while True:
            order = self.pending.popleft()
            if order is None:
                break
            self._try_exec(order, marks[order.data], records)
            if order.state == _PENDING:
                self.pending.append(order)

        for data, pos in self.positions.items():
            if pos.size:
                mark = marks[data][7]
                self.cash += self.comm[data].cashadjust(pos.size, pos.adjbase, mark)
                pos.adjbase = mark

        self._get_value(marks)
        return records, self.state()

    def value_of(
        self, datas: Sequence[int], closes: Sequence[float], lever: bool
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
        value = self._get_value(
            {d: (d, 0, 0, 0, 0, 0, 0, c) for d, c in zip(datas, closes)}, datas=datas, lever=lever
        )
        return value, self.state()

    # -- validation: nothing is applied unless everything is valid ----------------------------
    def _validate(self, events: Sequence[Event], bars: Sequence[Bar] | None) -> None:
        datas = set(self.comm)
        refs = {ref for ref, o in self.orders.items() if o.state != _DONE}
        known = set(self.orders)
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
                if not ev[8] > 0:  # type: ignore[operator]
                    raise CoreInputError(what, "leverage", ev[8], "not positive")
                datas.add(ev[1])  # type: ignore[arg-type]
            elif tag == EV_POSITION:
                _index(what, "data", ev[1])
                if ev[1] not in datas:
                    raise CoreInputError(what, "data", ev[1], "unknown data")
            elif tag == EV_SUBMIT:
                _, ref, data, size, price, created_dt, exectype, check = ev
                _index(what, "ref", ref)
                if ref in known:
                    raise CoreInputError(what, "ref", ref, "duplicate order ref")
                _index(what, "data", data)
                if data not in datas:
                    raise CoreInputError(what, "data", data, "unknown data")
                _finite(what, "size", size)
                if isinstance(size, int) and abs(size) > 2**53:
                    raise CoreInputError(what, "size", size, "int beyond 2**53")
                _finite(what, "price", price)
                _finite(what, "created_dt", created_dt)
                if exectype != EXEC_MARKET:
                    raise CoreInputError(what, "exectype", exectype, "unsupported exectype")
                _flag(what, "check", check)
                known.add(ref)  # type: ignore[arg-type]
                refs.add(ref)  # type: ignore[arg-type]
            elif tag == EV_CANCEL:
                _index(what, "ref", ev[1])
                if ev[1] not in refs:
                    raise CoreInputError(what, "ref", ev[1], "unknown order ref")
                refs.discard(ev[1])
            elif tag == EV_CONFIG:
                _flag(what, "checksubmit", ev[1])
                _flag(what, "shortcash", ev[2])
            elif tag == EV_SET_CASH:
                _finite(what, "cash", ev[1])
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
            for name, value in zip(
                ("dt", "open", "high", "low", "close", "volume", "mark"), bar[1:]
            ):
                if not _is_number(value):
                    raise CoreInputError(what, name, value, "not a number")
            missing.discard(bar[0])
        if missing:
            raise CoreInputError("bars", "data", min(missing), "no bar for a registered data")

    def _apply(self, ev: Event) -> None:
        tag = ev[0]
        if tag == EV_DATA:
            self.comm[ev[1]] = _Comm(*ev[2:])  # type: ignore[index, arg-type]
        elif tag == EV_POSITION:
            self.positions.setdefault(ev[1], _Position())  # type: ignore[arg-type]
        elif tag == EV_SUBMIT:
            _, ref, data, size, price, created_dt, exectype, check = ev
            order = _Order(ref, data, size, price, created_dt, exectype)  # type: ignore[arg-type]
            self.orders[ref] = order  # type: ignore[index]
            if check:
                self.submitted.append(order)
            else:
                order.state = _PENDING
                self.pending.append(order)
        elif tag == EV_CANCEL:
            order = self.orders[ev[1]]  # type: ignore[index]
            if order.state == _PENDING:
                self.pending.remove(order)
            else:
                self.submitted.remove(order)
            order.state = _DONE
        elif tag == EV_CONFIG:
            self.checksubmit = bool(ev[1])
            self.shortcash = bool(ev[2])
        elif tag == EV_SET_CASH:
            self.cash = ev[1]  # type: ignore[assignment]

    # -- BackBroker.check_submitted ----------------------------------------------------------
    def _check_submitted(self, records: list[Record]) -> None:
        cash = self.cash
        positions: dict[int, _Position] = {}
        while self.submitted:
            order = self.submitted.popleft()
            position = positions.get(order.data)
            if position is None:
                position = positions[order.data] = self.positions.setdefault(
                    order.data, _Position()
                ).clone()
            cash = self._pseudo_execute(order, cash, position)
            if cash >= 0.0:
                order.state = _PENDING
                self.pending.append(order)
                records.append((REC_ACCEPTED, order.ref))
            else:
                order.state = _DONE
                records.append((REC_MARGIN, order.ref))

    def _pseudo_execute(self, order: _Order, cash: float, position: _Position) -> float:
        comm = self.comm[order.data]
        price = order.price
        _, _, opened, closed = position.update(order.remsize, price)
        if closed:
            if self.shortcash:
                closedvalue = comm.getvaluesize(-closed, price)
            else:
                closedvalue = comm.getoperationcost(closed, price)
            closecash = closedvalue
            if closedvalue > 0:
                closecash /= comm.leverage
            cash += closecash + 0 * comm.stocklike
            cash -= comm.getcommission(closed, price)
        if opened:
            if self.shortcash:
                openedvalue = comm.getvaluesize(opened, price)
            else:
                openedvalue = comm.getoperationcost(opened, price)
            opencash = openedvalue
            if openedvalue > 0:
                opencash /= comm.leverage
            cash -= opencash
            cash -= comm.getcommission(opened, price)
        return cash

    # -- BackBroker._try_exec_market and _execute --------------------------------------------
    def _try_exec(self, order: _Order, bar: Bar, records: list[Record]) -> None:
        dt = bar[1]
        if dt <= order.created_dt:
            return
        self._execute(order, dt, bar[2], records)

    def _execute(self, order: _Order, dt: float, price: float, records: list[Record]) -> None:
        size = order.remsize
        comm = self.comm[order.data]
        position = self.positions.setdefault(order.data, _Position())
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
                closecash /= comm.leverage
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
                opencash /= comm.leverage
            cash -= opencash
            openedcomm = comm.getcommission(opened, price)
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
            position.update(execsize, price)
            order.remsize -= execsize
            if not order.remsize:
                order.state = _DONE
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

        if popened and not opened:
            order.state = _DONE
            records.append((REC_MARGIN, order.ref))

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
        for data in datas or list(self.positions):
            comm = self.comm[data]
            position = self.positions[data]
            mark = marks[data][7]
            if not self.shortcash:
                dvalue = comm.getvalue(position.size, position.price, mark)
            else:
                dvalue = comm.getvaluesize(position.size, mark)
            dunrealized = comm.profitandloss(position.size, position.price, mark)
            if datas and len(datas) == 1:
                if lever and dvalue > 0:
                    dvalue -= dunrealized
                    return (dvalue / comm.leverage) + dunrealized
                return dvalue
            if not self.shortcash:
                dvalue = abs(dvalue)
            pos_value += dvalue
            unrealized += dunrealized
            if dvalue > 0:
                dvalue -= dunrealized
                pos_value_unlever += dvalue / comm.leverage
                pos_value_unlever += dunrealized
            else:
                pos_value_unlever += dvalue

        self.value = self.cash + pos_value_unlever
        self.fundval = self.value / self.fundshares
        self.valuemkt = pos_value_unlever
        self.valuelever = self.cash + pos_value
        self.valuemktlever = pos_value
        self.leverage = pos_value / (pos_value_unlever or 1.0)
        self.unrealized = unrealized
        return self.value if not lever else self.valuelever
