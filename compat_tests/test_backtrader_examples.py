"""The scripts in ``examples/backtrader/`` (written in the style of Backtrader's published
samples) run through ``python -m bt_cracktrader run --compare``: on BackBroker and on each core,
every order notification, trade, bar's cash and value and every printed line must be identical.

Each comparison runs in a subprocess started outside the repository, so it uses the package
this test imported (the installed one in CI).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import bt_cracktrader

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "backtrader"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))

# Non-default command lines of some examples: other order types, schemes and modes.
VARIANTS = [
    ("bracket.py", ["--usebracket", "--limit", "0.01", "--commission", "0.001"]),
    ("bracket.py", ["--switchp1p2"]),
    ("oco.py", ["--oco1oco2", "--switchp1p2"]),
    ("order_execution.py", ["--valid", "0", "--perc1", "2", "--perc2", "1"]),
    ("stoptrail.py", ["--stoptype", "StopTrailLimit", "--trailamount", "20", "--limitoffset", "5"]),
    ("slippage.py", ["--exectype", "Limit", "--slip_fixed", "2.5", "--no-slip_match"]),
    ("slippage.py", ["--exectype", "Stop", "--slip_out", "--no-slip_match"]),
    ("futures_comm.py", ["--stocklike", "--commission", "0.002"]),
    ("futures_comm.py", ["--stake", "30", "--mult", "25"]),
    ("multidata.py", ["--stake", "2000", "--period", "30"]),
    ("volumefilling.py", ["--stakeperc", "30"]),
]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    pkg_parent = str(Path(bt_cracktrader.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [pkg_parent, env.get("PYTHONPATH")]))
    return env


def _compare(backend: str, script: Path, args: list[str], cwd: Path) -> None:
    cmd = [sys.executable, "-m", "bt_cracktrader", "run", "--compare"]
    cmd += ["--backends", f"backtrader,{backend}", str(script), *args]
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=300)
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report
    assert f"{backend}: IDENTICAL to backtrader" in proc.stdout, report
    assert proc.stdout.splitlines()[-1] == "MATCH", report
    # the example did something: it ran at least one Cerebro with order notifications
    assert ", 0 order notifications" not in proc.stdout, report


def test_there_are_at_least_five_examples() -> None:
    assert len(SCRIPTS) >= 5, SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_example_is_identical_on_backbroker_and_crackbroker(
    backend: str, script: Path, tmp_path: Path
) -> None:
    _compare(backend, script, [], tmp_path)


@pytest.mark.parametrize(
    ("name", "args"), VARIANTS, ids=[f"{n[:-3]}:{' '.join(a)}" for n, a in VARIANTS]
)
def test_example_variant_is_identical(
    backend: str, name: str, args: list[str], tmp_path: Path
) -> None:
    _compare(backend, EXAMPLES / name, args, tmp_path)
