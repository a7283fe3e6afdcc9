"""``CrackBroker``: a drop-in replacement for Backtrader's ``BackBroker``.

The broker keeps Backtrader's own objects at the boundary (``bt.Order`` clones in
``notify_order``, ``bt.Position`` in ``getposition``), and hands every decision and every number
(acceptance, fills, commission, cash, positions, value) to a core that speaks the contract in
``bt_cracktrader.core.contract``. Orders placed during a bar are batched and reach the core with
the next bar in a single call; nothing crosses when nothing is pending.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterable
from typing import Any, Callable

import backtrader as bt
from backtrader.comminfo import CommInfoBase
from backtrader.order import BuyOrder, Order, SellOrder
from backtrader.position import Position

from .core import load_core
from .core.contract import (
    EV_CANCEL,
    EV_CONFIG,
    EV_DATA,
    EV_POSITION,
    EV_SET_CASH,
    EV_SUBMIT,
    EXEC_MARKET,
    REC_ACCEPTED,
    REC_EXECUTED,
    REC_MARGIN,
    Bar,
    Event,
    State,
)

__all__ = ["CrackBroker"]

logger = logging.getLogger(__name__)

# CommInfoBase methods whose results the core computes itself: a subclass overriding any of
# them needs the Python call-back path, which is not implemented yet.
_COMM_METHODS = (
    "_getcommission",
    "getcommission",
    "confirmexec",
    "get_margin",
    "get_leverage",
    "getoperationcost",
    "getvaluesize",
    "getvalue",
    "profitandloss",
    "cashadjust",
    "get_credit_interest",
    "_get_credit_interest",
)


def _not_implemented(what: str) -> NotImplementedError:
    return NotImplementedError(f"CrackBroker: {what} is not implemented yet")


class _PositionBook(collections.defaultdict):
    """``broker.positions``: a ``defaultdict(Position)`` that tells the core when a strategy's
    ``getposition()`` creates an entry, because BackBroker values positions in entry order."""

    def __init__(self, on_new: Callable[[Any], None]) -> None:
        super().__init__(Position)
        self._on_new = on_new

    def __missing__(self, data: Any) -> Position:
        position = super().__missing__(data)
        self._on_new(data)
        return position

    def mirror(self, data: Any) -> Position:
        """The entry for ``data``, created without telling the core (it created its own)."""
        position = self.get(data)
        if position is None:
            position = self[data] = Position()
        return position

    def __reduce__(self) -> Any:  # the callback is bound to the broker, which re-creates it
        return (dict, (dict(self),))


class CrackBroker(bt.BrokerBase):
    """Backtrader's ``BackBroker``, computed by the bt_cracktrader core.

    ``cerebro.setbroker(CrackBroker(backend="rust"))`` and the strategy runs unchanged, with the
    same ``notify_order``/``notify_trade`` calls, cash, value and analyzer output as with
    ``BackBroker``, to the last bit.

    Params (the same names and defaults as ``BackBroker``):

      - ``backend`` (default: ``None``): ``"python"``, ``"rust"`` or ``"auto"``. ``None`` reads
        the environment variable ``BT_CRACKTRADER_BACKEND``, else ``"auto"``: Rust when the
        extension imports, otherwise the Python core with one WARNING log line.
      - ``cash`` (default: ``10000.0``): starting cash.
      - ``checksubmit`` (default: ``True``): check that an order can be paid for before
        accepting it (else it is notified ``Margin``).
      - ``eosbar`` (default: ``False``): accepted for compatibility; it has no effect in
        ``BackBroker`` either.
      - ``filler``, ``slip_perc``, ``slip_fixed``, ``slip_open``, ``slip_match``, ``slip_limit``,
        ``slip_out``, ``coc``, ``coo``: as in ``BackBroker``; values other than the defaults raise
        ``NotImplementedError`` in this version.
      - ``int2pnl`` (default: ``True``): assign credit interest to the closing trade.
      - ``shortcash`` (default: ``True``): a stock-like short adds cash and has negative value.
      - ``fundstartval`` (default: ``100.0``), ``fundmode`` (default: ``False``): fund-like
        performance tracking, as in ``BackBroker``.

    Execution types: ``exectype=None``/``Order.Market`` (``buy``, ``sell``, ``close``,
    ``order_target_*``). Other ``exectype`` values, ``oco``, ``parent``/``transmit=False``
    and trailing stops raise ``NotImplementedError`` naming the feature: never a silent
    fallback to another broker, never a wrong fill.
    """

    cash: float
    _fundval: float
    _fundshares: float

    params = (
        ("backend", None),
        ("cash", 10000.0),
        ("checksubmit", True),
        ("eosbar", False),
        ("filler", None),
        ("slip_perc", 0.0),
        ("slip_fixed", 0.0),
        ("slip_open", False),
        ("slip_match", True),
        ("slip_limit", True),
        ("slip_out", False),
        ("coc", False),
        ("coo", False),
        ("int2pnl", True),
        ("shortcash", True),
        ("fundstartval", 100.0),
        ("fundmode", False),
    )

    def __init__(self) -> None:
        self._core_cls, self.backend = load_core(self.p.backend)
        super().__init__()

    # -- life cycle ----------------------------------------------------------------------------
    def init(self) -> None:
        super().init()
        self._check_params()
        self.startingcash = self.cash = self.p.cash
        self._value = self.cash
        self._valuemkt = 0.0
        self._valuelever = 0.0
        self._valuemktlever = 0.0
        self._leverage = 1.0
        self._unrealized = 0.0
        self._fundval = self.p.fundstartval
        self._fundshares = self.p.cash / self._fundval

        self.orders: list[Order] = []
        self.notifs: collections.deque[Order] = collections.deque()
        self.positions = _PositionBook(self._position_created)
        self._submitted: dict[int, Order] = {}
        self._pending: dict[int, Order] = {}

        self._core = self._make_core(
            self.p.cash, bool(self.p.checksubmit), bool(self.p.shortcash), self.p.fundstartval
        )
        self._config = (bool(self.p.checksubmit), bool(self.p.shortcash))
        self._datas: dict[Any, int] = {}
        self._datalist: list[Any] = []
        self._new_datas: list[int] = []
        self._comm_dirty = False
        self._events: list[Event] = []
        self._idle = False  # the first bar always computes value and fund value

    def _make_core(
        self, cash: float, checksubmit: bool, shortcash: bool, fundstartval: float
    ) -> Any:
        # a hook for recording (bt_cracktrader.core.replay) and for tests counting crossings
        return self._core_cls(cash, checksubmit, shortcash, fundstartval)

    def start(self) -> None:
        self.init()

    def stop(self) -> None:
        pass

    def _check_params(self) -> None:
        if self.p.filler is not None:
            raise _not_implemented("the volume filler (filler/set_filler)")
        if self.p.slip_perc or self.p.slip_fixed:
            raise _not_implemented("slippage (slip_perc/slip_fixed)")
        if self.p.coc:
            raise _not_implemented("cheat-on-close (coc/set_coc)")
        if self.p.coo:
            raise _not_implemented("cheat-on-open (coo/set_coo)")

    # -- datas and commission schemes ---------------------------------------------------------
    def _comm_spec(self, data: Any) -> Event:
        comminfo = self.getcommissioninfo(data)
        cls = type(comminfo)
        for name in _COMM_METHODS:
            if getattr(cls, name) is not getattr(CommInfoBase, name):
                raise _not_implemented(f"a commission scheme overriding {name}() ({cls.__name__})")
        if comminfo.p.interest:
            raise _not_implemented(f"credit interest (interest={comminfo.p.interest!r})")
        return (
            EV_DATA,
            self._datas[data],
            bool(comminfo.stocklike),
            comminfo._commtype == CommInfoBase.COMM_PERC,
            float(comminfo.p.commission),
            float(comminfo.p.mult),
            float(comminfo.p.margin or 0.0),
            float(comminfo.p.automargin or 0.0),
            float(comminfo.p.leverage),
        )

    def _data_index(self, data: Any) -> int:
        idx = self._datas.get(data)
        if idx is None:
            idx = self._datas[data] = len(self._datalist)
            self._datalist.append(data)
            self._new_datas.append(idx)
        return idx

    def _position_created(self, data: Any) -> None:
        self._events.append((EV_POSITION, self._data_index(data)))

    def setcommission(self, *args: Any, **kwargs: Any) -> None:
        super().setcommission(*args, **kwargs)
        self._comm_dirty = True

    def addcommissioninfo(self, comminfo: Any, name: str | None = None) -> None:
        super().addcommissioninfo(comminfo, name=name)
        self._comm_dirty = True

    # -- orders -------------------------------------------------------------------------------
    def buy(
        self,
        owner: Any,
        data: Any,
        size: Any,
        price: Any = None,
        plimit: Any = None,
        exectype: Any = None,
        valid: Any = None,
        tradeid: int = 0,
        oco: Any = None,
        trailamount: Any = None,
        trailpercent: Any = None,
        parent: Any = None,
        transmit: bool = True,
        histnotify: bool = False,
        _checksubmit: bool = True,
        **kwargs: Any,
    ) -> Order:
        return self._order(
            BuyOrder,
            owner,
            data,
            size,
            price,
            plimit,
            exectype,
            valid,
            tradeid,
            oco,
            trailamount,
            trailpercent,
            parent,
            transmit,
            histnotify,
            _checksubmit,
            kwargs,
        )

    def sell(
        self,
        owner: Any,
        data: Any,
        size: Any,
        price: Any = None,
        plimit: Any = None,
        exectype: Any = None,
        valid: Any = None,
        tradeid: int = 0,
        oco: Any = None,
        trailamount: Any = None,
        trailpercent: Any = None,
        parent: Any = None,
        transmit: bool = True,
        histnotify: bool = False,
        _checksubmit: bool = True,
        **kwargs: Any,
    ) -> Order:
        return self._order(
            SellOrder,
            owner,
            data,
            size,
            price,
            plimit,
            exectype,
            valid,
            tradeid,
            oco,
            trailamount,
            trailpercent,
            parent,
            transmit,
            histnotify,
            _checksubmit,
            kwargs,
        )

    def _order(
        self,
        cls: Any,
        owner: Any,
        data: Any,
        size: Any,
        price: Any,
        plimit: Any,
        exectype: Any,
        valid: Any,
        tradeid: int,
        oco: Any,
        trailamount: Any,
        trailpercent: Any,
        parent: Any,
        transmit: bool,
        histnotify: bool,
        check: bool,
        kwargs: dict[str, Any],
    ) -> Order:
        if exectype not in (None, Order.Market):
            name = Order.ExecTypes[exectype] if isinstance(exectype, int) else exectype
            raise _not_implemented(f"exectype {name!r} (only Market orders)")
        if oco is not None:
            raise _not_implemented("oco (One-Cancels-Others groups)")
        if parent is not None or not transmit:
            raise _not_implemented("bracket orders (parent/transmit=False)")
        if trailamount or trailpercent:
            raise _not_implemented("trailing stops (trailamount/trailpercent)")
        if kwargs.get("coc") is not None or kwargs.get("coo") is not None:
            raise _not_implemented("per-order coc/coo")

        order = cls(
            owner=owner,
            data=data,
            size=size,
            price=price,
            pricelimit=plimit,
            exectype=exectype,
            valid=valid,
            tradeid=tradeid,
            trailamount=trailamount,
            trailpercent=trailpercent,
            parent=parent,
            transmit=transmit,
            histnotify=histnotify,
        )
        order.addinfo(**kwargs)
        check = bool(check and self.p.checksubmit)
        self._events.append(
            (
                EV_SUBMIT,
                order.ref,
                self._data_index(data),
                order.size,
                order.created.price,
                order.created.dt,
                EXEC_MARKET,
                check,
            )
        )
        if check:
            order.submit()
            self._submitted[order.ref] = order
            self.orders.append(order)
            self.notify(order)
        else:
            self._submit_accept(order)
        return order

    def _submit_accept(self, order: Order) -> None:
        order.pannotated = None
        order.submit()
        order.accept()
        self._pending[order.ref] = order
        self.notify(order)

    def cancel(self, order: Order, bracket: bool = False) -> bool:
        """Cancel a pending order; ``False`` if it is not pending (as ``BackBroker``: an order
        still waiting for its submit check cannot be cancelled)."""
        if self._pending.pop(order.ref, None) is None:
            return False
        order.cancel()
        self.notify(order)
        self._events.append((EV_CANCEL, order.ref))
        return True

    def get_orders_open(self, safe: bool = False) -> list[Order]:
        """The accepted orders that are not yet completed (clones with ``safe=True``)."""
        if safe:
            return [o.clone() for o in self._pending.values()]
        return list(self._pending.values())

    def notify(self, order: Order) -> None:
        self.notifs.append(order.clone())

    def get_notification(self) -> Order | None:
        try:
            return self.notifs.popleft()
        except IndexError:
            return None

    # -- the bar ------------------------------------------------------------------------------
    def _bars(self) -> list[Bar]:
        bars = []
        for idx, data in enumerate(self._datalist):
            popen = getattr(data, "tick_open", None)
            phigh = getattr(data, "tick_high", None)
            plow = getattr(data, "tick_low", None)
            pclose = getattr(data, "tick_close", None)
            mark = data.close[0]
            bars.append(
                (
                    idx,
                    data.datetime[0],
                    data.open[0] if popen is None else popen,
                    data.high[0] if phigh is None else phigh,
                    data.low[0] if plow is None else plow,
                    mark if pclose is None else pclose,
                    data.volume[0],
                    mark,
                )
            )
        return bars

    def _take_events(self) -> list[Event]:
        config = (bool(self.p.checksubmit), bool(self.p.shortcash))
        events: list[Event] = []
        if config != self._config:
            self._config = config
            events.append((EV_CONFIG, *config))
        if self._comm_dirty:
            self._comm_dirty = False
            self._new_datas.clear()
            events.extend(self._comm_spec(d) for d in self._datalist)
        elif self._new_datas:
            events.extend(self._comm_spec(self._datalist[i]) for i in self._new_datas)
            self._new_datas.clear()
        events.extend(self._events)
        self._events = []
        return events

    def next(self) -> None:
        self._check_params()
        if (
            self._idle
            and not self._events
            and not self._comm_dirty
            and ((bool(self.p.checksubmit), bool(self.p.shortcash)) == self._config)
        ):
            return
        events = self._take_events()
        records, state = self._core.step(events, self._bars())
        for rec in records:
            self._apply(rec)
        self._set_state(state)

    def _apply(self, rec: tuple[Any, ...]) -> None:
        tag, ref = rec[0], rec[1]
        if tag == REC_EXECUTED:
            order = self._pending[ref]
            (
                _,
                _,
                dt,
                size,
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
                possize,
                posprice,
            ) = rec
            data = order.data
            position = self.positions.mirror(data)
            position.price_orig = position.price
            position.size = possize
            position.price = posprice
            position.upopened = opened
            position.upclosed = closed
            position.datetime = data.datetime.datetime()
            comminfo = self.getcommissioninfo(data)
            order.execute(
                dt,
                size,
                price,
                closed,
                closedvalue,
                closedcomm,
                opened,
                openedvalue,
                openedcomm,
                comminfo.margin,
                pnl,
                psize,
                pprice,
            )
            order.addcomminfo(comminfo)
            self.notify(order)
            if not order.alive():
                del self._pending[ref]
        elif tag == REC_ACCEPTED:
            order = self._submitted.pop(ref)
            self.positions.mirror(order.data)
            self._submit_accept(order)
        elif tag == REC_MARGIN:
            order = self._submitted.pop(ref, None)
            if order is None:
                order = self._pending.pop(ref)
            else:
                self.positions.mirror(order.data)
            order.margin()
            self.notify(order)
        else:  # pragma: no cover - a core that breaks the contract
            raise RuntimeError(f"unknown core record {rec!r}")

    def _set_state(self, raw: Iterable[Any]) -> None:
        state = State(*raw)
        self.cash = state.cash
        self._value = state.value
        self._valuemkt = state.valuemkt
        self._valuelever = state.valuelever
        self._valuemktlever = state.valuemktlever
        self._fundval = state.fundvalue
        self._fundshares = state.fundshares
        self._leverage = state.leverage
        self._unrealized = state.unrealized
        self._idle = state.idle

    # -- cash, value, positions -----------------------------------------------------------------
    def get_cash(self) -> float:
        """Current cash (alias: ``getcash``)."""
        return self.cash

    getcash = get_cash

    def set_cash(self, cash: float) -> None:
        """Set the cash (alias: ``setcash``); like ``BackBroker`` it also sets ``startingcash``."""
        self.startingcash = self.cash = self.p.cash = cash
        self._value = cash
        self._events.append((EV_SET_CASH, cash))

    setcash = set_cash

    def add_cash(self, cash: float) -> None:
        raise _not_implemented("add_cash")

    def get_value(self, datas: Any = None, mkt: bool = False, lever: bool = False) -> float:
        """Portfolio value as of the last bar (alias: ``getvalue``); with ``datas``, the value
        of those datas' positions (one data: its raw value, negative for a short)."""
        if datas is None:
            if mkt:
                return self._valuemkt if not lever else self._valuemktlever
            return self._value if not lever else self._valuelever
        idxs = [self._data_index(d) for d in datas]
        for d in datas:
            self.positions.mirror(d)
        events = self._take_events()
        if events:
            self._core.apply(events)
        value, state = self._core.value_of(idxs, [d.close[0] for d in datas], bool(lever))
        self._set_state(state)
        return value  # type: ignore[no-any-return]

    getvalue = get_value

    def get_value_lever(self, datas: Any = None, mkt: bool = False) -> float:
        return self.get_value(datas=datas, mkt=mkt)

    def get_leverage(self) -> float:
        return self._leverage

    def getposition(self, data: Any) -> Position:
        """The ``bt.Position`` of ``data`` (size and average price)."""
        return self.positions[data]

    def get_fundshares(self) -> float:
        """Fund-like mode: number of shares."""
        return self._fundshares

    fundshares = property(get_fundshares)

    def get_fundvalue(self) -> float:
        """Fund-like mode: value of one share."""
        return self._fundval

    fundvalue = property(get_fundvalue)

    def set_fundmode(self, fundmode: bool, fundstartval: float | None = None) -> None:
        """Make analyzers use the fund value instead of the total value."""
        self.p.fundmode = fundmode
        if fundstartval is not None:
            self.set_fundstartval(fundstartval)

    def get_fundmode(self) -> bool:
        return bool(self.p.fundmode)

    fundmode = property(get_fundmode, set_fundmode)

    def set_fundstartval(self, fundstartval: float) -> None:
        self.p.fundstartval = fundstartval

    # -- BackBroker's setters -------------------------------------------------------------------
    def set_int2pnl(self, int2pnl: bool) -> None:
        self.p.int2pnl = int2pnl

    def set_coc(self, coc: bool) -> None:
        if coc:
            raise _not_implemented("cheat-on-close (coc/set_coc)")
        self.p.coc = coc

    def set_coo(self, coo: bool) -> None:
        if coo:
            raise _not_implemented("cheat-on-open (coo/set_coo)")
        self.p.coo = coo

    def set_shortcash(self, shortcash: bool) -> None:
        self.p.shortcash = shortcash

    def set_slippage_perc(
        self,
        perc: float,
        slip_open: bool = True,
        slip_limit: bool = True,
        slip_match: bool = True,
        slip_out: bool = False,
    ) -> None:
        if perc:
            raise _not_implemented("slippage (set_slippage_perc)")
        self.p.slip_perc = perc
        self.p.slip_fixed = 0.0
        self.p.slip_open, self.p.slip_limit = slip_open, slip_limit
        self.p.slip_match, self.p.slip_out = slip_match, slip_out

    def set_slippage_fixed(
        self,
        fixed: float,
        slip_open: bool = True,
        slip_limit: bool = True,
        slip_match: bool = True,
        slip_out: bool = False,
    ) -> None:
        if fixed:
            raise _not_implemented("slippage (set_slippage_fixed)")
        self.p.slip_perc = 0.0
        self.p.slip_fixed = fixed
        self.p.slip_open, self.p.slip_limit = slip_open, slip_limit
        self.p.slip_match, self.p.slip_out = slip_match, slip_out

    def set_filler(self, filler: Any) -> None:
        if filler is not None:
            raise _not_implemented("the volume filler (filler/set_filler)")
        self.p.filler = filler

    def set_checksubmit(self, checksubmit: bool) -> None:
        self.p.checksubmit = checksubmit

    def set_eosbar(self, eosbar: bool) -> None:
        """Accepted for compatibility: like in ``BackBroker`` it changes nothing."""
        self.p.eosbar = eosbar

    seteosbar = set_eosbar

    def add_order_history(self, orders: Any, notify: bool = True) -> None:
        raise _not_implemented("add_order_history")

    def set_fund_history(self, fund: Any) -> None:
        raise _not_implemented("set_fund_history")
