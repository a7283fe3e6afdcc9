#!/usr/bin/env python
# Written in the style of Backtrader's samples: %-formatting and str.format are kept.
# ruff: noqa: UP031, UP032
"""Commission schemes: futures-like (margin and multiplier) versus stock-like.

A long/short reversal strategy on an SMA crossover, with the commission scheme chosen on the
command line, as in Backtrader's ``commission-schemes`` sample:

* futures (default): ``setcommission(commission=2.0, margin=2000, mult=10)``: a fixed
  commission per contract, a margin per contract, profit and loss times the multiplier;
* ``--stocklike``: ``setcommission(commission=0.001, commtype=COMM_PERC, stocklike=True)``.

Each order prints its executed price, value (the margin for futures), commission and the
cash and value after it.

    python futures_comm.py
    python futures_comm.py --margin 1000 --mult 25 --commission 1.5
    python futures_comm.py --stocklike --commission 0.002
"""

import argparse
import datetime
from pathlib import Path

import backtrader as bt

DATADIR = Path(__file__).resolve().parents[2] / "fixtures" / "data"


class SMACrossOver(bt.Strategy):
    params = (
        ("stake", 1),
        ("period", 30),
    )

    def log(self, txt, dt=None):
        """Logging function for this strategy"""
        dt = dt or self.datas[0].datetime.date(0)
        print("%s, %s" % (dt.isoformat(), txt))

    def notify_order(self, order):
        if order.status in [order.Submitted, order.Accepted]:
            return  # nothing to do

        if order.status == order.Completed:
            self.log(
                "%s, price %.2f, size %+d, value %.2f, comm %.2f, cash %.2f, value %.2f"
                % (
                    "BUY" if order.isbuy() else "SELL",
                    order.executed.price,
                    order.executed.size,
                    order.executed.value,
                    order.executed.comm,
                    self.broker.getcash(),
                    self.broker.getvalue(),
                )
            )
        else:
            self.log("ORDER %s" % order.getstatusname())

    def notify_trade(self, trade):
        if trade.isclosed:
            self.log("TRADE PROFIT, GROSS %.2f, NET %.2f" % (trade.pnl, trade.pnlcomm))

    def __init__(self):
        sma = bt.indicators.SMA(self.data, period=self.p.period)
        # > 0 crossing up / < 0 crossing down
        self.buysell_sig = bt.indicators.CrossOver(self.data, sma)

    def next(self):
        if self.buysell_sig > 0:
            self.log("BUY SIGNAL, target %+d" % self.p.stake)
            self.order_target_size(target=self.p.stake)

        elif self.buysell_sig < 0:
            self.log("SELL SIGNAL, target %+d" % -self.p.stake)
            self.order_target_size(target=-self.p.stake)


def runstrat(args=None):
    args = parse_args(args)

    cerebro = bt.Cerebro()

    kwargs = dict()
    if args.fromdate:
        kwargs["fromdate"] = datetime.datetime.strptime(args.fromdate, "%Y-%m-%d")
    if args.todate:
        kwargs["todate"] = datetime.datetime.strptime(args.todate, "%Y-%m-%d")

    data = bt.feeds.BacktraderCSVData(dataname=args.data, **kwargs)
    cerebro.adddata(data)

    cerebro.addstrategy(SMACrossOver, period=args.period, stake=args.stake)

    cerebro.broker.setcash(args.cash)

    if args.stocklike:
        commission = args.commission if args.commission is not None else 0.001
        cerebro.broker.setcommission(
            commission=commission, commtype=bt.CommInfoBase.COMM_PERC, stocklike=True
        )
    else:
        commission = args.commission if args.commission is not None else 2.0
        cerebro.broker.setcommission(commission=commission, margin=args.margin, mult=args.mult)

    cerebro.run()
    print("Final cash %.2f value %.2f" % (cerebro.broker.getcash(), cerebro.broker.getvalue()))

    if args.plot:
        cerebro.plot()


def parse_args(pargs=None):
    parser = argparse.ArgumentParser(
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Commission schemes: futures versus stocks",
    )

    parser.add_argument("--data", "-d", default=str(DATADIR / "2006-day-001.txt"), help="Data")
    parser.add_argument("--fromdate", "-f", default="", help="Starting date in YYYY-MM-DD")
    parser.add_argument("--todate", "-t", default="", help="Ending date in YYYY-MM-DD")
    parser.add_argument("--cash", default=50000.0, type=float, help="Starting cash")
    parser.add_argument("--stake", default=10, type=int, help="Contracts/shares per position")
    parser.add_argument("--period", default=30, type=int, help="SMA period")
    parser.add_argument("--stocklike", action="store_true", help="Stock-like scheme")
    parser.add_argument(
        "--commission",
        default=None,
        type=float,
        help="Per contract (futures, default 2.0) or fraction (stocks, default 0.001)",
    )
    parser.add_argument("--margin", default=2000.0, type=float, help="Margin per contract")
    parser.add_argument("--mult", default=10.0, type=float, help="Contract multiplier")
    parser.add_argument("--plot", action="store_true", help="Plot the result")

    return parser.parse_args(pargs)


if __name__ == "__main__":
    runstrat()
