#!/usr/bin/env python
# Written in the style of Backtrader's samples: %-formatting and str.format are kept.
# ruff: noqa: UP031, UP032
"""Cheat-on-open and cheat-on-close: fill Market orders at this bar's open or close.

An SMA crossover strategy that goes long and closes, run in three modes:

* ``normal``: orders placed in ``next`` fill at the next bar's open;
* ``coc``: ``broker.set_coc(True)``: orders placed in ``next`` fill at that bar's close;
* ``coo``: ``Cerebro(cheat_on_open=True)``: orders placed in ``next_open`` fill at that
  bar's open (the strategy sizes the order with the open it will fill at).

``--mode all`` (the default) runs the three and prints the final values side by side.

    python cheat_on_open.py
    python cheat_on_open.py --mode coo --periods 5,20
"""

import argparse
import datetime
from pathlib import Path

import backtrader as bt

DATADIR = Path(__file__).resolve().parents[2] / "fixtures" / "data"

MODES = ["normal", "coc", "coo"]


class St(bt.Strategy):
    params = dict(
        periods=[10, 30],
        matype=bt.ind.SMA,
        cheat=False,  # trade in next_open
        invest=0.95,  # fraction of the value to invest
    )

    def __init__(self):
        mas = [self.p.matype(period=x) for x in self.p.periods]
        self.signal = bt.ind.CrossOver(*mas)
        self.order = None

    def notify_order(self, order):
        if order.status != order.Completed:
            return

        self.order = None
        print(
            "{} {} Executed at price {:.2f}, size {:+d}, cash {:.2f}".format(
                bt.num2date(order.executed.dt).date(),
                "Buy" * order.isbuy() or "Sell",
                order.executed.price,
                order.executed.size,
                self.broker.getcash(),
            )
        )

    def operate(self, fromopen):
        if self.order is not None:
            return
        if self.position:
            if self.signal < 0:
                self.order = self.close()
        elif self.signal > 0:
            price = self.data.open[0] if fromopen else self.data.close[0]
            size = int(self.broker.getvalue() * self.p.invest // price)
            print(
                "{} Send Buy, fromopen {}, close {:.2f}, size {}".format(
                    self.data.datetime.date(), fromopen, self.data.close[0], size
                )
            )
            self.order = self.buy(size=size)

    def next(self):
        print(
            "{} next, open {:.2f} close {:.2f}".format(
                self.data.datetime.date(), self.data.open[0], self.data.close[0]
            )
        )

        if self.p.cheat:
            return
        self.operate(fromopen=False)

    def next_open(self):
        if not self.p.cheat:
            return
        self.operate(fromopen=True)


def runstrat(args=None):
    args = parse_args(args)
    periods = [int(x) for x in args.periods.split(",")]

    results = []
    modes = MODES if args.mode == "all" else [args.mode]
    for mode in modes:
        print("=" * 20, "mode", mode)
        cerebro = bt.Cerebro(cheat_on_open=(mode == "coo"))

        kwargs = dict()
        if args.fromdate:
            kwargs["fromdate"] = datetime.datetime.strptime(args.fromdate, "%Y-%m-%d")
        if args.todate:
            kwargs["todate"] = datetime.datetime.strptime(args.todate, "%Y-%m-%d")

        data0 = bt.feeds.BacktraderCSVData(dataname=args.data0, **kwargs)
        cerebro.adddata(data0)

        cerebro.broker.setcash(args.cash)
        cerebro.broker.setcommission(commission=args.commission)
        if mode == "coc":
            cerebro.broker.set_coc(True)

        cerebro.addstrategy(St, periods=periods, cheat=(mode == "coo"))
        cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")

        strat = cerebro.run()[0]
        closed = strat.analyzers.trades.get_analysis().get("total", {}).get("closed", 0)
        results.append((mode, closed, cerebro.broker.getvalue()))

        if args.plot:
            cerebro.plot()

    for mode, closed, value in results:
        print("{:>6}: {} closed trades, final value {:.2f}".format(mode, closed, value))


def parse_args(pargs=None):
    parser = argparse.ArgumentParser(
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Cheat-On-Open / Cheat-On-Close sample",
    )

    parser.add_argument(
        "--data0", default=str(DATADIR / "2006-day-001.txt"), help="Data to read in"
    )
    parser.add_argument("--fromdate", default="", help="Date in YYYY-MM-DD format")
    parser.add_argument("--todate", default="", help="Date in YYYY-MM-DD format")
    parser.add_argument("--cash", default=100000.0, type=float, help="Starting cash")
    parser.add_argument("--commission", default=0.0005, type=float, help="Commission (fraction)")
    parser.add_argument("--periods", default="10,30", help="Fast and slow SMA periods")
    parser.add_argument(
        "--mode", default="all", choices=["all", *MODES], help="Execution mode (all: each one)"
    )
    parser.add_argument("--plot", action="store_true", help="Plot the result")

    return parser.parse_args(pargs)


if __name__ == "__main__":
    runstrat()
