"""Differential fuzzing of the execution ledger: PyLedger (the reference) vs RustLedger.

Hypothesis generates event streams, valid and hostile (unknown orders, overfills, duplicate and
stale reports, reordered sequence numbers, malformed events of every kind), and runs each
through both ledgers in strict mode, batch by batch (most batches are a single event). After
every batch the records or the error (type and message), the snapshot and the state must be
identical, types and float bits included.

``BT_CRACKTRADER_FUZZ_STREAMS`` sets the number of streams (default 2,000; the parity gate's
``--fuzz-streams 100000`` runs 100,000). A failure is shrunk by Hypothesis to a minimal stream,
which is saved as a golden fixture (``fixtures/ledger/fuzz_failure.json``, expected outputs from
the reference) so that both cores' fixture tests pin it from then on.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_support import LEDGER_FIXTURES, exact, run_batches

from bt_cracktrader._rust import RustLedger
from bt_cracktrader.core.ledger import LEDGER_VERSION, LedgerInvariantError, PyLedger

STREAMS = int(os.environ.get("BT_CRACKTRADER_FUZZ_STREAMS", "2000"))
SAVE_DIR = Path(os.environ.get("BT_CRACKTRADER_FUZZ_SAVE_DIR", str(LEDGER_FIXTURES)))
COUNTS: Counter = Counter()

ORDERS = ["a", "b", "c", "d"]
IDS = ["X1", "X2", "X3", "X9"]
SIZES = [1, 2, 3, 5, 0.5, 0.25, 1.5, 0.1]
FILLED = [0, 1, 2, 3, 5, 6, 0.1, 0.25, 0.5, 0.75, 1.5, 0.30000000000000004]
PRICES = [1.0, 9.5, 10.0, 10.25, 99.99, 100.0, 100.5, 30000.5, 7]
BAD = [None, "x", "", True, -1, 0, -0.0, 1.5, math.nan, math.inf, -math.inf, 2**70, [], {}]

seqs = st.integers(min_value=0, max_value=40)
orders = st.sampled_from(ORDERS)
opt_ids = st.one_of(st.none(), st.sampled_from(IDS))
opt_prices = st.one_of(st.none(), st.sampled_from(PRICES))


@st.composite
def submits(draw: st.DrawFn) -> dict[str, Any]:
    exectype = draw(st.sampled_from(["market", "limit"]))
    return {
        "type": "submit", "seq": draw(seqs), "order": draw(orders),
        "data": draw(st.sampled_from([0, 1])), "side": draw(st.sampled_from(["buy", "sell"])),
        "size": draw(st.sampled_from(SIZES)), "exectype": exectype,
        "price": draw(st.sampled_from(PRICES)) if exectype == "limit" else draw(opt_prices),
        "sim": draw(st.booleans()),
    }  # fmt: skip


@st.composite
def order_events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["accept", "reject", "cancel_request", "cancel_ack", "expire"]))
    ev: dict[str, Any] = {"type": kind, "seq": draw(seqs), "order": draw(orders)}
    if kind == "accept":
        ev["order_id"] = draw(opt_ids)
    elif kind == "reject":
        ev["margin"] = draw(st.booleans())
    return ev


@st.composite
def reports(draw: st.DrawFn) -> dict[str, Any]:
    order = draw(st.one_of(st.none(), orders))
    order_id = draw(st.sampled_from(IDS)) if order is None else draw(opt_ids)
    filled = draw(st.sampled_from(FILLED))
    average = draw(opt_prices)
    cost = draw(st.one_of(st.none(), st.sampled_from([0.0, 10.0, 99.5, 250.0, 3000.1, 5])))
    if filled and average is None and cost is None:
        average = draw(st.sampled_from(PRICES))
    status = draw(st.sampled_from(["open", "closed", "canceled", "expired", "rejected"]))
    return {
        "type": "report", "seq": draw(seqs), "order": order, "order_id": order_id,
        "status": status, "filled": filled, "average": average, "cost": cost,
        "last_price": draw(opt_prices),
        "last_size": draw(st.one_of(st.none(), st.sampled_from([0.5, 1, 2, 0.25]))),
        "fee": draw(st.one_of(st.none(), st.sampled_from([0.0, 0.01, 0.1, 1, -0.05]))),
        "ts": draw(st.one_of(st.none(), st.sampled_from([1000.0, 2000, 1.5e12]))),
        # a small key space, so that keys repeat
        "key": draw(st.sampled_from(["k1", "k2", "k3"]))
        if draw(st.booleans())
        else f"{order or order_id}:{filled}:{status}",
    }  # fmt: skip


@st.composite
def bars(draw: st.DrawFn) -> dict[str, Any]:
    prices = sorted(draw(st.lists(st.sampled_from(PRICES), min_size=4, max_size=4)))
    low, a, b, high = prices
    opn, close = (a, b) if draw(st.booleans()) else (b, a)
    return {
        "type": "bar", "seq": draw(seqs), "data": draw(st.sampled_from([0, 1])),
        "ts": draw(st.sampled_from([1.0, 2.0, 3])), "open": opn, "high": high, "low": low,
        "close": close,
    }  # fmt: skip


@st.composite
def hostile(draw: st.DrawFn) -> Any:
    """A valid event spoiled: a field set to a bad value, removed, or added; or not a dict."""
    ev = dict(draw(st.one_of(submits(), order_events(), reports(), bars())))
    how = draw(st.sampled_from(["bad", "bad", "drop", "extra", "nondict"]))
    if how == "nondict":
        return draw(st.sampled_from([None, 1, "submit", [], ("type", "bar")]))
    field = draw(st.sampled_from(sorted(ev)))
    if how == "bad":
        ev[field] = draw(st.sampled_from(BAD))
    elif how == "drop":
        del ev[field]
    else:
        ev[draw(st.sampled_from(["extra", "Seq", "status2"]))] = 1
    return ev


events = st.one_of(
    submits(), submits(), order_events(), order_events(), reports(), reports(), reports(),
    bars(), hostile(),
)  # fmt: skip
streams = st.lists(
    st.lists(events, min_size=1, max_size=3).filter(lambda b: len(b) == 1 or len(b) < 4),
    min_size=1,
    max_size=14,
)
inits = st.tuples(st.sampled_from([1000.0, 100000.0, 50]), st.sampled_from([0.0, 0.001, 0.0005]))


def _outcome(ledger: Any, events: list[Any]) -> tuple[str, str]:
    try:
        return "ok", exact(ledger.apply(events))
    except Exception as exc:  # noqa: BLE001 - any exception must be the same on both cores
        return type(exc).__name__, str(exc)


def _save_failure(init: tuple[Any, float], stream: list[list[Any]]) -> None:
    """Write the (shrunk) failing stream as a golden fixture, expected outputs from the
    reference; Hypothesis runs the minimal example last, so the file ends up holding it."""
    try:
        ledger = PyLedger(init[0], init[1], True)
        batches = run_batches(ledger, stream)
        fixture = {
            "ledger_version": LEDGER_VERSION,
            "name": "fuzz_failure",
            "description": "A minimal stream on which the two ledgers differed (saved by "
            "tests/contracts/engine/test_differential_fuzz.py).",
            "init": {"cash": init[0], "fee_rate": init[1], "strict": True},
            "batches": batches,
            "snapshot": ledger.snapshot(),
            "state": ledger.state(),
        }
        SAVE_DIR.mkdir(parents=True, exist_ok=True)
        (SAVE_DIR / "fuzz_failure.json").write_text(json.dumps(fixture, indent=1) + "\n")
    except (TypeError, ValueError, LedgerInvariantError):
        # the reference itself cannot run it (e.g. a non-JSON value): keep the stream only
        SAVE_DIR.mkdir(parents=True, exist_ok=True)
        (SAVE_DIR.parent / "fuzz_failure_stream.txt").write_text(repr((init, stream)) + "\n")


@settings(
    max_examples=STREAMS,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(init=inits, stream=streams)
def test_python_and_rust_ledgers_agree_on_every_stream(
    init: tuple[Any, float], stream: list[list[Any]]
) -> None:
    py = PyLedger(init[0], init[1], True)
    rs = RustLedger(init[0], init[1], True)
    try:
        for i, batch in enumerate(stream):
            got_py = _outcome(py, batch)
            got_rs = _outcome(rs, batch)
            assert got_py == got_rs, f"batch {i}: {batch!r}"
            assert got_py[0] in ("ok", "CoreInputError"), got_py
            assert exact(py.snapshot()) == exact(rs.snapshot()), f"snapshot after batch {i}"
            assert exact(py.state()) == exact(rs.state()), f"state after batch {i}"
            if got_py[0] == "ok":
                for rec in json.loads(got_py[1]):
                    COUNTS[rec["kind"]] += 1
                    if rec["kind"] == "diagnostic":
                        COUNTS[rec["category"]] += 1
            else:
                COUNTS["input_error"] += 1
    except AssertionError:
        _save_failure(init, stream)
        raise


def test_the_fuzzer_reached_every_kind_of_outcome() -> None:
    """Guards against a generator that only ever produces refused or trivial streams."""
    if STREAMS < 500:
        return
    wanted = {
        "transition", "fill", "notification", "cancel_pending", "input_error",
        "duplicate_report", "stale_report", "unknown_order", "terminal_order",
        "illegal_transition", "overfill", "implied_accept", "late_fill",
    }  # fmt: skip
    missing = sorted(k for k in wanted if not COUNTS[k])
    assert not missing, f"never produced: {missing} ({dict(COUNTS)})"
