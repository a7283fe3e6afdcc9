"""Type stub of ``bt_cracktrader._rust``, the Rust core's extension (built from ``rust/bindings``).

``RustCore`` implements the contract of ``bt_cracktrader.core.contract`` (version 3) with the
Python API of ``bt_cracktrader.core.pycore.PyCore``: same arguments, same tuples (``int`` sizes
stay ``int``), same ``CoreInputError`` messages, the user's callables called at the same points.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from .core.contract import Bar, Event, Number, Record

__version__: str

def core_version() -> str:
    """Version of the Rust core crate (``cracktrader_core``)."""

class RustCore:
    """BackBroker's matching and accounting, in Rust."""

    backend: ClassVar[str]

    def __init__(
        self,
        cash: Number = 10000.0,
        checksubmit: bool = True,
        shortcash: bool = True,
        fundstartval: Number = 100.0,
    ) -> None: ...
    def step(
        self,
        events: Sequence[Event],
        bars: Sequence[Bar],
        filler: Callable[[int, float, int], Number] | None = None,
        comm: Callable[..., Number] | None = None,
    ) -> tuple[list[Record], tuple[object, ...]]:
        """Apply the events, then process one bar per registered data. ``filler(ref, price,
        ago)`` is a user's volume filler, ``comm(data, method, *args)`` calls a user's
        overridden CommInfo method; each is called only when needed."""
    def step_packed(
        self,
        batch: bytes,
        filler: Callable[[int, float, int], Number] | None = None,
        comm: Callable[..., Number] | None = None,
    ) -> bytes:
        """Run a packed batch of steps (``bt_cracktrader.core.packed``) in one call and return
        every step's records and state, packed: what ``step`` gives one call at a time, the
        same bytes as ``PyCore.step_packed``. All or nothing: on an error the core is as before
        the call, and an input error's ``what`` ends in ``of step {k}``."""
    def apply(self, events: Sequence[Event]) -> list[Record]:
        """Apply events now, without a bar; returns the records."""
    def value_of(
        self,
        datas: Sequence[int],
        closes: Sequence[Number],
        lever: bool,
        comm: Callable[..., Number] | None = None,
    ) -> tuple[Number, tuple[object, ...]]:
        """``broker.getvalue(datas=...)``: ``(value, state)``."""
    def state(self) -> tuple[object, ...]:
        """The broker figures, laid out as ``contract.STATE_FIELDS``."""
    def __reduce__(self) -> tuple[Any, ...]: ...
    def __setstate__(self, state: tuple[Any, ...]) -> None: ...
    def snapshot(self) -> tuple[Any, ...]:
        """The whole state as a versioned tuple of plain data, laid out as
        ``bt_cracktrader.core.snapshot.SNAPSHOT_FIELDS`` (what ``PyCore.snapshot()`` writes for
        the same state)."""
    @classmethod
    def restore(cls, snapshot: object) -> RustCore:
        """A core in the state ``snapshot`` (of either backend) describes; a bad snapshot or one
        of another version raises ``CoreInputError("snapshot", ...)``, as ``PyCore.restore``."""

class RustLedger:
    """The execution ledger, in Rust: the twin of ``bt_cracktrader.core.ledger.PyLedger``
    (same records, states, snapshots and errors; logs through ``bt_cracktrader._rust``)."""

    backend: ClassVar[str]

    def __init__(self, cash: Number, fee_rate: Number = 0.0, strict: bool = False) -> None: ...
    def apply(self, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Apply a batch of events in ``seq`` order and return the records."""
    def state(self) -> dict[str, Any]:
        """Cash, value, positions and the client ids of the orders still alive."""
    def order(self, order: str) -> dict[str, Any] | None:
        """The order with client id ``order``, as in a snapshot, or None."""
    def snapshot(self) -> dict[str, Any]:
        """The whole state, versioned, as JSON-able data."""
    @classmethod
    def restore(cls, snapshot: Mapping[str, Any]) -> RustLedger:
        """A ledger in the state ``snapshot`` (of either backend) describes."""
    @staticmethod
    def transitions() -> dict[str, list[str]]:
        """The legal order-status transitions (``schema/transitions.json``)."""
    def __reduce__(self) -> tuple[Any, ...]: ...
