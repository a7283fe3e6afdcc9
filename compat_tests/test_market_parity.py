"""Differential suite, market orders: BackBroker vs CrackBroker on each core, compared with ``==``.

Each case runs an unchanged Backtrader strategy on real daily data under Backtrader's own
``BackBroker`` and under ``CrackBroker(backend=...)`` and compares the complete record: every
``notify_order`` (with execution bits), every ``notify_trade``, cash/value/fund value and
positions on every bar, and the TradeAnalyzer, Returns, DrawDown, SharpeRatio and TimeReturn
analyzers. Floats are compared with ``==``; sizes compare their type too.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

import backtrader as bt
import pytest

from bt_cracktrader.compare import run_recorded
from bt_cracktrader.record import first_difference

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"


class SmaCross(bt.Strategy):
    """Always in the market: long above the slow SMA, short below (reversals via close+order)."""

    params = (("fast", 10), ("slow", 30))

    def __init__(self) -> None:
        sma_fast = bt.ind.SMA(period=self.p.fast)
        sma_slow = bt.ind.SMA(period=self.p.slow)
        self.cross = bt.ind.CrossOver(sma_fast, sma_slow)

    def next(self) -> None:
        if self.cross > 0:
            if self.position:
                self.close()
            self.buy()
        elif self.cross < 0:
            if self.position:
                self.close()
            self.sell()


class LongOnly(bt.Strategy):
    """Long-only crossover with a single order per signal (``close`` to exit)."""

    params = (("fast", 5), ("slow", 20))

    def __init__(self) -> None:
        self.cross = bt.ind.CrossOver(
            bt.ind.SMA(period=self.p.fast), bt.ind.SMA(period=self.p.slow)
        )

    def next(self) -> None:
        if not self.position and self.cross > 0:
            self.buy()
        elif self.position and self.cross < 0:
            self.close()


class TargetPercent(bt.Strategy):
    """``order_target_percent``/``order_target_size``: exercises ``getvalue(datas=[data])``."""

    def __init__(self) -> None:
        self.sma = bt.ind.SMA(period=15)

    def next(self) -> None:
        if len(self) % 7 == 0:
            target = 0.6 if self.data.close[0] > self.sma[0] else -0.3
            self.order_target_percent(target=target)
        elif len(self) % 11 == 0:
            self.order_target_size(target=0)


STRATEGIES: dict[str, type[bt.Strategy]] = {
    "smacross": SmaCross,
    "longonly": LongOnly,
    "target": TargetPercent,
}

COMMISSIONS: dict[str, dict[str, Any]] = {
    "zero": {},
    "stock_perc": {"commission": 0.001},
    "stock_fixed": {"commission": 1.0, "commtype": bt.CommInfoBase.COMM_FIXED, "stocklike": True},
    "futures_fixed": {"commission": 2.0, "margin": 1000.0, "mult": 10.0},
    "futures_perc": {
        "commission": 0.0005,
        "margin": 50.0,
        "mult": 5.0,
        "commtype": bt.CommInfoBase.COMM_PERC,
        "stocklike": False,
    },
    "futures_automargin": {
        "commission": 1.0,
        "mult": 2.0,
        "automargin": -1,
        "commtype": bt.CommInfoBase.COMM_FIXED,
        "stocklike": False,
    },
    "stock_leverage": {"commission": 0.001, "leverage": 2.0},
}

SIZERS: dict[str, tuple[Any, dict[str, Any]]] = {
    "fixed10": (bt.sizers.FixedSize, {"stake": 10}),
    "percent20": (bt.sizers.PercentSizer, {"percents": 20}),
    "allin_int": (bt.sizers.AllInSizerInt, {"percents": 90}),
}

RUNMODES: dict[str, dict[str, bool]] = {
    "preload_runonce": {"preload": True, "runonce": True},
    "preload_next": {"preload": True, "runonce": False},
    "nopreload": {"preload": False, "runonce": False},
    "exactbars": {"exactbars": 1},
}


def _builder(strategy: str, sizer: str, datafile: str) -> Callable[[], bt.Cerebro]:
    def build() -> bt.Cerebro:
        cerebro = bt.Cerebro()
        data = bt.feeds.YahooFinanceCSVData(dataname=str(DATA / datafile))
        cerebro.adddata(data, name=datafile.split("-")[0])
        cerebro.addstrategy(STRATEGIES[strategy])
        cls, kwargs = SIZERS[sizer]
        cerebro.addsizer(cls, **kwargs)
        return cerebro

    return build


@functools.cache
def _record(
    broker: str,
    strategy: str,
    commission: str,
    sizer: str,
    runmode: str,
    datafile: str,
    shortcash: bool = True,
    checksubmit: bool = True,
) -> Any:
    def setup(brk: bt.BrokerBase) -> None:
        if COMMISSIONS[commission]:
            brk.setcommission(**COMMISSIONS[commission])

    return run_recorded(
        _builder(strategy, sizer, datafile),
        broker,
        broker_params={"cash": 100000.0, "shortcash": shortcash, "checksubmit": checksubmit},
        setup=setup,
        **RUNMODES[runmode],
    )


def _assert_same(backend: str, *key: Any, **kw: Any) -> Any:
    expected = _record("backtrader", *key, **kw)
    got = _record(backend, *key, **kw)
    diff = first_difference(expected, got)
    assert diff is None, f"{backend} differs from BackBroker at {diff}"
    assert got == expected
    return got


@pytest.mark.parametrize("runmode", list(RUNMODES))
@pytest.mark.parametrize(
    ("commission", "sizer"),
    [("zero", "percent20"), ("stock_perc", "percent20"), ("futures_fixed", "fixed10")],
)
def test_sma_crossover_20_years(backend: str, runmode: str, commission: str, sizer: str) -> None:
    """The foundation's main proof: 5,000 daily bars of ORCL, every runmode."""
    rec = _assert_same(backend, "smacross", commission, sizer, runmode, "orcl-1995-2014.txt")
    orders = rec["strategy0"]["record"]["orders"]
    assert len(orders) > 300  # the strategy really trades
    assert {o[3] for o in orders} >= {"Submitted", "Accepted", "Completed"}


@pytest.mark.parametrize("sizer", list(SIZERS))
@pytest.mark.parametrize("commission", list(COMMISSIONS))
@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_commission_and_sizer_matrix(
    backend: str, strategy: str, commission: str, sizer: str
) -> None:
    _assert_same(backend, strategy, commission, sizer, "preload_runonce", "yhoo-2003-2005.txt")


@pytest.mark.parametrize("commission", ["stock_perc", "stock_leverage", "futures_perc"])
def test_shortcash_off(backend: str, commission: str) -> None:
    _assert_same(
        backend,
        "smacross",
        commission,
        "fixed10",
        "preload_runonce",
        "orcl-2003-2005.txt",
        shortcash=False,
    )


@pytest.mark.parametrize("strategy", ["smacross", "longonly"])
def test_checksubmit_off(backend: str, strategy: str) -> None:
    rec = _assert_same(
        backend,
        strategy,
        "stock_perc",
        "allin_int",
        "preload_runonce",
        "orcl-2003-2005.txt",
        checksubmit=False,
    )
    statuses = {o[3] for o in rec["strategy0"]["record"]["orders"]}
    assert "Submitted" not in statuses


def test_margin_rejections_are_reproduced(backend: str) -> None:
    """All-in sizing on gapping bars: some orders go Margin at the submit check or at the fill."""
    rec = _assert_same(
        backend, "smacross", "stock_perc", "allin_int", "preload_runonce", "yhoo-2003-2005.txt"
    )
    statuses = [o[3] for o in rec["strategy0"]["record"]["orders"]]
    assert "Margin" in statuses


class BigReversal(bt.Strategy):
    """A reversal whose opening leg cannot be paid: Partial (closing leg) then Margin."""

    def next(self) -> None:
        if len(self) == 2:
            self.buy(size=50)
        elif len(self) == 10:
            self.sell(size=2000)
        elif len(self) == 20:
            self.buy(size=7.5)  # float sizes from here on
        elif len(self) == 30:
            self.close()


@pytest.mark.parametrize("checksubmit", [True, False])
@pytest.mark.parametrize("shortcash", [True, False])
def test_reversal_beyond_cash(backend: str, checksubmit: bool, shortcash: bool) -> None:
    def build() -> bt.Cerebro:
        cerebro = bt.Cerebro()
        data = bt.feeds.YahooFinanceCSVData(dataname=str(DATA / "orcl-2003-2005.txt"))
        cerebro.adddata(data, name="orcl")
        cerebro.addstrategy(BigReversal)
        return cerebro

    params = {"cash": 10000.0, "checksubmit": checksubmit, "shortcash": shortcash}
    expected = run_recorded(build, "backtrader", params)
    got = run_recorded(build, backend, params)
    assert first_difference(expected, got) is None
    statuses = [o[3] for o in got["strategy0"]["record"]["orders"]]
    if not shortcash:
        assert "Margin" in statuses
        if not checksubmit:
            assert "Partial" in statuses


class TwoDatas(bt.Strategy):
    """Two datas sharing one cash pool; position entries created in an unusual order."""

    def __init__(self) -> None:
        self.smas = [bt.ind.SMA(d, period=12) for d in self.datas]

    def next(self) -> None:
        if len(self) == 5:
            self.getposition(self.datas[1])  # creates data1's entry first, as BackBroker does
        for data, sma in zip(self.datas, self.smas):
            pos = self.getposition(data).size
            if data.close[0] > sma[0] and pos <= 0:
                self.order_target_percent(data=data, target=0.45)
            elif data.close[0] < sma[0] and pos >= 0:
                self.order_target_percent(data=data, target=-0.2)


@pytest.mark.parametrize("commission", ["stock_perc", "futures_perc"])
def test_two_datas(backend: str, commission: str) -> None:
    def build() -> bt.Cerebro:
        cerebro = bt.Cerebro()
        for name in ("orcl-2003-2005.txt", "yhoo-2003-2005.txt"):
            data = bt.feeds.YahooFinanceCSVData(dataname=str(DATA / name))
            cerebro.adddata(data, name=name.split("-")[0])
        cerebro.addstrategy(TwoDatas)
        return cerebro

    def setup(brk: bt.BrokerBase) -> None:
        brk.setcommission(**COMMISSIONS[commission])
        brk.setcommission(commission=0.002, name="yhoo")

    expected = run_recorded(build, "backtrader", {"cash": 50000.0}, setup=setup)
    got = run_recorded(build, backend, {"cash": 50000.0}, setup=setup)
    assert first_difference(expected, got) is None
    assert len(got["strategy0"]["record"]["orders"]) > 50
