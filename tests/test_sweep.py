"""``bt_cracktrader.sweep`` / ``python -m bt_cracktrader sweep``: optstrategy on Dask.

Every sweep runs on a ``LocalCluster`` of worker processes and is compared, record by record,
with ``cerebro.optstrategy`` over the same grid run in this process with ``maxcpus=1``, on
BackBroker and on the core under test: strategy parameters and every analyzer's
``get_analysis()``, with the same types and floats compared with ``==`` (and their ``repr``,
so the sign of a zero counts too).
"""

from __future__ import annotations

import collections
import csv
import datetime
import functools
import importlib.util
import logging
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import backtrader as bt
import distributed
import pytest
from backtrader.utils.autodict import AutoOrderedDict

import bt_cracktrader
from bt_cracktrader import CrackBroker, SweepError, SweepRecord, cli
from bt_cracktrader.sweep import (
    decode_value,
    encode_value,
    expand_param,
    load_results,
    parse_param,
    write_results,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "fixtures" / "data"

GRID = {"fast": [3, 5, 8], "slow": [15, 25]}


class SmaCross(bt.Strategy):
    """An SMA crossover on each of two stocks, with a weekly filter on the first; ``marker``,
    ``crash_at``, ``fail_at`` and ``log`` let tests make a run kill its worker, raise, or note
    that it ran."""

    params = (
        ("fast", 5),
        ("slow", 20),
        ("stake", 10),
        ("marker", ""),
        ("crash_at", -1),
        ("fail_at", -1),
        ("fail_always", False),
        ("log", ""),
        ("finish_last", 0),
    )

    def __init__(self) -> None:
        self.cross = [
            bt.ind.CrossOver(bt.ind.SMA(d, period=self.p.fast), bt.ind.SMA(d, period=self.p.slow))
            for d in self.datas[:2]
        ]
        self.weekly = bt.ind.SMA(self.datas[2], period=3)

    def start(self) -> None:
        if self.p.fast == self.p.fail_at and (self.p.fail_always or _first(self.p.marker)):
            raise ZeroDivisionError(f"no luck with fast={self.p.fast}")

    def next(self) -> None:
        if len(self) == 100 and self.p.fast == self.p.crash_at and _first(self.p.marker):
            os._exit(3)  # the worker process dies in the middle of a run
        for data, cross in zip(self.datas, self.cross):
            if cross > 0 and self.datas[0].close[0] > self.weekly[0] * 0.9:
                self.buy(data=data, size=self.p.stake)
            elif cross < 0 and self.getposition(data):
                self.close(data=data)

    def stop(self) -> None:
        if self.p.fast == self.p.finish_last and self.p.log:
            # finish after another parameter set: a wait on the log, not a sleep, so that a
            # loaded machine's scheduling cannot put this one first anyway
            deadline = time.monotonic() + 60.0
            while time.monotonic() < deadline and not _logged(self.p.log):
                time.sleep(0.02)
        if self.p.log:
            with open(self.p.log, "a") as fh:
                fh.write(f"{self.p.fast},{self.p.slow}\n")


def _logged(path: str) -> bool:
    """True once some run has written its line to ``path``."""
    try:
        return os.path.getsize(path) > 0
    except OSError:
        return False


def _first(marker: str) -> bool:
    """True for the first run (of any process) that gets here: it creates ``marker``."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


ANALYZERS = (
    (bt.analyzers.TradeAnalyzer, "trades"),
    (bt.analyzers.DrawDown, "drawdown"),
    (bt.analyzers.Returns, "returns"),
    (bt.analyzers.SQN, "sqn"),
    (bt.analyzers.TimeReturn, "monthly"),
    (bt.analyzers.Transactions, "transactions"),
)


def build(broker: str, **strategy_kwargs: Any) -> bt.Cerebro:
    """The user's build_cerebro: ``broker`` is ``"backtrader"`` (Cerebro's default
    BackBroker) or a CrackBroker core."""
    cerebro = bt.Cerebro()
    orcl = bt.feeds.YahooFinanceCSVData(dataname=str(DATA / "orcl-2014.txt"))
    cerebro.adddata(orcl, name="orcl")
    cerebro.adddata(bt.feeds.YahooFinanceCSVData(dataname=str(DATA / "yhoo-2014.txt")), "yhoo")
    cerebro.resampledata(orcl, timeframe=bt.TimeFrame.Weeks, name="orcl-weekly")
    if broker != "backtrader":
        cerebro.setbroker(CrackBroker(backend=broker))
    cerebro.broker.setcash(20000.0)
    cerebro.broker.setcommission(commission=0.001)
    cerebro.addstrategy(SmaCross, **strategy_kwargs)
    for cls, name in ANALYZERS:
        kwargs = {"timeframe": bt.TimeFrame.Months} if name == "monthly" else {}
        cerebro.addanalyzer(cls, _name=name, **kwargs)
    return cerebro


def optstrategy_records(cerebro: bt.Cerebro, grid: dict[str, list[Any]]) -> list[Any]:
    """``(params, analyses)`` per parameter set, from Backtrader's own optstrategy on one CPU
    (the strategy ``build`` added, with its other arguments fixed)."""
    (cls, args, kwargs), = cerebro.strats[0]  # fmt: skip
    cerebro.strats = []
    fixed = {k: [v] for k, v in kwargs.items()}
    cerebro.optstrategy(cls, **fixed, **grid)
    records = []
    for (opt,) in cerebro.run(maxcpus=1):
        analyses = collections.OrderedDict(
            (name, analyzer.get_analysis())
            for name, analyzer in zip(opt.analyzers.getnames(), opt.analyzers)
        )
        records.append((opt.p._getkwargs(), analyses))
    return records


def assert_identical(got: Any, want: Any, where: str = "") -> None:
    """Same types all the way down, mappings in the same order, floats == with the same repr."""
    assert type(got) is type(want), f"{where}: {type(got).__name__} != {type(want).__name__}"
    if isinstance(want, dict):
        assert list(got) == list(want), f"{where}: keys {list(got)} != {list(want)}"
        for key in want:
            assert_identical(got[key], want[key], f"{where}/{key}")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), f"{where}: length {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_identical(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert repr(got) == repr(want) and (got == want or math.isnan(want)), (
            f"{where}: {got!r} != {want!r}"
        )
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


def assert_matches(records: list[SweepRecord], reference: list[Any], grid: dict) -> None:
    assert [r.index for r in records] == list(range(len(reference)))
    keys = list(grid)
    for rec, (params, analyses) in zip(records, reference):
        assert rec.status == "ok", (rec.describe(), rec.error)
        assert rec.values == {k: params[k] for k in keys}
        assert_identical(rec.params, params, f"set {rec.index} params")
        assert_identical(rec.analyzers, analyses, f"set {rec.index} analyzers")
        assert rec.analyzers["trades"]["total"]["total"] > 0  # the runs did trade


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of two single-threaded worker processes, shared by this module."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.CRITICAL,
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


# -- identical to optstrategy -------------------------------------------------------------------
def test_sweep_is_optstrategy_to_the_bit(client: Any, backend: str) -> None:
    records = bt_cracktrader.sweep(functools.partial(build, backend), GRID, scheduler=client)
    reference = optstrategy_records(build(backend), GRID)
    assert_matches(records, reference, GRID)
    # BackBroker's optstrategy gives the same, and so does the sweep of the BackBroker script
    # with the core swapped in (as `python -m bt_cracktrader sweep --backend` does)
    assert_matches(records, optstrategy_records(build("backtrader"), GRID), GRID)
    swapped = bt_cracktrader.sweep(
        functools.partial(build, "backtrader"), GRID, scheduler=client, backend=backend
    )
    assert_matches(swapped, reference, GRID)
    assert {r.worker for r in records + swapped} == set(client.nthreads())


def test_finishing_order_does_not_matter(client: Any, backend: str, tmp_path: Path) -> None:
    # the first parameter set waits for another one to finish first
    grid = {"fast": [2, 4, 8, 16], "slow": [20]}
    log = tmp_path / "finished.log"
    make = functools.partial(build, backend, finish_last=2, log=str(log))
    records = bt_cracktrader.sweep(make, grid, scheduler=client)
    finished = [int(line.split(",")[0]) for line in log.read_text().splitlines()]
    assert sorted(finished) == grid["fast"] and finished != grid["fast"]
    assert_matches(records, optstrategy_records(make(), grid), grid)


def test_float_and_fixed_parameters(client: Any, backend: str) -> None:
    grid = {"stake": expand_param("2.5:7.5:2.5"), "fast": [4]}
    assert grid["stake"] == [2.5, 5.0]
    records = bt_cracktrader.sweep(functools.partial(build, backend, slow=12), grid, client)
    assert_matches(records, optstrategy_records(build(backend, slow=12), grid), grid)
    assert [r.params["slow"] for r in records] == [12, 12]


def test_datas_not_preloaded(client: Any, backend: str, caplog: pytest.LogCaptureFixture) -> None:
    # optdatas off: nothing is loaded before the pool, so each run reads the files itself
    def make() -> bt.Cerebro:
        cerebro = build(backend)
        cerebro.p.optdatas = False
        return cerebro

    grid = {"fast": [3, 8], "slow": [15]}
    with caplog.at_level(logging.WARNING, logger="bt_cracktrader.sweep"):
        records = bt_cracktrader.sweep(make, grid, scheduler=client)
    assert any("the datas are not loaded once for all runs" in m for m in caplog.messages)
    assert_matches(records, optstrategy_records(make(), grid), grid)


def test_threads_of_this_process(backend: str) -> None:
    # workers in the client's own process, two threads each: the runs take turns, and the
    # user's module is the one already imported here, not a second copy of it
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0"
    ) as threaded:
        records = bt_cracktrader.sweep(functools.partial(build, backend), GRID, threaded)
    assert_matches(records, optstrategy_records(build(backend), GRID), GRID)
    assert sys.modules[SmaCross.__module__].SmaCross is SmaCross


# -- failures -----------------------------------------------------------------------------------
def test_a_killed_worker_loses_nothing(client: Any, backend: str, tmp_path: Path) -> None:
    marker = tmp_path / "killed"
    out = tmp_path / "results.csv"
    make = functools.partial(build, backend, marker=str(marker), crash_at=5)
    records = bt_cracktrader.sweep(make, GRID, scheduler=client, out=out)
    assert marker.exists()  # a worker really died in the middle of the run of fast=5
    assert all(r.status == "ok" for r in records)
    assert_matches(records, optstrategy_records(make(), GRID), GRID)
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(row["index"]) for row in rows] == list(range(6))  # each set exactly once
    assert [(int(row["fast"]), int(row["slow"])) for row in rows] == [
        (f, s) for f in GRID["fast"] for s in GRID["slow"]
    ]
    client.wait_for_workers(2, timeout=60)


def test_a_raising_set_is_retried_elsewhere_then_reported(
    client: Any, backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    once = tmp_path / "once"
    make = functools.partial(build, backend, marker=str(once), fail_at=8)
    with caplog.at_level(logging.WARNING, logger="bt_cracktrader.sweep"):
        records = bt_cracktrader.sweep(make, GRID, scheduler=client)
    retried = [r for r in records if r.values["fast"] == 8]
    assert sorted(r.attempts for r in retried) == [1, 2]  # only the first run of fast=8 fails
    assert all(r.status == "ok" for r in records)
    assert_matches(records, optstrategy_records(make(), GRID), GRID)
    warned = [m for m in caplog.messages if "retrying on another worker" in m]
    assert warned and "fast=8, slow=" in warned[0] and "ZeroDivisionError" in warned[0]
    first = re.search(r"\((fast=8, slow=\d+)\) failed on worker (tcp://[\d.]+:\d+)", warned[0])
    assert first is not None, warned[0]
    again = next(r for r in retried if r.describe() == first[1])
    assert again.attempts == 2 and again.worker != first[2]

    always = functools.partial(
        build, backend, marker=str(tmp_path / "x"), fail_at=3, fail_always=True
    )
    out = tmp_path / "failed.csv"
    records = bt_cracktrader.sweep(always, GRID, scheduler=client, out=out)
    failed = [r for r in records if r.status == "error"]
    assert [r.values for r in failed] == [{"fast": 3, "slow": 15}, {"fast": 3, "slow": 25}]
    assert all(r.attempts == 2 for r in failed)
    assert all("ZeroDivisionError: no luck with fast=3" in (r.error or "") for r in failed)
    assert len(records) == 6 and [r.status for r in records[2:]] == ["ok"] * 4
    saved = load_results(str(out))
    assert [(r.index, r.status, r.error) for r in saved] == [
        (r.index, r.status, r.error) for r in records
    ]


# -- results files and resuming -----------------------------------------------------------------
def test_resume_runs_only_the_missing_sets(client: Any, backend: str, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    out = tmp_path / "results.csv"
    make = functools.partial(build, backend, log=str(log))
    reference = optstrategy_records(make(), GRID)
    log.write_text("")
    # an own LocalCluster of one worker: the sweep starts and closes it
    first = bt_cracktrader.sweep(make, GRID, workers=1, out=out)
    assert_matches(first, reference, GRID)
    assert len(log.read_text().splitlines()) == 6
    with pytest.raises(SweepError, match="exists: resume it"):
        bt_cracktrader.sweep(make, GRID, workers=1, out=out)

    # an interrupted sweep: two finished rows on disk (not the first two), then a cut line
    with open(out, newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    journal = [
        [row[header.index(c)] for c in (*header[:8], "record")] for row in (body[4], body[1])
    ]
    with open(out, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*header[:8], "record"])
        writer.writerows(journal)
        fh.write('2,ok,1,tcp://x,0.1,,5,15,{"val')
    log.write_text("")
    resumed = bt_cracktrader.sweep(make, GRID, scheduler=client, out=out, resume=True)
    assert sorted(log.read_text().splitlines()) == ["3,15", "5,15", "5,25", "8,25"]
    assert_matches(resumed, reference, GRID)
    assert_matches(load_results(out), reference, GRID)  # a Path or a str

    # a larger grid reuses all six; a grid that does not hold them is refused
    log.write_text("")
    larger = {"fast": [3, 5, 8, 13], "slow": [15, 25]}
    bigger = bt_cracktrader.sweep(make, larger, scheduler=client, out=out, resume=True)
    assert sorted(log.read_text().splitlines()) == ["13,15", "13,25"]
    assert [r.values for r in bigger] == [
        {"fast": f, "slow": s} for f in larger["fast"] for s in larger["slow"]
    ]
    with pytest.raises(SweepError, match="not in this grid"):
        bt_cracktrader.sweep(make, GRID, scheduler=client, out=out, resume=True)


def test_parquet_results_resume_losslessly(client: Any, backend: str, tmp_path: Path) -> None:
    out = tmp_path / "results.parquet"
    make = functools.partial(build, backend)
    first = bt_cracktrader.sweep(make, GRID, scheduler=client, out=out)
    assert not Path(f"{out}.partial.csv").exists()
    import pyarrow.parquet as pq

    table = pq.read_table(out)
    assert table.column("fast").to_pylist() == [3, 3, 5, 5, 8, 8]
    assert table.column("trades.total.total").to_pylist() == [
        r.analyzers["trades"]["total"]["total"] for r in first
    ]
    again = bt_cracktrader.sweep(make, GRID, scheduler=client, out=out, resume=True)
    reference = optstrategy_records(build(backend), GRID)
    assert_matches(again, reference, GRID)  # read back from the file, to the bit
    assert [r.worker for r in again] == [r.worker for r in first]


# -- the command line ---------------------------------------------------------------------------
SCRIPT = """\
import backtrader as bt


class Cross(bt.Strategy):
    params = (("fast", 5), ("slow", 20))

    def __init__(self):
        fast, slow = bt.ind.SMA(period=self.p.fast), bt.ind.SMA(period=self.p.slow)
        self.cross = bt.ind.CrossOver(fast, slow)

    def next(self):
        if self.cross > 0:
            self.buy(size=10)
        elif self.cross < 0 and self.position:
            self.close()


def build_cerebro():
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.YahooFinanceCSVData(dataname={data!r}))
    cerebro.addstrategy(Cross)
    cerebro.broker.setcash(5000.0)
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
    cerebro.addanalyzer(bt.analyzers.DrawDown, _name="dd")
    return cerebro


if __name__ == "__main__":
    raise SystemExit("the sweep must not run the script's main block")
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    pkg_parent = str(Path(bt_cracktrader.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [pkg_parent, env.get("PYTHONPATH")]))
    return env


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    launcher = "import sys; from bt_cracktrader.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", launcher, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_env(),
        timeout=300,
    )


def test_cli_sweep_matches_optstrategy(
    client: Any, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "cross.py"
    script.write_text(SCRIPT.format(data=str(DATA / "orcl-2014.txt")))
    args = ["sweep", str(script), "--param", "fast=3:9:3", "--param", "slow=15,25"]
    proc = _cli(*args, "--backend", backend, "--workers", "2", "--out", "r.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "4 parameter sets: fast (2) x slow (2)" in proc.stderr
    assert "4 ok, 0 failed, 0 skipped; results in r.csv" in proc.stderr
    assert "sweep [" not in proc.stderr  # no progress bar: stderr is not a terminal
    records = load_results(str(tmp_path / "r.csv"))

    spec = importlib.util.spec_from_file_location("cross_script", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "cross_script", module)  # Backtrader looks classes up there
    spec.loader.exec_module(module)
    cerebro = module.build_cerebro()
    cerebro.setbroker(CrackBroker(backend=backend, cash=5000.0))
    grid = {"fast": [3, 6], "slow": [15, 25]}
    assert_matches(records, optstrategy_records(cerebro, grid), grid)

    # on a running cluster, without --out (the table goes to stdout), the progress bar forced
    address = client.scheduler.address
    proc = _cli(*args, "--backend", backend, "--scheduler", address, "--progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    table = list(csv.DictReader(proc.stdout.splitlines()))
    assert [(row["fast"], row["slow"]) for row in table] == [
        ("3", "15"), ("3", "25"), ("6", "15"), ("6", "25"),
    ]  # fmt: skip
    assert [row["dd.max.drawdown"] for row in table] == [
        repr(r.analyzers["dd"]["max"]["drawdown"]) for r in records
    ]
    assert "record" not in table[0]
    assert "sweep [####" in proc.stderr and "ETA" in proc.stderr


SLOW_SCRIPT = """\
import time

import backtrader as bt

SLOW = True  # the test's reference run, in its own process, turns it off


class Slow(bt.Strategy):
    params = (("period", 5),)

    def __init__(self):
        self.sma = bt.ind.SMA(period=self.p.period)

    def next(self):
        if self.data.close[0] > self.sma[0] and not self.position:
            self.buy(size=5)
        elif self.data.close[0] < self.sma[0] and self.position:
            self.close()

    def stop(self):
        if SLOW:
            time.sleep(0.3)
        with open({runs!r}, "a") as fh:
            fh.write(f"{{self.p.period}}\\n")


def build_cerebro():
    cerebro = bt.Cerebro()
    cerebro.adddata(bt.feeds.YahooFinanceCSVData(dataname={data!r}))
    cerebro.addstrategy(Slow)
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
    return cerebro
"""


def test_cli_sweep_interrupted_then_resumed(
    client: Any, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs, out = tmp_path / "runs.log", tmp_path / "r.csv"
    script = tmp_path / "slow.py"
    script.write_text(SLOW_SCRIPT.format(data=str(DATA / "orcl-2014.txt"), runs=str(runs)))
    args = ["sweep", str(script), "--param", "period=3:23", "--backend", backend, "--out", str(out)]
    args += ["--scheduler", client.scheduler.address]
    launcher = "import sys; from bt_cracktrader.cli import main; sys.exit(main(sys.argv[1:]))"
    # Ctrl-C: SIGINT, which a child of this (possibly non-interactive) process might ignore
    proc = subprocess.Popen(
        [sys.executable, "-c", launcher, *args],
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        # not the checkout: `python -c` puts the working directory first on sys.path, where a
        # source tree (without the compiled extension) would shadow the installed package
        cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(_rows(out)) < 4:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"interrupted; the finished sets are in {out}: run again with --resume" in err
    saved = {int(row["period"]) for row in _rows(out)}
    assert all(row["status"] == "ok" for row in _rows(out))
    assert 4 <= len(saved) < 20

    runs.write_text("")
    resumed = _cli(*args, "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    # none of the saved sets ran again (the runs that were in flight at the interrupt may still
    # finish on the cluster and note themselves: they are unsaved sets, run again too)
    rerun = {int(line) for line in runs.read_text().split()}
    assert rerun == set(range(3, 23)) - saved
    records = load_results(str(out))
    runs.write_text("")
    assert [r.values["period"] for r in records] == list(range(3, 23))

    spec = importlib.util.spec_from_file_location("slow_script", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "slow_script", module)
    spec.loader.exec_module(module)
    module.SLOW = False
    cerebro = module.build_cerebro()
    cerebro.setbroker(CrackBroker(backend=backend))
    grid = {"period": list(range(3, 23))}
    assert_matches(records, optstrategy_records(cerebro, grid), grid)


def _rows(path: Path) -> list[dict[str, str]]:
    """The complete rows of a results file being written."""
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return [row for row in csv.DictReader(fh) if row.get("record")]


def test_cli_sweep_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "cross.py"
    script.write_text(SCRIPT.format(data=str(DATA / "orcl-2014.txt")))
    with pytest.raises(SystemExit) as exit_:
        cli.main(["sweep", str(script), "--param", "fast=9:3"])
    assert exit_.value.code == 2
    assert "parameter fast: range '9:3' is empty" in capsys.readouterr().err
    assert cli.main(["sweep", str(script), "--param", "nope=1,2", "--backend", "python"]) == 2
    assert "Cross has no parameter 'nope' (its parameters: fast, slow)" in capsys.readouterr().err
    assert cli.main(["sweep", str(script), "--param", "fast=3", "--build", "nothing"]) == 2
    assert "defines no function nothing()" in capsys.readouterr().err
    assert cli.main(["sweep", str(script), "--param", "fast=3", "--resume"]) == 2
    assert "--resume needs --out" in capsys.readouterr().err
    assert cli.main(["sweep", str(script), "-p", "fast=3", "-p", "fast=4"]) == 2
    assert "--param fast given twice" in capsys.readouterr().err
    assert cli.main(["sweep", str(tmp_path / "missing.py"), "-p", "fast=3"]) == 2
    assert "no such script" in capsys.readouterr().err


# -- the pieces ---------------------------------------------------------------------------------
def test_param_syntax() -> None:
    assert parse_param("fast=5:50:5") == ("fast", list(range(5, 50, 5)))
    assert parse_param("n=3:6") == ("n", [3, 4, 5])
    assert parse_param("slow=20,50,100") == ("slow", [20, 50, 100])
    assert parse_param("x=0.1:0.5:0.1") == ("x", [0.1, 0.2, 0.3, 0.4])
    assert parse_param("x=1:0:-0.25") == ("x", [1.0, 0.75, 0.5, 0.25])
    assert parse_param("mode=True,None,ema,2.5") == ("mode", [True, None, "ema", 2.5])
    assert parse_param("k=7") == ("k", [7])
    for bad, message in (
        ("fast", "is not name=values"),
        ("fast=1:2:0", "step of 0"),
        ("fast=a:b", "not a number"),
        ("fast=1,,2", "empty item"),
        ("fast=1:2:3:4", "not start:stop"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_param(bad)


def test_grid_errors() -> None:
    make = functools.partial(build, "python")
    with pytest.raises(SweepError, match="SmaCross has no parameter 'period'"):
        bt_cracktrader.sweep(make, {"period": [1, 2]})
    with pytest.raises(SweepError, match="clashes with a results column"):
        bt_cracktrader.sweep(make, {"status": [1]})
    with pytest.raises(SweepError, match="has no values"):
        bt_cracktrader.sweep(make, {"fast": []})

    def two_strategies() -> bt.Cerebro:
        cerebro = build("python")
        cerebro.addstrategy(bt.Strategy)
        return cerebro

    with pytest.raises(SweepError, match=r"exactly one strategy with addstrategy \(it added 2\)"):
        bt_cracktrader.sweep(two_strategies, {"fast": [1]})


def test_values_survive_the_results_file() -> None:
    tree = AutoOrderedDict()
    tree.total.won = 3
    tree.pnl.net = -0.0
    tree._close()
    values = [
        tree,
        collections.OrderedDict([(datetime.datetime(2014, 1, 31), 0.1 + 0.2), (2, None)]),
        {"t": (1, 2.5, "x"), "nan": float("nan"), "-inf": float("-inf")},
        {"d": datetime.date(2014, 1, 2)},
        [True, 1, 1.0, bt.TimeFrame.Months],
    ]  # fmt: skip
    for value in values:
        back = decode_value(encode_value(value))
        assert repr(back) == repr(value)
    back = decode_value(encode_value(tree))
    assert type(back) is AutoOrderedDict and back._closed
    with pytest.raises(KeyError):
        back["missing"]  # closed, as TradeAnalyzer leaves it


def test_parquet_without_pyarrow_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow raises ImportError
    rec = SweepRecord(index=0, values={"fast": 3})
    with pytest.raises(SweepError, match="needs the package pyarrow .* or use a .csv file"):
        write_results(str(tmp_path / "r.parquet"), [rec], ["fast"])
    # a sweep says so before it runs anything
    make = functools.partial(build, "python", log=str(tmp_path / "ran.log"))
    with pytest.raises(SweepError, match="needs the package pyarrow"):
        bt_cracktrader.sweep(make, GRID, out=tmp_path / "r.parquet")
    assert not (tmp_path / "ran.log").exists()
    with pytest.raises(SweepError, match="no such directory"):
        bt_cracktrader.sweep(make, GRID, out=tmp_path / "missing" / "r.csv")
