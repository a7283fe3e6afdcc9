#!/usr/bin/env python
"""An SMA crossover swept over its two periods on Dask, as optstrategy would run it.

From the command line (the script only has to define build_cerebro()):

    python -m bt_cracktrader sweep examples/sweep_sma.py --param fast=5:50:5 \\
        --param slow=20,50,100 --backend rust --out results.csv

or from Python, which is what running this file does:

    python examples/sweep_sma.py [--workers 2] [--backend rust] [--compare]

It prints the five best parameter sets by net profit (TradeAnalyzer) with their maximum
drawdown (DrawDown) and SQN. With ``--compare`` it also runs Backtrader's own
``optstrategy`` on BackBroker (one process) over the same grid and prints MATCH when every
parameter set's analyzers are identical (floats compared with ==), else the first difference.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import backtrader as bt

import bt_cracktrader

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "orcl-1995-2014.txt"


class SmaCross(bt.Strategy):
    params = (("fast", 10), ("slow", 30))

    def __init__(self) -> None:
        fast, slow = bt.ind.SMA(period=self.p.fast), bt.ind.SMA(period=self.p.slow)
        self.crossover = bt.ind.CrossOver(fast, slow)

    def next(self) -> None:
        if self.crossover > 0:
            if self.position:
                self.close()
            self.buy()
        elif self.crossover < 0:
            if self.position:
                self.close()
            self.sell()


def build_cerebro() -> bt.Cerebro:
    """The cerebro to sweep: data, broker settings, sizer, analyzers and the one strategy."""
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.YahooFinanceCSVData(dataname=str(DATA)), name="orcl")
    cerebro.broker.setcash(100000.0)
    cerebro.broker.setcommission(commission=0.001)
    cerebro.addsizer(bt.sizers.PercentSizer, percents=20)
    cerebro.addstrategy(SmaCross)
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
    cerebro.addanalyzer(bt.analyzers.DrawDown, _name="drawdown")
    cerebro.addanalyzer(bt.analyzers.SQN, _name="sqn")
    return cerebro


def optstrategy_analyses(grid: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``(params, analyses)`` per parameter set from ``optstrategy`` on BackBroker, one CPU."""
    cerebro = build_cerebro()
    (cls, _args, kwargs) = cerebro.strats[0][0]
    cerebro.strats = []
    cerebro.optstrategy(cls, **{k: [v] for k, v in kwargs.items()}, **grid)
    out = []
    for (opt,) in cerebro.run(maxcpus=1):
        names = opt.analyzers.getnames()
        analyses = {n: a.get_analysis() for n, a in zip(names, opt.analyzers)}
        out.append((opt.p._getkwargs(), analyses))
    return out


def _first_difference(got: Any, want: Any, where: str) -> str | None:
    if type(got) is not type(want):
        return f"{where}: {got!r} ({type(got).__name__}) != {want!r} ({type(want).__name__})"
    if isinstance(want, dict):
        if list(got) != list(want):
            return f"{where}: keys {list(got)} != {list(want)}"
        for key in want:
            diff = _first_difference(got[key], want[key], f"{where}/{key}")
            if diff:
                return diff
        return None
    if isinstance(want, float) and math.isnan(want):
        return None if math.isnan(got) else f"{where}: {got!r} != nan"
    return None if got == want else f"{where}: {got!r} != {want!r}"


def main() -> None:
    parser = argparse.ArgumentParser(description="sweep an SMA crossover on Dask")
    parser.add_argument("--workers", type=int, default=None, help="default: one per CPU")
    parser.add_argument("--backend", default="auto", choices=("python", "rust", "auto"))
    parser.add_argument(
        "--compare", action="store_true", help="check against optstrategy on BackBroker"
    )
    args = parser.parse_args()
    grid: dict[str, Any] = {"fast": range(5, 30, 5), "slow": [40, 60, 100]}
    records = bt_cracktrader.sweep(build_cerebro, grid, workers=args.workers, backend=args.backend)
    done = [r for r in records if r.ok]
    done.sort(key=lambda r: r.analyzers["trades"]["pnl"]["net"]["total"], reverse=True)
    print(f"{len(done)} of {len(records)} parameter sets ran; the best five by net profit:")
    for rec in done[:5]:
        net = rec.analyzers["trades"]["pnl"]["net"]["total"]
        drawdown = rec.analyzers["drawdown"]["max"]["drawdown"]
        sqn = rec.analyzers["sqn"]["sqn"]
        print(f"  {rec.describe():<20} net {net:12.2f}  max DD {drawdown:6.2f}%  SQN {sqn:.2f}")
    if args.compare:
        reference = optstrategy_analyses({k: list(v) for k, v in grid.items()})
        diffs = [f"{len(records)} sets swept, {len(reference)} from optstrategy"]
        if len(records) == len(reference):
            diffs = []
            for rec, (params, analyses) in zip(records, reference):
                diff = _first_difference(rec.params, params, f"set {rec.describe()} params")
                diff = diff or _first_difference(
                    dict(rec.analyzers), analyses, f"set {rec.describe()} analyzers"
                )
                if diff:
                    diffs.append(diff)
                    break
        print("optstrategy on BackBroker (1 process) vs sweep on " + args.backend + ":")
        print(diffs[0] if diffs else "MATCH")
        if diffs:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
