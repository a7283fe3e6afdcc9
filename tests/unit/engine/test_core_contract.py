"""The core contract on each core: golden fixtures, refused input, pickling."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from bt_cracktrader.core.contract import (
    EV_CANCEL,
    REC_ACCEPTED,
    REC_EXECUTED,
    REC_POSITION,
    STATE_FIELDS,
    CoreInputError,
    bar_tuple,
    data_event,
    submit_event,
)
from bt_cracktrader.core.replay import load, replay

FIXTURES = sorted((Path(__file__).resolve().parents[3] / "fixtures" / "core").glob("*.json"))

STOCK = data_event(0, commission=0.001)
FUTURE = data_event(1, stocklike=False, perc=False, commission=2.0, mult=10.0, margin=1000.0)


def bar(data: int, dt: float, o: float, h: float, lo: float, c: float) -> tuple[Any, ...]:
    return bar_tuple(data, dt, o, h, lo, c, 1000.0)


def sub(ref: int, data: int, size: Any, price: Any, dt: float, **kw: Any) -> tuple[Any, ...]:
    # as the adapter sends an order without bracket links: already notified Submitted
    kw.setdefault("notified", kw.get("parent", -1) == -1 and kw.get("transmit", True))
    return submit_event(ref, data, size, price, dt, **kw)


def test_fixtures_exist() -> None:
    assert len(FIXTURES) >= 5


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_golden_fixture_replays_bit_for_bit(core_cls: Any, path: Path) -> None:
    calls = replay(load(path, validate=False), core_cls)  # tests/test_schema.py validates them
    assert calls > 100


def test_market_buy_fills_next_bar_open(core_cls: Any) -> None:
    core = core_cls(10000.0, True, True, 100.0)
    records, state = core.step(
        [STOCK, sub(1, 0, 10, 100.0, 1.0)], [bar(0, 1.0, 99.0, 101.0, 98.0, 100.0)]
    )
    # created on this bar: accepted, not filled before a newer bar
    assert records == [(REC_POSITION, 0), (REC_ACCEPTED, 1)]
    records, state = core.step([], [bar(0, 2.0, 101.0, 103.0, 100.0, 102.5)])
    comm = 10 * 0.001 * 101.0  # CommInfoBase: abs(size) * commission * price, left to right
    assert records == [
        (REC_EXECUTED, 1, 2.0, 10, 101.0, 0, 0.0, 0.0, 10, 1010.0, comm, 0.0, 10, 101.0, 10, 101.0)
    ]
    assert type(records[0][3]) is int
    s = dict(zip(STATE_FIELDS, state))
    assert s["cash"] == 10000.0 - 1010.0 - comm
    assert s["value"] == s["cash"] + 1025.0
    assert s["idle"] is False


@pytest.mark.parametrize(
    ("events", "field", "reason"),
    [
        ([STOCK, sub(1, 0, float("nan"), 100.0, 1.0)], "size", "not finite"),
        ([STOCK, sub(1, 3, 5, 100.0, 1.0)], "data", "unknown data"),
        ([STOCK, sub(1, 0, 5, 100.0, 1.0, exectype=42)], "exectype", "unknown exectype"),
        (
            [STOCK, sub(1, 0, 5, 100.0, 1.0)[:4] + ("5",) + sub(1, 0, 5, 100.0, 1.0)[5:]],
            "size",
            "not a number",
        ),
        ([STOCK, sub(1, 0, 5, 100.0, 1.0, parent=77)], "parent", "unknown order ref"),
        (
            [STOCK, sub(1, 0, 5, 100.0, 1.0, notified=True, transmit=False)],
            "notified",
            "only for orders sent on their own",
        ),
        ([STOCK, (EV_CANCEL, 99, False)], "ref", "unknown order ref"),
        ([data_event(0, leverage=-1.0)], "leverage", "not positive"),
        ([STOCK, sub(1, 0, 2**60, 100.0, 1.0)], "size", "int beyond 2**53"),
        ([(42,)], "tag", "unknown event tag"),
    ],
)
def test_bad_input_is_refused_and_state_untouched(
    core_cls: Any, events: list[Any], field: str, reason: str
) -> None:
    core = core_cls(10000.0, True, True, 100.0)
    core.step([STOCK, sub(7, 0, 3, 50.0, 1.0)], [bar(0, 1.0, 50, 51, 49, 50)])
    before = core.state()
    with pytest.raises(CoreInputError) as info:
        core.step(events, [bar(0, 2.0, 50, 51, 49, 50)])
    assert info.value.field == field
    assert info.value.reason == reason
    assert f"{field} = " in str(info.value)
    assert core.state() == before
    # the order accepted before still fills: nothing of the refused batch was applied
    records, _ = core.step([], [bar(0, 3.0, 52, 53, 51, 52)])
    assert [r[:2] for r in records] == [(REC_EXECUTED, 7)]


def test_error_messages_are_identical_across_cores() -> None:
    from bt_cracktrader.core import PyCore, rust_core

    messages = {}
    for cls in (PyCore, rust_core()):
        core = cls(10000.0, True, True, 100.0)
        with pytest.raises(CoreInputError) as info:
            core.step(
                [STOCK, sub(1, 0, float("inf"), 100.0, 1.0)],
                [bar(0, 1.0, 1, 1, 1, 1)],
            )
        messages[cls] = str(info.value)
    assert len(set(messages.values())) == 1, messages
    assert "size = inf" in next(iter(messages.values()))


def test_pickle_round_trip_keeps_state(core_cls: Any) -> None:
    core = core_cls(50000.0, True, True, 100.0)
    core.step(
        [
            STOCK,
            FUTURE,
            sub(1, 0, 10, 100.0, 1.0),
            sub(2, 1, -3, 20.0, 1.0),
        ],
        [bar(0, 1.0, 99, 101, 98, 100), bar(1, 1.0, 20, 21, 19, 20)],
    )
    core.step([], [bar(0, 2.0, 101, 103, 100, 102.5), bar(1, 2.0, 20.5, 21, 19, 19.25)])
    clone = pickle.loads(pickle.dumps(core))
    assert clone.state() == core.state()
    nxt = [bar(0, 3.0, 103, 104, 99, 99.5), bar(1, 3.0, 19, 20, 18, 18.5)]
    order = [sub(3, 0, -25, 99.5, 3.0)]
    assert clone.step(order, nxt) == core.step(order, nxt)
    after = [bar(0, 4.0, 98, 99, 97, 98.25), bar(1, 4.0, 18, 19, 17, 17.75)]
    assert clone.step([], after) == core.step([], after)
