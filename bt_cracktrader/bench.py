"""Benchmark profiles: the strategies, the seeded synthetic data and the run helpers.

Shared by ``scripts/benchmark_engine_backends.py`` (timed runs in fresh subprocesses, parity,
baselines) and the pytest-benchmark suite in ``benchmarks/``. Every profile runs the same
strategy over the same bytes of data on every backend:

* ``classic``: SMA crossover on one data.
* ``order-heavy``: about a dozen orders of mixed types (Limit, Stop, StopLimit, Market, Close;
  buys and sells, half of them with ``valid``) per bar, and every other order of the previous
  bar that is still open is cancelled.
* ``bracket``: a ``buy_bracket``/``sell_bracket`` every bar and an OCO pair of limits, with
  regular cancellations (which cascade through the group).
* ``multi-asset``: 50 datas, ``order_target_percent`` rebalancing every 5 bars.
* ``minute``: the SMA crossover on the real 1-minute file ``fixtures/data/
  2006-01-02-volume-min-001.txt`` (about 31k bars), optionally truncated.
* ``core-only``: event and bar streams in the contract's tuples, fed straight to each core (no
  Backtrader): the Rust core gets the whole stream as one packed batch (``step_packed``, one
  crossing of the boundary; packing is not timed), the Python core its ``step`` loop, its
  fastest input (``CORE_INPUTS``). The other two pairings are timed too, for information.

Backends are ``"backtrader"`` (Backtrader's ``BackBroker``), ``"python"`` and ``"rust"``
(``CrackBroker`` on that core); ``core-only`` has only ``"python"`` and ``"rust"``.
"""

from __future__ import annotations

import datetime
import importlib
import importlib.metadata
import logging
import math
import os
import platform
import random
import shutil
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import backtrader as bt

from .compare import make_broker, run_recorded
from .core import CONTRACT_VERSION, RustBackendUnavailable, load_core, rust_core
from .core.contract import (
    EV_CANCEL,
    EV_SUBMIT,
    EXEC_CLOSE,
    EXEC_LIMIT,
    EXEC_MARKET,
    EXEC_STOP,
    EXEC_STOPLIMIT,
    Bar,
    Event,
    data_event,
)
from .core.packed import pack_steps, unpack_results
from .record import first_difference

__all__ = [
    "CEREBRO_BACKENDS",
    "CORE_BACKENDS",
    "CORE_INPUTS",
    "CORE_INPUT_KINDS",
    "DEFAULT_SEED",
    "MINUTE_FILE",
    "PROFILES",
    "CoreStream",
    "ParityResult",
    "PreparedData",
    "Profile",
    "TimedRun",
    "backends_for",
    "build_cerebro",
    "check_core_only_parity",
    "check_core_parity",
    "check_parity",
    "core_class",
    "load_prepared",
    "machine_info",
    "make_core_stream",
    "make_profile_broker",
    "pack_core_stream",
    "parity_record",
    "prepare_data",
    "run_cerebro",
    "run_core_stream",
    "rust_status",
    "summarize",
    "time_cerebro_run",
    "time_core_stream",
    "write_synthetic_csv",
]

logger = logging.getLogger(__name__)

#: Seed of every synthetic data set and every strategy's random choices.
DEFAULT_SEED = 20060102
#: Backends of the Backtrader profiles, and of ``core-only``.
CEREBRO_BACKENDS = ("backtrader", "python", "rust")
CORE_BACKENDS = ("python", "rust")
#: The inputs a core can be fed a ``core-only`` stream with: ``"tuples"``, one ``step`` call per
#: step, and ``"packed"``, one ``step_packed`` call with the whole stream packed beforehand.
CORE_INPUT_KINDS = ("tuples", "packed")
#: The input each core is timed on in ``core-only`` (its fastest): the Rust core crosses the
#: boundary once for the whole stream; the Python core has no boundary, and unpacking a batch
#: would only add work to its ``step`` loop.
CORE_INPUTS: dict[str, str] = {"python": "tuples", "rust": "packed"}
#: The real minute file in a source checkout (``fixtures/`` is not part of the wheel).
MINUTE_FILE = (
    Path(__file__).resolve().parents[1] / "fixtures" / "data" / "2006-01-02-volume-min-001.txt"
)
#: Number of datas of the ``multi-asset`` profile and of the ``core-only`` streams.
MULTI_ASSET_DATAS = 50
CORE_DATAS = 4
#: Orders placed per bar by ``order-heavy`` (and per step by ``core-only``).
ORDERS_PER_BAR = 12
#: Fewest bars a profile accepts (the slow SMA needs 30).
MIN_BARS = 60

_SYNTHETIC_START = datetime.date(2000, 1, 3)
_CSV_HEADER = "datetime,open,high,low,close,volume,openinterest\n"


@dataclass(frozen=True)
class Profile:
    """One benchmark profile."""

    name: str
    description: str
    #: ``True`` for ``core-only``: no Backtrader, the cores' ``step`` is timed directly.
    core_only: bool = False


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("classic", "SMA crossover (10/30), one synthetic daily data"),
        Profile(
            "order-heavy",
            f"{ORDERS_PER_BAR} mixed orders per bar (Limit/Stop/StopLimit/Market/Close, half "
            "with valid), every other open order of the previous bar cancelled",
        ),
        Profile("bracket", "a buy/sell bracket and an OCO pair per bar, regular cancels"),
        Profile(
            "multi-asset",
            f"{MULTI_ASSET_DATAS} synthetic datas, order_target_percent rebalance every 5 bars",
        ),
        Profile("minute", "SMA crossover on the real 1-minute file (~31k bars)"),
        Profile(
            "core-only",
            f"contract event streams ({CORE_DATAS} datas, ~{ORDERS_PER_BAR} orders per step) "
            "fed straight to each core, no Backtrader: the Rust core one step_packed() of the "
            "whole stream, the Python core its step() loop",
            core_only=True,
        ),
    )
}


def backends_for(profile: str) -> tuple[str, ...]:
    """The backends a profile can run on."""
    return CORE_BACKENDS if PROFILES[profile].core_only else CEREBRO_BACKENDS


def rust_status() -> tuple[bool, str | None]:
    """``(True, None)`` when ``bt_cracktrader._rust`` imports, else ``(False, reason)``."""
    try:
        rust_core()
    except RustBackendUnavailable as exc:
        return False, str(exc)
    return True, None


# -- synthetic data ----------------------------------------------------------------------------
def _random_walk(
    rng: random.Random, bars: int, price0: float
) -> list[tuple[float, float, float, float, int]]:
    rows = []
    close = price0
    for _ in range(bars):
        popen = round(close * (1.0 + rng.gauss(0.0, 0.003)), 2)
        close = max(round(close * math.exp(rng.gauss(0.0, 0.015)), 2), 0.05)
        high = round(max(popen, close) * (1.0 + abs(rng.gauss(0.0, 0.006))), 2)
        low = round(min(popen, close) * (1.0 - abs(rng.gauss(0.0, 0.006))), 2)
        rows.append((popen, high, low, close, rng.randint(1_000, 100_000)))
    return rows


def write_synthetic_csv(path: Path, bars: int, seed: int, price0: float = 100.0) -> None:
    """A seeded random-walk OHLCV file of ``bars`` consecutive daily bars (read it with
    ``bt.feeds.GenericCSVData`` and ``dtformat="%Y-%m-%d"``)."""
    rng = random.Random(seed)
    day = datetime.timedelta(days=1)
    lines = [_CSV_HEADER]
    date = _SYNTHETIC_START
    for popen, high, low, close, volume in _random_walk(rng, bars, price0):
        lines.append(
            f"{date.isoformat()},{popen:.2f},{high:.2f},{low:.2f},{close:.2f},{volume},0\n"
        )
        date += day
    path.write_text("".join(lines))


@dataclass(frozen=True)
class PreparedData:
    """The data files of one profile, as every backend reads them."""

    profile: str
    files: tuple[Path, ...]
    #: Bars per data.
    bars: int

    @property
    def total_bars(self) -> int:
        return self.bars * len(self.files)


def _count_bars(path: Path) -> int:
    with path.open() as fh:
        return sum(1 for _ in fh) - 1  # a header line


def prepare_data(
    profile: str,
    bars: int,
    workdir: Path,
    *,
    seed: int = DEFAULT_SEED,
    minute_file: Path | None = None,
) -> PreparedData:
    """Write the data files of ``profile`` under ``workdir/<profile>/`` (``core-only`` has
    none: its stream is built in memory by ``make_core_stream``)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: expected one of {', '.join(PROFILES)}")
    if bars < MIN_BARS:
        raise ValueError(f"bars must be at least {MIN_BARS}, got {bars}")
    outdir = workdir / profile
    if outdir.exists():
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)
    if profile == "minute":
        source = minute_file or MINUTE_FILE
        if not source.is_file():
            raise FileNotFoundError(f"the minute profile needs {source} (a source checkout)")
        target = outdir / "minute.txt"
        with source.open() as src, target.open("w") as dst:
            for i, line in enumerate(src):
                if i > bars:  # the header line plus ``bars`` bars
                    break
                dst.write(line)
    elif profile == "multi-asset":
        for i in range(MULTI_ASSET_DATAS):
            write_synthetic_csv(outdir / f"asset{i:02d}.csv", bars, seed + i, 20.0 + 3.0 * i)
    elif profile != "core-only":
        write_synthetic_csv(outdir / "data.csv", bars, seed)
    prepared = load_prepared(profile, workdir)
    logger.debug("prepared %s: %d file(s) of %d bars", profile, len(prepared.files), bars)
    return prepared


def load_prepared(profile: str, workdir: Path) -> PreparedData:
    """The files ``prepare_data`` wrote for ``profile`` under ``workdir``."""
    files = tuple(sorted(p for p in (workdir / profile).iterdir() if p.is_file()))
    bars = _count_bars(files[0]) if files else 0
    return PreparedData(profile, files, bars)


# -- strategies --------------------------------------------------------------------------------
class SmaCross(bt.Strategy):
    """Reverse on each crossing of a fast and a slow SMA (``classic`` and ``minute``)."""

    params = (("fast", 10), ("slow", 30))

    def __init__(self) -> None:
        fast = bt.ind.SMA(period=self.p.fast)
        slow = bt.ind.SMA(period=self.p.slow)
        self.crossover = bt.ind.CrossOver(fast, slow)

    def next(self) -> None:
        if self.crossover > 0:
            if self.position:
                self.close()
            self.buy()
        elif self.crossover < 0:
            if self.position:
                self.close()
            self.sell()


class OrderHeavy(bt.Strategy):
    """About a dozen orders of mixed types per bar; every other order of the previous bar that
    is still open is cancelled, the others carry a ``valid`` that ends them within days."""

    params = (("seed", DEFAULT_SEED), ("orders", ORDERS_PER_BAR))

    def __init__(self) -> None:
        self.rng = random.Random(self.p.seed)
        self.previous: list[Any] = []

    def _size(self) -> Any:
        if self.rng.random() < 0.2:
            return round(self.rng.uniform(0.5, 5.0), 3)
        return self.rng.randint(1, 5)

    def next(self) -> None:
        still_open = [o for o in self.previous if o.alive()]
        for order in still_open[::2]:
            self.cancel(order)
        rng = self.rng
        close = self.data.close[0]
        day = datetime.timedelta(days=1)
        placed = []
        for i in range(self.p.orders):
            isbuy = (i + len(self)) % 2 == 0
            side = self.buy if isbuy else self.sell
            sign = -1.0 if isbuy else 1.0  # limits below for buys, above for sells
            dist = rng.uniform(0.002, 0.03)
            valid = day * rng.randint(1, 4) if i % 2 else None
            kind = (i // 2) % 6
            size = self._size()
            if kind in (0, 5):
                order = side(
                    size=size,
                    exectype=bt.Order.Limit,
                    price=round(close * (1 + sign * dist), 2),
                    valid=valid,
                )
            elif kind == 1:
                order = side(
                    size=size,
                    exectype=bt.Order.Stop,
                    price=round(close * (1 - sign * dist), 2),
                    valid=valid,
                )
            elif kind == 2:
                stop = round(close * (1 - sign * dist), 2)
                order = side(
                    size=size,
                    exectype=bt.Order.StopLimit,
                    price=stop,
                    plimit=round(stop * (1 - sign * 0.005), 2),
                    valid=valid,
                )
            elif kind == 3:
                order = side(size=size, exectype=bt.Order.Market)
            else:
                order = side(size=size, exectype=bt.Order.Close)
            placed.append(order)
        self.previous = placed


class Brackets(bt.Strategy):
    """A bracket (alternately ``buy_bracket`` and ``sell_bracket``) and an OCO pair of limits
    every bar; every third bar one live order is cancelled, which cascades to its group."""

    params = (("seed", DEFAULT_SEED),)

    def __init__(self) -> None:
        self.rng = random.Random(self.p.seed)
        self.live: list[Any] = []

    def notify_order(self, order: Any) -> None:
        if order.alive():
            if order not in self.live:
                self.live.append(order)
        elif order in self.live:
            self.live.remove(order)

    def next(self) -> None:
        rng = self.rng
        close = self.data.close[0]
        n = len(self)
        size = rng.randint(1, 10)
        dist = rng.uniform(0.01, 0.04)
        valid = datetime.timedelta(days=rng.randint(2, 8)) if rng.random() < 0.5 else None
        if n % 2:
            self.buy_bracket(
                size=size,
                price=round(close * 0.995, 2),
                stopprice=round(close * (1 - dist), 2),
                limitprice=round(close * (1 + dist), 2),
                valid=valid,
            )
        else:
            self.sell_bracket(
                size=size,
                exectype=bt.Order.Market,
                stopprice=round(close * (1 + dist), 2),
                limitprice=round(close * (1 - dist), 2),
                valid=valid,
            )
        days = datetime.timedelta(days=rng.randint(1, 5))
        lower = self.buy(
            size=rng.randint(1, 5),
            exectype=bt.Order.Limit,
            price=round(close * (1 - dist / 2), 2),
            valid=days,
        )
        self.sell(
            size=rng.randint(1, 5),
            exectype=bt.Order.Limit,
            price=round(close * (1 + dist / 2), 2),
            valid=days,
            oco=lower,
        )
        if n % 3 == 0 and self.live:
            self.cancel(self.live[rng.randrange(len(self.live))])


class Rebalance(bt.Strategy):
    """Every ``every`` bars, hold the best half of the datas by ``lookback``-bar momentum with
    equal ``order_target_percent`` weights (sales first)."""

    params = (("every", 5), ("lookback", 5), ("gross", 0.9))

    def next(self) -> None:
        n = len(self)
        if n % self.p.every or n <= self.p.lookback:
            return
        lookback = self.p.lookback
        ranked = sorted(
            range(len(self.datas)),
            key=lambda i: (-self.datas[i].close[0] / self.datas[i].close[-lookback], i),
        )
        chosen = set(ranked[: max(1, len(ranked) // 2)])
        weight = self.p.gross / len(chosen)
        for i, data in enumerate(self.datas):
            if i not in chosen:
                self.order_target_percent(data=data, target=0.0)
        for i, data in enumerate(self.datas):
            if i in chosen:
                self.order_target_percent(data=data, target=weight)


# -- Backtrader runs ---------------------------------------------------------------------------
def _feed(profile: str, path: Path) -> Any:
    if profile == "minute":
        return bt.feeds.BacktraderCSVData(
            dataname=str(path), timeframe=bt.TimeFrame.Minutes, compression=1
        )
    return bt.feeds.GenericCSVData(
        dataname=str(path),
        dtformat="%Y-%m-%d",
        timeframe=bt.TimeFrame.Days,
        datetime=0,
        time=-1,
        open=1,
        high=2,
        low=3,
        close=4,
        volume=5,
        openinterest=6,
    )


def build_cerebro(profile: str, files: Sequence[Path], seed: int = DEFAULT_SEED) -> bt.Cerebro:
    """A fresh ``Cerebro`` with the profile's datas and strategy (no broker, no observers)."""
    if PROFILES[profile].core_only:
        raise ValueError(f"profile {profile!r} does not run in Backtrader")
    cerebro = bt.Cerebro(stdstats=False)
    for path in files:
        cerebro.adddata(_feed(profile, path), name=path.stem)
    if profile in ("classic", "minute"):
        cerebro.addstrategy(SmaCross)
        cerebro.addsizer(bt.sizers.PercentSizer, percents=20)
    elif profile == "order-heavy":
        cerebro.addstrategy(OrderHeavy, seed=seed)
    elif profile == "bracket":
        cerebro.addstrategy(Brackets, seed=seed)
    elif profile == "multi-asset":
        cerebro.addstrategy(Rebalance)
    return cerebro


def _broker_params(profile: str) -> dict[str, Any]:
    return {"cash": 1_000_000.0 if profile in ("order-heavy", "multi-asset") else 100_000.0}


def _setup_broker(broker: Any) -> None:
    broker.setcommission(commission=0.001)


def make_profile_broker(profile: str, backend: str) -> Any:
    """The broker of ``profile`` on ``backend``, with the profile's cash and commission."""
    broker = make_broker(backend, **_broker_params(profile))
    _setup_broker(broker)
    return broker


@dataclass(frozen=True)
class TimedRun:
    """One timed ``cerebro.run()``: the elapsed time and the broker's final figures."""

    elapsed_ms: float
    cash: float
    value: float


def run_cerebro(cerebro: bt.Cerebro) -> float:
    """Run ``cerebro`` and return the elapsed milliseconds of ``cerebro.run()`` alone."""
    start = time.perf_counter()
    cerebro.run()
    return (time.perf_counter() - start) * 1000.0


def time_cerebro_run(
    profile: str, backend: str, files: Sequence[Path], seed: int = DEFAULT_SEED
) -> TimedRun:
    """Build the profile's Cerebro on ``backend`` and time ``cerebro.run()``."""
    cerebro = build_cerebro(profile, files, seed)
    broker = make_profile_broker(profile, backend)
    cerebro.setbroker(broker)
    elapsed = run_cerebro(cerebro)
    return TimedRun(elapsed, float(broker.getcash()), float(broker.getvalue()))


def parity_record(
    profile: str, backend: str, files: Sequence[Path], seed: int = DEFAULT_SEED
) -> dict[str, Any]:
    """The complete normalized record (``compare.run_recorded``) of one run: every order
    notification, every trade, every bar's cash/value/positions, analyzers, final cash/value."""
    return run_recorded(
        lambda: build_cerebro(profile, files, seed),
        backend,
        _broker_params(profile),
        setup=_setup_broker,
    )


@dataclass(frozen=True)
class ParityResult:
    """Whether every backend's record equals the reference backend's."""

    ok: bool
    reference: str | None
    #: For each non-reference backend: ``None`` if identical, else where it first differs.
    mismatches: dict[str, str | None]
    #: What was compared, e.g. ``"orders=1234 trades=56 bars=500"``.
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "reference": self.reference,
            "mismatches": self.mismatches,
            "detail": self.detail,
        }


def check_parity(records: Mapping[str, Any]) -> ParityResult:
    """Compare Backtrader-profile records (``parity_record``) with the first one as reference."""
    if not records:
        return ParityResult(True, None, {})
    names = list(records)
    reference = names[0]
    ref = records[reference]
    mismatches = {name: first_difference(ref, records[name]) for name in names[1:]}
    rec = ref["strategy0"]["record"]
    detail = (
        f"orders={len(rec['orders'])} trades={len(rec['trades'])} bars={len(rec['bars'])} "
        f"final_value={ref['final']['value']!r}"
    )
    ok = all(diff is None for diff in mismatches.values())
    return ParityResult(ok, reference, mismatches, detail)


# -- core-only ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CoreStream:
    """A core's whole input: ``init`` for its constructor, one ``(events, bars)`` per step."""

    init: tuple[float, bool, bool, float]
    steps: tuple[tuple[list[Event], list[Bar]], ...]
    datas: int
    events: int

    @property
    def total_bars(self) -> int:
        return len(self.steps) * self.datas


class _StreamBuilder:
    """Collects one step's events; ``submit`` mirrors the ``EV_SUBMIT`` the adapter builds."""

    def __init__(self) -> None:
        self.ref = 0
        self.events: list[Event] = []

    def submit(
        self,
        data: int,
        isbuy: bool,
        size: int | float,
        exectype: int,
        price: float,
        plimit: float,
        pclose: float,
        created_dt: float,
        valid: float,
        parent: int = -1,
        oco: int = -1,
        transmit: bool = True,
    ) -> int:
        self.ref += 1
        alone = parent == -1 and transmit
        event: Event = (EV_SUBMIT, self.ref, data, isbuy, size if isbuy else -size, exectype,
                        price, plimit, pclose, created_dt, valid, created_dt, 0.0, 0.0, 0.0,
                        parent, oco, transmit, True, True, alone)  # fmt: skip
        self.events.append(event)
        return self.ref


def make_core_stream(
    steps: int,
    seed: int = DEFAULT_SEED,
    datas: int = CORE_DATAS,
    orders_per_step: int = ORDERS_PER_BAR,
) -> CoreStream:
    """A seeded stream of ``steps`` calls in the contract's tuples, shaped like what the
    adapter sends for ``order-heavy`` and ``bracket`` strategies: orders placed on one bar
    travel with the next; every other plain order of the previous step is cancelled; a bracket
    every third step, an OCO pair every other step, a bracket cancelled every fifth step. Data
    ``datas - 1`` is futures-like (fixed commission, margin, multiplier)."""
    rng = random.Random(seed)
    base_dt = 730_000.0 + 0.99999  # a bt date number at the end of a day
    walks = [_random_walk(rng, steps, 50.0 + 25.0 * d) for d in range(datas)]
    registration: list[Event] = []
    for d in range(datas):
        if d == datas - 1 and datas > 1:
            registration.append(
                data_event(d, stocklike=False, perc=False, commission=2.0, mult=10.0, margin=500.0)
            )
        else:
            registration.append(data_event(d, commission=0.001))
    sb = _StreamBuilder()
    previous_plain: list[int] = []
    last_bracket: int | None = None
    events_total = 0
    out: list[tuple[list[Event], list[Bar]]] = []
    for t in range(steps):
        dt = base_dt + t
        sb.events = list(registration) if t == 0 else []
        if t:
            pdt = dt - 1.0  # orders were created on the previous bar
            for r in previous_plain[::2]:
                sb.events.append((EV_CANCEL, r, True))
            if t % 5 == 0 and last_bracket is not None:
                sb.events.append((EV_CANCEL, last_bracket, False))
                last_bracket = None
            plain: list[int] = []
            for i in range(orders_per_step):
                data = (t + i) % datas
                close = walks[data][t - 1][3]
                isbuy = (t + i) % 2 == 0
                sign = -1.0 if isbuy else 1.0
                dist = rng.uniform(0.002, 0.03)
                size: int | float = (
                    rng.randint(1, 5) if rng.random() < 0.8 else round(rng.uniform(0.5, 5.0), 3)
                )
                valid = pdt + rng.randint(1, 4) if i % 2 else 0.0
                kind = (i // 2) % 6
                if kind in (0, 5):
                    exectype, price = EXEC_LIMIT, round(close * (1 + sign * dist), 2)
                    plimit = price
                elif kind == 1:
                    exectype, price = EXEC_STOP, round(close * (1 - sign * dist), 2)
                    plimit = price
                elif kind == 2:
                    exectype, price = EXEC_STOPLIMIT, round(close * (1 - sign * dist), 2)
                    plimit = round(price * (1 - sign * 0.005), 2)
                else:
                    exectype = EXEC_MARKET if kind == 3 else EXEC_CLOSE
                    price = plimit = close
                    valid = 0.0
                plain.append(
                    sb.submit(data, isbuy, size, exectype, price, plimit, close, pdt, valid)
                )
            if t % 3 == 0:
                data = t % datas
                close = walks[data][t - 1][3]
                dist = rng.uniform(0.01, 0.04)
                size = rng.randint(1, 10)
                entry = round(close * 0.995, 2)
                stop = round(close * (1 - dist), 2)
                limit = round(close * (1 + dist), 2)
                parent = sb.submit(
                    data, True, size, EXEC_LIMIT, entry, entry, close, pdt, 0.0, transmit=False
                )
                sb.submit(data, False, size, EXEC_STOP, stop, stop, close, pdt, 0.0, parent,
                          transmit=False)  # fmt: skip
                sb.submit(data, False, size, EXEC_LIMIT, limit, limit, close, pdt, 0.0, parent)
                last_bracket = parent
            if t % 2 == 0:
                data = (t + 1) % datas
                close = walks[data][t - 1][3]
                valid = pdt + rng.randint(1, 5)
                low, high = round(close * 0.99, 2), round(close * 1.01, 2)
                first = sb.submit(
                    data, True, rng.randint(1, 5), EXEC_LIMIT, low, low, close, pdt, valid
                )
                sb.submit(data, False, rng.randint(1, 5), EXEC_LIMIT, high, high, close, pdt,
                          valid, oco=first)  # fmt: skip
            previous_plain = plain
        bars: list[Bar] = []
        for d in range(datas):
            popen, high, low, close, volume = walks[d][t]
            _, phigh, plow, _, pvolume = walks[d][t - 1] if t else walks[d][t]
            bar: Bar = (d, dt, popen, high, low, close, close, volume, high, low, dt - 1.0,
                        phigh, plow, pvolume, int(dt))  # fmt: skip
            bars.append(bar)
        events_total += len(sb.events)
        out.append((sb.events, bars))
    return CoreStream((10_000_000.0, True, True, 100.0), tuple(out), datas, events_total)


def core_class(backend: str) -> Any:
    """The core class of ``"python"`` or ``"rust"``."""
    cls, _ = load_core(backend)
    return cls


def pack_core_stream(stream: CoreStream) -> bytes:
    """The whole stream as one packed batch (``bt_cracktrader.core.packed``)."""
    return pack_steps(stream.steps)


def _check_input(kind: str) -> None:
    if kind not in CORE_INPUT_KINDS:
        raise ValueError(f"unknown core input {kind!r}: expected one of {CORE_INPUT_KINDS}")


def run_core_stream(
    core_cls: Any, stream: CoreStream, kind: str = "tuples", batch: bytes | None = None
) -> list[tuple[Any, Any]]:
    """Feed ``stream`` to a fresh core and return every step's ``(records, state)``: through
    ``step`` (``kind="tuples"``) or one ``step_packed`` (``"packed"``; ``batch`` is
    ``pack_core_stream(stream)`` when given), unpacked."""
    _check_input(kind)
    core = core_cls(*stream.init)
    if kind == "packed":
        return unpack_results(
            core.step_packed(pack_core_stream(stream) if batch is None else batch)
        )
    return [core.step(events, bars) for events, bars in stream.steps]


def time_core_stream(
    core_cls: Any, stream: CoreStream, kind: str = "tuples", batch: bytes | None = None
) -> float:
    """Milliseconds to feed ``stream`` to a fresh core (construction not timed): its ``step``
    loop (``kind="tuples"``) or one ``step_packed`` call (``"packed"``; the packing, or
    ``batch`` when given, is done before the clock starts, the results are not unpacked)."""
    _check_input(kind)
    core = core_cls(*stream.init)
    if kind == "packed":
        packed = pack_core_stream(stream) if batch is None else batch
        step_packed = core.step_packed
        start = time.perf_counter()
        step_packed(packed)
        return (time.perf_counter() - start) * 1000.0
    step = core.step
    steps = stream.steps
    start = time.perf_counter()
    for events, bars in steps:
        step(events, bars)
    return (time.perf_counter() - start) * 1000.0


def _typed(obj: Any) -> Any:
    # == alone lets 1 == 1.0 and 0.0 == -0.0 pass: compare types and float bits too
    if isinstance(obj, (list, tuple)):
        return [_typed(v) for v in obj]
    if isinstance(obj, float):
        return ("float", obj.hex())
    return (type(obj).__name__, obj)


def check_core_parity(results: Mapping[str, Sequence[tuple[Any, Any]]]) -> ParityResult:
    """Compare every step's records and state (types and float bits) across cores."""
    if not results:
        return ParityResult(True, None, {})
    names = list(results)
    reference = names[0]
    ref = results[reference]
    mismatches: dict[str, str | None] = {}
    for name in names[1:]:
        got = results[name]
        diff: str | None = None
        for i, (a, b) in enumerate(zip(ref, got)):
            for what, x, y in (("records", a[0], b[0]), ("state", a[1], b[1])):
                if _typed(x) != _typed(y):
                    diff = f"step {i} {what}: {reference} {x!r} != {name} {y!r}"
                    break
            if diff:
                break
        if diff is None and len(ref) != len(got):
            diff = f"steps: {len(ref)} != {len(got)}"
        mismatches[name] = diff
    records = sum(len(r) for r, _ in ref)
    detail = f"steps={len(ref)} records={records} final_state={tuple(ref[-1][1])!r}"
    return ParityResult(all(d is None for d in mismatches.values()), reference, mismatches, detail)


def check_core_only_parity(stream: CoreStream, classes: Mapping[str, Any]) -> ParityResult:
    """What ``core-only`` times computes the same everywhere: the reference is the Python
    core's ``step`` loop (the first class when there is no ``"python"``); every core's results
    on every input (``CORE_INPUT_KINDS``), unpacked, must equal it (types and float bits), and
    every core's ``step_packed`` must return the very same bytes. Mismatches are keyed
    ``"<backend> on <input>"`` and ``"<backend> step_packed bytes"``."""
    if not classes:
        return ParityResult(True, None, {})
    names = list(classes)
    first = "python" if "python" in classes else names[0]
    batch = pack_core_stream(stream)
    results: dict[str, Any] = {}
    outputs: dict[str, bytes] = {}
    failures: dict[str, str | None] = {}
    for name in [first, *(n for n in names if n != first)]:
        for kind in CORE_INPUT_KINDS:
            key = f"{name} on {kind}"
            try:
                if kind == "packed":
                    outputs[name] = classes[name](*stream.init).step_packed(batch)
                    results[key] = unpack_results(outputs[name])
                else:
                    results[key] = run_core_stream(classes[name], stream)
            except Exception as exc:  # a core that cannot run the stream fails its parity
                failures[key] = f"run failed: {type(exc).__name__}: {exc}"
    reference = f"{first} on tuples"
    if reference not in results:
        return ParityResult(False, reference, failures)
    parity = check_core_parity({reference: results[reference], **results})
    mismatches = {k: v for k, v in parity.mismatches.items() if k != reference}
    mismatches.update(failures)
    ref_bytes = outputs.get(first)
    for name, out in outputs.items():
        if name == first or ref_bytes is None:
            continue
        diff = None
        if out != ref_bytes:
            at = next(
                (i for i, (a, b) in enumerate(zip(out, ref_bytes)) if a != b),
                min(len(out), len(ref_bytes)),
            )
            diff = f"{len(out)} bytes vs {len(ref_bytes)}, first difference at byte {at}"
        mismatches[f"{name} step_packed bytes"] = diff
    ok = all(d is None for d in mismatches.values())
    detail = f"{parity.detail} inputs={','.join(CORE_INPUT_KINDS)} packed_bytes={len(batch)}"
    return ParityResult(ok, reference, mismatches, detail)


# -- statistics and machine --------------------------------------------------------------------
def summarize(samples_ms: Sequence[float], bars: int) -> dict[str, Any]:
    """Mean, median, p95 (nearest rank), min and max of ``samples_ms``, and bars per second at
    the mean."""
    if not samples_ms:
        raise ValueError("no samples")
    ordered = sorted(samples_ms)
    mean = statistics.fmean(ordered)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return {
        "mean_ms": mean,
        "median_ms": statistics.median(ordered),
        "p95_ms": p95,
        "min_ms": ordered[0],
        "max_ms": ordered[-1],
        "stdev_ms": statistics.stdev(ordered) if len(ordered) > 1 else 0.0,
        "bars_per_s": bars / (mean / 1000.0) if mean > 0 else None,
        "samples": len(ordered),
        "samples_ms": list(samples_ms),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """The machine and the versions a report was measured with."""
    available, reason = rust_status()
    rust_version = None
    if available:
        version = getattr(importlib.import_module(f"{__package__}._rust"), "core_version", None)
        rust_version = str(version()) if callable(version) else "unknown"
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "backtrader": getattr(bt, "__version__", None) or _version("backtrader"),
        "bt_cracktrader": _version("bt-cracktrader") or "source tree",
        "bt_cracktrader_path": str(Path(__file__).resolve().parent),
        "contract_version": CONTRACT_VERSION,
        "rust_available": available,
        "rust_unavailable_reason": reason,
        "rust_core_version": rust_version,
    }
