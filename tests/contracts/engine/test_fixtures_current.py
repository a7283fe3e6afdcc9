"""The golden core fixtures are what the adapter sends today, checked against BackBroker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import bt_cracktrader

ROOT = Path(__file__).resolve().parents[3]


def test_golden_fixtures_are_up_to_date(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(bt_cracktrader.__file__).resolve().parents[1])
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_core_fixtures.py"), "--check"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
