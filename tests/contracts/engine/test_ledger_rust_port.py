"""The Rust ledger (``bt_cracktrader._rust.RustLedger``) is a port of ``PyLedger``, bit for bit.

Seeded random streams of valid and hostile events go through both ledgers (strict mode) one
batch at a time; the records, ``state()``, ``snapshot()``, the exceptions (type and message),
pickling, cross-backend restores and the logging must be the same, with the same types (an int
stays an int, ``-0.0`` stays ``-0.0``).
"""

from __future__ import annotations

import json
import logging
import math
import pickle
import random
import struct
from typing import Any

import pytest

from bt_cracktrader.core.contract import CoreInputError
from bt_cracktrader.core.ledger import TRANSITIONS, LedgerInvariantError, PyLedger

_rust = pytest.importorskip("bt_cracktrader._rust")
RustLedger = _rust.RustLedger

STREAMS = 320


# --- comparison ----------------------------------------------------------------------------------
def same(a: Any, b: Any, path: str = "$") -> None:
    """``a`` and ``b`` are the same data: same types, same float bits, same dict key order."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__} ({a!r}, {b!r})"
    if isinstance(a, float):
        if math.isnan(a):
            assert math.isnan(b), f"{path}: {a!r} != {b!r}"
        else:
            assert struct.pack("<d", a) == struct.pack("<d", b), f"{path}: {a!r} != {b!r}"
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} != {list(b)}"
        for key in a:
            same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), f"{path}: {len(a)} items != {len(b)}"
        for k, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{k}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def same_json(a: Any, b: Any) -> None:
    assert json.dumps(a) == json.dumps(b)
    same(a, b)


def outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except (CoreInputError, LedgerInvariantError, TypeError, ValueError, OverflowError) as exc:
        return "error", exc


def same_outcome(py: tuple[str, Any], rs: tuple[str, Any]) -> None:
    assert py[0] == rs[0], f"python {py!r} != rust {rs!r}"
    if py[0] == "ok":
        same_json(py[1], rs[1])
        return
    e1, e2 = py[1], rs[1]
    assert type(e1) is type(e2), f"{e1!r} != {e2!r}"
    assert str(e1) == str(e2)
    if isinstance(e1, CoreInputError):
        assert (e1.what, e1.field, e1.reason) == (e2.what, e2.field, e2.reason)
        assert e1.value is e2.value or repr(e1.value) == repr(e2.value)


def same_ledgers(py: PyLedger, rs: Any, names: list[str]) -> None:
    same_json(py.state(), rs.state())
    same_json(py.snapshot(), rs.snapshot())
    for name in names[:3]:
        same(py.order(name), rs.order(name))


# --- the streams ---------------------------------------------------------------------------------
HOSTILE_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    0.0,
    -0.0,
    -2.5,
    1e308,
    float("nan"),
    float("inf"),
    2**63 - 1,
    2**63,
    -(2**63),
    2**70,
    -(2**130),
    "",
    "x",
    "buy",
    [1],
    {"a": 1},
    (1,),
    object(),
]


class Stream:
    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)
        self.seq = 0
        self.names = [f"o{k}" for k in range(self.rnd.randint(2, 6))]
        self.ids = [f"x{k}" for k in range(len(self.names) + 1)]
        self.keys: list[str] = []
        self.filled: dict[str, Any] = {}
        self.sizes: dict[str, Any] = {}
        self.hostile = self.rnd.random() < 0.5

    def num(self, lo: float, hi: float) -> Any:
        r = self.rnd.random()
        if r < 0.3:
            return self.rnd.randint(max(1, int(lo)), max(1, int(hi)))
        if r < 0.5:
            return round(self.rnd.uniform(lo, hi), 2)
        return self.rnd.uniform(lo, hi)

    def next_seq(self) -> int:
        r = self.rnd.random()
        if r < 0.08:
            return max(0, self.seq - self.rnd.randint(1, 3))
        if r < 0.16:
            return self.seq
        self.seq += 1
        return self.seq

    def event(self) -> dict[str, Any]:
        rnd = self.rnd
        kind = rnd.choices(
            [
                "submit",
                "accept",
                "reject",
                "cancel_request",
                "cancel_ack",
                "expire",
                "report",
                "bar",
            ],
            [4, 3, 1, 1, 1, 1, 6, 3],
        )[0]
        name = rnd.choice(self.names)
        seq = self.next_seq()
        if kind == "submit":
            size = self.num(1, 10)
            self.sizes.setdefault(name, size)
            exectype = rnd.choice(["market", "limit"])
            return {
                "type": kind,
                "seq": seq,
                "order": name,
                "data": rnd.randint(0, 2),
                "side": rnd.choice(["buy", "sell"]),
                "size": size,
                "exectype": exectype,
                "price": self.num(90, 110) if exectype == "limit" or rnd.random() < 0.2 else None,
                "sim": rnd.random() < 0.5,
            }
        if kind == "accept":
            oid = rnd.choice(self.ids) if rnd.random() < 0.8 else None
            return {"type": kind, "seq": seq, "order": name, "order_id": oid}
        if kind == "reject":
            return {"type": kind, "seq": seq, "order": name, "margin": rnd.random() < 0.3}
        if kind in ("cancel_request", "cancel_ack", "expire"):
            return {"type": kind, "seq": seq, "order": name}
        if kind == "bar":
            opn = self.num(85, 115)
            low = min(opn, self.num(80, 110))
            high = max(opn, self.num(90, 120))
            return {
                "type": kind,
                "seq": seq,
                "data": rnd.randint(0, 2),
                "ts": rnd.choice([seq * 1000, seq * 1000.5]),
                "open": opn,
                "high": high,
                "low": low,
                "close": self.num(low, high) if low < high else low,
            }
        # a report
        size = self.sizes.get(name, 5)
        prev = self.filled.get(name, 0)
        r = rnd.random()
        if r < 0.15:
            filled: Any = prev
        elif r < 0.25:
            filled = size
        elif r < 0.3:
            filled = size + 1
        elif r < 0.35:
            filled = 0
        elif isinstance(size, int) and rnd.random() < 0.6:
            filled = rnd.randint(min(int(prev), size), size)
        else:
            filled = rnd.uniform(0, float(size))
        if isinstance(filled, (int, float)) and filled > prev:
            self.filled[name] = filled
        average = self.num(90, 110) if rnd.random() < 0.7 else None
        cost = None
        if average is None or rnd.random() < 0.4:
            cost = filled * self.num(90, 110) if rnd.random() < 0.9 else 0
        delta = filled - prev
        last_size = delta if delta > 0 and rnd.random() < 0.4 else None
        if last_size is None and rnd.random() < 0.1:
            last_size = self.num(1, 3)
        if rnd.random() < 0.4 or not self.keys:
            key = f"k{len(self.keys)}"
            self.keys.append(key)
        else:
            key = rnd.choice(self.keys)
        has_name = rnd.random() < 0.8
        oid = rnd.choice(self.ids) if not has_name or rnd.random() < 0.4 else None
        return {
            "type": "report",
            "seq": seq,
            "order": name if has_name else None,
            "order_id": oid,
            "status": rnd.choices(
                ["open", "closed", "canceled", "expired", "rejected"], [5, 3, 2, 1, 1]
            )[0],
            "filled": filled,
            "average": average,
            "cost": cost,
            "last_price": self.num(90, 110) if rnd.random() < 0.4 else None,
            "last_size": last_size,
            "fee": rnd.choice([None, 0, 0.1, self.num(0, 2), -0.5]),
            "ts": rnd.choice([None, seq * 1000, seq * 1000.25]),
            "key": key,
        }

    def corrupt(self, ev: Any) -> Any:
        rnd = self.rnd
        r = rnd.random()
        if r < 0.05:
            return rnd.choice([None, 1, "ev", ["type", "bar"], ("type",)])
        if not isinstance(ev, dict):
            return ev
        ev = dict(ev)
        fields = list(ev)
        if r < 0.2:
            del ev[rnd.choice(fields)]
        elif r < 0.3:
            ev[rnd.choice(["extra", "Type", "seq "])] = 1
        elif r < 0.35:
            ev[rnd.choice([1, 2.5, None, (1, 2)])] = "v"
        elif r < 0.4:
            ev["type"] = rnd.choice(["Submit", "fill", 3, None, ""])
        else:
            ev[rnd.choice(fields)] = rnd.choice(HOSTILE_VALUES)
        return ev

    def batch(self) -> Any:
        events = [self.event() for _ in range(self.rnd.randint(1, 6))]
        if self.hostile and self.rnd.random() < 0.15:
            k = self.rnd.randrange(len(events))
            events[k] = self.corrupt(events[k])
        if self.hostile and self.rnd.random() < 0.02:
            return self.rnd.choice([None, {"type": "bar"}, "events", 3])
        if self.rnd.random() < 0.1:
            return tuple(events)
        return events


LOGGERS = ("bt_cracktrader.core.ledger", "bt_cracktrader._rust")


def logged(caplog: pytest.LogCaptureFixture, name: str) -> list[tuple[str, int, str]]:
    return [
        (getattr(r, "category", "?"), r.levelno, r.getMessage())
        for r in caplog.records
        if r.name == name
    ]


OUTCOMES: dict[str, int] = {}


def run_stream(seed: int, caplog: pytest.LogCaptureFixture) -> None:
    stream = Stream(seed)
    rnd = stream.rnd
    level = rnd.choice([logging.DEBUG, logging.INFO, logging.WARNING, logging.CRITICAL])
    caplog.set_level(level, logger="bt_cracktrader")
    caplog.clear()
    fee_rate = rnd.choice([0.0, 0.001, 0, 0.25])
    cash = rnd.choice([10000.0, 5000, 0.0])
    py = PyLedger(cash, fee_rate, strict=True)
    rs = RustLedger(cash, fee_rate, strict=True)
    assert repr(rs) == repr(py).replace("PyLedger", "RustLedger")
    for _ in range(rnd.randint(5, 40)):
        events = stream.batch()
        got = outcome(py.apply, events)
        same_outcome(got, outcome(rs.apply, events))
        assert not isinstance(got[1], LedgerInvariantError), got
        kind = type(got[1]).__name__ if got[0] == "error" else "ok"
        OUTCOMES[kind] = OUTCOMES.get(kind, 0) + 1
        for rec in got[1] if got[0] == "ok" else []:
            name = rec["category"] if rec["kind"] == "diagnostic" else rec["kind"]
            OUTCOMES[name] = OUTCOMES.get(name, 0) + 1
        same_ledgers(py, rs, stream.names)
        r = rnd.random()
        if r < 0.05:
            py = pickle.loads(pickle.dumps(py))
            rs = pickle.loads(pickle.dumps(rs))
            assert type(rs) is RustLedger
        elif r < 0.1:
            py, rs = PyLedger.restore(rs.snapshot()), RustLedger.restore(py.snapshot())
        same_ledgers(py, rs, stream.names)
    assert repr(rs) == repr(py).replace("PyLedger", "RustLedger")
    py_log = logged(caplog, LOGGERS[0])
    rs_log = logged(caplog, LOGGERS[1])
    assert py_log == rs_log
    OUTCOMES["logged"] = OUTCOMES.get("logged", 0) + len(py_log)


def test_random_streams(caplog: pytest.LogCaptureFixture) -> None:
    for seed in range(STREAMS):
        run_stream(seed, caplog)
    # the streams reach every kind of outcome
    wanted = {
        "ok", "CoreInputError", "transition", "fill", "notification", "cancel_pending",
        "duplicate_report", "stale_report", "unknown_order", "terminal_order",
        "illegal_transition", "overfill", "inconsistent_report", "closed_short",
        "implied_accept", "late_fill", "logged",
    }  # fmt: skip
    assert not wanted - set(OUTCOMES), (sorted(wanted - set(OUTCOMES)), OUTCOMES)


# --- snapshots -----------------------------------------------------------------------------------
def busy_ledger() -> PyLedger:
    led = PyLedger(1000.0, 0.001, strict=True)
    stream = Stream(7)
    for _ in range(30):
        try:
            led.apply(stream.batch())
        except CoreInputError:
            pass
    return led


def test_hostile_snapshots() -> None:
    base = busy_ledger().snapshot()
    assert base["orders"] and base["positions"]
    rnd = random.Random(3)
    for _ in range(400):
        snap: Any = json.loads(json.dumps(base))
        r = rnd.random()
        if r < 0.05:
            snap = rnd.choice([None, [], "snap", 1])
        elif r < 0.15:
            del snap[rnd.choice(list(snap))]
        elif r < 0.25:
            snap[rnd.choice(list(snap))] = rnd.choice(HOSTILE_VALUES)
        elif r < 0.3:
            snap["version"] = rnd.choice([2, 1.0, True, "1", None, 0])
        else:
            key = rnd.choice(["orders", "positions", "marks", "keys"])
            items = snap[key]
            if not items:
                continue
            k = rnd.randrange(len(items))
            if key == "keys" or rnd.random() < 0.1:
                items[k] = rnd.choice(HOSTILE_VALUES)
            elif rnd.random() < 0.2:
                del items[k][rnd.choice(list(items[k]))]
            else:
                items[k][rnd.choice(list(items[k]))] = rnd.choice(HOSTILE_VALUES)
        py = outcome(PyLedger.restore, snap)
        rs = outcome(RustLedger.restore, snap)
        assert py[0] == rs[0], (py, rs)
        if py[0] == "error":
            same_outcome(py, rs)
            continue
        same_json(py[1].snapshot(), rs[1].snapshot())
        same_json(py[1].state(), rs[1].state())
        # the same events on the restored ledgers (strict mode may find the state broken)
        stream = Stream(11)
        for _ in range(5):
            events = stream.batch()
            same_outcome(outcome(py[1].apply, events), outcome(rs[1].apply, events))
            same_json(py[1].snapshot(), rs[1].snapshot())


def test_strict_mode_reports_a_broken_restored_state() -> None:
    led = PyLedger(1000.0, strict=True)
    led.apply(
        [
            {
                "type": "submit",
                "seq": 1,
                "order": "a",
                "data": 0,
                "side": "buy",
                "size": 3,
                "exectype": "market",
                "price": None,
                "sim": True,
            },
        ]
    )
    snap = led.snapshot()
    snap["orders"][0]["filled"] = 5
    snap["orders"][0]["status"] = "Accepted"
    bar = [
        {"type": "bar", "seq": 2, "data": 1, "ts": 1, "open": 1, "high": 1, "low": 1, "close": 1}
    ]
    py, rs = PyLedger.restore(snap), RustLedger.restore(snap)
    same_outcome(outcome(py.apply, bar), outcome(rs.apply, bar))
    with pytest.raises(LedgerInvariantError, match="order a filled 5 of 3"):
        rs.apply(bar)


def test_unknown_snapshot_version_is_refused() -> None:
    snap = RustLedger(100.0).snapshot()
    snap["version"] = 2
    with pytest.raises(CoreInputError, match="unknown snapshot version"):
        RustLedger.restore(snap)


# --- the API -------------------------------------------------------------------------------------
def test_api() -> None:
    assert RustLedger.backend == "rust"
    assert PyLedger.backend == "python"
    assert {k: set(v) for k, v in RustLedger.transitions().items()} == {
        k: set(v) for k, v in TRANSITIONS.items()
    }
    with open_matrix() as matrix:
        assert RustLedger.transitions() == matrix["transitions"]
    led = RustLedger(10)
    assert led.snapshot()["cash"] == 10.0 and type(led.snapshot()["cash"]) is float
    led = RustLedger(cash=10, fee_rate=0.5, strict=True)
    assert led.snapshot()["strict"] is True and led.snapshot()["fee_rate"] == 0.5
    for args in [(None,), ("1",), (True,), (1.0, -0.1), (1.0, 0.0, 1), (float("nan"),), (2**63,)]:
        same_outcome(outcome(PyLedger, *args), outcome(RustLedger, *args))
    assert led.order("nope") is None and led.order(3) is None
    with pytest.raises(TypeError):
        led.order([])
    with pytest.raises(TypeError):
        PyLedger(1.0).order([])


class open_matrix:
    def __enter__(self) -> dict[str, Any]:
        from importlib import resources

        text = (
            resources.files("bt_cracktrader.core").joinpath("schema/transitions.json").read_text()
        )
        return json.loads(text)  # type: ignore[no-any-return]

    def __exit__(self, *exc: object) -> None:
        return None


def test_nothing_is_logged_when_disabled(monkeypatch: Any) -> None:
    logger = logging.getLogger("bt_cracktrader._rust")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    calls: list[Any] = []
    monkeypatch.setattr(logger, "log", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(logger, "debug", lambda *a, **k: calls.append(a))
    led = RustLedger(100.0)
    try:
        led.apply([{"type": "cancel_ack", "seq": 1, "order": "zz"}])
    finally:
        logger.setLevel(level)
    assert calls == []


def test_a_log_handler_may_look_at_the_ledger() -> None:
    seen: list[Any] = []
    led = RustLedger(100.0)

    class Peek(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(led.state()["cash"])

    logger = logging.getLogger("bt_cracktrader._rust")
    handler, level = Peek(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        led.apply([{"type": "cancel_ack", "seq": 1, "order": "zz"}])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert seen == [100.0]
