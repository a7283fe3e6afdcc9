#!/usr/bin/env python
"""Benchmark Backtrader's BackBroker against CrackBroker on the Python and the Rust core.

    python scripts/benchmark_engine_backends.py --iterations 5 --warmup 1 --bars 2000 \\
        --json-out performance/reports/local.json [--profile all] \\
        [--backends backtrader,python,rust] [--baseline-json PATH] [--max-slowdown-ratio R] \\
        [--update-baseline] [--force-baseline-overwrite]

Each profile (``bt_cracktrader.bench.PROFILES``: classic, order-heavy, bracket, multi-asset,
minute, core-only) runs the same strategy over the same seeded data on every backend. Before any
timing, the complete records of one run per backend are compared with ``==`` (every order
notification, trade, bar's cash/value/positions, analyzer, final cash/value; for core-only every
step's records and state, float bits included, on both inputs of both cores, and the bytes of
both cores' ``step_packed``): a profile whose parity fails is reported with the first
difference, is not timed, and makes the script exit 1.

Timed runs are interleaved across backends (the order rotates every iteration), each in a fresh
subprocess that times ``cerebro.run()`` alone. core-only times in-process the Rust core on one
``step_packed`` of the whole stream (packed before timing) and the Python core on its ``step``
loop (``bench.CORE_INPUTS``, recorded as ``inputs`` in the report), and, for information, the
other pairings (``variants``: Rust on tuples, Python on packed). Warmup iterations are
discarded. The report gives mean, median, p95 (nearest rank) and min per backend, bars per
second, the ratios python/rust, backtrader/rust and backtrader/python of the means, and the
machine and versions.

Baselines (``performance/baselines/``, committed): ``--update-baseline`` writes one (to
``--baseline-json``, default ``performance/baselines/baseline.json``) and refuses to overwrite an
existing file without ``--force-baseline-overwrite``. With ``--baseline-json`` alone the run is
compared with it: it fails when a profile's Rust mean is more than ``--max-slowdown-ratio``
times the baseline's, or when its python/rust or backtrader/rust ratio fell by more than that
factor. A core-only baseline whose cores were timed on other inputs (a baseline written before
packed batches timed both cores on tuples) is not compared: the run says so in its notes.

Exit codes: 0 ok, 1 parity failure, failed run or regression, 2 usage error.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import site
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import bt_cracktrader
from bt_cracktrader import bench

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BASELINE = REPO_ROOT / "performance" / "baselines" / "baseline.json"
MINUTE_FILE = REPO_ROOT / "fixtures" / "data" / "2006-01-02-volume-min-001.txt"
MIN_ITERATIONS = 5
MIN_WARMUP = 1
DEFAULT_MAX_SLOWDOWN = 1.25
REPORT_SCHEMA = 1
EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
RUN_ONE = "--_run-one"
#: Ratios of mean times reported per profile: (name, numerator backend, denominator backend).
RATIOS = (
    ("python_over_rust", "python", "rust"),
    ("backtrader_over_rust", "backtrader", "rust"),
    ("backtrader_over_python", "backtrader", "python"),
)
#: The ratios the baseline check holds (a Rust speedup that shrinks is a regression).
GUARDED_RATIOS = ("python_over_rust", "backtrader_over_rust")


T = TypeVar("T")
#: What a core-only report's ``inputs`` were before it recorded them: both cores on tuples.
LEGACY_CORE_INPUTS = {"python": "tuples", "rust": "tuples"}
#: How the report names a core-only input.
INPUT_LABELS = {"tuples": "step() loop", "packed": "one step_packed()"}


class UsageError(Exception):
    """Bad arguments or an unusable baseline: exit code 2."""


def _progress(message: str) -> None:
    if sys.stderr.isatty():
        _end_bar()
        print(message, file=sys.stderr, flush=True)


_BARS: dict[str, Any] = {}


def _tick(profile: str, done: int, total: int, detail: str) -> None:
    """The profile's progress bar (timed runs done of all), on a terminal only."""
    from bt_cracktrader.progress import ProgressBar

    bar = _BARS.get(profile)
    if bar is None:
        _end_bar()
        bar = _BARS[profile] = ProgressBar(f"[{profile}] {detail}", "runs")
    bar.label = f"[{profile}] {detail}"
    bar.update(done, total, force=done == total)


def _end_bar() -> None:
    for bar in _BARS.values():
        bar.close()


# -- arguments ---------------------------------------------------------------------------------
def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark BackBroker vs CrackBroker (Python and Rust cores), with parity "
        "checks before timing.",
        epilog="Exit codes: 0 ok, 1 parity failure, failed run or regression, 2 usage error.",
    )
    parser.add_argument(
        "--iterations",
        type=int,
        required=True,
        metavar="N",
        help=f"measured runs per backend and profile (at least {MIN_ITERATIONS})",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        required=True,
        metavar="N",
        help=f"discarded runs before them (at least {MIN_WARMUP})",
    )
    parser.add_argument(
        "--bars",
        type=int,
        required=True,
        metavar="N",
        help="synthetic bars per data (and core-only steps); the minute profile uses the real "
        f"file truncated to N bars when it is longer (at least {bench.MIN_BARS})",
    )
    parser.add_argument(
        "--json-out", type=Path, required=True, metavar="PATH", help="where to write the report"
    )
    parser.add_argument(
        "--baseline-json",
        type=Path,
        metavar="PATH",
        help="compare with this baseline (with --update-baseline: write it there; default "
        f"{DEFAULT_BASELINE.relative_to(REPO_ROOT)})",
    )
    parser.add_argument(
        "--max-slowdown-ratio",
        type=float,
        default=DEFAULT_MAX_SLOWDOWN,
        metavar="R",
        help="fail when a Rust mean exceeds R x the baseline's, or a python/rust or "
        f"backtrader/rust ratio falls by more than R (default {DEFAULT_MAX_SLOWDOWN})",
    )
    parser.add_argument(
        "--update-baseline", action="store_true", help="write this run as the baseline"
    )
    parser.add_argument(
        "--force-baseline-overwrite",
        action="store_true",
        help="let --update-baseline replace an existing baseline",
    )
    parser.add_argument(
        "--profile",
        choices=[*bench.PROFILES, "all"],
        default="all",
        help="one profile, or all (default)",
    )
    parser.add_argument(
        "--backends",
        default=",".join(bench.CEREBRO_BACKENDS),
        help="comma-separated subset of backtrader,python,rust (default: all three; core-only "
        "uses python and rust)",
    )
    return parser.parse_args(argv)


def _parse_run_one(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmark_engine_backends.py --_run-one",
        description="(internal) time one cerebro.run() and print it as JSON",
    )
    parser.add_argument(RUN_ONE, action="store_true", dest="run_one")
    parser.add_argument("--profile", choices=list(bench.PROFILES), required=True)
    parser.add_argument("--backend", "--backends", choices=bench.CEREBRO_BACKENDS, required=True)
    parser.add_argument("--_data-dir", dest="data_dir", type=Path)
    parser.add_argument("--bars", type=int, default=2000)
    return parser.parse_args(argv)


def resolve_backends(raw: str, notices: list[str]) -> tuple[list[str], bool, str | None]:
    """The backends to run, whether Rust is available, and why not."""
    names: list[str] = []
    for name in (n.strip() for n in raw.split(",")):
        if not name:
            continue
        if name not in bench.CEREBRO_BACKENDS:
            raise UsageError(
                f"--backends: unknown backend {name!r} (expected some of "
                f"{','.join(bench.CEREBRO_BACKENDS)})"
            )
        if name not in names:
            names.append(name)
    if not names:
        raise UsageError("--backends: no backend given")
    rust_ok, reason = bench.rust_status()
    if "rust" in names and not rust_ok:
        names.remove("rust")
        if not names:
            names = ["python"]
        notices.append(
            f"RUST UNAVAILABLE: the Rust extension does not import ({reason}); running "
            f"Python-only ({','.join(names)}): no Rust timings and no Rust speedups"
        )
    return names, rust_ok, reason


def load_baseline(path: Path, bars: int) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read baseline {path}: {exc}") from exc
    if data.get("schema") != REPORT_SCHEMA or not isinstance(data.get("profiles"), dict):
        raise UsageError(f"{path} is not a benchmark report (schema {REPORT_SCHEMA})")
    base_bars = data.get("settings", {}).get("bars")
    if base_bars != bars:
        raise UsageError(
            f"baseline {path} was measured with --bars {base_bars}, this run uses --bars {bars}: "
            f"not comparable (rerun with --bars {base_bars}, or --update-baseline)"
        )
    return data


# -- timing ------------------------------------------------------------------------------------
def _child_env() -> dict[str, str]:
    """The environment of a timed run: it imports the very bt_cracktrader this process did."""
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    package_parent = str(Path(bt_cracktrader.__file__).resolve().parents[1])
    site_dirs = {str(Path(p).resolve()) for p in site.getsitepackages()}
    if package_parent not in site_dirs:
        current = env.get("PYTHONPATH")
        env["PYTHONPATH"] = package_parent + (os.pathsep + current if current else "")
    return env


def run_child(profile: str, backend: str, workdir: Path, env: dict[str, str]) -> dict[str, Any]:
    """One timed ``cerebro.run()`` in a fresh interpreter."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        RUN_ONE,
        "--profile",
        profile,
        "--backend",
        backend,
        "--_data-dir",
        str(workdir),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"timed run {profile}/{backend} failed ({proc.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _rotated(items: Sequence[T], k: int) -> list[T]:
    k %= len(items)
    return [*items[k:], *items[:k]]


def _ratios(stats: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    ratios: dict[str, float | None] = {}
    for name, num, den in RATIOS:
        a, b = stats.get(num), stats.get(den)
        ratios[name] = a["mean_ms"] / b["mean_ms"] if a and b and b["mean_ms"] > 0 else None
    return ratios


def bench_cerebro_profile(
    profile: str, backends: list[str], args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    prepared = bench.prepare_data(profile, args.bars, workdir, minute_file=MINUTE_FILE)
    result: dict[str, Any] = {
        "description": bench.PROFILES[profile].description,
        "bars": prepared.bars,
        "datas": len(prepared.files),
        "total_bars": prepared.total_bars,
        "backends_run": backends,
    }
    # parity: one recorded run per backend, compared with == before anything is timed
    records: dict[str, Any] = {}
    errors: dict[str, str | None] = {}
    for backend in backends:
        _progress(f"[{profile}] parity run: {backend}")
        try:
            records[backend] = bench.parity_record(profile, backend, prepared.files)
        except Exception as exc:  # a backend that cannot run the profile fails its parity
            errors[backend] = f"run failed: {type(exc).__name__}: {exc}"
    parity = bench.check_parity(records)
    finals = {name: rec["final"] for name, rec in records.items()}
    del records
    mismatches = {**parity.mismatches, **errors}
    ok = parity.ok and not errors
    result["parity"] = {**parity.as_dict(), "ok": ok, "mismatches": mismatches}
    if not ok:
        return result

    env = _child_env()
    samples: dict[str, list[float]] = {b: [] for b in backends}
    total = args.warmup + args.iterations
    for it in range(total):
        warm = it < args.warmup
        for k, backend in enumerate(_rotated(backends, it)):
            try:
                out = run_child(profile, backend, workdir, env)
            except RuntimeError as exc:
                result["error"] = str(exc)
                return result
            final = {"cash": out["cash"], "value": out["value"]}
            if final != finals[backend]:
                # the timed run must compute what the checked run did
                result["parity"]["ok"] = False
                result["parity"]["mismatches"][backend] = (
                    f"timed run ended with {final!r}, the parity run with {finals[backend]!r}"
                )
                return result
            if not warm:
                samples[backend].append(out["elapsed_ms"])
            phase = "warmup" if warm else "measure"
            done = it * len(backends) + k + 1
            _tick(profile, done, total * len(backends), f"{phase} {backend}")
    stats = {b: bench.summarize(samples[b], prepared.total_bars) for b in backends}
    result["backends"] = stats
    result["ratios"] = _ratios(stats)
    return result


def bench_core_profile(
    profile: str, backends: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    stream = bench.make_core_stream(args.bars)
    inputs = {b: bench.CORE_INPUTS[b] for b in backends}
    result: dict[str, Any] = {
        "description": bench.PROFILES[profile].description,
        "bars": len(stream.steps),
        "datas": stream.datas,
        "total_bars": stream.total_bars,
        "events": stream.events,
        "backends_run": backends,
        "inputs": inputs,
    }
    classes = {b: bench.core_class(b) for b in backends}
    _progress(f"[{profile}] parity runs: {', '.join(backends)} on tuples and packed")
    parity = bench.check_core_only_parity(stream, classes)
    result["parity"] = parity.as_dict()
    if not parity.ok:
        return result
    # every core on every input: its own (timed) first, then the informational variants
    runs = [(b, kind) for b in backends for kind in (inputs[b], *bench.CORE_INPUT_KINDS)]
    runs = list(dict.fromkeys(runs))
    batch = bench.pack_core_stream(stream)  # packed once, never timed
    samples: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    total = args.warmup + args.iterations
    for it in range(total):
        for k, (backend, kind) in enumerate(_rotated(runs, it)):
            gc.collect()
            elapsed = bench.time_core_stream(classes[backend], stream, kind, batch)
            if it >= args.warmup:
                samples[backend, kind].append(elapsed)
            phase = "warmup" if it < args.warmup else "measure"
            done = it * len(runs) + k + 1
            _tick(profile, done, total * len(runs), f"{phase} {backend} on {kind}")

    def stats_of(backend: str, kind: str) -> dict[str, Any]:
        s = bench.summarize(samples[backend, kind], stream.total_bars)
        s["input"] = kind
        s["events_per_s"] = stream.events / (s["mean_ms"] / 1000.0) if s["mean_ms"] else None
        return s

    stats = {b: stats_of(b, inputs[b]) for b in backends}
    variants = {
        f"{b}-{kind}": {"backend": b, **stats_of(b, kind)} for b, kind in runs if kind != inputs[b]
    }
    result["backends"] = stats
    result["ratios"] = _ratios(stats)
    result["variants"] = variants
    result["variant_ratios"] = _variant_ratios(stats, variants)
    return result


def _variant_ratios(
    stats: dict[str, dict[str, Any]], variants: dict[str, dict[str, Any]]
) -> dict[str, float | None]:
    """Ratios of means across the inputs: what packing gains each core, and python/rust when
    both cores get tuples (what core-only measured before packed batches)."""
    means = {f"{b}-{s['input']}": s["mean_ms"] for b, s in stats.items()}
    means.update({name: v["mean_ms"] for name, v in variants.items()})

    def ratio(num: str, den: str) -> float | None:
        a, b = means.get(num), means.get(den)
        return a / b if a is not None and b else None

    return {
        "rust_tuples_over_rust_packed": ratio("rust-tuples", "rust-packed"),
        "python_packed_over_python_tuples": ratio("python-packed", "python-tuples"),
        "python_tuples_over_rust_tuples": ratio("python-tuples", "rust-tuples"),
    }


# -- baseline ----------------------------------------------------------------------------------
def compare_with_baseline(
    report: dict[str, Any], baseline: dict[str, Any], max_ratio: float
) -> tuple[list[str], list[str]]:
    """``(failures, notes)`` of this run against ``baseline``."""
    failures: list[str] = []
    notes: list[str] = []
    here, there = report["machine"], baseline.get("machine", {})
    for key in ("cpu", "cpu_count", "python", "backtrader"):
        if here.get(key) != there.get(key):
            notes.append(f"machine differs from the baseline's: {key} {there.get(key)!r} -> "
                         f"{here.get(key)!r}")  # fmt: skip
    for name, cur in report["profiles"].items():
        if "backends" not in cur:
            continue  # failed or skipped: reported elsewhere
        base = baseline["profiles"].get(name)
        if not base or "backends" not in base:
            notes.append(f"{name}: not in the baseline, not compared")
            continue
        if "inputs" in cur and base.get("inputs", LEGACY_CORE_INPUTS) != cur["inputs"]:
            was = _inputs_text(base.get("inputs", LEGACY_CORE_INPUTS))
            notes.append(
                f"{name}: the baseline timed the cores on other inputs ({was}) than this run "
                f"({_inputs_text(cur['inputs'])}): not compared (regenerate the baseline with "
                "--update-baseline)"
            )
            continue
        cur_rust = cur["backends"].get("rust")
        base_rust = base["backends"].get("rust")
        if not cur_rust or not base_rust:
            side = "this run" if not cur_rust else "the baseline"
            notes.append(f"{name}: no Rust timing in {side}, Rust checks SKIPPED")
            continue
        slowdown = cur_rust["mean_ms"] / base_rust["mean_ms"]
        line = (
            f"{name}: rust mean {cur_rust['mean_ms']:.2f} ms vs baseline "
            f"{base_rust['mean_ms']:.2f} ms = {slowdown:.3f}x (limit {max_ratio}x)"
        )
        (failures if slowdown > max_ratio else notes).append(line)
        for key in GUARDED_RATIOS:
            b, c = base.get("ratios", {}).get(key), cur.get("ratios", {}).get(key)
            if not b or not c:
                continue
            fall = b / c
            line = (
                f"{name}: {key} {c:.3f} vs baseline {b:.3f} (fell {fall:.3f}x, limit {max_ratio}x)"
            )
            (failures if fall > max_ratio else notes).append(line)
    return failures, notes


def _inputs_text(inputs: dict[str, str]) -> str:
    return ", ".join(f"{backend} on {kind}" for backend, kind in inputs.items())


# -- output ------------------------------------------------------------------------------------
def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def print_report(report: dict[str, Any]) -> None:
    m = report["machine"]
    print(
        f"machine: {m['cpu']} ({m['cpu_count']} cpus), {m['platform']}, Python {m['python']}, "
        f"backtrader {m['backtrader']}, bt_cracktrader {m['bt_cracktrader']}, "
        f"rust {'available' if m['rust_available'] else 'UNAVAILABLE'}"
    )
    s = report["settings"]
    print(
        f"settings: iterations={s['iterations']} warmup={s['warmup']} bars={s['bars']} "
        f"backends={','.join(s['backends'])} seed={s['seed']}"
    )
    for notice in report["notices"]:
        print(f"NOTICE: {notice}")
    header = (
        f"{'profile':<12} {'backend':<11} {'mean ms':>10} {'median ms':>10} {'p95 ms':>10} "
        f"{'min ms':>10} {'bars/s':>12} {'n':>3}"
    )
    print()
    print(header)
    print("-" * len(header))
    for name, prof in report["profiles"].items():
        parity = prof.get("parity", {})
        if prof.get("skipped"):
            print(f"{name:<12} SKIPPED: {prof['skipped']}")
            continue
        if not parity.get("ok"):
            print(f"{name:<12} PARITY FAILED (no timing, no speedup):")
            for backend, diff in parity.get("mismatches", {}).items():
                if diff:
                    print(f"{'':<12}   {backend} vs {parity.get('reference')}: {diff}")
            continue
        if "error" in prof:
            print(f"{name:<12} RUN FAILED: {prof['error']}")
            continue
        for backend, st in prof["backends"].items():
            print(
                f"{name:<12} {backend:<11} {st['mean_ms']:>10.2f} {st['median_ms']:>10.2f} "
                f"{st['p95_ms']:>10.2f} {st['min_ms']:>10.2f} {_fmt(st['bars_per_s'], ',.0f'):>12} "
                f"{st['samples']:>3}"
            )
            if "events_per_s" in st:
                how = INPUT_LABELS.get(st.get("input", ""), "")
                print(
                    f"{'':<12} {'':<11} events/s {_fmt(st['events_per_s'], ',.0f')}"
                    + (f"  (timed on {st['input']}: {how})" if how else "")
                )
        ratios = prof["ratios"]
        print(
            f"{'':<12} speedup: python/rust {_fmt(ratios['python_over_rust'], '.3f')}  "
            f"backtrader/rust {_fmt(ratios['backtrader_over_rust'], '.3f')}  "
            f"backtrader/python {_fmt(ratios['backtrader_over_python'], '.3f')}  "
            f"(parity OK: {parity.get('detail', '')})"
        )
        for label, v in prof.get("variants", {}).items():
            print(
                f"{'':<12} variant {label:<14} mean {v['mean_ms']:.2f} ms  median "
                f"{v['median_ms']:.2f} ms  min {v['min_ms']:.2f} ms  (informational, not the "
                f"timed input of {v['backend']})"
            )
        vr = prof.get("variant_ratios")
        if vr:
            print(
                f"{'':<12} inputs: rust tuples/packed "
                f"{_fmt(vr['rust_tuples_over_rust_packed'], '.3f')}  python packed/tuples "
                f"{_fmt(vr['python_packed_over_python_tuples'], '.3f')}  python/rust on tuples "
                f"{_fmt(vr['python_tuples_over_rust_tuples'], '.3f')}"
            )
    print()


# -- main --------------------------------------------------------------------------------------
def run_one(argv: Sequence[str]) -> int:
    """``--_run-one``: time one ``cerebro.run()`` and print ``{"elapsed_ms", "cash", "value"}``.

    Without ``--_data-dir`` it prepares the data itself, e.g. to profile one run:
    ``python -m cProfile -s cumtime scripts/benchmark_engine_backends.py --_run-one --profile
    order-heavy --backend python --bars 2000``.
    """
    args = _parse_run_one(argv)
    if bench.PROFILES[args.profile].core_only:
        print("--_run-one does not run core-only", file=sys.stderr)
        return EXIT_USAGE
    with tempfile.TemporaryDirectory(prefix="bt-cracktrader-bench-") as tmp:
        if args.data_dir is None:
            data = bench.prepare_data(args.profile, args.bars, Path(tmp), minute_file=MINUTE_FILE)
        else:
            data = bench.load_prepared(args.profile, args.data_dir)
        run = bench.time_cerebro_run(args.profile, args.backend, data.files)
    print(json.dumps({"elapsed_ms": run.elapsed_ms, "cash": run.cash, "value": run.value}))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if RUN_ONE in argv:
        return run_one(argv)
    args = parse_args(argv)
    notices: list[str] = []
    try:
        if args.iterations < MIN_ITERATIONS:
            raise UsageError(f"--iterations must be at least {MIN_ITERATIONS}")
        if args.warmup < MIN_WARMUP:
            raise UsageError(f"--warmup must be at least {MIN_WARMUP}")
        if args.bars < bench.MIN_BARS:
            raise UsageError(f"--bars must be at least {bench.MIN_BARS}")
        if not args.max_slowdown_ratio >= 1.0:
            raise UsageError("--max-slowdown-ratio must be at least 1.0")
        if args.force_baseline_overwrite and not args.update_baseline:
            raise UsageError("--force-baseline-overwrite only goes with --update-baseline")
        baseline_path: Path | None = args.baseline_json
        baseline: dict[str, Any] | None = None
        if args.update_baseline:
            baseline_path = baseline_path or DEFAULT_BASELINE
            if baseline_path.exists() and not args.force_baseline_overwrite:
                raise UsageError(
                    f"refusing to overwrite the existing baseline {baseline_path}: pass "
                    "--force-baseline-overwrite to replace it"
                )
        elif baseline_path is not None:
            if not baseline_path.is_file():
                raise UsageError(
                    f"no baseline at {baseline_path} (create one with --update-baseline)"
                )
            baseline = load_baseline(baseline_path, args.bars)
        backends, rust_ok, rust_reason = resolve_backends(args.backends, notices)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    profiles = list(bench.PROFILES) if args.profile == "all" else [args.profile]
    report: dict[str, Any] = {
        "schema": REPORT_SCHEMA,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": [Path(sys.argv[0]).name, *argv],
        "settings": {
            "iterations": args.iterations,
            "warmup": args.warmup,
            "bars": args.bars,
            "seed": bench.DEFAULT_SEED,
            "profiles": profiles,
            "backends_requested": [b.strip() for b in args.backends.split(",") if b.strip()],
            "backends": backends,
            "max_slowdown_ratio": args.max_slowdown_ratio,
        },
        "machine": {**bench.machine_info(), "git": _git_revision()},
        "rust": {"available": rust_ok, "reason": rust_reason, "used": "rust" in backends},
        "python_only": "rust" not in backends,
        "notices": notices,
        "profiles": {},
    }
    for notice in notices:
        print(f"NOTICE: {notice}", file=sys.stderr)

    failed = False
    with tempfile.TemporaryDirectory(prefix="bt-cracktrader-bench-") as tmp:
        workdir = Path(tmp)
        for profile in profiles:
            allowed = bench.backends_for(profile)
            run_on = [b for b in backends if b in allowed]
            if not run_on:
                report["profiles"][profile] = {
                    "skipped": f"none of the backends {','.join(backends)} runs {profile} "
                    f"(it takes {','.join(allowed)})"
                }
                continue
            if bench.PROFILES[profile].core_only:
                result = bench_core_profile(profile, run_on, args)
            else:
                result = bench_cerebro_profile(profile, run_on, args, workdir)
            report["profiles"][profile] = result
            if not result["parity"]["ok"] or "error" in result:
                failed = True

    baseline_report: dict[str, Any] = {"path": str(baseline_path) if baseline_path else None}
    if baseline is not None:
        failures, notes = compare_with_baseline(report, baseline, args.max_slowdown_ratio)
        baseline_report.update(checked=True, failures=failures, notes=notes)
        failed = failed or bool(failures)
    report["baseline"] = baseline_report
    report["ok"] = not failed

    _end_bar()
    print_report(report)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"report written to {args.json_out}")

    if baseline is not None:
        for line in baseline_report["notes"]:
            print(f"baseline: {line}")
        for line in baseline_report["failures"]:
            print(f"baseline REGRESSION: {line}")
        print(f"baseline check against {baseline_path}: {'FAILED' if failures else 'passed'}")
    if args.update_baseline:
        assert baseline_path is not None
        if failed:
            print(f"baseline NOT written to {baseline_path}: this run failed", file=sys.stderr)
        else:
            if "rust" not in backends:
                print(
                    "NOTICE: the baseline holds no Rust timings (Python-only run): Rust "
                    "regression checks against it will be skipped",
                    file=sys.stderr,
                )
            baseline_path.parent.mkdir(parents=True, exist_ok=True)
            baseline_path.write_text(json.dumps(report, indent=2) + "\n")
            print(f"baseline written to {baseline_path}")
    if failed:
        print("FAILED: see PARITY FAILED / RUN FAILED / REGRESSION above", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


def _git_revision() -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return proc.stdout.strip() or None


if __name__ == "__main__":
    sys.exit(main())
