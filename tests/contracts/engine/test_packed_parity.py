"""Packed batches against the tuple path, on real and synthetic streams, on both cores.

* Every golden recording (``fixtures/core/*.json``: the calls a real Backtrader run sent) is
  replayed with its successful steps grouped into ``step_packed`` batches, cut at several
  points (packed then tuples, tuples then packed, alternating chunks, one step per batch):
  every step gives exactly the recorded records and state (types and float bits). A recorded
  refused step is also sent inside a batch: the error names its step and the core is restored.
* The seeded scenarios of the differential test (``test_python_rust_core_parity.py``: every
  order kind, brackets, OCO, fillers, user CommInfo overrides, interest, history, fund) become
  step streams, run through the tuple path and through ``step_packed`` in pieces.
* The ``core-only`` benchmark stream (``bench.make_core_stream``).

Each core is checked on its own (``backend``), and the Python and the Rust core must return the
same bytes for every batch.
"""

from __future__ import annotations

import importlib.util
import json
import random
import struct
from collections.abc import Callable, Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import pytest

from bt_cracktrader import bench
from bt_cracktrader.core import CoreInputError, PyCore, load_core, rust_core
from bt_cracktrader.core.packed import pack_steps, unpack_results

HERE = Path(__file__).resolve().parent
FIXTURES = sorted((HERE.parents[2] / "fixtures" / "core").glob("*.json"))
IDS = [p.stem for p in FIXTURES]

Step = tuple[list[Any], list[Any]]


def typed(obj: Any) -> Any:
    """Types and float bits (``==`` lets ``1 == 1.0`` and ``0.0 == -0.0`` pass); lists and
    tuples alike, as a recording stores tuples as JSON lists."""
    if isinstance(obj, dict):
        return {k: typed(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [typed(v) for v in obj]
    if isinstance(obj, float):
        return ("float", struct.pack("<d", obj).hex())
    return (type(obj).__name__, obj)


def _tuples(rows: Sequence[Any]) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in rows]


# -- plans: which steps go packed, and in batches of how many ------------------------------------
#: ``name -> (packed(i, n), max batch)``: step ``i`` of ``n`` goes through ``step_packed`` when
#: ``packed`` says so; consecutive packed steps form batches of at most ``max batch`` steps.
PLANS: dict[str, tuple[Callable[[int, int], bool], int]] = {
    "all-packed": (lambda i, n: True, 1 << 30),
    "one-step-batches": (lambda i, n: True, 1),
    "tuples-then-packed": (lambda i, n: i >= n // 3, 1 << 30),
    "packed-then-tuples": (lambda i, n: i < 2 * n // 3, 1 << 30),
    "chunks": (lambda i, n: (i // 7) % 2 == 0, 5),
    "random-cuts": (lambda i, n: random.Random(i * 7919).random() < 0.7, 23),
}


# -- golden recordings -----------------------------------------------------------------------
@cache
def _recording(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _ordinary(core: Any, call: dict[str, Any]) -> dict[str, Any]:
    """One recorded call through the tuple path, shaped as the recording (as ``replay``)."""
    kind = call["call"]
    try:
        if kind == "step":
            records, state = core.step(_tuples(call["events"]), _tuples(call["bars"]))
            return {"records": records, "state": state}
        if kind == "apply":
            return {"records": core.apply(_tuples(call["events"]))}
        assert kind == "value_of", kind
        value, state = core.value_of(call["datas"], call["closes"], call["lever"])
        return {"value": value, "state": state}
    except CoreInputError as exc:
        return {
            "error": {"what": exc.what, "field": exc.field, "reason": exc.reason},
            "state": core.state(),
        }


def _expected(call: dict[str, Any]) -> dict[str, Any]:
    return {k: call[k] for k in ("records", "state", "value", "error") if k in call}


def replay_packed(recording: dict[str, Any], core_cls: Any, plan: str) -> list[bytes]:
    """Replay ``recording`` on a fresh core, its successful steps packed as ``plan`` says;
    assert every call's outcome is the recorded one. Returns the packed outputs."""
    packed, max_batch = PLANS[plan]
    init = recording["init"]
    core = core_cls(init["cash"], init["checksubmit"], init["shortcash"], init["fundstartval"])
    calls = recording["calls"]
    steps = [i for i, c in enumerate(calls) if c["call"] == "step"]
    n = len(steps)
    rank = {i: k for k, i in enumerate(steps)}
    pending: list[int] = []
    blobs: list[bytes] = []
    refused_in_batch = 0

    def batch_of(indices: list[int]) -> bytes:
        return pack_steps((_tuples(calls[i]["events"]), _tuples(calls[i]["bars"])) for i in indices)

    def flush() -> None:
        if not pending:
            return
        out = core.step_packed(batch_of(pending))
        blobs.append(out)
        results = unpack_results(out)
        assert len(results) == len(pending)
        for i, (records, state) in zip(pending, results):
            got = {"records": records, "state": state}
            if typed(got) != typed(_expected(calls[i])):
                raise AssertionError(f"call #{i} (packed step) differs: {got!r}")
        pending.clear()

    for i, call in enumerate(calls):
        is_step = call["call"] == "step"
        if is_step and packed(rank[i], n):
            if "error" not in call:
                pending.append(i)
                if len(pending) >= max_batch:
                    flush()
                continue
            # a refused step inside a batch: it names its step, nothing of the batch stays
            before = core.snapshot()
            with pytest.raises(CoreInputError) as info:
                core.step_packed(batch_of([*pending, i]))
            err, want = info.value, call["error"]
            assert err.what == f"{want['what']} of step {len(pending)}"
            assert (err.field, err.reason) == (want["field"], want["reason"])
            assert core.snapshot() == before
            refused_in_batch += 1
        flush()
        got = _ordinary(core, call)
        if typed(got) != typed(_expected(call)):
            raise AssertionError(f"call #{i} ({call['call']}) differs: {got!r}")
    flush()
    if all(packed(k, n) for k in range(n)):
        errors = sum("error" in c for c in calls if c["call"] == "step")
        assert refused_in_batch == errors
    return blobs


def test_the_recordings_exist() -> None:
    assert len(FIXTURES) >= 5


@pytest.mark.parametrize("plan", list(PLANS))
@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_a_recording_replays_through_packed_batches(core_cls: Any, path: Path, plan: str) -> None:
    blobs = replay_packed(_recording(path), core_cls, plan)
    assert blobs
    if plan == "one-step-batches":
        steps = [c for c in _recording(path)["calls"] if c["call"] == "step" and "error" not in c]
        assert len(blobs) == len(steps)


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_both_cores_pack_a_recording_into_the_same_bytes(path: Path) -> None:
    for plan in ("all-packed", "random-cuts"):
        python = replay_packed(_recording(path), PyCore, plan)
        rust = replay_packed(_recording(path), rust_core(), plan)
        assert len(python) == len(rust)
        for k, (a, b) in enumerate(zip(python, rust)):
            assert a == b, f"{plan}: batch {k} differs"


# -- step streams ----------------------------------------------------------------------------
def run_plan(core: Any, steps: Sequence[Step], plan: str, *hooks: Any) -> tuple[list[Any], list]:
    """``steps`` on ``core``, through ``step`` or ``step_packed`` as ``plan`` says: every
    step's ``(records, state)`` and the packed outputs."""
    packed, max_batch = PLANS[plan]
    n = len(steps)
    results: list[Any] = []
    blobs: list[bytes] = []
    k = 0
    while k < n:
        if packed(k, n):
            end = k
            while end < n and end - k < max_batch and packed(end, n):
                end += 1
            out = core.step_packed(pack_steps(steps[k:end]), *hooks)
            blobs.append(out)
            results.extend(unpack_results(out))
            k = end
        else:
            results.append(core.step(*steps[k], *hooks))
            k += 1
    return results, blobs


def check_stream(
    make_core: Callable[[], Any],
    steps: Sequence[Step],
    make_hooks: Callable[[], tuple[Any, ...]] = tuple,
    plans: Sequence[str] = tuple(PLANS),
) -> list[Any]:
    """Every plan gives the tuple path's results (and the same calls to user code)."""
    hooks = make_hooks()
    core = make_core()
    expected = [core.step(events, bars, *hooks) for events, bars in steps]
    calls = getattr(hooks[0], "__self__", None) if hooks else None
    for plan in plans:
        plan_hooks = make_hooks()
        got, blobs = run_plan(make_core(), steps, plan, *plan_hooks)
        assert typed(got) == typed(expected), plan
        if plan == "one-step-batches":
            assert len(blobs) == len(steps)
        if calls is not None:
            assert plan_hooks[0].__self__.log == calls.log, plan
    return expected


@pytest.fixture(scope="module")
def core_stream() -> bench.CoreStream:
    return bench.make_core_stream(240)


def test_the_benchmark_stream_packed_and_in_tuples(
    core_cls: Any, core_stream: bench.CoreStream
) -> None:
    expected = check_stream(lambda: core_cls(*core_stream.init), core_stream.steps)
    assert sum(len(records) for records, _ in expected) > 1000
    # the whole stream in one crossing
    out = core_cls(*core_stream.init).step_packed(pack_steps(core_stream.steps))
    assert typed(unpack_results(out)) == typed(expected)
    # and the reference the benchmark compares with: the Python core's tuple path
    assert typed(bench.run_core_stream(PyCore, core_stream)) == typed(expected)


def test_both_cores_pack_the_benchmark_stream_into_the_same_bytes(
    core_stream: bench.CoreStream,
) -> None:
    batch = pack_steps(core_stream.steps)
    python = PyCore(*core_stream.init).step_packed(batch)
    rust = rust_core()(*core_stream.init).step_packed(batch)
    assert python == rust
    for plan in ("chunks", "random-cuts"):
        a = run_plan(PyCore(*core_stream.init), core_stream.steps, plan)[1]
        b = run_plan(rust_core()(*core_stream.init), core_stream.steps, plan)[1]
        assert a == b, plan


# -- the differential test's scenarios -------------------------------------------------------
@lru_cache(maxsize=1)
def _differential() -> Any:
    """``test_python_rust_core_parity.py`` as a module (its scenario generator)."""
    path = HERE / "test_python_rust_core_parity.py"
    spec = importlib.util.spec_from_file_location("_packed_parity_scenarios", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: Seeds whose user filler never answers a refused value (those refusals are for the
#: differential test; here a refused step would only cut the stream short).
SEEDS = [s for s in range(1, 60) if s % 5 and s % 7][:30]
SCENARIO_STEPS = 120


@cache
def scenario(seed: int) -> tuple[tuple[Any, ...], tuple[Step, ...]]:
    """The starting snapshot and the steps of the differential test's scenario ``seed`` (valid
    events and bars only; a step the reference core refuses is left out)."""
    diff = _differential()
    sc = diff.Scenario(seed)
    start = sc.py.snapshot()
    user = diff.Callbacks(seed)
    steps: list[Step] = []
    for _ in range(SCENARIO_STEPS):
        events = sc.valid_events()
        bars = sc.bars(events)
        calls, before = len(user.log), sc.py.snapshot()
        try:
            sc.py.step(events, bars, user.filler, user.comm)
        except Exception:  # noqa: BLE001 - a refused step is left out of the stream
            # and so is what it did: an error that is no input error (a ZeroDivisionError, as
            # in BackBroker) can leave a step half done, and user code answers by call count
            sc.py = PyCore.restore(before)
            del user.log[calls:]
            continue
        steps.append((events, bars))
    return start, tuple(steps)


def _scenario_hooks(seed: int) -> Callable[[], tuple[Any, ...]]:
    def make() -> tuple[Any, ...]:
        user = _differential().Callbacks(seed)
        return (user.filler, user.comm)

    return make


def _clean_prefix(core_cls: Any, start: Any, steps: Sequence[Step], seed: int) -> int:
    """How many steps the tuple path runs before the first refusal (user code answers by
    call count, so a left-out step can shift its answers)."""
    core = core_cls.restore(start)
    filler, comm = _scenario_hooks(seed)()
    for k, (events, bars) in enumerate(steps):
        try:
            core.step(events, bars, filler, comm)
        except Exception:  # noqa: BLE001 - the first failure ends the clean prefix
            return k
    return len(steps)


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed_{s}" for s in SEEDS])
def test_a_differential_scenario_packed_and_in_tuples(core_cls: Any, seed: int) -> None:
    start, steps = scenario(seed)
    assert len(steps) > SCENARIO_STEPS // 2
    assert _clean_prefix(core_cls, start, steps, seed) == len(steps)
    check_stream(lambda: core_cls.restore(start), steps, _scenario_hooks(seed))


@pytest.mark.parametrize("seed", SEEDS[:6], ids=[f"seed_{s}" for s in SEEDS[:6]])
def test_a_refused_last_step_undoes_a_whole_scenario(core_cls: Any, seed: int) -> None:
    start, steps = scenario(seed)
    bad: Step = ([(3, 10**9, False)], list(steps[-1][1]))  # a cancel of an unknown ref
    core = core_cls.restore(start)
    before = core.snapshot()
    with pytest.raises(CoreInputError) as info:
        core.step_packed(pack_steps([*steps, bad]), *_scenario_hooks(seed)())
    assert str(info.value) == (
        f"invalid cancel event #0 of step {len(steps)}: ref = 1000000000 (unknown order ref)"
    )
    assert core.snapshot() == before
    # and the core goes on as if the batch never came
    hooks = _scenario_hooks(seed)()
    out = core.step_packed(pack_steps(steps), *hooks)
    assert out == core_cls.restore(start).step_packed(pack_steps(steps), *_scenario_hooks(seed)())


def test_the_scenarios_reach_every_record_kind() -> None:
    kinds: set[int] = set()
    user_calls = 0
    for seed in SEEDS:
        start, steps = scenario(seed)
        filler, comm = _scenario_hooks(seed)()
        core = PyCore.restore(start)
        out = unpack_results(core.step_packed(pack_steps(steps), filler, comm))
        kinds |= {record[0] for records, _ in out for record in records}
        user_calls += len(filler.__self__.log)
    assert kinds == set(range(11))
    assert user_calls > 100


@pytest.mark.parametrize("seed", SEEDS[:12], ids=[f"seed_{s}" for s in SEEDS[:12]])
def test_both_cores_pack_a_scenario_into_the_same_bytes(seed: int) -> None:
    start, steps = scenario(seed)
    n = _clean_prefix(PyCore, start, steps, seed)
    outputs = []
    for cls in (PyCore, rust_core()):
        hooks = _scenario_hooks(seed)()
        out = cls.restore(start).step_packed(pack_steps(steps[:n]), *hooks)
        outputs.append((out, hooks[0].__self__.log))
    assert outputs[0][0] == outputs[1][0]
    assert outputs[0][1] == outputs[1][1]


def test_the_backends_under_test_are_loadable(backend: str) -> None:
    cls, name = load_core(backend)
    assert name == backend
    assert callable(cls.step_packed)
