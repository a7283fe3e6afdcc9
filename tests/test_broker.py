"""CrackBroker as Backtrader sees it: registration, backend choice, refusals, crossings."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import backtrader as bt
import pytest

import bt_cracktrader
from bt_cracktrader import CrackBroker
from bt_cracktrader.compare import run_recorded
from bt_cracktrader.record import first_difference

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "fixtures" / "data"


def _cerebro(strategy: type, datafile: str = "orcl-2003-2005.txt", **kwargs: Any) -> bt.Cerebro:
    cerebro = bt.Cerebro()
    cerebro.adddata(bt.feeds.YahooFinanceCSVData(dataname=str(DATA / datafile)), name="orcl")
    cerebro.addstrategy(strategy, **kwargs)
    return cerebro


def test_import_registers_the_broker() -> None:
    assert bt.brokers.CrackBroker is CrackBroker
    assert issubclass(CrackBroker, bt.BrokerBase)


def test_package_and_extension_load_from_the_installed_location() -> None:
    """The tests must exercise the built wheel, never the source tree."""
    import bt_cracktrader._rust as ext

    pkg = Path(bt_cracktrader.__file__).resolve()
    assert pkg.parent != ROOT / "bt_cracktrader", f"imported from the source tree: {pkg}"
    assert pkg.parent.parent.name in ("site-packages", "dist-packages"), pkg
    assert Path(ext.__file__).resolve().parent == pkg.parent
    assert "site-packages" in ext.__file__ or "dist-packages" in ext.__file__


def test_backend_param_selects_the_core(backend: str) -> None:
    broker = CrackBroker(backend=backend)
    assert broker.backend == backend
    assert broker._core.backend == backend


def test_backend_default_comes_from_the_environment(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BT_CRACKTRADER_BACKEND", backend)
    assert CrackBroker().backend == backend


def test_unknown_backend_names_the_accepted_values() -> None:
    with pytest.raises(ValueError, match="'python', 'rust', 'auto'") as info:
        CrackBroker(backend="cuda")
    assert "'cuda'" in str(info.value)


def test_auto_prefers_rust_when_it_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BT_CRACKTRADER_BACKEND", raising=False)
    assert CrackBroker().backend == "rust"
    assert CrackBroker(backend="auto").backend == "rust"


def test_auto_falls_back_with_one_warning_and_rust_explains_the_build(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "bt_cracktrader._rust", None)  # import fails
    monkeypatch.delattr(bt_cracktrader, "_rust", raising=False)
    with caplog.at_level(logging.WARNING, logger="bt_cracktrader"):
        broker = CrackBroker(backend="auto")
    assert broker.backend == "python"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "falls back to the Python core" in warnings[0].getMessage()
    with pytest.raises(bt_cracktrader.RustBackendUnavailable) as info:
        CrackBroker(backend="rust")
    assert "python scripts/install_rust_backend.py" in str(info.value)


class _CancelAndQuery(bt.Strategy):
    """checksubmit=False: orders are Accepted at once and can be cancelled in the same bar."""

    def next(self) -> None:
        if len(self) % 10 == 1:
            order = self.buy(size=5)
            if len(self) % 20 == 1:
                assert self.broker.cancel(order) is True
                assert self.broker.cancel(order) is False
        if len(self) % 10 == 5 and self.position:
            self.close()
        self.open_orders = len(self.broker.get_orders_open())
        self.pos = (self.getposition().size, self.getposition().price)


def test_cancel_and_open_orders_match_backbroker(backend: str) -> None:
    def build() -> bt.Cerebro:
        return _cerebro(_CancelAndQuery)

    params = {"checksubmit": False}
    expected = run_recorded(build, "backtrader", params)
    got = run_recorded(build, backend, params)
    assert first_difference(expected, got) is None
    statuses = [o[3] for o in got["strategy0"]["record"]["orders"]]
    assert "Canceled" in statuses


def test_cancel_of_an_order_awaiting_its_submit_check_is_refused(backend: str) -> None:
    results = {}
    for name in ("backtrader", backend):

        class Strat(bt.Strategy):
            params = (("key", name),)

            def next(self) -> None:
                if len(self) == 2:
                    order = self.buy(size=1)
                    results[self.p.key] = self.broker.cancel(order)

        cerebro = _cerebro(Strat)
        cerebro.setbroker(
            bt.brokers.BackBroker() if name == "backtrader" else CrackBroker(backend=backend)
        )
        cerebro.run()
    assert results == {"backtrader": False, backend: False}


class _Sparse(bt.Strategy):
    """Trades for a few bars, then stays flat: the core must not be called while idle."""

    def next(self) -> None:
        if len(self) == 100:
            self.buy(size=3)
        elif len(self) == 110:
            self.close()


def test_one_crossing_per_bar_and_none_while_idle(backend: str) -> None:
    calls: list[str] = []

    class Counting(CrackBroker):
        def _make_core(self, *args: Any) -> Any:
            inner = super()._make_core(*args)

            class Proxy:
                backend = inner.backend

                def step(self, *args: Any) -> Any:
                    calls.append("step")
                    return inner.step(*args)

                def __getattr__(self, name: str) -> Any:
                    calls.append(name)
                    return getattr(inner, name)

            return Proxy()

    cerebro = _cerebro(_Sparse)
    cerebro.setbroker(Counting(backend=backend))
    strat = cerebro.run()[0]
    bars = len(strat)
    # the first bar (value/fund value), bars 101..111 while the order and position live
    assert calls.count("step") == 1 + 11
    assert calls.count("step") < bars
    assert set(calls) == {"step"}


class _OwnP:
    """A callable volume filler that happens to have a ``p`` that is not a params object."""

    p = 3

    def __call__(self, order: Any, price: float, ago: int) -> Any:
        return min(self.p, abs(order.executed.remsize))


class _ChangesParams(bt.Strategy):
    """Changes broker and filler params in the middle of the run, directly on ``p``: the
    adapter rebuilds its config event only when a param changed, and must notice each."""

    def next(self) -> None:
        n = len(self)
        if n % 7 == 1:
            self.buy(size=10)
        if n % 7 == 4 and self.position:
            self.close()
        filler = self.broker.p.filler
        if n == 40 and isinstance(filler, bt.fillers.FixedSize):
            filler.p.size = 2
        if n == 80:
            self.broker.p.slip_perc = 0.01
        if n == 120:
            self.broker.set_slippage_fixed(0.5)


def test_param_changes_mid_run_match_backbroker(backend: str) -> None:
    for make_filler in (lambda: bt.fillers.FixedSize(size=5), _OwnP):

        def build() -> bt.Cerebro:
            return _cerebro(_ChangesParams)

        def setup(broker: Any, make_filler: Any = make_filler) -> None:
            broker.set_filler(make_filler())  # a fresh one per run: the strategy changes it

        expected = run_recorded(build, "backtrader", {}, setup=setup)
        got = run_recorded(build, backend, {}, setup=setup)
        assert first_difference(expected, got) is None
