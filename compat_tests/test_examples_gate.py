"""The offline example gate: every script in ``examples/`` runs offline on both cores, with
its output compared to the BackBroker run where one applies. A new example must be registered
here, or this gate fails.

* ``examples/backtrader/*.py`` run through ``python -m bt_cracktrader run --compare`` in
  ``test_backtrader_examples.py`` (every record and printed line identical to BackBroker);
* ``examples/sma_cross.py --compare`` runs BackBroker and both cores itself and prints MATCH;
* ``examples/ccxt_paper.py --emulator --compare`` paper-trades through CrackStore on a local
  exchange emulator, then runs the same bars on BackBroker, and prints MATCH;
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import bt_cracktrader

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

#: example (relative to examples/) -> how the gate runs it: "compare-suite" (covered by
#: test_backtrader_examples.py), or (argv per backend, a line the output must contain)
GATE: dict[str, object] = {
    "sma_cross.py": (["--compare"], "MATCH"),
    # paper trading through CrackStore on a local exchange emulator, against BackBroker
    "ccxt_paper.py": (["--emulator", "--backend", "{backend}", "--compare"], "MATCH"),
    "sweep_sma.py": (["--workers", "2", "--backend", "{backend}", "--compare"], "MATCH"),
}
for script in sorted((EXAMPLES / "backtrader").glob("*.py")):
    GATE[f"backtrader/{script.name}"] = "compare-suite"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    pkg_parent = str(Path(bt_cracktrader.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [pkg_parent, env.get("PYTHONPATH")]))
    return env


def test_every_example_is_gated() -> None:
    scripts = {str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*.py")}
    missing = sorted(scripts - set(GATE))
    assert not missing, f"examples not run by the gate: {missing} (register them in GATE)"
    assert not sorted(set(GATE) - scripts), "GATE names examples that do not exist"


RUNNABLE = sorted(k for k, v in GATE.items() if v != "compare-suite")


@pytest.mark.parametrize("name", RUNNABLE)
def test_example_runs_offline(backend: str, name: str, tmp_path: Path) -> None:
    argv, expected = GATE[name]  # type: ignore[misc]
    argv = [a.replace("{backend}", backend) for a in argv]
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *argv],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert expected in proc.stdout.splitlines(), proc.stdout[-2000:]
