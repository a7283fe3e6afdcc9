"""Unit tests of the execution ledger, on each core: construction, validation (the error names
the event, the field and the value, and the ledger is left untouched), number types, views."""

from __future__ import annotations

import math
from typing import Any

import pytest
from ledger_support import exact

from bt_cracktrader.core import load_ledger
from bt_cracktrader.core.contract import CoreInputError


def _ledger(backend: str, *args: Any) -> Any:
    cls, name = load_ledger(backend)
    assert name == backend
    return cls(*args)


def _submit(seq: int, order: str, size: Any = 2, **kw: Any) -> dict[str, Any]:
    ev = {"type": "submit", "seq": seq, "order": order, "data": 0, "side": "buy", "size": size,
          "exectype": "market", "price": None, "sim": False}  # fmt: skip
    ev.update(kw)
    return ev


def _report(seq: int, order: str, status: str, filled: Any, **kw: Any) -> dict[str, Any]:
    ev = {"type": "report", "seq": seq, "order": order, "order_id": None, "status": status,
          "filled": filled, "average": 10.0, "cost": None, "last_price": None,
          "last_size": None, "fee": None, "ts": None,
          "key": f"{order}:{filled}:{status}"}  # fmt: skip
    ev.update(kw)
    return ev


@pytest.mark.parametrize(
    ("args", "field", "reason"),
    [
        ((math.nan,), "cash", "not finite"),
        (("100",), "cash", "not a number"),
        ((True,), "cash", "not a number"),
        ((100.0, -0.1), "fee_rate", "negative"),
        ((100.0, 0.0, 1), "strict", "not a bool"),
    ],
)
def test_bad_construction_names_the_field(backend: str, args: Any, field: str, reason: str) -> None:
    with pytest.raises(CoreInputError) as info:
        _ledger(backend, *args)
    assert (info.value.what, info.value.field, info.value.reason) == ("ledger", field, reason)
    assert repr(
        args[len(info.value.field) and [f for f in ("cash", "fee_rate", "strict")].index(field)]
    ) in str(info.value)


@pytest.mark.parametrize(
    ("bad", "field", "value", "reason"),
    [
        ({"seq": -1}, "seq", -1, "out of range"),
        ({"seq": 1.0}, "seq", 1.0, "not an int"),
        ({"size": 0}, "size", 0, "not > 0"),
        ({"size": math.inf}, "size", math.inf, "not finite"),
        ({"size": 2**70}, "size", 2**70, "out of range"),
        ({"side": "long"}, "side", "long", "expected 'buy' or 'sell'"),
        ({"order": ""}, "order", "", "empty"),
        ({"data": True}, "data", True, "not an int"),
        ({"sim": 0}, "sim", 0, "not a bool"),
    ],
)
def test_a_malformed_event_names_field_and_value_and_changes_nothing(
    backend: str, bad: dict[str, Any], field: str, value: Any, reason: str
) -> None:
    ledger = _ledger(backend, 1000.0)
    ledger.apply([_submit(1, "a")])
    before = exact(ledger.snapshot())
    with pytest.raises(CoreInputError) as info:
        # the valid first event of the batch is not applied either
        ledger.apply([_report(2, "a", "open", 1), {**_submit(3, "b"), **bad}])
    exc = info.value
    assert (exc.what, exc.field, exc.reason) == ("submit", field, reason)
    assert exc.value == value or (value != value and exc.value != exc.value)
    assert f"{field} = {value!r}" in str(exc)
    assert exact(ledger.snapshot()) == before


def test_events_must_be_a_list_of_dicts(backend: str) -> None:
    ledger = _ledger(backend, 1000.0)
    with pytest.raises(CoreInputError, match="events = 'submit'"):
        ledger.apply("submit")
    with pytest.raises(CoreInputError, match=r"invalid event: event = \('type', 'bar'\)"):
        ledger.apply([("type", "bar")])


def test_int_sizes_stay_int_and_float_sizes_stay_float(backend: str) -> None:
    ledger = _ledger(backend, 1000.0)
    ledger.apply([_submit(1, "i", 3), _submit(2, "f", 0.5)])
    records = ledger.apply([_report(3, "i", "open", 1), _report(4, "f", "open", 0.25)])
    fills = [r for r in records if r["kind"] == "fill"]
    assert [type(r["size"]) for r in fills] == [int, float]
    assert [type(r["remaining"]) for r in fills] == [int, float]
    assert [type(p["size"]) for p in ledger.state()["positions"]] == [float]


def test_views(backend: str) -> None:
    ledger = _ledger(backend, 1000.0, 0.001)
    assert ledger.order("a") is None
    ledger.apply([_submit(1, "a", 2, sim=True)])
    assert ledger.state()["open_orders"] == ["a"]
    ledger.apply([{"type": "bar", "seq": 2, "data": 0, "ts": 1.0, "open": 10.0, "high": 11.0,
                   "low": 9.0, "close": 10.5}])  # fmt: skip
    order = ledger.order("a")
    assert order["status"] == "Completed" and order["filled"] == 2 and order["fee"] == 0.02
    state = ledger.state()
    assert state["cash"] == 1000.0 - 2 * 10.0 - 0.02
    assert state["value"] == state["cash"] + 2 * 10.5
    assert state["open_orders"] == []
    assert type(ledger).__name__ in repr(ledger)
    assert ledger.backend == backend
