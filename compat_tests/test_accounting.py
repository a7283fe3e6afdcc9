"""Differential suite, accounting: commission schemes, interest, fund mode, histories.

Each case runs an unchanged strategy under BackBroker and CrackBroker on each core, over the run
modes, and compares the complete record with ``==``.
"""

from __future__ import annotations

import datetime
import pickle
from pathlib import Path
from typing import Any, Callable

import backtrader as bt
import pytest

from bt_cracktrader import CrackBroker
from bt_cracktrader.compare import run_recorded
from bt_cracktrader.record import first_difference

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"

RUNMODES: dict[str, dict[str, Any]] = {
    "preload_runonce": {"preload": True, "runonce": True},
    "preload_next": {"preload": True, "runonce": False},
    "nopreload": {"preload": False, "runonce": False},
    "exactbars": {"exactbars": 1},
}


class LongShort(bt.Strategy):
    """Alternates long and short positions of mixed sizes, closing in parts."""

    params = (("stake", 10),)

    def next(self) -> None:
        k = len(self) % 20
        if k == 1:
            self.buy(size=self.p.stake)
        elif k == 5:
            self.sell(size=self.p.stake // 2)
        elif k == 8:
            self.close()
        elif k == 10:
            self.sell(size=self.p.stake)
        elif k == 14:
            self.buy(size=self.p.stake // 3)
        elif k == 17:
            self.close()


def _build(
    strategy: type = LongShort,
    datas: tuple[str, ...] = ("orcl-2014.txt",),
    cerebro_kwargs: dict[str, Any] | None = None,
    prepare: Callable[[bt.Cerebro], None] | None = None,
    **strategy_kwargs: Any,
) -> Callable[[], bt.Cerebro]:
    def build() -> bt.Cerebro:
        cerebro = bt.Cerebro(**(cerebro_kwargs or {}))
        for name in datas:
            data = bt.feeds.YahooFinanceCSVData(dataname=str(DATA / name))
            cerebro.adddata(data, name=name.split("-")[0])
        cerebro.addstrategy(strategy, **strategy_kwargs)
        if prepare is not None:
            prepare(cerebro)
        return cerebro

    return build


def _check(
    backend: str,
    build: Callable[[], bt.Cerebro],
    params: dict[str, Any] | None = None,
    setup: Callable[[bt.BrokerBase], None] | None = None,
    runmode: str = "preload_runonce",
) -> Any:
    expected = run_recorded(build, "backtrader", params, setup=setup, **RUNMODES[runmode])
    got = run_recorded(build, backend, params, setup=setup, **RUNMODES[runmode])
    diff = first_difference(expected, got)
    assert diff is None, f"{backend} differs from BackBroker at {diff}"
    return got


# -- commission schemes -----------------------------------------------------------------------
SCHEMES: dict[str, Callable[[], Any]] = {
    "commissioninfo": lambda: bt.CommissionInfo(commission=0.002),
    "stocks_perc": lambda: bt.commissions.CommInfo_Stocks_Perc(commission=0.1),
    "stocks_fixed": lambda: bt.commissions.CommInfo_Stocks_Fixed(commission=1.5),
    "futures_perc": lambda: bt.commissions.CommInfo_Futures_Perc(commission=0.05, margin=80.0),
    "futures_fixed": lambda: bt.commissions.CommInfo_Futures_Fixed(
        commission=2.0, margin=150.0, mult=3.0
    ),
    "futures_bare_no_margin": lambda: bt.commissions.CommInfo_Futures(commission=0.01),
    "automargin_pos": lambda: bt.CommInfoBase(
        commission=1.0,
        automargin=0.5,
        mult=2.0,
        stocklike=False,
        commtype=bt.CommInfoBase.COMM_FIXED,
    ),
    "leverage": lambda: bt.CommInfoBase(commission=0.001, percabs=True, leverage=4.0),
}


@pytest.mark.parametrize("runmode", list(RUNMODES))
@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_commission_schemes(backend: str, scheme: str, runmode: str) -> None:
    def setup(broker: bt.BrokerBase) -> None:
        broker.addcommissioninfo(SCHEMES[scheme]())

    _check(backend, _build(), {"cash": 50000.0}, setup, runmode)


@pytest.mark.parametrize("runmode", list(RUNMODES))
def test_commission_by_data_name(backend: str, runmode: str) -> None:
    def setup(broker: bt.BrokerBase) -> None:
        broker.setcommission(commission=0.001)
        broker.addcommissioninfo(
            bt.CommissionInfo(commission=2.0, margin=100.0, mult=2.0), name="yhoo"
        )

    class Both(LongShort):
        def next(self) -> None:
            super().next()
            if len(self) % 7 == 3:
                self.buy(data=self.datas[1], size=3)
            elif len(self) % 7 == 6:
                self.close(data=self.datas[1])

    _check(
        backend, _build(Both, ("orcl-2014.txt", "yhoo-2014.txt")), {"cash": 20000.0}, setup, runmode
    )


# -- a user's own CommInfo: only the overridden methods are called back ------------------------
class FlatFee(bt.CommInfoBase):
    params = (("stocklike", True), ("commtype", bt.CommInfoBase.COMM_FIXED))

    def _getcommission(self, size: Any, price: Any, pseudoexec: Any) -> float:
        return 1.0 + abs(size) * price * 0.0005


class DoubleMargin(bt.CommInfoBase):
    params = (("stocklike", False), ("margin", 100.0), ("mult", 2.0),
              ("commtype", bt.CommInfoBase.COMM_FIXED))  # fmt: skip

    def get_margin(self, price: Any) -> float:
        return price * 0.25

    def profitandloss(self, size: Any, price: Any, newprice: Any) -> float:
        return size * (newprice - price) * self.p.mult * 0.99

    def cashadjust(self, size: Any, price: Any, newprice: Any) -> float:
        return size * (newprice - price) * self.p.mult * 0.99


class WeekdayInterest(bt.CommInfoBase):
    params = (("interest", 0.1), ("interest_long", True))

    def get_credit_interest(self, data: Any, pos: Any, dt: Any) -> float:
        days = (dt.date() - pos.datetime.date()).days
        return days * 0.01 * abs(pos.size) if dt.weekday() < 5 else 0.0


class CountingConfirm(bt.CommInfoBase):
    params = (("commission", 0.001), ("percabs", True))
    confirmed = 0

    def confirmexec(self, size: Any, price: Any) -> float:
        CountingConfirm.confirmed += 1
        return super().confirmexec(size, price)


CUSTOM = {
    "flat_fee": FlatFee,
    "double_margin": DoubleMargin,
    "weekday_interest": WeekdayInterest,
    "confirmexec": CountingConfirm,
}


@pytest.mark.parametrize("runmode", list(RUNMODES))
@pytest.mark.parametrize("custom", list(CUSTOM))
def test_user_comminfo_subclass(backend: str, custom: str, runmode: str) -> None:
    def setup(broker: bt.BrokerBase) -> None:
        broker.addcommissioninfo(CUSTOM[custom]())

    _check(backend, _build(), {"cash": 50000.0}, setup, runmode)


def test_only_overridden_methods_are_called_back(backend: str) -> None:
    calls: list[str] = []

    class Spy(bt.CommInfoBase):
        params = (("commission", 0.001), ("percabs", True))

        def _getcommission(self, size: Any, price: Any, pseudoexec: Any) -> float:
            calls.append("_getcommission")
            return super()._getcommission(size, price, pseudoexec)

    cerebro = _build()()
    broker = CrackBroker(backend=backend)
    broker.addcommissioninfo(Spy())
    cerebro.setbroker(broker)
    cerebro.run()
    assert calls and set(calls) == {"_getcommission"}

    calls.clear()
    cerebro = _build()()
    cerebro.setbroker(CrackBroker(backend=backend))
    cerebro.broker.setcommission(commission=0.001)
    cerebro.run()
    assert calls == []


# -- credit interest ----------------------------------------------------------------------------
@pytest.mark.parametrize("runmode", list(RUNMODES))
@pytest.mark.parametrize("int2pnl", [True, False])
@pytest.mark.parametrize("interest_long", [True, False])
def test_credit_interest(backend: str, interest_long: bool, int2pnl: bool, runmode: str) -> None:
    def setup(broker: bt.BrokerBase) -> None:
        broker.setcommission(commission=0.001, interest=0.365, interest_long=interest_long)
        broker.set_int2pnl(int2pnl)

    _check(backend, _build(), {"cash": 50000.0}, setup, runmode)


# -- cash, value and fund mode --------------------------------------------------------------------
class CashFlows(LongShort):
    def start(self) -> None:
        if self.p.stake == 11:
            self.broker.set_cash(30000.0)  # Q28: fund shares not updated

    def next(self) -> None:
        super().next()
        if len(self) % 25 == 3:
            self.broker.add_cash(1000.0)
        elif len(self) % 25 == 13:
            self.broker.add_cash(-500.0)
        if len(self) % 9 == 0:
            self.broker.getvalue(datas=[self.data])  # applies pending add_cash now (Q27)
        if len(self) % 31 == 0:
            self.broker.get_value_lever()
            self.broker.getvalue(lever=True)


@pytest.mark.parametrize("runmode", list(RUNMODES))
@pytest.mark.parametrize("fundmode", [False, True])
@pytest.mark.parametrize("stake", [10, 11])
def test_add_cash_and_fund_mode(backend: str, fundmode: bool, stake: int, runmode: str) -> None:
    def setup(broker: bt.BrokerBase) -> None:
        broker.set_fundmode(fundmode, fundstartval=50.0)
        broker.setcommission(commission=0.001, leverage=2.0)

    _check(backend, _build(CashFlows, stake=stake), {"cash": 20000.0}, setup, runmode)


class PartialValue(bt.Strategy):
    def next(self) -> None:
        if len(self) == 2:
            self.buy(data=self.datas[0], size=10)
            self.sell(data=self.datas[1], size=5)
        if len(self) % 5 == 0:
            self.broker.getvalue(datas=[self.datas[0], self.datas[1]])  # Q26: overwrites value
        if len(self) % 7 == 0:
            self.broker.getvalue(datas=[self.datas[0], self.datas[0]])


@pytest.mark.parametrize("shortcash", [True, False])
def test_getvalue_of_several_datas(backend: str, shortcash: bool) -> None:
    _check(
        backend, _build(PartialValue, ("orcl-2014.txt", "yhoo-2014.txt")), {"shortcash": shortcash}
    )


# -- order history and fund history --------------------------------------------------------------
ORDER_HISTORY = [
    ("2014-01-06", 10, 35.5),
    ("2014-01-13", -4, 36.0),
    (datetime.date(2014, 1, 21), 3, 37.25),
    (datetime.datetime(2014, 2, 3), -9, 36.1),
    ("2014-02-10", 0, 36.0),
    ("2014-02-20T00:00:00", 5, 37.0),
]


class Idle(bt.Strategy):
    pass


@pytest.mark.parametrize("notify", [True, False])
@pytest.mark.parametrize("runmode", list(RUNMODES))
def test_order_history(backend: str, notify: bool, runmode: str) -> None:
    build = _build(LongShort, prepare=lambda c: c.add_order_history(ORDER_HISTORY, notify=notify))
    _check(backend, build, {"cash": 20000.0}, runmode=runmode)


FUND_HISTORY = [
    ("2014-01-02", 100.0, 10000.0),
    ("2014-01-10", 101.5, 10150.0),
    ("2014-02-03", 99.0, 9900.0),
    ("2014-03-03", 103.0, 10300.0),
]


class TargetsInFundMode(bt.Strategy):
    def next(self) -> None:
        if len(self) % 6 == 0:
            self.order_target_percent(target=0.5 if len(self) % 12 else -0.25)


@pytest.mark.parametrize("strategy", [LongShort, TargetsInFundMode])
@pytest.mark.parametrize("runmode", ["preload_next", "nopreload", "exactbars"])
def test_fund_history(backend: str, runmode: str, strategy: type) -> None:
    build = _build(strategy, prepare=lambda c: c.set_fund_history(FUND_HISTORY))
    _check(backend, build, {"cash": 20000.0}, runmode=runmode)


def test_fund_history_in_runonce_mode_raises_like_backbroker(backend: str) -> None:
    """Q29: BackBroker reads Cerebro._dtmaster, which runonce mode never sets."""
    errors = []
    for broker in (bt.brokers.BackBroker(), CrackBroker(backend=backend)):
        cerebro = _build(LongShort, prepare=lambda c: c.set_fund_history(FUND_HISTORY))()
        cerebro.setbroker(broker)
        with pytest.raises(AttributeError) as info:
            cerebro.run()
        errors.append(str(info.value))
    assert errors[0] == errors[1]


# -- positions, trades, compensation -----------------------------------------------------------
@pytest.mark.parametrize("runmode", list(RUNMODES))
def test_trade_history(backend: str, runmode: str) -> None:
    class Trades(LongShort):
        def notify_trade(self, trade: Any) -> None:
            self.hist = [(h.status.status, h.status.size, h.status.price, h.status.value,
                          h.status.pnl, h.status.pnlcomm, h.event.size, h.event.price,
                          h.event.commission) for h in trade.history]  # fmt: skip

    _check(
        backend,
        _build(Trades, cerebro_kwargs={"tradehistory": True}),
        setup=lambda b: b.setcommission(commission=0.002),
    )


@pytest.mark.parametrize("runmode", list(RUNMODES))
def test_compensate(backend: str, runmode: str) -> None:
    """data.compensate(other): the orders on data update other's position (Q38)."""

    def prepare(cerebro: bt.Cerebro) -> None:
        cerebro.datas[1].compensate(cerebro.datas[0])

    class Spot(bt.Strategy):
        def next(self) -> None:
            if len(self) % 10 == 2:
                self.buy(data=self.datas[0], size=4)
            elif len(self) % 10 == 6:
                self.sell(data=self.datas[1], size=4)

    def setup(broker: bt.BrokerBase) -> None:
        broker.setcommission(commission=0.001)
        broker.setcommission(commission=1.0, margin=20.0, mult=1.0, name="yhoo")

    _check(backend, _build(Spot, ("orcl-2014.txt", "yhoo-2014.txt"), prepare=prepare), setup=setup)


# -- optimisation and plotting --------------------------------------------------------------------
class OptSma(bt.Strategy):
    params = (("fast", 5), ("slow", 20))

    def __init__(self) -> None:
        self.cross = bt.ind.CrossOver(
            bt.ind.SMA(period=self.p.fast), bt.ind.SMA(period=self.p.slow)
        )

    def next(self) -> None:
        if self.cross > 0:
            self.order_target_size(target=10)
        elif self.cross < 0:
            self.order_target_size(target=-10)

    def stop(self) -> None:
        self.final = (self.broker.getcash(), self.broker.getvalue())


def _optimize(broker: bt.BrokerBase, maxcpus: int) -> list[Any]:
    cerebro = bt.Cerebro(maxcpus=maxcpus, optreturn=False)
    cerebro.adddata(bt.feeds.YahooFinanceCSVData(dataname=str(DATA / "orcl-2014.txt")))
    cerebro.optstrategy(OptSma, fast=[3, 5, 8], slow=[15, 25])
    cerebro.setbroker(broker)
    cerebro.broker.setcommission(commission=0.001)
    results = cerebro.run()
    return sorted((r[0].p.fast, r[0].p.slow, r[0].final) for r in results)


def test_optstrategy_in_two_processes(backend: str) -> None:
    expected = _optimize(bt.brokers.BackBroker(), 1)
    assert _optimize(CrackBroker(backend=backend), 2) == expected
    assert _optimize(CrackBroker(backend=backend), 1) == expected


def test_broker_pickles_before_and_after_a_run(backend: str) -> None:
    broker = CrackBroker(backend=backend, cash=12345.0)
    clone = pickle.loads(pickle.dumps(broker))
    assert clone.backend == backend and clone.getcash() == 12345.0
    cerebro = _build()()
    cerebro.setbroker(broker)
    cerebro.run()
    after = pickle.loads(pickle.dumps(broker))
    assert after.getvalue() == broker.getvalue()
    assert after.getcash() == broker.getcash()


def test_plot_writes_a_png(backend: str, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    # with pyplot loaded, backtrader's own matplotlib.use("TkAgg") fails at once (no display)
    # and is ignored, as on any headless machine
    import matplotlib.pyplot  # noqa: F401

    cerebro = _build()()
    cerebro.setbroker(CrackBroker(backend=backend))
    cerebro.run()
    figures = cerebro.plot(iplot=False)
    path = tmp_path / "plot.png"
    figures[0][0].savefig(path)
    assert path.stat().st_size > 10_000
