"""Replay logs: any run can write one; ``python -m bt_cracktrader replay`` reproduces it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import backtrader as bt

import bt_cracktrader
from bt_cracktrader import CrackBroker

DATA = Path(__file__).resolve().parents[3] / "fixtures" / "data"


class _Mixed(bt.Strategy):
    def next(self) -> None:
        k = len(self) % 9
        if k == 1:
            self.buy(size=3, exectype=bt.Order.Limit, price=self.data.close[0] * 0.99)
        elif k == 4:
            self.sell_bracket(size=2, exectype=bt.Order.Market,
                              limitprice=self.data.close[0] * 0.97,
                              stopprice=self.data.close[0] * 1.03)  # fmt: skip
        elif k == 7:
            self.close()


def _write_log(backend: str, path: Path) -> CrackBroker:
    cerebro = bt.Cerebro()
    cerebro.adddata(bt.feeds.YahooFinanceCSVData(dataname=str(DATA / "orcl-2014.txt")))
    cerebro.addstrategy(_Mixed)
    broker = CrackBroker(backend=backend, replay_log=str(path))
    cerebro.setbroker(broker)
    cerebro.broker.setcommission(commission=0.001)
    cerebro.run()
    return broker


def test_a_replay_log_is_streamed_not_kept_in_memory(backend: str, tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    broker = _write_log(backend, log)
    assert len(log.read_text().splitlines()) > 100
    # a long run must not hold every call of it: the log file is the recording
    assert broker._core.recording["calls"] == []


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    # the child imports the same bt_cracktrader as this test (the installed one in CI)
    env["PYTHONPATH"] = str(Path(bt_cracktrader.__file__).resolve().parents[1])
    return subprocess.run(
        [sys.executable, "-m", "bt_cracktrader", *args],
        cwd=cwd, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_a_run_writes_a_replay_log_that_replays_identically_everywhere(
    backend: str, tmp_path: Path
) -> None:
    log = tmp_path / "run.jsonl"
    _write_log(backend, log)
    lines = log.read_text().splitlines()
    assert json.loads(lines[0])["contract_version"] >= 3
    assert len(lines) > 100
    outputs = set()
    for i, core in enumerate(["python", "rust", "python", "rust", "python", "rust"]):
        out = tmp_path / f"replayed{i}.jsonl"
        result = _cli("replay", str(log), "--backend", core, "--out", str(out), cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        outputs.add(result.stdout)
        assert out.read_bytes() == log.read_bytes()
    assert len(outputs) == 1
    assert "records and state identical" in outputs.pop()


def test_replay_reports_the_first_difference(backend: str, tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    _write_log(backend, log)
    lines = log.read_text().splitlines()
    for i, line in enumerate(lines[1:], start=1):
        call: dict[str, Any] = json.loads(line)
        if call["call"] == "step" and call["records"]:
            call["state"][0] += 0.01  # the cash after this step
            lines[i] = json.dumps(call)
            break
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join(lines) + "\n")
    result = _cli("replay", str(tampered), "--backend", backend, cwd=tmp_path)
    assert result.returncode == 1
    assert f"call #{i - 1} (step) differs" in result.stdout


def test_golden_fixtures_replay_from_the_command_line(backend: str, tmp_path: Path) -> None:
    fixture = sorted((Path(__file__).resolve().parents[3] / "fixtures" / "core").glob("*.json"))[0]
    result = _cli("replay", str(fixture), "--backend", backend, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
