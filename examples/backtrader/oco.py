#!/usr/bin/env python
# Written in the style of Backtrader's samples: %-formatting and str.format are kept.
# ruff: noqa: UP031, UP032
"""OCO orders: three Limit buys at different distances, one cancels the others.

On an SMA cross up, three Limit buy orders are placed below the close; ``oco=`` links them so
that the first one to execute (or expire, or be cancelled) cancels the rest. The position is
closed ``--hold`` bars after the entry.

    python oco.py
    python oco.py --no-oco           # three independent orders
    python oco.py --oco1oco2         # the third order is linked through the second one
"""

import argparse
import datetime
from pathlib import Path

import backtrader as bt

DATADIR = Path(__file__).resolve().parents[2] / "fixtures" / "data"


class St(bt.Strategy):
    params = dict(
        ma=bt.ind.SMA,
        p1=5,
        p2=15,
        limit=0.005,
        limdays=3,
        limdays2=1000,
        hold=10,
        switchp1p2=False,  # switch prices of order1 and order2
        oco1oco2=False,  # False: order1 is the oco of order3, else order2
        do_oco=True,  # use oco or not
    )

    def notify_order(self, order):
        print(
            "{}: Order ref: {} / Type {} / Status {}".format(
                self.data.datetime.date(0),
                order.ref,
                "Buy" * order.isbuy() or "Sell",
                order.getstatusname(),
            )
        )

        if order.status == order.Completed:
            self.holdstart = len(self)
            print(
                "{}: Order ref: {} / Executed size {:+d} price {:.2f}".format(
                    self.data.datetime.date(0), order.ref, order.executed.size, order.executed.price
                )
            )

        if not order.alive() and order.ref in self.orefs:
            self.orefs.remove(order.ref)

    def __init__(self):
        ma1, ma2 = self.p.ma(period=self.p.p1), self.p.ma(period=self.p.p2)
        self.cross = bt.ind.CrossOver(ma1, ma2)

        self.orefs = list()

    def next(self):
        if self.orefs:
            return  # pending orders: do nothing

        if not self.position:
            if self.cross > 0.0:  # crossing up
                p1 = self.data.close[0] * (1.0 - self.p.limit)
                p2 = self.data.close[0] * (1.0 - 2 * 2 * self.p.limit)
                p3 = self.data.close[0] * (1.0 - 3 * 3 * self.p.limit)

                valid1 = datetime.timedelta(self.p.limdays)
                valid2 = valid3 = datetime.timedelta(self.p.limdays2)

                if self.p.switchp1p2:
                    p1, p2 = p2, p1
                    valid1, valid2 = valid2, valid1

                print("valid1 is:", valid1)

                o1 = self.buy(exectype=bt.Order.Limit, price=p1, valid=valid1)
                print("{}: Oref {} / Buy at {:.4f}".format(self.datetime.date(), o1.ref, p1))

                oco2 = o1 if self.p.do_oco else None
                o2 = self.buy(exectype=bt.Order.Limit, price=p2, valid=valid2, oco=oco2)
                print("{}: Oref {} / Buy at {:.4f}".format(self.datetime.date(), o2.ref, p2))

                if self.p.do_oco:
                    oco3 = o1 if not self.p.oco1oco2 else o2
                else:
                    oco3 = None

                o3 = self.buy(exectype=bt.Order.Limit, price=p3, valid=valid3, oco=oco3)
                print("{}: Oref {} / Buy at {:.4f}".format(self.datetime.date(), o3.ref, p3))

                self.orefs = [o1.ref, o2.ref, o3.ref]

        else:  # in the market
            if (len(self) - self.holdstart) >= self.p.hold:
                self.close()


def runstrat(args=None):
    args = parse_args(args)

    cerebro = bt.Cerebro()

    kwargs = dict()
    for a, d in ((getattr(args, x), x) for x in ["fromdate", "todate"]):
        if a:
            kwargs[d] = datetime.datetime.strptime(a, "%Y-%m-%d")

    data0 = bt.feeds.BacktraderCSVData(dataname=args.data0, **kwargs)
    cerebro.adddata(data0)

    cerebro.broker.setcash(args.cash)
    cerebro.addsizer(bt.sizers.FixedSize, stake=args.stake)

    cerebro.addstrategy(
        St,
        limit=args.limit,
        switchp1p2=args.switchp1p2,
        oco1oco2=args.oco1oco2,
        do_oco=not args.no_oco,
    )

    cerebro.run()
    print("Final value {:.2f}".format(cerebro.broker.getvalue()))

    if args.plot:
        cerebro.plot()


def parse_args(pargs=None):
    parser = argparse.ArgumentParser(
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="OCO orders sample",
    )

    parser.add_argument(
        "--data0", default=str(DATADIR / "2006-day-001.txt"), help="Data to read in"
    )
    parser.add_argument("--fromdate", default="", help="Date in YYYY-MM-DD format")
    parser.add_argument("--todate", default="", help="Date in YYYY-MM-DD format")
    parser.add_argument("--cash", default=100000.0, type=float, help="Starting cash")
    parser.add_argument("--stake", default=1, type=int, help="Stake per order")
    parser.add_argument("--limit", default=0.005, type=float, help="Distance of the first limit")
    parser.add_argument("--switchp1p2", action="store_true", help="Switch prices of o1 and o2")
    parser.add_argument("--oco1oco2", action="store_true", help="Link o3 through o2")
    parser.add_argument("--no-oco", action="store_true", help="Do not link the orders")
    parser.add_argument("--plot", action="store_true", help="Plot the result")

    return parser.parse_args(pargs)


if __name__ == "__main__":
    runstrat()
