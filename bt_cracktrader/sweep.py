"""Parameter sweeps on Dask: ``cerebro.optstrategy`` over a cluster, with the same results.

``sweep(build_cerebro, {"fast": range(5, 50, 5), "slow": [20, 50, 100]})`` is what
``cerebro.optstrategy(Strategy, fast=range(5, 50, 5), slow=[20, 50, 100])`` followed by
``cerebro.run()`` computes, one parameter set per Dask task:

* ``build_cerebro()`` (your function, called once, here) returns a configured ``Cerebro``:
  datas, broker, sizers, analyzers, observers and exactly one strategy added with
  ``addstrategy``; the grid's values replace that strategy's parameters of the same name.
* The cerebro goes through Backtrader's own optimisation prelude (the one ``optstrategy`` runs
  before it starts its process pool: with ``optdatas``, the datas are loaded there) and is then
  pickled and scattered to every worker once. Each task receives only its parameter set, runs
  the strategy exactly as one of ``optstrategy``'s pool processes would (``Cerebro.__call__``)
  and returns the strategy's parameters and its analyzers' ``get_analysis()``, which is what
  ``optreturn`` keeps, never the strategy itself.
* Results stream back as they finish (a progress bar with an ETA on a terminal, and the results
  file, row by row); a task that raises is logged with its parameters and error and retried
  once on another worker; if it fails again its record says so (``status == "error"``).
* With ``out=`` and ``resume=True``, the parameter sets already in the results file are not
  computed again.

``bt_cracktrader.sweep`` is the function; this module's other names import as usual
(``from bt_cracktrader.sweep import load_results``).

The records come back in the grid's order (``itertools.product`` over the grid, last key
fastest, as ``optstrategy``), whatever the number of workers and the order tasks finish in,
and their parameters and analyses are those of ``optstrategy(maxcpus=1)``, to the bit.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import csv
import dataclasses
import datetime
import decimal
import hashlib
import importlib
import importlib.util
import io
import itertools
import json
import logging
import math
import os
import pickle
import re
import sys
import sysconfig
import threading
import time
import traceback
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TextIO

import backtrader as bt
import backtrader.cerebro

from .runner import swapped_broker

__all__ = [
    "SweepError",
    "SweepRecord",
    "expand_param",
    "load_results",
    "parse_param",
    "print_results",
    "sweep",
    "write_results",
]

logger = logging.getLogger(__name__)

#: Columns of a results file before the grid's parameters (which may not use these names).
FIXED_COLUMNS = ("index", "status", "attempts", "worker", "seconds", "error")
#: The last column: the whole record, losslessly (what ``resume`` reads back).
RECORD_COLUMN = "record"

_STATUSES = ("ok", "error", "skipped")


class SweepError(Exception):
    """A sweep cannot start: a bad grid, a cerebro that cannot be swept, a results file that
    belongs to another sweep, a missing optional package."""


@dataclasses.dataclass
class SweepRecord:
    """One parameter set of a sweep and what its run gave.

    ``params`` holds all the strategy's parameters (``strategy.p._getkwargs()``) and
    ``analyzers`` each analyzer's ``get_analysis()`` by analyzer name: what an ``OptReturn``
    of ``optstrategy`` carries. ``status`` is ``"ok"``, ``"error"`` (the run raised twice, or its
    worker died each time; ``error`` says why) or ``"skipped"`` (the strategy raised
    ``bt.errors.StrategySkipError``, so ``optstrategy`` returns no strategy for it either).
    ``worker``, ``seconds`` (the run's time on the worker) and ``attempts`` describe how it
    ran, not what it computed.
    """

    index: int
    values: dict[str, Any]
    status: str = "ok"
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    analyzers: dict[str, Any] = dataclasses.field(default_factory=dict)
    error: str | None = None
    attempts: int = 1
    worker: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def describe(self) -> str:
        """``fast=5, slow=20``: the parameter set, as a log line names it."""
        return ", ".join(f"{k}={v!r}" for k, v in self.values.items())


# -- the grid -----------------------------------------------------------------------------------
_INT = re.compile(r"^[+-]?\d+$")


def _scalar(text: str) -> Any:
    """A ``--param`` value: an int, else a float, else ``True``/``False``/``None``, else the
    text itself."""
    text = text.strip()
    if _INT.match(text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        pass
    return {"True": True, "False": False, "None": None}.get(text, text)


def expand_param(spec: str) -> list[Any]:
    """The values of one ``--param`` specification (the part after ``name=``).

    ``"5:50:5"`` is ``range(5, 50, 5)`` (the stop is excluded, as in Python); ``"a:b"`` steps by
    1; a bound or step with a decimal point makes float values, computed in decimal so that
    ``"0.1:0.5:0.1"`` gives ``0.1, 0.2, 0.3, 0.4``. ``"20,50,100"`` is a list; each item is an
    int, a float, ``True``/``False``/``None`` or else a string. ``"10"`` is the single value 10.
    """
    if ":" in spec and "," not in spec:
        parts = spec.split(":")
        if len(parts) not in (2, 3) or not all(p.strip() for p in parts):
            raise ValueError(f"range {spec!r} is not start:stop or start:stop:step")
        nums = [_scalar(p) for p in parts]
        if not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in nums):
            raise ValueError(f"range {spec!r} has a bound or step that is not a number")
        if len(nums) == 3 and nums[2] == 0:
            raise ValueError(f"range {spec!r} has a step of 0")
        if all(isinstance(n, int) for n in nums):
            values: list[Any] = list(range(*nums))
        else:
            start, stop, *rest = (decimal.Decimal(p.strip()) for p in parts)
            step = rest[0] if rest else decimal.Decimal(1)
            count = max(0, math.ceil((stop - start) / step))
            values = [float(start + i * step) for i in range(count)]
        if not values:
            raise ValueError(f"range {spec!r} is empty (the stop is excluded, as in range())")
        return values
    items = [item for item in spec.split(",")]
    if not all(item.strip() for item in items):
        raise ValueError(f"list {spec!r} has an empty item")
    return [_scalar(item) for item in items]


def parse_param(text: str) -> tuple[str, list[Any]]:
    """``"fast=5:50:5"`` -> ``("fast", [5, 10, ..., 45])`` (see :func:`expand_param`)."""
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise ValueError(f"{text!r} is not name=values (e.g. fast=5:50:5 or slow=20,50,100)")
    try:
        return name, expand_param(spec.strip())
    except ValueError as exc:
        raise ValueError(f"parameter {name}: {exc}") from None


def _grid_lists(grid: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The grid with every entry a list, as ``Cerebro.iterize`` would make it for
    ``optstrategy`` (a string or a non-iterable is one value)."""
    lists: dict[str, list[Any]] = {}
    for name, values in grid.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise SweepError(f"grid key {name!r} is not a parameter name")
        if name in FIXED_COLUMNS or name == RECORD_COLUMN:
            raise SweepError(
                f"grid parameter {name!r} clashes with a results column "
                f"({', '.join((*FIXED_COLUMNS, RECORD_COLUMN))}): rename the parameter"
            )
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            values = [values]
        lists[name] = list(values)
        if not lists[name]:
            raise SweepError(f"grid parameter {name!r} has no values")
    if not lists:
        raise SweepError("the grid is empty: give at least one parameter and its values")
    return lists


# -- lossless values for the results file ------------------------------------------------------
def encode_value(value: Any) -> Any:
    """``value`` as JSON-able data that :func:`decode_value` turns back into an equal value of
    the same types (mapping classes, tuples, int vs float, every float bit included)."""
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if kind is list:
        return [encode_value(v) for v in value]
    if kind is tuple:
        return {"$tuple": [encode_value(v) for v in value]}
    if isinstance(value, dict):
        out: dict[str, Any] = {
            "$map": f"{kind.__module__}:{kind.__qualname__}",
            "items": [[encode_value(k), encode_value(v)] for k, v in value.items()],
        }
        attrs = getattr(value, "__dict__", None)
        if attrs:  # e.g. AutoOrderedDict's _closed, which changes how missing keys behave
            out["attrs"] = {k: encode_value(v) for k, v in attrs.items()}
        return out
    if kind is datetime.datetime:
        return {"$datetime": value.isoformat()}
    if kind is datetime.date:
        return {"$date": value.isoformat()}
    # numpy scalars, user objects...: no JSON form that comes back as the same thing
    return {"$pickle": base64.b64encode(pickle.dumps(value, protocol=4)).decode("ascii")}


def _import_attr(path: str) -> Any:
    module, _, qualname = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def decode_value(data: Any) -> Any:
    """The inverse of :func:`encode_value`."""
    if isinstance(data, list):
        return [decode_value(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "$float" in data:
        return float(data["$float"])
    if "$tuple" in data:
        return tuple(decode_value(v) for v in data["$tuple"])
    if "$datetime" in data:
        return datetime.datetime.fromisoformat(data["$datetime"])
    if "$date" in data:
        return datetime.date.fromisoformat(data["$date"])
    if "$pickle" in data:
        return pickle.loads(base64.b64decode(data["$pickle"]))
    if "$map" in data:
        mapping = _import_attr(data["$map"])()
        for key, value in data["items"]:
            mapping[decode_value(key)] = decode_value(value)
        for name, value in data.get("attrs", {}).items():
            mapping.__dict__[name] = decode_value(value)
        return mapping
    raise ValueError(f"not an encoded value: {data!r}")


def _values_key(values: Mapping[str, Any]) -> str:
    """The identity of a parameter set: its encoded values in grid order."""
    return json.dumps([[k, encode_value(v)] for k, v in values.items()], sort_keys=True)


def _record_json(rec: SweepRecord) -> str:
    return json.dumps(
        {
            "values": encode_value(dict(rec.values)),
            "params": encode_value(rec.params),
            "analyzers": encode_value(rec.analyzers),
        },
        separators=(",", ":"),
    )


# -- results files ------------------------------------------------------------------------------
def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), sub, out)
    elif value is None or isinstance(value, (bool, int, float, str)):
        out[prefix] = value
    elif isinstance(value, (datetime.date, datetime.datetime)):
        out[prefix] = value.isoformat()
    else:
        out[prefix] = repr(value)


def _row(rec: SweepRecord, flat: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "index": rec.index,
        "status": rec.status,
        "attempts": rec.attempts,
        "worker": rec.worker or "",
        "seconds": round(rec.seconds, 6),
        "error": rec.error or "",
    }
    row.update(rec.values)
    if flat:
        _flatten("", rec.analyzers, row)
    row[RECORD_COLUMN] = _record_json(rec)
    return row


def _columns(grid_keys: Sequence[str], rows: Sequence[dict[str, Any]]) -> list[str]:
    columns = [*FIXED_COLUMNS, *grid_keys]
    seen = set(columns) | {RECORD_COLUMN}
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                columns.append(key)
    return [*columns, RECORD_COLUMN]


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise SweepError(
            f"writing or reading a .parquet results file needs the package pyarrow ({exc}): "
            "pip install pyarrow, or use a .csv file"
        ) from exc
    return pyarrow


def _is_parquet(path: str) -> bool:
    return path.lower().endswith((".parquet", ".pq"))


def _arrow_column(values: list[Any]) -> Any:
    pa = _pyarrow()
    present = [v for v in values if v is not None and v != ""]
    if present and all(type(v) is int for v in present):
        return pa.array([v if type(v) is int else None for v in values], pa.int64())
    if present and all(type(v) in (int, float) for v in present):
        return pa.array([float(v) if type(v) in (int, float) else None for v in values])
    if present and all(type(v) is bool for v in present):
        return pa.array([v if type(v) is bool else None for v in values], pa.bool_())
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def _table(
    records: Sequence[SweepRecord], grid_keys: Sequence[str]
) -> tuple[list[str], list[dict[str, Any]]]:
    rows = [_row(rec, flat=True) for rec in sorted(records, key=lambda r: r.index)]
    return _columns(grid_keys, rows), rows


def write_results(
    path: str | os.PathLike[str], records: Sequence[SweepRecord], grid_keys: Sequence[str]
) -> None:
    """Write ``records`` (in index order) to ``path``, a ``.csv`` or ``.parquet`` file: the
    columns of :data:`FIXED_COLUMNS`, one per grid parameter, one per analysis value
    (``analyzer.key.subkey``), and ``record``, the lossless record that ``resume`` reads. The
    file is replaced atomically."""
    path = os.fspath(path)
    columns, rows = _table(records, grid_keys)
    tmp = f"{path}.tmp"
    if _is_parquet(path):
        pa = _pyarrow()
        table = pa.table({c: _arrow_column([row.get(c) for row in rows]) for c in columns})
        pa.parquet.write_table(table, tmp)
    else:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            _write_csv(fh, rows, columns)
    os.replace(tmp, path)


def print_results(records: Sequence[SweepRecord], grid_keys: Sequence[str], stream: TextIO) -> None:
    """The results table as CSV on ``stream``, without the ``record`` column."""
    columns, rows = _table(records, grid_keys)
    _write_csv(stream, rows, columns[:-1])


def _write_csv(fh: TextIO, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        # floats are written with repr(): they read back to the same bits
        writer.writerow({k: (repr(v) if type(v) is float else v) for k, v in row.items()})


def _journal_path(out: str) -> str:
    """Where rows stream while the sweep runs: the CSV itself, or a CSV beside a parquet file
    (a parquet file cannot be appended to)."""
    return f"{out}.partial.csv" if _is_parquet(out) else out


def _record_from_row(row: Mapping[str, Any], where: str) -> SweepRecord:
    try:
        if row.get(RECORD_COLUMN) is None:
            raise ValueError("no record column")
        data = json.loads(row[RECORD_COLUMN])
        return SweepRecord(
            index=int(row["index"]),
            values=decode_value(data["values"]),
            status=str(row["status"]),
            params=decode_value(data["params"]),
            analyzers=decode_value(data["analyzers"]),
            error=str(row.get("error") or "") or None,
            attempts=int(row.get("attempts") or 1),
            worker=str(row.get("worker") or "") or None,
            seconds=float(row.get("seconds") or 0.0),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SweepError(f"{where}: not a sweep results row ({exc!r})") from exc


def load_results(path: str | os.PathLike[str]) -> list[SweepRecord]:
    """The records in a results file written by :func:`sweep` (complete or interrupted; for a
    parquet file, its ``.partial.csv`` journal too). A missing file has no records."""
    path = os.fspath(path)
    records: list[SweepRecord] = []
    if _is_parquet(path) and os.path.exists(path):
        table = _pyarrow().parquet.read_table(path)
        for i, row in enumerate(table.to_pylist()):
            records.append(_record_from_row(row, f"{path} row {i + 1}"))
    journal = _journal_path(path)
    if os.path.exists(journal):
        with open(journal, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        for i, row in enumerate(rows):
            where = f"{journal} line {i + 2}"
            try:
                records.append(_record_from_row(row, where))
            except SweepError:
                if i + 1 < len(rows):
                    raise
                # the sweep was stopped while it wrote its last row: that set runs again
                logger.warning("%s is incomplete (cut short): ignored", where)
    return records


class _Journal:
    """Appends one row per finished parameter set and flushes it, so an interrupted sweep
    leaves every finished row on disk."""

    def __init__(self, path: str, grid_keys: Sequence[str], keep: Sequence[SweepRecord]):
        self.path = path
        self.columns = [*FIXED_COLUMNS, *grid_keys, RECORD_COLUMN]
        tmp = f"{path}.tmp"
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            _write_csv(fh, [_row(rec, flat=False) for rec in keep], self.columns)
        os.replace(tmp, path)
        self.fh = open(path, "a", newline="", encoding="utf-8")  # noqa: SIM115 - closed below
        self.writer = csv.DictWriter(self.fh, fieldnames=self.columns, extrasaction="ignore")

    def add(self, rec: SweepRecord) -> None:
        row = _row(rec, flat=False)
        self.writer.writerow({k: (repr(v) if type(v) is float else v) for k, v in row.items()})
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


# -- shipping the user's code -------------------------------------------------------------------
# Modules that every worker must have installed anyway: never shipped as source.
_INSTALLED_ROOTS = ("backtrader", "bt_cracktrader")


def _system_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    dirs = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    return [os.path.realpath(d) + os.sep for d in dirs]


def _user_module_source(name: str) -> tuple[str, str] | None:
    """``(file, source)`` of module ``name`` if it is the user's code (a .py file outside the
    standard library and site-packages), which the workers may not be able to import."""
    if name.split(".")[0] in _INSTALLED_ROOTS:
        return None
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if not path or not path.endswith(".py") or not os.path.isfile(path):
        return None
    real = os.path.realpath(path)
    if any(real.startswith(d) for d in _system_dirs()):
        return None
    with open(path, encoding="utf-8") as fh:
        return path, fh.read()


class _RecordingPickler(pickle.Pickler):
    """A pickler that notes the module of every class and function it pickles by reference."""

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.modules: set[str] = set()

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, (type, types.FunctionType)):
            self.modules.add(getattr(obj, "__module__", None) or "")
        return NotImplemented


def _dumps(obj: Any, modules: set[str]) -> bytes:
    buf = io.BytesIO()
    pickler = _RecordingPickler(buf)
    pickler.dump(obj)
    modules |= pickler.modules
    return buf.getvalue()


@dataclasses.dataclass(frozen=True)
class _Payload:
    """What is scattered to every worker once: the prepared cerebro (with its loaded datas)
    and the source of the user's modules it refers to."""

    cerebro: bytes
    sources: tuple[tuple[str, str, str], ...]  # (module name, file, source)


_loaded: dict[tuple[str, str], types.ModuleType] = {}
_load_lock = threading.Lock()
# Backtrader keeps class-level state (order reference counters, the indicator cache switch):
# one run at a time per worker process. The GIL would not run two at once anyway.
_run_lock = threading.Lock()


def _file_digest(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return hashlib.sha256(fh.read().encode("utf-8")).hexdigest()
    except (OSError, UnicodeDecodeError):
        return None


def _load_source(name: str, path: str, source: str) -> types.ModuleType:
    """The user's module ``name`` on this worker, executed from the client's source (once per
    process). A ``__main__`` module runs under another name, so its ``if __name__ ==
    "__main__":`` block does not run, as with ``multiprocessing``'s spawn."""
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()
    with _load_lock:
        module = _loaded.get((name, digest))
        if module is not None:
            return module
        # a worker inside the client's process (a threaded cluster) has the module already:
        # running it again would make its classes different from the client's
        present = sys.modules.get(name)
        if getattr(present, "__file__", None) == path and _file_digest(path) == digest:
            assert present is not None
            _loaded[(name, digest)] = present
            return present
        run_name = f"_bt_cracktrader_sweep_main_{digest[:12]}" if name == "__main__" else name
        module = types.ModuleType(run_name)
        module.__file__ = path
        if name != "__main__":
            module.__package__ = name.rpartition(".")[0]
        sys.modules[run_name] = module
        try:
            exec(compile(source, path, "exec"), module.__dict__)
        except BaseException:
            sys.modules.pop(run_name, None)
            raise
        _loaded[(name, digest)] = module
        return module


class _SourceUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, sources: Mapping[str, tuple[str, str]]) -> None:
        super().__init__(io.BytesIO(data))
        self.sources = sources

    def find_class(self, module: str, name: str) -> Any:
        if module in self.sources:
            obj: Any = _load_source(module, *self.sources[module])
            for part in name.split("."):
                obj = getattr(obj, part)
            return obj
        return super().find_class(module, name)


def _loads(data: bytes, payload: _Payload) -> Any:
    sources = {name: (path, text) for name, path, text in payload.sources}
    return _SourceUnpickler(data, sources).load()


# -- the task (runs on a worker) ----------------------------------------------------------------
def _worker_address() -> str | None:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return None


def _analyses(strategy: Any) -> dict[str, Any]:
    analyzers = strategy.analyzers
    return collections.OrderedDict(
        (name, analyzer.get_analysis()) for name, analyzer in zip(analyzers.getnames(), analyzers)
    )


def run_task(payload: _Payload, iterstrat: bytes, index: int) -> dict[str, Any]:
    """Run one parameter set on this worker: a fresh copy of the scattered cerebro runs the
    strategy as one of ``optstrategy``'s pool processes does (``Cerebro.__call__``). Returns
    the record's fields; an exception is returned (with its traceback), not raised, so that
    the client knows the worker it happened on."""
    worker = _worker_address()
    start = time.perf_counter()
    try:
        with _run_lock:
            cerebro = _loads(payload.cerebro, payload)
            combination = _loads(iterstrat, payload)
            results = cerebro(combination)
        status = "ok" if results else "skipped"
        strategy = results[0] if results else None
        return {
            "status": status,
            "params": strategy.params._getkwargs() if strategy is not None else {},
            "analyzers": _analyses(strategy) if strategy is not None else {},
            "worker": worker,
            "seconds": time.perf_counter() - start,
        }
    except Exception as exc:
        return {
            "status": "error",
            "error": "".join(traceback.format_exception_only(type(exc), exc)).strip(),
            "traceback": traceback.format_exc(),
            "worker": worker,
            "seconds": time.perf_counter() - start,
        }


# -- preparing the cerebro (on the client) ------------------------------------------------------
class _Captured(Exception):
    """Raised by :class:`_CapturePool` to stop ``Cerebro.run`` where its pool would start."""

    def __init__(self, cerebro: Any, iterstrats: list[Any]) -> None:
        super().__init__("captured")
        self.cerebro = cerebro
        self.iterstrats = iterstrats


class _CapturePool:
    """Stands in for ``multiprocessing.Pool`` inside ``Cerebro.run``: what ``run`` hands to its
    pool (the prepared cerebro itself, and every combination) is what the workers get."""

    def __init__(self, processes: int | None = None) -> None:
        pass

    def imap(self, func: Any, iterable: Iterable[Any]) -> Iterator[Any]:
        raise _Captured(func, list(iterable))


def _strategy_entry(cerebro: Any) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
    if getattr(cerebro, "_dooptimize", False):
        raise SweepError(
            "build_cerebro() called optstrategy: add the strategy with addstrategy and give "
            "the values to sweep in the grid"
        )
    strats = list(cerebro.strats)
    if len(strats) != 1 or len(strats[0]) != 1:
        raise SweepError(
            f"build_cerebro() must add exactly one strategy with addstrategy (it added "
            f"{len(strats)}): the grid's values are that strategy's parameters"
        )
    cls, args, kwargs = strats[0][0]
    return cls, tuple(args), dict(kwargs)


def _prepare(
    cerebro: Any, grid: dict[str, list[Any]]
) -> tuple[Any, list[Any], tuple[Any, tuple[Any, ...], dict[str, Any]]]:
    """Turn the user's cerebro into ``optstrategy`` over ``grid`` and run Backtrader's
    optimisation prelude on it. Returns the prepared cerebro, one combination per parameter
    set (in ``optstrategy``'s order) and the strategy entry."""
    if not isinstance(cerebro, bt.Cerebro):
        raise SweepError(f"build_cerebro() returned {type(cerebro).__name__}, not a bt.Cerebro")
    cls, args, kwargs = _strategy_entry(cerebro)
    known = set(cls.params._getkeys())
    unknown = [name for name in grid if name not in known]
    if unknown:
        raise SweepError(
            f"{cls.__name__} has no parameter {', '.join(map(repr, unknown))} "
            f"(its parameters: {', '.join(sorted(known)) or 'none'})"
        )
    cerebro.strats = []
    fixed = {k: [v] for k, v in kwargs.items() if k not in grid}
    cerebro.optstrategy(cls, *[[a] for a in args], **fixed, **grid)
    saved = backtrader.cerebro.multiprocessing
    backtrader.cerebro.multiprocessing = types.SimpleNamespace(Pool=_CapturePool)
    try:
        cerebro.run(maxcpus=2)
    except _Captured as captured:
        prepared, iterstrats = captured.cerebro, captured.iterstrats
    else:  # pragma: no cover - Cerebro.run always reaches the pool with maxcpus=2
        raise SweepError("Cerebro.run did not reach its optimisation pool")
    finally:
        backtrader.cerebro.multiprocessing = saved
    # the combinations travel one per task; the (exhausted) optstrategy iterator stays here
    prepared.strats = []
    if not (prepared.p.optdatas and prepared._dopreload and prepared._dorunonce):
        logger.warning(
            "the datas are not loaded once for all runs (optdatas, preload or runonce is off, or "
            "a data is replayed): each run loads them from their source, which must then be "
            "readable on every worker"
        )
    return prepared, iterstrats, (cls, args, kwargs)


# -- progress -----------------------------------------------------------------------------------
def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class _Progress:
    """A one-line progress bar with the rate and an ETA, on stderr, only when it is a
    terminal (or when forced)."""

    def __init__(self, total: int, done: int, enabled: bool, stream: TextIO) -> None:
        self.total, self.done, self.failed = total, done, 0
        self.start_done = done
        self.enabled = enabled
        self.stream = stream
        self.start = time.monotonic()
        self.last = 0.0
        self.drawn = -1
        self.width = 0

    def restart(self) -> None:
        """Measure the rate from now: when the sets are submitted, not when the cluster starts."""
        self.start = time.monotonic()
        if self.enabled:
            self._draw(self.start)

    def update(self, rec: SweepRecord) -> None:
        self.done += 1
        self.failed += rec.status == "error"
        now = time.monotonic()
        if self.enabled and (now - self.last > 0.1 or self.done == self.total):
            self.last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = now - self.start
        ran = self.done - self.start_done
        rate = ran / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        width = 30
        filled = int(width * self.done / self.total) if self.total else width
        line = (
            f"\rsweep [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
            f"{100 * self.done / max(self.total, 1):3.0f}%  {rate:.1f} sets/s  "
            f"ETA {_clock(eta) if math.isfinite(eta) else '?'}"
        )
        if self.failed:
            line += f"  {self.failed} failed"
        self.stream.write(line)
        self.stream.flush()
        self.drawn = self.done
        self.width = len(line)

    def clear(self) -> None:
        """Blank the bar's line, so that a log line printed next starts on a clean line (the
        next update draws the bar again)."""
        if self.enabled and self.drawn >= 0:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.drawn = -1

    def close(self) -> None:
        if self.enabled:
            if self.drawn != self.done:
                self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()


# -- the sweep ----------------------------------------------------------------------------------
def _client(scheduler: Any, workers: int | None) -> tuple[Any, list[Any]]:
    """``(client, to_close)``: ``scheduler`` itself if it is a ``Client``, else a new client
    of the scheduler at that address, or of a new ``LocalCluster`` of ``workers``
    single-threaded processes; ``to_close`` is what this sweep opened."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise SweepError(
            f"sweeps need the package distributed ({exc}): pip install 'dask[distributed]' "
            "(or pip install 'bt-cracktrader[sweep]')"
        ) from exc
    if isinstance(scheduler, Client):
        return scheduler, []
    if scheduler is not None:
        client = Client(scheduler)
        if workers:
            client.wait_for_workers(workers)
        return client, [client]
    count = workers or os.cpu_count() or 1
    # one thread per worker: runs do not overlap inside a process (see _run_lock)
    cluster = LocalCluster(
        n_workers=count,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # a free port: 8787 may be taken by another cluster
        # the sweep reports failed sets itself; Dask's own shutdown races are noise here
        silence_logs=logging.CRITICAL,
    )
    client = Client(cluster)
    logger.info("started a LocalCluster of %d workers; dashboard: %s", count, client.dashboard_link)
    return client, [client, cluster]


def sweep(
    build_cerebro: Callable[[], Any] | Any,
    grid: Mapping[str, Any],
    scheduler: Any = None,
    *,
    workers: int | None = None,
    backend: str | None = None,
    out: str | os.PathLike[str] | None = None,
    resume: bool = False,
    retries: int = 1,
    progress: bool | None = None,
) -> list[SweepRecord]:
    """Run the strategy of ``build_cerebro()`` once per parameter set of ``grid`` on Dask and
    return one :class:`SweepRecord` per set, in ``optstrategy``'s order.

    ``build_cerebro``: a function returning a configured ``bt.Cerebro`` with exactly one
    strategy added by ``addstrategy`` (or such a cerebro itself); it is called once, here.
    Everything in the cerebro must pickle, as for ``optstrategy(maxcpus>1)``; classes defined
    in your own modules (even ``__main__``) are sent to the workers as source.
    ``grid``: strategy parameter -> values (a list, a ``range``, or a single value).
    ``scheduler``: a Dask scheduler address (``"tcp://host:8786"``) or a ``distributed.Client``;
    ``None`` starts a ``LocalCluster`` of ``workers`` processes (default: one per CPU) here.
    ``backend``: ``"python"``, ``"rust"`` or ``"auto"`` builds the cerebro with every
    ``BackBroker`` replaced by ``CrackBroker`` on that core (as ``python -m bt_cracktrader
    run`` does); ``None`` or ``"backtrader"`` keeps the broker ``build_cerebro`` set.
    ``out``: a results file (``.csv``, or ``.parquet`` with pyarrow), written row by row as
    sets finish and in grid order at the end. It must not exist unless ``resume=True``, which
    reuses the finished sets it holds (failed ones are run again).
    ``retries``: how many more times a failing set is tried, on another worker if there is one.
    ``progress``: a progress bar on stderr; ``None``: only if stderr is a terminal.
    """
    if retries < 0:
        raise SweepError(f"retries={retries!r}: expected 0 or more")
    grid_lists = _grid_lists(grid)
    keys = list(grid_lists)
    combos = [dict(zip(keys, values)) for values in itertools.product(*grid_lists.values())]
    out_path = os.fspath(out) if out is not None else None

    done: dict[int, SweepRecord] = {}
    if out_path is not None:
        if _is_parquet(out_path):
            _pyarrow()  # now, not after the last set
        folder = os.path.dirname(os.path.abspath(out_path))
        if not os.path.isdir(folder):
            raise SweepError(f"results file {out_path}: no such directory {folder}")
        done = _resume_from(out_path, resume, keys, combos)

    if isinstance(build_cerebro, bt.Cerebro):
        cerebro = build_cerebro
    elif backend in (None, "backtrader"):
        cerebro = build_cerebro()
    else:
        with swapped_broker(backend):
            cerebro = build_cerebro()
    prepared, iterstrats, _ = _prepare(cerebro, grid_lists)
    if len(iterstrats) != len(combos):  # pragma: no cover - both are the same product
        raise SweepError(f"{len(iterstrats)} combinations for {len(combos)} parameter sets")

    modules: set[str] = set()
    try:
        blob = _dumps(prepared, modules)
        tasks = {i: _dumps(iterstrats[i], modules) for i in range(len(combos)) if i not in done}
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise SweepError(
            f"the cerebro cannot be sent to the workers ({exc}): everything build_cerebro() "
            "puts in it must pickle, as for optstrategy(maxcpus>1); define strategies, "
            "analyzers and sizers at module level"
        ) from exc
    sources = []
    for name in sorted(modules):
        found = _user_module_source(name)
        if found is not None:
            sources.append((name, *found))
    payload = _Payload(blob, tuple(sources))

    journal = _Journal(_journal_path(out_path), keys, list(done.values())) if out_path else None
    show = sys.stderr.isatty() if progress is None else progress
    bar = _Progress(len(combos), len(done), show, sys.stderr)
    try:
        if tasks:
            _run_on_dask(payload, tasks, combos, scheduler, workers, retries, done, journal, bar)
    finally:
        bar.close()
        if journal is not None:
            journal.close()
    records = [done[i] for i in range(len(combos))]
    if out_path is not None:
        write_results(out_path, records, keys)
        if _journal_path(out_path) != out_path:
            os.remove(_journal_path(out_path))
    return records


def _resume_from(
    out: str, resume: bool, keys: list[str], combos: list[dict[str, Any]]
) -> dict[int, SweepRecord]:
    exists = os.path.exists(out) or os.path.exists(_journal_path(out))
    if not exists:
        return {}
    if not resume:
        raise SweepError(
            f"results file {out} exists: resume it (--resume, resume=True) or remove it"
        )
    index = {_values_key(values): i for i, values in enumerate(combos)}
    done: dict[int, SweepRecord] = {}
    for rec in load_results(out):
        if list(rec.values) != keys:
            raise SweepError(
                f"results file {out} is from a sweep over ({', '.join(rec.values)}), "
                f"not ({', '.join(keys)})"
            )
        i = index.get(_values_key(rec.values))
        if i is None:
            raise SweepError(
                f"results file {out} holds a parameter set that is not in this grid "
                f"({rec.describe()}): resume with the grid that wrote it (or a larger one)"
            )
        if rec.status != "error":  # failed sets are run again
            done[i] = dataclasses.replace(rec, index=i)
    logger.info("resuming %s: %d of %d parameter sets already done", out, len(done), len(combos))
    return done


#: How often a sweep checks that a retry restricted to some workers still has one to run on.
RESTRICTION_CHECK_SECONDS = 5.0


def _run_on_dask(
    payload: _Payload,
    tasks: dict[int, bytes],
    combos: list[dict[str, Any]],
    scheduler: Any,
    workers: int | None,
    retries: int,
    done: dict[int, SweepRecord],
    journal: _Journal | None,
    bar: _Progress,
) -> None:
    from distributed import wait

    client, to_close = _client(scheduler, workers)
    token = hashlib.sha256(payload.cerebro).hexdigest()[:12] + f"-{os.getpid()}-{time.time_ns()}"
    try:
        shared = client.scatter(payload, broadcast=True, hash=False)
        logger.info(
            "scattered the cerebro (%d bytes) to %d workers; %d parameter sets to run",
            len(payload.cerebro),
            len(client.nthreads()),
            len(tasks),
        )
        attempts: dict[int, int] = {}
        failed_on: dict[int, set[str]] = {}
        owner: dict[Any, int] = {}
        restricted: dict[Any, set[str]] = {}
        submitted = 0
        bar.restart()

        def submit(i: int, count: bool = True) -> Any:
            nonlocal shared, submitted
            if shared.status != "finished":
                # every worker that held the cerebro died (e.g. a cluster of one): send it again
                shared = client.scatter(payload, broadcast=True, hash=False)
            if count:
                attempts[i] = attempts.get(i, 0) + 1
            avoid = failed_on.get(i, set())
            # a retry runs on another worker if there is one; the restriction is strict, as
            # Dask's work stealing moves tasks with loose ones back to the worker it failed on
            others = [w for w in client.nthreads() if w not in avoid] if avoid and count else []
            submitted += 1
            fut = client.submit(
                run_task,
                shared,
                tasks[i],
                i,
                key=f"bt-sweep-{token}-{i}-{submitted}",
                pure=False,
                workers=others or None,
            )
            owner[fut] = i
            if others:
                restricted[fut] = set(others)
            return fut

        pending = {submit(i) for i in sorted(tasks)}
        while pending:
            try:
                with client.as_current():  # distributed.wait works with the current client
                    finished, pending = wait(
                        pending, timeout=RESTRICTION_CHECK_SECONDS, return_when="FIRST_COMPLETED"
                    )
            except (TimeoutError, asyncio.TimeoutError):  # distinct classes before Python 3.11
                finished = set()
            if not finished:
                alive = set(client.nthreads())
                for fut in [f for f in pending if f in restricted]:
                    if not restricted[fut] & alive:  # every worker it may run on has left
                        pending.discard(fut)
                        fut.cancel()
                        restricted.pop(fut)
                        pending.add(submit(owner.pop(fut), count=False))
                continue
            for fut in finished:
                retry = _finish(fut, owner.pop(fut), combos, attempts, failed_on, retries, bar)
                restricted.pop(fut, None)
                if isinstance(retry, int):
                    pending.add(submit(retry))
                    continue
                done[retry.index] = retry
                if journal is not None:
                    journal.add(retry)
                bar.update(retry)
    finally:
        for opened in to_close:
            opened.close()


def _finish(
    fut: Any,
    i: int,
    combos: list[dict[str, Any]],
    attempts: dict[int, int],
    failed_on: dict[int, set[str]],
    retries: int,
    bar: _Progress,
) -> SweepRecord | int:
    """The record of a finished task, or its index if it failed and is to run again."""
    try:
        result = fut.result()
    except Exception as exc:  # e.g. KilledWorker: its worker died each time
        result = {
            "status": "error",
            "error": "".join(traceback.format_exception_only(type(exc), exc)).strip(),
            "worker": None,
            "seconds": 0.0,
        }
    fut.release()
    rec = SweepRecord(
        index=i,
        values=combos[i],
        status=result["status"],
        params=result.get("params", {}),
        analyzers=result.get("analyzers", {}),
        error=result.get("error"),
        attempts=attempts[i],
        worker=result.get("worker"),
        seconds=result.get("seconds", 0.0),
    )
    if rec.status != "error":
        return rec
    if result.get("worker"):
        failed_on.setdefault(i, set()).add(result["worker"])
    bar.clear()
    if attempts[i] <= retries:
        logger.warning(
            "parameter set %d (%s) failed on worker %s: %s; retrying on another worker",
            i,
            rec.describe(),
            rec.worker or "?",
            rec.error,
        )
        return i
    logger.error(
        "parameter set %d (%s) failed %d times, last on worker %s: %s\n%s",
        i,
        rec.describe(),
        attempts[i],
        rec.worker or "?",
        rec.error,
        result.get("traceback", ""),
    )
    return rec
