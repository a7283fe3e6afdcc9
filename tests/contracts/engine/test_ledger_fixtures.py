"""Golden fixtures of the execution ledger (``fixtures/ledger/``): each core reproduces every
fixture exactly, the fixtures are current and satisfy the schema, and a snapshot taken after
any batch restores on either backend and replays the rest to the same records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ledger_support import ROOT, exact, fixture_paths, load_fixture, run_batches

import bt_cracktrader
from bt_cracktrader.core import load_ledger
from bt_cracktrader.core.contract import CoreInputError
from bt_cracktrader.core.ledger import PyLedger

FIXTURES = fixture_paths()
IDS = [p.stem for p in FIXTURES]
SCHEMA = json.loads(
    (Path(bt_cracktrader.__file__).parent / "core" / "schema" / "ledger.schema.json").read_text()
)
REQUIRED = {
    "partial_fills",
    "several_partials_float_sizes",
    "duplicate_reports",
    "cancel_after_partial",
    "cancel_racing_fill_fill_wins",
    "cancel_racing_fill_cancel_wins",
    "out_of_order_reports",
    "reject_and_margin",
    "expiry",
    "unknown_order",
    "overfill",
}


def _ledger(backend: str, init: dict[str, Any]) -> Any:
    cls, name = load_ledger(backend)
    assert name == backend
    return cls(init["cash"], init["fee_rate"], init["strict"])


def test_the_required_scenarios_exist() -> None:
    assert REQUIRED <= set(IDS)


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_each_core_reproduces_the_fixture_exactly(backend: str, path: Path) -> None:
    fx = load_fixture(path)
    ledger = _ledger(backend, fx["init"])
    got = run_batches(ledger, [b["events"] for b in fx["batches"]])
    for i, (mine, want) in enumerate(zip(got, fx["batches"])):
        assert exact(mine) == exact(want), f"{path.stem}: batch {i} differs"
    assert exact(ledger.snapshot()) == exact(fx["snapshot"])
    assert exact(ledger.state()) == exact(fx["state"])


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_restore_mid_stream_on_either_backend_replays_the_rest_identically(
    backend: str, path: Path
) -> None:
    fx = load_fixture(path)
    batches = [b["events"] for b in fx["batches"]]
    other = "python" if backend == "rust" else "rust"
    for cut in range(len(batches) + 1):
        first = _ledger(backend, fx["init"])
        run_batches(first, batches[:cut])
        snap = first.snapshot()
        # a Python-made snapshot into the other core, and back
        cls_other, _ = load_ledger(other)
        moved = cls_other.restore(json.loads(json.dumps(snap)))
        assert exact(moved.snapshot()) == exact(snap)
        back = type(first).restore(moved.snapshot())
        rest = run_batches(back, batches[cut:])
        assert exact(rest) == exact(fx["batches"][cut:]), f"{path.stem}: restored at {cut}"
        assert exact(back.snapshot()) == exact(fx["snapshot"])


def test_unknown_snapshot_versions_are_refused(backend: str) -> None:
    cls, _ = load_ledger(backend)
    snap = cls(100.0).snapshot()
    for version in (2, 0, "1", None, True):
        with pytest.raises(CoreInputError, match="unknown snapshot version") as info:
            cls.restore({**snap, "version": version})
        assert info.value.field == "version"
        assert info.value.value == version


def test_fixtures_satisfy_the_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for path in FIXTURES:
        errors = list(validator.iter_errors(load_fixture(path)))
        assert not errors, f"{path.stem}: {errors[0].message}"


def test_the_schema_refuses_what_the_ledger_refuses() -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    fx = load_fixture(FIXTURES[0])
    event = fx["batches"][0]["events"][0]
    for bad in ({**event, "extra": 1}, {**event, "seq": -1}, {**event, "type": "fill"}):
        broken = {**fx, "batches": [{"events": [bad], "records": []}]}
        assert list(validator.iter_errors(broken)), bad


def test_fixtures_are_current(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(bt_cracktrader.__file__).resolve().parents[1])
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_ledger_fixtures.py"), "--check"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_pickling_keeps_the_whole_state(backend: str) -> None:
    import pickle

    fx = load_fixture(ROOT / "fixtures" / "ledger" / "simulated_venue.json")
    ledger = _ledger(backend, fx["init"])
    run_batches(ledger, [b["events"] for b in fx["batches"][:2]])
    clone = pickle.loads(pickle.dumps(ledger))
    assert type(clone) is type(ledger)
    assert exact(clone.snapshot()) == exact(ledger.snapshot())
    rest = [b["events"] for b in fx["batches"][2:]]
    assert exact(run_batches(clone, rest)) == exact(run_batches(ledger, rest))


def test_the_transition_matrix_is_the_data_file(backend: str) -> None:
    matrix = json.loads(
        (Path(bt_cracktrader.__file__).parent / "core" / "schema" / "transitions.json").read_text()
    )
    from bt_cracktrader.core import ledger as lg

    assert {k: sorted(v) for k, v in lg.TRANSITIONS.items()} == {
        k: sorted(v) for k, v in matrix["transitions"].items()
    }
    if backend == "rust":
        from bt_cracktrader._rust import RustLedger

        assert {k: sorted(v) for k, v in RustLedger.transitions().items()} == {
            k: sorted(v) for k, v in matrix["transitions"].items()
        }
    assert PyLedger.backend == "python"
