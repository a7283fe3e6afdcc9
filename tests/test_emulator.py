"""The exchange emulator behaves like Binance spot for the real ccxt client.

Every test drives ``ccxt.binance`` (the installed client, unpatched) against an
``ExchangeEmulator`` on 127.0.0.1: markets, klines pagination and the forming candle, orders,
Binance's error codes as ccxt maps them, the HMAC signature, faults and scripted reports.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import ccxt
import pytest

from bt_cracktrader.emulator import FAULTS, ExchangeEmulator, candles_from_csv

MIN = 60_000
T0 = 1_700_000_000_000 // 86_400_000 * 86_400_000  # a recent UTC midnight
SYM = "BTC/USDT"


def _rows(n: int, start: int = T0, step: int = MIN) -> list[list[float]]:
    # distinct, exactly representable prices: the open time is readable from the close
    return [
        [start + i * step, 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 10.0 + i % 7]
        for i in range(n)
    ]


@pytest.fixture
def emu():
    with ExchangeEmulator(candles=_rows(2500), clock_ms=T0 + 2500 * MIN) as e:
        e.set_price(SYM, 30000.0)
        yield e


@pytest.fixture
def ex(emu):
    client = emu.client(timeout=500)
    client.load_markets()
    return client


def test_load_markets_is_one_request_with_binance_filters(emu, ex) -> None:
    assert emu.request_log == [("GET", "/api/v3/exchangeInfo", {})]
    market = ex.market(SYM)
    assert market["precision"]["amount"] == 1e-05
    assert market["precision"]["price"] == 0.01
    assert market["limits"]["amount"]["min"] == 1e-05
    assert market["limits"]["cost"]["min"] == 5.0
    assert market["taker"] == 0.001


def test_every_url_points_at_the_emulator(emu, ex) -> None:
    assert all(v.startswith(emu.url) for v in ex.urls["api"].values())


def test_klines_paginate_in_pages_of_1000_without_gaps(emu, ex) -> None:
    got, since, calls = [], T0, 0
    while True:
        batch = ex.fetch_ohlcv(SYM, "1m", since=since, limit=5000)  # capped at 1000
        calls += 1
        if not batch:
            break
        got += batch
        since = batch[-1][0] + MIN
    assert calls == 4
    assert [c[0] for c in got] == [T0 + i * MIN for i in range(2500)]
    assert got[1234] == [T0 + 1234 * MIN, 1334.0, 1335.0, 1333.0, 1334.5, 10.0 + 1234 % 7]


def test_klines_without_start_are_the_latest(emu, ex) -> None:
    got = ex.fetch_ohlcv(SYM, "1m", limit=3)
    assert [c[0] for c in got] == [T0 + i * MIN for i in (2497, 2498, 2499)]


def test_the_last_candle_is_the_forming_one(emu, ex) -> None:
    emu.set_clock(T0 + 2499 * MIN + 30_000)  # half-way through the last candle
    emu.set_price(SYM, 2700.0)
    last = ex.fetch_ohlcv(SYM, "1m", limit=2)
    assert last[0] == [T0 + 2498 * MIN, 2598.0, 2599.0, 2597.0, 2598.5, 10.0 + 2498 % 7]
    # forming: opened at 2599, traded up to the current price so far, half its volume
    assert last[1] == [T0 + 2499 * MIN, 2599.0, 2700.0, 2599.0, 2700.0, (10.0 + 2499 % 7) / 2]
    emu.advance(30_000)  # it closes: the full candle, and the price set is forgotten
    assert ex.fetch_ohlcv(SYM, "1m", limit=1)[0][4] == 2599.5


def test_no_candle_after_the_clock(emu, ex) -> None:
    emu.set_clock(T0 + 10 * MIN)
    got = ex.fetch_ohlcv(SYM, "1m", since=T0, limit=1000)
    assert len(got) == 11  # ten closed and the forming one
    assert ex.fetch_ohlcv(SYM, "1m", since=T0 + 11 * MIN) == []


def test_klines_aggregate_to_longer_intervals(emu, ex) -> None:
    got = ex.fetch_ohlcv(SYM, "5m", since=T0, limit=2)
    assert got[0] == [T0, 100.0, 105.0, 99.0, 104.5, sum(10.0 + i % 7 for i in range(5))]
    assert got[1][0] == T0 + 5 * MIN


def test_market_order_fills_at_once_in_two_fills(emu, ex) -> None:
    order = ex.create_order(SYM, "market", "buy", 0.01, params={"clientOrderId": "c-1"})
    assert (order["status"], order["filled"], order["average"]) == ("closed", 0.01, 30000.0)
    assert order["clientOrderId"] == "c-1"
    assert len(order["trades"]) == 2
    ledger = emu.ledger()
    assert [f["qty"] for f in ledger["fills"]] == [0.005, 0.005]
    assert sum(f["fee"] for f in ledger["fills"]) == 1e-05  # in BTC, the asset received
    assert ledger["balances"]["BTC"] == {"free": 0.00999, "locked": 0.0}
    assert ledger["balances"]["USDT"] == {"free": 100000.0 - 300.0, "locked": 0.0}
    assert ledger["orders"][0]["status"] == "FILLED"


def test_limit_order_rests_fills_partly_and_cancels(emu, ex) -> None:
    order = ex.create_order(SYM, "limit", "buy", 0.01, 29000.0, params={"clientOrderId": "c-2"})
    assert (order["status"], order["filled"]) == ("open", 0.0)
    assert emu.ledger()["balances"]["USDT"] == {"free": 100000.0 - 290.0, "locked": 290.0}
    emu.fill("c-2", 0.004, 29000.0)
    seen = ex.fetch_order(order["id"], SYM)
    assert (seen["status"], seen["filled"], seen["remaining"]) == ("open", 0.004, 0.006)
    by_cid = ex.fetch_order(None, SYM, {"clientOrderId": "c-2"})
    assert by_cid["id"] == order["id"]
    assert [o["id"] for o in ex.fetch_open_orders()] == [order["id"]]
    canceled = ex.cancel_order(order["id"], SYM)
    assert (canceled["status"], canceled["filled"]) == ("canceled", 0.004)
    assert canceled["info"]["origClientOrderId"] == "c-2"
    assert ex.fetch_open_orders(SYM) == []
    trades = ex.fetch_my_trades(SYM)
    assert [(t["amount"], t["price"], t["takerOrMaker"]) for t in trades] == [
        (0.004, 29000.0, "maker")
    ]
    assert emu.ledger()["balances"]["USDT"]["locked"] == 0.0


def test_marketable_limit_fills_at_once(emu, ex) -> None:
    ex.create_order(SYM, "market", "buy", 0.02)
    order = ex.create_order(SYM, "limit", "sell", 0.01, 29000.0)
    assert (order["status"], order["filled"], order["average"]) == ("closed", 0.01, 30000.0)
    assert order["fee"] == {"currency": "USDT", "cost": 0.3}


def _raw_order(ex, **params):
    request = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    return ex.privatePostOrder({**request, **params})


@pytest.mark.parametrize(
    ("params", "error", "msg"),
    [
        ({"quantity": "0.000001", "price": "30000"}, ccxt.InvalidOrder, "LOT_SIZE"),
        ({"quantity": "0.010001", "price": "30000"}, ccxt.InvalidOrder, "LOT_SIZE"),
        ({"quantity": "0.01", "price": "30000.001"}, ccxt.InvalidOrder, "PRICE_FILTER"),
        ({"quantity": "0.0001", "price": "30000"}, ccxt.BadRequest, "NOTIONAL"),
        ({"quantity": "10", "price": "30000"}, ccxt.InsufficientFunds, "insufficient balance"),
    ],
)
def test_binance_filter_and_balance_errors(emu, ex, params, error, msg) -> None:
    with pytest.raises(error, match=msg):
        _raw_order(ex, **params)
    assert emu.ledger()["orders"] == []


def test_duplicate_client_id_among_open_orders(emu, ex) -> None:
    ex.create_order(SYM, "limit", "buy", 0.01, 20000.0, params={"clientOrderId": "dup"})
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent."):
        ex.create_order(SYM, "limit", "buy", 0.01, 20000.0, params={"clientOrderId": "dup"})
    ex.cancel_order(None, SYM, {"clientOrderId": "dup"})
    # unique among OPEN orders only, as on Binance
    ex.create_order(SYM, "limit", "buy", 0.01, 20000.0, params={"clientOrderId": "dup"})


def test_unknown_orders(emu, ex) -> None:
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        ex.fetch_order("999", SYM)
    done = ex.create_order(SYM, "market", "buy", 0.001)
    with pytest.raises(ccxt.OrderNotFound, match="-2011"):
        ex.cancel_order(done["id"], SYM)
    with pytest.raises(ccxt.ExchangeError, match="no route GET /api/v3/allOrders"):
        ex.fetch_orders(SYM)


def test_signature_and_key_are_checked(emu) -> None:
    bad_secret = emu.client(secret="not-the-secret")
    bad_secret.load_markets()
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        bad_secret.fetch_balance()
    bad_key = emu.client(apiKey="not-the-key")
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        bad_key.fetch_balance()
    assert emu.ledger()["balances"]["USDT"]["free"] == 100000.0


def test_secrets_are_never_logged(emu, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = emu.client()
    client.load_markets()
    client.fetch_balance()
    client.create_order(SYM, "market", "buy", 0.001)
    # ccxt itself logs the key in request headers at DEBUG (the store redacts it): the
    # emulator's own records must not
    own = [r.getMessage() for r in caplog.records if r.name.startswith("bt_cracktrader")]
    assert own
    text = "\n".join(own) + repr(emu) + str(emu.request_log)
    assert "emu-key" not in text and "emu-secret" not in text
    assert all("signature" not in params for _, _, params in emu.request_log)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("drop_before", ccxt.NetworkError),
        ("drop_after", ccxt.NetworkError),
        ("http429", ccxt.DDoSProtection),
        ("http418", ccxt.DDoSProtection),
        ("http500", ccxt.ExchangeNotAvailable),
        ("http503", ccxt.ExchangeNotAvailable),
        ("timeout", ccxt.RequestTimeout),
        ("timeout_after", ccxt.RequestTimeout),
    ],
)
def test_faults_on_order_placement(emu, fault, error) -> None:
    assert fault in FAULTS
    emu.timeout_delay_s = 0.25
    client = emu.client(timeout=150)
    client.load_markets()
    emu.inject("POST", "/api/v3/order", fault)
    with pytest.raises(error):
        client.create_order(SYM, "market", "buy", 0.001, params={"clientOrderId": "f-1"})
    processed = fault in ("drop_after", "timeout_after")
    assert len(emu.ledger()["orders"]) == (1 if processed else 0)
    assert emu.requests("POST", "/api/v3/order") == 1
    # the fault is spent: the next request goes through
    client.create_order(SYM, "market", "buy", 0.001, params={"clientOrderId": "f-2"})
    assert emu.requests("POST", "/api/v3/order") == 2


def test_lost_reply_is_recovered_by_client_order_id(emu, ex) -> None:
    emu.inject("POST", "/api/v3/order", "drop_after")
    with pytest.raises(ccxt.NetworkError):
        ex.create_order(SYM, "market", "buy", 0.001, params={"clientOrderId": "lost-1"})
    found = ex.fetch_order(None, SYM, {"clientOrderId": "lost-1"})
    assert (found["status"], found["filled"]) == ("closed", 0.001)


def test_inject_after_and_times(emu, ex) -> None:
    emu.inject("GET", "/api/v3/account", "http503", times=2, after=1)
    ex.fetch_balance()
    for _ in range(2):
        with pytest.raises(ccxt.ExchangeNotAvailable):
            ex.fetch_balance()
    ex.fetch_balance()
    assert emu.requests("GET", "/api/v3/account") == 4
    with pytest.raises(ValueError, match="fault must be one of"):
        emu.inject("GET", "/api/v3/account", "explode")


def test_scripted_reports_then_the_truth(emu, ex) -> None:
    order = ex.create_order(SYM, "limit", "buy", 0.01, 29000.0, params={"clientOrderId": "s-1"})
    emu.fill("s-1", 0.004, 29000.0)
    part = {"status": "PARTIALLY_FILLED", "executedQty": "0.004", "cummulativeQuoteQty": "116"}
    stale = {"status": "NEW", "executedQty": "0", "cummulativeQuoteQty": "0"}
    emu.script_reports("s-1", [part, part, stale])
    seen = [ex.fetch_order(order["id"], SYM)["filled"] for _ in range(3)]
    assert seen == [0.004, 0.004, 0.0]
    emu.fill("s-1", 0.006, 28999.0)
    final = ex.fetch_order(order["id"], SYM)
    assert (final["status"], final["filled"], final["cost"]) == ("closed", 0.01, 289.994)


def test_expire_frees_the_locked_funds(emu, ex) -> None:
    order = ex.create_order(SYM, "limit", "buy", 0.01, 29000.0)
    emu.expire(order["id"])
    assert ex.fetch_order(order["id"], SYM)["status"] == "expired"
    assert emu.ledger()["balances"]["USDT"] == {"free": 100000.0, "locked": 0.0}


def test_async_client(emu) -> None:
    async def run() -> tuple[float, float]:
        client = emu.client(async_=True)
        try:
            await client.load_markets()
            order = await client.create_order(SYM, "market", "buy", 0.01)
            balance = await client.fetch_balance()
            return order["filled"], balance["BTC"]["free"]
        finally:
            await client.close()

    assert asyncio.run(run()) == (0.01, 0.00999)


def test_candles_from_a_backtrader_csv(data_dir: Path) -> None:
    rows = candles_from_csv(data_dir / "2006-01-02-volume-min-001.txt", start_ms=T0)
    assert rows[0] == [T0, 3602.0, 3603.0, 3597.0, 3599.0, 5699.0]
    assert rows[-1][0] == T0 + (len(rows) - 1) * MIN
    with ExchangeEmulator(candles=rows[:100]) as emu:
        # no clock given: half-way through the last candle, which is the forming one
        assert emu.now_ms == T0 + 99 * MIN + 30_000
        assert emu.price(SYM) == rows[99][1]


def test_match_on_advance_fills_resting_limits_at_their_price() -> None:
    rows = _rows(10)
    with ExchangeEmulator(candles=rows, clock_ms=T0 + 5 * MIN, match_on_advance=True) as emu:
        ex = emu.client()
        ex.load_markets()
        # candle 5 (forming) opened at 105; the next closed lows are 104, 105...
        buy = ex.create_order(SYM, "limit", "buy", 0.1, 104.5)
        assert buy["status"] == "open"
        emu.advance(MIN)  # candle 5 closes: low 104 <= 104.5
        done = ex.fetch_order(buy["id"], SYM)
        assert (done["status"], done["filled"], done["average"]) == ("closed", 0.1, 104.5)
        assert emu.ledger()["fills"][-1]["maker"] is True
