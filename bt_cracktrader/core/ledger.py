"""The execution ledger: orders whose fills come from outside (an exchange's execution reports)
or from a simulated venue on bars, with their cash and positions.

Both cores implement it: ``PyLedger`` here and ``bt_cracktrader._rust.RustLedger``. The CCXT
broker puts every order report of an exchange through it; parity between the two is proven by
the golden fixtures of ``fixtures/ledger/`` and a differential fuzz test. This module is the
reference: the Rust ledger follows it statement by statement (same checks in the same order,
same float operations in the same order, same records).

Contract (version ``LEDGER_VERSION``; JSON Schema in ``schema/ledger.schema.json``)
---------------------------------------------------------------------------------------
``ledger.apply(events) -> records``: ``events`` is a list of dicts, each with ``"type"`` and an
int ``"seq"`` (sequence number). The ledger applies a batch in ``seq`` order; events with equal
``seq`` keep their order in the batch (the tie-break: arrival order). A replay feeds the same
batches, so it keeps the original order. The whole batch is validated before anything is
applied: a malformed event raises ``CoreInputError`` naming the event type, the field and the
value, and the ledger is left untouched.

Event types and their fields (all required, in this order; ``None`` where allowed):

* ``submit``: ``order`` (client order id, str), ``data`` (int >= 0), ``side`` (``"buy"`` /
  ``"sell"``), ``size`` (number > 0), ``exectype`` (``"market"`` / ``"limit"``), ``price``
  (number > 0, or None for a market order), ``sim`` (bool: the ledger matches it on ``bar``
  events itself; otherwise the exchange's reports fill it).
* ``accept``: ``order``, ``order_id`` (the exchange's id, str or None).
* ``reject``: ``order``, ``margin`` (bool: ``Margin`` instead of ``Rejected``).
* ``cancel_request``: ``order``: a cancel was sent (a simulated order is canceled at its next
  bar, before matching).
* ``cancel_ack``: ``order``: the venue canceled it.
* ``expire``: ``order``.
* ``report``: an exchange execution report, as ccxt's unified order gives it: ``order`` (client
  order id or None), ``order_id`` (exchange id or None; at least one of the two),
  ``status`` (``open``, ``closed``, ``canceled``, ``expired``, ``rejected``), ``filled``
  (cumulative, number >= 0), ``average`` and ``cost`` (cumulative average price and quote cost,
  numbers or None; a report with ``filled > 0`` needs one of them), ``last_price`` and
  ``last_size`` (the latest fill, or None), ``fee`` (cumulative fee in quote currency, or
  None), ``ts`` (exchange timestamp in ms, or None), ``key`` (its idempotency key, str).
* ``bar``: ``data``, ``ts``, ``open``, ``high``, ``low``, ``close``: marks ``data`` at
  ``close`` (positions are valued at the last bar's close) and matches the simulated orders of
  ``data``: a market order fills at ``open``; a buy limit at ``open`` when ``open <= price``,
  else at ``price`` when ``low <= price`` (a sell limit symmetrically); the fee is
  ``abs(size * price) * fee_rate``.

Records (dicts, keys in this order), in the order things happened:

* ``{"kind": "transition", "seq", "order", "from", "to", "implied"}``: an order status
  change; ``implied`` marks the ``Accepted`` that a fill arriving before the accept implies.
* ``{"kind": "fill", "seq", "order", "data", "size", "price", "fee", "filled", "remaining",
  "pnl", "position_size", "position_price", "cash", "ts"}``: one execution: ``size`` is signed
  (negative sells), ``fee`` the fee of this fill, ``pnl`` the profit of the part that closed
  a position (``Position.update`` and a stock-like ``profitandloss``), then the position and cash.
* ``{"kind": "cancel_pending", "seq", "order"}``: a cancel request was registered.
* ``{"kind": "notification", "seq", "order", "status", "filled", "remaining", "cost", "fee"}``:
  what ``notify_order`` receives: one per event that changed an order, after its transitions
  and fills.
* ``{"kind": "diagnostic", "seq", "order", "category", "level", "key"}``: an event the ledger
  refused or ignored, with its category and logging level (see ``CATEGORIES``). A refused event
  changes nothing.

Order identity is the client order id; a report may name the exchange id instead, which the
ledger learns from ``accept`` or from a report carrying both.

Idempotency: a report whose ``key`` was already applied, or that repeats the order's
cumulative ``filled`` and status, is a ``duplicate_report`` (DEBUG). A report with a lower
``filled`` than applied, or a lower ``seq`` than the order's last applied event, is a
``stale_report`` (WARNING). A fill reported before the order's accept implies the accept.
Terminal statuses are sticky: a canceled or expired order still books fills the exchange made
before the cancel (reported later with the same status: ``late_fill``, INFO), anything else
for a terminal order is refused (``terminal_order``).

Strict mode (``strict=True``) checks the invariants after every event and raises
``LedgerInvariantError`` on a violation: no fill before acceptance, ``filled`` only rises and
never exceeds ``size``, ``remaining == size - filled``, cash and positions equal to what the
applied fills and fees make them, terminal statuses final, refused or duplicate events change
nothing.

``snapshot()`` is the whole state as JSON-able data (versioned: ``SNAPSHOT_VERSION``);
``restore(snapshot)`` builds a ledger of either backend from it.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, Union

from .contract import CoreInputError

__all__ = [
    "CATEGORIES",
    "EVENT_FIELDS",
    "LEDGER_VERSION",
    "SNAPSHOT_VERSION",
    "TERMINAL",
    "TRANSITIONS",
    "LedgerInvariantError",
    "PyLedger",
]

logger = logging.getLogger(__name__)

Number = Union[int, float]

LEDGER_VERSION = 1
SNAPSHOT_VERSION = 1

#: Ints beyond this magnitude are refused (both cores compute sizes in 64-bit range).
INT_LIMIT = 2**63


def _load_matrix() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("schema/transitions.json").read_text("utf-8")
    matrix: dict[str, Any] = json.loads(text)
    return matrix


_MATRIX = _load_matrix()
#: Order statuses, Backtrader's names.
STATES: tuple[str, ...] = tuple(_MATRIX["states"])
#: Statuses an order never leaves.
TERMINAL: frozenset[str] = frozenset(_MATRIX["terminal"])
#: ``status -> statuses it may move to``, from ``schema/transitions.json``.
TRANSITIONS: dict[str, frozenset[str]] = {
    state: frozenset(targets) for state, targets in _MATRIX["transitions"].items()
}

#: Diagnostic categories and their logging level names.
CATEGORIES: dict[str, str] = {
    "duplicate_report": "DEBUG",
    "stale_report": "WARNING",
    "unknown_order": "WARNING",
    "terminal_order": "WARNING",
    "illegal_transition": "ERROR",
    "overfill": "ERROR",
    "inconsistent_report": "ERROR",
    "closed_short": "WARNING",
    "implied_accept": "INFO",
    "late_fill": "INFO",
}

_STR, _OPT_STR, _INT, _SIDE, _POS, _OPT_POS, _NONNEG, _OPT_NONNEG, _OPT_NUM = range(9)
_BOOL, _EXECTYPE, _STATUS, _NUM = range(9, 13)

#: Fields of each event type after ``type`` and ``seq``, in validation order.
EVENT_FIELDS: dict[str, tuple[tuple[str, int], ...]] = {
    "submit": (
        ("order", _STR),
        ("data", _INT),
        ("side", _SIDE),
        ("size", _POS),
        ("exectype", _EXECTYPE),
        ("price", _OPT_POS),
        ("sim", _BOOL),
    ),
    "accept": (("order", _STR), ("order_id", _OPT_STR)),
    "reject": (("order", _STR), ("margin", _BOOL)),
    "cancel_request": (("order", _STR),),
    "cancel_ack": (("order", _STR),),
    "expire": (("order", _STR),),
    "report": (
        ("order", _OPT_STR),
        ("order_id", _OPT_STR),
        ("status", _STATUS),
        ("filled", _NONNEG),
        ("average", _OPT_POS),
        ("cost", _OPT_NONNEG),
        ("last_price", _OPT_POS),
        ("last_size", _OPT_POS),
        ("fee", _OPT_NUM),
        ("ts", _OPT_NUM),
        ("key", _STR),
    ),
    "bar": (
        ("data", _INT),
        ("ts", _NUM),
        ("open", _POS),
        ("high", _POS),
        ("low", _POS),
        ("close", _POS),
    ),
}
EVENT_TYPES = tuple(EVENT_FIELDS)
REPORT_STATUSES = ("open", "closed", "canceled", "expired", "rejected")
_REPORT_TARGET = {
    "closed": "Completed",
    "canceled": "Canceled",
    "expired": "Expired",
    "rejected": "Rejected",
}


class LedgerInvariantError(AssertionError):
    """Strict mode found an invariant broken after an event (a bug in a core, never bad input)."""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_number(what: str, field: str, value: object) -> None:
    if not _is_number(value):
        raise CoreInputError(what, field, value, "not a number")
    if isinstance(value, int):
        if not -INT_LIMIT < value < INT_LIMIT:
            raise CoreInputError(what, field, value, "out of range")
    elif not math.isfinite(value):  # type: ignore[arg-type]
        raise CoreInputError(what, field, value, "not finite")


def _check_field(what: str, field: str, kind: int, value: object) -> None:
    if kind in (_OPT_STR, _OPT_POS, _OPT_NONNEG, _OPT_NUM) and value is None:
        return
    if kind in (_STR, _OPT_STR):
        if not isinstance(value, str):
            raise CoreInputError(what, field, value, "not a str")
        if not value:
            raise CoreInputError(what, field, value, "empty")
    elif kind == _INT:
        if not isinstance(value, int) or isinstance(value, bool):
            raise CoreInputError(what, field, value, "not an int")
        if not 0 <= value < INT_LIMIT:
            raise CoreInputError(what, field, value, "out of range")
    elif kind == _BOOL:
        if not isinstance(value, bool):
            raise CoreInputError(what, field, value, "not a bool")
    elif kind == _SIDE:
        if value not in ("buy", "sell") or not isinstance(value, str):
            raise CoreInputError(what, field, value, "expected 'buy' or 'sell'")
    elif kind == _EXECTYPE:
        if value not in ("market", "limit") or not isinstance(value, str):
            raise CoreInputError(what, field, value, "expected 'market' or 'limit'")
    elif kind == _STATUS:
        if value not in REPORT_STATUSES or not isinstance(value, str):
            raise CoreInputError(
                what, field, value, "expected one of " + ", ".join(REPORT_STATUSES)
            )
    else:
        _check_number(what, field, value)
        if kind in (_POS, _OPT_POS) and not value > 0:  # type: ignore[operator]
            raise CoreInputError(what, field, value, "not > 0")
        if kind in (_NONNEG, _OPT_NONNEG) and not value >= 0:  # type: ignore[operator]
            raise CoreInputError(what, field, value, "negative")


def validate_event(ev: object) -> None:
    """Raise ``CoreInputError`` unless ``ev`` is a well-formed ledger event."""
    if not isinstance(ev, dict):
        raise CoreInputError("event", "event", ev, "not a dict")
    kind = ev.get("type")
    if "type" not in ev:
        raise CoreInputError("event", "type", None, "missing")
    if not isinstance(kind, str) or kind not in EVENT_FIELDS:
        raise CoreInputError("event", "type", kind, "expected one of " + ", ".join(EVENT_TYPES))
    fields = EVENT_FIELDS[kind]
    if "seq" not in ev:
        raise CoreInputError(kind, "seq", None, "missing")
    _check_field(kind, "seq", _INT, ev["seq"])
    for field, check in fields:
        if field not in ev:
            raise CoreInputError(kind, field, None, "missing")
        _check_field(kind, field, check, ev[field])
    if len(ev) != len(fields) + 2:
        known = {"type", "seq", *(f for f, _ in fields)}
        for field in ev:
            if field not in known:
                raise CoreInputError(kind, str(field), ev[field], "unknown field")
    if kind == "submit" and ev["exectype"] == "limit" and ev["price"] is None:
        raise CoreInputError(kind, "price", None, "a limit order needs a price")
    if kind == "report":
        if ev["order"] is None and ev["order_id"] is None:
            raise CoreInputError(kind, "order", None, "a report needs order or order_id")
        if ev["filled"] > 0 and ev["average"] is None and ev["cost"] is None:
            raise CoreInputError(kind, "average", None, "a report with fills needs average or cost")


class _LOrder:
    __slots__ = (
        "order",
        "order_id",
        "data",
        "side",
        "size",
        "exectype",
        "price",
        "sim",
        "status",
        "filled",
        "cost",
        "fee",
        "seq",
        "cancel_requested",
    )

    def __init__(self, ev: Mapping[str, Any]) -> None:
        self.order: str = ev["order"]
        self.order_id: str | None = None
        self.data: int = ev["data"]
        self.side: str = ev["side"]
        self.size: Number = ev["size"]
        self.exectype: str = ev["exectype"]
        self.price: Number | None = ev["price"]
        self.sim: bool = ev["sim"]
        self.status = "Created"
        # the type of the size: an int-sized order keeps int fills, as Backtrader does
        self.filled: Number = 0 if isinstance(self.size, int) else 0.0
        self.cost = 0.0
        self.fee = 0.0
        self.seq: int = ev["seq"]
        self.cancel_requested = False

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


class PyLedger:
    """The execution ledger, in Python (the reference; see the module docstring).

    ``PyLedger(cash, fee_rate=0.0, strict=False)``.
    """

    backend = "python"

    def __init__(self, cash: float, fee_rate: float = 0.0, strict: bool = False) -> None:
        _check_number("ledger", "cash", cash)
        _check_number("ledger", "fee_rate", fee_rate)
        if fee_rate < 0:
            raise CoreInputError("ledger", "fee_rate", fee_rate, "negative")
        if not isinstance(strict, bool):
            raise CoreInputError("ledger", "strict", strict, "not a bool")
        self.cash = float(cash)
        self.fee_rate = float(fee_rate)
        self.strict = strict
        self.orders: dict[str, _LOrder] = {}
        self.by_id: dict[str, str] = {}
        # data -> [size, price]: Backtrader's Position, created at a data's first fill
        self.positions: dict[int, list[Any]] = {}
        self.marks: dict[int, float] = {}
        self.keys: dict[str, None] = {}
        self._base: tuple[float, dict[int, Number]] = (self.cash, {})
        self._journal: list[tuple[int, Number, float, float]] = []

    # --- public API -----------------------------------------------------------------------
    def apply(self, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Apply a batch of events in ``seq`` order and return the records."""
        if not isinstance(events, (list, tuple)):
            raise CoreInputError("events", "events", events, "not a list")
        for ev in events:
            validate_event(ev)
        records: list[dict[str, Any]] = []
        for i in sorted(range(len(events)), key=lambda i: events[i]["seq"]):
            ev = events[i]
            before = self._strict_view() if self.strict else None
            start = len(records)
            self._apply(ev, records)
            if before is not None:
                self._check_invariants(ev, before, records[start:])
        for rec in records:
            if rec["kind"] == "diagnostic":
                level = logging.getLevelName(rec["level"])
                if logger.isEnabledFor(level):
                    logger.log(
                        level,
                        "%s: order %s, seq %s, key %s",
                        rec["category"],
                        rec["order"],
                        rec["seq"],
                        rec["key"],
                        extra={"category": rec["category"]},
                    )
            elif logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "%s: order %s, seq %s",
                    rec["kind"],
                    rec["order"],
                    rec["seq"],
                    extra={"category": rec["kind"]},
                )
        return records

    def state(self) -> dict[str, Any]:
        """Cash, value (positions at their last bar's close, or their price before any bar),
        positions and the client ids of the orders still alive."""
        return {
            "cash": self.cash,
            "value": self._value(),
            "positions": [
                {"data": d, "size": p[0], "price": p[1]} for d, p in self.positions.items()
            ],
            "open_orders": [o.order for o in self.orders.values() if o.status not in TERMINAL],
        }

    def order(self, order: str) -> dict[str, Any] | None:
        """The order with client id ``order``, as in a snapshot, or None."""
        o = self.orders.get(order)
        return None if o is None else o.to_json()

    def snapshot(self) -> dict[str, Any]:
        """The whole state, versioned, as JSON-able data."""
        return {
            "version": SNAPSHOT_VERSION,
            "cash": self.cash,
            "fee_rate": self.fee_rate,
            "strict": self.strict,
            "orders": [o.to_json() for o in self.orders.values()],
            "positions": [
                {"data": d, "size": p[0], "price": p[1]} for d, p in self.positions.items()
            ],
            "marks": [{"data": d, "price": p} for d, p in self.marks.items()],
            "keys": list(self.keys),
        }

    @classmethod
    def restore(cls, snapshot: Mapping[str, Any]) -> PyLedger:
        """A ledger in the state ``snapshot`` (of either backend) describes."""
        _check_snapshot(snapshot)
        led = cls(snapshot["cash"], snapshot["fee_rate"], snapshot["strict"])
        for item in snapshot["orders"]:
            o = _LOrder.__new__(_LOrder)
            for name in _LOrder.__slots__:
                setattr(o, name, item[name])
            led.orders[o.order] = o
            if o.order_id is not None:
                led.by_id[o.order_id] = o.order
        for item in snapshot["positions"]:
            led.positions[item["data"]] = [item["size"], item["price"]]
        for item in snapshot["marks"]:
            led.marks[item["data"]] = item["price"]
        for key in snapshot["keys"]:
            led.keys[key] = None
        led._base = (led.cash, {d: p[0] for d, p in led.positions.items()})
        return led

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_python, (self.snapshot(),))

    def __repr__(self) -> str:
        return (
            f"PyLedger(cash={self.cash!r}, orders={len(self.orders)}, "
            f"positions={len(self.positions)})"
        )

    # --- applying events ------------------------------------------------------------------
    def _diag(
        self, records: list[dict[str, Any]], ev: Mapping[str, Any], order: Any, category: str
    ) -> None:
        records.append(
            {
                "kind": "diagnostic",
                "seq": ev["seq"],
                "order": order,
                "category": category,
                "level": CATEGORIES[category],
                "key": ev.get("key") if ev["type"] == "report" else None,
            }
        )

    def _transition(
        self,
        records: list[dict[str, Any]],
        seq: int,
        o: _LOrder,
        to: str,
        implied: bool = False,
    ) -> None:
        records.append(
            {
                "kind": "transition",
                "seq": seq,
                "order": o.order,
                "from": o.status,
                "to": to,
                "implied": implied,
            }
        )
        o.status = to

    def _notify(self, records: list[dict[str, Any]], seq: int, o: _LOrder) -> None:
        o.seq = seq
        records.append(
            {
                "kind": "notification",
                "seq": seq,
                "order": o.order,
                "status": o.status,
                "filled": o.filled,
                "remaining": o.size - o.filled,
                "cost": o.cost,
                "fee": o.fee,
            }
        )

    def _apply(self, ev: Mapping[str, Any], records: list[dict[str, Any]]) -> None:
        kind = ev["type"]
        if kind == "submit":
            self._submit(ev, records)
        elif kind == "report":
            self._report(ev, records)
        elif kind == "bar":
            self._bar(ev, records)
        else:
            self._order_event(ev, records)

    def _submit(self, ev: Mapping[str, Any], records: list[dict[str, Any]]) -> None:
        if ev["order"] in self.orders:
            self._diag(records, ev, ev["order"], "illegal_transition")
            return
        o = _LOrder(ev)
        self.orders[o.order] = o
        self._transition(records, ev["seq"], o, "Submitted")
        self._notify(records, ev["seq"], o)

    def _order_event(self, ev: Mapping[str, Any], records: list[dict[str, Any]]) -> None:
        kind = ev["type"]
        seq = ev["seq"]
        o = self.orders.get(ev["order"])
        if o is None:
            self._diag(records, ev, ev["order"], "unknown_order")
            return
        if kind == "cancel_request":
            if o.status in TERMINAL:
                self._diag(records, ev, o.order, "terminal_order")
                return
            o.cancel_requested = True
            o.seq = seq
            records.append({"kind": "cancel_pending", "seq": seq, "order": o.order})
            return
        if kind == "accept":
            to = "Accepted"
        elif kind == "reject":
            to = "Margin" if ev["margin"] else "Rejected"
        elif kind == "cancel_ack":
            to = "Canceled"
        else:
            to = "Expired"
        if o.status in TERMINAL:
            # a repeated cancel or expiry acknowledgment is harmless
            category = "duplicate_report" if o.status == to else "terminal_order"
            self._diag(records, ev, o.order, category)
            return
        if to not in TRANSITIONS[o.status]:
            self._diag(records, ev, o.order, "illegal_transition")
            return
        if kind == "accept" and ev["order_id"] is not None:
            owner = self.by_id.get(ev["order_id"])
            if owner is not None and owner != o.order:
                self._diag(records, ev, o.order, "illegal_transition")
                return
            o.order_id = ev["order_id"]
            self.by_id[ev["order_id"]] = o.order
        self._transition(records, seq, o, to)
        self._notify(records, seq, o)

    def _find(self, ev: Mapping[str, Any]) -> _LOrder | None:
        if ev["order"] is not None:
            o = self.orders.get(ev["order"])
            if o is None:
                return None
            if ev["order_id"] is not None and o.order_id not in (None, ev["order_id"]):
                return None
            if ev["order_id"] is not None and o.order_id is None:
                owner = self.by_id.get(ev["order_id"])
                if owner is not None and owner != o.order:
                    return None
            return o
        name = self.by_id.get(ev["order_id"])
        return None if name is None else self.orders[name]

    def _report(self, ev: Mapping[str, Any], records: list[dict[str, Any]]) -> None:
        seq = ev["seq"]
        key = ev["key"]
        if key in self.keys:
            self._diag(records, ev, ev["order"], "duplicate_report")
            return
        o = self._find(ev)
        if o is None:
            self._diag(records, ev, ev["order"], "unknown_order")
            return
        filled = ev["filled"]
        status = ev["status"]
        if seq < o.seq or filled < o.filled:
            self._diag(records, ev, o.order, "stale_report")
            return
        if filled > o.size:
            self._diag(records, ev, o.order, "overfill")
            return
        delta = filled - o.filled
        if status == "open":
            target = "Partial" if filled else "Accepted"
        else:
            target = _REPORT_TARGET[status]
        if o.status in TERMINAL:
            if not delta:
                category = "duplicate_report" if target == o.status else "stale_report"
                self._diag(records, ev, o.order, category)
            elif target == o.status and o.status in ("Canceled", "Expired"):
                price = self._report_price(ev, o, delta)
                if price is None:
                    self._diag(records, ev, o.order, "inconsistent_report")
                    return
                self._learn_id(ev, o)
                self.keys[key] = None
                self._diag(records, ev, o.order, "late_fill")
                fee = self._fee_delta(ev, o)
                self._fill(records, ev, o, delta, filled, price, fee, ev["ts"])
                self._notify(records, seq, o)
            else:
                self._diag(records, ev, o.order, "terminal_order")
            return
        if not delta and target == o.status:
            self._diag(records, ev, o.order, "duplicate_report")
            return
        # plan the status path, refusing before anything changes
        cur = o.status
        implied = bool(delta) and cur == "Submitted"
        if implied:
            cur = "Accepted"
        if delta:
            after_fill = "Completed" if filled == o.size else "Partial"
            if after_fill not in TRANSITIONS[cur]:
                self._diag(records, ev, o.order, "illegal_transition")
                return
            cur = after_fill
        final = cur
        short = False
        if cur != "Completed" and target != cur:
            if target not in TRANSITIONS[cur]:
                self._diag(records, ev, o.order, "illegal_transition")
                return
            final = target
            short = target == "Completed"
        price = 0.0
        if delta:
            got = self._report_price(ev, o, delta)
            if got is None:
                self._diag(records, ev, o.order, "inconsistent_report")
                return
            price = got
        # apply
        self._learn_id(ev, o)
        self.keys[key] = None
        if implied:
            self._diag(records, ev, o.order, "implied_accept")
            self._transition(records, seq, o, "Accepted", implied=True)
        if delta:
            fee = self._fee_delta(ev, o)
            self._fill(records, ev, o, delta, filled, price, fee, ev["ts"])
            self._transition(records, seq, o, "Completed" if filled == o.size else "Partial")
        if final != o.status:
            if short:
                self._diag(records, ev, o.order, "closed_short")
            self._transition(records, seq, o, final)
        self._notify(records, seq, o)

    def _learn_id(self, ev: Mapping[str, Any], o: _LOrder) -> None:
        if ev["order_id"] is not None and o.order_id is None:
            o.order_id = ev["order_id"]
            self.by_id[ev["order_id"]] = o.order

    def _report_price(self, ev: Mapping[str, Any], o: _LOrder, delta: Number) -> float | None:
        last_price = ev["last_price"]
        if last_price is not None and ev["last_size"] == delta:
            return float(last_price)
        if ev["cost"] is not None:
            price = (ev["cost"] - o.cost) / delta
        else:
            price = (ev["filled"] * ev["average"] - o.cost) / delta
        if not (math.isfinite(price) and price > 0):
            return None
        return float(price)

    def _fee_delta(self, ev: Mapping[str, Any], o: _LOrder) -> float:
        fee = ev["fee"]
        return 0.0 if fee is None else fee - o.fee

    def _fill(
        self,
        records: list[dict[str, Any]],
        ev: Mapping[str, Any],
        o: _LOrder,
        delta: Number,
        filled: Number,
        price: float,
        fee: float,
        ts: Number | None,
    ) -> None:
        # ``filled`` is the new cumulative filled as reported (a simulated fill: the size):
        # ``o.filled + delta`` could differ from it in the last bit for float sizes
        signed = delta if o.side == "buy" else -delta
        pos = self.positions.get(o.data)
        if pos is None:
            pos = self.positions[o.data] = [0, 0.0]
        oldsize, oldprice = pos
        size = oldsize + signed
        # backtrader.Position.update
        if not size:
            closed: Number = signed
            newprice = 0.0
        elif not oldsize:
            closed = 0
            newprice = price
        elif oldsize > 0:
            if signed > 0:
                closed = 0
                newprice = (oldprice * oldsize + signed * price) / size
            elif size > 0:
                closed = signed
                newprice = oldprice
            else:
                closed = -oldsize
                newprice = price
        else:
            if signed < 0:
                closed = 0
                newprice = (oldprice * oldsize + signed * price) / size
            elif size < 0:
                closed = signed
                newprice = oldprice
            else:
                closed = -oldsize
                newprice = price
        pnl = -closed * (price - oldprice)
        pos[0] = size
        pos[1] = newprice
        self.cash = self.cash - signed * price - fee
        o.filled = filled
        if ev["type"] == "report" and ev["cost"] is not None:
            o.cost = float(ev["cost"])
        else:
            o.cost = o.cost + delta * price
        o.fee = o.fee + fee if ev["type"] != "report" or ev["fee"] is None else float(ev["fee"])
        if self.strict:
            self._journal.append((o.data, signed, price, fee))
        records.append(
            {
                "kind": "fill",
                "seq": ev["seq"],
                "order": o.order,
                "data": o.data,
                "size": signed,
                "price": price,
                "fee": fee,
                "filled": o.filled,
                "remaining": o.size - o.filled,
                "pnl": pnl,
                "position_size": size,
                "position_price": newprice,
                "cash": self.cash,
                "ts": ts,
            }
        )

    def _bar(self, ev: Mapping[str, Any], records: list[dict[str, Any]]) -> None:
        data = ev["data"]
        seq = ev["seq"]
        self.marks[data] = float(ev["close"])
        for o in list(self.orders.values()):
            if not o.sim or o.data != data or o.status in TERMINAL:
                continue
            if o.cancel_requested:
                self._transition(records, seq, o, "Canceled")
                self._notify(records, seq, o)
                continue
            changed = o.status == "Submitted"
            if changed:
                self._transition(records, seq, o, "Accepted")
            price = self._sim_price(o, ev)
            if price is not None:
                delta = o.size - o.filled
                fee = abs(delta * price) * self.fee_rate
                self._fill(records, ev, o, delta, o.size, price, fee, ev["ts"])
                self._transition(records, seq, o, "Completed")
                changed = True
            if changed:
                self._notify(records, seq, o)

    @staticmethod
    def _sim_price(o: _LOrder, ev: Mapping[str, Any]) -> float | None:
        opn = float(ev["open"])
        if o.exectype == "market":
            return opn
        limit = o.price
        if o.side == "buy":
            if opn <= limit:  # type: ignore[operator]
                return opn
            if ev["low"] <= limit:
                return float(limit)  # type: ignore[arg-type]
        else:
            if opn >= limit:  # type: ignore[operator]
                return opn
            if ev["high"] >= limit:
                return float(limit)  # type: ignore[arg-type]
        return None

    def _value(self) -> float:
        value = self.cash
        for data, (size, price) in self.positions.items():
            value = value + size * self.marks.get(data, price)
        return value

    # --- strict mode ----------------------------------------------------------------------
    def _strict_view(self) -> dict[str, Any]:
        return self.snapshot()

    def _check_invariants(
        self, ev: Mapping[str, Any], before: dict[str, Any], records: list[dict[str, Any]]
    ) -> None:
        def fail(what: str) -> None:
            raise LedgerInvariantError(f"ledger invariant broken: {what}")

        changed = any(r["kind"] != "diagnostic" for r in records)
        # a bar marks its data even when no order moves
        if not changed and ev["type"] != "bar" and self.snapshot() != before:
            fail("a refused or duplicate event changed the state")
        old = {o["order"]: o for o in before["orders"]}
        for o in self.orders.values():
            if o.status not in STATES:
                fail(f"order {o.order} has status {o.status!r}")
            if o.status == "Submitted" and o.filled:
                fail(f"order {o.order} filled before acceptance")
            if not 0 <= o.filled <= o.size:
                fail(f"order {o.order} filled {o.filled!r} of {o.size!r}")
            prev = old.get(o.order)
            if prev is not None:
                if o.filled < prev["filled"]:
                    fail(f"order {o.order} filled fell")
                if prev["status"] in TERMINAL and o.status != prev["status"]:
                    fail(f"order {o.order} left terminal status {prev['status']}")
        cash, sizes = self._base
        sizes = dict(sizes)
        for data, signed, price, fee in self._journal:
            cash = cash - signed * price - fee
            sizes[data] = sizes.get(data, 0) + signed
        if cash != self.cash:
            fail(f"cash {self.cash!r} != {cash!r} from the fills")
        for data, pos in self.positions.items():
            if sizes.get(data, 0) != pos[0]:
                fail(f"position of data {data} is {pos[0]!r}, the fills make {sizes.get(data)!r}")


def _restore_python(snapshot: Mapping[str, Any]) -> PyLedger:
    return PyLedger.restore(snapshot)


_SNAPSHOT_KEYS = ("version", "cash", "fee_rate", "strict", "orders", "positions", "marks", "keys")


def _check_snapshot(snapshot: object) -> None:
    if not isinstance(snapshot, dict):
        raise CoreInputError("snapshot", "snapshot", snapshot, "not a dict")
    version = snapshot.get("version")
    if version != SNAPSHOT_VERSION or not isinstance(version, int) or isinstance(version, bool):
        raise CoreInputError(
            "snapshot",
            "version",
            version,
            f"unknown snapshot version (this core reads {SNAPSHOT_VERSION})",
        )
    for key in _SNAPSHOT_KEYS:
        if key not in snapshot:
            raise CoreInputError("snapshot", key, None, "missing")
    for key in ("orders", "positions", "marks", "keys"):
        if not isinstance(snapshot[key], list):
            raise CoreInputError("snapshot", key, snapshot[key], "not a list")
