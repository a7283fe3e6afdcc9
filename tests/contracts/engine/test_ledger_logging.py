"""Logging parity: for the same stream both ledgers log the same event categories at the same
levels (message text may differ), each through its own module logger; an ignored duplicate
report is logged at DEBUG with its idempotency key."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from ledger_support import fixture_paths, load_fixture, run_batches

from bt_cracktrader.core import load_ledger

FIXTURES = fixture_paths()
LOGGERS = {"python": "bt_cracktrader.core.ledger", "rust": "bt_cracktrader._rust"}


def _logged(
    backend: str, fx: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> list[logging.LogRecord]:
    cls, _ = load_ledger(backend)
    ledger = cls(fx["init"]["cash"], fx["init"]["fee_rate"], fx["init"]["strict"])
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="bt_cracktrader"):
        run_batches(ledger, [b["events"] for b in fx["batches"]])
    return [r for r in caplog.records if r.name == LOGGERS[backend]]


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_both_cores_log_the_same_categories_at_the_same_levels(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fx = load_fixture(path)
    py = [(r.category, r.levelno) for r in _logged("python", fx, caplog)]  # type: ignore[attr-defined]
    rs = [(r.category, r.levelno) for r in _logged("rust", fx, caplog)]  # type: ignore[attr-defined]
    assert py == rs
    expected = [
        (rec["category"] if rec["kind"] == "diagnostic" else rec["kind"],
         logging.getLevelName(rec["level"]) if rec["kind"] == "diagnostic" else logging.DEBUG)
        for batch in fx["batches"] for rec in batch.get("records", [])
    ]  # fmt: skip
    assert py == expected


def test_a_duplicate_report_is_logged_at_debug_with_its_key(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    fx = load_fixture(next(p for p in FIXTURES if p.stem == "duplicate_reports"))
    dups = [r for r in _logged(backend, fx, caplog) if r.category == "duplicate_report"]  # type: ignore[attr-defined]
    assert [r.levelno for r in dups] == [logging.DEBUG] * 3
    assert ["D1-t1" in r.getMessage() for r in dups] == [True, False, False]
    assert "D1-t1-again" in dups[1].getMessage()
    assert "D1-t2" in dups[2].getMessage()


def test_nothing_is_logged_when_the_logger_is_silent(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    fx = load_fixture(next(p for p in FIXTURES if p.stem == "duplicate_reports"))
    cls, _ = load_ledger(backend)
    ledger = cls(fx["init"]["cash"])
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="bt_cracktrader"):
        run_batches(ledger, [b["events"] for b in fx["batches"]])
    assert [r for r in caplog.records if r.name == LOGGERS[backend]] == []
