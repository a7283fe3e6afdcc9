//! `bt_cracktrader._rust`: the Python bindings of the Rust core (`cracktrader_core`).
//!
//! `RustCore` has the Python API of `bt_cracktrader.core.pycore.PyCore`. The bindings are thin:
//! each call classifies its whole input once ([`Value`], [`RawItem`]), the core validates and
//! runs it, and the records and the state come back as tuples of Python `int`/`float`/`bool`,
//! with the same types as the Python core's. Every core error becomes a Python exception in one
//! place ([`to_py_err`]); refused input raises `bt_cracktrader.core.contract.CoreInputError`
//! with the original object as its value, so that the message is the Python core's, byte for
//! byte.

use cracktrader_core::{
    Core, CoreError, ErrValue, Num, Order, OrderState, Origin, Position, RawItem, Record, Snapshot,
    State, Value, MAX_ITEMS,
};
use pyo3::exceptions::{
    PyAssertionError, PyOverflowError, PyTypeError, PyValueError, PyZeroDivisionError,
};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PyTuple};
use pyo3::IntoPyObjectExt;

/// Version of the Rust core crate.
#[pyfunction]
fn core_version() -> &'static str {
    cracktrader_core::version()
}

// -- input ------------------------------------------------------------------------------------

/// Classify one object as the Python core's checks see it.
fn classify(obj: &Bound<'_, PyAny>) -> Value {
    if let Ok(flag) = obj.cast::<PyBool>() {
        return Value::Bool(flag.is_true());
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(v) = obj.extract::<i64>() {
            return Value::Int(i128::from(v));
        }
        if let Ok(v) = obj.extract::<i128>() {
            return Value::Int(v);
        }
        return Value::BigInt {
            negative: obj.lt(0).unwrap_or(false),
            float_overflow: obj.extract::<f64>().is_err(),
        };
    }
    if let Ok(float) = obj.cast::<PyFloat>() {
        return Value::Float(float.value());
    }
    if obj.is_none() {
        return Value::None;
    }
    Value::Other { eq_zero: false }
}

/// Index of `exectype` in a submit event, and the submit tag and length.
const SUBMIT_EXECTYPE: usize = 6;
const SUBMIT_TAG: i128 = 2;
const SUBMIT_LEN: usize = 8;

/// An event or bar tuple (or any other object) as the core's raw input.
fn raw_item(obj: &Bound<'_, PyAny>, is_bar: bool) -> RawItem {
    let Ok(tuple) = obj.cast::<PyTuple>() else {
        // Only a bar's length is reported (an event that is no tuple has no tag).
        return RawItem::not_tuple(if is_bar { obj.len().ok() } else { None });
    };
    let len = tuple.len();
    let mut item = RawItem::tuple(len);
    for (k, value) in tuple.iter().take(MAX_ITEMS).enumerate() {
        item.set(k, classify(&value));
    }
    if !is_bar
        && len == SUBMIT_LEN
        && item.get(0) == Value::Int(SUBMIT_TAG)
        && matches!(item.get(SUBMIT_EXECTYPE), Value::Other { .. })
    {
        // `exectype != EXEC_MARKET` for an object of another type
        let eq_zero = tuple
            .get_item(SUBMIT_EXECTYPE)
            .and_then(|v| v.ne(0))
            .map(|ne| !ne)
            .unwrap_or(false);
        item.set(SUBMIT_EXECTYPE, Value::Other { eq_zero });
    }
    item
}

/// The items of an iterable (`for x in obj`).
fn items<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    obj.try_iter()?.collect()
}

/// The original input of a call, to report an offending object itself.
#[derive(Default)]
struct Sources<'a, 'py> {
    args: &'a [Bound<'py, PyAny>],
    events: &'a [Bound<'py, PyAny>],
    bars: &'a [Bound<'py, PyAny>],
    datas: &'a [Bound<'py, PyAny>],
    closes: &'a [Bound<'py, PyAny>],
}

impl<'py> Sources<'_, 'py> {
    fn lookup(&self, py: Python<'py>, origin: Origin) -> PyResult<Option<Bound<'py, PyAny>>> {
        let item = |list: &[Bound<'py, PyAny>], index: usize, item: usize| {
            list.get(index).map(|obj| obj.get_item(item)).transpose()
        };
        Ok(match origin {
            Origin::Arg(k) => self.args.get(k).cloned(),
            Origin::Event { index, item: k } => item(self.events, index, k)?,
            Origin::Bar { index, item: k } => item(self.bars, index, k)?,
            Origin::Datas => Some(PyList::new(py, self.datas)?.into_any()),
            Origin::Data(k) => self.datas.get(k).cloned(),
            Origin::Close(k) => self.closes.get(k).cloned(),
        })
    }
}

// -- output -----------------------------------------------------------------------------------

fn num_to_py(py: Python<'_>, value: Num) -> PyResult<Bound<'_, PyAny>> {
    match value {
        Num::Int(v) => match i64::try_from(v) {
            Ok(small) => small.into_bound_py_any(py),
            Err(_) => v.into_bound_py_any(py),
        },
        Num::Float(v) => v.into_bound_py_any(py),
    }
}

fn err_value_to_py<'py>(py: Python<'py>, value: &ErrValue) -> PyResult<Bound<'py, PyAny>> {
    match value {
        ErrValue::None => Ok(py.None().into_bound(py)),
        ErrValue::Bool(v) => v.into_bound_py_any(py),
        ErrValue::Int(v) => num_to_py(py, Num::Int(*v)),
        ErrValue::Float(v) => v.into_bound_py_any(py),
        ErrValue::List(items) => {
            let items = items
                .iter()
                .map(|item| err_value_to_py(py, item))
                .collect::<PyResult<Vec<_>>>()?;
            Ok(PyList::new(py, items)?.into_any())
        }
        ErrValue::BigInt { .. } | ErrValue::Other => value.to_string().into_bound_py_any(py),
    }
}

fn record_to_py<'py>(py: Python<'py>, record: &Record) -> PyResult<Bound<'py, PyTuple>> {
    match record {
        Record::Accepted { oref } => PyTuple::new(py, [0_u64, *oref]),
        Record::Margin { oref } => PyTuple::new(py, [1_u64, *oref]),
        Record::Executed(x) => {
            let nums = [
                x.dt,
                x.size,
                x.price,
                x.closed,
                x.closedvalue,
                x.closedcomm,
                x.opened,
                x.openedvalue,
                x.openedcomm,
                x.pnl,
                x.psize,
                x.pprice,
                x.position_size,
                x.position_price,
            ];
            let mut out = Vec::with_capacity(16);
            out.push(2_u64.into_bound_py_any(py)?);
            out.push(x.oref.into_bound_py_any(py)?);
            for value in nums {
                out.push(num_to_py(py, value)?);
            }
            PyTuple::new(py, out)
        }
    }
}

fn state_to_py<'py>(py: Python<'py>, state: &State) -> PyResult<Bound<'py, PyTuple>> {
    let nums = [
        state.cash,
        state.value,
        state.valuemkt,
        state.valuelever,
        state.valuemktlever,
        state.fundvalue,
        state.fundshares,
        state.leverage,
        state.unrealized,
    ];
    let mut out = Vec::with_capacity(10);
    for value in nums {
        out.push(num_to_py(py, value)?);
    }
    out.push(state.idle.into_bound_py_any(py)?);
    PyTuple::new(py, out)
}

// -- errors -----------------------------------------------------------------------------------

/// The Python exception of a core error: the one place where core errors are mapped.
fn to_py_err(py: Python<'_>, err: CoreError, src: &Sources<'_, '_>) -> PyErr {
    match build_py_err(py, err, src) {
        Ok(err) | Err(err) => err,
    }
}

fn build_py_err(py: Python<'_>, err: CoreError, src: &Sources<'_, '_>) -> PyResult<PyErr> {
    Ok(match err {
        CoreError::Input(input) => {
            let original = match input.origin {
                Some(origin) => src.lookup(py, origin)?,
                None => None,
            };
            if let (Some(Origin::Data(_)), Some(obj)) = (input.origin, &original) {
                // `data not in self.comm` hashes the data first: an unhashable one raises.
                obj.hash()?;
            }
            let value = match original {
                Some(obj) => obj,
                None => err_value_to_py(py, &input.value)?,
            };
            let cls = py
                .import("bt_cracktrader.core.contract")?
                .getattr("CoreInputError")?;
            PyErr::from_value(cls.call1((input.what, input.field, value, input.reason))?)
        }
        CoreError::NoLen { bar } => match src.bars.get(bar).map(PyAnyMethods::len) {
            Some(Err(err)) => err,
            _ => PyTypeError::new_err(format!("bar #{bar} has no len()")),
        },
        CoreError::IntToFloat(origin) => {
            // Let Python raise its own OverflowError for this int.
            if let Some(obj) = src.lookup(py, origin)? {
                py.import("math")?.getattr("isfinite")?.call1((obj,))?;
            }
            PyOverflowError::new_err("int too large to convert to float")
        }
        CoreError::ZeroDivision { dividend, divisor } => {
            // Let Python raise its own ZeroDivisionError for these operands.
            num_to_py(py, dividend)?.div(num_to_py(py, divisor)?)?;
            PyZeroDivisionError::new_err("division by zero")
        }
        CoreError::IntOverflow => PyOverflowError::new_err(err.to_string()),
        CoreError::BadSnapshot(_) => PyValueError::new_err(err.to_string()),
        CoreError::Internal(_) => PyAssertionError::new_err(err.to_string()),
    })
}

// -- pickling ---------------------------------------------------------------------------------

const SNAPSHOT_VERSION: u32 = 1;

fn order_state_code(state: OrderState) -> u8 {
    match state {
        OrderState::Submitted => 0,
        OrderState::Pending => 1,
    }
}

fn snapshot_to_py<'py>(py: Python<'py>, snap: &Snapshot) -> PyResult<Bound<'py, PyTuple>> {
    let nums = |values: &[Num]| -> PyResult<Bound<'py, PyTuple>> {
        let items = values
            .iter()
            .map(|&v| num_to_py(py, v))
            .collect::<PyResult<Vec<_>>>()?;
        PyTuple::new(py, items)
    };
    let mut comm = Vec::with_capacity(snap.comm.len());
    for (data, spec) in &snap.comm {
        let head = (*data, spec.stocklike, spec.perc).into_pyobject(py)?;
        let tail = nums(&[
            spec.commission,
            spec.mult,
            spec.margin,
            spec.automargin,
            spec.leverage,
        ])?;
        comm.push(head.add(tail)?);
    }
    let mut positions = Vec::with_capacity(snap.positions.len());
    for (data, position) in &snap.positions {
        let adjbase = match position.adjbase {
            Some(v) => num_to_py(py, v)?,
            None => py.None().into_bound(py),
        };
        positions.push(
            (
                *data,
                num_to_py(py, position.size)?,
                num_to_py(py, position.price)?,
                adjbase,
            )
                .into_pyobject(py)?,
        );
    }
    let mut orders = Vec::with_capacity(snap.orders.len());
    for order in &snap.orders {
        let head = (order.oref, order.data).into_pyobject(py)?;
        let tail = nums(&[order.size, order.remsize, order.price, order.created_dt])?;
        let state = (order_state_code(order.state),).into_pyobject(py)?;
        orders.push(head.add(tail)?.add(state)?);
    }
    (
        SNAPSHOT_VERSION,
        snap.checksubmit,
        snap.shortcash,
        nums(&snap.figures)?,
        PyTuple::new(py, comm)?,
        PyTuple::new(py, positions)?,
        PyTuple::new(py, orders)?,
        PyTuple::new(py, &snap.done)?,
        PyTuple::new(py, &snap.submitted)?,
        PyTuple::new(py, &snap.pending)?,
    )
        .into_pyobject(py)
}

fn bad_state(why: &str) -> PyErr {
    PyValueError::new_err(format!("invalid RustCore state: {why}"))
}

fn num_from_py(obj: &Bound<'_, PyAny>) -> PyResult<Num> {
    match classify(obj) {
        Value::Int(v) => Ok(Num::Int(v)),
        Value::Float(v) => Ok(Num::Float(v)),
        _ => Err(bad_state("a number is neither int nor float")),
    }
}

fn tuple_of<'py>(obj: &Bound<'py, PyAny>, len: Option<usize>) -> PyResult<Bound<'py, PyTuple>> {
    let tuple = obj
        .cast::<PyTuple>()
        .map_err(|_| bad_state("expected a tuple"))?
        .clone();
    match len {
        Some(len) if tuple.len() != len => Err(bad_state("a tuple has the wrong length")),
        _ => Ok(tuple),
    }
}

fn snapshot_from_py(state: &Bound<'_, PyAny>) -> PyResult<Snapshot> {
    let state = tuple_of(state, Some(10))?;
    if state.get_item(0)?.extract::<u32>()? != SNAPSHOT_VERSION {
        return Err(bad_state("unknown snapshot version"));
    }
    let flag = |k: usize| -> PyResult<bool> {
        state
            .get_item(k)?
            .cast::<PyBool>()
            .map(|b| b.is_true())
            .map_err(|_| bad_state("expected a bool"))
    };
    let refs = |k: usize| -> PyResult<Vec<u64>> {
        tuple_of(&state.get_item(k)?, None)?
            .iter()
            .map(|r| r.extract::<u64>())
            .collect()
    };

    let figures_tuple = tuple_of(&state.get_item(3)?, Some(9))?;
    let mut figures = [Num::Int(0); 9];
    for (k, slot) in figures.iter_mut().enumerate() {
        *slot = num_from_py(&figures_tuple.get_item(k)?)?;
    }

    let mut comm = Vec::new();
    for item in tuple_of(&state.get_item(4)?, None)?.iter() {
        let t = tuple_of(&item, Some(8))?;
        let flag_at = |k: usize| -> PyResult<bool> {
            t.get_item(k)?
                .cast::<PyBool>()
                .map(|b| b.is_true())
                .map_err(|_| bad_state("expected a bool"))
        };
        comm.push((
            t.get_item(0)?.extract::<usize>()?,
            cracktrader_core::CommSpec {
                stocklike: flag_at(1)?,
                perc: flag_at(2)?,
                commission: num_from_py(&t.get_item(3)?)?,
                mult: num_from_py(&t.get_item(4)?)?,
                margin: num_from_py(&t.get_item(5)?)?,
                automargin: num_from_py(&t.get_item(6)?)?,
                leverage: num_from_py(&t.get_item(7)?)?,
            },
        ));
    }

    let mut positions = Vec::new();
    for item in tuple_of(&state.get_item(5)?, None)?.iter() {
        let t = tuple_of(&item, Some(4))?;
        let adjbase = t.get_item(3)?;
        positions.push((
            t.get_item(0)?.extract::<usize>()?,
            Position {
                size: num_from_py(&t.get_item(1)?)?,
                price: num_from_py(&t.get_item(2)?)?,
                adjbase: if adjbase.is_none() {
                    None
                } else {
                    Some(num_from_py(&adjbase)?)
                },
            },
        ));
    }

    let mut orders = Vec::new();
    for item in tuple_of(&state.get_item(6)?, None)?.iter() {
        let t = tuple_of(&item, Some(7))?;
        orders.push(Order {
            oref: t.get_item(0)?.extract::<u64>()?,
            data: t.get_item(1)?.extract::<usize>()?,
            size: num_from_py(&t.get_item(2)?)?,
            remsize: num_from_py(&t.get_item(3)?)?,
            price: num_from_py(&t.get_item(4)?)?,
            created_dt: num_from_py(&t.get_item(5)?)?,
            state: match t.get_item(6)?.extract::<u8>()? {
                0 => OrderState::Submitted,
                1 => OrderState::Pending,
                _ => return Err(bad_state("unknown order state")),
            },
        });
    }

    Ok(Snapshot {
        checksubmit: flag(1)?,
        shortcash: flag(2)?,
        figures,
        comm,
        positions,
        orders,
        done: refs(7)?,
        submitted: refs(8)?,
        pending: refs(9)?,
    })
}

// -- the class --------------------------------------------------------------------------------

/// A constructor argument: the object as passed (any object, `None` included), or absent.
enum Arg {
    Default,
    Given(Py<PyAny>),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Arg {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> Result<Self, Self::Error> {
        Ok(Arg::Given(obj.to_owned().unbind()))
    }
}

impl Arg {
    fn bind<'py>(
        self,
        py: Python<'py>,
        default: impl FnOnce() -> PyResult<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match self {
            Arg::Default => default(),
            Arg::Given(obj) => Ok(obj.into_bound(py)),
        }
    }
}

/// BackBroker's matching and accounting for Market orders, in Rust (the twin of `PyCore`).
#[pyclass(module = "bt_cracktrader._rust", name = "RustCore")]
struct RustCore {
    core: Core,
}

#[pymethods]
impl RustCore {
    /// Name of the backend (`"rust"`; `PyCore.backend` is `"python"`).
    #[classattr]
    fn backend() -> &'static str {
        "rust"
    }

    #[new]
    #[pyo3(
        signature = (cash=Arg::Default, checksubmit=Arg::Default, shortcash=Arg::Default, fundstartval=Arg::Default),
        text_signature = "(cash=10000.0, checksubmit=True, shortcash=True, fundstartval=100.0)"
    )]
    fn new(
        py: Python<'_>,
        cash: Arg,
        checksubmit: Arg,
        shortcash: Arg,
        fundstartval: Arg,
    ) -> PyResult<Self> {
        let args = [
            cash.bind(py, || 10000.0_f64.into_bound_py_any(py))?,
            checksubmit.bind(py, || true.into_bound_py_any(py))?,
            shortcash.bind(py, || true.into_bound_py_any(py))?,
            fundstartval.bind(py, || 100.0_f64.into_bound_py_any(py))?,
        ];
        let raw = [
            classify(&args[0]),
            classify(&args[1]),
            classify(&args[2]),
            classify(&args[3]),
        ];
        let core = Core::new_raw(raw).map_err(|err| {
            let src = Sources {
                args: &args,
                ..Sources::default()
            };
            to_py_err(py, err, &src)
        })?;
        Ok(RustCore { core })
    }

    /// The broker figures, laid out as `contract.STATE_FIELDS`.
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        state_to_py(py, &self.core.state())
    }

    /// Apply events now, without a bar (what `step` does first).
    fn apply(&mut self, py: Python<'_>, events: &Bound<'_, PyAny>) -> PyResult<()> {
        let events = items(events)?;
        let raw: Vec<RawItem> = events.iter().map(|ev| raw_item(ev, false)).collect();
        self.core.apply_raw(&raw).map_err(|err| {
            let src = Sources {
                events: &events,
                ..Sources::default()
            };
            to_py_err(py, err, &src)
        })
    }

    /// Apply the events, then process one bar per registered data: `(records, state)`.
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        events: &Bound<'py, PyAny>,
        bars: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyTuple>)> {
        let events = items(events)?;
        let bars = items(bars)?;
        let raw_events: Vec<RawItem> = events.iter().map(|ev| raw_item(ev, false)).collect();
        let raw_bars: Vec<RawItem> = bars.iter().map(|bar| raw_item(bar, true)).collect();
        let records = self.core.step_raw(&raw_events, &raw_bars).map_err(|err| {
            let src = Sources {
                events: &events,
                bars: &bars,
                ..Sources::default()
            };
            to_py_err(py, err, &src)
        })?;
        let records = records
            .iter()
            .map(|record| record_to_py(py, record))
            .collect::<PyResult<Vec<_>>>()?;
        Ok((
            PyList::new(py, records)?,
            state_to_py(py, &self.core.state())?,
        ))
    }

    /// `broker.getvalue(datas=...)`: `(value, state)`.
    fn value_of<'py>(
        &mut self,
        py: Python<'py>,
        datas: &Bound<'py, PyAny>,
        closes: &Bound<'py, PyAny>,
        lever: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        // `len(datas) != len(closes)`: both must have a length, as in Python.
        datas.len()?;
        closes.len()?;
        let datas = items(datas)?;
        let closes = items(closes)?;
        let lever = lever.is_truthy()?;
        let raw_datas: Vec<Value> = datas
            .iter()
            .map(|data| match classify(data) {
                // An object with `__index__` (e.g. numpy.int64) is found in a dict like its int.
                Value::Other { .. } => data
                    .extract::<i64>()
                    .map_or(Value::Other { eq_zero: false }, |v| {
                        Value::Int(i128::from(v))
                    }),
                value => value,
            })
            .collect();
        let raw_closes: Vec<Value> = closes.iter().map(classify).collect();
        let value = self
            .core
            .value_of_raw(&raw_datas, &raw_closes, lever)
            .map_err(|err| {
                let src = Sources {
                    datas: &datas,
                    closes: &closes,
                    ..Sources::default()
                };
                to_py_err(py, err, &src)
            })?;
        Ok((num_to_py(py, value)?, state_to_py(py, &self.core.state())?))
    }

    /// Pickling: `RustCore()` restored with `__setstate__`.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let snapshot = snapshot_to_py(py, &slf.borrow().core.snapshot())?;
        (slf.get_type(), PyTuple::empty(py), snapshot).into_pyobject(py)
    }

    fn __setstate__(&mut self, py: Python<'_>, state: &Bound<'_, PyAny>) -> PyResult<()> {
        let snapshot = snapshot_from_py(state)?;
        self.core =
            Core::from_snapshot(snapshot).map_err(|err| to_py_err(py, err, &Sources::default()))?;
        Ok(())
    }
}

/// The `bt_cracktrader._rust` extension module.
#[pymodule]
fn _rust(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(core_version, m)?)?;
    m.add_class::<RustCore>()?;
    Ok(())
}
