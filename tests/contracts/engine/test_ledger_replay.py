"""Replay of execution-ledger logs: ``python -m bt_cracktrader replay LOG [--backend]``
reproduces a fixture or a recorded log, exits non-zero at the first difference, and replaying
the same log three times on each backend writes byte-identical logs."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from ledger_support import fixture_paths, load_fixture, run_batches

from bt_cracktrader.core import load_ledger
from bt_cracktrader.core.replay import RecordingLedger, load, replay_ledger

FIXTURES = fixture_paths()


def _replay(
    log: Path, backend: str, cwd: Path, out: Path | None = None
) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "bt_cracktrader", "replay", str(log), "--backend", backend]
    if out is not None:
        cmd += ["--out", str(out)]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_every_fixture_replays_in_process(backend: str, path: Path) -> None:
    cls, _ = load_ledger(backend)
    assert replay_ledger(load(path), cls) == len(load_fixture(path)["batches"])


def test_replay_three_times_on_both_backends_is_byte_identical(tmp_path: Path) -> None:
    fixture = next(p for p in FIXTURES if p.stem == "several_partials_float_sizes")
    outputs = []
    for backend in ("python", "rust"):
        for i in range(3):
            out = tmp_path / f"{backend}-{i}.jsonl"
            result = _replay(fixture, backend, tmp_path, out)
            assert result.returncode == 0, result.stdout + result.stderr
            assert "records and state identical" in result.stdout
            outputs.append(out.read_bytes())
    assert len(set(outputs)) == 1
    # the written log replays too, and again to the same bytes
    again = tmp_path / "again.jsonl"
    result = _replay(tmp_path / "rust-0.jsonl", "python", tmp_path, again)
    assert result.returncode == 0, result.stdout + result.stderr
    assert again.read_bytes() == outputs[0]


def test_a_run_recorded_by_recording_ledger_replays(backend: str, tmp_path: Path) -> None:
    fx = load_fixture(next(p for p in FIXTURES if p.stem == "simulated_venue"))
    cls, _ = load_ledger(backend)
    sink = io.StringIO()
    init = fx["init"]
    ledger = RecordingLedger(cls(init["cash"], init["fee_rate"], init["strict"]), **init, sink=sink)
    run_batches(ledger, [b["events"] for b in fx["batches"]])
    assert ledger.state() == fx["state"]
    log = tmp_path / "run.jsonl"
    log.write_text(sink.getvalue())
    for other in ("python", "rust"):
        result = _replay(log, other, tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr


def test_a_difference_exits_non_zero_naming_the_batch(backend: str, tmp_path: Path) -> None:
    fx = load_fixture(next(p for p in FIXTURES if p.stem == "partial_fills"))
    fill = next(r for r in fx["batches"][3]["records"] if r["kind"] == "fill")
    fill["price"] = fill["price"] + 1e-9
    log = tmp_path / "tampered.json"
    log.write_text(json.dumps(fx))
    result = _replay(log, backend, tmp_path)
    assert result.returncode == 1
    assert "DIFFERS: batch #3 differs" in result.stdout


def test_a_malformed_log_is_refused_by_the_schema(backend: str, tmp_path: Path) -> None:
    fx = load_fixture(FIXTURES[0])
    fx["batches"][0]["events"][0]["sneaky"] = 1
    log = tmp_path / "bad.json"
    log.write_text(json.dumps(fx))
    result = _replay(log, backend, tmp_path)
    assert result.returncode == 2
    assert "is not a valid recording" in result.stderr
