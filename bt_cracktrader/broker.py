"""``CrackBroker``: a drop-in replacement for Backtrader's ``BackBroker``.

The broker keeps Backtrader's own objects at the boundary (``bt.Order`` clones in
``notify_order``, ``bt.Position`` in ``getposition``), and hands every decision and every number
(acceptance, fills, commission, cash, positions, value) to a core that speaks the contract in
``bt_cracktrader.core.contract``. Orders placed during a bar are batched and reach the core with
the next bar in a single call; nothing crosses when nothing is pending.
"""

from __future__ import annotations

import collections
import datetime
import keyword
import logging
import os
from collections.abc import Iterable
from typing import IO, Any, Callable

import backtrader as bt
from backtrader.comminfo import CommInfoBase
from backtrader.fillers import BarPointPerc, FixedBarPerc, FixedSize
from backtrader.linebuffer import LineBuffer
from backtrader.lineseries import Lines, LineSeries
from backtrader.order import BuyOrder, Order, OrderData, OrderExecutionBit, SellOrder
from backtrader.position import Position
from backtrader.utils import AutoOrderedDict

from .core import load_core
from .core.contract import (
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
    Event,
)
from .core.replay import RecordingCore

__all__ = ["REPLAY_ENV_VAR", "CrackBroker"]

#: Environment variable naming a replay log to write (as the ``replay_log`` param).
REPLAY_ENV_VAR = "BT_CRACKTRADER_REPLAY_LOG"

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


_ORDER_EVENTS = (EV_SUBMIT, EV_CANCEL, EV_HISTORY)

_CREDIT_OVERRIDES = sum(
    1 << COMM_METHODS.index(m) for m in ("get_credit_interest", "_get_credit_interest")
)

# BackBroker's defaults as an EV_CONFIG event: the core starts with them
_DEFAULT_CONFIG = (EV_CONFIG, True, True, False, False, 0.0, 0.0, False, True, True, False,
                   FILLER_NONE, 0, 0, 0, True)  # fmt: skip


# -- lean bt.Order construction and cloning ---------------------------------------------------
# Profiling order-heavy runs shows most of the broker's time in Backtrader's generic machinery
# around orders, not in matching: MetaParams.__call__ (package imports, one setattr per
# param), Order.__init__'s attribute reads through OrderBase.__getattr__ (forwarded to params),
# and copy.copy (the reduce protocol) for every notification clone. The helpers below build
# the very same objects (same class, same attribute values, same __dict__ key order) directly.

_new_object = object.__new__
_deque = collections.deque
_TIMEDELTA = datetime.timedelta
_CREATED, _SUBMITTED, _ACCEPTED = Order.Created, Order.Submitted, Order.Accepted
_PARTIAL, _COMPLETED, _CANCELED = Order.Partial, Order.Completed, Order.Canceled
_EXPIRED, _MARGIN, _REJECTED = Order.Expired, Order.Margin, Order.Rejected
_UNSET = object()
_MARKET, _BUY, _DAY = Order.Market, Order.Buy, Order.DAY
_ONE_DAY = datetime.timedelta(days=1)
_END_OF_DAY = datetime.time(23, 59, 59, 9999)
# exectypes whose Order.__init__ needs no trailing adjustment (None means Market)
_LEAN_EXECTYPES = frozenset((None, Order.Market, Order.Close, Order.Limit, Order.Stop,
                             Order.StopLimit))  # fmt: skip
_ORDER_PARAMS = ("owner", "data", "size", "price", "pricelimit", "exectype", "valid", "tradeid",
                 "oco", "trailamount", "trailpercent", "parent", "transmit", "simulated",
                 "histnotify")  # fmt: skip


def _param_defaults(cls: Any) -> dict[str, Any] | None:
    """The params defaults of an order class, or None when its params are not the ones the lean
    path knows (another Backtrader version): then orders are built by Backtrader itself."""
    pcls = cls.params
    if pcls._getrecurse() or tuple(pcls._getkeys()) != _ORDER_PARAMS:
        return None
    if cls.packages or cls.frompackages:
        return None
    return dict(pcls._getitems())


_LEAN_DEFAULTS = {cls: _param_defaults(cls) for cls in (BuyOrder, SellOrder)}
_LEAN_CLONE = frozenset((BuyOrder, SellOrder))

# Every attribute an order, its params or an OrderData may get (Backtrader's and the lean
# path's). CPython keeps the attributes of an instance in the instance itself as long as their
# names are in its class's shared keys; the class admits new names only while it has few
# instances. A name that first appears later (``valid`` on the first SellOrder clone that has
# one, after thousands of clones without) gives every instance holding it a dict of its own:
# one more GC-tracked object per order clone. One throwaway instance per class, holding every
# name, registers them all up front; no instance's attributes or their order change.
_ORDER_KEYS = ("params", "p", "ref", "broker", "info", "comminfo", "triggered", "_active",
               "status", "_plimit", "exectype", "size", "created", "_limitoffset", "executed",
               "position", "valid", "dteos", "plen", "pannotated")  # fmt: skip
_ORDERDATA_KEYS = ("pclose", "exbits", "p1", "p2", "dt", "size", "remsize", "price",
                   "pricelimit", "trailamount", "trailpercent", "_plimit", "value", "comm",
                   "margin", "pnl", "psize", "pprice")  # fmt: skip


def _share_keys() -> None:
    for cls, keys in ((BuyOrder, _ORDER_KEYS), (SellOrder, _ORDER_KEYS),
                      (BuyOrder.params, _ORDER_PARAMS), (SellOrder.params, _ORDER_PARAMS),
                      (OrderData, _ORDERDATA_KEYS)):  # fmt: skip
        obj = _new_object(cls)
        for key in keys:
            setattr(obj, key, None)


_share_keys()


def _clone(order: Order) -> Order:
    """``order.clone()`` (a shallow copy of the order and of ``order.executed``, after marking
    the pending execution bits), without the copy module's reduce protocol: for these classes
    ``copy.copy`` amounts to a new instance with a copy of the original's ``__dict__``."""
    cls = type(order)
    executed = order.executed
    if cls not in _LEAN_CLONE or type(executed) is not OrderData:
        return order.clone()
    executed.p1, executed.p2 = executed.p2, len(executed.exbits)  # OrderData.markpending()
    obj = _new_object(cls)
    obj.__dict__ = order.__dict__.copy()
    exclone = _new_object(OrderData)
    exclone.__dict__ = executed.__dict__.copy()
    obj.executed = exclone
    return obj


# -- clones without a dict per clone ------------------------------------------------------
# A notification clone is a new instance with the attributes of the original's ``__dict__``.
# Assigning a copy of that dict makes a second GC-tracked object per instance (two per clone,
# with the executed OrderData): the strategy keeps every clone, and the cyclic GC walks them
# all. Setting the same attributes one by one, in the same order, keeps them in the instance
# itself: one function per attribute layout does it with plain attribute stores.

Copier = Callable[[Any, dict[str, Any], Any], None]
#: per order class, and for OrderData: the copier of each attribute layout (key order)
_ORDER_COPIERS: dict[Any, dict[tuple[str, ...], Copier]] = {cls: {} for cls in _LEAN_CLONE}
_EXEC_COPIERS: dict[tuple[str, ...], Copier] = {}
_MAX_LAYOUTS = 256


def _dict_copier(obj: Any, d: dict[str, Any], executed: Any) -> None:
    """The fallback: ``obj.__dict__`` is a copy of ``d`` (with ``executed`` replaced)."""
    d = d.copy()
    if executed is not None:
        d["executed"] = executed
    obj.__dict__ = d


def _copier(cls: Any, d: dict[str, Any]) -> Copier:
    """The copier of ``d``'s layout for instances of ``cls``: ``copy(obj, d, executed)`` sets
    each key of ``d`` as an attribute of ``obj``, in ``d``'s order (``executed`` for the key
    ``executed`` when given). The dict fallback for a layout a plain attribute store would not
    reproduce (a key that is no identifier, or that a data descriptor of the class handles)."""
    keys = tuple(d)
    table = _EXEC_COPIERS if cls is OrderData else _ORDER_COPIERS[cls]
    if len(table) >= _MAX_LAYOUTS:  # (a strategy adding attributes of its own, at random)
        return _dict_copier
    ok = True
    lines = []
    for key in keys:
        if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key):
            ok = False
            break
        attr = getattr(cls, key, None)
        if attr is not None and (hasattr(attr, "__set__") or hasattr(attr, "__delete__")):
            ok = False
            break
        lines.append(f"o.{key},")
    if not ok:
        table[keys] = _dict_copier
        return _dict_copier
    # one unpacking of the values into the attributes, in order (then executed replaced: the
    # key keeps its place)
    body = f"    {' '.join(lines)} = d.values()\n" if lines else "    pass\n"
    if "executed" in keys and cls is not OrderData:
        body += "    o.executed = x\n"
    namespace: dict[str, Any] = {}
    exec("def copy(o, d, x):\n" + body, namespace)  # noqa: S102
    copier: Copier = namespace["copy"]
    table[keys] = copier
    return copier


def _plain_line(line: Any) -> bool:
    """A plain ``LineBuffer`` (the class's own item, index and length access): ``line[ago]`` is
    ``line.array[line._idx + ago]`` and ``len(line)`` is ``line.lencount``."""
    cls = type(line)
    return (
        isinstance(line, LineBuffer)
        and cls.__getitem__ is LineBuffer.__getitem__
        and cls.idx is LineBuffer.idx
        and cls.get_idx is LineBuffer.get_idx
        and cls.__len__ is LineBuffer.__len__
    )


class _DataCache:
    """Per data, what ``Order.__init__`` reads and derives: the close and datetime line
    buffers to read ``[0]`` from directly (None when they are not plain ``LineBuffer``s, then
    ``data.close[0]`` is read as usual) and, computed once per data and bar instead of once per
    order, the current datetime (``datetime()``) and the session end ``dteos``."""

    __slots__ = ("close", "dt", "length", "dtnum", "dtime", "dteos", "valids")

    def __init__(self, data: Any) -> None:
        close, dt = getattr(data, "close", None), getattr(data, "datetime", None)
        plain = _plain_line(close) and _plain_line(dt)
        self.close: Any = close if plain else None
        self.dt: Any = dt if plain else None
        # ``len(data)`` is ``len(data.lines.lines[0])`` for a LineSeries: that buffer's lencount
        self.length: Any = None
        lines: Any = getattr(data, "lines", None)
        if (
            getattr(type(data), "__len__", None) is LineSeries.__len__
            and getattr(type(lines), "__len__", None) is Lines.__len__
            and _plain_line(lines.lines[0])
        ):
            self.length = lines.lines[0]
        self.dtnum: Any = None
        self.dtime: Any = None
        self.dteos: Any = None
        # timedelta valids of this bar, as date numbers
        self.valids: dict[datetime.timedelta, Any] = {}

    def refresh(self, data: Any, dtnum: Any) -> None:
        self.dtnum = dtnum
        self.valids = {}
        # Order.__init__'s own computation
        dtime = self.dtime = data.datetime.datetime(0)
        session = data.p.sessionend
        dteos = dtime.replace(hour=session.hour, minute=session.minute, second=session.second,
                              microsecond=session.microsecond)  # fmt: skip
        if dteos < dtime:
            dteos += _ONE_DAY
        self.dteos = data.date2num(dteos)


def _valid_datetime(cache: _DataCache, valid: datetime.timedelta) -> datetime.datetime:
    """What ``Order.__init__`` makes of a timedelta ``valid`` (the end of the day for DAY)."""
    if valid == _DAY:
        return datetime.datetime.combine(cache.dtime.date(), _END_OF_DAY)
    return cache.dtime + valid  # type: ignore[no-any-return]


def _lean_order(
    cls: Any,
    defaults: dict[str, Any],
    times: dict[Any, _DataCache],
    owner: Any,
    data: Any,
    size: Any,
    price: Any,
    plimit: Any,
    exectype: Any,
    valid: Any,
    tradeid: int,
    trailamount: Any,
    trailpercent: Any,
    parent: Any,
    transmit: bool,
    histnotify: bool,
) -> Order:
    """``cls(owner=owner, data=data, ...)`` for a non-trailing, non-simulated order (see
    ``_lean_submit``, which also builds the order's ``EV_SUBMIT`` event)."""
    return _lean_submit(cls, defaults, times, owner, data, size, price, plimit, exectype, valid,
                        tradeid, trailamount, trailpercent, parent, transmit, histnotify, 0,
                        None, False, False)[0]  # fmt: skip


def _lean_submit(
    cls: Any,
    defaults: dict[str, Any],
    times: dict[Any, _DataCache],
    owner: Any,
    data: Any,
    size: Any,
    price: Any,
    plimit: Any,
    exectype: Any,
    valid: Any,
    tradeid: int,
    trailamount: Any,
    trailpercent: Any,
    parent: Any,
    transmit: bool,
    histnotify: bool,
    dataidx: int,
    oco: Any,
    check: bool,
    notified: bool,
) -> tuple[Order, Event]:
    """``cls(owner=owner, data=data, ...)`` for a non-trailing, non-simulated order: the same
    steps as ``MetaParams.donew`` and ``OrderBase.__init__``, in the same order, reading the
    param values from locals instead of through ``OrderBase.__getattr__``; and the order's
    ``EV_SUBMIT`` event (what ``CrackBroker._submit_event`` reads back from it, for an order
    whose ``info`` is empty: ``coc`` is True)."""
    # AutoInfoClass.__new__ for a non-recursive params class (_param_defaults checked it), and
    # one attribute per param in the params' order, as MetaParams.donew sets them
    # (attribute stores, not a dict assigned to __dict__: the values stay in the instance, one
    # GC-tracked object fewer per order)
    params = _new_object(cls.params)
    params.owner = owner
    params.data = data
    params.size = size
    params.price = price
    params.pricelimit = plimit
    params.exectype = exectype
    params.valid = valid
    params.tradeid = tradeid
    params.oco = defaults["oco"]
    params.trailamount = trailamount
    params.trailpercent = trailpercent
    params.parent = parent
    params.transmit = transmit
    params.simulated = defaults["simulated"]
    params.histnotify = histnotify
    cache = times.get(data)
    if cache is None:
        cache = times[data] = _DataCache(data)
    line = cache.close
    if line is None:
        pclose = data.close[0]
        dtnum = data.datetime[0]
    else:
        pclose = line.array[line._idx]
        line = cache.dt
        dtnum = line.array[line._idx]
    if cache.dtnum != dtnum:
        cache.refresh(data, dtnum)
    # the order's attributes as stores, not as a dict assigned to __dict__: CPython keeps them
    # in the instance and, once something reads ``__dict__`` (the first notification does), makes
    # a small dict over the class's shared keys instead of a table of its own
    order = _new_object(cls)
    order.params = params
    order.p = params
    order.ref = ref = next(cls.refbasis)
    order.broker = None
    order.info = AutoOrderedDict()
    order.comminfo = None
    order.triggered = False
    order._active = parent is None
    order.status = _CREATED
    order._plimit = plimit  # the plimit property
    if exectype is None:
        order.exectype = exectype = _MARKET
    isbuy = cls.ordtype == _BUY
    if not isbuy:
        order.size = size = -size
    cprice = pclose if not price and not plimit else price
    # OrderData(dtnum, size, cprice, plimit, 0, pclose, trailamount, trailpercent): its
    # __init__'s stores, in its order (``plimit`` is the property storing ``_plimit``)
    created = _new_object(OrderData)
    created.pclose = pclose
    created.exbits = _deque()
    created.p1 = 0
    created.p2 = 0
    created.dt = dtnum
    created.size = size
    created.remsize = 0
    created.price = cprice
    created.pricelimit = plimit
    created.trailamount = trailamount
    created.trailpercent = trailpercent
    if not plimit:
        created.pricelimit = cprice
    if plimit and not cprice:
        created.price = plimit
    created._plimit = plimit
    created.value = 0.0
    created.comm = 0.0
    created.margin = None
    created.pnl = 0.0
    created.psize = 0
    created.pprice = 0
    order.created = created
    order._limitoffset = 0.0
    # OrderData(remsize=size): the attributes __init__ sets, from a template
    exd = _EXECUTED_TEMPLATE.copy()
    exd["exbits"] = _deque()
    exd["remsize"] = size
    executed = _new_object(OrderData)
    executed.__dict__ = exd
    order.executed = executed
    order.position = 0
    if valid is None:
        pass
    elif type(valid) is _TIMEDELTA:
        num = cache.valids.get(valid)
        if num is None:
            num = cache.valids[valid] = data.date2num(_valid_datetime(cache, valid))
        order.valid = valid = num
    elif isinstance(valid, datetime.date):
        order.valid = valid = data.date2num(valid)
    elif isinstance(valid, datetime.timedelta):
        order.valid = valid = data.date2num(_valid_datetime(cache, valid))
    # (any other valid stays as given: Order.__init__ computes but does not store a value)
    order.dteos = dteos = cache.dteos
    event = (
        EV_SUBMIT, ref, dataidx, isbuy, size, exectype, created.price, created.pricelimit, pclose,
        dtnum, float(valid) if valid else 0.0, dteos, float(trailamount or 0.0),
        float(trailpercent or 0.0), 0.0, -1 if parent is None else parent.ref,
        -1 if oco is None else oco.ref, bool(transmit), check, True, notified,
    )  # fmt: skip
    return order, event


#: the attributes ``OrderData(remsize=...)`` sets, in its order (exbits and remsize replaced)
_EXECUTED_TEMPLATE = dict(vars(OrderData()))
_EXEC_LAYOUT = tuple(_EXECUTED_TEMPLATE)
_exec_copier = _copier(OrderData, _EXECUTED_TEMPLATE)


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
      - ``filler`` (default: ``None``): a volume filler, ``filler(order, price, ago) -> size``.
        Backtrader's ``FixedSize``, ``FixedBarPerc`` and ``BarPointPerc`` run inside the core;
        any other callable is called back from the core's fill step.
      - ``slip_perc``, ``slip_fixed`` (default: ``0.0``): percentage or fixed slippage (the
        percentage wins); ``slip_open`` (default: ``False``): slip prices that come from the
        open; ``slip_match`` (default: ``True``): a slipped price beyond the bar is capped at the
        high/low (else no fill this bar); ``slip_limit`` (default: ``True``): limit orders are
        capped even without ``slip_match``; ``slip_out`` (default: ``False``): fill at the
        slipped price even outside the bar.
      - ``coc`` (default: ``False``): cheat-on-close, a Market order fills at the close of the
        bar it was created on (``buy(..., coc=False)`` opts out per order).
      - ``coo`` (default: ``False``): cheat-on-open, a Market order placed in ``next_open``
        fills at that bar's open (set by ``Cerebro(cheat_on_open=True)``).
      - ``int2pnl`` (default: ``True``): assign credit interest to the closing trade.
      - ``shortcash`` (default: ``True``): a stock-like short adds cash and has negative value.
      - ``fundstartval`` (default: ``100.0``), ``fundmode`` (default: ``False``): fund-like
        performance tracking, as in ``BackBroker``.
      - ``replay_log`` (default: ``None``, or the environment variable
        ``BT_CRACKTRADER_REPLAY_LOG``): a path where every call to the core and its answer are
        written as JSON lines, for ``python -m bt_cracktrader replay``.

    Orders: every ``exectype`` (``Market``, ``Close``, ``Limit``, ``Stop``, ``StopLimit``,
    ``StopTrail``, ``StopTrailLimit`` with ``trailamount``/``trailpercent``), ``valid``
    (``None``, ``Order.DAY``, a date or datetime, a ``timedelta``, a date number), ``oco``
    groups, brackets (``buy_bracket``/``sell_bracket`` or ``parent=``/``transmit=False``) and
    ``cancel``, with ``notify_order`` in BackBroker's order and timing.

    Orders placed during a bar reach the core with the next bar in one call. Orders that are
    part of a bracket (``parent=``, ``transmit=False``) and the cancellation of orders in an
    OCO or bracket group are decided by the core at once, as BackBroker decides them.

    Not implemented yet (``NotImplementedError`` naming it, never a silent difference): credit
    interest, commission classes overriding ``CommInfoBase`` methods, ``add_cash``, order and
    fund history.
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
        ("replay_log", None),
    )

    def __init__(self) -> None:
        self._core_cls, self.backend = load_core(self.p.backend)
        # like BackBroker, order and fund history survive start()
        self._userhist: list[list[Any]] = []
        self._fundhist: list[Any] = []
        self._fhistlast: list[Any] = [float("NaN"), float("NaN")]
        super().__init__()

    # -- life cycle ----------------------------------------------------------------------------
    def init(self) -> None:
        super().init()
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
        self._orders: dict[int, Order] = {}  # every order of the run, by ref
        self._submitted: dict[int, Order] = {}  # waiting for the submit check
        self._pending: dict[int, Order] = {}  # accepted, in BackBroker's pending order
        self._linked: set[int] = set()  # refs in an OCO group or a bracket
        self._oco_leader: dict[int, int] = {}
        self._cancelling: Order | None = None
        self._bartimes: dict[Any, _DataCache] = {}
        self._readers: list[tuple[Any, ...] | None] = []
        self._dtlast: tuple[Any, Any, Any] = (None, None, None)

        self._events: list[Event] = []
        # the refs of the bracket heads whose EV_SUBMIT is in ``_events`` (see ``_order``)
        self._held: set[int] = set()
        self._core = self._make_core(
            self.p.cash, bool(self.p.checksubmit), bool(self.p.shortcash), self.p.fundstartval
        )
        self._sent_config = self._config()
        if self._sent_config != _DEFAULT_CONFIG:
            self._events.append(self._sent_config)
        self._datas: dict[Any, int] = {}
        self._overrides: dict[int, int] = {}
        self._interest: dict[int, bool] = {}
        self._comm_hook: Callable[..., Any] | None = None
        self._datalist: list[Any] = []
        self._new_datas: list[int] = []
        self._comm_dirty = False
        self._idle = False  # the first bar always computes value and fund value

    def _make_core(
        self, cash: float, checksubmit: bool, shortcash: bool, fundstartval: float
    ) -> Any:
        # also a hook for tests counting crossings
        core = self._core_cls(cash, checksubmit, shortcash, fundstartval)
        path = self.p.replay_log or os.environ.get(REPLAY_ENV_VAR)
        if not path:
            return core
        self._close_log()
        log = self._log_file = open(path, "w")  # noqa: SIM115 - closed in stop()
        return RecordingCore(core, cash, checksubmit, shortcash, fundstartval, sink=log, keep=False)

    _log_file: IO[str] | None = None

    def _close_log(self) -> None:
        log = self._log_file
        if log is not None:
            log.close()
        self._log_file = None

    def start(self) -> None:
        self.init()

    def stop(self) -> None:
        self._close_log()

    def _config(self) -> Event:
        """The ``EV_CONFIG`` event for the current params."""
        p = self.p
        filler = p.filler
        kind, size, perc, minmov = FILLER_NONE, 0, 0, 0
        if filler is None:
            pass
        elif type(filler) is FixedSize:
            kind, size = FILLER_FIXEDSIZE, filler.p.size or 0
        elif type(filler) is FixedBarPerc:
            kind, perc = FILLER_FIXEDBARPERC, filler.p.perc
        elif type(filler) is BarPointPerc:
            kind, perc, minmov = FILLER_BARPOINTPERC, filler.p.perc, filler.p.minmov or 0
        elif callable(filler):
            kind = FILLER_CALLBACK
        else:
            raise TypeError(f"filler must be callable, got {filler!r}")
        return (
            EV_CONFIG,
            bool(p.checksubmit),
            bool(p.shortcash),
            bool(p.coc),
            bool(p.coo),
            p.slip_perc,
            p.slip_fixed,
            bool(p.slip_open),
            bool(p.slip_match),
            bool(p.slip_limit),
            bool(p.slip_out),
            kind,
            size,
            perc,
            minmov,
            bool(p.int2pnl),
        )

    def _filler_callback(self, ref: int, price: float, ago: int) -> Any:
        return self.p.filler(self._orders[ref], price, ago)

    # -- datas and commission schemes ---------------------------------------------------------
    def _comm_spec(self, data: Any) -> Event:
        comminfo = self.getcommissioninfo(data)
        cls = type(comminfo)
        overrides = 0
        for bit, name in enumerate(COMM_METHODS):
            if getattr(cls, name) is not getattr(CommInfoBase, name):
                overrides |= 1 << bit
        compensate = data._compensate
        self._overrides[self._datas[data]] = overrides
        self._interest[self._datas[data]] = bool(
            comminfo._creditrate or overrides & _CREDIT_OVERRIDES
        )
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
            float(comminfo._creditrate),
            bool(comminfo.p.interest_long),
            overrides,
            -1 if compensate is None else self._data_index(compensate),
        )

    def _comm_callback(self, idx: int, method: str, *args: Any) -> Any:
        """Call a user's overridden CommInfo method for the core, with Backtrader's arguments."""
        data = self._datalist[idx]
        comminfo = self.getcommissioninfo(data)
        if method == "getvalue":
            size, pprice, price = args
            return comminfo.getvalue(Position(size, pprice), price)
        if method == "get_credit_interest":
            size, price, posdt, dt = args
            pos = Position(size, price)
            pos.datetime = data.num2date(posdt)
            return comminfo.get_credit_interest(data, pos, data.num2date(dt))
        if method == "_get_credit_interest":
            size, price, days, dt0, dt1 = args
            return comminfo._get_credit_interest(
                data, size, price, days, data.num2date(dt0).date(), data.num2date(dt1).date()
            )
        if method == "_getcommission":
            size, price, pseudoexec = args
            return comminfo._getcommission(size, price, pseudoexec=pseudoexec)
        return getattr(comminfo, method)(*args)

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
        check = bool(check and self.p.checksubmit)
        alone = parent is None and transmit
        defaults = _LEAN_DEFAULTS.get(cls)
        event: Event | None = None
        if defaults is not None and exectype in _LEAN_EXECTYPES:
            dataidx = self._datas.get(data)
            if dataidx is None:
                dataidx = self._data_index(data)
            order, event = _lean_submit(cls, defaults, self._bartimes, owner, data, size, price,
                                        plimit, exectype, valid, tradeid, trailamount,
                                        trailpercent, parent, transmit, histnotify, dataidx, oco,
                                        check, alone)  # fmt: skip
        else:
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
        if kwargs:
            order.addinfo(**kwargs)
            event = None  # its coc is the info's
        elif event is not None and alone and oco is None:
            # the common case: a lean order on its own, sent with the next bar
            ref = event[1]
            self._orders[ref] = order
            self._events.append(event)
            if not check:
                self._submit_accept(order)
                return order
            od = order.__dict__
            od["status"] = _SUBMITTED
            od["broker"] = None
            line = self._bartimes[data].length  # (_data_len: _lean_submit made the cache)
            od["plen"] = len(data) if line is None else line.lencount
            self._submitted[ref] = order
            self.orders.append(order)
            self.notify(order)
            return order
        ref = order.ref
        self._orders[ref] = order
        if oco is not None:
            leader = self._oco_leader.get(oco.ref, oco.ref)
            self._oco_leader[ref] = leader
            self._linked.update((ref, oco.ref, leader))
            self._linked.update(r for r, lead in self._oco_leader.items() if lead == leader)
        if parent is not None:
            self._linked.update((ref, parent.ref))
        elif not transmit:
            self._linked.add(ref)
        if event is None:
            event = self._submit_event(EV_SUBMIT, order, parent, oco, transmit, check, alone)
        if not alone:
            # BackBroker decides a bracket member's fate (held, transmitted with its group, or
            # rejected) at once: so does the core, except when that fate is sure to be "held,
            # nothing notified": a group's head (no parent, not transmitted), or a member not
            # transmitted whose head is itself still queued (its group exists: nothing sent
            # since could have removed it). Those wait in the queue, and the member that
            # transmits the group sends them all with it: one crossing per bracket.
            if not transmit and (parent is None or parent.ref in self._held):
                self._events.append(event)
                if parent is None:
                    self._held.add(ref)
                return order
            self._apply_now(event)
            return order
        self._events.append(event)
        if check:
            if type(order) in _LEAN_CLONE:
                od = order.__dict__
                od["status"] = _SUBMITTED
                od["broker"] = None
                od["plen"] = self._data_len(data)
            else:
                order.submit()
            self._submitted[ref] = order
            self.orders.append(order)
            self.notify(order)
        else:
            self._submit_accept(order)
        return order

    def _submit_event(
        self,
        tag: int,
        order: Order,
        parent: Any,
        oco: Any,
        transmit: bool,
        check: bool,
        notified: bool,
    ) -> Event:
        od = order.__dict__
        if type(order) in _LEAN_CLONE:
            # the attributes read without OrderBase.__getattr__: an instance attribute, else
            # the param of the same name (what __getattr__ forwards to)
            params = od["p"]
            data, size, exectype = params.data, od.get("size", params.size), od.get("exectype")
            if exectype is None:
                exectype = params.exectype
            valid = od.get("valid", params.valid)
            trailamount, trailpercent = params.trailamount, params.trailpercent
        else:
            data, size, exectype, valid = order.data, order.size, order.exectype, order.valid
            trailamount, trailpercent = order.trailamount, order.trailpercent
        created = od["created"]
        return (
            tag,
            od["ref"],
            self._data_index(data),
            bool(order.isbuy()),
            size,
            exectype,
            created.price,
            created.pricelimit,
            created.pclose,
            created.dt,
            float(valid) if valid else 0.0,
            od["dteos"],
            float(trailamount or 0.0),
            float(trailpercent or 0.0),
            od["_limitoffset"],
            -1 if parent is None else parent.ref,
            -1 if oco is None else oco.ref,
            bool(transmit),
            check,
            bool(od["info"].get("coc", True)),
            notified,
        )

    def _dtnum(self, data: Any) -> Any:
        """``data.datetime[0]``, read from the data's line buffer when it is a plain one."""
        cache = self._bartimes.get(data)
        if cache is None:
            cache = self._bartimes[data] = _DataCache(data)
        line = cache.dt
        return data.datetime[0] if line is None else line.array[line._idx]

    def _data_len(self, data: Any) -> int:
        """``len(data)``, read from the data's line buffer when it is a plain one."""
        cache = self._bartimes.get(data)
        if cache is None:
            cache = self._bartimes[data] = _DataCache(data)
        line = cache.length
        return len(data) if line is None else line.lencount

    def _submit(self, order: Order) -> None:
        """``order.submit()`` (no broker): status, broker and the data's length, set directly
        for the order classes whose ``submit`` is Backtrader's, the length read directly."""
        if type(order) not in _LEAN_CLONE:
            order.submit()
            return
        od = order.__dict__
        od["status"] = _SUBMITTED
        od["broker"] = None
        od["plen"] = self._data_len(od["p"].data)

    def _submit_accept(self, order: Order) -> None:
        if type(order) not in _LEAN_CLONE:
            order.pannotated = None
            order.submit()
            order.accept()
        else:
            # order.submit() then order.accept(): the same keys set in the same order
            od = order.__dict__
            od["pannotated"] = None
            od["status"] = _ACCEPTED
            od["broker"] = None
            od["plen"] = self._data_len(od["p"].data)
        self._pending[order.ref] = order
        self.notify(order)

    def cancel(self, order: Order, bracket: bool = False) -> bool:
        """Cancel a pending order; ``False`` if it is not pending (as ``BackBroker``: an order
        still waiting for its submit check cannot be cancelled). Cancelling a member of an OCO
        group or a bracket cancels the others, as in BackBroker."""
        ref = order.ref
        if ref not in self._pending:
            return False
        if ref in self._linked:
            # BackBroker cancels and notifies the very object it is given (a strategy may pass
            # a notification clone), while the cascade reaches the live orders
            self._cancelling = order
            try:
                self._apply_now((EV_CANCEL, ref, False))
            finally:
                self._cancelling = None
            return True
        del self._pending[ref]
        self._done(ref)
        if type(order) in _LEAN_CLONE:
            # Order.cancel(), reading the data's datetime directly (the order may be a clone:
            # attribute stores, its dict stays where it is)
            order.status = _CANCELED
            params = order.p
            if not params.simulated:
                order.executed.dt = self._dtnum(params.data)
        else:
            order.cancel()
        self.notify(order)
        self._events.append((EV_CANCEL, ref, True))
        return True

    def get_orders_open(self, safe: bool = False) -> list[Order]:
        """The accepted orders that are not yet completed (clones with ``safe=True``)."""
        if safe:
            return [_clone(o) for o in self._pending.values()]
        return list(self._pending.values())

    def notify(self, order: Order) -> None:
        # _clone, inlined: this runs for every notification
        cls = type(order)
        if cls not in _LEAN_CLONE:
            self.notifs.append(order.clone())
            return
        od = order.__dict__
        executed = od.get("executed")  # (order.executed: an instance attribute of these)
        if type(executed) is not OrderData:
            self.notifs.append(order.clone())
            return
        exd = executed.__dict__
        exd["p1"], exd["p2"] = exd["p2"], len(exd["exbits"])  # OrderData.markpending()
        exclone = _new_object(OrderData)
        layout = tuple(exd)
        if layout == _EXEC_LAYOUT:  # the one of every OrderData(...), nearly always
            _exec_copier(exclone, exd, None)
        else:
            copier = _EXEC_COPIERS.get(layout)
            if copier is None:
                copier = _copier(OrderData, exd)
            copier(exclone, exd, None)
        obj = _new_object(cls)
        copiers = _ORDER_COPIERS[cls]
        copier = copiers.get(tuple(od))
        if copier is None:
            copier = _copier(cls, od)
        copier(obj, od, exclone)
        self.notifs.append(obj)

    def get_notification(self) -> Order | None:
        try:
            return self.notifs.popleft()
        except IndexError:
            return None

    # -- the bar ------------------------------------------------------------------------------
    def _bars(self) -> list[Bar]:
        bars: list[Bar] = []
        append = bars.append
        # the calendar day only matters to credit interest (and converting is not free)
        days = any(self._interest.values())
        readers = self._readers
        for idx, data in enumerate(self._datalist):
            lines = readers[idx] if idx < len(readers) else self._reader(idx, data)
            attrs = data.__dict__
            if "tick_close" in attrs:  # a feed keeps them as instance attributes
                popen, phigh = attrs.get("tick_open"), attrs.get("tick_high")
                plow, pclose = attrs.get("tick_low"), attrs["tick_close"]
            else:
                popen = getattr(data, "tick_open", None)
                phigh = getattr(data, "tick_high", None)
                plow = getattr(data, "tick_low", None)
                pclose = getattr(data, "tick_close", None)
            if lines is None:
                dt, dtp = data.datetime[0], data.datetime[-1]
                high, highp = data.high[0], data.high[-1]
                low, lowp = data.low[0], data.low[-1]
                volume, volumep = data.volume[0], data.volume[-1]
                mark, bopen = data.close[0], data.open[0]
            else:
                # LineBuffer.__getitem__ inlined: ``line[ago]`` is ``line.array[line._idx + ago]``
                dtl, openl, highl, lowl, closel, volumel = lines
                i, a = dtl._idx, dtl.array
                dt, dtp = a[i], a[i - 1]
                i, a = highl._idx, highl.array
                high, highp = a[i], a[i - 1]
                i, a = lowl._idx, lowl.array
                low, lowp = a[i], a[i - 1]
                i, a = volumel._idx, volumel.array
                volume, volumep = a[i], a[i - 1]
                mark = closel.array[closel._idx]
                bopen = openl.array[openl._idx]
            append(
                (
                    idx,
                    dt,
                    bopen if popen is None else popen,
                    high if phigh is None else phigh,
                    low if plow is None else plow,
                    mark if pclose is None else pclose,
                    mark,
                    volume,
                    high,
                    low,
                    dtp,
                    highp,
                    lowp,
                    volumep,
                    data.datetime.datetime(0).toordinal() if days else int(dt),
                )
            )
        return bars

    def _reader(self, idx: int, data: Any) -> tuple[Any, ...] | None:
        """The line buffers ``_bars`` reads ``data`` from, or None when one of them is not a
        plain ``LineBuffer`` (then it reads them through ``line[ago]``)."""
        readers = self._readers
        while len(readers) <= idx:
            readers.append(None)
        lines = (data.datetime, data.open, data.high, data.low, data.close, data.volume)
        plain = all(
            type(line).__getitem__ is LineBuffer.__getitem__
            and type(line).idx is LineBuffer.idx
            and type(line).get_idx is LineBuffer.get_idx
            for line in lines
        )
        readers[idx] = lines if plain else None
        return readers[idx]

    def _datetime_of(self, data: Any) -> datetime.datetime:
        """``data.datetime.datetime()``: datas at the same time and timezone share one
        conversion (the result is an immutable datetime)."""
        cache = self._bartimes.get(data)
        if cache is None:
            cache = self._bartimes[data] = _DataCache(data)
        line = cache.dt
        if line is None:
            line = data.datetime
            dtnum = line[0]
        else:
            dtnum = line.array[line._idx]
        last = self._dtlast
        if last[0] == dtnum and last[1] is line._tz:
            return last[2]  # type: ignore[no-any-return]
        dtime = line.datetime()
        self._dtlast = (dtnum, line._tz, dtime)
        return dtime  # type: ignore[no-any-return]

    def _current_config(self) -> Event:
        """``self._config()``, rebuilt only when a param (or a param of the filler) changed:
        reading every param on every bar is a measurable share of a one-data bar."""
        p = self.p
        pd = p.__dict__
        filler = p.filler
        if filler is None:
            key: tuple[Any, ...] = tuple(pd.values())
        else:
            # Backtrader's fillers keep their params in ``filler.p``; any other callable may
            # have a ``p`` of its own, which _config does not read
            fparams = getattr(getattr(filler, "p", None), "__dict__", None)
            key = (*pd.values(), None if fparams is None else tuple(fparams.values()))
        if key != self._config_key:
            self._config_key = key
            self._config_cache = self._config()
        return self._config_cache

    _config_key: tuple[Any, ...] | None = None
    _config_cache: Event = _DEFAULT_CONFIG

    def _take_events(self, fund: bool = True) -> list[Event]:
        events: list[Event] = []
        config = self._current_config()
        if config != self._sent_config:
            self._sent_config = config
            events.append(config)
        specs = False
        if self._comm_dirty:
            self._comm_dirty = False
            self._new_datas.clear()
            events.extend(self._comm_spec(d) for d in self._datalist)
            specs = True
        elif self._new_datas:
            events.extend(self._comm_spec(self._datalist[i]) for i in self._new_datas)
            self._new_datas.clear()
            specs = True
        if specs:  # the overrides only change with a commission spec
            self._comm_hook = self._comm_callback if any(self._overrides.values()) else None
        events.extend(self._events)
        self._events = []
        self._held.clear()
        if fund and self._fundhist:
            events.append((EV_FUND, *self._process_fund_history()))
        return events

    def next(self) -> None:
        if self._userhist:
            self._process_order_history()
        if (
            self._idle
            and not self._events
            and not self._comm_dirty
            and not self._fundhist
            and self._current_config() == self._sent_config
        ):
            return
        events = self._take_events()
        filler = self._filler_callback if self._sent_config[11] == FILLER_CALLBACK else None
        records, state = self._core.step(events, self._bars(), filler, self._comm_hook)
        if records:  # most bars of a run in the market change nothing but the value
            self._apply_records(records)
        self._set_state(state)
        # BackBroker stamps every open position with the bar's time when it charges interest
        for data, position in self.positions.items():
            if position.size:
                position.datetime = self._datetime_of(data)

    def _done(self, ref: int) -> None:
        # the order stays in ``_orders``: a bracket child cancelled after its parent filled is
        # still activated one bar later, as BackBroker does
        self._linked.discard(ref)
        self._oco_leader.pop(ref, None)

    def _apply_now(self, event: Event) -> None:
        """Send the queued events and ``event`` to the core at once and apply its answer."""
        if (
            self._events
            or self._comm_dirty
            or self._new_datas
            or self._current_config() != self._sent_config
        ):
            state = self._send_state()
            events = [*self._take_events(fund=False), event]
        else:  # nothing queued (what _take_events would find)
            state = None
            events = [event]
        try:
            records = self._core.apply(events)
        except Exception:
            # the core refused the call and is untouched: what was taken for it must go with
            # the next crossing (a strategy that catches the error goes on trading)
            if state is not None:
                self._restore_sends(state, event)
            raise
        self._apply_records(records)
        self._idle = False

    def _send_state(self) -> tuple[Any, ...]:
        """What ``_take_events(fund=False)`` changes (its lists are replaced, not emptied)."""
        return (self._sent_config, self._comm_dirty, list(self._new_datas), self._comm_hook,
                self._events, set(self._held))  # fmt: skip

    def _restore_sends(self, state: tuple[Any, ...], event: Event) -> None:
        """Put back ``state`` after the core refused ``event`` with the queued events: the
        config and data specs are sent again, and so are the queued orders, but for the held
        group that ``event`` transmitted (its head and members): that group was refused."""
        (self._sent_config, self._comm_dirty, self._new_datas, self._comm_hook, queued,
         held) = state  # fmt: skip
        head = event[15] if event[0] == EV_SUBMIT else -1
        if head in held:
            group = {head}
            group.update(e[1] for e in queued if e[0] == EV_SUBMIT and e[15] == head)
            queued = [e for e in queued if not (e[0] == EV_SUBMIT and e[1] in group)]
            held.discard(head)
        self._events = queued
        self._held = held

    def _apply_records(self, records: Iterable[tuple[Any, ...]]) -> None:
        # the two records of nearly every order (accepted, executed) are handled here, the
        # others by _apply
        apply, executed, notify = self._apply, self._executed, self.notify
        orders, submitted, pending = self._orders, self._submitted, self._pending
        lean, bartimes = _LEAN_CLONE, self._bartimes
        for rec in records:
            tag = rec[0]
            if tag == REC_ACCEPTED:
                ref = rec[1]
                order = orders[ref]
                submitted.pop(ref, None)
                if type(order) not in lean:
                    self._submit_accept(order)
                    continue
                # _submit_accept's order.submit() then order.accept()
                od = order.__dict__
                od["pannotated"] = None
                od["status"] = _ACCEPTED
                od["broker"] = None
                data = od["p"].data
                cache = bartimes.get(data)  # (_data_len, inlined)
                line = None if cache is None else cache.length
                od["plen"] = self._data_len(data) if line is None else line.lencount
                pending[ref] = order
                notify(order)
            elif tag == REC_EXECUTED:
                executed(rec)
            else:
                apply(rec)

    def _apply(self, rec: tuple[Any, ...]) -> None:
        tag, ref = rec[0], rec[1]
        if tag == REC_ACCEPTED:
            order = self._orders[ref]
            self._submitted.pop(ref, None)
            self._submit_accept(order)
        elif tag == REC_EXECUTED:
            self._executed(rec)
        elif tag == REC_POSITION:
            self.positions.mirror(self._datalist[ref])
        elif tag == REC_SUBMITTED:
            order = self._orders[ref]
            self._submit(order)
            self._submitted[ref] = order
            self.orders.append(order)
            self.notify(order)
        elif tag == REC_TRAIL:
            created = self._orders[ref].created
            created.price, created.pricelimit = rec[2], rec[3]
        elif tag == REC_TRIGGERED:
            self._orders[ref].triggered = True
        elif tag == REC_ACTIVATED:
            self._orders[ref].activate()
        else:
            order = self._orders[ref]
            if tag == REC_CANCELED and self._cancelling is not None:
                if self._cancelling.ref == ref:
                    order, self._cancelling = self._cancelling, None
            self._submitted.pop(ref, None)
            self._pending.pop(ref, None)
            self._done(ref)
            if type(order) in _LEAN_CLONE and self._verdict(order, tag):
                pass
            elif tag == REC_MARGIN:
                order.margin()
            elif tag == REC_CANCELED:
                order.cancel()
            elif tag == REC_EXPIRED:
                order.expire()
            elif tag == REC_REJECTED:
                order.reject()
            else:  # pragma: no cover - a core that breaks the contract
                raise RuntimeError(f"unknown core record {rec!r}")
            self.notify(order)

    def _verdict(self, order: Order, tag: int) -> bool:
        """``order.margin()``, ``cancel()``, ``reject()`` or ``expire()`` for a lean order
        class (Backtrader's own methods, with attribute stores: the order may be a clone),
        reading the attributes without ``OrderBase.__getattr__`` and the data's datetime
        directly; False for another record (the caller's own error)."""
        params = order.p
        if tag == REC_CANCELED:
            order.status = _CANCELED
        elif tag == REC_EXPIRED:
            # Order.expire(): the core decided; the order's own test decides what changes
            od = order.__dict__
            exectype = od.get("exectype", _UNSET)
            if exectype is _UNSET:
                exectype = params.exectype
            if exectype == _MARKET:
                return True
            valid = od.get("valid", _UNSET)
            if valid is _UNSET:
                valid = params.valid
            if not valid:
                return True
            dtnum = self._dtnum(params.data)
            if dtnum > valid:
                order.status = _EXPIRED
                order.executed.dt = dtnum
            return True
        elif tag == REC_MARGIN:
            order.status = _MARGIN
        elif tag == REC_REJECTED:
            if order.status == _REJECTED:
                return True
            order.status = _REJECTED
            order.broker = None
        else:
            return False
        if not params.simulated:
            order.executed.dt = self._dtnum(params.data)
        return True

    def _executed(self, rec: tuple[Any, ...]) -> None:
        (_, ref, dt, size, price, closed, closedvalue, closedcomm, opened, openedvalue,
         openedcomm, pnl, psize, pprice, possize, posprice) = rec  # fmt: skip
        order = self._orders[ref]
        lean = type(order) in _LEAN_CLONE
        odata = order.__dict__["p"].data if lean else order.data
        data = odata._compensate or odata
        position = self.positions.get(data)
        if position is None:
            position = self.positions.mirror(data)
        position.price_orig = position.price
        position.size = possize
        position.price = posprice
        position.upopened = opened
        position.upclosed = closed
        position.datetime = self._datetime_of(data)
        comminfo = self.getcommissioninfo(odata)
        executed = order.__dict__.get("executed")
        if not lean or type(executed) is not OrderData:
            order.execute(dt, size, price, closed, closedvalue, closedcomm, opened,
                          openedvalue, openedcomm, comminfo.margin, pnl, psize, pprice)  # fmt: skip
            order.addcomminfo(comminfo)
            self.notify(order)
            if not order.alive():
                self._pending.pop(ref, None)
                self._done(ref)
            return
        # Order.execute: OrderData.add (an OrderExecutionBit, then addbit's arithmetic, in the
        # same order) and the margin, for a non-zero size; then the status
        ed = executed.__dict__
        if size:
            bit = OrderExecutionBit(dt, size, price, closed, closedvalue, closedcomm, opened,
                                    openedvalue, openedcomm, pnl, psize, pprice)  # fmt: skip
            ed["exbits"].append(bit)
            ed["remsize"] -= size
            ed["dt"] = dt
            oldvalue = ed["size"] * ed["price"]
            newvalue = size * price
            ed["size"] += size
            ed["price"] = (oldvalue + newvalue) / ed["size"]
            ed["value"] += bit.value
            ed["comm"] += bit.comm
            ed["pnl"] += pnl
            ed["psize"] = psize
            ed["pprice"] = pprice
            ed["margin"] = comminfo.margin
        od = order.__dict__
        done = not ed["remsize"]
        od["status"] = _COMPLETED if done else _PARTIAL
        od["comminfo"] = comminfo
        self.notify(order)
        if done:
            self._pending.pop(ref, None)
            # _done
            self._linked.discard(ref)
            self._oco_leader.pop(ref, None)

    def _set_state(self, raw: Iterable[Any]) -> None:
        # laid out as contract.State (unpacked directly: this runs on every bar)
        (
            self.cash,
            self._value,
            self._valuemkt,
            self._valuelever,
            self._valuemktlever,
            self._fundval,
            self._fundshares,
            self._leverage,
            self._unrealized,
            self._idle,
        ) = raw

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
        """Add (or, negative, remove) cash: applied at the end of the next bar, buying fund
        shares at the last fund value, as in BackBroker."""
        self._events.append((EV_ADD_CASH, cash))

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
        # the orders queued this bar wait for the bar's step as usual (nothing in them changes
        # a value); data, position, cash and fund events are what the value depends on
        if (
            self._comm_dirty
            or self._new_datas
            or self._fundhist
            or not all(e[0] in _ORDER_EVENTS for e in self._events)
            or self._current_config() != self._sent_config
        ):
            events = self._take_events(fund=False)
            self._events = [e for e in events if e[0] in _ORDER_EVENTS]
            events = [e for e in events if e[0] not in _ORDER_EVENTS]
            if self._fundhist:
                events.append((EV_FUND, *self._process_fund_history()))
            if events:
                self._apply_records(self._core.apply(events))
                self._idle = False
        value, state = self._core.value_of(
            idxs, [d.close[0] for d in datas], bool(lever), self._comm_hook
        )
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
        """Cheat-on-close: Market orders fill at the close of the bar they were created on."""
        self.p.coc = coc

    def set_coo(self, coo: bool) -> None:
        """Cheat-on-open: Market orders from ``next_open`` fill at that bar's open."""
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
        """Percentage slippage (note ``slip_open=True`` here, as in BackBroker)."""
        self.p.slip_perc = perc
        self.p.slip_fixed = 0.0
        self.p.slip_open = slip_open
        self.p.slip_limit = slip_limit
        self.p.slip_match = slip_match
        self.p.slip_out = slip_out

    def set_slippage_fixed(
        self,
        fixed: float,
        slip_open: bool = True,
        slip_limit: bool = True,
        slip_match: bool = True,
        slip_out: bool = False,
    ) -> None:
        """Fixed slippage in price points."""
        self.p.slip_perc = 0.0
        self.p.slip_fixed = fixed
        self.p.slip_open = slip_open
        self.p.slip_limit = slip_limit
        self.p.slip_match = slip_match
        self.p.slip_out = slip_out

    def set_filler(self, filler: Any) -> None:
        """A volume filler (see the ``filler`` param)."""
        self.p.filler = filler

    def set_checksubmit(self, checksubmit: bool) -> None:
        self.p.checksubmit = checksubmit

    def set_eosbar(self, eosbar: bool) -> None:
        """Accepted for compatibility: like in ``BackBroker`` it changes nothing."""
        self.p.eosbar = eosbar

    seteosbar = set_eosbar

    def add_order_history(self, orders: Any, notify: bool = True) -> None:
        """Orders to replay: rows ``[datetime, size, price(, data index or name)]``; each is
        filled at its price on the first bar at or after its datetime (``Cerebro`` calls this
        for ``cerebro.add_order_history``)."""
        oiter = iter(orders)
        o = next(oiter, None)
        self._userhist.append([o, oiter, notify])

    def _process_order_history(self) -> None:
        # BackBroker._process_order_history: which rows are due is a matter of dates, kept
        # here; the orders reach the core as EV_HISTORY, which accepts them at the right point
        for uhist in self._userhist:
            uhorder, uhorders, uhnotify = uhist
            while uhorder is not None:
                uhorder = list(uhorder)
                try:
                    dataidx = uhorder[3]
                except IndexError:
                    dataidx = None
                if dataidx is None:
                    d = self.cerebro.datas[0]
                elif isinstance(dataidx, int):
                    d = self.cerebro.datas[dataidx]
                else:
                    d = self.cerebro.datasbyname[dataidx]
                if not len(d):
                    break
                dt = _parse_dt(uhorder[0])
                uhorder[0] = dt
                if dt > d.datetime.datetime():
                    break
                size, price = uhorder[1], uhorder[2]
                owner = self.cerebro.runningstrats[0]
                if size:
                    cls = BuyOrder if size > 0 else SellOrder
                    order = cls(owner=owner, data=d, size=abs(size), price=price,
                                exectype=Order.Historical, histnotify=uhnotify)  # fmt: skip
                    self._orders[order.ref] = order
                    self._events.append(
                        self._submit_event(EV_HISTORY, order, None, None, True, False, False)
                    )
                uhist[0] = uhorder = next(uhorders, None)

    def set_fund_history(self, fund: Any) -> None:
        """Fund values to impose: rows ``[datetime, share value, net asset value]`` (``Cerebro``
        calls this for ``cerebro.add_fund_history``)."""
        fiter = iter(fund)
        f = list(next(fiter))
        self._fundhist = [f, fiter]
        self.set_cash(float(f[2]))

    def _process_fund_history(self) -> tuple[Any, Any]:
        fhist = self._fundhist
        f, funds = fhist
        if not f:
            return tuple(self._fhistlast)
        dt = _parse_dt(f[0])
        f[0] = dt
        # like BackBroker, this reads Cerebro._dtmaster, which runonce mode does not set
        if dt <= self.cerebro._dtmaster:
            self._fhistlast = f[1:]
            fhist[0] = list(next(funds, []))
        return tuple(self._fhistlast)


def _parse_dt(dt: Any) -> Any:
    """The datetime of an order or fund history row, as BackBroker reads it."""
    if isinstance(dt, str):
        dtfmt = "%Y-%m-%d"
        if "T" in dt:
            dtfmt += "T%H:%M:%S"
            if "." in dt:
                dtfmt += ".%f"
        return datetime.datetime.strptime(dt, dtfmt)
    if isinstance(dt, datetime.datetime):
        return dt
    if isinstance(dt, datetime.date):
        return datetime.datetime(year=dt.year, month=dt.month, day=dt.day)
    return dt
