"""``LiveBroker`` under seeded random faults: orders, fills, cancels, old snapshots and faults
on every route the broker uses, bar after bar, then quiet bars to settle. Whatever happened,
the broker's books equal the emulator's ledger, and each order's notifications form a legal
sequence."""

from __future__ import annotations

import random
from typing import Any

import backtrader as bt
import pytest
from live_support import (
    ORDER,
    PRICE,
    SYMBOL,
    Script,
    assert_books_match,
    make_emulator,
    run_live_cerebro,
)

from bt_cracktrader.emulator import ExchangeEmulator

TERMINAL = {"Completed", "Canceled", "Expired", "Margin", "Rejected"}
FAULTS = [
    ("POST", ORDER, "drop_after"),
    ("POST", ORDER, "drop_before"),
    ("POST", ORDER, "http429"),
    ("POST", ORDER, "http503"),
    ("GET", ORDER, "http429"),
    ("GET", ORDER, "http500"),
    ("GET", ORDER, "drop_before"),
    ("DELETE", ORDER, "drop_after"),
    ("DELETE", ORDER, "http503"),
    ("GET", "/api/v3/myTrades", "http500"),
]
BARS = 30
QUIET = 6  # bars at the end with no action: every unknown order is settled by then


def chaos(emu: ExchangeEmulator, seed: int) -> dict[int, Any]:
    rng = random.Random(seed)

    def act(s: Script) -> None:
        for _ in range(rng.randint(1, 3)):
            roll = rng.random()
            resting = [o for o in s.placed if o.alive() and s.broker.client_id(o)]
            if roll < 0.3:
                method, path, fault = rng.choice(FAULTS)
                emu.inject(method, path, fault)
            elif roll < 0.55:
                if rng.random() < 0.4:
                    # market sizes whose halves fill with fees in binary fractions
                    size = rng.choice([1.0, 2.0])
                    order = s.buy(size=size) if rng.random() < 0.5 else s.sell(size=size)
                else:
                    size = rng.choice([0.5, 1.0, 1.5, 2.0])
                    if rng.random() < 0.5:
                        order = s.buy(size=size, price=19000.0, exectype=bt.Order.Limit)
                    else:
                        order = s.sell(size=size, price=21000.0, exectype=bt.Order.Limit)
                s.placed.append(order)
            elif roll < 0.65 and resting:
                # the next poll of that order reads an old snapshot: stale, or a duplicate
                truth = _emu_order(emu, s.broker.client_id(rng.choice(resting)))
                if truth is not None:
                    old = {"status": "NEW", "executedQty": "0", "cummulativeQuoteQty": "0"}
                    emu.script_reports(truth["order_id"], [old])
            elif roll < 0.9 and resting:
                order = rng.choice(resting)
                truth = _emu_order(emu, s.broker.client_id(order))
                if truth is not None and truth["status"] in ("NEW", "PARTIALLY_FILLED"):
                    left = truth["orig_qty"] - truth["executed_qty"]
                    qty = rng.choice([q for q in (0.5, 1.0, 1.5, 2.0) if q <= left])
                    emu.fill(truth["order_id"], qty, truth["price"])
            elif resting:
                s.cancel(rng.choice(resting))

    return {bar: act for bar in range(BARS - QUIET)}


def _emu_order(emu: ExchangeEmulator, cid: str | None) -> dict[str, Any] | None:
    found = [o for o in emu.ledger()["orders"] if o["client_id"] == cid]
    return found[-1] if found else None


def assert_legal_sequences(strat: Script) -> None:
    for order in strat.placed:
        seen = strat.statuses(order)
        assert seen[0] == ("Submitted", 0.0), seen
        sizes = [abs(size) for _, size in seen]
        assert sizes == sorted(sizes), seen  # executed size never falls
        ends = [i for i, (status, _) in enumerate(seen) if status in TERMINAL]
        assert ends in ([], [len(seen) - 1]), seen  # at most one terminal status, the last


@pytest.mark.parametrize("seed", range(12))
def test_random_faults_never_lose_or_double_a_fill(backend: str, seed: int) -> None:
    with make_emulator() as emu:
        emu.set_price(SYMBOL, PRICE)
        strat, broker = run_live_cerebro(backend, emu, chaos(emu, seed), bars=BARS)
        # faults left over when the run ended do not matter; everything placed is settled
        assert broker.get_orders_open() == [
            o for o in strat.placed if _emu_order(emu, broker.client_id(o)) is not None
            and _emu_order(emu, broker.client_id(o))["status"] in ("NEW", "PARTIALLY_FILLED")
        ]  # fmt: skip
        assert_legal_sequences(strat)
        assert_books_match(broker, emu)
        assert emu.requests("POST", ORDER) == len(strat.placed)
