"""A whole strategy through ``CrackStore`` against the exchange emulator, on both cores.

The store is built as a user builds it for an exchange's sandbox (``exchange="binance",
sandbox=True``, keys in the config), with every URL sent to a local ``ExchangeEmulator``: the
real ccxt client loads the markets, pages the history, then polls live candles through faults
(rate limits, 5xx, dropped connections) that the store retries and the feed backfills. The
paper broker runs brackets, trailing stops, cancels and fractional market orders on the core,
and the run must match, to the last bit, a plain backtest of the same bars with Backtrader's
``BackBroker`` and the same ``MarketCommInfo``.

Runs in every test run; ``pytest --sandbox`` selects it by name in CI and the docs.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import backtrader as bt
from backtrader.utils import date2num
from live_support import check_engine_live, check_store_live

from bt_cracktrader.emulator import OFFLINE_OPTIONS, synthetic_candles
from bt_cracktrader.feed import from_ms
from bt_cracktrader.market import MarketCommInfo, MarketSizer
from bt_cracktrader.store import CrackStore

MIN = 60_000
T0 = 1_700_000_000_000 // 86_400_000 * 86_400_000
SYM = "BTC/USDT"
N = 600  # closed candles: 450 of history, then 150 live
HISTORY = 450
KEY = "integration-key-0123456789abcdef"
SECRET = "integration-secret-fedcba9876543210"


class RowsData(bt.feed.DataBase):
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


class Engine(bt.Strategy):
    """Every kind of order a crypto strategy places, sized in fractions of a coin."""

    def __init__(self) -> None:
        fast, slow = bt.ind.EMA(period=9), bt.ind.SMA(period=26)
        self.cross = bt.ind.CrossOver(fast, slow)
        self.rsi = bt.ind.RSI(period=14, safediv=True)
        self.events: list[tuple] = []
        self.trades: list[tuple] = []
        self.values: list[tuple] = []
        self.bracket: list = []
        self.trail = None
        self.pending_limit = None

    def notify_order(self, order) -> None:
        ex = order.executed
        self.events.append(
            (
                order.ref,
                order.ordtypename(),
                order.getordername(),
                order.getstatusname(),
                ex.size,
                ex.price,
                ex.comm,
                ex.pnl,
            )
        )

    def notify_trade(self, trade) -> None:
        if trade.isclosed:
            self.trades.append((trade.ref, trade.size, trade.pnl, trade.pnlcomm, trade.barlen))

    def next(self) -> None:
        self.values.append((len(self), self.broker.getcash(), self.broker.getvalue()))
        close = self.data.close[0]
        pos = self.position.size
        in_bracket = any(o.alive() for o in self.bracket)
        if self.trail is not None and not self.trail.alive():
            self.trail = None
        if self.pending_limit is not None and not self.pending_limit.alive():
            self.pending_limit = None
        if self.pending_limit is not None and len(self) % 7 == 0:
            self.cancel(self.pending_limit)
        if self.cross > 0 and not pos and not in_bracket:
            size = round(0.5 + (len(self) % 5) * 0.12345, 5)
            self.bracket = self.buy_bracket(
                size=size,
                exectype=bt.Order.Limit,
                price=round(close + 1.0, 2),
                stopprice=round(close - 12.0, 2),
                limitprice=round(close + 60.0, 2),
                valid=datetime.timedelta(minutes=10),
            )
        elif self.cross < 0 and pos > 0 and in_bracket:
            for order in self.bracket:
                self.cancel(order)  # the exits go with the position
            self.close()
        elif not pos and not in_bracket and self.trail is None and len(self) % 61 == 0:
            self.buy()  # a market order sized by MarketSizer
        elif pos > 0 and not in_bracket and self.trail is None:
            if len(self) % 2:
                self.trail = self.sell(size=pos, exectype=bt.Order.StopTrail, trailpercent=0.0015)
            else:
                self.trail = self.sell(size=pos, exectype=bt.Order.Stop, price=round(close - 15, 2))
        elif not pos and self.rsi < 30 and self.pending_limit is None:
            self.pending_limit = self.buy(exectype=bt.Order.Limit, price=round(close * 0.998, 2))


def _summary(strat, broker) -> tuple:
    first = min((e[0] for e in strat.events), default=0)
    tfirst = min((t[0] for t in strat.trades), default=0)
    return (
        [(e[0] - first, *e[1:]) for e in strat.events],
        [(t[0] - tfirst, *t[1:]) for t in strat.trades],
        strat.values,
        broker.getcash(),
        broker.getvalue(),
        strat.analyzers.trades.get_analysis()["total"]["total"],
    )


def _cerebro(data, broker) -> bt.Cerebro:
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(data)
    cerebro.setbroker(broker)
    cerebro.addsizer(MarketSizer, percents=40)
    cerebro.addstrategy(Engine)
    cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="trades")
    return cerebro


def test_paper_strategy_through_the_store_matches_backbroker(
    request, emulator_factory, backend, tmp_path: Path
) -> None:
    assert request.config.getoption("--sandbox") in (True, False)  # the option exists
    rows = synthetic_candles(N + 1, T0)
    emu = emulator_factory(
        candles=rows, clock_ms=T0 + HISTORY * MIN + 1, api_key=KEY, secret=SECRET
    )
    config = {"apiKey": KEY, "secret": SECRET, "options": dict(OFFLINE_OPTIONS)}
    config.update(enableRateLimit=False, timeout=500)
    store = CrackStore(exchange="binance", config=config, sandbox=True, url=emu.url, backoff=0)
    waits: list[float] = []
    store.sleep = waits.append  # the backoffs are recorded, not slept

    polls = []

    def idle() -> None:
        # the exchange misbehaves now and then while the strategy runs live
        polls.append(emu.now_ms)
        fault = ("http429", "http503", "drop_before", "http500")[len(polls) % 4]
        if len(polls) % 9 == 0:
            emu.inject("GET", "/api/v3/klines", fault, times=5)  # beyond the retries: a gap
        elif len(polls) % 3 == 0:
            emu.inject("GET", "/api/v3/klines", fault, times=2)  # retried away
        emu.advance(MIN if len(polls) % 9 else 4 * MIN)

    data = store.getdata(
        dataname=SYM,
        timeframe=bt.TimeFrame.Minutes,
        compression=1,
        fromdate=from_ms(T0),
        todate=from_ms(T0 + (N - 1) * MIN),
        historical=False,
        on_idle=idle,
    )
    log = tmp_path / "replay.jsonl"
    broker = store.getbroker(backend=backend, cash=50000.0, replay_log=str(log))
    paper = _summary(_cerebro(data, broker).run()[0], broker)

    back_broker = bt.brokers.BackBroker(cash=50000.0)
    back_broker.addcommissioninfo(MarketCommInfo.from_market(store.market(SYM)))
    back = _summary(_cerebro(RowsData(rows=rows[:N]), back_broker).run()[0], back_broker)

    assert paper == back
    events, trades = paper[0], paper[1]
    kinds = {(e[2], e[3]) for e in events}
    assert {("Limit", "Completed"), ("Stop", "Completed"), ("Market", "Completed")} <= kinds
    assert ("Limit", "Canceled") in kinds or ("Limit", "Expired") in kinds
    assert any(e[2] == "StopTrail" for e in events)
    assert len(trades) >= 4
    assert any(e[4] != int(e[4]) for e in events if e[3] == "Completed")
    # the history came in pages, the live bars one by one, gaps backfilled
    assert emu.requests("GET", "/api/v3/exchangeInfo") == 1
    assert len(polls) >= 20
    # the replay log of the core holds prices and orders, never the credentials
    text = log.read_text()
    assert text and KEY not in text and SECRET not in text
    assert KEY not in repr(store) and SECRET not in repr(store)
    # nothing was sent to the exchange: paper trading
    assert emu.requests("POST", "/api/v3/order") == 0


# --- LIVE MODE ---------------------------------------------------------------------------
# The same kind of strategy trades live: ``store.getbroker(live=True)`` (LiveBroker) places real
# orders on the emulator, and ``emu.ledger()`` is the truth its cash, positions and fills are
# checked against (tests/support/live_support.py).


def test_live_strategy_through_the_store(backend: str) -> None:
    check_store_live(backend)


def test_live_engine_run_through_faults(backend: str) -> None:
    check_engine_live(backend)
