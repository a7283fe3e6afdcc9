"""The contract's JSON Schema: current, valid, and satisfied by every recording we write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

import bt_cracktrader
from bt_cracktrader.core.replay import SCHEMA_PATH, load, validate_recording

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = sorted((ROOT / "fixtures" / "core").glob("*.json"))


def test_schema_is_valid_draft_2020_12_and_up_to_date(tmp_path: Path) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(bt_cracktrader.__file__).resolve().parents[1])
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_contract_schema.py"), "--check"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_every_golden_fixture_satisfies_the_schema(path: Path) -> None:
    load(path)  # validates


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda call: call["events"].append([2, 5]), "events"),  # a submit of 2 fields
        (lambda call: call["events"].append([42]), "events"),  # unknown tag
        (lambda call: call.update(extra=1), "calls"),  # no additional properties
        (lambda call: call["bars"][0].append(1.0), "bars"),  # a 16-field bar
    ],
)
def test_the_schema_refuses_malformed_calls(mutate: object, where: str) -> None:
    data = load(FIXTURES[0], validate=False)
    step = next(c for c in data["calls"] if c["call"] == "step" and "error" not in c and c["bars"])
    mutate(step)  # type: ignore[operator]
    with pytest.raises(jsonschema.ValidationError) as info:
        validate_recording(data)
    # oneOf reports at the call that matches no variant: the first malformed call is named
    assert list(info.value.absolute_path)[0] == "calls", where
