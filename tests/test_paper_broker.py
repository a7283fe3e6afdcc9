"""Paper trading through ``CrackStore``: the same accounting as a backtest of the same bars.

A strategy run on paper over the emulator's candles (history, or live closed candles) gives
EXACTLY the notifications, trades, cash and value of a plain backtest of the same bars with
``CrackBroker`` and with Backtrader's ``BackBroker``, both using the same ``MarketCommInfo``.
Sizes are fractional, in the market's step; orders outside the market's rules are refused
before they reach the core.
"""

from __future__ import annotations

import datetime

import backtrader as bt
import pytest
from backtrader.utils import date2num

from bt_cracktrader import CrackBroker
from bt_cracktrader.emulator import synthetic_candles
from bt_cracktrader.feed import from_ms
from bt_cracktrader.market import (
    MarketCommInfo,
    MarketLimitError,
    MarketSizer,
    MarketSpec,
    check_order,
    round_amount,
)
from bt_cracktrader.paper import PaperBroker
from bt_cracktrader.store import CrackStore

MIN = 60_000
T0 = 1_700_000_000_000 // 86_400_000 * 86_400_000
SYM = "BTC/USDT"
N = 400  # closed candles
SPEC = MarketSpec(
    symbol=SYM,
    amount_step=1e-05,
    price_step=0.01,
    min_amount=1e-05,
    max_amount=9000.0,
    min_price=0.01,
    max_price=1000000.0,
    min_cost=5.0,
    taker=0.001,
    maker=0.001,
)


class RowsData(bt.feed.DataBase):
    """The same candles as a plain backtest feed."""

    params = (("rows", None),)

    def start(self) -> None:
        super().start()
        self._i = 0

    def _load(self) -> bool:
        if self._i >= len(self.p.rows):
            return False
        r = self.p.rows[self._i]
        self._i += 1
        self.lines.datetime[0] = date2num(from_ms(r[0]))
        self.lines.open[0], self.lines.high[0], self.lines.low[0] = r[1], r[2], r[3]
        self.lines.close[0], self.lines.volume[0], self.lines.openinterest[0] = r[4], r[5], 0.0
        return True


class SmaLimits(bt.Strategy):
    """SMA crossover with fractional market entries, limit exits and a stop."""

    def __init__(self) -> None:
        self.cross = bt.ind.CrossOver(bt.ind.SMA(period=8), bt.ind.SMA(period=21))
        self.log: list[tuple] = []
        self.trades: list[tuple] = []
        self.values: list[tuple[float, float]] = []

    def notify_order(self, order) -> None:
        ex = order.executed
        self.log.append(
            (order.ref, order.getstatusname(), ex.size, ex.price, ex.value, ex.comm, order.size)
        )

    def notify_trade(self, trade) -> None:
        if trade.isclosed:
            self.trades.append((trade.ref, trade.pnl, trade.pnlcomm, trade.barlen))

    def next(self) -> None:
        self.values.append((self.broker.getcash(), self.broker.getvalue()))
        close = self.data.close[0]
        if self.cross > 0 and not self.position:
            self.buy()  # MarketSizer: 60 % of the cash, in steps of 0.00001
            self.sell(
                size=round_amount(SPEC, 0.00123),
                exectype=bt.Order.Stop,
                price=round(close - 40.0, 2),
                valid=bt.num2date(self.data.datetime[0]) + datetime.timedelta(minutes=5),
            )
        elif self.cross < 0 and self.position:
            self.sell(size=self.position.size, exectype=bt.Order.Limit, price=round(close + 1, 2))


def _result(strat, broker):
    # order refs count across runs in Backtrader: compare them from the run's first one
    first = strat.log[0][0] if strat.log else 0
    log = [(ref - first, *rest) for ref, *rest in strat.log]
    tfirst = strat.trades[0][0] if strat.trades else 0
    trades = [(ref - tfirst, *rest) for ref, *rest in strat.trades]
    return log, trades, strat.values, broker.getcash(), broker.getvalue()


def _plain(rows, broker):
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(RowsData(rows=rows))
    broker.addcommissioninfo(MarketCommInfo.from_market(SPEC))
    cerebro.setbroker(broker)
    cerebro.addsizer(MarketSizer, percents=60)
    cerebro.addstrategy(SmaLimits)
    return _result(cerebro.run()[0], broker)


def _paper(emu, backend, historical):
    store = CrackStore(client=emu.client())
    assert store.market(SYM) == SPEC
    kwargs = {} if historical else {"on_idle": lambda: emu.advance(MIN)}
    data = store.getdata(
        dataname=SYM,
        timeframe=bt.TimeFrame.Minutes,
        fromdate=from_ms(T0),
        todate=from_ms(T0 + (N - 1) * MIN),
        historical=historical,
        **kwargs,
    )
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(data)
    broker = store.getbroker(backend=backend, cash=100000.0)
    cerebro.setbroker(broker)
    cerebro.addsizer(MarketSizer, percents=60)
    cerebro.addstrategy(SmaLimits)
    return _result(cerebro.run()[0], broker)


@pytest.mark.parametrize("historical", [True, False], ids=["history", "live"])
def test_paper_equals_backtest_with_crackbroker_and_backbroker(
    emulator_factory, backend, historical
):
    rows = synthetic_candles(N + 1, T0)
    # history: all N closed at the clock; live: 300 in history, the rest close one by one
    start = N if historical else 300
    emu = emulator_factory(candles=rows, clock_ms=T0 + start * MIN + 1)
    paper = _paper(emu, backend, historical)
    crack = _plain(rows[:N], CrackBroker(backend=backend, cash=100000.0))
    back = _plain(rows[:N], bt.brokers.BackBroker(cash=100000.0))
    assert paper == crack
    assert paper == back
    log, trades = paper[0], paper[1]
    assert len(trades) >= 3
    sizes = [entry[2] for entry in log if entry[1] == "Completed"]
    assert any(s != int(s) for s in sizes)  # fractional amounts
    assert all(round_amount(SPEC, abs(s)) == abs(s) for s in sizes)  # in the market's step
    assert {"Completed", "Expired"} <= {entry[1] for entry in log}


def test_fractional_sizes_are_rounded_down_to_the_step():
    ci = MarketCommInfo.from_market(SPEC)
    assert ci.getsize(30000.0, 10000.0) == 0.33333
    assert bt.CommInfoBase(stocklike=True).getsize(30000.0, 10000.0) == 0  # Backtrader's int()
    assert round_amount(SPEC, 0.0123456) == 0.01234
    assert round_amount(SPEC, 0.1 + 0.2) == 0.3  # a float hair below a step is that step
    assert ci.p.commission == 0.001 and ci.stocklike


class TargetValue(bt.Strategy):
    def next(self) -> None:
        if len(self) == 1:
            self.order_target_value(target=10000.0)


def test_order_target_value_buys_a_fraction(emulator_factory, backend):
    emu = emulator_factory(candles=synthetic_candles(6, T0), clock_ms=T0 + 5 * MIN + 1)
    store = CrackStore(client=emu.client())
    cerebro = bt.Cerebro(stdstats=False)
    data = store.getdata(dataname=SYM, timeframe=bt.TimeFrame.Minutes, historical=True,
                         fromdate=from_ms(T0))  # fmt: skip
    cerebro.adddata(data)
    broker = store.getbroker(backend=backend, cash=100000.0)
    cerebro.setbroker(broker)
    cerebro.addstrategy(TargetValue)
    cerebro.run()
    size = broker.getposition(data).size
    # the target is valued at the last close (30002.5): 0.333305... rounded down
    assert size == round_amount(SPEC, 10000.0 / 30002.5) == 0.3333


class Refused(bt.Strategy):
    params = (("orders", ()),)

    def __init__(self) -> None:
        self.errors: list[MarketLimitError] = []
        self.notified = 0

    def notify_order(self, order) -> None:
        self.notified += 1

    def next(self) -> None:
        if len(self) != 1:
            return
        for kwargs in self.p.orders:
            try:
                self.buy(**kwargs)
            except MarketLimitError as exc:
                self.errors.append(exc)


def test_orders_outside_the_market_rules_are_refused_before_the_core(emulator_factory, backend):
    emu = emulator_factory(candles=synthetic_candles(3, T0), clock_ms=T0 + 2 * MIN + 1)
    store = CrackStore(client=emu.client())
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(store.getdata(dataname=SYM, timeframe=bt.TimeFrame.Minutes,
                                  historical=True, fromdate=from_ms(T0)))  # fmt: skip
    broker = store.getbroker(backend=backend, cash=100000.0)
    cerebro.setbroker(broker)
    orders = (
        {"size": 0.000001},
        {"size": 0.0123456},
        {"size": 0.01, "exectype": bt.Order.Limit, "price": 30000.001},
        {"size": 0.0001},  # 3 USDT at ~30000: below the 5 USDT minimum cost
        {"size": 10000.0},
    )
    cerebro.addstrategy(Refused, orders=orders)
    refused = cerebro.run()[0]
    fields = [(e.field, e.value) for e in refused.errors]
    assert fields == [
        ("amount", 1e-06),
        ("amount", 0.0123456),
        ("price", 30000.001),
        ("cost", 0.0001 * 30002.5),
        ("amount", 10000.0),
    ]
    messages = [str(e) for e in refused.errors]
    assert messages[0] == (
        "BTC/USDT: order amount 1e-06 is not a multiple of the market's amount step 1e-05"
    )
    assert messages[3].startswith("BTC/USDT: order cost 3.000")
    assert messages[3].endswith("(amount * price) is below the market's minimum cost 5.0")
    assert messages[4].endswith("is above the market's maximum amount 9000.0")
    assert refused.notified == 0 and broker.orders == []


@pytest.mark.parametrize(
    ("amount", "price", "field", "limit"),
    [
        (0.0, None, "amount", "must be a positive number"),
        (0.000005, None, "amount", "is not a multiple of the market's amount step 1e-05"),
        (0.00001, 0.001, "price", "is not a multiple of the market's price step 0.01"),
        (0.00001, 10_000_000.0, "price", "is above the market's maximum price 1000000.0"),
        (0.00001, 30000.0, "cost", "(amount * price) is below the market's minimum cost 5.0"),
    ],
)
def test_check_order_names_the_field_the_value_and_the_limit(amount, price, field, limit):
    with pytest.raises(MarketLimitError) as info:
        check_order(SPEC, amount, price)
    assert (info.value.field, info.value.limit) == (field, limit)
    assert isinstance(info.value, ValueError)
    check_order(SPEC, -0.001, 30000.0)  # sells are checked unsigned


def test_decimal_places_markets():
    market = {
        "symbol": "ETH/EUR",
        "precision": {"amount": 3, "price": 2},
        "limits": {"amount": {"min": 0.001}},
        "taker": 0.0026,
    }
    spec = MarketSpec.from_ccxt(market, precision_mode=2)
    assert (spec.amount_step, spec.price_step, spec.taker) == (0.001, 0.01, 0.0026)
    assert round_amount(spec, 1.23456) == 1.234


def test_paper_broker_uses_the_market_fee(emulator_factory, backend):
    emu = emulator_factory(candles=synthetic_candles(3, T0))
    store = CrackStore(client=emu.client())
    data = store.getdata(dataname=SYM, timeframe=bt.TimeFrame.Minutes)
    data.market = store.market(SYM)
    broker = store.getbroker(backend=backend)
    assert isinstance(broker, PaperBroker)
    assert broker.getcommissioninfo(data).p.commission == 0.001
    override = store.getbroker(backend=backend, commission=0.0)
    assert override.getcommissioninfo(data).p.commission == 0.0
