#!/usr/bin/env python
# Written in the style of Backtrader's samples: %-formatting and str.format are kept.
# ruff: noqa: UP031, UP032
"""SMA crossover with a sizer and a percentage commission (a Backtrader quickstart-style sample).

Goes long when the fast SMA crosses above the slow one and closes when it crosses back below,
sizing every entry with ``PercentSizerInt`` and paying ``--commission`` on every fill.

    python sma_crossover.py
    python sma_crossover.py --fast 5 --slow 20 --percents 50 --commission 0.002
"""

import argparse
import datetime
from pathlib import Path

import backtrader as bt

DATADIR = Path(__file__).resolve().parents[2] / "fixtures" / "data"


class SmaCross(bt.Strategy):
    params = (
        ("fast", 10),
        ("slow", 30),
        ("printlog", True),
    )

    def log(self, txt, dt=None):
        dt = dt or self.datas[0].datetime.date(0)
        if self.p.printlog:
            print("%s, %s" % (dt.isoformat(), txt))

    def __init__(self):
        fast = bt.ind.SMA(period=self.p.fast)
        slow = bt.ind.SMA(period=self.p.slow)
        self.crossover = bt.ind.CrossOver(fast, slow)
        self.order = None

    def notify_order(self, order):
        if order.status in [order.Submitted, order.Accepted]:
            return

        if order.status == order.Completed:
            self.log(
                "%s EXECUTED, Size: %d, Price: %.2f, Cost: %.2f, Comm: %.2f"
                % (
                    "BUY" if order.isbuy() else "SELL",
                    order.executed.size,
                    order.executed.price,
                    order.executed.value,
                    order.executed.comm,
                )
            )
        elif order.status in [order.Canceled, order.Margin, order.Rejected]:
            self.log("Order Canceled/Margin/Rejected: %s" % order.getstatusname())

        self.order = None

    def notify_trade(self, trade):
        if not trade.isclosed:
            return
        self.log("OPERATION PROFIT, GROSS %.2f, NET %.2f" % (trade.pnl, trade.pnlcomm))

    def next(self):
        if self.order:
            return

        if not self.position:
            if self.crossover > 0:
                self.log("BUY CREATE, %.2f" % self.data.close[0])
                self.order = self.buy()
        elif self.crossover < 0:
            self.log("SELL CREATE, %.2f" % self.data.close[0])
            self.order = self.close()

    def stop(self):
        self.log(
            "(Fast %2d, Slow %2d) Ending Value %.2f"
            % (self.p.fast, self.p.slow, self.broker.getvalue()),
            dt=self.datas[0].datetime.date(0),
        )


def runstrat(args=None):
    args = parse_args(args)

    cerebro = bt.Cerebro()

    kwargs = dict()
    if args.fromdate:
        kwargs["fromdate"] = datetime.datetime.strptime(args.fromdate, "%Y-%m-%d")
    if args.todate:
        kwargs["todate"] = datetime.datetime.strptime(args.todate, "%Y-%m-%d")

    data = bt.feeds.YahooFinanceCSVData(dataname=args.data, **kwargs)
    cerebro.adddata(data)

    cerebro.addstrategy(SmaCross, fast=args.fast, slow=args.slow)
    cerebro.addsizer(bt.sizers.PercentSizerInt, percents=args.percents)

    cerebro.broker.setcash(args.cash)
    cerebro.broker.setcommission(commission=args.commission)

    print("Starting Portfolio Value: %.2f" % cerebro.broker.getvalue())
    cerebro.run()
    print("Final Portfolio Value: %.2f" % cerebro.broker.getvalue())

    if args.plot:
        cerebro.plot()


def parse_args(pargs=None):
    parser = argparse.ArgumentParser(
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="SMA crossover with a sizer and commission",
    )

    parser.add_argument(
        "--data", default=str(DATADIR / "orcl-2003-2005.txt"), help="Yahoo CSV data to read in"
    )
    parser.add_argument("--fromdate", default="", help="Starting date in YYYY-MM-DD format")
    parser.add_argument("--todate", default="", help="Ending date in YYYY-MM-DD format")
    parser.add_argument("--cash", default=100000.0, type=float, help="Starting cash")
    parser.add_argument("--fast", default=10, type=int, help="Period of the fast SMA")
    parser.add_argument("--slow", default=30, type=int, help="Period of the slow SMA")
    parser.add_argument("--percents", default=20, type=float, help="Percent of cash per entry")
    parser.add_argument("--commission", default=0.001, type=float, help="Commission (fraction)")
    parser.add_argument("--plot", action="store_true", help="Plot the result")

    return parser.parse_args(pargs)


if __name__ == "__main__":
    runstrat()
