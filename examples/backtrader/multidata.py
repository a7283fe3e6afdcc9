#!/usr/bin/env python
# Written in the style of Backtrader's samples: %-formatting and str.format are kept.
# ruff: noqa: UP031, UP032
"""Multi-data strategy: trade two stocks from one strategy.

ORCL and YHOO (2003-2005) are loaded side by side. For each data, a crossover of the close and
its SMA opens a long position (``--stake`` shares) or closes it. Orders, trades and the daily
portfolio value (every ``--printevery`` bars) are printed with the data's name.

    python multidata.py
    python multidata.py --period 30 --stake 200
"""

import argparse
import datetime
from pathlib import Path

import backtrader as bt

DATADIR = Path(__file__).resolve().parents[2] / "fixtures" / "data"


class MultiDataStrategy(bt.Strategy):
    params = dict(
        period=15,
        stake=100,
        printevery=50,
    )

    def log(self, txt, dt=None):
        dt = dt or self.data.datetime.date(0)
        print("%s, %s" % (dt.isoformat(), txt))

    def __init__(self):
        self.orders = dict()
        self.signals = dict()
        for d in self.datas:
            sma = bt.ind.SMA(d.close, period=self.p.period)
            self.signals[d] = bt.ind.CrossOver(d.close, sma)
            self.orders[d] = None

    def notify_order(self, order):
        name = order.data._name
        if order.status in [order.Submitted, order.Accepted]:
            return

        if order.status == order.Completed:
            self.log(
                "%s %s EXECUTED, size %d, price %.2f, value %.2f, comm %.2f"
                % (
                    name,
                    "BUY" if order.isbuy() else "SELL",
                    order.executed.size,
                    order.executed.price,
                    order.executed.value,
                    order.executed.comm,
                )
            )
        else:
            self.log("%s order %s" % (name, order.getstatusname()))

        self.orders[order.data] = None

    def notify_trade(self, trade):
        if trade.isclosed:
            self.log(
                "%s TRADE CLOSED, pnl %.2f, pnlcomm %.2f, bars %d"
                % (trade.data._name, trade.pnl, trade.pnlcomm, trade.barlen)
            )

    def next(self):
        for d in self.datas:
            if self.orders[d] is not None:
                continue
            pos = self.getposition(d).size
            if not pos and self.signals[d] > 0:
                self.orders[d] = self.buy(data=d, size=self.p.stake)
            elif pos and self.signals[d] < 0:
                self.orders[d] = self.close(data=d)

        if len(self) % self.p.printevery == 0:
            positions = ", ".join("%s %d" % (d._name, self.getposition(d).size) for d in self.datas)
            self.log(
                "cash %.2f value %.2f positions: %s"
                % (self.broker.getcash(), self.broker.getvalue(), positions)
            )

    def stop(self):
        for d in self.datas:
            self.log("%s position value %.2f" % (d._name, self.broker.getvalue(datas=[d])))


def runstrat(args=None):
    args = parse_args(args)

    cerebro = bt.Cerebro()

    kwargs = dict()
    if args.fromdate:
        kwargs["fromdate"] = datetime.datetime.strptime(args.fromdate, "%Y-%m-%d")
    if args.todate:
        kwargs["todate"] = datetime.datetime.strptime(args.todate, "%Y-%m-%d")

    data0 = bt.feeds.YahooFinanceCSVData(dataname=args.data0, **kwargs)
    cerebro.adddata(data0, name="orcl")

    data1 = bt.feeds.YahooFinanceCSVData(dataname=args.data1, **kwargs)
    cerebro.adddata(data1, name="yhoo")

    cerebro.addstrategy(
        MultiDataStrategy, period=args.period, stake=args.stake, printevery=args.printevery
    )

    cerebro.broker.setcash(args.cash)
    cerebro.broker.setcommission(commission=args.commission)
    cerebro.broker.setcommission(commission=args.commission * 2, name="yhoo")

    print("Starting value %.2f" % cerebro.broker.getvalue())
    cerebro.run()
    print("Final value %.2f" % cerebro.broker.getvalue())

    if args.plot:
        cerebro.plot()


def parse_args(pargs=None):
    parser = argparse.ArgumentParser(
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Multi-data strategy sample",
    )

    parser.add_argument(
        "--data0", default=str(DATADIR / "orcl-2003-2005.txt"), help="1st data (Yahoo CSV)"
    )
    parser.add_argument(
        "--data1", default=str(DATADIR / "yhoo-2003-2005.txt"), help="2nd data (Yahoo CSV)"
    )
    parser.add_argument("--fromdate", default="", help="Starting date in YYYY-MM-DD format")
    parser.add_argument("--todate", default="", help="Ending date in YYYY-MM-DD format")
    parser.add_argument("--cash", default=100000.0, type=float, help="Starting cash")
    parser.add_argument("--commission", default=0.001, type=float, help="Commission (fraction)")
    parser.add_argument("--period", default=15, type=int, help="SMA period")
    parser.add_argument("--stake", default=100, type=int, help="Shares per entry")
    parser.add_argument(
        "--printevery", default=50, type=int, help="Print the portfolio every n bars"
    )
    parser.add_argument("--plot", action="store_true", help="Plot the result")

    return parser.parse_args(pargs)


if __name__ == "__main__":
    runstrat()
