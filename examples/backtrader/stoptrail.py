#!/usr/bin/env python
# Written in the style of Backtrader's samples: %-formatting and str.format are kept.
# ruff: noqa: UP031, UP032
"""Trailing stops: StopTrail and StopTrailLimit exits, by amount or by percentage.

Enters long with a Market order when the fast SMA crosses above the slow one, then protects the
position with a trailing sell stop that follows the price up. Each bar prints the close, the
current stop price and where the stop should be.

    python stoptrail.py                              # StopTrail, 2 % trail
    python stoptrail.py --trailamount 25
    python stoptrail.py --stoptype StopTrailLimit --limitoffset 5
"""

import argparse
import datetime
from pathlib import Path

import backtrader as bt

DATADIR = Path(__file__).resolve().parents[2] / "fixtures" / "data"

STOPTYPES = {"StopTrail": bt.Order.StopTrail, "StopTrailLimit": bt.Order.StopTrailLimit}


class St(bt.Strategy):
    params = dict(
        ma=bt.ind.SMA,
        p1=10,
        p2=30,
        stoptype=bt.Order.StopTrail,
        trailamount=0.0,
        trailpercent=0.0,
        limitoffset=0.0,
    )

    def __init__(self):
        ma1, ma2 = self.p.ma(period=self.p.p1), self.p.ma(period=self.p.p2)
        self.crup = bt.ind.CrossUp(ma1, ma2)
        self.order = None

    def notify_order(self, order):
        if order.status in [order.Completed, order.Canceled, order.Expired, order.Margin]:
            print(
                "{} {} ref {} {} size {:+d} price {:.2f}".format(
                    self.datetime.date(),
                    order.getordername(),
                    order.ref,
                    order.getstatusname(),
                    order.executed.size,
                    order.executed.price,
                )
            )
        if order.status == order.Completed and order.issell():
            self.order = None

    def notify_trade(self, trade):
        if trade.isclosed:
            print("{} trade closed, pnl {:.2f}".format(self.datetime.date(), trade.pnl))

    def tcheck(self):
        if self.p.trailamount:
            return self.data.close[0] - self.p.trailamount
        return self.data.close[0] * (1.0 - self.p.trailpercent)

    def next(self):
        if not self.position:
            if self.crup:
                self.buy()
                self.order = None
                print("*" * 50)

        elif self.order is None:
            if self.p.stoptype == bt.Order.StopTrailLimit:
                price = self.data.close[0]
                plimit = self.data.close[0] + self.p.limitoffset
            else:
                price = None
                plimit = None

            self.order = self.sell(
                exectype=self.p.stoptype,
                price=price,
                plimit=plimit,
                trailamount=self.p.trailamount,
                trailpercent=self.p.trailpercent,
            )

            print(
                ",".join(
                    map(
                        str,
                        [
                            self.datetime.date(),
                            self.data.close[0],
                            self.order.created.price,
                            self.tcheck(),
                        ],
                    )
                )
            )
            print("-" * 10)
        else:
            print(
                ",".join(
                    map(
                        str,
                        [
                            self.datetime.date(),
                            self.data.close[0],
                            self.order.created.price,
                            self.tcheck(),
                        ],
                    )
                )
            )


def runstrat(args=None):
    args = parse_args(args)

    cerebro = bt.Cerebro()

    kwargs = dict()
    for a, d in ((getattr(args, x), x) for x in ["fromdate", "todate"]):
        if a:
            kwargs[d] = datetime.datetime.strptime(a, "%Y-%m-%d")

    data0 = bt.feeds.BacktraderCSVData(dataname=args.data0, **kwargs)
    cerebro.adddata(data0)

    cerebro.broker = bt.brokers.BackBroker(cash=args.cash)
    cerebro.addsizer(bt.sizers.FixedSize, stake=args.stake)

    trailpercent = args.trailpercent if not args.trailamount else 0.0
    cerebro.addstrategy(
        St,
        stoptype=STOPTYPES[args.stoptype],
        trailamount=args.trailamount,
        trailpercent=trailpercent,
        limitoffset=args.limitoffset,
    )

    cerebro.run()
    print("Final value {:.2f}".format(cerebro.broker.getvalue()))

    if args.plot:
        cerebro.plot()


def parse_args(pargs=None):
    parser = argparse.ArgumentParser(
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="StopTrail sample",
    )

    parser.add_argument(
        "--data0", default=str(DATADIR / "2006-day-001.txt"), help="Data to read in"
    )
    parser.add_argument("--fromdate", default="", help="Date in YYYY-MM-DD format")
    parser.add_argument("--todate", default="", help="Date in YYYY-MM-DD format")
    parser.add_argument("--cash", default=100000.0, type=float, help="Starting cash")
    parser.add_argument("--stake", default=10, type=int, help="Stake per entry")
    parser.add_argument(
        "--stoptype", default="StopTrail", choices=list(STOPTYPES), help="Exit order type"
    )
    parser.add_argument("--trailamount", default=0.0, type=float, help="Trail by this amount")
    parser.add_argument(
        "--trailpercent", default=0.02, type=float, help="Trail by this fraction (if no amount)"
    )
    parser.add_argument(
        "--limitoffset", default=0.0, type=float, help="StopTrailLimit: limit above the stop"
    )
    parser.add_argument("--plot", action="store_true", help="Plot the result")

    return parser.parse_args(pargs)


if __name__ == "__main__":
    runstrat()
