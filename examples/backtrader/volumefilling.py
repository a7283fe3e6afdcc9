#!/usr/bin/env python
# Written in the style of Backtrader's samples: %-formatting and str.format are kept.
# ruff: noqa: UP031, UP032
"""Volume filling: large orders filled over several bars by Backtrader's volume fillers.

On the first bar the strategy buys ``--stakeperc`` percent of that bar's volume. A filler
(``bt.broker.fillers``) limits how much of the order each bar can fill, so the order is
notified ``Partial`` until it is ``Completed``. Later, the position is closed the same way.
Sizes are printed as they are (``BarPointPerc`` fills fractional sizes, as in Backtrader).
``--filler all`` (the default) runs one backtest per filler.

    python volumefilling.py
    python volumefilling.py --filler FixedSize --filler-args size=20000
    python volumefilling.py --filler FixedBarPerc --filler-args perc=25
"""

import argparse
import datetime
from pathlib import Path

import backtrader as bt

DATADIR = Path(__file__).resolve().parents[2] / "fixtures" / "data"

FILLERS = {
    "FixedSize": bt.broker.fillers.FixedSize,
    "FixedBarPerc": bt.broker.fillers.FixedBarPerc,
    "BarPointPerc": bt.broker.fillers.BarPointPerc,
}

FILLER_DEFAULT_ARGS = {
    "FixedSize": dict(size=15000),
    "FixedBarPerc": dict(perc=2.0),
    "BarPointPerc": dict(minmov=1.0, perc=10.0),
}


class St(bt.Strategy):
    params = (
        ("stakeperc", 10.0),
        ("closeafter", 20),
    )

    def notify_order(self, order):
        print(
            "-- ORDER {} ref {} {}: executed {} @ {:.2f}, remaining {}".format(
                self.data0.datetime.date(0),
                order.ref,
                order.getstatusname(),
                order.executed.size,
                order.executed.price,
                order.executed.remsize,
            )
        )
        for bit in order.executed.exbits:
            print("   fill {} @ {:.2f}".format(bit.size, bit.price))

        if order.status == order.Completed:
            print("++ ORDER COMPLETED at data.len:", len(order.data))
            self.completed = len(self)

    def start(self):
        self.completed = None
        print("Len,Datetime,Open,High,Low,Close,Volume")

    def next(self):
        txtfields = list()
        txtfields.append("%04d" % len(self))
        txtfields.append(self.data0.datetime.date(0).isoformat())
        txtfields.append("%.2f" % self.data0.open[0])
        txtfields.append("%.2f" % self.data0.high[0])
        txtfields.append("%.2f" % self.data0.low[0])
        txtfields.append("%.2f" % self.data0.close[0])
        txtfields.append("%.2f" % self.data0.volume[0])
        if len(self) <= 10 or len(self) % 20 == 0:
            print(",".join(txtfields))

        if len(self.data0) == 1:  # a single big order
            stakevol = int(self.data0.volume[0] * self.p.stakeperc // 100)
            print("++ STAKE VOLUME:", stakevol)
            self.buy(size=stakevol)

        elif self.completed is not None and len(self) - self.completed == self.p.closeafter:
            print("++ CLOSING position of size {}".format(self.position.size))
            self.close()


def runstrat(args=None):
    args = parse_args(args)

    fillers = list(FILLERS) if args.filler == "all" else [args.filler]
    for name in fillers:
        print("=" * 20, "filler", name)
        datakwargs = dict()
        if args.fromdate:
            datakwargs["fromdate"] = datetime.datetime.strptime(args.fromdate, "%Y-%m-%d")
        if args.todate:
            datakwargs["todate"] = datetime.datetime.strptime(args.todate, "%Y-%m-%d")

        data = bt.feeds.BacktraderCSVData(dataname=args.data, **datakwargs)

        cerebro = bt.Cerebro()
        cerebro.adddata(data)

        cerebro.broker.set_cash(args.cash)
        fillerkwargs = dict(FILLER_DEFAULT_ARGS[name])
        if args.filler_args is not None:
            fillerkwargs = eval("dict(" + args.filler_args + ")")
        cerebro.broker.set_filler(FILLERS[name](**fillerkwargs))

        cerebro.addstrategy(St, stakeperc=args.stakeperc)

        cerebro.run()
        print("Final cash %.2f value %.2f" % (cerebro.broker.getcash(), cerebro.broker.getvalue()))
        if args.plot:
            cerebro.plot(style="bar")


def parse_args(pargs=None):
    parser = argparse.ArgumentParser(
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Volume Filling Sample",
    )

    parser.add_argument(
        "--data", default=str(DATADIR / "2006-volume-day-001.txt"), help="Data to be read in"
    )
    parser.add_argument("--cash", default=500e6, type=float, help="Starting cash")
    parser.add_argument(
        "--filler",
        default="all",
        choices=["all", *FILLERS],
        help="Volume filler for the execution (all: one backtest per filler)",
    )
    parser.add_argument(
        "--filler-args", default=None, help="kwargs for the filler: arg1=val1,arg2=val2..."
    )
    parser.add_argument(
        "--stakeperc", default=10.0, type=float, help="Percentage of 1st bar to use for stake"
    )
    parser.add_argument("--fromdate", "-f", default=None, help="Starting date in YYYY-MM-DD")
    parser.add_argument("--todate", "-t", default=None, help="Ending date in YYYY-MM-DD")
    parser.add_argument("--plot", action="store_true", help="Plot the result")

    return parser.parse_args(pargs)


if __name__ == "__main__":
    runstrat()
