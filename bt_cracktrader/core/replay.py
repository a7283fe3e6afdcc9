"""Recording and replaying the calls a broker makes to its core.

A recording is plain JSON (``fixtures/core/*.json``), read by the Python tests and by the Rust
core crate's own tests alike::

    {"contract_version": 1,
     "init": {"cash": ..., "checksubmit": ..., "shortcash": ..., "fundstartval": ...},
     "calls": [{"call": "step", "events": [...], "bars": [...], "records": [...], "state": [...]},
               {"call": "apply", "events": [...], "records": [...]},
               {"call": "value_of", "datas": [...], "closes": [...], "lever": false,
                "value": ..., "state": [...]},
               {"call": "step", ..., "error": {"what": ..., "field": ..., "reason": ...},
                "state": [...]}]}

JSON integers are ``int`` sizes, refs and indices; JSON floats are ``float``. Python writes
floats with their shortest round-trip repr, so a replay reproduces every bit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, TextIO

from .contract import CONTRACT_VERSION, CoreInputError

__all__ = ["RecordingCore", "load", "replay", "save"]


def _plain(obj: Any) -> Any:
    if isinstance(obj, (list, tuple)):
        return [_plain(x) for x in obj]
    return obj


class RecordingCore:
    """Wraps a core and records every call with its inputs and outputs."""

    def __init__(
        self,
        inner: Any,
        cash: float,
        checksubmit: bool,
        shortcash: bool,
        fundstartval: float,
        sink: TextIO | None = None,
    ) -> None:
        self.inner = inner
        self.backend = inner.backend
        self.sink = sink
        self.recording: dict[str, Any] = {
            "contract_version": CONTRACT_VERSION,
            "init": {
                "cash": cash,
                "checksubmit": checksubmit,
                "shortcash": shortcash,
                "fundstartval": fundstartval,
            },
            "calls": [],
        }
        if sink is not None:
            header = {k: self.recording[k] for k in ("contract_version", "init")}
            sink.write(_line(header))
            sink.flush()

    def _emit(self, entry: dict[str, Any]) -> None:
        if self.sink is not None:
            self.sink.write(_line(entry))
            self.sink.flush()

    @classmethod
    def factory(cls, core_cls: Any) -> Callable[..., RecordingCore]:
        def make(cash: float, checksubmit: bool, shortcash: bool, fundstartval: float) -> Any:
            inner = core_cls(cash, checksubmit, shortcash, fundstartval)
            return cls(inner, cash, checksubmit, shortcash, fundstartval)

        return make

    def _call(self, entry: dict[str, Any], fn: Callable[[], Any]) -> Any:
        self.recording["calls"].append(entry)
        try:
            return fn()
        except CoreInputError as exc:
            entry["error"] = {"what": exc.what, "field": exc.field, "reason": exc.reason}
            entry["state"] = _plain(self.inner.state())
            self._emit(entry)
            raise

    def step(
        self, events: Sequence[Any], bars: Sequence[Any], filler: Any = None, comm: Any = None
    ) -> Any:
        if filler is not None or comm is not None:
            raise ValueError(
                "a run with a custom filler or CommInfo override cannot be recorded: the "
                "answers of user code are not data"
            )
        entry: dict[str, Any] = {"call": "step", "events": _plain(events), "bars": _plain(bars)}
        records, state = self._call(entry, lambda: self.inner.step(events, bars))
        entry["records"] = _plain(records)
        entry["state"] = _plain(state)
        self._emit(entry)
        return records, state

    def apply(self, events: Sequence[Any]) -> Any:
        entry: dict[str, Any] = {"call": "apply", "events": _plain(events)}
        records = self._call(entry, lambda: self.inner.apply(events))
        entry["records"] = _plain(records)
        self._emit(entry)
        return records

    def value_of(
        self, datas: Sequence[int], closes: Sequence[float], lever: bool, comm: Any = None
    ) -> Any:
        entry: dict[str, Any] = {
            "call": "value_of",
            "datas": list(datas),
            "closes": list(closes),
            "lever": lever,
        }
        value, state = self._call(entry, lambda: self.inner.value_of(datas, closes, lever))
        entry["value"] = value
        entry["state"] = _plain(state)
        self._emit(entry)
        return value, state

    def state(self) -> Any:
        return self.inner.state()


def save(recording: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(recording, separators=(",", ":"), allow_nan=False) + "\n")


def _line(obj: Any) -> str:
    # NaN stays NaN (a fund history before its first row): the log is read back by Python
    return json.dumps(obj, separators=(",", ":")) + "\n"


#: The JSON Schema (draft 2020-12) of a recording, written by scripts/make_contract_schema.py.
SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "recording.schema.json"


def validate_recording(data: dict[str, Any]) -> None:
    """Check a recording against the contract's JSON Schema (``jsonschema.ValidationError``
    names the first offending call, event or record). Used at the replay boundary and in
    tests, never in the hot path."""
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator(schema).validate(data)


def load(path: Path, validate: bool = True) -> dict[str, Any]:
    """A recording: a golden fixture (one JSON document) or a replay log (JSON lines: a header
    with ``contract_version`` and ``init``, then one line per call), checked against the
    contract's JSON Schema unless ``validate`` is False."""
    path = Path(path)
    text = path.read_text()
    if path.suffix == ".jsonl":
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        if not lines:
            raise ValueError(f"{path}: empty replay log")
        data: dict[str, Any] = {**lines[0], "calls": lines[1:]}
    else:
        data = json.loads(text)
    if data.get("contract_version") != CONTRACT_VERSION:
        raise ValueError(
            f"{path}: contract_version {data.get('contract_version')!r} != {CONTRACT_VERSION}"
        )
    if validate:
        validate_recording(data)
    return data


def _tuples(rows: Sequence[Any]) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in rows]


def _typed(obj: Any) -> Any:
    # == alone would let 1 == 1.0 and 0.0 == -0.0 pass: compare types and float bits too
    if isinstance(obj, dict):
        return {k: _typed(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_typed(v) for v in obj]
    if isinstance(obj, float):
        return ("float", obj.hex())
    return (type(obj).__name__, obj)


def _same(a: Any, b: Any) -> bool:
    return bool(_typed(a) == _typed(b))


def replay(recording: dict[str, Any], core_cls: Any) -> int:
    """Replay a recording on a fresh core of ``core_cls``; raise ``AssertionError`` at the
    first call whose output differs. Returns the number of calls replayed."""
    init = recording["init"]
    core = core_cls(init["cash"], init["checksubmit"], init["shortcash"], init["fundstartval"])
    for i, call in enumerate(recording["calls"]):
        kind = call["call"]
        try:
            if kind == "step":
                records, state = core.step(_tuples(call["events"]), _tuples(call["bars"]))
                got: Any = {"records": _plain(records), "state": _plain(state)}
            elif kind == "apply":
                got = {"records": _plain(core.apply(_tuples(call["events"])))}
            elif kind == "value_of":
                value, state = core.value_of(call["datas"], call["closes"], call["lever"])
                got = {"value": value, "state": _plain(state)}
            else:
                raise ValueError(f"call #{i}: unknown call {kind!r}")
        except CoreInputError as exc:
            got = {
                "error": {"what": exc.what, "field": exc.field, "reason": exc.reason},
                "state": _plain(core.state()),
            }
        expected = {k: call[k] for k in ("records", "state", "value", "error") if k in call}
        if not _same(expected, got):
            raise AssertionError(f"call #{i} ({kind}) differs: expected {expected!r}, got {got!r}")
    return len(recording["calls"])
