#!/usr/bin/env python
"""SMA crossover on 20 years of daily ORCL bars, on any broker.

    python examples/sma_cross.py --backend rust       # CrackBroker on the Rust core
    python examples/sma_cross.py --backend python     # CrackBroker on the Python core
    python examples/sma_cross.py --backend backtrader # Backtrader's own BackBroker
    python examples/sma_cross.py --compare            # all three, and whether they match

The strategy is plain Backtrader: nothing in it knows about bt_cracktrader.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import backtrader as bt

import bt_cracktrader
from bt_cracktrader.compare import BROKERS, compare, run_recorded

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "orcl-1995-2014.txt"


class SmaCross(bt.Strategy):
    params = (("fast", 10), ("slow", 30))

    def __init__(self) -> None:
        crossover = bt.ind.CrossOver(bt.ind.SMA(period=self.p.fast), bt.ind.SMA(period=self.p.slow))
        self.crossover = crossover
        self.closed: list[str] = []
        self.opened: dict[int, Any] = {}

    def next(self) -> None:
        if self.crossover > 0:
            if self.position:
                self.close()
            self.buy()
        elif self.crossover < 0:
            if self.position:
                self.close()
            self.sell()

    def notify_trade(self, trade: Any) -> None:
        if trade.justopened:
            self.opened[trade.ref] = trade.size
        elif trade.isclosed:
            self.closed.append(
                f"{bt.num2date(trade.dtopen).date()} -> {bt.num2date(trade.dtclose).date()}"
                f"  size {self.opened.pop(trade.ref):+.4f}"
                f"  pnl {trade.pnl:.2f}  pnlcomm {trade.pnlcomm:.2f}"
            )


def build(datafile: Path) -> bt.Cerebro:
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.YahooFinanceCSVData(dataname=str(datafile)), name="orcl")
    cerebro.addstrategy(SmaCross)
    cerebro.addsizer(bt.sizers.PercentSizer, percents=20)
    return cerebro


def make_broker(name: str) -> bt.BrokerBase:
    if name == "backtrader":
        broker = bt.brokers.BackBroker(cash=100000.0)
    else:
        broker = bt_cracktrader.CrackBroker(backend=name, cash=100000.0)
    broker.setcommission(commission=0.001)
    return broker


def run_one(name: str, datafile: Path) -> tuple[list[str], float]:
    cerebro = build(datafile)
    cerebro.setbroker(make_broker(name))
    start = time.perf_counter()
    strat = cerebro.run()[0]
    elapsed = time.perf_counter() - start
    lines = [f"trades closed: {len(strat.closed)}"]
    lines += strat.closed[-5:]
    lines.append(f"final cash {cerebro.broker.getcash()!r}  value {cerebro.broker.getvalue()!r}")
    return lines, elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=BROKERS, default="rust")
    parser.add_argument("--compare", action="store_true", help="run all three brokers and compare")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Yahoo CSV daily file")
    args = parser.parse_args(argv)

    if not args.compare:
        lines, elapsed = run_one(args.backend, args.data)
        print(f"[{args.backend}] ({elapsed:.2f} s)")
        print("\n".join(lines))
        return 0

    outputs = {}
    for name in BROKERS:
        lines, elapsed = run_one(name, args.data)
        outputs[name] = lines
        print(f"[{name}] ({elapsed:.2f} s)")
        print("\n".join(lines))
        print()

    def broker_setup(brk: bt.BrokerBase) -> None:
        brk.setcommission(commission=0.001)

    records = {
        name: run_recorded(lambda: build(args.data), name, {"cash": 100000.0}, setup=broker_setup)
        for name in BROKERS
    }
    ok = True
    for name, diff in compare(records).items():
        same_output = outputs[name] == outputs["backtrader"]
        if diff is None and same_output:
            n = len(records[name]["strategy0"]["record"]["orders"])
            print(
                f"{name}: IDENTICAL to BackBroker ({n} order notifications, every bar's "
                "cash/value, trades and analyzers compared with ==)"
            )
        else:
            ok = False
            print(f"{name}: DIFFERS from BackBroker: {diff or 'printed output differs'}")
    print("MATCH" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
