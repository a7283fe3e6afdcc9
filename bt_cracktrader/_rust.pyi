"""Type stub of ``bt_cracktrader._rust``, the Rust core's extension (built from ``rust/bindings``).

``RustCore`` implements the contract of ``bt_cracktrader.core.contract`` with the Python API of
``bt_cracktrader.core.pycore.PyCore``: same arguments, same tuples (``int`` sizes stay ``int``),
same ``CoreInputError`` messages.
"""

from collections.abc import Sequence
from typing import Any, ClassVar

from .core.contract import Bar, Event, Number, Record

__version__: str

def core_version() -> str:
    """Version of the Rust core crate (``cracktrader_core``)."""

class RustCore:
    """BackBroker's matching and accounting for Market orders, in Rust."""

    backend: ClassVar[str]

    def __init__(
        self,
        cash: Number = 10000.0,
        checksubmit: bool = True,
        shortcash: bool = True,
        fundstartval: Number = 100.0,
    ) -> None: ...
    def step(
        self, events: Sequence[Event], bars: Sequence[Bar]
    ) -> tuple[list[Record], tuple[object, ...]]:
        """Apply the events, then process one bar per registered data."""
    def apply(self, events: Sequence[Event]) -> None:
        """Apply events now, without a bar."""
    def value_of(
        self, datas: Sequence[int], closes: Sequence[Number], lever: bool
    ) -> tuple[Number, tuple[object, ...]]:
        """``broker.getvalue(datas=...)``: ``(value, state)``."""
    def state(self) -> tuple[object, ...]:
        """The broker figures, laid out as ``contract.STATE_FIELDS``."""
    def __reduce__(self) -> tuple[Any, ...]: ...
    def __setstate__(self, state: tuple[Any, ...]) -> None: ...
