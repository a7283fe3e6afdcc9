"""Generated strategies: seeded random orders of every kind, BackBroker vs CrackBroker.

Each seed draws a broker set-up (checksubmit, shortcash, slippage, cheat-on-close, filler,
commission) and a strategy that places random orders of every execution type, size type,
price, validity, OCO link and bracket, cancels random live orders and closes positions. The
complete records are compared with ``==``. A failing case prints its seed; replay it with
``pytest compat_tests/test_generated_orders.py -k "seed_<n>"``.
"""

from __future__ import annotations

import datetime
import os
import random
from pathlib import Path
from typing import Any

import backtrader as bt
import pytest

from bt_cracktrader.compare import run_recorded
from bt_cracktrader.record import OpenOrders, first_difference

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"
SEEDS = int(os.environ.get("BT_CRACKTRADER_GENERATED_SEEDS", "200"))

EXECTYPES = [
    bt.Order.Market,
    bt.Order.Close,
    bt.Order.Limit,
    bt.Order.Stop,
    bt.Order.StopLimit,
    bt.Order.StopTrail,
    bt.Order.StopTrailLimit,
]


class RandomOrders(bt.Strategy):
    params = (("seed", 0), ("intensity", 0.5))

    def __init__(self) -> None:
        self.rng = random.Random(self.p.seed)
        self.live: list[Any] = []

    def notify_order(self, order: Any) -> None:
        if order.alive():
            if order not in self.live:
                self.live.append(order)
        elif order in self.live:
            self.live.remove(order)

    def _size(self) -> Any:
        if self.rng.random() < 0.3:
            return round(self.rng.uniform(0.5, 12.0), 3)
        return self.rng.randint(1, 15)

    def _valid(self) -> Any:
        choice = self.rng.randrange(7)
        if choice == 0:
            return bt.Order.DAY
        if choice == 1:
            return datetime.timedelta(days=self.rng.randint(1, 5))
        if choice == 2:
            return self.data.datetime.date(0) + datetime.timedelta(days=self.rng.randint(1, 6))
        if choice == 3:
            return self.data.datetime.datetime(0) + datetime.timedelta(days=2, hours=1)
        if choice == 4:
            return 0
        return None

    def next(self) -> None:
        rng = self.rng
        close = self.data.close[0]
        r = rng.random()
        if r < 0.4 * self.p.intensity * 2:
            exectype = rng.choice(EXECTYPES)
            side = self.buy if rng.random() < 0.5 else self.sell
            kwargs: dict[str, Any] = {"size": self._size(), "exectype": exectype}
            if exectype != bt.Order.Market or rng.random() < 0.3:
                kwargs["valid"] = self._valid()
            if exectype in (bt.Order.Limit, bt.Order.Stop, bt.Order.StopLimit):
                kwargs["price"] = round(close * (1 + rng.uniform(-0.04, 0.04)), 2)
            if exectype in (bt.Order.StopLimit, bt.Order.StopTrailLimit):
                kwargs["plimit"] = round(close * (1 + rng.uniform(-0.03, 0.03)), 2)
            if exectype in (bt.Order.StopTrail, bt.Order.StopTrailLimit):
                if rng.random() < 0.5:
                    kwargs["trailamount"] = round(close * rng.uniform(0.005, 0.03), 2)
                else:
                    kwargs["trailpercent"] = rng.uniform(0.005, 0.03)
            if self.live and rng.random() < 0.25:
                kwargs["oco"] = rng.choice(self.live)
            if rng.random() < 0.1:
                kwargs["coc"] = False
            side(**kwargs)
        elif r < 0.5:
            size = self._size()
            up, down = close * (1 + rng.uniform(0.01, 0.05)), close * (1 - rng.uniform(0.01, 0.05))
            if rng.random() < 0.5:
                self.buy_bracket(
                    size=size,
                    price=close,
                    limitprice=up,
                    stopprice=down,
                    exectype=rng.choice([bt.Order.Limit, bt.Order.Market]),
                )
            else:
                self.sell_bracket(
                    size=size, price=close, limitprice=down, stopprice=up, valid=self._valid()
                )
        elif r < 0.6 and self.live:
            self.cancel(rng.choice(self.live))
        elif r < 0.65 and self.position:
            self.close()
        elif r < 0.67:
            self.order_target_percent(target=rng.uniform(-0.3, 0.5))


def _broker_setup(seed: int) -> tuple[dict[str, Any], Any]:
    rng = random.Random(seed * 7919 + 1)
    params: dict[str, Any] = {
        "cash": rng.choice([2000.0, 10000.0, 50000.0]),
        "checksubmit": rng.random() < 0.8,
        "shortcash": rng.random() < 0.8,
    }
    slip = rng.randrange(4)
    coc = rng.random() < 0.15
    filler_kind = rng.randrange(6)
    comm_kind = rng.randrange(4)

    def setup(broker: bt.BrokerBase) -> None:
        if slip == 1:
            broker.set_slippage_perc(
                rng.choice([0.001, 0.01]),
                slip_open=rng.random() < 0.5,
                slip_limit=rng.random() < 0.5,
                slip_match=rng.random() < 0.7,
                slip_out=rng.random() < 0.2,
            )
        elif slip == 2:
            broker.set_slippage_fixed(
                rng.choice([0.05, 0.5]),
                slip_open=rng.random() < 0.5,
                slip_match=rng.random() < 0.7,
            )
        if coc:
            broker.set_coc(True)
        if filler_kind == 1:
            broker.set_filler(bt.broker.fillers.FixedSize(size=rng.choice([None, 3, 4.5])))
        elif filler_kind == 2:
            broker.set_filler(bt.broker.fillers.FixedBarPerc(perc=rng.choice([0.00001, 50])))
        elif filler_kind == 3:
            broker.set_filler(bt.broker.fillers.BarPointPerc(minmov=0.01, perc=0.001))
        elif filler_kind == 4:
            broker.set_filler(lambda order, price, ago: min(2, abs(order.executed.remsize)))
        if comm_kind == 1:
            broker.setcommission(commission=0.001)
        elif comm_kind == 2:
            broker.setcommission(commission=2.0, margin=300.0, mult=5.0)
        elif comm_kind == 3:
            broker.setcommission(
                commission=0.5, commtype=bt.CommInfoBase.COMM_FIXED, stocklike=True, leverage=2.0
            )

    return params, setup


def _run(seed: int, broker: str) -> Any:
    params, setup = _broker_setup(seed)
    datafile = ["yhoo-2014.txt", "orcl-2014.txt"][seed % 2]

    def build() -> bt.Cerebro:
        cerebro = bt.Cerebro()
        data = bt.feeds.YahooFinanceCSVData(dataname=str(DATA / datafile))
        cerebro.adddata(data, name="d0")
        cerebro.addstrategy(RandomOrders, seed=seed)
        cerebro.addanalyzer(OpenOrders, _name="open_orders")
        return cerebro

    return run_recorded(build, broker, params, setup=setup)


@pytest.mark.parametrize("seed", range(SEEDS), ids=[f"seed_{i}" for i in range(SEEDS)])
def test_generated_orders(backend: str, seed: int) -> None:
    expected = _run(seed, "backtrader")
    got = _run(seed, backend)
    diff = first_difference(expected, got)
    assert diff is None, f"seed {seed}: {backend} differs from BackBroker at {diff}"
    orders = got["strategy0"]["record"]["orders"]
    assert orders, f"seed {seed}: the strategy placed no order"
