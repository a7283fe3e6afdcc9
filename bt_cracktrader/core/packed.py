"""The packed batch: a whole stream of ``step`` calls in one ``bytes`` object.

``core.step_packed(batch, filler=None, comm=None) -> bytes`` runs every step of ``batch`` in one
call and returns every step's records and state, packed the same way. It gives exactly what
``[core.step(events, bars) for events, bars in steps]`` gives (``unpack_results`` turns it back
into that list), on both cores, and both cores return the same bytes. One call carries a whole
stream across the Python/Rust boundary: this is what replay, differential tests and the
``core-only`` benchmark feed the cores with.

A batch is all or nothing: when a step fails, the core is left as it was before the call, and a
refused event or bar raises ``CoreInputError`` whose ``what`` ends in ``of step {k}`` (``k``
counts from 0). A buffer that is not a packed batch raises ``CoreInputError("packed batch",
field, value, reason)``.

Layout (version ``PACKED_VERSION``), little-endian throughout::

    batch   := magic[8] version:u32 n_steps:u32 step*
    step    := n_events:u32 n_bars:u32 item{n_events} item{n_bars}
    results := magic[8] version:u32 n_steps:u32 result*
    result  := n_records:u32 item{n_records} item            (the last item is the state)
    item    := n_values:u32 value{n_values}                  (one contract tuple)
    value   := kind:u8 payload[8]

``magic`` is ``b"BTCKSTEP"`` for a batch and ``b"BTCKRECS"`` for results. ``kind`` keeps the
Python type of each value, so that int sizes stay ints: ``KIND_NONE`` (payload zero),
``KIND_BOOL`` (payload 0 or 1), ``KIND_INT`` (a signed 64-bit int) and ``KIND_FLOAT`` (the IEEE
754 bits, NaN payloads and ``-0.0`` included). Ints beyond 64 bits cannot be packed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any

from .contract import Bar, CoreInputError, Event, Record

#: Layout version of batches and results.
PACKED_VERSION = 1
STEPS_MAGIC = b"BTCKSTEP"
RESULTS_MAGIC = b"BTCKRECS"
KIND_NONE, KIND_BOOL, KIND_INT, KIND_FLOAT = range(4)
#: ``what`` of the errors in a buffer itself.
WHAT = "packed batch"

_HEADER = struct.Struct("<8sII")
_U32 = struct.Struct("<I")
_TWO_U32 = struct.Struct("<II")
_INT = struct.Struct("<Bq")
_FLOAT = struct.Struct("<Bd")
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1

Step = tuple[Sequence[Event], Sequence[Bar]]
Result = tuple[list[Record], tuple[object, ...]]


def _pack_value(out: bytearray, value: object, where: str) -> None:
    # bool before int: bool is an int subclass; float subclasses (numpy.float64) pack as floats
    if value is None:
        out += _INT.pack(KIND_NONE, 0)
    elif value is True or value is False:
        out += _INT.pack(KIND_BOOL, int(value))
    elif isinstance(value, int):
        if not _I64_MIN <= value <= _I64_MAX:
            raise CoreInputError(WHAT, where, value, "an int beyond 64 bits cannot be packed")
        out += _INT.pack(KIND_INT, value)
    elif isinstance(value, float):
        out += _FLOAT.pack(KIND_FLOAT, value)
    else:
        raise CoreInputError(WHAT, where, value, "only None, bool, int and float can be packed")


def _pack_item(out: bytearray, item: Sequence[Any], where: str) -> None:
    if not isinstance(item, tuple):
        raise CoreInputError(WHAT, where, item, "not a tuple")
    out += _U32.pack(len(item))
    for k, value in enumerate(item):
        _pack_value(out, value, f"{where} item {k}")


def pack_steps(steps: Iterable[Step]) -> bytes:
    """Pack ``(events, bars)`` pairs, one per ``step`` call, into a batch."""
    body = bytearray()
    n = 0
    for n, (events, bars) in enumerate(steps, 1):
        body += _TWO_U32.pack(len(events), len(bars))
        for i, event in enumerate(events):
            _pack_item(body, event, f"step {n - 1} event {i}")
        for i, bar in enumerate(bars):
            _pack_item(body, bar, f"step {n - 1} bar {i}")
    return _HEADER.pack(STEPS_MAGIC, PACKED_VERSION, n) + bytes(body)


def _pack_result(out: bytearray, k: int, records: Sequence[Record], state: Sequence[Any]) -> None:
    out += _U32.pack(len(records))
    for i, record in enumerate(records):
        _pack_item(out, record, f"step {k} record {i}")
    _pack_item(out, state, f"step {k} state")


def pack_results(results: Iterable[Result]) -> bytes:
    """Pack ``(records, state)`` pairs, one per step, as ``step_packed`` returns them."""
    body = bytearray()
    n = 0
    for n, (records, state) in enumerate(results, 1):
        _pack_result(body, n - 1, records, state)
    return _HEADER.pack(RESULTS_MAGIC, PACKED_VERSION, n) + bytes(body)


def _watched(fn: Any, raised: list[BaseException]) -> Any:
    # a CoreInputError the user's own code raises goes through unchanged, as from ``step``
    if fn is None:
        return None

    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except CoreInputError as exc:
            raised.append(exc)
            raise

    return call


def run_steps(core: Any, steps: Sequence[Step], filler: Any = None, comm: Any = None) -> bytes:
    """Step ``core`` through ``steps`` and pack the results (the body of
    ``PyCore.step_packed``, which restores the core when this raises)."""
    body = bytearray()
    raised: list[BaseException] = []
    filler, comm = _watched(filler, raised), _watched(comm, raised)
    for k, (events, bars) in enumerate(steps):
        try:
            records, state = core.step(events, bars, filler, comm)
        except CoreInputError as exc:
            if any(exc is user for user in raised):
                raise
            what = f"{exc.what} of step {k}"
            raise CoreInputError(what, exc.field, exc.value, exc.reason) from None
        _pack_result(body, k, records, state)
    return _HEADER.pack(RESULTS_MAGIC, PACKED_VERSION, len(steps)) + bytes(body)


class _Reader:
    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, n: int, field: str) -> int:
        at = self.pos
        if at + n > len(self.buf):
            raise CoreInputError(
                WHAT, "length", len(self.buf), f"truncated: {field} needs {n} bytes at offset {at}"
            )
        self.pos = at + n
        return at

    def u32(self, field: str) -> int:
        at = self.take(4, field)
        value: int = _U32.unpack_from(self.buf, at)[0]
        return value

    def item(self) -> tuple[object, ...]:
        n = self.u32("an item length")
        values: list[object] = []
        for _ in range(n):
            at = self.take(9, "a value")
            kind, word = _INT.unpack_from(self.buf, at)
            if kind == KIND_INT:
                values.append(word)
            elif kind == KIND_FLOAT:
                values.append(_FLOAT.unpack_from(self.buf, at)[1])
            elif kind == KIND_BOOL and word in (0, 1):
                values.append(word == 1)
            elif kind == KIND_NONE and word == 0:
                values.append(None)
            elif kind in (KIND_NONE, KIND_BOOL):
                name = "None" if kind == KIND_NONE else "bool"
                raise CoreInputError(WHAT, "payload", word, f"not a {name} at offset {at}")
            else:
                raise CoreInputError(WHAT, "kind", kind, f"unknown value kind at offset {at}")
        return tuple(values)

    def header(self, magic: bytes) -> int:
        at = self.take(8, "the magic")
        head = self.buf[at : at + 8]
        if head != magic:
            raise CoreInputError(
                WHAT, "magic", head.hex(), f"not a packed batch: expected {magic.decode()}"
            )
        version = self.u32("the version")
        if version != PACKED_VERSION:
            raise CoreInputError(
                WHAT, "version", version, f"unsupported: this core reads version {PACKED_VERSION}"
            )
        return self.u32("the step count")

    def end(self) -> None:
        if self.pos != len(self.buf):
            raise CoreInputError(
                WHAT,
                "length",
                len(self.buf),
                f"{len(self.buf) - self.pos} bytes after the last step",
            )


def _buffer(batch: object) -> bytes:
    if not isinstance(batch, bytes):
        raise TypeError(f"a packed batch must be bytes, not {type(batch).__name__}")
    return batch


def unpack_steps(batch: bytes) -> list[tuple[list[Event], list[Bar]]]:
    """The ``(events, bars)`` of every step of a batch (the inverse of ``pack_steps``)."""
    reader = _Reader(_buffer(batch))
    steps = []
    for _ in range(reader.header(STEPS_MAGIC)):
        n_events, n_bars = reader.u32("an event count"), reader.u32("a bar count")
        events = [reader.item() for _ in range(n_events)]
        bars = [reader.item() for _ in range(n_bars)]
        steps.append((events, bars))
    reader.end()
    return steps


def unpack_results(results: bytes) -> list[Result]:
    """The ``(records, state)`` of every step, as ``step`` returns them, from what
    ``step_packed`` returned."""
    reader = _Reader(_buffer(results))
    out: list[Result] = []
    for _ in range(reader.header(RESULTS_MAGIC)):
        records = [reader.item() for _ in range(reader.u32("a record count"))]
        out.append((records, reader.item()))
    reader.end()
    return out
