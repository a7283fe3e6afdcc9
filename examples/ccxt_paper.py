#!/usr/bin/env python
"""Paper trading through CrackStore: an SMA crossover on an exchange's minute candles.

    python examples/ccxt_paper.py --emulator --backend rust     # offline, a local exchange
    python examples/ccxt_paper.py --emulator --compare          # ... and the same bars on
                                                                # BackBroker: MATCH
    BT_CRACKTRADER_API_KEY=... BT_CRACKTRADER_SECRET=... \\
        python examples/ccxt_paper.py --exchange binance --minutes 30   # the exchange's sandbox

``--emulator`` starts ``ExchangeEmulator`` (Binance's REST API on 127.0.0.1) with the minute
bars shipped in fixtures/data, re-timed to end now (UTC), and points the store at it: the real
ccxt client loads the markets, pages the history, then polls the candles as they close (the
emulator's clock moves one minute per poll, so the live part takes seconds). Without
``--emulator`` the store uses the exchange's sandbox with the keys from the environment and
polls in real time. Orders are never sent: the paper broker matches them on the core.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import backtrader as bt
from backtrader.utils import date2num

import bt_cracktrader  # noqa: F401 - registers bt.stores.CrackStore
from bt_cracktrader.emulator import ExchangeEmulator, candles_from_csv
from bt_cracktrader.feed import from_ms
from bt_cracktrader.market import MarketCommInfo, MarketSizer
from bt_cracktrader.store import API_KEY_ENV, SECRET_ENV, CrackStore

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "2006-01-02-volume-min-001.txt"
MIN = 60_000
HISTORY = 2000  # closed bars when the run starts
LIVE = 200  # bars that close while it runs


class SmaCross(bt.Strategy):
    params = (("fast", 10), ("slow", 30))

    def __init__(self) -> None:
        sma_fast, sma_slow = bt.ind.SMA(period=self.p.fast), bt.ind.SMA(period=self.p.slow)
        self.crossover = bt.ind.CrossOver(sma_fast, sma_slow)
        self.lines_out: list[str] = []

    def notify_data(self, data: Any, status: int, *args: Any, **kwargs: Any) -> None:
        print(f"data {data._name}: {data._getstatusname(status)}")

    def next(self) -> None:
        if self.crossover > 0 and not self.position:
            self.buy()  # MarketSizer: a fraction of a coin, in the market's amount step
        elif self.crossover < 0 and self.position:
            self.close()

    def notify_trade(self, trade: Any) -> None:
        if trade.isclosed:
            line = (
                f"{bt.num2date(trade.dtopen)} -> {bt.num2date(trade.dtclose)}"
                f"  pnl {trade.pnl:.4f}  pnlcomm {trade.pnlcomm:.4f}"
            )
            self.lines_out.append(line)
            print("trade", line)


class RowsData(bt.feed.DataBase):
    """The same closed candles as a plain backtest feed (for --compare)."""

    params = (("rows", None),)

    def start(self) -> None:
        super().start()
        self._i = 0

    def _load(self) -> bool:
        if self._i >= len(self.p.rows):
            return False
        r = self.p.rows[self._i]
        self._i += 1
        self.lines.datetime[0] = date2num(from_ms(int(r[0])))
        self.lines.open[0], self.lines.high[0], self.lines.low[0] = r[1], r[2], r[3]
        self.lines.close[0], self.lines.volume[0], self.lines.openinterest[0] = r[4], r[5], 0.0
        return True


def run(cerebro: bt.Cerebro, broker: Any) -> tuple[list[str], float]:
    cerebro.setbroker(broker)
    cerebro.addsizer(MarketSizer, percents=50)
    cerebro.addstrategy(SmaCross)
    strat = cerebro.run()[0]
    return strat.lines_out, broker.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--emulator", action="store_true", help="run offline on a local exchange")
    ap.add_argument("--backend", default="rust", choices=("python", "rust", "auto"))
    ap.add_argument("--exchange", default="binance", help="ccxt exchange id (not --emulator)")
    ap.add_argument("--symbol", default="BTC/USDT")
    ap.add_argument("--minutes", type=int, default=60, help="live minutes (not --emulator)")
    ap.add_argument("--cash", type=float, default=100000.0)
    ap.add_argument("--compare", action="store_true", help="--emulator: also on BackBroker")
    args = ap.parse_args(argv)

    started = time.perf_counter()
    emu: ExchangeEmulator | None = None
    if args.emulator:
        now = int(time.time() * 1000) // MIN * MIN
        rows = candles_from_csv(DATA, start_ms=now - HISTORY * MIN)[: HISTORY + LIVE + 1]
        emu = ExchangeEmulator(candles=rows, symbols=(args.symbol,), clock_ms=now + 1).start()
        store = CrackStore(client=emu.client())
        feed: dict[str, Any] = {
            "fromdate": from_ms(rows[0][0]),
            "todate": from_ms(rows[HISTORY + LIVE - 1][0]),
            "on_idle": lambda: emu.advance(MIN) if emu is not None else None,
        }
    else:
        if not (os.environ.get(API_KEY_ENV) and os.environ.get(SECRET_ENV)):
            print(
                f"ccxt_paper.py: without --emulator, set {API_KEY_ENV} and {SECRET_ENV} "
                "(the exchange's sandbox keys)",
                file=sys.stderr,
            )
            return 2
        store = CrackStore(exchange=args.exchange, sandbox=True)
        now = store.milliseconds()
        feed = {
            "backfill_bars": 300,
            "todate": from_ms(now + args.minutes * MIN),
            "poll_interval": 5.0,
        }
    try:
        print(f"store: {store!r}")
        data = store.getdata(
            dataname=args.symbol, timeframe=bt.TimeFrame.Minutes, compression=1, **feed
        )
        cerebro = bt.Cerebro(stdstats=False)
        cerebro.adddata(data)
        broker = store.getbroker(backend=args.backend, cash=args.cash)
        trades, value = run(cerebro, broker)
        print(f"backend: {broker.backend}  trades: {len(trades)}  final value: {value:.8f}")
        if args.compare and emu is not None:
            back = bt.brokers.BackBroker(cash=args.cash)
            back.addcommissioninfo(MarketCommInfo.from_market(store.market(args.symbol)))
            plain = bt.Cerebro(stdstats=False)
            plain.adddata(RowsData(rows=rows[: HISTORY + LIVE]), name=args.symbol)
            back_trades, back_value = run(plain, back)
            same = (back_trades, back_value) == (trades, value)
            print(f"BackBroker final value: {back_value:.8f}")
            print("MATCH" if same else "DIFFERS")
            if not same:
                return 1
    finally:
        if emu is not None:
            emu.stop()
        store.close()
    print(f"elapsed: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
