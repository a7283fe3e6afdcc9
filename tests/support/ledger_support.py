"""Helpers shared by the execution-ledger contract tests: loading fixtures, running a stream
on a ledger, and comparing outputs exactly (types and float bits included)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bt_cracktrader.core.contract import CoreInputError

ROOT = Path(__file__).resolve().parents[2]
LEDGER_FIXTURES = ROOT / "fixtures" / "ledger"


def exact(obj: Any) -> str:
    """A canonical text of JSON-like data: ``1`` and ``1.0``, ``0.0`` and ``-0.0`` differ, and
    every float is written with its shortest round-trip repr."""
    return json.dumps(obj, sort_keys=False, allow_nan=True)


def fixture_paths() -> list[Path]:
    return sorted(LEDGER_FIXTURES.glob("*.json"))


def load_fixture(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def run_batches(ledger: Any, batches: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Apply each batch; return one ``{"events", "records"}`` or ``{"events", "error"}`` per
    batch, as the fixtures hold them."""
    out: list[dict[str, Any]] = []
    for events in batches:
        try:
            out.append({"events": events, "records": ledger.apply(events)})
        except CoreInputError as exc:
            out.append(
                {
                    "events": events,
                    "error": {"what": exc.what, "field": exc.field, "reason": exc.reason},
                }
            )
    return out
