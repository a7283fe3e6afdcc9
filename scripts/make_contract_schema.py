#!/usr/bin/env python
"""Write the contracts' JSON Schemas (draft 2020-12) to bt_cracktrader/core/schema/.

``recording.schema.json`` describes a core recording (a golden fixture or a replay log): its
header, every call, every event, bar and record tuple of the contract version in
``core/contract.py``. ``ledger.schema.json`` describes an execution-ledger recording
(``fixtures/ledger/*.json``, ledger replay logs): events, records, snapshot and state of
``core/ledger.py``.

    python scripts/make_contract_schema.py           # (re)write the schema
    python scripts/make_contract_schema.py --check   # fail if it would change
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bt_cracktrader.core import contract as c
from bt_cracktrader.core import ledger as lg

OUT = Path(__file__).resolve().parents[1] / "bt_cracktrader" / "core" / "schema"

INT = {"type": "integer"}
IDX = {"type": "integer", "minimum": 0}
REF_OR_NONE = {"type": "integer", "minimum": -1}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}


def _tuple(tag: int, *items: dict[str, Any]) -> dict[str, Any]:
    prefix = [{"const": tag}, *items]
    return {"type": "array", "prefixItems": prefix, "items": False, "minItems": len(prefix)}


def _submit(tag: int) -> dict[str, Any]:
    return _tuple(
        tag, IDX, IDX, BOOL, NUM, {"enum": list(range(8))}, NUM, NUM, NUM, NUM, NUM, NUM, NUM,
        NUM, NUM, REF_OR_NONE, REF_OR_NONE, BOOL, BOOL, BOOL, BOOL,
    )  # fmt: skip


def schema() -> dict[str, Any]:
    events = [
        _tuple(
            c.EV_DATA,
            IDX,
            BOOL,
            BOOL,
            NUM,
            NUM,
            NUM,
            NUM,
            NUM,
            NUM,
            BOOL,
            {"type": "integer", "minimum": 0, "maximum": (1 << len(c.COMM_METHODS)) - 1},
            REF_OR_NONE,
        ),  # fmt: skip
        _tuple(c.EV_POSITION, IDX),
        _submit(c.EV_SUBMIT),
        _tuple(c.EV_CANCEL, IDX, BOOL),
        _tuple(
            c.EV_CONFIG,
            BOOL,
            BOOL,
            BOOL,
            BOOL,
            NUM,
            NUM,
            BOOL,
            BOOL,
            BOOL,
            BOOL,
            {"enum": list(range(c.FILLER_CALLBACK + 1))},
            NUM,
            NUM,
            NUM,
            BOOL,
        ),  # fmt: skip
        _tuple(c.EV_SET_CASH, NUM),
        _tuple(c.EV_ADD_CASH, NUM),
        _submit(c.EV_HISTORY),
        _tuple(c.EV_FUND, NUM, NUM),
    ]
    bar = {
        "type": "array",
        "prefixItems": [IDX, *([NUM] * (len(c.BAR_FIELDS) - 1)), INT],
        "items": False,
        "minItems": c.BAR_LENGTH,
    }
    records = [
        _tuple(c.REC_ACCEPTED, IDX),
        _tuple(c.REC_MARGIN, IDX),
        _tuple(c.REC_EXECUTED, IDX, *([NUM] * 14)),
        _tuple(c.REC_SUBMITTED, IDX),
        _tuple(c.REC_CANCELED, IDX),
        _tuple(c.REC_EXPIRED, IDX),
        _tuple(c.REC_REJECTED, IDX),
        _tuple(c.REC_ACTIVATED, IDX),
        _tuple(c.REC_TRIGGERED, IDX),
        _tuple(c.REC_TRAIL, IDX, NUM, NUM),
        _tuple(c.REC_POSITION, IDX),
    ]
    state = {
        "type": "array",
        "prefixItems": [*([NUM] * (len(c.STATE_FIELDS) - 1)), BOOL],
        "items": False,
        "minItems": len(c.STATE_FIELDS),
    }
    error = {
        "type": "object",
        "properties": {
            "what": {"type": "string"},
            "field": {"type": "string"},
            "reason": {"type": "string"},
        },  # fmt: skip
        "required": ["what", "field", "reason"],
        "additionalProperties": False,
    }
    ev_list = {"type": "array", "items": {"$ref": "#/$defs/event"}}
    rec_list = {"type": "array", "items": {"$ref": "#/$defs/record"}}
    state_ref = {"$ref": "#/$defs/state"}
    error_ref = {"$ref": "#/$defs/error"}

    def call(kind: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {"call": {"const": kind}, **props},
            "required": ["call", *required],
            "additionalProperties": False,
        }

    calls = [
        call(
            "step",
            {
                "events": ev_list,
                "bars": {"type": "array", "items": {"$ref": "#/$defs/bar"}},
                "records": rec_list,
                "state": state_ref,
            },
            ["events", "bars", "state"],
        ),  # fmt: skip
        call("apply", {"events": ev_list, "records": rec_list, "state": state_ref}, ["events"]),
        call(
            "value_of",
            {
                "datas": {"type": "array", "items": IDX},
                "closes": {"type": "array", "items": NUM},
                "lever": BOOL,
                "value": NUM,
                "state": state_ref,
            },
            ["datas", "closes", "lever"],
        ),  # fmt: skip
    ]
    # a call the core refused: its input is what was refused, so only its shape is checked
    calls.append(
        {
            "type": "object",
            "properties": {
                "call": {"enum": ["step", "apply", "value_of"]},
                "events": {"type": "array"},
                "bars": {"type": "array"},
                "datas": {"type": "array"},
                "closes": {"type": "array"},
                "lever": {},
                "error": error_ref,
                "state": state_ref,
            },
            "required": ["call", "error", "state"],
            "additionalProperties": False,
        }
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://bt-cracktrader/contract-v{c.CONTRACT_VERSION}/recording.schema.json",
        "title": f"bt_cracktrader core recording, contract version {c.CONTRACT_VERSION}",
        "type": "object",
        "properties": {
            "contract_version": {"const": c.CONTRACT_VERSION},
            "init": {
                "type": "object",
                "properties": {
                    "cash": NUM,
                    "checksubmit": BOOL,
                    "shortcash": BOOL,
                    "fundstartval": NUM,
                },  # fmt: skip
                "required": ["cash", "checksubmit", "shortcash", "fundstartval"],
                "additionalProperties": False,
            },
            "calls": {"type": "array", "items": {"$ref": "#/$defs/call"}},
        },
        "required": ["contract_version", "init", "calls"],
        "additionalProperties": False,
        "$defs": {
            "event": {"oneOf": events},
            "bar": bar,
            "record": {"oneOf": records},
            "state": state,
            "error": error,
            "call": {"oneOf": calls},
        },
    }


STR = {"type": "string", "minLength": 1}
NULL = {"type": "null"}
_LEDGER_KINDS: dict[int, dict[str, Any]] = {
    lg._STR: STR,
    lg._OPT_STR: {"oneOf": [STR, NULL]},
    lg._INT: IDX,
    lg._SIDE: {"enum": ["buy", "sell"]},
    lg._POS: {"type": "number", "exclusiveMinimum": 0},
    lg._OPT_POS: {"oneOf": [{"type": "number", "exclusiveMinimum": 0}, NULL]},
    lg._NONNEG: {"type": "number", "minimum": 0},
    lg._OPT_NONNEG: {"oneOf": [{"type": "number", "minimum": 0}, NULL]},
    lg._OPT_NUM: {"oneOf": [NUM, NULL]},
    lg._BOOL: BOOL,
    lg._EXECTYPE: {"enum": ["market", "limit"]},
    lg._STATUS: {"enum": list(lg.REPORT_STATUSES)},
    lg._NUM: NUM,
}


def _object(props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }


def ledger_schema() -> dict[str, Any]:
    """Schema of a ledger recording (``fixtures/ledger/*.json`` and ledger replay logs), built
    from the field tables of ``core/ledger.py`` so that the two cannot drift apart."""
    states = {"enum": list(lg.STATES)}
    events = []
    for kind, fields in lg.EVENT_FIELDS.items():
        props: dict[str, Any] = {"type": {"const": kind}, "seq": IDX}
        props.update({name: _LEDGER_KINDS[check] for name, check in fields})
        events.append(_object(props))
    opt_num = {"oneOf": [NUM, NULL]}
    records = [
        _object(
            {
                "kind": {"const": "transition"},
                "seq": IDX,
                "order": STR,
                "from": states,
                "to": states,
                "implied": BOOL,
            }
        ),
        _object(
            {
                "kind": {"const": "fill"},
                "seq": IDX,
                "order": STR,
                "data": IDX,
                "size": NUM,
                "price": NUM,
                "fee": NUM,
                "filled": NUM,
                "remaining": NUM,
                "pnl": NUM,
                "position_size": NUM,
                "position_price": NUM,
                "cash": NUM,
                "ts": opt_num,
            }
        ),
        _object({"kind": {"const": "cancel_pending"}, "seq": IDX, "order": STR}),
        _object(
            {
                "kind": {"const": "notification"},
                "seq": IDX,
                "order": STR,
                "status": states,
                "filled": NUM,
                "remaining": NUM,
                "cost": NUM,
                "fee": NUM,
            }
        ),
        _object(
            {
                "kind": {"const": "diagnostic"},
                "seq": IDX,
                "order": {"oneOf": [STR, NULL]},
                "category": {"enum": list(lg.CATEGORIES)},
                "level": {"enum": ["DEBUG", "INFO", "WARNING", "ERROR"]},
                "key": {"oneOf": [STR, NULL]},
            }
        ),
    ]
    order = _object(
        {
            "order": STR,
            "order_id": {"oneOf": [STR, NULL]},
            "data": IDX,
            "side": {"enum": ["buy", "sell"]},
            "size": NUM,
            "exectype": {"enum": ["market", "limit"]},
            "price": opt_num,
            "sim": BOOL,
            "status": states,
            "filled": NUM,
            "cost": NUM,
            "fee": NUM,
            "seq": IDX,
            "cancel_requested": BOOL,
        }
    )
    position = _object({"data": IDX, "size": NUM, "price": NUM})
    snapshot = _object(
        {
            "version": {"const": lg.SNAPSHOT_VERSION},
            "cash": NUM,
            "fee_rate": NUM,
            "strict": BOOL,
            "orders": {"type": "array", "items": order},
            "positions": {"type": "array", "items": position},
            "marks": {"type": "array", "items": _object({"data": IDX, "price": NUM})},
            "keys": {"type": "array", "items": STR},
        }
    )
    state = _object(
        {
            "cash": NUM,
            "value": NUM,
            "positions": {"type": "array", "items": position},
            "open_orders": {"type": "array", "items": STR},
        }
    )
    error = _object({"what": {"type": "string"}, "field": {"type": "string"}, "reason": STR})
    batch = {
        "oneOf": [
            _object(
                {
                    "events": {"type": "array", "items": {"$ref": "#/$defs/event"}},
                    "records": {"type": "array", "items": {"$ref": "#/$defs/record"}},
                }
            ),
            # a batch the ledger refused: its events are malformed, so they are not checked
            _object({"events": {"type": "array"}, "error": error}),
        ]
    }
    # a replay log has only the version, init and the batches
    top = _object(
        {
            "ledger_version": {"const": lg.LEDGER_VERSION},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "init": _object({"cash": NUM, "fee_rate": NUM, "strict": BOOL}),
            "batches": {"type": "array", "items": batch},
            "snapshot": {"$ref": "#/$defs/snapshot"},
            "state": {"$ref": "#/$defs/state"},
        }
    )
    top["required"] = ["ledger_version", "init", "batches"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://bt-cracktrader/ledger-v{lg.LEDGER_VERSION}/ledger.schema.json",
        "title": f"bt_cracktrader execution ledger recording, version {lg.LEDGER_VERSION}",
        **top,
        "$defs": {
            "event": {"oneOf": events},
            "record": {"oneOf": records},
            "snapshot": snapshot,
            "state": state,
            "batch": batch,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a schema would change")
    args = parser.parse_args(argv)
    stale = 0
    for name, build in (("recording.schema.json", schema), ("ledger.schema.json", ledger_schema)):
        path = OUT / name
        text = json.dumps(build(), indent=1) + "\n"
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
