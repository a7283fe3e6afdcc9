#!/usr/bin/env python
"""Write the contract's JSON Schema (draft 2020-12) to bt_cracktrader/core/schema/.

The schema describes a core recording (a golden fixture or a replay log): its header, every
call, every event, bar and record tuple of the contract version in ``core/contract.py``.

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the schema would change")
    args = parser.parse_args(argv)
    path = OUT / "recording.schema.json"
    text = json.dumps(schema(), indent=1) + "\n"
    if args.check:
        if not path.exists() or path.read_text() != text:
            print(f"{path} is out of date: run {sys.argv[0]}", file=sys.stderr)
            return 1
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
