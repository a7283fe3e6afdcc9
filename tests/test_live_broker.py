"""``LiveBroker`` against the Binance-spot emulator, through the real ccxt client: lost replies,
rate limits, 5xx, timeouts, duplicate, stale and reordered reports, partial fills, a cancel
racing a fill, refusals, secrets. After each scenario the broker's books equal the emulator's
own ledger, and a Backtrader strategy saw the expected ``notify_order`` sequence.

The scenarios' helpers are in ``tests/support/live_support.py``.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import backtrader as bt
import pytest
from live_support import (
    API_KEY,
    FEE_RATE,
    ORDER,
    PRICE,
    SECRET,
    START_USDT,
    SYMBOL,
    Script,
    assert_books_match,
    buy,
    cancel,
    check_engine_live,
    check_store_live,
    fill,
    make_broker,
    make_emulator,
    run_live_cerebro,
    sell,
    steps,
)

from bt_cracktrader.core import CONTRACT_VERSION, load_ledger
from bt_cracktrader.core.replay import load
from bt_cracktrader.emulator import ExchangeEmulator
from bt_cracktrader.livebroker import (
    LiveBroker,
    LiveBrokerError,
    LiveTradingNotEnabled,
    replay_ledger_log,
)


@pytest.fixture
def emu() -> Iterator[ExchangeEmulator]:
    with make_emulator() as emulator:
        emulator.set_price(SYMBOL, PRICE)
        yield emulator


# -- the happy path ----------------------------------------------------------------------------
def test_market_buy_then_sell(backend: str, emu: ExchangeEmulator) -> None:
    strat, broker = run_live_cerebro(backend, emu, {0: buy(1.0), 2: sell(0.5)})
    first, second = strat.placed
    assert strat.statuses(first) == [("Submitted", 0.0), ("Accepted", 0.0), ("Completed", 1.0)]
    assert strat.statuses(second) == [
        ("Submitted", 0.0),
        ("Accepted", 0.0),
        ("Completed", -0.5),
    ]
    assert emu.requests("POST", ORDER) == 2
    assert len(emu.ledger()["fills"]) == 4  # the emulator fills a market order in two parts
    assert_books_match(broker, emu)
    # the buy's fee was charged in BTC and booked in USDT at the fill price
    assert broker._ledger.order(broker.client_id(first))["fee"] == 2 * (0.5 * FEE_RATE) * PRICE
    assert first.executed.comm == 2 * (0.5 * FEE_RATE) * PRICE
    assert broker.getvalue() == broker.cash + 0.5 * PRICE


def test_client_order_id_is_deterministic_and_sent(backend: str, emu: ExchangeEmulator) -> None:
    strat, broker = run_live_cerebro(backend, emu, {0: buy(0.5, 19000.0)}, client_id_prefix="x-")
    (order,) = strat.placed
    assert broker.client_id(order) == f"x-t-{order.ref}"
    (placed,) = emu.ledger()["orders"]
    assert placed["client_id"] == f"x-t-{order.ref}"


# -- lost replies and retries ------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["drop_after", "timeout_after"])
def test_lost_reply_after_a_market_order_is_reconciled_never_resent(
    backend: str, emu: ExchangeEmulator, fault: str
) -> None:
    emu.inject("POST", ORDER, fault)
    # even with ccxt's own retries configured on the client, the order goes out once
    strat, broker = run_live_cerebro(
        backend, emu, {0: buy(1.0)}, client={"options": {"maxRetriesOnFailure": 3}}
    )
    assert emu.requests("POST", ORDER) == 1
    assert len(emu.ledger()["orders"]) == 1
    assert strat.statuses() == [("Submitted", 0.0), ("Accepted", 0.0), ("Completed", 1.0)]
    assert_books_match(broker, emu)


def test_lost_reply_of_a_resting_limit_then_partial_fills(
    backend: str, emu: ExchangeEmulator
) -> None:
    emu.inject("POST", ORDER, "drop_after")
    strat, broker = run_live_cerebro(
        backend,
        emu,
        {0: buy(2.0, 19000.0), 2: fill(emu, 0.5, 19000.0), 4: fill(emu, 1.5, 18500.0)},
    )
    assert emu.requests("POST", ORDER) == 1
    assert strat.statuses() == [
        ("Submitted", 0.0),
        ("Accepted", 0.0),
        ("Partial", 0.5),
        ("Completed", 2.0),
    ]
    assert_books_match(broker, emu)


@pytest.mark.parametrize("fault", ["drop_before", "timeout", "http503"])
def test_an_order_that_never_reached_the_exchange_is_rejected(
    backend: str, emu: ExchangeEmulator, fault: str
) -> None:
    emu.inject("POST", ORDER, fault)
    strat, broker = run_live_cerebro(backend, emu, {0: buy(1.0)})
    assert emu.requests("POST", ORDER) == 1
    assert emu.ledger()["orders"] == []
    assert strat.statuses() == [("Submitted", 0.0), ("Rejected", 0.0)]
    (order,) = strat.placed
    assert "never reached binance" in order.info["error"]
    assert_books_match(broker, emu)


def test_an_unknown_order_waits_out_the_grace_window(backend: str, emu: ExchangeEmulator) -> None:
    emu.inject("POST", ORDER, "drop_before")
    clock = [0.0]

    def tick(s: Script) -> None:
        clock[0] += 1.0

    strat, broker = run_live_cerebro(
        backend,
        emu,
        {0: buy(1.0), 1: tick, 2: tick, 3: tick},
        grace=2.5,
        clock=lambda: clock[0],
    )
    assert strat.statuses() == [("Submitted", 0.0), ("Rejected", 0.0)]
    # looked up at bars 1, 2, 3 (within the grace window) and 4 (past it: rejected)
    lookups = [r for r in emu.request_log if r[:2] == ("GET", ORDER)]
    assert len(lookups) == 4
    assert all(r[2].get("origClientOrderId") == broker.client_id(strat.placed[0]) for r in lookups)


def test_rate_limit_on_create_backs_off_and_never_resends(
    backend: str, emu: ExchangeEmulator
) -> None:
    emu.inject("POST", ORDER, "http429")
    sleeps: list[float] = []
    strat, broker = run_live_cerebro(backend, emu, {0: buy(1.0), 3: buy(2.0)}, sleeps=sleeps)
    assert sleeps == [0.04]  # Retry-After: 1 s, capped at backoff_max
    assert emu.requests("POST", ORDER) == 2
    first, second = strat.placed
    assert strat.statuses(first) == [("Submitted", 0.0), ("Rejected", 0.0)]
    assert strat.statuses(second)[-1] == ("Completed", 2.0)
    assert_books_match(broker, emu)


@pytest.mark.parametrize("fault", ["http429", "http418", "http500", "http503", "timeout"])
def test_reads_are_retried_with_backoff(backend: str, emu: ExchangeEmulator, fault: str) -> None:
    def fault_two_reads(s: Script) -> None:
        emu.inject("GET", ORDER, fault, times=2)

    sleeps: list[float] = []
    strat, broker = run_live_cerebro(
        backend,
        emu,
        {0: buy(2.0, 19000.0), 1: steps(fill(emu, 2.0, 19000.0), fault_two_reads)},
        sleeps=sleeps,
    )
    rate_limited = fault in ("http429", "http418")
    # the third try of the bar-2 poll succeeds: backoff 0.01, 0.02 (Retry-After capped: 0.04)
    assert sleeps == ([0.04, 0.04] if rate_limited else [0.01, 0.02])
    assert strat.statuses() == [("Submitted", 0.0), ("Accepted", 0.0), ("Completed", 2.0)]
    assert_books_match(broker, emu)


def test_reads_that_keep_failing_wait_for_the_next_poll(
    backend: str, emu: ExchangeEmulator
) -> None:
    def fault_reads(s: Script) -> None:
        emu.inject("GET", ORDER, "http500", times=5)

    sleeps: list[float] = []
    strat, broker = run_live_cerebro(
        backend,
        emu,
        {0: buy(2.0, 19000.0), 1: steps(fill(emu, 2.0, 19000.0), fault_reads)},
        retries=2,
        sleeps=sleeps,
    )
    assert sleeps == [0.01, 0.02, 0.01, 0.02]  # two polls gave up, the third got through
    assert strat.statuses() == [("Submitted", 0.0), ("Accepted", 0.0), ("Completed", 2.0)]
    assert_books_match(broker, emu)


def test_fills_before_a_lost_reply_is_reconciled(backend: str, emu: ExchangeEmulator) -> None:
    def lost_then_filled(s: Script) -> Any:
        emu.inject("POST", ORDER, "drop_after")
        order = s.buy(size=2.0, price=19000.0, exectype=bt.Order.Limit)
        emu.fill(s.broker.client_id(order), 0.5, 19000.0)
        return order

    strat, broker = run_live_cerebro(backend, emu, {0: lost_then_filled})
    assert strat.statuses() == [("Submitted", 0.0), ("Accepted", 0.0), ("Partial", 0.5)]
    assert_books_match(broker, emu)


def test_a_duplicate_order_reply_is_reconciled(backend: str, emu: ExchangeEmulator) -> None:
    """ccxt's own retry (doc 2.4-l) re-sent an order that was placed: the exchange answers
    "Duplicate order sent." for an order that is live."""

    def retrying_create(s: Script) -> Any:
        exchange = s.broker._exchange
        real = exchange.create_order

        def create_twice(*args: Any) -> Any:
            real(*args)
            return real(*args)

        exchange.create_order = create_twice
        try:
            return s.buy(size=2.0, price=19000.0, exectype=bt.Order.Limit)
        finally:
            del exchange.create_order

    strat, broker = run_live_cerebro(backend, emu, {0: retrying_create, 2: fill(emu, 2.0, 19000.0)})
    assert emu.requests("POST", ORDER) == 2
    assert len(emu.ledger()["orders"]) == 1
    assert strat.statuses() == [("Submitted", 0.0), ("Accepted", 0.0), ("Completed", 2.0)]
    assert_books_match(broker, emu)


def test_a_clock_drift_is_resynced_once(backend: str, emu: ExchangeEmulator) -> None:
    def drift(s: Script) -> None:
        emu.fill(s.broker.client_id(s.placed[0]), 2.0, 19000.0)
        # signed requests now carry a timestamp a minute late: -1021, InvalidNonce
        s.broker._exchange.options["timeDifference"] = 60_000

    sleeps: list[float] = []
    strat, broker = run_live_cerebro(backend, emu, {0: buy(2.0, 19000.0), 1: drift}, sleeps=sleeps)
    assert sleeps == []
    assert emu.requests("GET", "/api/v3/time") == 1
    assert strat.statuses() == [("Submitted", 0.0), ("Accepted", 0.0), ("Completed", 2.0)]
    assert_books_match(broker, emu)


def test_a_rate_limited_cancel_backs_off(backend: str, emu: ExchangeEmulator) -> None:
    def limited_cancel(s: Script) -> None:
        emu.inject("DELETE", ORDER, "http429")
        s.cancel(s.placed[0])

    sleeps: list[float] = []
    strat, broker = run_live_cerebro(
        backend, emu, {0: buy(2.0, 19000.0), 2: limited_cancel}, sleeps=sleeps
    )
    assert sleeps == [0.04]
    assert emu.requests("DELETE", ORDER) == 2
    assert strat.statuses() == [("Submitted", 0.0), ("Accepted", 0.0), ("Canceled", 0.0)]
    assert_books_match(broker, emu)


def test_a_fill_waits_for_its_trades(backend: str, emu: ExchangeEmulator) -> None:
    def fill_without_trades(s: Script) -> None:
        emu.fill(s.broker.client_id(s.placed[0]), 2.0, 19000.0)
        emu.inject("GET", "/api/v3/myTrades", "http500")

    strat, broker = run_live_cerebro(
        backend, emu, {0: buy(2.0, 19000.0), 1: fill_without_trades}, retries=0
    )
    # the poll of bar 2 saw the fill but not its trades (its fee): booked at bar 3
    assert strat.statuses() == [("Submitted", 0.0), ("Accepted", 0.0), ("Completed", 2.0)]
    (fill_rec,) = broker.fills
    assert fill_rec["fee"] == 2.0 * FEE_RATE * 19000.0
    assert emu.requests("GET", "/api/v3/myTrades") == 2
    assert_books_match(broker, emu)


def test_poll_spaces_the_exchange_calls(backend: str, emu: ExchangeEmulator) -> None:
    clock = [0.0]

    def tick(s: Script) -> None:
        clock[0] += 0.5

    strat, broker = run_live_cerebro(
        backend, emu, {0: buy(2.0, 19000.0), **{i: tick for i in range(1, 8)}},
        poll=1.0, clock=lambda: clock[0],
    )  # fmt: skip
    # bars 0..7 at clock 0, 0, 0.5, 1.0, ... 3.0: polls at bars 0, 3, 5, 7
    assert emu.requests("GET", ORDER) == 3


# -- reports -----------------------------------------------------------------------------------
def test_partial_fills_over_several_polls(backend: str, emu: ExchangeEmulator) -> None:
    strat, broker = run_live_cerebro(
        backend,
        emu,
        {
            0: buy(2.0, 19000.0),
            1: fill(emu, 0.5, 19000.0),
            # two fills between two polls: one Partial with their average price
            3: steps(fill(emu, 0.5, 18000.0), fill(emu, 0.5, 17000.0)),
            5: fill(emu, 0.5, 19000.0),
        },
    )
    assert strat.statuses() == [
        ("Submitted", 0.0),
        ("Accepted", 0.0),
        ("Partial", 0.5),
        ("Partial", 1.5),
        ("Completed", 2.0),
    ]
    prices = [rec["price"] for rec in broker.fills]
    assert prices == [19000.0, 17500.0, 19000.0]
    assert strat.placed[0].executed.price == 18250.0
    assert_books_match(broker, emu)


def test_duplicate_and_stale_reports_are_applied_once(backend: str, emu: ExchangeEmulator) -> None:
    def script(s: Script) -> None:
        cid = s.broker.client_id(s.placed[0])
        emu.fill(cid, 0.5, 19000.0)
        partial = {"status": "PARTIALLY_FILLED", "executedQty": "0.5",
                   "cummulativeQuoteQty": "9500"}  # fmt: skip
        stale = {"status": "NEW", "executedQty": "0", "cummulativeQuoteQty": "0"}
        emu.script_reports(cid, [partial, partial, stale, partial])

    strat, broker = run_live_cerebro(
        backend, emu, {0: buy(2.0, 19000.0), 1: script, 6: fill(emu, 1.5, 19000.0)}, bars=9
    )
    assert strat.statuses() == [
        ("Submitted", 0.0),
        ("Accepted", 0.0),
        ("Partial", 0.5),
        ("Completed", 2.0),
    ]
    categories = [d["category"] for d in broker.diagnostics]
    assert categories.count("stale_report") == 1
    assert categories.count("duplicate_report") >= 3
    assert_books_match(broker, emu)


def test_reordered_reports_never_move_an_order_back(backend: str, emu: ExchangeEmulator) -> None:
    def script(s: Script) -> None:
        cid = s.broker.client_id(s.placed[0])
        emu.fill(cid, 0.5, 19000.0)
        emu.fill(cid, 1.0, 19000.0)
        # the newer snapshot arrives first, the older one after it
        emu.script_reports(
            cid,
            [
                {"status": "PARTIALLY_FILLED", "executedQty": "1.5",
                 "cummulativeQuoteQty": "28500"},
                {"status": "PARTIALLY_FILLED", "executedQty": "0.5",
                 "cummulativeQuoteQty": "9500"},
            ],
        )  # fmt: skip

    strat, broker = run_live_cerebro(
        backend, emu, {0: buy(2.0, 19000.0), 1: script, 4: fill(emu, 0.5, 19000.0)}
    )
    assert strat.statuses() == [
        ("Submitted", 0.0),
        ("Accepted", 0.0),
        ("Partial", 1.5),
        ("Completed", 2.0),
    ]
    assert [d["category"] for d in broker.diagnostics].count("stale_report") == 1
    assert_books_match(broker, emu)


def test_the_venue_expires_an_order_after_a_partial_fill(
    backend: str, emu: ExchangeEmulator
) -> None:
    def expire(s: Script) -> None:
        emu.expire(s.broker.client_id(s.placed[0]))

    strat, broker = run_live_cerebro(
        backend, emu, {0: sell(2.0, 21000.0), 1: fill(emu, 0.5, 21000.0), 3: expire}
    )
    assert strat.statuses() == [
        ("Submitted", 0.0),
        ("Accepted", 0.0),
        ("Partial", -0.5),
        ("Expired", -0.5),
    ]
    assert_books_match(broker, emu)


# -- cancels -----------------------------------------------------------------------------------
def test_cancel_after_a_partial_fill(backend: str, emu: ExchangeEmulator) -> None:
    strat, broker = run_live_cerebro(
        backend,
        emu,
        {0: buy(2.0, 19000.0), 1: fill(emu, 0.5, 19000.0), 3: lambda s: s.cancel(s.placed[0])},
    )
    assert strat.statuses() == [
        ("Submitted", 0.0),
        ("Accepted", 0.0),
        ("Partial", 0.5),
        ("Canceled", 0.5),
    ]
    assert_books_match(broker, emu)


def test_cancel_racing_a_fill_ends_with_the_exchanges_truth(
    backend: str, emu: ExchangeEmulator
) -> None:
    # the order fills completely at the exchange just before the cancel arrives: -2011
    strat, broker = run_live_cerebro(
        backend,
        emu,
        {
            0: buy(2.0, 19000.0),
            2: steps(fill(emu, 0.5, 19000.0), fill(emu, 1.5, 18000.0),
                     lambda s: s.cancel(s.placed[0])),
        },
    )  # fmt: skip
    assert strat.statuses() == [("Submitted", 0.0), ("Accepted", 0.0), ("Completed", 2.0)]
    assert emu.requests("DELETE", ORDER) == 1
    assert_books_match(broker, emu)


def test_cancel_racing_a_partial_fill(backend: str, emu: ExchangeEmulator) -> None:
    strat, broker = run_live_cerebro(
        backend,
        emu,
        {
            0: sell(2.0, 21000.0),
            2: steps(fill(emu, 1.5, 21000.0), lambda s: s.cancel(s.placed[0])),
        },
    )
    # the cancel's reply brings the fill and the cancel at once: one notification
    assert strat.statuses() == [("Submitted", 0.0), ("Accepted", 0.0), ("Canceled", -1.5)]
    assert_books_match(broker, emu)


def test_a_lost_cancel_reply_is_resolved_by_querying(backend: str, emu: ExchangeEmulator) -> None:
    def lost_cancel(s: Script) -> None:
        emu.inject("DELETE", ORDER, "drop_after")
        s.cancel(s.placed[0])

    strat, broker = run_live_cerebro(backend, emu, {0: buy(2.0, 19000.0), 2: lost_cancel})
    # the retry of the cancel got -2011 (already canceled): the order was queried
    assert emu.requests("DELETE", ORDER) == 2
    assert strat.statuses() == [("Submitted", 0.0), ("Accepted", 0.0), ("Canceled", 0.0)]
    assert_books_match(broker, emu)


def test_a_cancel_that_keeps_failing_is_retried_at_the_next_polls(
    backend: str, emu: ExchangeEmulator
) -> None:
    def failing_cancel(s: Script) -> None:
        emu.inject("DELETE", ORDER, "http503", times=4)
        s.cancel(s.placed[0])

    strat, broker = run_live_cerebro(
        backend,
        emu,
        {0: buy(2.0, 19000.0), 2: failing_cancel, 3: fill(emu, 0.5, 19000.0)},
        retries=1,
    )
    # bars 2 and 3: both tries fail (at bar 3 the order is polled instead); bar 4: canceled
    assert emu.requests("DELETE", ORDER) == 5
    assert strat.statuses() == [("Submitted", 0.0), ("Accepted", 0.0), ("Canceled", 0.5)]
    assert_books_match(broker, emu)


def test_cancel_of_an_order_still_unknown_is_sent_once_it_is_found(
    backend: str, emu: ExchangeEmulator
) -> None:
    def lost_create(s: Script) -> Any:
        emu.inject("POST", ORDER, "drop_after")
        order = s.buy(size=2.0, price=19000.0, exectype=bt.Order.Limit)
        s.cancel(order)
        return order

    strat, broker = run_live_cerebro(backend, emu, {0: lost_create})
    assert emu.requests("POST", ORDER) == 1
    assert emu.requests("DELETE", ORDER) == 1
    assert strat.statuses() == [("Submitted", 0.0), ("Accepted", 0.0), ("Canceled", 0.0)]
    assert_books_match(broker, emu)


def test_cancel_of_a_finished_order_returns_false(backend: str, emu: ExchangeEmulator) -> None:
    results: list[bool] = []
    strat, broker = run_live_cerebro(
        backend,
        emu,
        {0: buy(1.0), 2: lambda s: results.append(s.broker.cancel(s.placed[0]))},
    )
    assert results == [False]
    assert emu.requests("DELETE", ORDER) == 0
    assert_books_match(broker, emu)


# -- refusals ----------------------------------------------------------------------------------
def test_insufficient_funds_is_margin_with_the_exchanges_message(
    backend: str, emu: ExchangeEmulator
) -> None:
    strat, broker = run_live_cerebro(backend, emu, {0: buy(10.0)})
    assert strat.statuses() == [("Submitted", 0.0), ("Margin", 0.0)]
    (order,) = strat.placed
    assert "insufficient balance" in order.info["error"]
    assert order.info["error"].startswith("InsufficientFunds: ")
    assert emu.ledger()["orders"] == []
    assert_books_match(broker, emu)


def test_an_invalid_order_is_rejected_with_the_exchanges_message(
    backend: str, emu: ExchangeEmulator
) -> None:
    strat, broker = run_live_cerebro(backend, emu, {0: buy(0.0002)})  # 4 USDT < NOTIONAL 5
    assert strat.statuses() == [("Submitted", 0.0), ("Rejected", 0.0)]
    (order,) = strat.placed
    assert "Filter failure: NOTIONAL" in order.info["error"]
    assert_books_match(broker, emu)


def test_a_symbol_the_exchange_does_not_list_is_rejected(
    backend: str, emu: ExchangeEmulator
) -> None:
    strat, broker = run_live_cerebro(backend, emu, {0: buy(1.0)}, symbol="ETH/USDT")
    assert strat.statuses() == [("Submitted", 0.0), ("Rejected", 0.0)]
    assert strat.placed[0].info["error"].startswith("BadSymbol: ")
    assert emu.requests("POST", ORDER) == 0
    assert_books_match(broker, emu)


def test_a_size_off_the_amount_step_is_rejected_before_sending(
    backend: str, emu: ExchangeEmulator
) -> None:
    strat, broker = run_live_cerebro(backend, emu, {0: buy(0.123456)})
    assert strat.statuses() == [("Submitted", 0.0), ("Rejected", 0.0)]
    assert (
        "size = 0.123456 is not a multiple of BTC/USDT's amount step"
        in (strat.placed[0].info["error"])
    )
    assert emu.requests("POST", ORDER) == 0


def test_unsupported_order_types_are_refused(backend: str, emu: ExchangeEmulator) -> None:
    errors: list[str] = []

    def stop_order(s: Script) -> None:
        with pytest.raises(NotImplementedError) as info:
            s.buy(size=1.0, price=21000.0, exectype=bt.Order.Stop)
        errors.append(str(info.value))

    run_live_cerebro(backend, emu, {0: stop_order})
    assert errors == ["LiveBroker: exectype = Stop is not supported (only Market and Limit)"]


def test_bad_sizes_and_prices_are_refused_before_sending(
    backend: str, emu: ExchangeEmulator
) -> None:
    errors: list[str] = []

    def bad_orders(s: Script) -> None:
        for kwargs in ({"size": float("nan")}, {"size": 1.0, "price": -5.0}):
            with pytest.raises(ValueError) as info:
                s.buy(exectype=bt.Order.Limit, **kwargs)
            errors.append(str(info.value))
        with pytest.raises(ValueError) as info:
            s.buy(size=1.0, exectype=bt.Order.Limit)
        errors.append(str(info.value))

    run_live_cerebro(backend, emu, {0: bad_orders})
    assert errors == [
        "LiveBroker: size = nan is not a number > 0",
        "LiveBroker: price = -5.0 is not a number > 0",
        "LiveBroker: a Limit order needs price, got price = None",
    ]
    assert emu.requests("POST", ORDER) == 0


def test_live_trading_needs_an_explicit_opt_in(backend: str, emu: ExchangeEmulator) -> None:
    with pytest.raises(LiveTradingNotEnabled, match="pass live=True to opt in"):
        LiveBroker(emu.client(), backend=backend)
    with pytest.raises(LiveTradingNotEnabled):
        LiveBroker(emu.client(), backend=backend, live="yes")


def test_a_bad_key_stops_the_broker_without_quoting_it(backend: str, emu: ExchangeEmulator) -> None:
    errors: list[str] = []

    def order_with_a_bad_key(s: Script) -> None:
        # a wrong secret: the signature is refused (-1022, AuthenticationError)
        s.broker._exchange.secret = "WRONG-" + SECRET
        with pytest.raises(LiveBrokerError) as info:
            s.buy(size=1.0)
        errors.append(str(info.value))
        s.broker._exchange.secret = SECRET

    strat, broker = run_live_cerebro(backend, emu, {0: order_with_a_bad_key})
    (error,) = errors
    assert error.startswith("create_order of btctt-") and "AuthenticationError: " in error
    assert API_KEY not in error and SECRET not in error


# -- cash, secrets, replay, Cerebro ------------------------------------------------------------
def test_client_ids_that_binance_would_refuse_are_refused_first(
    backend: str, emu: ExchangeEmulator
) -> None:
    with pytest.raises(ValueError, match="client_id_prefix = 'a b' has characters"):
        make_broker(backend, emu, client_id_prefix="a b")
    broker = make_broker(backend, emu, run_id="r" * 30, cash=1000.0)
    with pytest.raises(ValueError, match="run_id = 'rrrr.*' makes client order ids btctrrr"):
        broker.start()


def test_cash_comes_from_the_balance_unless_given(backend: str, emu: ExchangeEmulator) -> None:
    broker = make_broker(backend, emu, currency="USDT")
    broker.start()
    assert broker.getcash() == START_USDT
    broker = make_broker(backend, emu, cash=5000.0)
    broker.start()
    assert broker.getcash() == 5000.0


def test_secrets_never_reach_logs_reprs_errors_or_the_replay_log(
    backend: str, emu: ExchangeEmulator, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    log = tmp_path / "live.jsonl"
    emu.inject("POST", ORDER, "drop_after")
    emu.inject("GET", ORDER, "http429")
    strat, broker = run_live_cerebro(
        backend,
        emu,
        {0: buy(1.0), 2: buy(100.0), 3: buy(0.0002), 4: buy(2.0, 19000.0), 5: cancel()},
        replay_log=str(log),
    )
    texts = [caplog.text, repr(broker), str(broker), log.read_text()]
    texts += [str(o.info.get("error")) for o in strat.placed]
    assert any("X-MBX-APIKEY" in r.getMessage() for r in caplog.records)  # ccxt's DEBUG lines
    for text in texts:
        assert API_KEY not in text
        assert SECRET not in text
    # request signatures are no secret, but the broker's and ccxt's lines leave them out too
    # (urllib3's own DEBUG lines, outside of the broker's reach, still show them)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith(("bt_cracktrader", "ccxt"))]
    assert [m for m in ours if re.search("signature=[0-9a-f]{64}", m)] == []


def _live_log(backend: str, emu: ExchangeEmulator, path: Path) -> Path:
    emu.inject("POST", ORDER, "drop_after")
    run_live_cerebro(
        backend,
        emu,
        {0: buy(2.0, 19000.0), 1: fill(emu, 0.5, 19000.0), 3: cancel()},
        replay_log=str(path),
    )
    return path


def _tamper(log: Path, batch: int) -> None:
    """Drop the last record of batch ``batch`` (counted from 0) of a JSON-lines ledger log."""
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    lines[1 + batch]["records"] = lines[1 + batch]["records"][:-1]
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_the_replay_log_replays_to_the_same_records(
    backend: str, emu: ExchangeEmulator, tmp_path: Path
) -> None:
    log = _live_log(backend, emu, tmp_path / "live.jsonl")
    # the execution-ledger log of core.replay.RecordingLedger, valid against its schema
    recording = load(log)
    assert recording["init"] == {"cash": START_USDT, "fee_rate": 0.0, "strict": True}
    assert recording["description"] == (
        f"LiveBroker replay log: exchange binance, run t, {backend} ledger"
    )
    assert len(recording["batches"]) >= 3
    ledger_cls, _ = load_ledger(backend)
    ledger = ledger_cls(START_USDT, 0.0, True)
    for batch in recording["batches"]:
        assert ledger.apply(batch["events"]) == batch["records"]
    for other in ("python", "rust"):
        assert replay_ledger_log(log, other) is None
    assert replay_ledger_log(log) is None
    # a log tampered with is caught at its first differing batch
    _tamper(log, 1)
    assert (replay_ledger_log(log, backend) or "").startswith("batch #1 differs: expected ")


def test_the_replay_log_is_closed_by_stop_and_restarted_by_start(
    backend: str, emu: ExchangeEmulator, tmp_path: Path
) -> None:
    log = _live_log(backend, emu, tmp_path / "live.log")  # any suffix: still JSON lines
    broker = make_broker(backend, emu, replay_log=str(log), cash=1000.0)
    broker.start()
    assert broker._log_file is not None and not broker._log_file.closed
    first = broker._log_file
    broker.start()  # a second start closes the first log and writes a new one
    assert first.closed
    broker.stop()
    assert broker._log_file is None
    recording = load(log)
    assert recording["init"]["cash"] == 1000.0 and recording["batches"] == []
    assert replay_ledger_log(log, backend) is None


def test_replay_ledger_log_refuses_what_is_not_an_execution_ledger_log(
    backend: str, tmp_path: Path
) -> None:
    core_log = tmp_path / "core.jsonl"
    core_log.write_text(
        json.dumps(
            {
                "contract_version": CONTRACT_VERSION,
                "init": {"cash": 1.0, "checksubmit": True, "shortcash": True, "fundstartval": 1.0},
            }
        )
        + "\n"
    )
    with pytest.raises(ValueError, match="a core replay log, not an execution-ledger log"):
        replay_ledger_log(core_log, backend)
    old = tmp_path / "old.jsonl"
    old.write_text(json.dumps({"ledger": {"cash": 1.0, "fee_rate": 0.0, "strict": False}}) + "\n")
    with pytest.raises(ValueError, match="no contract_version or ledger_version"):
        replay_ledger_log(old, backend)


def _cli_replay(log: Path, backend: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "bt_cracktrader", "replay", str(log), "--backend", backend]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)


def test_the_cli_replays_a_live_broker_log_on_both_cores(
    backend: str, emu: ExchangeEmulator, tmp_path: Path
) -> None:
    # cwd outside of the checkout: the installed package replays, not the source tree
    log = _live_log(backend, emu, tmp_path / "live.jsonl")
    batches = len(load(log)["batches"])
    for other in ("python", "rust"):
        result = _cli_replay(log, other, tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout == (
            f"{log}: {batches} batches replayed, records and state identical\n"
        )
    _tamper(log, 1)
    for other in ("python", "rust"):
        result = _cli_replay(log, other, tmp_path)
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stdout.startswith(f"{log}: DIFFERS: batch #1 differs: expected ")


def test_a_broker_run_twice_starts_afresh(backend: str, emu: ExchangeEmulator) -> None:
    strat, broker = run_live_cerebro(backend, emu, {0: buy(1.0)})
    assert broker.getposition(strat.data).size == 1.0
    broker.start()
    assert broker.ledger_state()["positions"] == []
    assert broker.getposition(strat.data).size == 0


def test_a_real_cerebro_run_with_live_broker(backend: str) -> None:
    check_engine_live(backend)


def test_a_live_run_through_the_store_and_its_feed(backend: str) -> None:
    check_store_live(backend)


def test_an_exchange_id_takes_the_keys_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    monkeypatch.delenv("BT_CRACKTRADER_API_KEY", raising=False)
    monkeypatch.delenv("BT_CRACKTRADER_SECRET", raising=False)
    with pytest.raises(ValueError, match="set BT_CRACKTRADER_API_KEY and BT_CRACKTRADER_SECRET"):
        LiveBroker("binance", live=True, backend=backend)
    monkeypatch.setenv("BT_CRACKTRADER_API_KEY", API_KEY)
    monkeypatch.setenv("BT_CRACKTRADER_SECRET", SECRET)
    broker = LiveBroker("binance", live=True, backend=backend)
    assert broker._exchange.apiKey == API_KEY
    assert API_KEY not in repr(broker)
    with pytest.raises(ValueError, match="exchange = 'nosuchexchange' is not a ccxt exchange id"):
        LiveBroker("nosuchexchange", live=True, backend=backend)
    # or a ccxt config naming the exchange, keys included
    monkeypatch.delenv("BT_CRACKTRADER_API_KEY")
    config = {"exchange": "binance", "apiKey": API_KEY + "2", "secret": SECRET}
    broker = LiveBroker(config, live=True, backend=backend)
    assert broker._exchange.apiKey == API_KEY + "2"
    with pytest.raises(ValueError, match="a config needs exchange = a ccxt exchange id"):
        LiveBroker({"apiKey": API_KEY}, live=True, backend=backend)


def test_fees_in_the_quote_the_base_and_a_third_currency(
    backend: str, emu: ExchangeEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """How a trade's fee is booked in the quote currency (Binance's order query has none)."""
    strat, broker = run_live_cerebro(backend, emu, {0: buy(1.0)})
    live = broker._live[broker.client_id(strat.placed[0])]
    trades = [
        {"amount": 0.5, "price": 20000.0, "fee": {"cost": 0.25, "currency": "USDT"}},
        {"amount": 0.25, "price": 16000.0, "fees": [{"cost": 0.0078125, "currency": "BTC"}]},
        {"amount": 0.25, "price": 16000.0, "fee": {"cost": 0.5, "currency": "BNB"}},
        {"amount": 0.5, "price": 20000.0, "fee": {"cost": 0.5, "currency": "BNB"}},
    ]
    with caplog.at_level(logging.WARNING, logger="bt_cracktrader.livebroker"):
        fee, last_price, last_size = broker._fees(live, trades, 0.5)
    assert fee == 0.25 + 0.0078125 * 16000.0  # BNB left out
    assert (last_price, last_size) == (20000.0, 0.5)  # the newest trade is the whole new fill
    assert [r.getMessage() for r in caplog.records] == [
        "fees in BNB (neither BTC nor USDT) are not counted"
    ]
    assert broker._fees(live, trades[:2], 0.5) == (0.25 + 125.0, None, None)
