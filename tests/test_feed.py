"""``CrackData`` against the exchange emulator: history pages, closed candles only, backfill.

Every run goes through Cerebro with the store's paper broker on the ``backend`` under test, and
checks the bars the strategy saw against the candles the emulator holds.
"""

from __future__ import annotations

import datetime as dt
import os
import time

import backtrader as bt
import pytest
from backtrader.utils import date2num

from bt_cracktrader.emulator import synthetic_candles
from bt_cracktrader.feed import (
    CrackData,
    TimeFrameError,
    ccxt_timeframe,
    from_ms,
    timeframe_ms,
    to_ms,
)
from bt_cracktrader.store import CrackStore

MIN = 60_000
T0 = 1_700_000_000_000 // 86_400_000 * 86_400_000  # a recent UTC midnight
SYM = "BTC/USDT"


class Recorder(bt.Strategy):
    params = (("emu", None),)

    def __init__(self) -> None:
        self.bars: list[tuple[float, ...]] = []
        self.clock: list[int] = []
        self.status: list[str] = []

    def notify_data(self, data, status, *args, **kwargs) -> None:
        self.status.append(data._getstatusname(status))

    def next(self) -> None:
        d = self.data
        self.bars.append((d.datetime[0], d.open[0], d.high[0], d.low[0], d.close[0], d.volume[0]))
        if self.p.emu is not None:
            self.clock.append(self.p.emu.now_ms)


def _expected(rows, n=None):
    return [(date2num(from_ms(r[0])), *(float(x) for x in r[1:6])) for r in rows[:n]]


def _run(emu, backend, **feed_kwargs):
    store = CrackStore(client=emu.client())
    kwargs = dict(dataname=SYM, timeframe=bt.TimeFrame.Minutes, compression=1)
    kwargs.update(feed_kwargs)
    data = store.getdata(**kwargs)
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(data)
    cerebro.setbroker(store.getbroker(backend=backend))
    cerebro.addstrategy(Recorder, emu=emu)
    return cerebro.run()[0], data


@pytest.mark.parametrize("n_closed", [999, 1000, 1001, 2000, 2001])
def test_history_pages_have_no_duplicate_or_missing_bar(emulator_factory, backend, n_closed):
    rows = synthetic_candles(n_closed + 1, T0)  # the last one is forming at the clock
    emu = emulator_factory(candles=rows, clock_ms=T0 + n_closed * MIN + 30_000)
    strat, _ = _run(emu, backend, fromdate=from_ms(T0), historical=True)
    assert strat.bars == _expected(rows, n_closed)
    # exact pages of 1000: no extra call for an empty page at an exact boundary
    assert emu.requests("GET", "/api/v3/klines") == -(-n_closed // 1000)


def test_small_pages_and_a_start_between_candles(emulator_factory, backend):
    rows = synthetic_candles(60, T0)
    emu = emulator_factory(candles=rows, clock_ms=T0 + 60 * MIN)
    # fromdate 20 s into candle 3: the first bar is candle 4, pages of 7
    start = from_ms(T0 + 3 * MIN + 20_000)
    strat, _ = _run(emu, backend, fromdate=start, historical=True, ohlcv_limit=7)
    assert strat.bars == _expected(rows[4:])
    assert emu.requests("GET", "/api/v3/klines") == 56 // 7  # no call for the empty page


def test_without_fromdate_the_latest_closed_bars(emulator_factory, backend):
    rows = synthetic_candles(100, T0)
    emu = emulator_factory(candles=rows, clock_ms=T0 + 99 * MIN + 1)
    strat, _ = _run(emu, backend, historical=True, backfill_bars=10)
    assert strat.bars == _expected(rows[89:99])


def test_live_delivers_closed_candles_only(emulator_factory, backend):
    rows = synthetic_candles(40, T0)
    emu = emulator_factory(candles=rows, clock_ms=T0 + 20 * MIN + 30_000)
    emu.set_price(SYM, 12345.0)  # the forming candle 20 would close at it: never seen

    strat, _ = _run(
        emu,
        backend,
        fromdate=from_ms(T0),
        historical=False,
        on_idle=lambda: emu.advance(20_000),  # 3 polls per minute
        todate=from_ms(T0 + 38 * MIN),
    )
    assert strat.bars == _expected(rows[:39])
    assert 12345.0 not in [b[4] for b in strat.bars]
    # each live bar reached the strategy only once the exchange's clock had closed it
    for (dtnum, *_), clock in zip(strat.bars, strat.clock):
        assert clock >= to_ms(bt.num2date(dtnum)) + MIN
    assert strat.status[:2] == ["DELAYED", "LIVE"]


def test_backfill_after_a_gap(emulator_factory, backend):
    rows = synthetic_candles(60, T0)
    emu = emulator_factory(candles=rows, clock_ms=T0 + 10 * MIN + 1)
    polls = []

    def idle() -> None:
        polls.append(emu.now_ms)
        if len(polls) == 3:
            # the exchange goes away for longer than the store's retries, 12 minutes pass
            emu.inject("GET", "/api/v3/klines", "http503", times=4)
            emu.advance(12 * MIN)
        else:
            emu.advance(MIN)

    store = CrackStore(client=emu.client(), backoff=0.0)
    data = store.getdata(
        dataname=SYM,
        timeframe=bt.TimeFrame.Minutes,
        fromdate=from_ms(T0),
        on_idle=idle,
        todate=from_ms(T0 + 40 * MIN),
    )
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(data)
    cerebro.setbroker(store.getbroker(backend=backend))
    cerebro.addstrategy(Recorder, emu=emu)
    strat = cerebro.run()[0]
    assert strat.bars == _expected(rows[:41])  # in order, none twice, none missing
    assert "DISCONNECTED" in strat.status
    assert strat.status[-1] == "LIVE"
    # the 12 bars missed during the gap arrived in one backfill, before any new poll
    gap_end = strat.clock.index(max(strat.clock[:25]))
    assert len([c for c in strat.clock if c == strat.clock[gap_end]]) >= 12


def test_five_minute_bars(emulator_factory, backend):
    rows = synthetic_candles(61, T0)
    emu = emulator_factory(candles=rows, clock_ms=T0 + 60 * MIN + 1)
    strat, _ = _run(
        emu, backend, timeframe=bt.TimeFrame.Minutes, compression=5, fromdate=from_ms(T0),
        historical=True,
    )  # fmt: skip
    expected = []
    for k in range(12):
        chunk = rows[5 * k : 5 * k + 5]
        expected.append(
            (
                date2num(from_ms(chunk[0][0])),
                chunk[0][1],
                max(r[2] for r in chunk),
                min(r[3] for r in chunk),
                chunk[-1][4],
                float(sum(r[5] for r in chunk)),
            )
        )
    assert strat.bars == expected


@pytest.mark.parametrize(
    ("timeframe", "compression", "name"),
    [
        (bt.TimeFrame.Seconds, 1, "1s"),
        (bt.TimeFrame.Minutes, 1, "1m"),
        (bt.TimeFrame.Minutes, 15, "15m"),
        (bt.TimeFrame.Minutes, 60, "1h"),
        (bt.TimeFrame.Minutes, 240, "4h"),
        (bt.TimeFrame.Days, 1, "1d"),
        (bt.TimeFrame.Weeks, 1, "1w"),
        (bt.TimeFrame.Months, 1, "1M"),
    ],
)
def test_timeframe_names(timeframe, compression, name):
    import ccxt

    assert ccxt_timeframe(timeframe, compression, ccxt.binance().timeframes) == name
    if name != "1M":
        assert timeframe_ms(name) == {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[
            name[-1]
        ] * 1000 * int(name[:-1])


@pytest.mark.parametrize(
    ("timeframe", "compression", "match"),
    [
        (bt.TimeFrame.Ticks, 1, "has no ccxt candles"),
        (bt.TimeFrame.Years, 1, "has no ccxt candles"),
        (bt.TimeFrame.Minutes, 7, "'7m'.*not offered by the exchange: use one of 1s, 1m"),
    ],
)
def test_unsupported_timeframes_are_named(emulator_factory, timeframe, compression, match):
    import ccxt

    with pytest.raises(TimeFrameError, match=match):
        ccxt_timeframe(timeframe, compression, ccxt.binance().timeframes)
    emu = emulator_factory(candles=synthetic_candles(5, T0))
    data = CrackStore(client=emu.client()).getdata(
        dataname=SYM, timeframe=timeframe, compression=compression
    )
    with pytest.raises(TimeFrameError):
        data.start()


def test_datetimes_are_utc_whatever_the_host_time_zone(monkeypatch):
    if not hasattr(time, "tzset"):
        pytest.fail("time.tzset is needed (POSIX)")
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        naive = dt.datetime(2023, 11, 14, 0, 0)
        assert to_ms(naive) == 1_699_920_000_000
        assert to_ms(naive.replace(tzinfo=dt.timezone.utc)) == 1_699_920_000_000
        assert from_ms(1_699_920_000_000) == naive
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert os.environ.get("TZ") is None


def test_feed_needs_a_store():
    with pytest.raises(ValueError, match="store is None"):
        CrackData(dataname=SYM)
