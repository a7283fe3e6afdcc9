#!/usr/bin/env python3
"""The one-shot parity gate: everything that proves the Python and Rust cores equivalent.

    python scripts/run_rust_parity_gate.py [--skip-install] [--skip-benchmark]
        [--with-integration] [--fuzz-streams N]

Steps, in order (each one's outcome goes into the summary table; the exit code is non-zero
when any step fails):

1. ``install``: build and install the Rust extension with ``scripts/install_rust_backend.py``
   (``--skip-install`` uses the installed package as it is).
2. ``fixtures-current``: the golden fixtures and the JSON Schemas are what the generators
   write (``make_core_fixtures.py``, ``make_ledger_fixtures.py``, ``make_contract_schema.py``
   with ``--check``).
3. ``cargo-fixtures``: the Rust core crate's own tests, which replay the same fixture files
   (``cargo test -p bt-cracktrader-core``).
4. ``unit-engine`` and ``contracts-engine``: ``tests/unit/engine`` and ``tests/contracts/engine``
   (fixture parity, Python/Rust core parity, replay, differential fuzz with ``--fuzz-streams``
   streams, logging parity) on both backends, against the installed package.
5. ``examples``: the offline example gate (every script in ``examples/`` on both cores,
   compared with BackBroker where that applies).
6. ``benchmark``: ``scripts/benchmark_engine_backends.py`` against the stored baseline
   (``performance/baselines/baseline.json``) with the baseline's own settings
   (``--skip-benchmark`` skips it).
7. ``integration`` (only with ``--with-integration``):
   ``tests/integration/core/test_engine_backend_integration.py --sandbox``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "performance" / "baselines" / "baseline.json"
INTEGRATION = ROOT / "tests" / "integration" / "core" / "test_engine_backend_integration.py"


@dataclass
class Step:
    name: str
    status: str  # PASS, FAIL, SKIP, MISSING
    seconds: float
    detail: str


def _run(cmd: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    print(f"$ {' '.join(cmd)}", flush=True)
    proc = subprocess.run(
        list(cmd), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    sys.stdout.write(proc.stdout)
    sys.stdout.flush()
    return proc.returncode, proc.stdout


def _last_line(output: str) -> str:
    """The figure worth a table cell: cargo's test counts summed, else the last line."""
    results = re.findall(r"test result: \w+\. (\d+) passed; (\d+) failed", output)
    if results:
        passed = sum(int(p) for p, _ in results)
        failed = sum(int(f) for _, f in results)
        return f"{passed} passed, {failed} failed (cargo test)"
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1][:100] if lines else "ok"


def _pytest(paths: Sequence[Path], workdir: Path, env: dict[str, str], *extra: str) -> list[str]:
    # run from outside the repository so that the installed package (with its compiled
    # extension) is imported, never the source tree
    return [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "--import-mode=importlib", f"--rootdir={ROOT}", "-c", str(ROOT / "setup.cfg"),
        *extra, *(str(p) for p in paths),
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-install", action="store_true", help="do not build the extension")
    parser.add_argument("--skip-benchmark", action="store_true", help="skip the benchmark step")
    parser.add_argument(
        "--with-integration", action="store_true", help="also run the CCXT integration suite"
    )
    parser.add_argument(
        "--fuzz-streams", type=int, default=2000, help="differential fuzz streams (default 2000)"
    )
    args = parser.parse_args(argv)
    if args.fuzz_streams < 1:
        parser.error(f"--fuzz-streams must be >= 1, got {args.fuzz_streams}")

    steps: list[Step] = []
    workdir = Path(tempfile.mkdtemp(prefix="bt-cracktrader-gate-"))
    env = dict(os.environ)
    env["BT_CRACKTRADER_TEST_BACKENDS"] = "python,rust"
    env["BT_CRACKTRADER_FUZZ_STREAMS"] = str(args.fuzz_streams)
    env["PYTHONDONTWRITEBYTECODE"] = "1"

    def step(name: str, cmd: Sequence[str] | None, skip: str | None = None) -> bool:
        if skip is not None:
            steps.append(Step(name, "SKIP", 0.0, skip))
            return True
        assert cmd is not None
        start = time.perf_counter()
        code, out = _run(cmd, workdir, env)
        status = "PASS" if code == 0 else "FAIL"
        steps.append(Step(name, status, time.perf_counter() - start, _last_line(out)))
        return code == 0

    step(
        "install",
        [sys.executable, str(ROOT / "scripts" / "install_rust_backend.py")],
        "--skip-install" if args.skip_install else None,
    )
    # the generators import the installed package too
    checks = ["make_core_fixtures.py", "make_ledger_fixtures.py", "make_contract_schema.py"]
    check_script = "; ".join(
        f"r |= subprocess.run([sys.executable, {str(ROOT / 'scripts' / name)!r}, '--check'])"
        ".returncode"
        for name in checks
    )
    step(
        "fixtures-current",
        [sys.executable, "-c", f"import subprocess, sys; r = 0; {check_script}; sys.exit(r)"],
    )
    cargo = shutil.which("cargo")
    step(
        "cargo-fixtures",
        [
            "cargo",
            "test",
            "-q",
            "--manifest-path",
            str(ROOT / "Cargo.toml"),
            "-p",
            "bt-cracktrader-core",
        ]
        if cargo
        else None,  # fmt: skip
        None if cargo else "cargo not found on PATH",
    )
    step("unit-engine", _pytest([ROOT / "tests" / "unit" / "engine"], workdir, env))
    step("contracts-engine", _pytest([ROOT / "tests" / "contracts" / "engine"], workdir, env))
    examples = [ROOT / "compat_tests" / n for n in ("test_examples_gate.py",
                                                    "test_backtrader_examples.py")]  # fmt: skip
    step("examples", _pytest(examples, workdir, env))

    if args.skip_benchmark:
        step("benchmark", None, "--skip-benchmark")
    elif not BASELINE.exists():
        steps.append(Step("benchmark", "FAIL", 0.0, f"no baseline at {BASELINE}"))
    else:
        settings = json.loads(BASELINE.read_text())["settings"]
        out = workdir / "benchmark.json"
        step(
            "benchmark",
            [
                sys.executable,
                str(ROOT / "scripts" / "benchmark_engine_backends.py"),
                "--iterations",
                str(settings["iterations"]),
                "--warmup",
                str(settings["warmup"]),
                "--bars",
                str(settings["bars"]),
                "--json-out",
                str(out),
                "--baseline-json",
                str(BASELINE),
                "--max-slowdown-ratio",
                str(settings.get("max_slowdown_ratio", 1.25)),
            ],  # fmt: skip
        )

    report_path = workdir / "benchmark.json"
    if not args.skip_benchmark and report_path.exists():
        # the promotion criterion "benchmark gains": CrackBroker(rust) is not slower than
        # BackBroker on any Backtrader profile of this run
        profiles = json.loads(report_path.read_text()).get("profiles", {})
        ratios = {
            name: prof.get("ratios", {}).get("backtrader_over_rust")
            for name, prof in profiles.items()
        }
        measured = {n: r for n, r in ratios.items() if r is not None}
        slower = sorted(n for n, r in measured.items() if r < 1.0)
        detail = ", ".join(f"{n} {r:.2f}" for n, r in measured.items())
        steps.append(
            Step("benchmark-gains", "FAIL" if slower or not measured else "PASS", 0.0, detail)
        )

    if not args.with_integration:
        step("integration", None, "pass --with-integration to run it")
    elif not INTEGRATION.exists():
        print(
            f"the integration suite is not present: {INTEGRATION.relative_to(ROOT)} does not exist"
        )
        steps.append(
            Step("integration", "MISSING", 0.0, f"{INTEGRATION.relative_to(ROOT)} not present")
        )
    else:
        step("integration", _pytest([INTEGRATION], workdir, env, "--sandbox"))

    width = max(len(s.name) for s in steps)
    print()
    print(f"{'step'.ljust(width)}  status   seconds  detail")
    for s in steps:
        print(f"{s.name.ljust(width)}  {s.status:<7}  {s.seconds:7.1f}  {s.detail}")
    failed = [s.name for s in steps if s.status in ("FAIL", "MISSING")]
    print()
    print("parity gate: " + ("FAILED (" + ", ".join(failed) + ")" if failed else "PASSED"))
    shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
