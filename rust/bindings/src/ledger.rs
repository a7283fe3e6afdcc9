//! `RustLedger`: the Python API of `bt_cracktrader.core.ledger.PyLedger` over the Rust ledger
//! (`cracktrader_core::Ledger`).
//!
//! Python input is classified once into [`LValue`]s (`bool` before `int`; an `int` beyond 128
//! bits is clamped: the ledger refuses it as out of range anyway); records, states and snapshots
//! come back as plain dicts, lists, `int`s and `float`s. A refused input raises
//! `CoreInputError` with the original object as its value; a broken invariant in strict mode
//! raises `bt_cracktrader.core.ledger.LedgerInvariantError`. The records are logged as
//! `PyLedger.apply` logs them, through the `bt_cracktrader._rust` logger.

use cracktrader_core::{
    float_repr, level_number, LValue, Ledger, LedgerError, PathStep, LEDGER_TRANSITIONS,
};
use pyo3::exceptions::{PyOverflowError, PyZeroDivisionError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use pyo3::IntoPyObjectExt;

// -- Python -> LValue -------------------------------------------------------------------------

/// `obj` as ledger data; containers are looked into `depth` levels deep (deeper ones are
/// `Other`: the ledger only ever checks their type, which is never one it accepts there).
/// A `tuple` is a list only where `tuple_ok` (the batch of `apply`).
fn to_lvalue(obj: &Bound<'_, PyAny>, depth: usize, tuple_ok: bool) -> LValue {
    if let Ok(flag) = obj.cast::<PyBool>() {
        return LValue::Bool(flag.is_true());
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(v) = obj.extract::<i128>() {
            return LValue::Int(v);
        }
        let negative = obj.lt(0).unwrap_or(false);
        return LValue::Int(if negative { i128::MIN } else { i128::MAX });
    }
    if let Ok(float) = obj.cast::<PyFloat>() {
        return LValue::Float(float.value());
    }
    if obj.is_none() {
        return LValue::None;
    }
    if let Ok(text) = obj.cast::<PyString>() {
        return LValue::Str(text.to_string_lossy().into_owned());
    }
    if depth == 0 {
        return LValue::Other;
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return LValue::List(
            list.iter()
                .map(|item| to_lvalue(&item, depth - 1, false))
                .collect(),
        );
    }
    if tuple_ok {
        if let Ok(tuple) = obj.cast::<PyTuple>() {
            return LValue::List(
                tuple
                    .iter()
                    .map(|item| to_lvalue(&item, depth - 1, false))
                    .collect(),
            );
        }
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        return LValue::Dict(
            dict.iter()
                .map(|(k, v)| (to_lvalue(&k, 0, false), to_lvalue(&v, depth - 1, false)))
                .collect(),
        );
    }
    LValue::Other
}

// -- LValue -> Python -------------------------------------------------------------------------

fn to_py<'py>(py: Python<'py>, value: &LValue) -> PyResult<Bound<'py, PyAny>> {
    match value {
        LValue::None | LValue::Other => Ok(py.None().into_bound(py)),
        LValue::Bool(v) => v.into_bound_py_any(py),
        LValue::Int(v) => match i64::try_from(*v) {
            Ok(small) => small.into_bound_py_any(py),
            Err(_) => v.into_bound_py_any(py),
        },
        LValue::Float(v) => v.into_bound_py_any(py),
        LValue::Str(s) => s.into_bound_py_any(py),
        LValue::List(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            Ok(list.into_any())
        }
        LValue::Dict(items) => {
            let dict = PyDict::new(py);
            for (k, v) in items {
                dict.set_item(to_py(py, k)?, to_py(py, v)?)?;
            }
            Ok(dict.into_any())
        }
    }
}

// -- errors -----------------------------------------------------------------------------------

/// The Python exception of a ledger error; `root` is the call's input that the error's path
/// starts from.
fn to_py_err(py: Python<'_>, err: LedgerError, root: &Bound<'_, PyAny>) -> PyErr {
    match build_err(py, err, root) {
        Ok(err) | Err(err) => err,
    }
}

fn build_err(py: Python<'_>, err: LedgerError, root: &Bound<'_, PyAny>) -> PyResult<PyErr> {
    Ok(match err {
        LedgerError::Input(input) => {
            let mut field = input.field.clone();
            let value = match &input.path {
                None => py.None().into_bound(py),
                Some(path) => {
                    let mut obj = root.clone();
                    for step in path {
                        obj = match step {
                            PathStep::Index(i) => obj.get_item(*i)?,
                            PathStep::Key(key) => obj.get_item(key)?,
                            PathStep::KeyAt(k) => {
                                let (key, value) =
                                    obj.cast::<PyDict>()?.iter().nth(*k).ok_or_else(|| {
                                        pyo3::exceptions::PyRuntimeError::new_err(
                                            "dict changed size during validation",
                                        )
                                    })?;
                                if input.field_from_key {
                                    field = key.str()?.to_string();
                                }
                                value
                            }
                        };
                    }
                    obj
                }
            };
            let cls = py
                .import("bt_cracktrader.core.contract")?
                .getattr("CoreInputError")?;
            PyErr::from_value(cls.call1((input.what, field, value, input.reason))?)
        }
        LedgerError::Invariant(msg) => {
            let cls = py
                .import("bt_cracktrader.core.ledger")?
                .getattr("LedgerInvariantError")?;
            PyErr::from_value(cls.call1((msg,))?)
        }
        LedgerError::Overflow => PyOverflowError::new_err(err.to_string()),
        LedgerError::ZeroDivision => PyZeroDivisionError::new_err(err.to_string()),
    })
}

// -- logging ----------------------------------------------------------------------------------

/// Log the records as `PyLedger.apply` does: a diagnostic at its level, anything else at DEBUG,
/// each with `extra={"category": ...}`; nothing reaches `logging` for a disabled level.
fn log_records(py: Python<'_>, records: &[LValue], out: &[Bound<'_, PyAny>]) -> PyResult<()> {
    if records.is_empty() {
        return Ok(());
    }
    let logger = py
        .import("logging")?
        .getattr("getLogger")?
        .call1(("bt_cracktrader._rust",))?;
    // isEnabledFor per level (DEBUG, INFO, WARNING, ERROR), asked once per batch
    let mut enabled: [Option<bool>; 4] = [None; 4];
    let mut is_enabled = |level: i32| -> PyResult<bool> {
        let slot = usize::try_from(level / 10 - 1).unwrap_or(3).min(3);
        if let Some(known) = enabled[slot] {
            return Ok(known);
        }
        let known = logger.call_method1("isEnabledFor", (level,))?.is_truthy()?;
        enabled[slot] = Some(known);
        Ok(known)
    };
    for (record, obj) in records.iter().zip(out) {
        let kind = record.get("kind").and_then(LValue::as_str).unwrap_or("");
        let item = |key: &str| obj.get_item(key);
        if kind == "diagnostic" {
            let level = level_number(record.get("level").and_then(LValue::as_str).unwrap_or(""));
            if is_enabled(level)? {
                let category = item("category")?;
                let extra = PyDict::new(py);
                extra.set_item("category", &category)?;
                let kwargs = PyDict::new(py);
                kwargs.set_item("extra", extra)?;
                logger.call_method(
                    "log",
                    (
                        level,
                        "%s: order %s, seq %s, key %s",
                        category,
                        item("order")?,
                        item("seq")?,
                        item("key")?,
                    ),
                    Some(&kwargs),
                )?;
            }
        } else if is_enabled(10)? {
            let extra = PyDict::new(py);
            extra.set_item("category", kind)?;
            let kwargs = PyDict::new(py);
            kwargs.set_item("extra", extra)?;
            logger.call_method(
                "debug",
                (
                    "%s: order %s, seq %s",
                    item("kind")?,
                    item("order")?,
                    item("seq")?,
                ),
                Some(&kwargs),
            )?;
        }
    }
    Ok(())
}

// -- the class --------------------------------------------------------------------------------

/// A constructor argument: the object as passed (any object, `None` included), or absent.
enum LArg {
    Default,
    Given(Py<PyAny>),
}

impl<'a, 'py> FromPyObject<'a, 'py> for LArg {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> Result<Self, Self::Error> {
        Ok(LArg::Given(obj.to_owned().unbind()))
    }
}

impl LArg {
    fn bind<'py>(self, py: Python<'py>, default: Bound<'py, PyAny>) -> Bound<'py, PyAny> {
        match self {
            LArg::Default => default,
            LArg::Given(obj) => obj.into_bound(py),
        }
    }
}

/// Depth of a batch: the list, its event dicts, their values.
const EVENTS_DEPTH: usize = 2;
/// Depth of a snapshot: the dict, its lists, their item dicts, their values.
const SNAPSHOT_DEPTH: usize = 3;

/// The execution ledger, in Rust (the twin of `PyLedger`).
#[pyclass(module = "bt_cracktrader._rust", name = "RustLedger")]
pub struct RustLedger {
    ledger: Ledger,
}

#[pymethods]
impl RustLedger {
    /// Name of the backend (`"rust"`; `PyLedger.backend` is `"python"`).
    #[classattr]
    fn backend() -> &'static str {
        "rust"
    }

    #[new]
    #[pyo3(
        signature = (cash, fee_rate=LArg::Default, strict=LArg::Default),
        text_signature = "(cash, fee_rate=0.0, strict=False)"
    )]
    fn new(py: Python<'_>, cash: LArg, fee_rate: LArg, strict: LArg) -> PyResult<Self> {
        let args = PyTuple::new(
            py,
            [
                cash.bind(py, py.None().into_bound(py)),
                fee_rate.bind(py, 0.0_f64.into_bound_py_any(py)?),
                strict.bind(py, false.into_bound_py_any(py)?),
            ],
        )?;
        let raw: Vec<LValue> = args.iter().map(|arg| to_lvalue(&arg, 0, false)).collect();
        let ledger = Ledger::new_raw(&raw[0], &raw[1], &raw[2])
            .map_err(|err| to_py_err(py, err, args.as_any()))?;
        Ok(RustLedger { ledger })
    }

    /// Apply a batch of events in `seq` order and return the records.
    fn apply<'py>(
        slf: &Bound<'py, Self>,
        events: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let raw = to_lvalue(events, EVENTS_DEPTH, true);
        let raw = match raw {
            // only a list or a tuple is a batch
            LValue::List(_) => raw,
            _ => LValue::Other,
        };
        // (the borrow ends before logging: a log handler may look at the ledger)
        let outcome = slf.borrow_mut().ledger.apply(&raw);
        let records = outcome.map_err(|err| to_py_err(py, err, events))?;
        let out = records
            .iter()
            .map(|record| to_py(py, record))
            .collect::<PyResult<Vec<_>>>()?;
        log_records(py, &records, &out)?;
        PyList::new(py, out)
    }

    /// Cash, value, positions and the client ids of the orders still alive.
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let state = self
            .ledger
            .state()
            .map_err(|err| to_py_err(py, err, &py.None().into_bound(py)))?;
        to_py(py, &state)
    }

    /// The order with client id `order`, as in a snapshot, or None.
    fn order<'py>(
        &self,
        py: Python<'py>,
        order: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let Ok(name) = order.cast::<PyString>() else {
            // `dict.get` hashes the key: an unhashable one raises
            order.hash()?;
            return Ok(py.None().into_bound(py));
        };
        match self.ledger.order(&name.to_string_lossy()) {
            Some(o) => to_py(py, &o),
            None => Ok(py.None().into_bound(py)),
        }
    }

    /// The whole state, versioned, as JSON-able data.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.ledger.snapshot())
    }

    /// A ledger in the state `snapshot` (of either backend) describes.
    #[classmethod]
    fn restore(cls: &Bound<'_, PyType>, snapshot: &Bound<'_, PyAny>) -> PyResult<Self> {
        let py = cls.py();
        let raw = to_lvalue(snapshot, SNAPSHOT_DEPTH, false);
        let ledger = Ledger::restore(&raw).map_err(|err| to_py_err(py, err, snapshot))?;
        Ok(RustLedger { ledger })
    }

    /// The legal transitions: `status -> statuses it may move to`.
    #[staticmethod]
    fn transitions(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
        let dict = PyDict::new(py);
        for (state, targets) in LEDGER_TRANSITIONS {
            dict.set_item(state, PyList::new(py, targets)?)?;
        }
        Ok(dict)
    }

    /// Pickling: `RustLedger.restore(snapshot)`.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let restore = slf.get_type().getattr("restore")?;
        let snapshot = to_py(py, &slf.borrow().ledger.snapshot())?;
        (restore, (snapshot,)).into_pyobject(py)
    }

    fn __repr__(&self) -> String {
        format!(
            "RustLedger(cash={}, orders={}, positions={})",
            float_repr(self.ledger.cash().to_f64()),
            self.ledger.order_count(),
            self.ledger.position_count()
        )
    }
}
