#!/usr/bin/env python
"""Record golden core fixtures (``fixtures/core/*.json``) from real Backtrader runs.

Each scenario runs an unchanged Backtrader strategy with ``CrackBroker(backend="python")``,
checks that its complete record equals BackBroker's, and saves every call the broker made to its
core, with the core's answers. The Python tests and the Rust core crate's tests replay them, so
both cores are held to the same bits that BackBroker produced.

    python scripts/make_core_fixtures.py            # (re)write fixtures/core/
    python scripts/make_core_fixtures.py --check    # fail if a fixture would change
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import Any, Callable

import backtrader as bt

from bt_cracktrader import CrackBroker
from bt_cracktrader.compare import run_recorded
from bt_cracktrader.core import PyCore
from bt_cracktrader.core.contract import CoreInputError, data_event, submit_event
from bt_cracktrader.core.replay import RecordingCore, save
from bt_cracktrader.record import first_difference

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "fixtures" / "data"
OUT = ROOT / "fixtures" / "core"


class Reversal(bt.Strategy):
    params = (("fast", 5), ("slow", 15), ("stake", 7))

    def __init__(self) -> None:
        fast, slow = bt.ind.SMA(period=self.p.fast), bt.ind.SMA(period=self.p.slow)
        self.cross = bt.ind.CrossOver(fast, slow)

    def next(self) -> None:
        if self.cross > 0:
            self.order_target_size(target=self.p.stake)
        elif self.cross < 0:
            self.order_target_size(target=-self.p.stake)


class PercentTarget(bt.Strategy):
    def __init__(self) -> None:
        self.sma = bt.ind.SMA(period=10)

    def next(self) -> None:
        if len(self) % 5 == 0:
            self.order_target_percent(target=0.9 if self.data.close[0] > self.sma[0] else -0.5)


class MixedOrders(bt.Strategy):
    """Every execution type, validity, OCO and brackets, deterministic by bar number."""

    def next(self) -> None:
        n, close = len(self), self.data.close[0]
        k = n % 12
        if k == 1:
            self.buy(
                size=5,
                exectype=bt.Order.Limit,
                price=round(close * 0.99, 2),
                valid=datetime.timedelta(days=3),
            )
        elif k == 2:
            o = self.sell(size=4, exectype=bt.Order.Stop, price=round(close * 0.98, 2))
            self.sell(size=4, exectype=bt.Order.Limit, price=round(close * 1.02, 2), oco=o)
        elif k == 3:
            self.buy_bracket(size=3, price=close, limitprice=close * 1.03, stopprice=close * 0.97)
        elif k == 5:
            self.sell(size=2.5, exectype=bt.Order.StopTrail, trailpercent=0.01)
        elif k == 6:
            self.buy(
                size=3,
                exectype=bt.Order.StopLimit,
                price=round(close * 1.01, 2),
                plimit=round(close * 1.015, 2),
            )
        elif k == 7:
            self.sell(
                size=2,
                exectype=bt.Order.StopTrailLimit,
                trailamount=0.3,
                plimit=round(close * 0.99, 2),
            )
        elif k == 8:
            self.buy(size=1, exectype=bt.Order.Close)
        elif k == 9:
            for order in self.broker.get_orders_open()[:2]:
                self.cancel(order)
        elif k == 10:
            self.order_target_size(target=0)
        elif k == 11:
            self.sell_bracket(
                size=2,
                exectype=bt.Order.Market,
                limitprice=close * 0.95,
                stopprice=close * 1.05,
                valid=bt.Order.DAY,
            )


SCENARIOS: dict[str, dict[str, Any]] = {
    "stock_perc_reversal": {
        "strategy": Reversal,
        "commission": {"commission": 0.001},
        "broker": {"cash": 10000.0},
    },
    "stock_percent_target_floats": {
        "strategy": PercentTarget,
        "commission": {"commission": 0.0025},
        "broker": {"cash": 25000.0},
    },
    "futures_fixed_reversal": {
        "strategy": Reversal,
        "commission": {"commission": 2.0, "margin": 1500.0, "mult": 10.0},
        "broker": {"cash": 50000.0},
    },
    "leverage_shortcash_off": {
        "strategy": PercentTarget,
        "commission": {"commission": 0.001, "leverage": 3.0},
        "broker": {"cash": 10000.0, "shortcash": False},
    },
    "automargin_nocheck": {
        "strategy": Reversal,
        "commission": {
            "commission": 1.5,
            "mult": 4.0,
            "automargin": -1,
            "commtype": bt.CommInfoBase.COMM_FIXED,
            "stocklike": False,
        },
        "broker": {"cash": 20000.0, "checksubmit": False},
    },
    "mixed_orders": {
        "strategy": MixedOrders,
        "commission": {"commission": 0.001},
        "broker": {"cash": 10000.0},
    },
    "mixed_orders_slippage_filler": {
        "strategy": MixedOrders,
        "commission": {
            "commission": 0.5,
            "commtype": bt.CommInfoBase.COMM_FIXED,
            "stocklike": True,
        },
        "broker": {
            "cash": 10000.0,
            "slip_perc": 0.005,
            "slip_open": True,
            "filler": bt.broker.fillers.FixedSize(size=2),
        },
    },
    "mixed_orders_coc_nocheck": {
        "strategy": MixedOrders,
        "commission": {"commission": 0.002},
        "broker": {"cash": 10000.0, "coc": True, "checksubmit": False, "shortcash": False},
    },
}


def _build(strategy: type) -> Callable[[], bt.Cerebro]:
    def build() -> bt.Cerebro:
        cerebro = bt.Cerebro()
        data = bt.feeds.YahooFinanceCSVData(dataname=str(DATA / "orcl-2003-2005.txt"))
        cerebro.adddata(data, name="orcl")
        cerebro.addstrategy(strategy)
        return cerebro

    return build


def record_scenario(spec: dict[str, Any]) -> dict[str, Any]:
    recorders: list[RecordingCore] = []

    class RecordingBroker(CrackBroker):
        def _make_core(self, *args: Any) -> Any:
            core = RecordingCore.factory(PyCore)(*args)
            recorders.append(core)
            return core

    def setup(brk: bt.BrokerBase) -> None:
        brk.setcommission(**spec["commission"])

    build = _build(spec["strategy"])
    expected = run_recorded(build, "backtrader", spec["broker"], setup=setup)

    cerebro = build()
    broker = RecordingBroker(backend="python", **spec["broker"])
    cerebro.setbroker(broker)
    setup(broker)
    # the same record as BackBroker's, or the fixture would pin a wrong answer
    from bt_cracktrader.record import RunRecorder

    cerebro.addanalyzer(RunRecorder, _name="record")
    from bt_cracktrader.compare import STANDARD_ANALYZERS

    for name, (cls, kwargs) in STANDARD_ANALYZERS.items():
        cerebro.addanalyzer(cls, _name=name, **kwargs)
    strat = cerebro.run()[0]
    from bt_cracktrader.record import normalize

    got = normalize(
        {
            "strategy0": {
                name: strat.analyzers.getbyname(name).get_analysis()
                for name in ["record", *STANDARD_ANALYZERS]
            },
            "final": {"cash": broker.getcash(), "value": broker.getvalue()},
        }
    )
    diff = first_difference(expected, got)
    if diff is not None:
        raise SystemExit(f"CrackBroker(python) differs from BackBroker: {diff}")

    recording = recorders[-1].recording
    _append_error_cases(recording)
    return recording


def _append_error_cases(recording: dict[str, Any]) -> None:
    """Refused inputs at the end: each must raise the same error and leave the state as is."""
    core = PyCore(**recording["init"])
    for call in recording["calls"]:
        if call["call"] == "step":
            core.step([tuple(e) for e in call["events"]], [tuple(b) for b in call["bars"]])
        elif call["call"] == "apply":
            core.apply([tuple(e) for e in call["events"]])
        else:
            core.value_of(call["datas"], call["closes"], call["lever"])
    last_bars = next(c["bars"] for c in reversed(recording["calls"]) if c["call"] == "step")
    ref = 10**9
    bad_steps = [
        [submit_event(ref, 0, float("inf"), 100.0, 1.0)],  # size not finite
        [submit_event(ref, 7, 1, 100.0, 1.0)],  # unknown data
        [submit_event(ref, 0, 1, 100.0, 1.0, exectype=11)],  # unknown exectype
        [submit_event(ref, 0, 1, 100.0, 1.0, parent=ref + 5)],  # unknown parent
        [(3, ref + 1, False)],  # cancel of an unknown ref
        [submit_event(ref, 0, 5, 100.0, 1.0), submit_event(ref, 0, 5, 100.0, 1.0)],
        [data_event(0, leverage=0.0)],  # leverage not positive
        [data_event(0, compensate=42)],  # compensating into an unknown data
        [(4, True, True, False, False, 0.0, 0.0, False, True, True, False, 9, 0, 0, 0, True)],
        [(9,)],  # unknown tag
    ]
    for events in bad_steps:
        entry: dict[str, Any] = {"call": "step", "events": events, "bars": last_bars}
        try:
            core.step([tuple(e) for e in events], [tuple(b) for b in last_bars])
        except CoreInputError as exc:
            entry["error"] = {"what": exc.what, "field": exc.field, "reason": exc.reason}
            entry["state"] = list(core.state())
        else:
            raise SystemExit(f"expected an error for {events!r}")
        if any(isinstance(v, float) and v != v or v in (float("inf"),) for e in events for v in e):
            # JSON has no inf/nan: such a case stays in the Python/Rust unit tests
            continue
        recording["calls"].append(entry)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a fixture would change")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, spec in SCENARIOS.items():
        recording = record_scenario(spec)
        path = OUT / f"{name}.json"
        if args.check:
            old = json.loads(path.read_text()) if path.exists() else None
            if old != json.loads(json.dumps(recording)):
                changed.append(name)
            continue
        save(recording, path)
        print(f"{path.relative_to(ROOT)}: {len(recording['calls'])} calls")
    if changed:
        print(f"fixtures out of date: {', '.join(changed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
