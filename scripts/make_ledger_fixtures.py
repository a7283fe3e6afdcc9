#!/usr/bin/env python
"""Write the execution ledger's golden fixtures (``fixtures/ledger/*.json``).

Each fixture is an event stream in (batches of events, as an exchange or a simulated venue
would produce them) and everything out: the records of every batch (transitions, fills,
notifications, diagnostics), or the error a malformed batch raises, then the final snapshot
and state. Both cores must reproduce every fixture exactly (Python tests and the Rust core
crate's ``cargo test`` read the same files). The expected outputs were computed by the
reference ledger (``core/ledger.py``) and reviewed by hand when written; ``--check`` fails if
the reference no longer produces them.

    python scripts/make_ledger_fixtures.py           # (re)write the fixtures
    python scripts/make_ledger_fixtures.py --check   # fail if one would change
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bt_cracktrader.core.contract import CoreInputError
from bt_cracktrader.core.ledger import LEDGER_VERSION, PyLedger

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "ledger"

Event = dict[str, Any]


def submit(
    seq: int,
    order: str,
    size: float = 3,
    side: str = "buy",
    *,
    data: int = 0,
    exectype: str = "market",
    price: float | None = None,
    sim: bool = False,
) -> Event:
    return {
        "type": "submit", "seq": seq, "order": order, "data": data, "side": side, "size": size,
        "exectype": exectype, "price": price, "sim": sim,
    }  # fmt: skip


def simple(kind: str, seq: int, order: str, **extra: Any) -> Event:
    """An ``accept`` (``order_id`` defaults to None), ``reject`` (``margin`` defaults to False),
    ``cancel_request``, ``cancel_ack`` or ``expire`` event."""
    defaults: dict[str, Any] = {"accept": {"order_id": None}, "reject": {"margin": False}}
    return {"type": kind, "seq": seq, "order": order, **defaults.get(kind, {}), **extra}


def report(
    seq: int,
    order: str | None,
    status: str,
    filled: float,
    *,
    order_id: str | None = None,
    average: float | None = None,
    cost: float | None = None,
    last_price: float | None = None,
    last_size: float | None = None,
    fee: float | None = None,
    ts: float | None = None,
    key: str | None = None,
) -> Event:
    return {
        "type": "report", "seq": seq, "order": order, "order_id": order_id, "status": status,
        "filled": filled, "average": average, "cost": cost, "last_price": last_price,
        "last_size": last_size, "fee": fee, "ts": ts,
        "key": key if key is not None else f"{order or order_id}:{filled}:{status}",
    }  # fmt: skip


def bar(seq: int, data: int, ts: float, o: float, h: float, lo: float, c: float) -> Event:
    return {"type": "bar", "seq": seq, "data": data, "ts": ts, "open": o, "high": h, "low": lo,
            "close": c}  # fmt: skip


# name -> (description, init, batches)
SCENARIOS: dict[str, tuple[str, dict[str, Any], list[list[Event]]]] = {
    "partial_fills": (
        "A buy of 3 accepted, filled 1 then 2 more over two reports (average price given), "
        "fees cumulative; then a bar marks the position.",
        {"cash": 10000.0, "fee_rate": 0.0, "strict": True},
        [
            [submit(1, "c1", 3)],
            [simple("accept", 2, "c1", order_id="X1")],
            [report(3, "c1", "open", 1, order_id="X1", average=100.0, fee=0.1, ts=1000.0)],
            [report(4, "c1", "closed", 3, order_id="X1", average=100.5, fee=0.3, ts=2000.0)],
            [bar(5, 0, 3000.0, 101.0, 102.0, 100.0, 101.5)],
        ],
    ),
    "several_partials_float_sizes": (
        "A crypto sell of 0.5 (float size) filled in four reports identified by exchange id "
        "only, priced from cumulative cost and from last fill price/size, to completion; the "
        "short position is valued at the last bar.",
        {"cash": 1000.0, "fee_rate": 0.0, "strict": True},
        [
            [submit(1, "s1", 0.5, "sell", exectype="limit", price=30000.0)],
            [simple("accept", 2, "s1", order_id="B77")],
            [report(3, None, "open", 0.1, order_id="B77", cost=3000.1, fee=3.0001)],
            [report(4, None, "open", 0.25, order_id="B77", cost=7500.4, fee=7.5004)],
            [
                report(
                    5,
                    None,
                    "open",
                    0.3,
                    order_id="B77",
                    cost=9000.7,
                    last_price=30006.0,
                    last_size=0.05,
                    fee=9.0007,
                )  # fmt: skip
            ],
            [report(6, "s1", "closed", 0.5, order_id="B77", average=30001.2, fee=15.0006)],
            [bar(7, 0, 60000.0, 30010.0, 30020.0, 29990.0, 29995.5)],
        ],
    ),
    "float_cumulative_exact": (
        "Float sizes: the ledger keeps the reported cumulative filled (0.1 then 0.45 of 0.45), "
        "never 0.1 + (0.45 - 0.1) = 0.44999999999999996, so the order completes and the "
        "repeated final report is a duplicate, not a phantom fill.",
        {"cash": 100.0, "fee_rate": 0.0, "strict": True},
        [
            [submit(1, "q1", 0.45), simple("accept", 2, "q1")],
            [report(3, "q1", "open", 0.1, average=2.0)],
            [report(4, "q1", "closed", 0.45, average=2.0)],
            [report(5, "q1", "closed", 0.45, average=2.0, key="again")],
        ],
    ),
    "duplicate_reports": (
        "The same report delivered twice (same key), then again under a new key with the same "
        "cumulative filled: both ignored at DEBUG, nothing counted twice.",
        {"cash": 10000.0, "fee_rate": 0.0, "strict": True},
        [
            [submit(1, "d1", 4), simple("accept", 2, "d1", order_id="D1")],
            [report(3, "d1", "open", 2, average=50.0, fee=0.05, key="D1-t1")],
            [report(4, "d1", "open", 2, average=50.0, fee=0.05, key="D1-t1")],
            [report(5, "d1", "open", 2, average=50.0, fee=0.05, key="D1-t1-again")],
            [report(6, "d1", "closed", 4, average=50.5, fee=0.1, key="D1-t2")],
            [report(7, "d1", "closed", 4, average=50.5, fee=0.1, key="D1-t2")],
        ],
    ),
    "cancel_after_partial": (
        "Partially filled, cancel requested, the venue acknowledges with a canceled report "
        "carrying the filled part: Partial -> Canceled with 1 of 5 executed.",
        {"cash": 5000.0, "fee_rate": 0.0, "strict": True},
        [
            [submit(1, "p1", 5), simple("accept", 2, "p1", order_id="P1")],
            [report(3, "p1", "open", 1, average=20.0, fee=0.02)],
            [simple("cancel_request", 4, "p1")],
            [report(5, "p1", "canceled", 1, average=20.0, fee=0.02)],
            [simple("cancel_ack", 6, "p1")],
        ],
    ),
    "cancel_racing_fill_fill_wins": (
        "A cancel is requested but the exchange fills the order first: the closed report "
        "completes it, the late cancel acknowledgment is refused for a terminal order.",
        {"cash": 5000.0, "fee_rate": 0.0, "strict": True},
        [
            [submit(1, "r1", 2), simple("accept", 2, "r1", order_id="R1")],
            [simple("cancel_request", 3, "r1")],
            [report(4, "r1", "closed", 2, average=10.0, fee=0.01)],
            [simple("cancel_ack", 5, "r1")],
        ],
    ),
    "cancel_racing_fill_cancel_wins": (
        "The cancel acknowledgment arrives before the report of a fill the exchange made just "
        "before canceling: the late fill is booked (INFO late_fill), the order stays Canceled; "
        "a fill report with another status for the canceled order is refused.",
        {"cash": 5000.0, "fee_rate": 0.0, "strict": True},
        [
            [submit(1, "r2", 4), simple("accept", 2, "r2", order_id="R2")],
            [simple("cancel_request", 3, "r2"), simple("cancel_ack", 4, "r2")],
            [report(5, "r2", "canceled", 1, average=11.0, fee=0.011)],
            [report(6, "r2", "open", 2, average=11.0)],
        ],
    ),
    "out_of_order_reports": (
        "Reports arrive out of order inside one batch (applied in seq order) and across "
        "batches (an older seq, a lower cumulative filled: stale, WARNING).",
        {"cash": 10000.0, "fee_rate": 0.0, "strict": True},
        [
            [
                report(4, "o1", "open", 2, average=99.0, fee=0.2),
                simple("accept", 2, "o1", order_id="O1"),
                submit(1, "o1", 6),
                report(3, "o1", "open", 1, average=99.0, fee=0.1),
            ],
            [report(3, "o1", "open", 1, average=99.0, fee=0.1, key="late-dup")],
            [report(6, "o1", "open", 1, average=99.0, fee=0.1, key="lower-filled")],
            [report(7, "o1", "closed", 6, average=99.5, fee=0.6)],
        ],
    ),
    "fill_before_accept": (
        "A fill report arrives before the accept: it implies the accept (INFO implied_accept); "
        "the accept that follows is refused as an illegal transition.",
        {"cash": 10000.0, "fee_rate": 0.0, "strict": True},
        [
            [submit(1, "f1", 2)],
            [report(2, "f1", "open", 1, order_id="F1", average=42.0)],
            [simple("accept", 3, "f1", order_id="F1")],
            [report(4, None, "closed", 2, order_id="F1", average=42.5)],
        ],
    ),
    "reject_and_margin": (
        "One order rejected by the venue, one refused for insufficient funds (Margin), one "
        "rejected by a report; a reject of a partially filled order is illegal.",
        {"cash": 100.0, "fee_rate": 0.0, "strict": True},
        [
            [submit(1, "j1", 1), submit(2, "j2", 1), submit(3, "j3", 1), submit(4, "j4", 3)],
            [simple("reject", 5, "j1", margin=False), simple("reject", 6, "j2", margin=True)],
            [report(7, "j3", "rejected", 0)],
            [report(8, "j4", "open", 1, average=5.0), simple("reject", 9, "j4", margin=False)],
            [simple("reject", 10, "j1", margin=False)],
        ],
    ),
    "expiry": (
        "A day order expires after a partial fill; a second expiry is a duplicate, a report "
        "with more fills and another status is refused.",
        {"cash": 1000.0, "fee_rate": 0.0, "strict": True},
        [
            [submit(1, "e1", 10, exectype="limit", price=9.5)],
            [simple("accept", 2, "e1"), report(3, "e1", "open", 4, average=9.5)],
            [simple("expire", 4, "e1")],
            [simple("expire", 5, "e1")],
            [report(6, "e1", "closed", 10, average=9.5)],
        ],
    ),
    "unknown_order": (
        "Events for orders the ledger never saw (by client id, by exchange id, and a report "
        "whose exchange id belongs to another order) are refused with WARNING unknown_order.",
        {"cash": 1000.0, "fee_rate": 0.0, "strict": True},
        [
            [submit(1, "u1", 1), simple("accept", 2, "u1", order_id="U1")],
            [simple("cancel_request", 3, "nope"), simple("accept", 4, "nope", order_id=None)],
            [report(5, None, "open", 0, order_id="U404")],
            [report(6, "u1", "open", 1, order_id="U2", average=3.0)],
            [report(7, "ghost", "closed", 1, average=3.0)],
        ],
    ),
    "overfill": (
        "A report with more filled than the order's size is refused (ERROR overfill) and "
        "changes nothing; the correct report afterwards completes the order.",
        {"cash": 1000.0, "fee_rate": 0.0, "strict": True},
        [
            [submit(1, "v1", 2), simple("accept", 2, "v1")],
            [report(3, "v1", "open", 3, average=7.0)],
            [report(4, "v1", "closed", 2, average=7.0)],
        ],
    ),
    "inconsistent_and_closed_short": (
        "A report whose cumulative cost makes a negative fill price is refused (ERROR "
        "inconsistent_report); a closed report with less than the size filled completes the "
        "order with a WARNING closed_short.",
        {"cash": 1000.0, "fee_rate": 0.0, "strict": True},
        [
            [submit(1, "i1", 4), simple("accept", 2, "i1")],
            [report(3, "i1", "open", 2, cost=20.0)],
            [report(4, "i1", "open", 3, cost=15.0)],
            [report(5, "i1", "closed", 3, cost=31.0)],
        ],
    ),
    "simulated_venue": (
        "Simulated orders matched on bars: a market buy at the open, a buy limit that fills at "
        "its price, a sell limit that waits one bar, a canceled one; fees from fee_rate; "
        "positions reversed and valued at the close; int sizes stay ints.",
        {"cash": 10000.0, "fee_rate": 0.001, "strict": True},
        [
            [
                submit(1, "m1", 10, sim=True),
                submit(2, "l1", 5, exectype="limit", price=99.0, sim=True),
                submit(3, "l2", 20, "sell", exectype="limit", price=104.0, sim=True),
                submit(4, "l3", 1, exectype="limit", price=50.0, sim=True),
            ],
            [bar(5, 0, 1.0, 100.0, 101.0, 98.5, 100.5)],
            [simple("cancel_request", 6, "l3")],
            [bar(7, 0, 2.0, 103.0, 104.5, 102.0, 104.0)],
            [bar(8, 0, 3.0, 104.0, 105.0, 103.5, 104.5)],
        ],
    ),
    "two_datas_and_restore_point": (
        "Orders on two datas (one simulated, one reported), a position closed at a profit; a "
        "replay restored from the snapshot after any batch must give the same records.",
        {"cash": 2000.0, "fee_rate": 0.0005, "strict": True},
        [
            [submit(1, "a", 2, data=0, sim=True), submit(2, "b", 0.75, data=1)],
            [bar(3, 0, 10.0, 50.0, 51.0, 49.0, 50.5), bar(3, 1, 10.0, 200.0, 201.0, 199.0, 200.0)],
            [report(4, "b", "closed", 0.75, order_id="B", average=200.25, fee=0.075)],
            [submit(5, "c", 2, "sell", data=0, sim=True)],
            [bar(6, 0, 11.0, 52.0, 53.0, 51.0, 52.5)],
        ],
    ),
    "malformed_batches_leave_state_untouched": (
        "Malformed events (unknown type, missing and unknown fields, bool as number, NaN-free "
        "bad values) raise CoreInputError naming the field; the valid events in the same batch "
        "are not applied either.",
        {"cash": 1000.0, "fee_rate": 0.0, "strict": True},
        [
            [submit(1, "x1", 1)],
            [simple("accept", 2, "x1"), {"type": "fill", "seq": 3}],
            [simple("accept", 2, "x1"), {"type": "accept", "seq": 3}],
            [simple("accept", 2, "x1"), {**simple("accept", 3, "x1"), "order_id": 7}],
            [{"type": "accept", "seq": 2, "order": "x1"}],
            [submit(4, "x2", True)],
            [submit(4, "x2", 1, exectype="limit")],
            [{**report(5, "x1", "open", 1), "average": None}],
            [{**report(5, "x1", "open", 0), "extra": 1}],
            [report(5, None, "open", 0)],
            [{**report(5, "x1", "filled", 0)}],
            [simple("accept", 2, "x1")],
        ],
    ),
}


def record_scenario(name: str) -> dict[str, Any]:
    description, init, batches = SCENARIOS[name]
    ledger = PyLedger(init["cash"], init["fee_rate"], init["strict"])
    out: list[dict[str, Any]] = []
    for events in batches:
        try:
            out.append({"events": events, "records": ledger.apply(events)})
        except CoreInputError as exc:
            error = {"what": exc.what, "field": exc.field, "reason": exc.reason}
            out.append({"events": events, "error": error})
    return {
        "ledger_version": LEDGER_VERSION,
        "name": name,
        "description": description,
        "init": init,
        "batches": out,
        "snapshot": ledger.snapshot(),
        "state": ledger.state(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a fixture would change")
    args = parser.parse_args(argv)
    stale = 0
    for name in SCENARIOS:
        path = OUT / f"{name}.json"
        text = json.dumps(record_scenario(name), indent=1) + "\n"
        if args.check:
            if not path.exists() or path.read_text() != text:
                print(f"{path} is out of date: run {sys.argv[0]}", file=sys.stderr)
                stale = 1
            continue
        OUT.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    return stale


if __name__ == "__main__":
    sys.exit(main())
