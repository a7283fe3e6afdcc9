#!/usr/bin/env python
# Written in the style of Backtrader's samples: %-formatting and str.format are kept.
# ruff: noqa: UP031, UP032
"""Slippage: percentage or fixed slippage on Market, Limit and Stop orders.

Long/short on an SMA crossover, reversing the position with ``order_target_size``. The broker
is created explicitly with its slippage parameters (``bt.brokers.BackBroker(slip_perc=...)``),
so the effect of ``--slip_open``, ``--slip_match`` and ``--slip_out`` can be compared.

    python slippage.py                          # 1 % slippage, Market orders
    python slippage.py --slip_fixed 2.5 --exectype Limit
    python slippage.py --no-slip_match --exectype Stop
"""

import argparse
import datetime
from pathlib import Path

import backtrader as bt

DATADIR = Path(__file__).resolve().parents[2] / "fixtures" / "data"

EXECTYPES = {"Market": bt.Order.Market, "Limit": bt.Order.Limit, "Stop": bt.Order.Stop}


class SlippageStrategy(bt.Strategy):
    params = dict(p1=5, p2=15, stake=10, exectype="Market", offset=0.002, valid=5)

    def __init__(self):
        ma1, ma2 = bt.ind.SMA(period=self.p.p1), bt.ind.SMA(period=self.p.p2)
        self.signal = bt.ind.CrossOver(ma1, ma2)
        self.order = None

    def notify_order(self, order):
        if order.status in [order.Submitted, order.Accepted]:
            return
        print(
            "{} {:>4} {:>6} {:<9} created {:.2f} executed {:+d} @ {:.4f}".format(
                self.datetime.date(),
                order.ordtypename(),
                order.getordername(),
                order.getstatusname(),
                order.created.price,
                order.executed.size,
                order.executed.price,
            )
        )
        if not order.alive():
            self.order = None

    def next(self):
        if self.order is not None or not self.signal:
            return

        target = self.p.stake if self.signal > 0 else -self.p.stake
        exectype = EXECTYPES[self.p.exectype]
        price = None
        if exectype == bt.Order.Limit:  # a little better than the close
            price = self.data.close[0] * (1.0 - self.p.offset * self.signal[0])
        elif exectype == bt.Order.Stop:  # a little worse than the close
            price = self.data.close[0] * (1.0 + self.p.offset * self.signal[0])
        valid = datetime.timedelta(days=self.p.valid) if price is not None else None
        self.order = self.order_target_size(
            target=target, exectype=exectype, price=price, valid=valid
        )


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

    brokerkwargs = dict(
        cash=args.cash,
        slip_open=args.slip_open,
        slip_match=args.slip_match,
        slip_out=args.slip_out,
        slip_limit=args.slip_limit,
    )
    if args.slip_fixed:
        brokerkwargs["slip_fixed"] = args.slip_fixed
    else:
        brokerkwargs["slip_perc"] = args.slip_perc
    cerebro.broker = bt.brokers.BackBroker(**brokerkwargs)

    cerebro.addstrategy(
        SlippageStrategy, stake=args.stake, exectype=args.exectype, valid=args.valid
    )

    cerebro.run()
    print("Final cash %.2f value %.2f" % (cerebro.broker.getcash(), cerebro.broker.getvalue()))

    if args.plot:
        cerebro.plot()


def parse_args(pargs=None):
    parser = argparse.ArgumentParser(
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Slippage sample",
    )

    parser.add_argument("--data", default=str(DATADIR / "2006-day-001.txt"), help="Data to read")
    parser.add_argument("--fromdate", default="", help="Starting date in YYYY-MM-DD format")
    parser.add_argument("--todate", default="", help="Ending date in YYYY-MM-DD format")
    parser.add_argument("--cash", default=100000.0, type=float, help="Starting cash")
    parser.add_argument("--stake", default=10, type=int, help="Position size")
    parser.add_argument(
        "--exectype", default="Market", choices=list(EXECTYPES), help="Order execution type"
    )
    parser.add_argument("--valid", default=5, type=int, help="Days a Limit/Stop order lives")
    parser.add_argument("--slip_perc", default=0.01, type=float, help="Slippage (fraction)")
    parser.add_argument("--slip_fixed", default=0.0, type=float, help="Fixed slippage (points)")
    parser.add_argument(
        "--slip_open", action=argparse.BooleanOptionalAction, default=True, help="Slip opens"
    )
    parser.add_argument(
        "--slip_match",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Cap the slipped price at the high/low",
    )
    parser.add_argument(
        "--slip_limit",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Cap Limit orders even without slip_match",
    )
    parser.add_argument(
        "--slip_out",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="Fill at the slipped price even outside the bar",
    )
    parser.add_argument("--plot", action="store_true", help="Plot the result")

    return parser.parse_args(pargs)


if __name__ == "__main__":
    runstrat()
