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

An execution-ledger recording (``fixtures/ledger/*.json``, or a JSON-lines log written by
``RecordingLedger``, e.g. ``LiveBroker(replay_log=...)``, whose header may also hold a
``description``) has ``ledger_version`` instead of ``contract_version``::

    {"ledger_version": 1, "init": {"cash": ..., "fee_rate": ..., "strict": ...},
     "batches": [{"events": [...], "records": [...]}, {"events": [...], "error": {...}}]}

A replay applies the same batches in the same order; each batch's events are applied in their
``seq`` order, so the original order of application is kept.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, TextIO

from .contract import CONTRACT_VERSION, CoreInputError
from .ledger import LEDGER_VERSION

__all__ = ["RecordingCore", "RecordingLedger", "load", "replay", "replay_ledger", "save"]


def _plain(obj: Any) -> Any:
    if isinstance(obj, (list, tuple)):
        return [_plain(x) for x in obj]
    return obj


class RecordingCore:
    """Wraps a core and records every call with its inputs and outputs, writing them as JSON
    lines to ``sink`` when one is given. With ``keep=False`` the calls are only written to
    ``sink``, not kept in ``recording`` (a broker's ``replay_log`` of a long run would
    otherwise hold every bar of it in memory)."""

    def __init__(
        self,
        inner: Any,
        cash: float,
        checksubmit: bool,
        shortcash: bool,
        fundstartval: float,
        sink: TextIO | None = None,
        keep: bool = True,
    ) -> None:
        self.inner = inner
        self.backend = inner.backend
        self.sink = sink
        self.keep = keep
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
        if self.keep:
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


class RecordingLedger:
    """Wraps an execution ledger and records every batch with its records (or its error),
    writing them as JSON lines to ``sink`` when one is given. Events and records carry no
    credentials, so neither does the log.

    ``description`` (optional) goes into the header as the recording's ``description``, a note
    for readers that a replay ignores. With ``keep=False`` the batches are only written to
    ``sink``, not kept in ``recording`` (a long run, such as a live one, would grow without
    bound)."""

    def __init__(
        self,
        inner: Any,
        cash: float,
        fee_rate: float,
        strict: bool,
        sink: TextIO | None = None,
        description: str | None = None,
        keep: bool = True,
    ) -> None:
        self.inner = inner
        self.backend = inner.backend
        self.sink = sink
        self.keep = keep
        self.recording: dict[str, Any] = {"ledger_version": LEDGER_VERSION}
        if description is not None:
            self.recording["description"] = description
        self.recording["init"] = {"cash": cash, "fee_rate": fee_rate, "strict": strict}
        self.recording["batches"] = []
        if sink is not None:
            header = {k: v for k, v in self.recording.items() if k != "batches"}
            sink.write(_line(header))
            sink.flush()

    def apply(self, events: Sequence[Any]) -> Any:
        entry: dict[str, Any] = {"events": _plain(events)}
        if self.keep:
            self.recording["batches"].append(entry)
        try:
            records = self.inner.apply(events)
        except CoreInputError as exc:
            entry["error"] = {"what": exc.what, "field": exc.field, "reason": exc.reason}
            self._emit(entry)
            raise
        entry["records"] = records
        self._emit(entry)
        return records

    def _emit(self, entry: dict[str, Any]) -> None:
        if self.sink is not None:
            self.sink.write(_line(entry))
            self.sink.flush()

    def __getattr__(self, name: str) -> Any:
        # state(), snapshot(), order(): read-only views of the wrapped ledger
        return getattr(self.inner, name)


def save(recording: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(recording, separators=(",", ":"), allow_nan=False) + "\n")


def _line(obj: Any) -> str:
    # NaN stays NaN (a fund history before its first row): the log is read back by Python
    return json.dumps(obj, separators=(",", ":")) + "\n"


#: The JSON Schema (draft 2020-12) of a recording, written by scripts/make_contract_schema.py.
SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "recording.schema.json"
#: The JSON Schema of an execution-ledger recording, written by the same script.
LEDGER_SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "ledger.schema.json"


def validate_recording(data: dict[str, Any]) -> None:
    """Check a recording against its JSON Schema (``jsonschema.ValidationError`` names the
    first offending call, batch, event or record). Used at the replay boundary and in tests,
    never in the hot path."""
    import jsonschema

    path = LEDGER_SCHEMA_PATH if "ledger_version" in data else SCHEMA_PATH
    schema = json.loads(path.read_text())
    jsonschema.Draft202012Validator(schema).validate(data)


def _json_lines(path: Path, text: str) -> Any:
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"{path}: empty replay log")
    if not isinstance(lines[0], dict):
        return lines[0]  # no header: refused by load()
    body = "batches" if "ledger_version" in lines[0] else "calls"
    return {**lines[0], body: lines[1:]}


def load(path: str | os.PathLike[str], validate: bool = True) -> dict[str, Any]:
    """A recording: a golden fixture (one JSON document) or a replay log (JSON lines: a header
    with ``contract_version`` or ``ledger_version`` and ``init``, then one line per call or
    batch, whatever the file's suffix), checked against the contract's JSON Schema unless
    ``validate`` is False."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        data = _json_lines(path, text)
    else:
        # a replay log may be written to any path (replay_log="live.log"): a document with
        # neither calls nor batches, or text that is not one document, is read as JSON lines
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if not (isinstance(data, dict) and ("calls" in data or "batches" in data)):
            try:
                data = _json_lines(path, text)
            except json.JSONDecodeError:
                raise ValueError(f"{path}: neither a JSON document nor JSON lines") from None
    if not isinstance(data, dict) or not ("ledger_version" in data or "contract_version" in data):
        raise ValueError(
            f"{path}: no contract_version or ledger_version: not a recording of this package"
        )
    if "ledger_version" in data:
        if data["ledger_version"] != LEDGER_VERSION:
            raise ValueError(
                f"{path}: ledger_version {data['ledger_version']!r} != {LEDGER_VERSION}"
            )
    elif data.get("contract_version") != CONTRACT_VERSION:
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


def replay_ledger(recording: dict[str, Any], ledger_cls: Any) -> int:
    """Replay an execution-ledger recording on a fresh ledger of ``ledger_cls`` (or a factory
    taking ``(cash, fee_rate, strict)``); raise ``AssertionError`` at the first batch whose
    records or error differ, or when the final snapshot or state (if recorded) differ.
    Returns the number of batches replayed."""
    init = recording["init"]
    ledger = ledger_cls(init["cash"], init["fee_rate"], init["strict"])
    for i, batch in enumerate(recording["batches"]):
        try:
            got: dict[str, Any] = {"records": ledger.apply(batch["events"])}
        except CoreInputError as exc:
            got = {"error": {"what": exc.what, "field": exc.field, "reason": exc.reason}}
        expected = {k: batch[k] for k in ("records", "error") if k in batch}
        if not _same(expected, got):
            raise AssertionError(f"batch #{i} differs: expected {expected!r}, got {got!r}")
    for view in ("snapshot", "state"):
        final = getattr(ledger, view)()
        if view in recording and not _same(recording[view], final):
            raise AssertionError(
                f"final {view} differs: expected {recording[view]!r}, got {final!r}"
            )
    return len(recording["batches"])
