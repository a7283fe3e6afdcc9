"""Reusable pieces of the ``LiveBroker`` tests: a scripted strategy, Cerebro runs against the
Binance-spot emulator (with ``Bars`` or through ``CrackStore`` and its ``CrackData`` feed), and
``assert_books_match``, the check that the broker's books equal the emulator's own ledger.

``check_engine_live(backend)`` and ``check_store_live(backend)`` are whole scenarios, with their
assertions, for other test modules (the engine integration test).

The amounts are binary fractions (sizes in halves, whole prices, a fee rate of 2**-7), so every
float sum is exact and the books compare with ``==``.
"""

from __future__ import annotations

import datetime
from typing import Any, Callable

import backtrader as bt

from bt_cracktrader.emulator import ExchangeEmulator, synthetic_candles
from bt_cracktrader.livebroker import LiveBroker
from bt_cracktrader.store import CrackStore

SYMBOL = "BTC/USDT"
PRICE = 20000.0
START_USDT = 100000.0
START_BTC = 4.0
FEE_RATE = 2.0**-7
API_KEY = "KEYzz-live-broker-test-4f9a1c"
SECRET = "SECRETzz-live-broker-test-8d2e7b"
ORDER = "/api/v3/order"
STATUS = {
    "NEW": "Accepted",
    "PARTIALLY_FILLED": "Partial",
    "FILLED": "Completed",
    "CANCELED": "Canceled",
    "EXPIRED": "Expired",
}


class Bars(bt.feed.DataBase):
    """``n`` one-minute bars at ``price`` (the strategy's clock; the emulator sets the prices)."""

    params = (("n", 8), ("price", PRICE))

    def start(self) -> None:
        super().start()
        self._i = 0

    def _load(self) -> bool:
        if self._i >= self.p.n:
            return False
        start = datetime.datetime(2026, 1, 1)
        self.lines.datetime[0] = bt.date2num(start + datetime.timedelta(minutes=self._i))
        for line in (self.lines.open, self.lines.high, self.lines.low, self.lines.close):
            line[0] = self.p.price
        self.lines.volume[0] = 1.0
        self.lines.openinterest[0] = 0.0
        self._i += 1
        return True


Step = Callable[["Script"], Any]


class Script(bt.Strategy):
    """Runs ``steps[i]`` in ``next()`` of bar ``i`` and records every ``notify_order``."""

    params = (("steps", None),)

    def __init__(self) -> None:
        self.notes: list[tuple[int, str, float]] = []
        self.placed: list[bt.Order] = []

    def notify_order(self, order: bt.Order) -> None:
        self.notes.append((order.ref, order.getstatusname(), order.executed.size))

    def next(self) -> None:
        step = (self.p.steps or {}).get(len(self) - 1)
        if step is not None:
            result = step(self)
            if isinstance(result, bt.Order):
                self.placed.append(result)

    def statuses(self, order: bt.Order | None = None) -> list[tuple[str, float]]:
        ref = (order or self.placed[0]).ref
        return [(status, size) for r, status, size in self.notes if r == ref]


def make_broker(backend: str, emu: ExchangeEmulator, **params: Any) -> LiveBroker:
    client = emu.client(timeout=250, **params.pop("client", {}))
    sleeps = params.pop("sleeps", None)
    defaults: dict[str, Any] = {
        "backend": backend,
        "live": True,
        "poll": 0,
        "run_id": "t",
        "grace": 0.0,
        "backoff": 0.01,
        "backoff_max": 0.04,
        "strict": True,
        "sleep": (sleeps.append if sleeps is not None else lambda s: None),
    }
    defaults.update(params)
    return LiveBroker(client, **defaults)


def run_live_cerebro(
    backend: str,
    emu: ExchangeEmulator,
    steps: dict[int, Step] | None = None,
    bars: int = 8,
    strategy: type = Script,
    symbol: str = SYMBOL,
    **params: Any,
) -> tuple[Any, LiveBroker]:
    """Run a real ``bt.Cerebro`` with ``LiveBroker(live=True)`` against ``emu``: ``strategy``
    (``steps[i]`` runs in ``next()`` of bar ``i``) over ``bars`` one-minute bars of ``symbol``.
    Returns the strategy and the broker."""
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(Bars(n=bars), name=symbol)
    broker = make_broker(backend, emu, **params)
    cerebro.setbroker(broker)
    if strategy is Script:
        cerebro.addstrategy(Script, steps=steps)
    else:
        cerebro.addstrategy(strategy)
    (strat,) = cerebro.run()
    return strat, broker


def assert_books_match(broker: LiveBroker, emu: ExchangeEmulator) -> None:
    """The broker's position, cash, orders and fills equal what the emulator's ledger says:
    nothing lost, nothing counted twice."""
    truth = emu.ledger()
    size, cash, base_fees = 0.0, START_USDT, 0.0
    fees: dict[str, float] = {}
    for fill in truth["fills"]:
        signed = fill["qty"] if fill["side"] == "BUY" else -fill["qty"]
        fee = fill["fee"] if fill["fee_asset"] == "USDT" else fill["fee"] * fill["price"]
        if fill["fee_asset"] == "BTC":
            base_fees += fill["fee"]
        size += signed
        cash = cash - signed * fill["price"] - fee
        fees[fill["client_id"]] = fees.get(fill["client_id"], 0.0) + fee
    state = broker.ledger_state()
    positions = {p["data"]: p["size"] for p in state["positions"]}
    assert positions.get(0, 0.0) == size
    assert broker.cash == cash
    (data,) = {lv.order.data for lv in broker._live.values()} or {None}
    if data is not None:
        assert broker.getposition(data).size == size
    # the exchange's balances say the same (a buy's fee is paid there in BTC)
    btc, usdt = truth["balances"]["BTC"], truth["balances"]["USDT"]
    assert btc["free"] + btc["locked"] == START_BTC + size - base_fees
    assert usdt["free"] + usdt["locked"] == START_USDT + sum(
        (-1.0 if f["side"] == "BUY" else 1.0) * f["qty"] * f["price"]
        - (f["fee"] if f["fee_asset"] == "USDT" else 0.0)
        for f in truth["fills"]
    )
    # every order the exchange holds, as the broker booked it
    booked: dict[str, float] = {}
    for rec in broker.fills:
        booked[rec["order"]] = booked.get(rec["order"], 0.0) + abs(rec["size"])
    for order in truth["orders"]:
        mine = broker._ledger.order(order["client_id"])
        assert mine is not None, order
        assert mine["filled"] == order["executed_qty"]
        assert booked.get(order["client_id"], 0.0) == order["executed_qty"]
        assert mine["cost"] == order["cummulative_quote_qty"]
        assert mine["fee"] == fees.get(order["client_id"], 0.0)
        assert mine["status"] == STATUS[order["status"]]
        bt_order = broker._live[order["client_id"]].order
        assert abs(bt_order.executed.size) == order["executed_qty"]
        assert bt_order.getstatusname() == STATUS[order["status"]]


def buy(size: float, price: float | None = None) -> Step:
    if price is None:
        return lambda s: s.buy(size=size)
    return lambda s: s.buy(size=size, price=price, exectype=bt.Order.Limit)


def sell(size: float, price: float | None = None) -> Step:
    if price is None:
        return lambda s: s.sell(size=size)
    return lambda s: s.sell(size=size, price=price, exectype=bt.Order.Limit)


def fill(emu: ExchangeEmulator, qty: float, price: float, which: int = 0) -> Step:
    def step(s: Script) -> None:
        emu.fill(s.broker.client_id(s.placed[which]), qty, price)

    return step


def steps(*actions: Step) -> Step:
    def step(s: Script) -> Any:
        out = None
        for action in actions:
            result = action(s)
            out = result if isinstance(result, bt.Order) else out
        return out

    return step


def cancel(which: int = 0) -> Step:
    def step(s: Script) -> None:
        s.cancel(s.placed[which])

    return step


class SmaLikeStrategy(bt.Strategy):
    """A plain strategy, unaware of the broker: buys, then sells half, then a resting limit
    it cancels; it tracks what ``notify_order`` and ``notify_trade`` tell it."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.limit: bt.Order | None = None

    def notify_order(self, order: bt.Order) -> None:
        self.events.append(f"{order.ref}:{order.getstatusname()}")

    def notify_trade(self, trade: bt.Trade) -> None:
        self.events.append(f"trade:{'closed' if trade.isclosed else 'open'}:{trade.pnl}")

    def next(self) -> None:
        bar = len(self)
        if bar == 1:
            self.buy(size=1.0)
        elif bar == 3:
            self.sell(size=0.5)
        elif bar == 4:
            self.limit = self.buy(size=0.5, price=15000.0, exectype=bt.Order.Limit)
        elif bar == 6 and self.limit is not None:
            self.cancel(self.limit)
        elif bar == 7:
            self.close()


def run_engine_live(backend: str, emu: ExchangeEmulator, **params: Any) -> tuple[Any, LiveBroker]:
    """The reusable Cerebro run: ``SmaLikeStrategy`` through ``LiveBroker(live=True)``."""
    return run_live_cerebro(backend, emu, strategy=SmaLikeStrategy, bars=10, **params)


def run_store_live(
    backend: str, strategy: type = SmaLikeStrategy, **params: Any
) -> tuple[Any, LiveBroker, ExchangeEmulator]:
    """The whole ccxt stack live: ``CrackStore`` over the emulator's ccxt client, its
    ``CrackData`` feed (5 bars of history, then a closed candle per poll as the emulator clock
    advances) and its live broker, ``store.getbroker(live=True)``. Returns the strategy, broker
    and emulator (stopped)."""
    start = 1_767_225_600_000  # 2026-01-01 UTC
    emu = make_emulator(candles=synthetic_candles(30, start), clock_ms=start + 15 * 60_000 + 30_000)
    with emu:
        store = CrackStore(client=emu.client(timeout=250))
        data = store.getdata(
            dataname=SYMBOL,
            timeframe=bt.TimeFrame.Minutes,
            compression=1,
            backfill_bars=5,
            on_idle=lambda: emu.advance(60_000),
            max_idle_polls=2,
        )
        cerebro = bt.Cerebro(stdstats=False)
        cerebro.adddata(data)
        defaults: dict[str, Any] = {"backend": backend, "poll": 0, "strict": True}
        broker = store.getbroker(live=True, **{**defaults, **params})
        cerebro.setbroker(broker)
        cerebro.addstrategy(strategy)
        try:
            (strat,) = cerebro.run()
        finally:
            store.close()  # a singleton: the next run gets its own store
    return strat, broker, emu


def make_emulator(**kwargs: Any) -> ExchangeEmulator:
    """An emulator (not started) with the balances, fee rate and credentials of these tests."""
    config: dict[str, Any] = {
        "balances": {"USDT": START_USDT, "BTC": START_BTC},
        "fee_rate": FEE_RATE,
        "api_key": API_KEY,
        "secret": SECRET,
        "timeout_delay_s": 0.4,
    }
    config.update(kwargs)
    return ExchangeEmulator(**config)


def check_engine_live(backend: str) -> None:
    """A real Cerebro run of ``SmaLikeStrategy`` with ``LiveBroker(live=True)`` against the
    emulator, through a 5xx on a poll: the expected notifications and trades, and books equal
    to the emulator's."""
    with make_emulator() as emu:
        emu.set_price(SYMBOL, PRICE)
        emu.inject("GET", ORDER, "http500")
        strat, broker = run_engine_live(backend, emu)
        assert broker.backend == backend
        refs = sorted({int(e.split(":")[0]) for e in strat.events if not e.startswith("trade")})
        buy1, sell1, limit, close = refs
        assert strat.events == [
            f"{buy1}:Submitted", f"{buy1}:Accepted", f"{buy1}:Completed", "trade:open:0.0",
            f"{sell1}:Submitted", f"{sell1}:Accepted", f"{sell1}:Completed",
            f"{limit}:Submitted", f"{limit}:Accepted", f"{limit}:Canceled",
            f"{close}:Submitted", f"{close}:Accepted", f"{close}:Completed", "trade:closed:0.0",
        ]  # fmt: skip
        assert broker.getposition(strat.data).size == 0.0
        assert_books_match(broker, emu)


def check_store_live(backend: str) -> None:
    """``run_store_live``: the expected notifications and trades, one order placement per
    order, a flat position and books equal to the emulator's."""
    strat, broker, emu = run_store_live(backend)
    assert len(strat.data) == 20  # 5 bars of history, then the 15 that closed live
    assert [e if e.startswith("trade") else e.split(":")[1] for e in strat.events] == [
        *("Submitted", "Accepted", "Completed", "trade:open:0.0"),
        *("Submitted", "Accepted", "Completed"),
        *("Submitted", "Accepted", "Canceled"),
        *("Submitted", "Accepted", "Completed", "trade:closed:7.5"),
    ]
    assert emu.requests("POST", ORDER) == 4
    assert broker.getposition(strat.data).size == 0.0
    assert_books_match(broker, emu)
    assert broker.getvalue() == broker.getcash()
