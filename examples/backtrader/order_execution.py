#!/usr/bin/env python
# Written in the style of Backtrader's samples: %-formatting and str.format are kept.
# ruff: noqa: UP031, UP032
"""Order execution types: Market, Close, Limit, Stop and StopLimit, with and without validity.

Buys when the close crosses above its SMA and sells when it crosses below. The entry uses the
execution type given with ``--exectype``; Limit/Stop/StopLimit prices are ``--perc1``/``--perc2``
percent away from the close and expire after ``--valid`` days (0: good till cancelled).
``--exectype all`` (the default) runs one backtest per execution type.

    python order_execution.py
    python order_execution.py --exectype Limit --perc1 1 --valid 4
"""

import argparse
import datetime
from pathlib import Path

import backtrader as bt
import backtrader.feeds as btfeeds
import backtrader.indicators as btind

DATADIR = Path(__file__).resolve().parents[2] / "fixtures" / "data"

EXECTYPES = ["Market", "Close", "Limit", "Stop", "StopLimit"]


class OrderExecutionStrategy(bt.Strategy):
    params = (
        ("smaperiod", 15),
        ("exectype", "Market"),
        ("perc1", 3),
        ("perc2", 1),
        ("valid", 4),
    )

    def log(self, txt, dt=None):
        """Logging function for this strategy"""
        dt = dt or self.data.datetime[0]
        if isinstance(dt, float):
            dt = bt.num2date(dt)
        print("%s, %s" % (dt.isoformat(), txt))

    def notify_order(self, order):
        if order.status in [order.Submitted, order.Accepted]:
            # Buy/Sell order submitted/accepted to/by broker - nothing to do
            self.log("ORDER ACCEPTED/SUBMITTED", dt=order.created.dt)
            self.order = order
            return

        if order.status in [order.Expired]:
            self.log("BUY EXPIRED")

        elif order.status in [order.Completed]:
            if order.isbuy():
                self.log(
                    "BUY EXECUTED, Price: %.2f, Cost: %.2f, Comm %.2f"
                    % (order.executed.price, order.executed.value, order.executed.comm)
                )

            else:  # Sell
                self.log(
                    "SELL EXECUTED, Price: %.2f, Cost: %.2f, Comm %.2f"
                    % (order.executed.price, order.executed.value, order.executed.comm)
                )

        # Sentinel to None: new orders allowed
        self.order = None

    def __init__(self):
        sma = btind.SMA(period=self.p.smaperiod)

        # CrossOver (1: up, -1: down) close / sma
        self.buysell = btind.CrossOver(self.data.close, sma, plot=True)

        # Sentinel to None: new orders allowed
        self.order = None

    def next(self):
        if self.order:
            # An order is pending ... nothing can be done
            return

        # Check if we are in the market
        if self.position:
            # In the market - check if it's the time to sell
            if self.buysell < 0:
                self.log("SELL CREATE, %.2f" % self.data.close[0])
                self.sell()

        elif self.buysell > 0:
            if self.p.valid:
                valid = self.data.datetime.date(0) + datetime.timedelta(days=self.p.valid)
            else:
                valid = None

            # Not in the market and signal to buy
            if self.p.exectype == "Market":
                self.buy(exectype=bt.Order.Market)  # default if not given

                self.log("BUY CREATE, exectype Market, price %.2f" % self.data.close[0])

            elif self.p.exectype == "Close":
                self.buy(exectype=bt.Order.Close)

                self.log("BUY CREATE, exectype Close, price %.2f" % self.data.close[0])

            elif self.p.exectype == "Limit":
                price = self.data.close * (1.0 - self.p.perc1 / 100.0)

                self.buy(exectype=bt.Order.Limit, price=price, valid=valid)

                if self.p.valid:
                    txt = "BUY CREATE, exectype Limit, price %.2f, valid: %s"
                    self.log(txt % (price, valid.strftime("%Y-%m-%d")))
                else:
                    txt = "BUY CREATE, exectype Limit, price %.2f"
                    self.log(txt % price)

            elif self.p.exectype == "Stop":
                price = self.data.close * (1.0 + self.p.perc1 / 100.0)

                self.buy(exectype=bt.Order.Stop, price=price, valid=valid)

                if self.p.valid:
                    txt = "BUY CREATE, exectype Stop, price %.2f, valid: %s"
                    self.log(txt % (price, valid.strftime("%Y-%m-%d")))
                else:
                    txt = "BUY CREATE, exectype Stop, price %.2f"
                    self.log(txt % price)

            elif self.p.exectype == "StopLimit":
                price = self.data.close * (1.0 + self.p.perc1 / 100.0)

                plimit = self.data.close * (1.0 + self.p.perc2 / 100.0)

                self.buy(exectype=bt.Order.StopLimit, price=price, valid=valid, plimit=plimit)

                if self.p.valid:
                    txt = "BUY CREATE, exectype StopLimit, price %.2f, valid: %s, pricelimit: %.2f"
                    self.log(txt % (price, valid.strftime("%Y-%m-%d"), plimit))
                else:
                    txt = "BUY CREATE, exectype StopLimit, price %.2f, pricelimit: %.2f"
                    self.log(txt % (price, plimit))


def runstrat(args=None):
    args = parse_args(args)

    exectypes = EXECTYPES if args.exectype == "all" else [args.exectype]
    for exectype in exectypes:
        print("=" * 20, "exectype", exectype)
        cerebro = bt.Cerebro()

        data = getdata(args)
        cerebro.adddata(data)

        cerebro.addstrategy(
            OrderExecutionStrategy,
            exectype=exectype,
            perc1=args.perc1,
            perc2=args.perc2,
            valid=args.valid,
            smaperiod=args.smaperiod,
        )
        cerebro.run()
        print("Final value: %.2f" % cerebro.broker.getvalue())

        if args.plot:
            cerebro.plot(numfigs=args.numfigs, style=args.plotstyle)


def getdata(args):
    dataformat = dict(
        bt=btfeeds.BacktraderCSVData,
        yahoo=btfeeds.YahooFinanceCSVData,
    )

    dfkwargs = dict()
    if args.fromdate:
        dfkwargs["fromdate"] = datetime.datetime.strptime(args.fromdate, "%Y-%m-%d")

    if args.todate:
        dfkwargs["todate"] = datetime.datetime.strptime(args.todate, "%Y-%m-%d")

    dfkwargs["dataname"] = args.infile

    dfcls = dataformat[args.csvformat]

    return dfcls(**dfkwargs)


def parse_args(pargs=None):
    parser = argparse.ArgumentParser(description="Showcase for Order Execution Types")

    parser.add_argument(
        "--infile", "-i", default=str(DATADIR / "2006-day-001.txt"), help="File to be read in"
    )
    parser.add_argument(
        "--csvformat", "-c", default="bt", choices=["bt", "yahoo"], help="CSV Format"
    )
    parser.add_argument("--fromdate", "-f", default=None, help="Starting date in YYYY-MM-DD")
    parser.add_argument("--todate", "-t", default=None, help="Ending date in YYYY-MM-DD")
    parser.add_argument("--plot", "-p", action="store_true", help="Plot the read data")
    parser.add_argument(
        "--plotstyle", "-ps", default="bar", choices=["bar", "line", "candle"], help="Plot style"
    )
    parser.add_argument("--numfigs", "-n", default=1, type=int, help="Plot using n figures")
    parser.add_argument("--smaperiod", "-s", default=15, type=int, help="SMA period")
    parser.add_argument(
        "--exectype",
        "-e",
        default="all",
        choices=["all", *EXECTYPES],
        help="Execution type (all: one backtest per type)",
    )
    parser.add_argument(
        "--valid", "-v", default=4, type=int, help="Validity in days for Limit/Stop (0: none)"
    )
    parser.add_argument(
        "--perc1",
        "-p1",
        default=1.0,
        type=float,
        help="%% distance from close for the limit/trigger price of Limit/Stop orders",
    )
    parser.add_argument(
        "--perc2",
        "-p2",
        default=0.5,
        type=float,
        help="%% distance from close for the limit price of StopLimit orders",
    )

    return parser.parse_args(pargs)


if __name__ == "__main__":
    runstrat()
