"""The core contract: the events a core accepts and the records it returns.

Both cores (``bt_cracktrader.core.pycore.PyCore`` and the Rust ``bt_cracktrader._rust.RustCore``)
implement exactly this contract. The Backtrader adapter (``bt_cracktrader.broker``) speaks only
this contract and never asks which core it talks to.

Everything that crosses the boundary is a plain tuple of numbers, so that one call per bar can
carry a whole batch:

``core.step(events, bars) -> (records, state)``

* ``events`` are applied in list order before the bar is processed. The first item of each tuple
  is its tag (``EV_*``).
* ``bars`` is one tuple per registered data, ``(data, dt, open, high, low, close, volume, mark)``:
  ``open`` .. ``close`` are the prices orders are matched against (``tick_*`` when a live feed
  sets them), ``mark`` is ``data.close[0]``, the price positions are valued and marked to.
* ``records`` are what happened, in the order BackBroker would have produced the notifications.
  The first item of each tuple is its tag (``REC_*``).
* ``state`` is a tuple laid out as ``STATE_FIELDS``.

Sizes keep their Python type: an order placed with an ``int`` size produces ``int`` executed
sizes and positions, exactly as in Backtrader. Prices and money are ``float``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol, Union

Number = Union[int, float]

#: Version of this contract; bumped on any change of a tuple layout below.
CONTRACT_VERSION = 1

# --- input events -------------------------------------------------------------------------
#: ``(EV_DATA, data, stocklike, perc, commission, mult, margin, automargin, leverage)``:
#: register data index ``data`` (or replace its commission scheme). ``perc`` is True for
#: ``COMM_PERC`` (commission already divided by 100 where Backtrader does it), ``margin`` is the
#: float margin per contract (0.0 when unset), ``automargin`` 0.0 when off.
EV_DATA = 0
#: ``(EV_POSITION, data)``: create the (flat) position entry of ``data`` if it does not exist.
#: Backtrader values positions in the order their entries were created, so the adapter reports
#: ``getposition()`` calls that create entries.
EV_POSITION = 1
#: ``(EV_SUBMIT, ref, data, size, price, created_dt, exectype, check)``: a new order. ``size`` is
#: signed (negative sells), ``price`` is ``order.created.price``; with ``check`` the order waits
#: for the submit check, without it (``checksubmit=False``) it goes straight to the pending queue.
EV_SUBMIT = 2
#: ``(EV_CANCEL, ref)``: cancel a pending order (the adapter already notified ``Canceled``).
EV_CANCEL = 3
#: ``(EV_CONFIG, checksubmit, shortcash)``: broker parameters that change matching/accounting.
EV_CONFIG = 4
#: ``(EV_SET_CASH, cash)``: ``broker.set_cash`` (does not touch fund shares, as BackBroker).
EV_SET_CASH = 5

# --- output records -----------------------------------------------------------------------
#: ``(REC_ACCEPTED, ref)``: the submit check passed; the order is now pending.
REC_ACCEPTED = 0
#: ``(REC_MARGIN, ref)``: not enough cash, at the submit check or at execution.
REC_MARGIN = 1
#: ``(REC_EXECUTED, ref, dt, size, price, closed, closedvalue, closedcomm, opened, openedvalue,
#: openedcomm, pnl, psize, pprice, position_size, position_price)``: one execution bit, with the
#: position of the order's data after it. ``size == closed + opened``.
REC_EXECUTED = 2

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

#: Backtrader's ``Order.Market``; the only execution type of contract version 1.
EXEC_MARKET = 0

Event = tuple[object, ...]
Bar = tuple[int, float, float, float, float, float, float, float]
Record = tuple[object, ...]


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
        self, events: Sequence[Event], bars: Sequence[Bar]
    ) -> tuple[list[Record], tuple[object, ...]]: ...

    def apply(self, events: Sequence[Event]) -> None: ...

    def value_of(
        self, datas: Sequence[int], closes: Sequence[float], lever: bool
    ) -> tuple[float, tuple[object, ...]]: ...

    def state(self) -> tuple[object, ...]: ...


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
EVENT_NAMES = ("data", "position", "submit", "cancel", "config", "set_cash")
#: Tuple length of each event, indexed by event tag.
EVENT_LENGTHS = (9, 2, 8, 2, 3, 2)
BAR_LENGTH = 8
