"""The command line: ``python -m bt_cracktrader <command> ...``.

``run`` runs an existing Backtrader script with ``CrackBroker`` in place of ``BackBroker``;
``run --compare`` runs it under several brokers, each in a fresh process, and says whether
everything it did and printed is identical. ``sweep`` runs a script's strategy over a grid of
parameters on Dask, as ``optstrategy`` would. Sub-commands are registered in ``_COMMANDS``: each
has a ``configure(parser)`` that adds its arguments and a handler that returns the exit status.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import importlib.util
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from typing import Any, Callable

import backtrader as bt

from .core import ENV_VAR as BACKEND_ENV_VAR
from .core import RustBackendUnavailable, rust_core
from .record import first_difference
from .runner import BROKER_CHOICES, resolve_backend, run_script, save_plots
from .sweep import SweepError, SweepRecord, parse_param, print_results, sweep

__all__ = ["COMPARE_BROKERS", "build_parser", "main"]

PROG = "python -m bt_cracktrader"

#: What ``run --compare`` runs by default; the first one is the reference.
COMPARE_BROKERS = ("backtrader", "python", "rust")

_RUN_DESCRIPTION = """\
Run an existing Backtrader script, unchanged, with every BackBroker it
creates (explicitly, or as the default broker of bt.Cerebro()) replaced by
CrackBroker on the chosen core. Everything after the script path is passed to
the script untouched; the exit status is the script's.

With --compare, the script runs once per broker of --backends, each in a
fresh Python process (side by side, all with the same PYTHONHASHSEED: 0
unless set), and every run is compared with the first one: each
Cerebro.run() is recorded (order notifications, trades, cash, value and
positions on every bar, final cash and value), and so are the exit status and
everything printed to stdout and stderr. Each run is reported IDENTICAL or
DIFFERS, with where it first differs. The exit status is 0 only if every run
is identical, every requested broker could run (a missing Rust extension is
an error) and the script succeeded.

Recording adds an analyzer named _crack_record to each Cerebro: a script
that lists all of its strategy's analyzers shows it (in every run alike).
"""

_RUN_EPILOG = """\
examples:
  %(prog)s my_strategy.py --cash 50000
  %(prog)s --backend python my_strategy.py
  %(prog)s --compare my_strategy.py --data orcl.txt
  %(prog)s --compare --backends backtrader,python my_strategy.py
"""


# -- argument parsing ---------------------------------------------------------------------------
def _broker_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in COMPARE_BROKERS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown broker {', '.join(map(repr, unknown))}: choose from "
            f"{', '.join(COMPARE_BROKERS)}"
        )
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a broker is listed twice in {text!r}")
    if len(names) < 2:
        raise argparse.ArgumentTypeError("--backends needs at least two brokers to compare")
    return names


def _configure_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=BROKER_CHOICES,
        default=None,
        help=(
            "the core behind CrackBroker: python, rust, or auto (rust if the extension imports, "
            f"else python). Default: ${BACKEND_ENV_VAR}, else auto. 'backtrader' runs the "
            "script with Backtrader's own BackBroker (no swap)."
        ),
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="run the script under each broker of --backends and compare the runs",
    )
    parser.add_argument(
        "--backends",
        type=_broker_list,
        default=list(COMPARE_BROKERS),
        metavar="LIST",
        help=(
            "with --compare: comma-separated brokers, the first is the reference "
            f"(default: {','.join(COMPARE_BROKERS)}; 'backtrader' is BackBroker)"
        ),
    )
    parser.add_argument(
        "--show-output",
        action="store_true",
        help="with --compare: also print what the script printed in the reference run",
    )
    parser.add_argument(
        "--plot",
        metavar="PNG",
        default=None,
        help="save a plot of each run (cerebro.plot()) to this PNG file (several runs: "
        "NAME-1.png, NAME-2.png, ...)",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (it is only drawn on a terminal anyway)",
    )
    # internal: a --compare worker process writes its recorded runs (JSON) to this file
    parser.add_argument("--_record-to", dest="record_to", help=argparse.SUPPRESS)
    parser.add_argument("script", help="the Backtrader script to run (a .py file)")
    parser.add_argument(
        "args",
        nargs=argparse.REMAINDER,
        metavar="...",
        help="arguments for the script, passed on untouched",
    )


@dataclasses.dataclass(frozen=True)
class _Command:
    help: str
    description: str
    epilog: str
    configure: Callable[[argparse.ArgumentParser], None]
    handler: Callable[[argparse.Namespace], int]
    #: the name of a positional after which every token belongs to someone else (``run``'s
    #: script): argparse must not interpret those tokens, ``--`` included
    passthrough: str | None = None


def _run_command(ns: argparse.Namespace) -> int:
    return cmd_compare(ns) if ns.compare else cmd_run(ns)


_REPLAY_DESCRIPTION = """\
Replay a core recording on a fresh core and check that every call gives the
recorded records and state, to the last bit. LOG is a replay log written by a
run with CrackBroker(replay_log=PATH) or BT_CRACKTRADER_REPLAY_LOG=PATH (JSON
lines), or a golden fixture from fixtures/core/ (one JSON document). An
execution-ledger log (LiveBroker(replay_log=PATH), RecordingLedger) or a
fixture from fixtures/ledger/ is replayed on a fresh ledger, batch by batch.
The exit status is 0 if the replay is identical, 1 at the first difference
(which is printed). The output does not depend on the backend: replaying a log
on either core, any number of times, prints the same bytes.
"""


def _configure_replay(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("log", help="the replay log (.jsonl) or fixture (.json)")
    parser.add_argument(
        "--backend",
        choices=("python", "rust", "auto"),
        default=None,
        help=f"the core to replay on (default: ${BACKEND_ENV_VAR}, else auto)",
    )
    parser.add_argument(
        "--out", default=None, help="write the replayed calls as a new replay log to this path"
    )


def cmd_replay(ns: argparse.Namespace) -> int:
    from pathlib import Path

    import jsonschema

    from .core import load_core
    from .core.replay import RecordingCore, load, replay

    try:
        recording = load(Path(ns.log))
    except (OSError, ValueError) as exc:
        print(f"{PROG} replay: cannot read {ns.log}: {exc}", file=sys.stderr)
        return 2
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        print(f"{PROG} replay: {ns.log} is not a valid recording at {where}: {exc.message}",
              file=sys.stderr)  # fmt: skip
        return 2
    if "ledger_version" in recording:
        return _replay_ledger_log(ns, recording)
    core_cls, _ = load_core(ns.backend)
    out = open(ns.out, "w") if ns.out else None  # noqa: SIM115 - closed below
    try:

        def recording_core(cash: Any, checksubmit: Any, shortcash: Any, fund: Any) -> Any:
            inner = core_cls(cash, checksubmit, shortcash, fund)
            return RecordingCore(inner, cash, checksubmit, shortcash, fund, sink=out, keep=False)

        factory = recording_core if out is not None else core_cls
        calls = replay(recording, factory)
    except AssertionError as exc:
        print(f"{ns.log}: DIFFERS: {exc}")
        return 1
    finally:
        if out is not None:
            out.close()
    print(f"{ns.log}: {_plural(calls, 'call')} replayed, records and state identical")
    return 0


def _replay_ledger_log(ns: argparse.Namespace, recording: dict[str, Any]) -> int:
    from .core import load_ledger
    from .core.replay import RecordingLedger, replay_ledger

    ledger_cls, _ = load_ledger(ns.backend)
    out = open(ns.out, "w") if ns.out else None  # noqa: SIM115 - closed below
    try:

        def recording_ledger(cash: Any, fee_rate: Any, strict: Any) -> Any:
            inner = ledger_cls(cash, fee_rate, strict)
            return RecordingLedger(inner, cash, fee_rate, strict, sink=out)

        batches = replay_ledger(recording, recording_ledger if out is not None else ledger_cls)
    except AssertionError as exc:
        print(f"{ns.log}: DIFFERS: {exc}")
        return 1
    finally:
        if out is not None:
            out.close()
    print(f"{ns.log}: {_plural(batches, 'batch')} replayed, records and state identical")
    return 0


_SWEEP_DESCRIPTION = """\
Run the strategy of a Backtrader script once per parameter set of a grid, on
Dask, with the results of cerebro.optstrategy over the same grid, to the bit.

The script is imported as a module (its `if __name__ == "__main__":` block
does not run) and must define build_cerebro() (or the function named by
--build): it returns a configured bt.Cerebro (datas, broker, sizers,
analyzers) with exactly one strategy added by addstrategy. Each --param
gives values for one of that strategy's parameters:

  fast=5:50:5     range(5, 50, 5): 5, 10, ..., 45 (the stop is excluded)
  period=0.5:2:0.5  floats: 0.5, 1.0, 1.5
  slow=20,50,100  a list (ints, floats, True/False/None, else strings)

The parameter sets are the product of the lists, in optstrategy's order.
Without --scheduler a LocalCluster of --workers processes (default: one per
CPU) runs here. Every set's strategy parameters and analyzers' results
(get_analysis()) go to --out as they finish (.csv, or .parquet with pyarrow),
sorted in grid order at the end; without --out the table is printed on stdout
at the end. A set that raises is retried once on another worker; if it fails
again it is reported with its parameters and error, and the exit status is 1.
"""

_SWEEP_EPILOG = """\
examples:
  %(prog)s sma.py --param fast=5:50:5 --param slow=20,50,100 --out results.csv
  %(prog)s sma.py --param fast=5:50:5 --backend rust --workers 2
  %(prog)s sma.py --param fast=5:50:5 --scheduler tcp://10.0.0.5:8786 --out r.parquet
  %(prog)s sma.py --param fast=5:50:5 --out results.csv --resume
"""


def _param(text: str) -> tuple[str, list[Any]]:
    try:
        return parse_param(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, not {text!r}")
    return value


def _configure_sweep(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("script", help="the script that defines build_cerebro() (a .py file)")
    parser.add_argument(
        "--param",
        "-p",
        dest="params",
        action="append",
        type=_param,
        default=[],
        metavar="NAME=VALUES",
        help="a strategy parameter and its values: a:b[:step] or v1,v2,... (repeat it)",
    )
    parser.add_argument(
        "--build",
        default="build_cerebro",
        metavar="FUNCTION",
        help="the script's function that returns the cerebro (default: build_cerebro)",
    )
    parser.add_argument(
        "--backend",
        choices=BROKER_CHOICES,
        default=None,
        help=(
            "the core behind CrackBroker, which replaces every BackBroker the script creates: "
            f"python, rust or auto (default: ${BACKEND_ENV_VAR}, else auto); 'backtrader' "
            "keeps the script's broker"
        ),
    )
    parser.add_argument(
        "--scheduler", default=None, metavar="ADDRESS", help="a Dask scheduler, tcp://host:8786"
    )
    parser.add_argument(
        "--workers",
        type=_positive,
        default=None,
        metavar="N",
        help="the LocalCluster's worker processes (default: one per CPU); with --scheduler, "
        "wait for N workers before starting",
    )
    parser.add_argument("--out", default=None, metavar="FILE", help="results.csv or .parquet")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="--out exists: keep its finished parameter sets and run only the others",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=1,
        metavar="N",
        help="runs of a failing parameter set after the first (default: 1)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the progress bar on stderr (default: only on a terminal)",
    )


_COMMANDS: dict[str, _Command] = {
    "run": _Command(
        help="run a Backtrader script with CrackBroker in place of BackBroker",
        description=_RUN_DESCRIPTION,
        epilog=_RUN_EPILOG,
        configure=_configure_run,
        handler=_run_command,
        passthrough="script",
    ),
    "replay": _Command(
        help="replay a core recording and check it reproduces to the bit",
        description=_REPLAY_DESCRIPTION,
        epilog="",
        configure=_configure_replay,
        handler=cmd_replay,
    ),
    "sweep": _Command(
        help="run a strategy over a parameter grid on Dask (optstrategy, distributed)",
        description=_SWEEP_DESCRIPTION,
        epilog=_SWEEP_EPILOG,
        configure=_configure_sweep,
        handler=lambda ns: cmd_sweep(ns),  # defined below, with the other commands
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "bt_cracktrader: Backtrader's broker on a deterministic core (Python or Rust). "
            f"Run '{PROG} <command> --help' for a command's options."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for name, command in _COMMANDS.items():
        sub_parser = sub.add_parser(
            name,
            help=command.help,
            description=command.description,
            epilog=command.epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            allow_abbrev=False,
        )
        command.configure(sub_parser)
    return parser


def _split_passthrough(parser: argparse.ArgumentParser, tokens: Sequence[str]) -> int | None:
    """Index in ``tokens`` (a sub-command's arguments) of the first positional argument, or
    ``None``: options before it belong to the sub-command, everything after it is passed on."""
    takes_value = {
        opt
        for action in parser._actions
        if action.option_strings and action.nargs != 0
        for opt in action.option_strings
    }
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "--":
            return i + 1 if i + 1 < len(tokens) else None
        if token.startswith("-") and token != "-":
            if token in takes_value:
                i += 1  # its value
            i += 1
            continue
        return i
    return None


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]  # type: ignore[no-any-return]
    raise KeyError(name)  # pragma: no cover


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = build_parser()
    argv = list(argv)
    command = _COMMANDS.get(argv[0]) if argv else None
    if command is None or command.passthrough is None:
        return parser.parse_args(argv)
    # argparse would read options (and drop a "--") after the script path: parse the
    # sub-command's own part and pass the rest on verbatim
    position = _split_passthrough(_subparser(parser, argv[0]), argv[1:])
    if position is None:
        return parser.parse_args(argv)
    cut = 1 + position
    own = argv[:cut]
    if own[-1] == "--":
        own.pop()
    ns = parser.parse_args([*own, "--", argv[cut]])
    ns.args = argv[cut + 1 :]
    return ns


# -- run ----------------------------------------------------------------------------------------
def _print_script_error(exc: BaseException, script: str) -> None:
    """A traceback like ``python script.py`` prints: from the script's first frame on."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != script:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb)


def _write_records(path: str, records: list[dict[str, Any]], complete: bool) -> None:
    runs = {f"run{i + 1}": rec for i, rec in enumerate(records)}
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"complete": complete, "runs": runs}, fh, default=repr)
    os.replace(tmp, path)


def _cli_backend(command: str, backend: str | None) -> tuple[str | None, bool]:
    """``--backend`` resolved (``"backtrader"`` stays as is); ``(name, True)`` when the Rust
    core was asked for and does not import, which is reported on stderr."""
    if backend == "backtrader":
        return backend, False
    try:
        name, why = resolve_backend(backend)
    except RustBackendUnavailable as exc:
        print(f"{PROG} {command}: {exc}", file=sys.stderr)
        return backend, True
    if why is not None:
        print(f"{PROG}: backend 'auto' uses the Python core ({why})", file=sys.stderr)
    return name, False


def cmd_run(ns: argparse.Namespace) -> int:
    script: str = ns.script
    if not os.path.isfile(script):
        print(f"{PROG} run: no such script: {script!r}", file=sys.stderr)
        return 2
    backend, failed = _cli_backend("run", ns.backend)
    if failed:
        return 1
    records: list[dict[str, Any]] | None = [] if ns.record_to else None
    complete = False
    cerebros: list[Any] | None = [] if ns.plot else None
    try:
        code = run_script(
            script,
            ns.args,
            backend=backend,
            records=records,
            progress=not ns.no_progress and not ns.record_to,
            cerebros=cerebros,
        )
        complete = True
        if cerebros is not None:
            if not cerebros:
                print(f"{PROG} run: --plot: the script ran no cerebro", file=sys.stderr)
                code = code or 1
            else:
                for out in save_plots(cerebros, ns.plot):
                    print(f"{PROG}: plot saved to {out}", file=sys.stderr)
    except Exception as exc:
        _print_script_error(exc, script)
        code = 1
    finally:
        sys.stdout.flush()
        if ns.record_to and records is not None:
            _write_records(ns.record_to, records, complete)
    return code


# -- run --compare ------------------------------------------------------------------------------
@dataclasses.dataclass
class Outcome:
    """One run of the script under one broker, in its own process."""

    broker: str
    exit_code: int | None = None
    stdout: list[str] = dataclasses.field(default_factory=list)
    stderr: list[str] = dataclasses.field(default_factory=list)
    record: dict[str, Any] | None = None
    seconds: float = 0.0
    unavailable: str | None = None

    def summary(self) -> str:
        if self.unavailable is not None:
            return f"UNAVAILABLE: {self.unavailable}"
        parts = [f"exit {self.exit_code}", f"{self.seconds:.2f} s"]
        if self.record is None:
            parts.append("no record")
        else:
            runs = self.record.get("runs", {})
            strategies = [s for r in runs.values() for s in r["strategies"].values() if s]
            orders = sum(len(s["orders"]) for s in strategies)
            bars = sum(len(s["bars"]) for s in strategies)
            parts.append(
                f"{_plural(len(runs), 'cerebro run')}, {_plural(len(strategies), 'strategy')}, "
                f"{_plural(orders, 'order notification')}, {_plural(bars, 'bar')}"
            )
            if not self.record.get("complete", False):
                parts.append("INCOMPLETE (the script raised)")
        parts.append(_plural(len(self.stdout), "line") + " printed")
        return ", ".join(parts)


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"1 {word}"
    if word.endswith("y"):
        return f"{n} {word[:-1]}ies"
    return f"{n} {word}es" if word.endswith(("ch", "sh", "s", "x")) else f"{n} {word}s"


_WORKER_LAUNCHER = (
    "import sys\n"
    "if not getattr(sys.flags, 'safe_path', False):\n"
    "    del sys.path[0]\n"
    "from bt_cracktrader.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    # the worker imports the very package this process imported
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    # identical hash seeds: iteration order of sets of str must not make runs differ
    env.setdefault("PYTHONHASHSEED", "0")
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


def _run_worker(broker: str, script: str, args: Sequence[str], workdir: str) -> Outcome:
    record_file = os.path.join(workdir, f"{broker}.json")
    # "python -m" would put the working directory first on sys.path: run from a project that
    # holds a bt_cracktrader/ folder (this repository), the worker would import that instead of
    # the package this process runs. The launcher drops it and imports what we imported.
    cmd = [sys.executable, "-c", _WORKER_LAUNCHER, "run", "--backend", broker]
    cmd += ["--_record-to", record_file, "--", script, *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, env=_worker_env(), check=False)
    outcome = Outcome(broker, exit_code=proc.returncode, seconds=time.perf_counter() - start)
    outcome.stdout = proc.stdout.decode("utf-8", "replace").splitlines()
    outcome.stderr = proc.stderr.decode("utf-8", "replace").splitlines()
    if os.path.exists(record_file):
        with open(record_file, encoding="utf-8") as fh:
            outcome.record = json.load(fh)
    return outcome


_FIELDS = {
    "orders": (
        "ref", "ordtype", "exectype", "status", "data", "created.dt", "created.size",
        "created.price", "created.pricelimit", "executed.dt", "executed.size",
        "executed.remsize", "executed.price", "executed.value", "executed.comm", "executed.pnl",
        "executed.margin", "executed.psize", "executed.pprice", "executed.exbits",
    ),
    "trades": (
        "ref", "status", "data", "tradeid", "size", "price", "value", "commission", "pnl",
        "pnlcomm", "baropen", "dtopen", "barclose", "dtclose", "barlen", "long", "justopened",
    ),
    "bars": ("bar", "datetime", "cash", "value", "fundvalue", "fundshares", "positions"),
}  # fmt: skip

_ROW = re.compile(
    r"^(?P<head>.*)/(?P<kind>orders|trades|bars)\[(?P<row>\d+)\](?:\[(?P<col>\d+)\])?"
)


def _date(num: Any) -> str:
    try:
        return str(bt.num2date(float(num)).isoformat(sep=" "))
    except (TypeError, ValueError, OverflowError):
        return repr(num)


def _lookup(record: Any, head: str) -> Any:
    node = record
    for key in head.strip("/").split("/"):
        node = node[key]
    return node


def describe_record_difference(diff: str, reference: dict[str, Any]) -> str:
    """``diff`` (a path from ``first_difference``) with the field name and what the row is:
    ``/run1/strategies/strategy0/orders[3][13]`` is order notification 3's executed value."""
    match = _ROW.match(diff)
    if match is None:
        return diff
    kind, row = match["kind"], int(match["row"])
    notes = []
    if match["col"] is not None and int(match["col"]) < len(_FIELDS[kind]):
        notes.append(_FIELDS[kind][int(match["col"])])
    try:
        rows = _lookup(reference, f"{match['head']}/{kind}")
        entry = rows[row]
    except (KeyError, IndexError, TypeError):
        entry = None
    if isinstance(entry, list):
        if kind == "orders" and len(entry) > 5:
            notes.append(
                f"the reference's notification: order +{entry[0]} {entry[1]} {entry[2]} "
                f"{entry[3]}, created {_date(entry[5])}"
            )
        elif kind == "bars" and len(entry) > 1:
            notes.append(f"bar {entry[0]}, {_date(entry[1])}")
        elif kind == "trades" and len(entry) > 1:
            notes.append(f"the reference's trade: +{entry[0]} {entry[1]}")
    return f"{diff}  [{'; '.join(notes)}]" if notes else diff


def _first_line_difference(a: list[str], b: list[str]) -> tuple[int, str | None, str | None]:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i + 1, x, y
    n = min(len(a), len(b))
    return n + 1, a[n] if n < len(a) else None, b[n] if n < len(b) else None


def differences(reference: Outcome, other: Outcome) -> list[str]:
    """Where ``other`` first differs from ``reference``: exit status, record, stdout, stderr
    (one line each; empty if identical)."""
    found = []
    if reference.exit_code != other.exit_code:
        found.append(f"exit status: {reference.exit_code} != {other.exit_code}")
    if reference.record is None or other.record is None:
        if reference.record is not other.record:
            found.append("record: missing in one run (the process died)")
    else:
        diff = first_difference(reference.record, other.record)
        if diff is not None:
            found.append("record: " + describe_record_difference(diff, reference.record))
    for stream in ("stdout", "stderr"):
        a, b = getattr(reference, stream), getattr(other, stream)
        if a != b:
            line, x, y = _first_line_difference(a, b)
            width = max(len(reference.broker), len(other.broker)) + 1
            shown = [
                f"      {name + ':':<{width}} {'<end of output>' if text is None else repr(text)}"
                for name, text in ((reference.broker, x), (other.broker, y))
            ]
            found.append("\n".join([f"{stream} line {line}:", *shown]))
    return found


def _rust_unavailable() -> str | None:
    try:
        rust_core()
    except RustBackendUnavailable as exc:
        return str(exc)
    return None


def cmd_compare(ns: argparse.Namespace) -> int:
    script: str = ns.script
    if ns.backend is not None:
        print(
            f"{PROG} run: --backend has no effect with --compare (use --backends)",
            file=sys.stderr,
        )
        return 2
    if not os.path.isfile(script):
        print(f"{PROG} run: no such script: {script!r}", file=sys.stderr)
        return 2
    brokers: list[str] = ns.backends
    shown = " ".join([script, *ns.args])
    print(f"{PROG} run --compare: {shown}")
    missing = {b: _rust_unavailable() for b in brokers if b == "rust"}
    with tempfile.TemporaryDirectory(prefix="bt_cracktrader-compare-") as workdir:
        # the runs are independent processes: run them side by side
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(brokers)) as pool:
            futures = {
                b: pool.submit(_run_worker, b, script, ns.args, workdir)
                for b in brokers
                if missing.get(b) is None
            }
            outcomes = [
                futures[b].result() if b in futures else Outcome(b, unavailable=missing[b])
                for b in brokers
            ]
    for outcome in outcomes:
        print(f"  {outcome.broker:<10} {outcome.summary()}")
    reference, others = outcomes[0], outcomes[1:]
    if ns.show_output and reference.unavailable is None:
        print(f"--- output of the {reference.broker} run " + "-" * 40)
        for line in reference.stdout:
            print(line)
        for line in reference.stderr:
            print(line, file=sys.stderr)
        print("-" * 60)
    if reference.unavailable is not None:
        print(f"reference broker {reference.broker} is unavailable: nothing compared")
        print("MISMATCH")
        return 1
    ok = True
    for other in others:
        if other.unavailable is not None:
            ok = False
            print(f"{other.broker}: NOT RUN (unavailable)")
            continue
        found = differences(reference, other)
        if found:
            ok = False
            print(f"{other.broker}: DIFFERS from {reference.broker}")
            for line in found:
                print(f"    {line}")
        else:
            print(
                f"{other.broker}: IDENTICAL to {reference.broker} (exit status, record, "
                f"{_plural(len(other.stdout), 'line')} of stdout, "
                f"{_plural(len(other.stderr), 'line')} of stderr)"
            )
    if not ok:
        print("MISMATCH")
        return 1
    if reference.exit_code != 0:
        print(f"MATCH, but the script failed in every run (exit status {reference.exit_code})")
        return 1
    print("MATCH")
    return 0


# -- sweep --------------------------------------------------------------------------------------
def _import_script(script: str) -> Any:
    """The script as a module (not ``__main__``), registered under a name of its own so that
    what it defines pickles by reference; its directory goes first on ``sys.path``, as for
    ``python script.py`` (before the LocalCluster starts: its workers inherit the path)."""
    stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(script))[0])
    name = f"_bt_cracktrader_script_{stem}"
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    spec = importlib.util.spec_from_file_location(name, script)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py path always has one
        raise ImportError(f"cannot import {script}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def cmd_sweep(ns: argparse.Namespace) -> int:
    saved_path = sys.path[:]
    try:
        return _sweep_command(ns)
    finally:
        sys.path[:] = saved_path  # _import_script put the script's directory first


def _sweep_command(ns: argparse.Namespace) -> int:
    script: str = ns.script
    if not os.path.isfile(script):
        print(f"{PROG} sweep: no such script: {script!r}", file=sys.stderr)
        return 2
    if not ns.params:
        print(f"{PROG} sweep: give at least one --param NAME=VALUES", file=sys.stderr)
        return 2
    names = [name for name, _ in ns.params]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        print(f"{PROG} sweep: --param {', '.join(twice)} given twice", file=sys.stderr)
        return 2
    if ns.resume and not ns.out:
        print(f"{PROG} sweep: --resume needs --out (the results file to resume)", file=sys.stderr)
        return 2
    backend, failed = _cli_backend("sweep", ns.backend)
    if failed:
        return 1
    try:
        module = _import_script(script)
    except Exception as exc:
        _print_script_error(exc, os.path.abspath(script))
        return 1
    build = getattr(module, ns.build, None)
    if not callable(build):
        print(
            f"{PROG} sweep: {script} defines no function {ns.build}() that returns the "
            "cerebro to sweep (see --help)",
            file=sys.stderr,
        )
        return 2
    grid = dict(ns.params)
    total = 1
    for values in grid.values():
        total *= len(values)
    shown = " x ".join(f"{name} ({len(values)})" for name, values in grid.items())
    print(f"{PROG} sweep: {script}: {total} parameter sets: {shown}", file=sys.stderr)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    package_logger = logging.getLogger("bt_cracktrader")
    package_logger.addHandler(handler)
    start = time.perf_counter()
    try:
        records = sweep(
            build,
            grid,
            scheduler=ns.scheduler,
            workers=ns.workers,
            backend=backend,
            out=ns.out,
            resume=ns.resume,
            retries=ns.retries,
            progress=ns.progress,
        )
    except SweepError as exc:
        print(f"{PROG} sweep: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        where = (
            f"the finished sets are in {ns.out}: run again with --resume"
            if ns.out
            else "nothing was saved (no --out)"
        )
        print(f"\n{PROG} sweep: interrupted; {where}", file=sys.stderr)
        return 130
    finally:
        package_logger.removeHandler(handler)
    return _sweep_report(records, list(grid), ns.out, time.perf_counter() - start)


def _sweep_report(
    records: list[SweepRecord], keys: list[str], out: str | None, seconds: float
) -> int:
    if out is None:
        print_results(records, keys, sys.stdout)
        sys.stdout.flush()
    failed = [rec for rec in records if rec.status == "error"]
    counts = {s: sum(rec.status == s for rec in records) for s in ("ok", "error", "skipped")}
    print(
        f"{PROG} sweep: {_plural(len(records), 'parameter set')} in {seconds:.1f} s: "
        f"{counts['ok']} ok, {counts['error']} failed, {counts['skipped']} skipped"
        + (f"; results in {out}" if out else ""),
        file=sys.stderr,
    )
    for rec in failed:
        print(f"FAILED {rec.describe()}: {rec.error}", file=sys.stderr)
    return 1 if failed else 0


# -- entry point --------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bt_cracktrader``: parse ``argv`` (default ``sys.argv[1:]``), run the
    command and return its exit status."""
    ns = parse_args(sys.argv[1:] if argv is None else argv)
    if ns.command is None:
        build_parser().print_help(sys.stderr)
        return 2
    return _COMMANDS[ns.command].handler(ns)
