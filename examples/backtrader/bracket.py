#!/usr/bin/env python
# Written in the style of Backtrader's samples: %-formatting and str.format are kept.
# ruff: noqa: UP031, UP032
"""Bracket orders: a Limit entry with a protective Stop and a take-profit Limit.

On a fast/slow SMA cross up, enter with a Limit buy slightly below the close, valid for
``--limdays`` days, with a Stop sell below it and a Limit sell above it (valid ``--limdays2``
days). Either built by hand with ``parent=``/``transmit=False`` (the default) or with
``buy_bracket`` (``--usebracket``).

    python bracket.py
    python bracket.py --usebracket --limit 0.01
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
        usebracket=False,  # use buy_bracket instead of three manual orders
        switchp1p2=False,  # switch prices of the entry and the stop
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
                "{}: Order ref: {} executed {:+d} @ {:.2f}, comm {:.2f}".format(
                    self.data.datetime.date(0),
                    order.ref,
                    order.executed.size,
                    order.executed.price,
                    order.executed.comm,
                )
            )

        if not order.alive() and order.ref in self.orefs:
            self.orefs.remove(order.ref)

    def notify_trade(self, trade):
        if trade.isclosed:
            print(
                "{}: Trade closed, pnl {:.2f}, net {:.2f}".format(
                    self.data.datetime.date(0), trade.pnl, trade.pnlcomm
                )
            )

    def __init__(self):
        ma1, ma2 = self.p.ma(period=self.p.p1), self.p.ma(period=self.p.p2)
        self.cross = bt.ind.CrossOver(ma1, ma2)

        self.orefs = list()

        if self.p.usebracket:
            print("-" * 5, "Using buy_bracket")

    def next(self):
        if self.orefs:
            return  # pending orders: do nothing

        if not self.position:
            if self.cross > 0.0:  # crossing up
                close = self.data.close[0]
                p1 = close * (1.0 - self.p.limit)
                p2 = p1 - 0.02 * close
                p3 = p1 + 0.02 * close

                valid1 = datetime.timedelta(self.p.limdays)
                valid2 = valid3 = datetime.timedelta(self.p.limdays2)

                if self.p.switchp1p2:
                    p1, p2 = p2, p1
                    valid1, valid2 = valid2, valid1

                if not self.p.usebracket:
                    o1 = self.buy(exectype=bt.Order.Limit, price=p1, valid=valid1, transmit=False)
                    print("{}: Oref {} / Buy at {:.4f}".format(self.datetime.date(), o1.ref, p1))

                    o2 = self.sell(
                        exectype=bt.Order.Stop, price=p2, valid=valid2, parent=o1, transmit=False
                    )
                    print(
                        "{}: Oref {} / Sell Stop at {:.4f}".format(self.datetime.date(), o2.ref, p2)
                    )

                    o3 = self.sell(
                        exectype=bt.Order.Limit, price=p3, valid=valid3, parent=o1, transmit=True
                    )
                    print(
                        "{}: Oref {} / Sell Limit at {:.4f}".format(
                            self.datetime.date(), o3.ref, p3
                        )
                    )

                    self.orefs = [o1.ref, o2.ref, o3.ref]

                else:
                    orders = self.buy_bracket(
                        price=p1,
                        valid=valid1,
                        stopprice=p2,
                        stopargs=dict(valid=valid2),
                        limitprice=p3,
                        limitargs=dict(valid=valid3),
                    )

                    self.orefs = [o.ref for o in orders]

        else:  # in the market
            if (len(self) - self.holdstart) >= self.p.hold:
                pass  # the bracket does the exit


def runstrat(args=None):
    args = parse_args(args)

    cerebro = bt.Cerebro()

    kwargs = dict()
    dtfmt, tmfmt = "%Y-%m-%d", "T%H:%M:%S"
    for a, d in ((getattr(args, x), x) for x in ["fromdate", "todate"]):
        if a:
            strpfmt = dtfmt + tmfmt * ("T" in a)
            kwargs[d] = datetime.datetime.strptime(a, strpfmt)

    data0 = bt.feeds.BacktraderCSVData(dataname=args.data0, **kwargs)
    cerebro.adddata(data0)

    cerebro.broker = bt.brokers.BackBroker(cash=args.cash)
    cerebro.broker.setcommission(commission=args.commission)

    cerebro.addsizer(bt.sizers.FixedSize, stake=args.stake)

    cerebro.addstrategy(
        St, usebracket=args.usebracket, limit=args.limit, switchp1p2=args.switchp1p2
    )

    cerebro.run()
    print(
        "Final cash {:.2f}, value {:.2f}".format(
            cerebro.broker.getcash(), cerebro.broker.getvalue()
        )
    )

    if args.plot:
        cerebro.plot()


def parse_args(pargs=None):
    parser = argparse.ArgumentParser(
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Bracket orders sample",
    )

    parser.add_argument(
        "--data0", default=str(DATADIR / "2006-day-001.txt"), help="Data to read in"
    )
    parser.add_argument("--fromdate", default="", help="Date[time] in YYYY-MM-DD[THH:MM:SS] format")
    parser.add_argument("--todate", default="", help="Date[time] in YYYY-MM-DD[THH:MM:SS] format")
    parser.add_argument("--cash", default=100000.0, type=float, help="Starting cash")
    parser.add_argument("--commission", default=0.0, type=float, help="Commission (fraction)")
    parser.add_argument("--stake", default=5, type=int, help="Stake per entry")
    parser.add_argument("--limit", default=0.005, type=float, help="Entry distance below close")
    parser.add_argument("--usebracket", action="store_true", help="Use buy_bracket")
    parser.add_argument("--switchp1p2", action="store_true", help="Switch entry and stop prices")
    parser.add_argument("--plot", action="store_true", help="Plot the result")

    return parser.parse_args(pargs)


if __name__ == "__main__":
    runstrat()
