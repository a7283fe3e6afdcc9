#!/usr/bin/env python
"""Sweep throughput on Dask against Backtrader's optstrategy, on this machine.

    python scripts/benchmark_sweep.py [--backend rust] [--data PATH] [--fast 5:45:5]
        [--slow 30,40,50,60] [--workers 1,2,all] [--repeat 3] [--json-out PATH]

One SMA-crossover strategy (with TradeAnalyzer, DrawDown and Returns) over the grid ``--fast``
x ``--slow`` (``python -m bt_cracktrader sweep`` syntax), on ``CrackBroker(backend=...)`` or,
with ``--backend backtrader``, on BackBroker. First ``optstrategy(maxcpus=1)`` runs the grid
and the sweep's records are checked against it (parameters and analyses, ``==``): a mismatch
exits 1 before anything is reported. Then, for each worker count N of ``--workers``:

* ``optstrategy(maxcpus=N)``: Backtrader's own process pool, timed around ``cerebro.run()``;
* ``sweep`` on a ``LocalCluster`` of N single-threaded processes: the cluster's start is timed
  apart; the sweep is timed from the call to the last record (building and preparing the
  cerebro, scattering it, every task).

Every case runs ``--repeat`` times, in rounds whose order rotates, and keeps its best time:
on a shared machine, load that changes over minutes then slows every case alike. It reports
parameter sets per second for each, the mean time of one run on a worker (the
``seconds`` of the records), the overhead per set that a sweep adds on one worker (its wall
time per set minus that mean) and the scheduler's ceiling (no-op tasks per second on the same
cluster): the numbers of the throughput model in the README.
Timings on a shared machine are noisy: compare rows of one report, not reports.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import backtrader as bt
import distributed

import bt_cracktrader
from bt_cracktrader.sweep import SweepRecord, parse_param

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT / "fixtures" / "data" / "orcl-2003-2005.txt"


class SmaCross(bt.Strategy):
    params = (("fast", 10), ("slow", 30))

    def __init__(self) -> None:
        fast, slow = bt.ind.SMA(period=self.p.fast), bt.ind.SMA(period=self.p.slow)
        self.cross = bt.ind.CrossOver(fast, slow)

    def next(self) -> None:
        if self.cross > 0:
            if self.position:
                self.close()
            self.buy()
        elif self.cross < 0:
            if self.position:
                self.close()
            self.sell()


class Build:
    """build_cerebro for a data file and a broker (picklable, as optstrategy needs)."""

    def __init__(self, data: str, backend: str) -> None:
        self.data, self.backend = data, backend

    def __call__(self) -> bt.Cerebro:
        cerebro = bt.Cerebro(stdstats=False)
        cerebro.adddata(bt.feeds.YahooFinanceCSVData(dataname=self.data), name="data")
        if self.backend != "backtrader":
            cerebro.setbroker(bt_cracktrader.CrackBroker(backend=self.backend))
        cerebro.broker.setcash(100000.0)
        cerebro.broker.setcommission(commission=0.001)
        cerebro.addsizer(bt.sizers.PercentSizer, percents=20)
        cerebro.addstrategy(SmaCross)
        cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
        cerebro.addanalyzer(bt.analyzers.DrawDown, _name="drawdown")
        cerebro.addanalyzer(bt.analyzers.Returns, _name="returns")
        return cerebro


def run_optstrategy(build: Build, grid: dict[str, list[Any]], maxcpus: int) -> tuple[float, list]:
    cerebro = build()
    cerebro.strats = []
    cerebro.optstrategy(SmaCross, **grid)
    start = time.perf_counter()
    results = cerebro.run(maxcpus=maxcpus)
    elapsed = time.perf_counter() - start
    records = [
        (
            opt.p._getkwargs(),
            {n: a.get_analysis() for n, a in zip(opt.analyzers.getnames(), opt.analyzers)},
        )
        for (opt,) in results
    ]
    return elapsed, records


def _noop(i: int) -> int:
    return i


NOOP_TASKS = 2000


def run_sweep(
    build: Build, grid: dict[str, list[Any]], workers: int
) -> tuple[float, float, list[SweepRecord], float]:
    start = time.perf_counter()
    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.CRITICAL,
    )
    client = distributed.Client(cluster)
    started = time.perf_counter() - start
    try:
        start = time.perf_counter()
        records = bt_cracktrader.sweep(build, grid, scheduler=client, progress=False)
        elapsed = time.perf_counter() - start
        # the scheduler's ceiling: tasks that do nothing, one submitted per item like the sweep
        start = time.perf_counter()
        client.gather(client.map(_noop, range(NOOP_TASKS), pure=False))
        noop_rate = NOOP_TASKS / (time.perf_counter() - start)
    finally:
        client.close()
        cluster.close()
    return started, elapsed, records, noop_rate


def _counts(text: str) -> list[int]:
    cpus = os.cpu_count() or 1
    counts = [cpus if c.strip() == "all" else int(c) for c in text.split(",") if c.strip()]
    return sorted(set(counts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="rust", choices=("python", "rust", "backtrader"))
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--fast", default="5:45:5", help="values of fast (default 5:45:5)")
    parser.add_argument("--slow", default="30,40,50,60", help="values of slow")
    parser.add_argument("--workers", default="1,2,all", help="worker counts (default 1,2,all)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of every case; each keeps its best"
    )
    parser.add_argument("--json-out", default=None)
    ns = parser.parse_args(argv)
    grid = dict([parse_param(f"fast={ns.fast}"), parse_param(f"slow={ns.slow}")])
    sets = len(grid["fast"]) * len(grid["slow"])
    build = Build(ns.data, ns.backend)
    counts = _counts(ns.workers)

    print(f"{sets} parameter sets, {ns.backend}, {Path(ns.data).name}, {os.cpu_count()} CPUs")
    repeat = max(1, ns.repeat)
    _, reference = run_optstrategy(build, grid, 1)
    cases = [("optstrategy", n) for n in sorted({1, *counts})] + [("sweep", n) for n in counts]
    best: dict[tuple[str, int], dict[str, Any]] = {}
    # rounds of every case, the order rotating each round: a machine whose load changes over
    # minutes slows every case alike; each case keeps its best round
    for round_ in range(repeat):
        shift = round_ % len(cases)
        for runner, n in cases[shift:] + cases[:shift]:
            row: dict[str, Any] = {"runner": runner, "workers": n}
            if runner == "optstrategy":
                row["seconds"], records = run_optstrategy(build, grid, n)
                if records != reference:
                    print(f"optstrategy(maxcpus={n}) differs from maxcpus=1", file=sys.stderr)
                    return 1
            else:
                started, row["seconds"], recs, noop_rate = run_sweep(build, grid, n)
                got = [(r.params, r.analyzers) for r in recs]
                if any(not r.ok for r in recs) or got != reference:
                    print(f"the sweep on {n} workers differs from optstrategy(1)", file=sys.stderr)
                    return 1
                row["cluster_start"] = started
                row["task_mean"] = statistics.fmean(r.seconds for r in recs)
                row["noop_tasks_per_second"] = noop_rate
            if (runner, n) not in best or row["seconds"] < best[(runner, n)]["seconds"]:
                best[(runner, n)] = row
    rows = [best[case] for case in cases]
    base_time = best[("optstrategy", 1)]["seconds"]
    # the model's two numbers, from the least loaded case: one worker
    one = min(
        (r for r in rows if r["runner"] == "sweep"), key=lambda r: (r["workers"], r["seconds"])
    )
    per_task = one["task_mean"]
    overhead = one["seconds"] / sets - per_task
    print("parity: every sweep's records == optstrategy(maxcpus=1)'s")
    print()
    print(
        "| runner | workers | wall s | sets/s | speed-up vs optstrategy(1) | cluster start s "
        "| no-op tasks/s |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        row["sets_per_second"] = sets / row["seconds"]
        start = f"{row['cluster_start']:.2f}" if "cluster_start" in row else ""
        noop = f"{row['noop_tasks_per_second']:.0f}" if "cluster_start" in row else ""
        name = "optstrategy(maxcpus=N)"
        if row["runner"] == "sweep":
            name = "sweep (LocalCluster)"
        print(
            f"| {name} | {row['workers']} | {row['seconds']:.2f} | {row['sets_per_second']:.2f} "
            f"| {base_time / row['seconds']:.2f} | {start} | {noop} |"
        )
    print()
    print(f"one run on a worker (mean, {one['workers']} worker): {per_task * 1000:.1f} ms")
    print(f"sweep overhead per set on {one['workers']} worker: {overhead * 1000:.1f} ms")
    if ns.json_out:
        report = {
            "sets": sets,
            "backend": ns.backend,
            "data": Path(ns.data).name,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "dask": distributed.__version__,
            "rows": rows,
            "task_seconds_mean": per_task,
            "overhead_per_set_seconds": overhead,
        }
        Path(ns.json_out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
