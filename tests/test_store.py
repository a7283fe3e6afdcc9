"""``CrackStore``: one ccxt instance per exchange and key, retries by method class, no secret
ever shown (repr, logs, exceptions), paper by default and live only with keys."""

from __future__ import annotations

import logging
import pickle

import backtrader as bt
import ccxt
import pytest

import bt_cracktrader
from bt_cracktrader.emulator import OFFLINE_OPTIONS, synthetic_candles
from bt_cracktrader.paper import PaperBroker
from bt_cracktrader.store import API_KEY_ENV, SECRET_ENV, CrackStore, CrackStoreError

MIN = 60_000
T0 = 1_700_000_000_000 // 86_400_000 * 86_400_000
SYM = "BTC/USDT"
KEY = "k3y-ABCDEF0123456789-never-shown"
SECRET = "s3cr3t-ZYXWVU9876543210-never-shown"


@pytest.fixture
def emu(emulator_factory):
    e = emulator_factory(
        candles=synthetic_candles(50, T0), clock_ms=T0 + 49 * MIN + 1, api_key=KEY, secret=SECRET
    )
    e.set_price(SYM, 30000.0)
    return e


def _store(emu, **kwargs):
    # the sandbox path: the exchange's testnet URLs, then every URL localised to the emulator
    config = {"apiKey": KEY, "secret": SECRET, "options": dict(OFFLINE_OPTIONS)}
    config.update(timeout=300, enableRateLimit=False)
    return CrackStore(exchange="binance", config=config, sandbox=True, url=emu.url, **kwargs)


@pytest.fixture
def store(emu):
    s = _store(emu, backoff=0.25)
    s.waits = []
    s.sleep = s.waits.append  # no real waiting: the waits are recorded
    return s


def test_registered_on_import():
    assert bt.stores.CrackStore is CrackStore is bt_cracktrader.CrackStore


def test_one_store_and_one_ccxt_instance_per_exchange_and_key(emu):
    a = _store(emu)
    b = _store(emu)
    assert a is b and a.exchange is b.exchange
    data = a.getdata(dataname=SYM, timeframe=bt.TimeFrame.Minutes)
    broker = a.getbroker()
    assert data._store is a and broker.p.store is a
    other_key = CrackStore(
        exchange="binance", config={"apiKey": "other", "secret": "x"}, sandbox=True, url=emu.url
    )
    assert other_key is not a and other_key.exchange is not a.exchange
    a.close()
    assert _store(emu) is not a


def test_sandbox_and_url_send_everything_to_the_emulator(emu, store):
    assert all(u.startswith(emu.url) for u in store.exchange.urls["api"].values())
    assert store.exchange.isSandboxModeEnabled
    store.load_markets()
    store.load_markets()  # loaded once
    assert emu.requests("GET", "/api/v3/exchangeInfo") == 1
    spec = store.market(SYM)
    assert (spec.amount_step, spec.price_step, spec.min_cost, spec.taker) == (
        1e-05,
        0.01,
        5.0,
        0.001,
    )
    with pytest.raises(CrackStoreError, match="'ETH/BTC' is not a market of binance"):
        store.market("ETH/BTC")


def test_keys_from_the_environment(monkeypatch, emu):
    monkeypatch.setenv(API_KEY_ENV, KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    store = CrackStore(
        exchange="binance", config={"options": dict(OFFLINE_OPTIONS)}, sandbox=True, url=emu.url
    )
    assert store.has_keys
    assert store.call("fetch_balance")["USDT"]["free"] == 100000.0


def test_secrets_never_in_repr_logs_or_exceptions(caplog, emu, store):
    caplog.set_level(logging.DEBUG)
    texts = [repr(store), str(store)]
    store.load_markets()
    store.call("fetch_balance")
    store.call("create_order", SYM, "market", "buy", 0.001)
    emu.inject("GET", "/api/v3/account", "http503", times=2)
    store.call("fetch_balance")  # retried, with WARNING lines
    # a store per (exchange, key): a wrong secret needs its own ccxt instance
    bad = CrackStore(client=emu.client(secret=SECRET + "-wrong"))
    texts.append(repr(bad))
    with pytest.raises(ccxt.AuthenticationError) as info:
        bad.call("fetch_balance")
    texts += [str(info.value), repr(info.value)]
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(store)
    texts += [r.getMessage() for r in caplog.records]
    assert any("retry 1/3" in t for t in texts)
    assert any("X-MBX-APIKEY" in t for t in texts)  # ccxt did log its headers, masked
    for text in texts:
        assert KEY not in text and SECRET not in text, text


def test_reads_are_retried_with_backoff(emu, store):
    store.load_markets()
    emu.inject("GET", "/api/v3/account", "http503", times=1)
    emu.inject("GET", "/api/v3/account", "drop_before", times=1)
    store.call("fetch_balance")
    assert emu.requests("GET", "/api/v3/account") == 3
    assert len(store.waits) == 2
    assert 0.25 <= store.waits[0] <= 0.275 and 0.5 <= store.waits[1] <= 0.55


def test_reads_give_up_after_the_retries(emu, store):
    store.load_markets()
    emu.inject("GET", "/api/v3/klines", "http500", times=10)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        store.call("fetch_ohlcv", SYM, "1m", T0, 10)
    assert emu.requests("GET", "/api/v3/klines") == 4  # 1 + retries


def test_timeouts_are_retried(emulator_factory):
    emu = emulator_factory(candles=synthetic_candles(5, T0), timeout_delay_s=0.3)
    store = CrackStore(client=emu.client(timeout=100), backoff=0.0)
    store.load_markets()
    emu.inject("GET", "/api/v3/klines", "timeout", times=1)
    assert len(store.call("fetch_ohlcv", SYM, "1m", T0, 10)) == 5
    assert emu.requests("GET", "/api/v3/klines") == 2


def test_rate_limits_back_off_longer_and_honour_retry_after(emu, store):
    store.load_markets()
    emu.inject("GET", "/api/v3/account", "http429", times=1)
    emu.inject("GET", "/api/v3/account", "http418", times=1)
    store.call("fetch_balance")
    # 4 x the backoff (0.25 s, then 0.5 s, with up to 10 % jitter), or Retry-After (1 s)
    assert 1.0 <= store.waits[0] <= 1.1
    assert 2.0 <= store.waits[1] <= 2.2
    store.p.backoff = 0.1
    emu.inject("GET", "/api/v3/account", "http429", times=1)
    store.call("fetch_balance")
    assert store.waits[2] == 1.0  # Retry-After wins over 4 x 0.1 s


@pytest.mark.parametrize("fault", ["drop_after", "http503", "http429", "timeout_after"])
def test_order_placement_is_never_retried(emulator_factory, fault):
    emu = emulator_factory(candles=synthetic_candles(5, T0), timeout_delay_s=0.3)
    emu.set_price(SYM, 30000.0)
    store = CrackStore(client=emu.client(timeout=100), backoff=0.0)
    store.load_markets()
    emu.inject("POST", "/api/v3/order", fault)
    with pytest.raises(ccxt.NetworkError):
        store.call("create_order", SYM, "market", "buy", 0.001, None, {"clientOrderId": "n-1"})
    assert emu.requests("POST", "/api/v3/order") == 1
    placed = fault in ("drop_after", "timeout_after")
    assert len(emu.ledger()["orders"]) == (1 if placed else 0)


def test_cancel_is_retried(emu, store):
    store.load_markets()
    order = store.call("create_order", SYM, "limit", "buy", 0.01, 20000.0)
    emu.inject("DELETE", "/api/v3/order", "http503")
    assert store.call("cancel_order", order["id"], SYM)["status"] == "canceled"
    assert emu.requests("DELETE", "/api/v3/order") == 2


def test_errors_that_are_not_transient_are_raised_at_once(emu, store):
    store.load_markets()
    with pytest.raises(ccxt.InsufficientFunds):
        store.call("create_order", SYM, "limit", "buy", 100.0, 20000.0)
    with pytest.raises(ccxt.OrderNotFound):
        store.call("fetch_order", "12345", SYM)
    assert emu.requests("GET", "/api/v3/order") == 1
    assert store.waits == []


def test_invalid_nonce_resyncs_the_clock_once(monkeypatch, store):
    calls = []

    def flaky(*args, **kwargs):
        calls.append("fetch")
        if calls.count("fetch") < 3:
            raise ccxt.InvalidNonce("binance -1021 Timestamp outside of the recvWindow")
        return {"ok": True}

    monkeypatch.setattr(store.exchange, "fetch_balance", flaky)
    monkeypatch.setattr(store.exchange, "load_time_difference", lambda: calls.append("resync"))
    with pytest.raises(ccxt.InvalidNonce):
        store.call("fetch_balance")
    assert calls == ["fetch", "resync", "fetch"]
    assert store.call("fetch_balance") == {"ok": True}  # the third call works


def test_paper_is_the_default_and_live_needs_keys(emulator_factory, monkeypatch, backend):
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    monkeypatch.delenv(SECRET_ENV, raising=False)
    emu = emulator_factory(candles=synthetic_candles(5, T0))
    keyless = CrackStore(exchange="binance", config={"options": dict(OFFLINE_OPTIONS)}, url=emu.url)
    broker = keyless.getbroker(backend=backend, cash=5000.0)
    assert isinstance(broker, PaperBroker) and broker.backend == backend
    with pytest.raises(CrackStoreError, match="live trading needs an API key and secret"):
        keyless.getbroker(live=True)


def test_unknown_exchange():
    with pytest.raises(CrackStoreError, match="unknown ccxt exchange 'nope'"):
        CrackStore(exchange="nope")
