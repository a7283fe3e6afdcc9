"""Snapshots of the core: versioned plain data that restores on either backend.

For every golden fixture, a core of one backend is cut at ~20 points of its recording; its
snapshot is restored on a core of each backend, which replays the rest of the recording and must
give exactly its records and states (types and float bits). The two cores write exactly the same
snapshot for the same state at every call; unknown versions and malformed snapshots are refused
with the same ``CoreInputError`` by both; snapshots survive JSON and pickling.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bt_cracktrader.core import CoreInputError, load_core
from bt_cracktrader.core.contract import bar_tuple, data_event, submit_event
from bt_cracktrader.core.pycore import PyCore
from bt_cracktrader.core.replay import _plain, _tuples, _typed
from bt_cracktrader.core.snapshot import (
    SNAPSHOT_FIELDS,
    SNAPSHOT_VERSION,
    check_snapshot,
    restore_pycore,
)

FIXTURES = sorted((Path(__file__).resolve().parents[3] / "fixtures" / "core").glob("*.json"))
IDS = [p.stem for p in FIXTURES]
#: Cut points per fixture (every call for a fixture with fewer calls).
CUTS = 20
TARGETS = [
    name.strip()
    for name in os.environ.get("BT_CRACKTRADER_TEST_BACKENDS", "python,rust").split(",")
    if name.strip()
]


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _core(backend: str, init: dict[str, Any]) -> Any:
    cls, _ = load_core(backend)
    return cls(init["cash"], init["checksubmit"], init["shortcash"], init["fundstartval"])


def _call(core: Any, call: dict[str, Any]) -> dict[str, Any]:
    """One recorded call on ``core``, its outcome shaped as the recording's (as ``replay``)."""
    kind = call["call"]
    try:
        if kind == "step":
            records, state = core.step(_tuples(call["events"]), _tuples(call["bars"]))
            return {"records": _plain(records), "state": _plain(state)}
        if kind == "apply":
            return {"records": _plain(core.apply(_tuples(call["events"])))}
        value, state = core.value_of(call["datas"], call["closes"], call["lever"])
        return {"value": value, "state": _plain(state)}
    except CoreInputError as exc:
        error = {"what": exc.what, "field": exc.field, "reason": exc.reason}
        return {"error": error, "state": _plain(core.state())}


def _expected(call: dict[str, Any]) -> dict[str, Any]:
    return {k: call[k] for k in ("records", "state", "value", "error") if k in call}


def _replay(core: Any, calls: Sequence[dict[str, Any]], start: int, ctx: str) -> None:
    for i, call in enumerate(calls, start):
        got = _call(core, call)
        assert _typed(got) == _typed(_expected(call)), f"{ctx}: call #{i} differs"


def _exact(obj: Any) -> Any:
    """Types, float bits and tuple-ness: a snapshot must be tuples all the way down."""
    if isinstance(obj, tuple):
        return ("tuple", [_exact(x) for x in obj])
    if isinstance(obj, list):
        return ("list", [_exact(x) for x in obj])
    return _typed(obj)


def _cuts(n: int) -> list[int]:
    if n <= CUTS:
        return list(range(n + 1))
    return sorted({round(k * n / CUTS) for k in range(CUTS + 1)})


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_restore_mid_stream_on_either_backend_replays_the_rest_identically(
    backend: str, target: str, path: Path
) -> None:
    fx = _load(path)
    calls = fx["calls"]
    source = _core(backend, fx["init"])
    cls, _ = load_core(target)
    done = 0
    for cut in _cuts(len(calls)):
        _replay(source, calls[done:cut], done, f"{path.stem} on {backend}")
        done = cut
        snap = source.snapshot()
        assert snap[0] == SNAPSHOT_VERSION and len(snap) == len(SNAPSHOT_FIELDS)
        restored = cls.restore(snap)
        assert type(restored) is cls
        assert _exact(restored.snapshot()) == _exact(snap), f"{path.stem}: cut {cut}"
        assert _typed(restored.state()) == _typed(source.state())
        _replay(restored, calls[cut:], cut, f"{path.stem}: {backend} -> {target} at {cut}")
    _replay(source, calls[done:], done, f"{path.stem} on {backend}")


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_both_cores_write_the_same_snapshot_at_every_call(path: Path) -> None:
    fx = _load(path)
    cores = [_core(backend, fx["init"]) for backend in TARGETS]

    def same_snapshots(ctx: str) -> None:
        # repr of plain data is exact too (1 vs 1.0 vs True, -0.0, shortest round-trip floats,
        # tuples vs lists) and much faster than _exact on thousands of orders per call
        snaps = [repr(core.snapshot()) for core in cores]
        assert all(snap == snaps[0] for snap in snaps), ctx

    same_snapshots(f"{path.stem}: new cores")
    for i, call in enumerate(fx["calls"]):
        outs = [_typed(_call(core, call)) for core in cores]
        assert all(out == _typed(_expected(call)) for out in outs), f"{path.stem}: call #{i}"
        same_snapshots(f"{path.stem}: call #{i}")
    assert all(_exact(core.snapshot()) == _exact(cores[0].snapshot()) for core in cores)


def _busy(backend: str) -> Any:
    """A core holding a bit of everything: a held bracket, an OCO pair, history, cash to add,
    a fund row, credit interest, positions."""
    fx = _load(FIXTURES[0])
    core = _core(backend, fx["init"])
    for call in fx["calls"][: len(fx["calls"]) // 2]:
        _call(core, call)
    return core


def _snapshot_error(backend: str, snapshot: object) -> tuple[str, ...]:
    cls, _ = load_core(backend)
    with pytest.raises(CoreInputError) as info:
        cls.restore(snapshot)
    exc = info.value
    return (type(exc).__name__, str(exc), exc.what, exc.field, repr(exc.value), exc.reason)


@pytest.mark.parametrize("version", [2, 4, 0, -1, "3", None, True, 3.0, 2**70])
def test_unknown_snapshot_versions_are_refused_alike(version: object) -> None:
    snap = PyCore().snapshot()
    bad = (version, *snap[1:])
    errors = [_snapshot_error(backend, bad) for backend in TARGETS]
    assert errors[0][3] == "version" and errors[0][4] == repr(version)
    assert "unknown snapshot version (this core reads 3)" in errors[0][1]
    assert all(err == errors[0] for err in errors)
    # and pickles of another version: RustCore unpickles through __setstate__, PyCore through
    # restore_pycore
    unpickle = {"python": lambda: restore_pycore(PyCore, bad)}
    if "rust" in TARGETS:
        unpickle["rust"] = lambda: load_core("rust")[0]().__setstate__(bad)
    for backend in TARGETS:
        with pytest.raises(CoreInputError, match="unknown snapshot version"):
            unpickle[backend]()


def _malformed(snap: tuple[Any, ...]) -> list[object]:
    def put(at: Sequence[int], value: object) -> Any:
        def rebuild(obj: Any, path: Sequence[int]) -> Any:
            if not path:
                return value
            items = list(obj)
            items[path[0]] = rebuild(items[path[0]], path[1:])
            return tuple(items)

        return rebuild(snap, at)

    order = snap[5][0]
    return [
        None,
        (),
        [],
        "3",
        snap[:-1],
        (*snap, None),
        put([1], None),
        put([1, 0], 1),
        put([1, 10], 9),
        put([1, 10], True),
        put([2, 0], "1"),
        put([2, 0], True),
        put([2, 0], 2**130),
        put([3, 0, 7], 0.0),
        put([3, 0, 7], float("nan")),
        put([3, 0, 10], 1 << 12),
        put([3, 0, 11], 7),
        put([3], (*snap[3], snap[3][0])),
        put([4, 0, 0], 9),
        put([4, 0, 5], 1.0),
        put([4, 0], (0, 1, 1.0, None, 1.0)),
        put([4], (*snap[4], snap[4][0])),
        put([5, 0, 0], -1),
        put([5, 0, 1], 9),
        put([5, 0, 5], 8),
        put([5, 0, 15], -2),
        put([5, 0, 18], 4),
        put([5, 0, 21], "x"),
        put([5], (*snap[5], order[:-1])),
        put([6], (len(snap[5]),)),
        put([7], (-1, len(snap[5]))),
        put([7], (-2,)),
        put([8], (1.0,)),
        put([9], ((1, (len(snap[5]),)),)),
        put([10], ((10**6, 1),)),
        put([11], ((1, 2),)),
        put([12], ((9, 1.0),)),
        put([13], (None,)),
        put([14], ((1,),)),
        put([15], (1.0,)),
        put([15], (1.0, None)),
    ]


def test_malformed_snapshots_are_refused_alike() -> None:
    snap = _busy("python").snapshot()
    assert snap[5] and snap[4] and snap[3]
    for bad in _malformed(snap):
        errors = [_snapshot_error(backend, bad) for backend in TARGETS]
        assert all(err == errors[0] for err in errors), (bad, errors)
        assert errors[0][2] == "snapshot"


def test_check_snapshot_accepts_what_the_cores_write() -> None:
    snap = _busy("python").snapshot()
    assert _exact(check_snapshot(snap)) == _exact(snap)
    assert _exact(check_snapshot(json.loads(json.dumps(snap)))) == _exact(snap)


def _is_plain(obj: object) -> bool:
    if isinstance(obj, tuple):
        return all(_is_plain(x) for x in obj)
    return obj is None or type(obj) in (int, float, bool)


def test_snapshots_are_plain_data_and_survive_json(backend: str) -> None:
    core = _busy(backend)
    snap = core.snapshot()
    assert _is_plain(snap)
    for target in TARGETS:
        cls, _ = load_core(target)
        moved = cls.restore(json.loads(json.dumps(snap)))
        assert _exact(moved.snapshot()) == _exact(snap)


def test_pickling_goes_through_the_snapshot(backend: str) -> None:
    core = _busy(backend)
    clone = pickle.loads(pickle.dumps(core))
    assert type(clone) is type(core)
    assert _exact(clone.snapshot()) == _exact(core.snapshot())
    fx = _load(FIXTURES[0])
    half = len(fx["calls"]) // 2
    _replay(clone, fx["calls"][half:], half, "pickled clone")
    if backend == "python":
        fn, args = core.__reduce__()
        assert fn is restore_pycore and args[0] is PyCore
        assert _exact(fn(*args).snapshot()) == _exact(args[1]) == _exact(core.snapshot())


def _history(ref: int, size: int, price: float, dt: float) -> tuple[Any, ...]:
    return (7,) + submit_event(ref, 0, size, price, dt, exectype=7, check=False)[1:]


def test_an_order_replaced_by_a_history_order_is_kept_only_while_queued() -> None:
    """A history order can reuse the ref of a live order: the replaced order stays in the
    snapshot while it sits in a queue or bracket group, listed before the orders their refs
    name; a replaced order in none is gone from both cores' snapshots (the Rust core still
    holds it in its arena)."""
    cores = [cls() for cls in (load_core(b)[0] for b in TARGETS)]
    steps = [
        ("apply", [data_event(0), _history(1, 5, 100.0, 1.0), _history(3, 2, 100.0, 1.0)]),
        ("apply", [submit_event(1, 0, 4, 90.0, 1.0, exectype=2)]),  # a limit, never filled
        ("apply", [submit_event(3, 0, 3, 90.0, 1.0)]),  # a market order, filled at once
        ("step", [submit_event(2, 0, -1, 90.0, 1.0, exectype=2)]),
        ("step", []),
    ]
    dt = 2.0
    for kind, events in steps:
        outs = []
        for core in cores:
            if kind == "apply":
                outs.append(_plain(core.apply(events)))
            else:
                outs.append(_plain(core.step(events, [bar_tuple(0, dt, 100, 101, 99, 100)])))
        dt += 1.0
        snaps = [core.snapshot() for core in cores]
        assert all(_typed(out) == _typed(outs[0]) for out in outs)
        assert all(_exact(s) == _exact(snaps[0]) for s in snaps)
    snap = cores[0].snapshot()
    # five orders were created: limit 1, market 3, limit 2, history 1 and history 3; the
    # history orders replaced 1 and 3. Market 3 still sits in its bracket group (the group of
    # ref 3 holds both orders of ref 3): it is listed first; limit 1 was cancelled with its OCO
    # group (OCO groups go by ref) and is gone.
    refs = [order[0] for order in snap[5]]
    assert refs == [3, 1, 2, 3], refs
    assert snap[5][1][5] == snap[5][3][5] == 7  # the orders refs 1 and 3 name: history
    assert (3, (0, 3)) in snap[9]
    # every core restores every core's snapshot and goes on identically
    for source in cores:
        twins = [type(core).restore(source.snapshot()) for core in cores]
        outs = [_plain(t.step([(3, 1, False)], [bar_tuple(0, 9.0, 80, 81, 79, 80)])) for t in twins]
        assert all(_typed(out) == _typed(outs[0]) for out in outs)
        assert all(_exact(t.snapshot()) == _exact(twins[0].snapshot()) for t in twins)


def test_positions_made_by_value_of_are_keyed_by_their_data_index() -> None:
    """``value_of`` takes a data as given (``1.0`` or ``True`` finds data 1): the Python core's
    position entry then has that key, the snapshot the index."""
    cores = [load_core(b)[0]() for b in TARGETS]
    for core in cores:
        core.apply([data_event(0), data_event(1), data_event(2)])
        core.value_of([1.0], [100.0], False)
        core.value_of([True, 2], [100.0, 50.0], False)
    snaps = [core.snapshot() for core in cores]
    assert [p[0] for p in snaps[0][4]] == [1, 2]
    assert all(type(p[0]) is int for p in snaps[0][4])
    assert all(_exact(s) == _exact(snaps[0]) for s in snaps)
