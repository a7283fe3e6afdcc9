"""The core contract: the events a core accepts and the records it returns.

Both cores (``bt_cracktrader.core.pycore.PyCore`` and the Rust ``bt_cracktrader._rust.RustCore``)
implement exactly this contract. The Backtrader adapter (``bt_cracktrader.broker``) speaks only
this contract and never asks which core it talks to.

Everything that crosses the boundary is a plain tuple of numbers, so that one call per bar can
carry a whole batch:

``core.step(events, bars, filler=None, comm=None) -> (records, state)``

``core.step_packed(batch, filler=None, comm=None) -> bytes`` runs a whole stream of ``step``
calls in one call: ``batch`` packs every step's ``(events, bars)`` and the result packs every
step's ``(records, state)``, exactly what the ``step`` calls give one by one (both cores return
the same bytes). The layout, with its own ``PACKED_VERSION``, and ``pack_steps``/
``unpack_results`` are in ``bt_cracktrader.core.packed``. A batch is all or nothing: on an error
the core is left as before the call.

``filler(ref, price, ago) -> size`` is a user's volume filler and ``comm(data, method, *args)``
calls a user's overridden CommInfo method; both are given only when such user code exists.

* ``events`` are applied in list order before the bar is processed. The first item of each tuple
  is its tag (``EV_*``).
* ``bars`` is one tuple per registered data, ``(data, dt, open, high, low, close, mark, volume,
  rhigh, rlow, pdt, phigh, plow, pvolume)``: ``open`` .. ``close`` are the prices orders are
  matched against (``tick_*`` when a live feed sets them), ``mark`` is ``data.close[0]``, the
  price positions are valued and marked to, ``volume``/``rhigh``/``rlow`` are the bar's
  ``volume[0]``/``high[0]``/``low[0]`` (what volume fillers read) and ``pdt`` .. ``pvolume``
  the previous bar's (``[-1]``: a Close order can fill at the previous bar).
* ``records`` are what happened, in the order BackBroker would have produced the notifications.
  The first item of each tuple is its tag (``REC_*``).
* ``state`` is a tuple laid out as ``STATE_FIELDS``.

Sizes keep their Python type: an order placed with an ``int`` size produces ``int`` executed
sizes and positions, exactly as in Backtrader. Prices and money are ``float``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol, Union

Number = Union[int, float]

#: Version of this contract; bumped on any change of a tuple layout below.
CONTRACT_VERSION = 3

# --- input events -------------------------------------------------------------------------
#: ``(EV_DATA, data, stocklike, perc, commission, mult, margin, automargin, leverage,
#: creditrate, interest_long, overrides, compensate)``: register data index ``data`` (or replace
#: its commission scheme). ``perc`` is True for ``COMM_PERC`` (commission already divided by 100
#: where Backtrader does it), ``margin`` is the float margin per contract (0.0 when unset),
#: ``automargin`` 0.0 when off, ``creditrate`` is ``interest / 365``. ``overrides`` is a bit set
#: of the ``COMM_METHODS`` a user's CommInfo subclass overrides: the core calls those back
#: through the ``comm`` callable of ``step``. ``compensate`` is the data index whose position
#: this data's orders update (``data.compensate(other)``), or -1.
EV_DATA = 0
#: ``(EV_POSITION, data)``: create the (flat) position entry of ``data`` if it does not exist.
#: Backtrader values positions in the order their entries were created, so the adapter reports
#: ``getposition()`` calls that create entries.
EV_POSITION = 1
#: ``(EV_SUBMIT, ref, data, isbuy, size, exectype, price, pricelimit, pclose, created_dt, valid,
#: dteos, trailamount, trailpercent, limitoffset, parent, oco, transmit, check, coc, notified)``:
#: a new order, as ``BackBroker.buy``/``sell`` receive it once ``bt.Order`` has built it.
#: ``size`` is signed (negative sells); ``price``, ``pricelimit``, ``pclose`` and ``created_dt``
#: are ``order.created``'s; ``valid`` is ``order.valid`` as a float (0.0: good till cancelled);
#: ``dteos`` is ``order.dteos``; ``parent``/``oco`` are order refs or -1; ``check`` is
#: ``checksubmit`` for this order; ``coc`` is ``order.info.get("coc", True)``. ``notified``: the
#: adapter already transmitted the order (one without parent and with ``transmit=True`` is
#: sent on its own), so no ``REC_SUBMITTED``/``REC_ACCEPTED`` record is produced for it.
EV_SUBMIT = 2
#: ``(EV_CANCEL, ref, notified)``: ``broker.cancel(order)``. With ``notified`` the adapter
#: already notified ``Canceled`` for ``ref`` itself (cascades to OCO/bracket members are still
#: recorded).
EV_CANCEL = 3
#: ``(EV_CONFIG, checksubmit, shortcash, coc, coo, slip_perc, slip_fixed, slip_open, slip_match,
#: slip_limit, slip_out, filler, filler_size, filler_perc, filler_minmov, int2pnl)``: broker
#: parameters.
#: ``filler`` is one of ``FILLER_*``; the numbers are the filler's params (0 when unset).
EV_CONFIG = 4
#: ``(EV_SET_CASH, cash)``: ``broker.set_cash`` (does not touch fund shares, as BackBroker).
EV_SET_CASH = 5
#: ``(EV_ADD_CASH, cash)``: ``broker.add_cash``: applied (buying fund shares at the last fund
#: value) the next time the value is computed.
EV_ADD_CASH = 6
#: ``(EV_HISTORY, ...)``: an order from ``add_order_history``, laid out as ``EV_SUBMIT``; the core
#: accepts it after the submit check and the interest charge of this step, as BackBroker does.
EV_HISTORY = 7
#: ``(EV_FUND, fundvalue, netvalue)``: the row of ``set_fund_history`` in force for the next value
#: computation (NaN before the first row).
EV_FUND = 8

#: The CommInfoBase methods a user may override; bit ``1 << i`` in ``EV_DATA``'s ``overrides``.
COMM_METHODS = (
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

#: ``filler`` values of ``EV_CONFIG``.
FILLER_NONE, FILLER_FIXEDSIZE, FILLER_FIXEDBARPERC, FILLER_BARPOINTPERC, FILLER_CALLBACK = range(5)

# --- output records -----------------------------------------------------------------------
#: ``(REC_ACCEPTED, ref)``: ``order.accept()``: the order is now pending.
REC_ACCEPTED = 0
#: ``(REC_MARGIN, ref)``: ``order.margin()``: not enough cash, at the submit check or the fill.
REC_MARGIN = 1
#: ``(REC_EXECUTED, ref, dt, size, price, closed, closedvalue, closedcomm, opened, openedvalue,
#: openedcomm, pnl, psize, pprice, position_size, position_price)``: ``order.execute(...)``, one
#: execution bit, with the position of the order's data after it. ``size == closed + opened``.
REC_EXECUTED = 2
#: ``(REC_SUBMITTED, ref)``: ``order.submit()``: transmitted, waiting for the submit check.
REC_SUBMITTED = 3
#: ``(REC_CANCELED, ref)``: ``order.cancel()``.
REC_CANCELED = 4
#: ``(REC_EXPIRED, ref)``: ``order.expire()``.
REC_EXPIRED = 5
#: ``(REC_REJECTED, ref)``: ``order.reject()`` (a bracket child whose parent is gone).
REC_REJECTED = 6
#: ``(REC_ACTIVATED, ref)``: ``order.activate()`` (a bracket child after its parent filled).
REC_ACTIVATED = 7
#: ``(REC_TRIGGERED, ref)``: ``order.triggered = True`` (a StopLimit's stop was reached).
REC_TRIGGERED = 8
#: ``(REC_TRAIL, ref, price, pricelimit)``: a trailing stop moved ``order.created.price`` and
#: ``order.created.pricelimit``.
REC_TRAIL = 9
#: ``(REC_POSITION, data)``: the core created the (flat) position entry of ``data``, as
#: BackBroker's ``positions`` defaultdict does at a submit check or a fill.
REC_POSITION = 10

#: Layout of the ``state`` tuple.
STATE_FIELDS = (
    "cash",
    "value",
    "valuemkt",
    "valuelever",
    "valuemktlever",
    "fundvalue",
    "fundshares",
    "leverage",
    "unrealized",
    "idle",
)

#: Backtrader's ``Order.ExecTypes`` codes.
(
    EXEC_MARKET,
    EXEC_CLOSE,
    EXEC_LIMIT,
    EXEC_STOP,
    EXEC_STOPLIMIT,
    EXEC_STOPTRAIL,
    EXEC_STOPTRAILLIMIT,
    EXEC_HISTORICAL,
) = range(8)

Event = tuple[Any, ...]
Bar = tuple[Any, ...]
Record = tuple[Any, ...]


class State(NamedTuple):
    """The broker figures after a step, as BackBroker caches them after ``next()``."""

    cash: float
    value: float
    valuemkt: float
    valuelever: float
    valuemktlever: float
    fundvalue: float
    fundshares: float
    leverage: float
    unrealized: float
    #: True when no order is submitted or pending and every position is flat: the next bar
    #: cannot change anything, so the adapter need not call the core.
    idle: bool


class Core(Protocol):
    """What both cores implement."""

    def __init__(
        self, cash: float, checksubmit: bool, shortcash: bool, fundstartval: float
    ) -> None: ...

    def step(
        self,
        events: Sequence[Event],
        bars: Sequence[Bar],
        filler: Callable[[int, float, int], Number] | None = None,
        comm: Callable[..., Number] | None = None,
    ) -> tuple[list[Record], tuple[object, ...]]: ...

    def step_packed(
        self,
        batch: bytes,
        filler: Callable[[int, float, int], Number] | None = None,
        comm: Callable[..., Number] | None = None,
    ) -> bytes:
        """Every step of a packed batch in one call (``bt_cracktrader.core.packed``): the packed
        records and states, the same bytes on both cores."""
        ...

    def apply(self, events: Sequence[Event]) -> list[Record]: ...

    def value_of(
        self, datas: Sequence[int], closes: Sequence[float], lever: bool
    ) -> tuple[float, tuple[object, ...]]: ...

    def state(self) -> tuple[object, ...]: ...

    def snapshot(self) -> tuple[Any, ...]:
        """The whole state as versioned plain data (layout: ``snapshot.SNAPSHOT_FIELDS``), the
        same for both cores; ``restore(snapshot)`` (a classmethod) builds a core of either class
        from it."""
        ...


class CoreInputError(ValueError):
    """An event or bar the core refuses. The message names the item, the field and the value;
    the core's state is left exactly as it was before the call."""

    def __init__(self, what: str, field: str, value: object, reason: str) -> None:
        self.what = what
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {what}: {field} = {value!r} ({reason})")


#: Names used in error messages, indexed by event tag.
EVENT_NAMES = (
    "data",
    "position",
    "submit",
    "cancel",
    "config",
    "set_cash",
    "add_cash",
    "history",
    "fund",
)
#: Tuple length of each event, indexed by event tag.
EVENT_LENGTHS = (13, 2, 21, 3, 16, 2, 2, 21, 3)
BAR_LENGTH = 15
#: Field names of a bar, after ``data``.
BAR_FIELDS = (
    "dt",
    "open",
    "high",
    "low",
    "close",
    "mark",
    "volume",
    "rhigh",
    "rlow",
    "pdt",
    "phigh",
    "plow",
    "pvolume",
    "day",
)


def submit_event(
    ref: int,
    data: int,
    size: Number,
    price: float,
    created_dt: float,
    *,
    exectype: int = EXEC_MARKET,
    pricelimit: float | None = None,
    pclose: float | None = None,
    valid: float = 0.0,
    dteos: float | None = None,
    trailamount: float = 0.0,
    trailpercent: float = 0.0,
    limitoffset: float = 0.0,
    parent: int = -1,
    oco: int = -1,
    transmit: bool = True,
    check: bool = True,
    coc: bool = True,
    notified: bool = False,
) -> Event:
    """An ``EV_SUBMIT`` tuple with Backtrader's defaults (for tests, fuzzing and benchmarks)."""
    return (
        EV_SUBMIT,
        ref,
        data,
        size > 0,
        size,
        exectype,
        price,
        price if pricelimit is None else pricelimit,
        price if pclose is None else pclose,
        created_dt,
        valid,
        created_dt if dteos is None else dteos,
        trailamount,
        trailpercent,
        limitoffset,
        parent,
        oco,
        transmit,
        check,
        coc,
        notified,
    )


def bar_tuple(
    data: int,
    dt: float,
    open: float,
    high: float,
    low: float,
    close: float,
    volume: float = 0.0,
    prev: tuple[float, float, float, float] | None = None,
    day: int | None = None,
) -> Bar:
    """A bar tuple without live ``tick_*`` prices; ``prev`` is ``(dt, high, low, volume)`` of
    the previous bar (defaults to this bar's); ``day`` defaults to ``int(dt)``, the date of a
    naive date number."""
    pdt, phigh, plow, pvolume = prev if prev is not None else (dt, high, low, volume)
    return (
        data, dt, open, high, low, close, close, volume, high, low, pdt, phigh, plow, pvolume,
        int(dt) if day is None else day,
    )  # fmt: skip


def data_event(
    data: int,
    *,
    stocklike: bool = True,
    perc: bool = True,
    commission: float = 0.0,
    mult: float = 1.0,
    margin: float = 0.0,
    automargin: float = 0.0,
    leverage: float = 1.0,
    creditrate: float = 0.0,
    interest_long: bool = False,
    overrides: int = 0,
    compensate: int = -1,
) -> Event:
    """An ``EV_DATA`` tuple (stock-like, no commission by default)."""
    return (
        EV_DATA, data, stocklike, perc, commission, mult, margin, automargin, leverage,
        creditrate, interest_long, overrides, compensate,
    )  # fmt: skip
