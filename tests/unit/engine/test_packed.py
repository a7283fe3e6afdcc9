"""Packed batches (``bt_cracktrader.core.packed``, ``core.step_packed``) on each core.

The layout and its round trips (types and float bits kept), every malformed buffer with its
exact message (the same on both cores, the core untouched), an input error in step ``k`` of a
batch, user callables called through ``step_packed`` and outputs that cannot be packed.
"""

from __future__ import annotations

import datetime
import struct
from collections.abc import Callable
from enum import IntEnum
from typing import Any

import pytest

from bt_cracktrader.core import PyCore, rust_core
from bt_cracktrader.core.contract import (
    EV_ADD_CASH,
    EV_CANCEL,
    EV_CONFIG,
    EV_FUND,
    EV_HISTORY,
    EV_POSITION,
    EV_SET_CASH,
    EXEC_HISTORICAL,
    FILLER_CALLBACK,
    REC_EXECUTED,
    CoreInputError,
    bar_tuple,
    data_event,
    submit_event,
)
from bt_cracktrader.core.packed import (
    KIND_BOOL,
    KIND_FLOAT,
    KIND_INT,
    KIND_NONE,
    PACKED_VERSION,
    RESULTS_MAGIC,
    STEPS_MAGIC,
    WHAT,
    pack_results,
    pack_steps,
    unpack_results,
    unpack_steps,
)


def _bits(x: float) -> str:
    return struct.pack("<d", x).hex()


def _from_bits(word: int) -> float:
    value: float = struct.unpack("<d", struct.pack("<Q", word))[0]
    return value


def typed(obj: Any) -> Any:
    """``obj`` with every value's type and every float's bits (NaN payloads included): ``==``
    alone lets ``1 == 1.0 == True`` and ``0.0 == -0.0`` pass and fails on NaN."""
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [typed(v) for v in obj])
    if isinstance(obj, float):
        return ("float", _bits(obj))
    return (type(obj).__name__, obj)


NAN_PAYLOAD = _from_bits(0x7FF8_0000_0000_0123)
NEG_NAN_PAYLOAD = _from_bits(0xFFF8_0000_0000_0ABC)
SIGNALING_NAN = _from_bits(0x7FF0_0000_0000_0001)
VALUES = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2**53 + 1,
    2**63 - 1,
    -(2**63),
    0.0,
    -0.0,
    1.5,
    -2.25,
    5e-324,
    1.7976931348623157e308,
    float("inf"),
    -float("inf"),
    float("nan"),
    NAN_PAYLOAD,
    NEG_NAN_PAYLOAD,
    SIGNALING_NAN,
]

STOCK = data_event(0, commission=0.001)


def bar(dt: float, price: float = 100.0, volume: float = 1000.0) -> tuple[Any, ...]:
    return bar_tuple(0, dt, price, price + 1.0, price - 1.0, price, volume)


def buy(ref: int, size: Any, dt: float, price: float = 100.0, **kw: Any) -> tuple[Any, ...]:
    kw.setdefault("notified", True)
    return submit_event(ref, 0, size, price, dt, **kw)


def primed(core_cls: Any) -> Any:
    """A core with a position and a pending limit order: restoring it must keep both."""
    core = core_cls(10000.0, True, True, 100.0)
    core.step([STOCK, buy(1, 3, 1.0)], [bar(1.0)])
    core.step([buy(2, 2, 2.0, exectype=2, price=50.0)], [bar(2.0)])
    return core


def stream(first_ref: int = 10, dt0: float = 3.0, n: int = 4) -> list[tuple[list[Any], list[Any]]]:
    """``n`` valid steps for a primed core: orders of int and float sizes, a cancel."""
    steps: list[tuple[list[Any], list[Any]]] = []
    for k in range(n):
        dt = dt0 + k
        events: list[Any] = [buy(first_ref + k, 2 if k % 2 else 1.5, dt)]
        if k == 1:
            events.append((EV_CANCEL, 2, False))
        steps.append((events, [bar(dt, 100.0 + k)]))
    return steps


def tuple_path(core: Any, steps: Any, *hooks: Any) -> list[Any]:
    return [core.step(events, bars, *hooks) for events, bars in steps]


def outcome(fn: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        return ("ok", typed(fn()))
    except CoreInputError as e:
        return ("CoreInputError", str(e), e.what, e.field, typed(e.value), e.reason)
    except Exception as e:  # noqa: BLE001 - the class and message must match
        return (type(e).__name__, str(e))


# -- the layout ------------------------------------------------------------------------------
def test_the_layout_byte_by_byte() -> None:
    batch = pack_steps([([(EV_POSITION, 0)], [(None, True, -0.0)]), ([], [])])
    expected = (
        STEPS_MAGIC
        + struct.pack("<II", PACKED_VERSION, 2)
        + struct.pack("<II", 1, 1)  # step 0: one event, one bar
        + struct.pack("<I", 2)
        + struct.pack("<Bq", KIND_INT, EV_POSITION)
        + struct.pack("<Bq", KIND_INT, 0)
        + struct.pack("<I", 3)
        + struct.pack("<Bq", KIND_NONE, 0)
        + struct.pack("<Bq", KIND_BOOL, 1)
        + bytes([KIND_FLOAT])
        + (0x8000_0000_0000_0000).to_bytes(8, "little")
        + struct.pack("<II", 0, 0)  # step 1: nothing
    )
    assert batch == expected
    assert STEPS_MAGIC == b"BTCKSTEP" and RESULTS_MAGIC == b"BTCKRECS" and PACKED_VERSION == 1
    results = pack_results([([(0, 7)], (1.0, False))])
    assert results == (
        RESULTS_MAGIC
        + struct.pack("<III", PACKED_VERSION, 1, 1)
        + struct.pack("<I", 2)
        + struct.pack("<BqBq", KIND_INT, 0, KIND_INT, 7)
        + struct.pack("<I", 2)
        + struct.pack("<BdBq", KIND_FLOAT, 1.0, KIND_BOOL, 0)
    )


def test_an_empty_batch(core_cls: Any) -> None:
    assert pack_steps([]) == STEPS_MAGIC + struct.pack("<II", PACKED_VERSION, 0)
    assert unpack_steps(pack_steps([])) == []
    core = primed(core_cls)
    before = core.snapshot()
    out = core.step_packed(pack_steps([]))
    assert type(out) is bytes
    assert out == pack_results([]) == RESULTS_MAGIC + struct.pack("<II", PACKED_VERSION, 0)
    assert unpack_results(out) == []
    assert core.snapshot() == before


# -- round trips -----------------------------------------------------------------------------
def test_steps_round_trip_keeps_types_and_float_bits() -> None:
    steps = [([tuple(VALUES), (v,)], [tuple(reversed(VALUES)), ()]) for v in VALUES] + [
        ([], []),
        ([()], []),
    ]
    back = unpack_steps(pack_steps(steps))
    assert typed(back) == typed([(list(e), list(b)) for e, b in steps])
    assert all(type(e) is list and type(b) is list for e, b in back)
    assert all(type(item) is tuple for e, b in back for item in [*e, *b])


def test_results_round_trip_keeps_types_and_float_bits() -> None:
    results = [([tuple(VALUES), (v, v)], (v,) + tuple(VALUES)) for v in VALUES] + [([], ())]
    back = unpack_results(pack_results(results))
    assert typed(back) == typed([(list(r), s) for r, s in results])
    assert pack_results(back) == pack_results(results)


def test_tuples_and_lists_of_steps_pack_alike() -> None:
    steps = [([(1, 0)], [(0, 1.0)])]
    assert pack_steps(steps) == pack_steps(tuple((tuple(e), tuple(b)) for e, b in steps))
    assert pack_steps(iter(steps)) == pack_steps(steps)


def test_subclasses_pack_as_their_base_type() -> None:
    class Price(float):
        pass

    class Tag(IntEnum):
        POSITION = EV_POSITION

    ((events, _),) = unpack_steps(pack_steps([([(Tag.POSITION, Price(2.5))], [])]))
    assert typed(events) == typed([(EV_POSITION, 2.5)])


@pytest.mark.parametrize("value", VALUES, ids=[repr(v) for v in VALUES])
def test_the_core_reads_every_value_with_its_type(core_cls: Any, value: Any) -> None:
    """A refused value comes back in the error as the core read it: the same refusal, type
    and value as the tuple path's, whichever the path."""
    events = [(EV_SET_CASH, value)] if isinstance(value, float) else [(value,)]
    core = core_cls()
    expected = outcome(lambda: core.step(events, []))
    got = outcome(lambda: core_cls().step_packed(pack_steps([(events, [])])))
    if expected[0] == "ok":  # a finite set_cash
        assert got == ("ok", typed(pack_results([core_cls().step(events, [])])))
        return
    assert expected[0] == got[0] == "CoreInputError"
    assert got[1] == expected[1].replace(f"invalid {expected[2]}:", f"invalid {got[2]}:")
    assert got[2] == expected[2] + " of step 0"
    assert got[3:] == expected[3:]


def test_nan_payloads_reach_the_output_bit_for_bit(core_cls: Any) -> None:
    for fv in (NAN_PAYLOAD, NEG_NAN_PAYLOAD, float("nan")):
        steps = [([STOCK, (EV_FUND, fv, 1000.0)], [bar(1.0)]), ([], [bar(2.0)])]
        out = unpack_results(core_cls().step_packed(pack_steps(steps)))
        assert [_bits(state[5]) for _, state in out] == [_bits(fv)] * 2
        assert typed(out) == typed(tuple_path(core_cls(), steps))


# -- malformed buffers -----------------------------------------------------------------------
#: One step with the event (EV_POSITION, 0) and the bar (7,): 59 bytes, every kind of field.
SMALL = pack_steps([([(EV_POSITION, 0)], [(7,)])])
#: (start, size, field) of each field of SMALL, in order.
SMALL_FIELDS = [
    (0, 8, "the magic"),
    (8, 4, "the version"),
    (12, 4, "the step count"),
    (16, 4, "an event count"),
    (20, 4, "a bar count"),
    (24, 4, "an item length"),
    (28, 9, "a value"),
    (37, 9, "a value"),
    (46, 4, "an item length"),
    (50, 9, "a value"),
]
#: The same for the results of one step with the record (0, 1) and the state (2.5,).
SMALL_RESULTS = pack_results([([(0, 1)], (2.5,))])
RESULTS_FIELDS = [
    (0, 8, "the magic"),
    (8, 4, "the version"),
    (12, 4, "the step count"),
    (16, 4, "a record count"),
    (20, 4, "an item length"),
    (24, 9, "a value"),
    (33, 9, "a value"),
    (42, 4, "an item length"),
    (46, 9, "a value"),
]


def _truncations(buf: bytes, fields: list[tuple[int, int, str]]) -> list[tuple[bytes, str]]:
    assert sum(size for _, size, _ in fields) == len(buf)
    cases = []
    for cut in range(len(buf)):
        start, size, field = next((s, n, f) for s, n, f in fields if s <= cut < s + n)
        message = (
            f"invalid packed batch: length = {cut} "
            f"(truncated: {field} needs {size} bytes at offset {start})"
        )
        cases.append((buf[:cut], message))
    return cases


def _with(buf: bytes, at: int, patch: bytes) -> bytes:
    return buf[:at] + patch + buf[at + len(patch) :]


MALFORMED = [
    *_truncations(SMALL, SMALL_FIELDS),
    (
        RESULTS_MAGIC + SMALL[8:],
        "invalid packed batch: magic = '4254434b52454353' (not a packed batch: expected BTCKSTEP)",
    ),
    (
        b"\x00\xff'\"\\xyz" + SMALL[8:],
        "invalid packed batch: magic = '00ff27225c78797a' (not a packed batch: expected BTCKSTEP)",
    ),
    (
        b"btckstep" + SMALL[8:],
        "invalid packed batch: magic = '6274636b73746570' (not a packed batch: expected BTCKSTEP)",
    ),
    (
        b"BTCKSTE",
        "invalid packed batch: length = 7 (truncated: the magic needs 8 bytes at offset 0)",
    ),
    (
        _with(SMALL, 8, struct.pack("<I", 2)),
        "invalid packed batch: version = 2 (unsupported: this core reads version 1)",
    ),
    (
        _with(SMALL, 8, struct.pack("<I", 0)),
        "invalid packed batch: version = 0 (unsupported: this core reads version 1)",
    ),
    (
        _with(SMALL, 8, struct.pack("<I", 2**32 - 1)),
        "invalid packed batch: version = 4294967295 (unsupported: this core reads version 1)",
    ),
    (
        _with(SMALL, 28, bytes([4])),
        "invalid packed batch: kind = 4 (unknown value kind at offset 28)",
    ),
    (
        _with(SMALL, 50, bytes([255])),
        "invalid packed batch: kind = 255 (unknown value kind at offset 50)",
    ),
    (
        _with(SMALL, 37, struct.pack("<Bq", KIND_BOOL, 2)),
        "invalid packed batch: payload = 2 (not a bool at offset 37)",
    ),
    (
        _with(SMALL, 37, struct.pack("<Bq", KIND_BOOL, -1)),
        "invalid packed batch: payload = -1 (not a bool at offset 37)",
    ),
    (
        _with(SMALL, 37, struct.pack("<Bq", KIND_NONE, 1)),
        "invalid packed batch: payload = 1 (not a None at offset 37)",
    ),
    (
        _with(SMALL, 50, struct.pack("<Bq", KIND_NONE, -(2**63))),
        "invalid packed batch: payload = -9223372036854775808 (not a None at offset 50)",
    ),
    (SMALL + b"\x00", "invalid packed batch: length = 60 (1 bytes after the last step)"),
    (SMALL + SMALL, "invalid packed batch: length = 118 (59 bytes after the last step)"),
    (
        _with(SMALL, 12, struct.pack("<I", 0)),
        "invalid packed batch: length = 59 (43 bytes after the last step)",
    ),
    (
        # more steps than the buffer holds: no huge allocation, a truncation
        _with(SMALL, 12, struct.pack("<I", 2**32 - 1)),
        "invalid packed batch: length = 59 (truncated: an event count needs 4 bytes at offset 59)",
    ),
    (
        _with(SMALL, 16, struct.pack("<I", 2**32 - 1)),
        "invalid packed batch: length = 59 (truncated: an item length needs 4 bytes at offset 59)",
    ),
    (
        _with(SMALL, 46, struct.pack("<I", 2**32 - 1)),
        "invalid packed batch: length = 59 (truncated: a value needs 9 bytes at offset 59)",
    ),
]


def _ids(cases: list[tuple[bytes, str]]) -> list[str]:
    return [f"{k}-{msg.split('(')[-1][:28]}" for k, (_, msg) in enumerate(cases)]


@pytest.mark.parametrize(("batch", "message"), MALFORMED, ids=_ids(MALFORMED))
def test_a_malformed_batch_is_refused_and_the_core_untouched(
    core_cls: Any, batch: bytes, message: str
) -> None:
    with pytest.raises(CoreInputError) as ref:
        unpack_steps(batch)
    assert str(ref.value) == message
    core = primed(core_cls)
    twin = primed(core_cls)
    before = core.snapshot()
    with pytest.raises(CoreInputError) as info:
        core.step_packed(batch)
    assert type(info.value) is CoreInputError
    assert str(info.value) == message
    assert info.value.what == WHAT
    assert (info.value.field, typed(info.value.value), info.value.reason) == (
        ref.value.field,
        typed(ref.value.value),
        ref.value.reason,
    )
    assert core.snapshot() == before
    # and it carries on as if nothing happened
    steps = stream()
    assert core.step_packed(pack_steps(steps)) == twin.step_packed(pack_steps(steps))


@pytest.mark.parametrize(
    ("buf", "message"),
    [
        *_truncations(SMALL_RESULTS, RESULTS_FIELDS),
        (
            SMALL,
            "invalid packed batch: magic = '4254434b53544550' "
            "(not a packed batch: expected BTCKRECS)",
        ),
        (
            _with(SMALL_RESULTS, 24, bytes([9])),
            "invalid packed batch: kind = 9 (unknown value kind at offset 24)",
        ),
        (
            SMALL_RESULTS + b"\x01\x02",
            "invalid packed batch: length = 57 (2 bytes after the last step)",
        ),
    ],
)
def test_malformed_results_are_refused(buf: bytes, message: str) -> None:
    with pytest.raises(CoreInputError, match="^invalid packed batch") as info:
        unpack_results(buf)
    assert str(info.value) == message


class _Bytes(bytes):
    pass


class _Outer:
    class Inner:
        pass


@pytest.mark.parametrize(
    ("batch", "name"),
    [
        (bytearray(SMALL), "bytearray"),
        (memoryview(SMALL), "memoryview"),
        (SMALL.decode("latin-1"), "str"),
        (None, "NoneType"),
        ([SMALL], "list"),
        (59, "int"),
        (datetime.date(2020, 1, 1), "date"),
        (_Outer.Inner(), "Inner"),
    ],
)
def test_a_batch_that_is_not_bytes_is_a_type_error(core_cls: Any, batch: Any, name: str) -> None:
    message = f"a packed batch must be bytes, not {name}"
    with pytest.raises(TypeError) as ref:
        unpack_steps(batch)
    assert str(ref.value) == message
    with pytest.raises(TypeError) as ref:
        unpack_results(batch)
    assert str(ref.value) == message
    core = primed(core_cls)
    before = core.snapshot()
    with pytest.raises(TypeError) as info:
        core.step_packed(batch)
    assert type(info.value) is TypeError
    assert str(info.value) == message
    assert core.snapshot() == before


def test_a_bytes_subclass_is_a_batch(core_cls: Any) -> None:
    steps = stream()
    out = primed(core_cls).step_packed(_Bytes(pack_steps(steps)))
    assert type(out) is bytes
    assert out == primed(core_cls).step_packed(pack_steps(steps))


UNSUPPORTED = "only None, bool, int and float can be packed"
BEYOND = "an int beyond 64 bits cannot be packed"


@pytest.mark.parametrize(
    ("steps", "field", "value", "reason"),
    [
        ([([[EV_POSITION, 0]], [])], "step 0 event 0", [EV_POSITION, 0], "not a tuple"),
        ([([], []), ([], [(0,), None])], "step 1 bar 1", None, "not a tuple"),
        ([([(EV_POSITION, "0")], [])], "step 0 event 0 item 1", "0", UNSUPPORTED),
        ([([], [(0, 1.0, b"x")])], "step 0 bar 0 item 2", b"x", UNSUPPORTED),
        ([([(EV_SET_CASH, 1 + 2j)], [])], "step 0 event 0 item 1", 1 + 2j, UNSUPPORTED),
        ([([], []), ([(EV_SET_CASH, 2**63)], [])], "step 1 event 0 item 1", 2**63, BEYOND),
        ([([], [(0, -(2**63) - 1)])], "step 0 bar 0 item 1", -(2**63) - 1, BEYOND),
        ([([], [(10**400,)])], "step 0 bar 0 item 0", 10**400, BEYOND),
    ],
)
def test_what_cannot_be_packed(steps: Any, field: str, value: Any, reason: str) -> None:
    with pytest.raises(CoreInputError) as info:
        pack_steps(steps)
    assert (info.value.what, info.value.field, info.value.reason) == (WHAT, field, reason)
    assert typed(info.value.value) == typed(value)
    assert str(info.value) == f"invalid packed batch: {field} = {value!r} ({reason})"


def test_results_that_cannot_be_packed() -> None:
    with pytest.raises(CoreInputError) as info:
        pack_results([([(0, 1)], (1.0,)), ([(0, 1), (2, 2**64)], (1.0,))])
    assert str(info.value) == (
        "invalid packed batch: step 1 record 1 item 1 = 18446744073709551616 "
        "(an int beyond 64 bits cannot be packed)"
    )
    with pytest.raises(CoreInputError, match="step 0 state = "):
        pack_results([([], [1.0])])


def test_malformed_buffers_fail_alike_on_both_cores() -> None:
    classes = (PyCore, rust_core())
    batches = [b for b, _ in MALFORMED] + [bytearray(SMALL), "x", None, _Bytes(b"BTCK")]
    for batch in batches:
        outcomes = []
        for cls in classes:
            core = primed(cls)
            before = core.snapshot()
            outcomes.append(outcome(lambda core=core, batch=batch: core.step_packed(batch)))
            assert core.snapshot() == before
        assert outcomes[0] == outcomes[1], batch
        assert outcomes[0][0] != "ok"


# -- errors of a step ------------------------------------------------------------------------
BAD_EVENTS = [
    ((EV_CANCEL, 99, False), "cancel event #1", "ref", 99, "unknown order ref"),
    ((EV_SET_CASH, float("nan")), "set_cash event #1", "cash", float("nan"), "not finite"),
    ((42,), "event #1", "tag", 42, "unknown event tag"),
    ((EV_POSITION, 0, 0), "position event #1", "length", 3, "expected 2"),
    (buy(5, 2**60, 9.0), "submit event #1", "size", 2**60, "int beyond 2**53"),
]


@pytest.mark.parametrize("k", [0, 1, 3])
@pytest.mark.parametrize(
    ("bad", "what", "field", "value", "reason"), BAD_EVENTS, ids=[b[1] for b in BAD_EVENTS]
)
def test_an_input_error_in_step_k_names_it_and_restores_the_core(
    core_cls: Any, k: int, bad: Any, what: str, field: str, value: Any, reason: str
) -> None:
    steps = stream(n=4)
    events, bars = steps[k]
    steps[k] = ([events[0], bad, *events[1:]], bars)
    # the tuple path: the steps before k run, step k is refused
    ref = primed(core_cls)
    tuple_path(ref, steps[:k])
    with pytest.raises(CoreInputError) as expected:
        ref.step(*steps[k])
    assert (expected.value.what, expected.value.field, expected.value.reason) == (
        what,
        field,
        reason,
    )
    # the packed path: the same error, naming step k, and nothing of the batch applied
    core = primed(core_cls)
    before = core.snapshot()
    with pytest.raises(CoreInputError) as info:
        core.step_packed(pack_steps(steps))
    err = info.value
    assert type(err) is CoreInputError
    assert err.what == f"{what} of step {k}"
    assert (err.field, typed(err.value), err.reason) == (field, typed(value), reason)
    assert str(err) == f"invalid {what} of step {k}: {field} = {value!r} ({reason})"
    assert core.snapshot() == before
    # the restored core goes on exactly as one that never saw the batch
    good = stream(first_ref=20, n=3)
    assert core.step_packed(pack_steps(good)) == primed(core_cls).step_packed(pack_steps(good))


def test_an_error_that_is_no_input_error_restores_the_core_too(core_cls: Any) -> None:
    """A cancel of a history order of the same batch is a KeyError in both cores (as in
    BackBroker): it propagates unchanged, and the steps before it are undone."""
    hist = (EV_HISTORY,) + buy(7, 5, 3.0, exectype=EXEC_HISTORICAL, check=False, notified=False)[1:]
    steps = [*stream(n=2), ([hist, (EV_CANCEL, 7, False)], [bar(5.0)])]
    ref = primed(core_cls)
    tuple_path(ref, steps[:2])
    expected = outcome(lambda: ref.step(*steps[2]))
    assert expected[0] == "KeyError"
    core = primed(core_cls)
    before = core.snapshot()
    assert outcome(lambda: core.step_packed(pack_steps(steps))) == expected
    assert core.snapshot() == before


def test_a_step_the_tuple_path_leaves_half_done_is_undone(core_cls: Any) -> None:
    """A fund value of 0 divides by zero (a ZeroDivisionError, as in BackBroker) after the
    step registered its data: the tuple path keeps what ran before the error, a batch keeps
    nothing."""
    second = data_event(1)
    steps = [
        ([STOCK], [bar(1.0)]),
        ([second, (EV_FUND, 0.0, 1000.0)], [bar(2.0), bar_tuple(1, 2.0, 5.0, 6.0, 4.0, 5.0)]),
    ]
    ref = core_cls(1000.0, True, True, 100.0)
    tuple_path(ref, steps[:1])
    half = ref.snapshot()
    expected = outcome(lambda: ref.step(*steps[1]))
    assert expected == ("ZeroDivisionError", "float division by zero")
    assert ref.snapshot() != half  # half done
    core = core_cls(1000.0, True, True, 100.0)
    before = core.snapshot()
    assert outcome(lambda: core.step_packed(pack_steps(steps))) == expected
    assert core.snapshot() == before


# -- user code -------------------------------------------------------------------------------
class Boom(Exception):
    pass


class UserCode:
    """A filler and a CommInfo override that log their calls; ``fail_at`` makes call number
    ``fail_at`` raise (``"raise"``) or answer ``None`` (``"none"``, refused by the core)."""

    def __init__(self, fail_at: int = 0, how: str = "raise") -> None:
        self.log: list[Any] = []
        self.fail_at, self.how = fail_at, how
        self.raised: Boom | None = None

    def _tick(self, entry: Any) -> bool:
        self.log.append(entry)
        if len(self.log) == self.fail_at:
            if self.how == "raise":
                self.raised = Boom(f"user code failed at call {len(self.log)}")
                raise self.raised
            return True
        return False

    def filler(self, ref: int, price: float, ago: int) -> Any:
        if self._tick(("filler", ref, price, ago)):
            return None
        return 1 + (ref + len(self.log)) % 3

    def comm(self, data: int, method: str, *args: Any) -> Any:
        if self._tick(("comm", data, method, args)):
            return None
        assert method == "_getcommission"
        size, price, pseudoexec = args
        return abs(size) * price * 0.0005 + (0.25 if pseudoexec else 0.5)


FILLER_CONFIG = (EV_CONFIG, True, True, False, False, 0.0, 0.0, False, True, True, False,
                 FILLER_CALLBACK, 0, 0, 0, True)  # fmt: skip


def user_steps() -> list[tuple[list[Any], list[Any]]]:
    """A filler callback and a ``_getcommission`` override (bit 0), orders of 5 filled a bit
    at a time."""
    steps = [([data_event(0, overrides=1), FILLER_CONFIG], [bar(1.0)])]
    for k in range(1, 7):
        dt = 1.0 + k
        events = [buy(k, 5, dt)] if k < 4 else []
        steps.append((events, [bar(dt, 100.0 + k)]))
    return steps


def test_user_callables_through_step_packed(core_cls: Any) -> None:
    steps = user_steps()
    ref_code, code = UserCode(), UserCode()
    expected = tuple_path(core_cls(), steps, ref_code.filler, ref_code.comm)
    out = core_cls().step_packed(pack_steps(steps), code.filler, code.comm)
    assert typed(unpack_results(out)) == typed(expected)
    assert code.log == ref_code.log
    kinds = {entry[0] for entry in code.log}
    assert kinds == {"filler", "comm"}
    assert sum(r[0] == REC_EXECUTED for records, _ in expected for r in records) > 3
    # keywords too
    again = UserCode()
    assert core_cls().step_packed(pack_steps(steps), comm=again.comm, filler=again.filler) == out


@pytest.mark.parametrize("fail_at", [1, 4, 9])
def test_user_code_that_raises_propagates_and_restores_the_core(
    core_cls: Any, fail_at: int
) -> None:
    steps = user_steps()
    ref_code = UserCode(fail_at)
    ref = core_cls()
    with pytest.raises(Boom):
        tuple_path(ref, steps, ref_code.filler, ref_code.comm)
    code = UserCode(fail_at)
    core = core_cls()
    core.step_packed(pack_steps(steps[:1]), code.filler, code.comm)
    before = core.snapshot()
    with pytest.raises(Boom) as info:
        core.step_packed(pack_steps(steps[1:]), code.filler, code.comm)
    assert info.value is code.raised
    assert str(info.value) == f"user code failed at call {fail_at}"
    assert code.log == ref_code.log
    assert core.snapshot() == before


def test_a_refused_user_answer_names_its_step(core_cls: Any) -> None:
    steps = user_steps()
    ref_code = UserCode(7, "none")  # the filler's second call answers None
    failed_at, expected = first_failure(core_cls(), steps, ref_code.filler, ref_code.comm)
    assert expected[0] == "CoreInputError"
    assert expected[2:4] == ("filler result", "size")
    code = UserCode(7, "none")
    core = core_cls()
    before = core.snapshot()
    with pytest.raises(CoreInputError) as info:
        core.step_packed(pack_steps(steps), code.filler, code.comm)
    err = info.value
    assert err.what == f"{expected[2]} of step {failed_at}"
    assert (err.field, typed(err.value), err.reason) == expected[3:]
    assert core.snapshot() == before
    assert code.log == ref_code.log


def first_failure(core: Any, steps: Any, *hooks: Any) -> tuple[int, tuple[Any, ...]]:
    """The index of the first step the tuple path refuses, and its outcome."""
    for k, (events, bars) in enumerate(steps):
        got = outcome(lambda events=events, bars=bars: core.step(events, bars, *hooks))
        if got[0] != "ok":
            return k, got
    raise AssertionError("no step failed")


def test_a_commission_of_none_fails_as_in_the_tuple_path(core_cls: Any) -> None:
    """A ``_getcommission`` override answering None: BackBroker's arithmetic fails (a
    TypeError, no input error); the packed path raises the same and restores the core."""
    steps = user_steps()
    ref_code = UserCode(4, "none")
    _, expected = first_failure(core_cls(), steps, ref_code.filler, ref_code.comm)
    assert expected[0] == "TypeError"
    code = UserCode(4, "none")
    core = core_cls()
    before = core.snapshot()
    assert outcome(lambda: core.step_packed(pack_steps(steps), code.filler, code.comm)) == expected
    assert core.snapshot() == before
    assert code.log == ref_code.log


def test_a_filler_callback_without_callable(core_cls: Any) -> None:
    steps = user_steps()
    k, expected = first_failure(core_cls(), steps, None, UserCode().comm)
    core = core_cls()
    before = core.snapshot()
    got = outcome(lambda: core.step_packed(pack_steps(steps), None, UserCode().comm))
    assert got[0] == expected[0]
    if got[0] == "CoreInputError":
        assert got[2] == f"{expected[2]} of step {k}"
        assert got[3:] == expected[3:]
    else:
        assert got == expected
    assert core.snapshot() == before


class UserInputError(CoreInputError):
    """A user's own subclass of CoreInputError, raised by its CommInfo override or filler."""


@pytest.mark.parametrize("exc_cls", [CoreInputError, UserInputError])
def test_a_core_input_error_raised_by_user_code_propagates_unchanged(
    core_cls: Any, exc_cls: type
) -> None:
    """The user's exception propagates as it is, as with any other exception of user code (and
    as ``step`` does): same object, same class, no ``of step k``; the core is restored."""
    raised: list[BaseException] = []

    def filler(ref: int, price: float, ago: int) -> Any:
        exc = exc_cls("user check", "size", 1, "refused by the user")
        raised.append(exc)
        raise exc

    steps = user_steps()
    code = UserCode()
    ref = core_cls()
    with pytest.raises(exc_cls) as expected:
        tuple_path(ref, steps, filler, code.comm)
    assert expected.value is raised[-1]  # the tuple path: the user's exception itself
    core = core_cls()
    before = core.snapshot()
    with pytest.raises(CoreInputError) as info:
        core.step_packed(pack_steps(steps), filler, UserCode().comm)
    assert core.snapshot() == before
    assert str(info.value) == "invalid user check: size = 1 (refused by the user)"
    assert type(info.value) is exc_cls
    assert info.value is raised[-1]


# -- outputs that cannot be packed -------------------------------------------------------------
def test_an_order_ref_beyond_64_bits_cannot_be_packed(core_cls: Any) -> None:
    ref = 2**63  # within the cores' refs (u64), beyond the layout's int (i64)
    core = core_cls(10000.0, True, True, 100.0)
    core.step([STOCK, buy(ref, 1, 1.0)], [bar(1.0)])
    before = core.snapshot()
    batch = pack_steps([([], [bar(2.0)])])
    with pytest.raises(CoreInputError) as info:
        core.step_packed(batch)
    assert str(info.value) == (
        "invalid packed batch: step 0 record 0 item 1 = 9223372036854775808 "
        "(an int beyond 64 bits cannot be packed)"
    )
    assert (info.value.what, info.value.field, info.value.value) == (
        WHAT,
        "step 0 record 0 item 1",
        ref,
    )
    assert type(info.value.value) is int
    assert core.snapshot() == before
    # the tuple path has no such limit
    records, _ = core.step([], [bar(2.0)])
    assert records[0][:2] == (REC_EXECUTED, ref)


def test_an_int_position_beyond_64_bits_cannot_be_packed(core_cls: Any) -> None:
    size = 2**53 - 1  # the largest int size; 1025 fills pass 2**63
    orders = [buy(k, size, 1.0, price=1e-6, check=False) for k in range(1, 1101)]
    core = core_cls(1e30, False, True, 100.0)
    core.step([STOCK, *orders], [bar(1.0, 1e-6)])
    before = core.snapshot()
    with pytest.raises(CoreInputError) as info:
        core.step_packed(pack_steps([([(EV_ADD_CASH, 1.0)], [bar(2.0, 1e-6)])]))
    assert info.value.field == "step 0 record 1025 item 12"  # psize after the 1025th fill
    assert info.value.value == 1025 * size
    assert info.value.reason == "an int beyond 64 bits cannot be packed"
    assert core.snapshot() == before
