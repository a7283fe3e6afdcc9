//! `bt_cracktrader._rust`: the Python bindings of the Rust core (`cracktrader_core`).
//!
//! `RustCore` has the Python API of `bt_cracktrader.core.pycore.PyCore`. The bindings are thin:
//! each call classifies its whole input once ([`Value`], [`RawItem`]), the core validates and
//! runs it, and the records and the state come back as tuples of Python `int`/`float`/`bool`,
//! with the same types as the Python core's. Every core error becomes a Python exception in one
//! place ([`to_py_err`]); refused input raises `bt_cracktrader.core.contract.CoreInputError`
//! with the original object as its value, so that the message is the Python core's, byte for
//! byte.
//!
//! A user's volume filler and CommInfo overrides are Python callables given to `step` and
//! `value_of`; [`PyHooks`] implements the core's [`Hooks`] with them (the GIL is held for the
//! whole call), so the core calls Python only for that user code, and only when it needs it.

use cracktrader_core::{
    CommSpec, Config, Core, CoreError, ErrValue, HookArg, HookFailed, Hooks, Num, Order, OrderSpec,
    OrderState, Origin, PackedError, Position, RawItem, Record, Snapshot, State, Value, MAX_ITEMS,
};
use pyo3::exceptions::{
    PyAssertionError, PyIndexError, PyKeyError, PyOverflowError, PyTypeError, PyZeroDivisionError,
};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyList, PyTuple, PyType};
use pyo3::IntoPyObjectExt;
use std::cell::Cell;

// mimalloc serves every Rust allocation of the extension (the core's order table, the
// batch's output, ...); Python's own objects still come from CPython's allocators. With the
// system allocator, glibc trims and unmaps the heap a batch freed, so the next batch of a
// process that runs many backtests page-faults it back in (~480 minor faults a `step_packed`
// of the core-only benchmark: 2.7 ms instead of 1.7); mimalloc keeps its freed pages mapped
// for reuse, and its small-object path is cheaper too. Only this cdylib sets it: `cracktrader_core`
// stays allocator-agnostic for its Rust users. `local_dynamic_tls` (Cargo.toml): the module
// is loaded with dlopen, where mimalloc's default initial-exec TLS relies on glibc's small
// surplus of static TLS and can fail to load; local-dynamic is the model for such libraries.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_decommits` and `mi_option_purge_delay` (`mimalloc.h`: the same values in
/// mimalloc v2 and v3; the sys crate names only some options).
const MI_OPTION_PURGE_DECOMMITS: libmimalloc_sys::mi_option_t = 5;
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long memory the extension freed stays with mimalloc before it is purged, in ms.
const PURGE_DELAY_MS: std::ffi::c_long = 10_000;

/// mimalloc purges memory freed for a while (a second by default) with `MADV_DONTNEED` unless
/// told otherwise, and the next batch then page-faults it back in: in the benchmark script,
/// whose rotation of runs outlasts that delay, 50 to 260 minor faults a `step_packed`. A purge
/// by `MADV_FREE` instead (`purge_decommits = 0`) still gives the pages back when the system
/// needs them, but pages reused before that do not fault. Even so, the first batch after a
/// purge was slow (2 to 5 ms instead of 1.5 in the core-only benchmark, where the kernel
/// reclaims freed pages proactively): a run of backtests reuses the memory within seconds, so
/// it is purged only after ten seconds unused (then it goes back to the system as before).
fn set_allocator_options() {
    // SAFETY: `mi_option_set` takes plain integers and no pointer; mimalloc's options are
    // atomics that may be set at any time, from any thread (`mimalloc.h`), and an option
    // number it does not know is ignored.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DECOMMITS, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS);
    }
}

mod ledger;

/// Version of the Rust core crate.
#[pyfunction]
fn core_version() -> &'static str {
    cracktrader_core::version()
}

// -- input ------------------------------------------------------------------------------------

/// Classify one object as the Python core's checks see it.
fn classify(obj: &Bound<'_, PyAny>) -> Value {
    // Exact floats first: most items of bars and orders are prices.
    if let Ok(float) = obj.cast_exact::<PyFloat>() {
        return Value::Float(float.value());
    }
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
    Value::Other { eq_int: None }
}

/// Index of `filler` in a config event, and the config tag and length.
const CONFIG_FILLER: usize = 11;
const CONFIG_TAG: i128 = 4;
const CONFIG_LEN: usize = 16;
/// `FILLER_CALLBACK`: `filler in range(FILLER_CALLBACK + 1)`.
const FILLER_MAX: u8 = 4;

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
        && len == CONFIG_LEN
        && item.get(0) == Value::Int(CONFIG_TAG)
        && matches!(item.get(CONFIG_FILLER), Value::Other { .. })
    {
        // `filler in range(5)` for an object of another type: `k == filler` for each k
        let eq_int = tuple.get_item(CONFIG_FILLER).ok().and_then(|filler| {
            (0..=FILLER_MAX).find(|&k| {
                k.into_bound_py_any(tuple.py())
                    .and_then(|k| PyAnyMethods::eq(&k, &filler))
                    .unwrap_or(false)
            })
        });
        item.set(CONFIG_FILLER, Value::Other { eq_int });
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
    filler_result: Option<Bound<'py, PyAny>>,
    /// The exception a user callable raised.
    hook_error: Cell<Option<PyErr>>,
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
            Origin::FillerResult => self.filler_result.clone(),
        })
    }
}

// -- output -----------------------------------------------------------------------------------

fn num_to_py(py: Python<'_>, value: Num) -> PyResult<Bound<'_, PyAny>> {
    match value {
        Num::Int(v) => match i64::try_from(v.get()) {
            Ok(small) => small.into_bound_py_any(py),
            Err(_) => v.get().into_bound_py_any(py),
        },
        Num::Float(v) => v.into_bound_py_any(py),
    }
}

fn err_value_to_py<'py>(py: Python<'py>, value: &ErrValue) -> PyResult<Bound<'py, PyAny>> {
    match value {
        ErrValue::None => Ok(py.None().into_bound(py)),
        ErrValue::Bool(v) => v.into_bound_py_any(py),
        ErrValue::Int(v) => num_to_py(py, Num::int(*v)),
        ErrValue::Float(v) => v.into_bound_py_any(py),
        ErrValue::List(items) => {
            let items = items
                .iter()
                .map(|item| err_value_to_py(py, item))
                .collect::<PyResult<Vec<_>>>()?;
            Ok(PyList::new(py, items)?.into_any())
        }
        ErrValue::Str(text) => text.into_bound_py_any(py),
        ErrValue::BigInt { .. } | ErrValue::Other => value.to_string().into_bound_py_any(py),
    }
}

fn record_to_py<'py>(py: Python<'py>, record: &Record) -> PyResult<Bound<'py, PyTuple>> {
    let tag = num_to_py(py, Num::int(record.tag()))?;
    let oref = |oref: u64| oref.into_bound_py_any(py);
    match record {
        Record::Accepted { oref: r }
        | Record::Margin { oref: r }
        | Record::Submitted { oref: r }
        | Record::Canceled { oref: r }
        | Record::Expired { oref: r }
        | Record::Rejected { oref: r }
        | Record::Activated { oref: r }
        | Record::Triggered { oref: r } => PyTuple::new(py, [tag, oref(*r)?]),
        Record::Trail {
            oref: r,
            price,
            pricelimit,
        } => PyTuple::new(
            py,
            [
                tag,
                oref(*r)?,
                num_to_py(py, *price)?,
                num_to_py(py, *pricelimit)?,
            ],
        ),
        Record::Position { data } => PyTuple::new(py, [tag, data.into_bound_py_any(py)?]),
        Record::Executed(x) => {
            let mut out = Vec::with_capacity(16);
            out.push(tag);
            out.push(oref(x.oref)?);
            for value in x.nums() {
                out.push(num_to_py(py, value)?);
            }
            PyTuple::new(py, out)
        }
    }
}

fn records_to_py<'py>(py: Python<'py>, records: &[Record]) -> PyResult<Bound<'py, PyList>> {
    let records = records
        .iter()
        .map(|record| record_to_py(py, record))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, records)
}

// -- user callables -----------------------------------------------------------------------------

/// The callables of one call: `filler(ref, price, ago)` and `comm(data, method, *args)`.
struct PyHooks<'py> {
    filler: Option<Bound<'py, PyAny>>,
    comm: Option<Bound<'py, PyAny>>,
    /// The exception a callable raised (the core reports [`CoreError::Hook`]).
    error: Option<PyErr>,
    /// The object the filler returned last (reported if it is not a number).
    filler_result: Option<Bound<'py, PyAny>>,
}

impl<'py> PyHooks<'py> {
    /// `None` is no callable, as in the Python core (`filler is None`).
    fn new(filler: Option<Bound<'py, PyAny>>, comm: Option<Bound<'py, PyAny>>) -> Self {
        PyHooks {
            filler: filler.filter(|f| !f.is_none()),
            comm: comm.filter(|c| !c.is_none()),
            error: None,
            filler_result: None,
        }
    }

    fn failed(&mut self, err: PyErr) -> HookFailed {
        self.error = Some(err);
        HookFailed
    }
}

/// A user's CommInfo result: an `int` or `float` (`bool` computes as `int`); an object with
/// `__index__` (e.g. `numpy.int64`) as its `int`.
fn classify_result(obj: &Bound<'_, PyAny>) -> Value {
    match classify(obj) {
        Value::Other { .. } => obj
            .extract::<i64>()
            .map_or(Value::Other { eq_int: None }, |v| Value::Int(i128::from(v))),
        value => value,
    }
}

impl Hooks for PyHooks<'_> {
    fn has_filler(&self) -> bool {
        self.filler.is_some()
    }

    fn has_comm(&self) -> bool {
        self.comm.is_some()
    }

    fn filler(&mut self, oref: u64, price: Num, ago: i32) -> Result<Value, HookFailed> {
        let Some(filler) = self.filler.clone() else {
            return Err(HookFailed);
        };
        let py = filler.py();
        let result = num_to_py(py, price).and_then(|price| filler.call1((oref, price, ago)));
        match result {
            Ok(size) => {
                let value = classify(&size);
                self.filler_result = Some(size);
                Ok(value)
            }
            Err(err) => Err(self.failed(err)),
        }
    }

    fn comm(
        &mut self,
        data: usize,
        method: &'static str,
        args: &[HookArg],
    ) -> Result<Value, HookFailed> {
        let Some(comm) = self.comm.clone() else {
            return Err(HookFailed);
        };
        let py = comm.py();
        let call = || -> PyResult<Bound<'_, PyAny>> {
            let mut items = Vec::with_capacity(args.len() + 2);
            items.push(data.into_bound_py_any(py)?);
            items.push(method.into_bound_py_any(py)?);
            for arg in args {
                items.push(match *arg {
                    HookArg::Num(v) => num_to_py(py, v)?,
                    HookArg::Bool(v) => v.into_bound_py_any(py)?,
                    HookArg::None => py.None().into_bound(py),
                });
            }
            comm.call1(PyTuple::new(py, items)?)
        };
        match call() {
            Ok(result) => Ok(classify_result(&result)),
            Err(err) => Err(self.failed(err)),
        }
    }
}

fn state_to_py<'py>(py: Python<'py>, state: &State) -> PyResult<Bound<'py, PyTuple>> {
    let mut out = Vec::with_capacity(10);
    for value in state.nums() {
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
        CoreError::ZeroDivision(z) => {
            // Let Python raise its own ZeroDivisionError for these operands.
            let (a, b) = (num_to_py(py, z.dividend)?, num_to_py(py, z.divisor)?);
            if z.floor {
                a.floor_div(b)?;
            } else {
                a.div(b)?;
            }
            PyZeroDivisionError::new_err("division by zero")
        }
        CoreError::KeyError(key) => PyKeyError::new_err((num_to_py(py, Num::int(key))?.unbind(),)),
        CoreError::IndexError(why) => PyIndexError::new_err(why),
        CoreError::Hook => src
            .hook_error
            .take()
            .unwrap_or_else(|| PyAssertionError::new_err("a callback failed without exception")),
        CoreError::HookResult { method } => PyTypeError::new_err(format!(
            "{method}() of a CommInfo override returned neither an int nor a float"
        )),
        CoreError::IntOverflow => PyOverflowError::new_err(err.to_string()),
        CoreError::BadSnapshot(_) => snapshot_error(py, &err.to_string()),
        CoreError::Internal(_) => PyAssertionError::new_err(err.to_string()),
    })
}

// -- pickling ---------------------------------------------------------------------------------

/// Layout version of the pickled state (the snapshot of contract version 3).
const SNAPSHOT_VERSION: u32 = 3;

fn order_state_code(state: OrderState) -> u8 {
    match state {
        OrderState::Created => 0,
        OrderState::Submitted => 1,
        OrderState::Pending => 2,
        OrderState::Done => 3,
    }
}

fn order_state_from(code: u8) -> PyResult<OrderState> {
    Ok(match code {
        0 => OrderState::Created,
        1 => OrderState::Submitted,
        2 => OrderState::Pending,
        3 => OrderState::Done,
        _ => return Err(bad_state("unknown order state")),
    })
}

/// Builds a tuple item by item.
struct Out<'py> {
    py: Python<'py>,
    items: Vec<Bound<'py, PyAny>>,
}

impl<'py> Out<'py> {
    fn new(py: Python<'py>) -> Self {
        Out {
            py,
            items: Vec::new(),
        }
    }

    fn any(&mut self, item: Bound<'py, PyAny>) -> &mut Self {
        self.items.push(item);
        self
    }

    fn num(&mut self, value: Num) -> PyResult<&mut Self> {
        let item = num_to_py(self.py, value)?;
        Ok(self.any(item))
    }

    fn opt_num(&mut self, value: Option<Num>) -> PyResult<&mut Self> {
        match value {
            Some(v) => self.num(v),
            None => Ok(self.any(self.py.None().into_bound(self.py))),
        }
    }

    fn val<T: for<'a> IntoPyObject<'py>>(&mut self, value: T) -> PyResult<&mut Self> {
        let item = value.into_bound_py_any(self.py)?;
        Ok(self.any(item))
    }

    fn tuple(&self) -> PyResult<Bound<'py, PyAny>> {
        Ok(PyTuple::new(self.py, &self.items)?.into_any())
    }
}

fn tuple_from<'py, T>(
    py: Python<'py>,
    items: impl IntoIterator<Item = T>,
    mut each: impl FnMut(&mut Out<'py>, T) -> PyResult<()>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut out = Out::new(py);
    for item in items {
        let mut one = Out::new(py);
        each(&mut one, item)?;
        let one = if one.items.len() == 1 {
            one.items.pop().ok_or_else(|| bad_state("empty item"))?
        } else {
            one.tuple()?
        };
        out.any(one);
    }
    out.tuple()
}

fn config_to_py<'py>(py: Python<'py>, c: &Config) -> PyResult<Bound<'py, PyAny>> {
    let mut out = Out::new(py);
    out.val(c.checksubmit)?
        .val(c.shortcash)?
        .val(c.coc)?
        .val(c.coo)?
        .num(c.slip_perc)?
        .num(c.slip_fixed)?
        .val(c.slip_open)?
        .val(c.slip_match)?
        .val(c.slip_limit)?
        .val(c.slip_out)?
        .val(c.filler)?
        .num(c.filler_size)?
        .num(c.filler_perc)?
        .num(c.filler_minmov)?
        .val(c.int2pnl)?;
    out.tuple()
}

fn comm_to_py(out: &mut Out<'_>, data: usize, s: &CommSpec) -> PyResult<()> {
    out.val(data)?
        .val(s.stocklike)?
        .val(s.perc)?
        .num(s.commission)?
        .num(s.mult)?
        .num(s.margin)?
        .num(s.automargin)?
        .num(s.leverage)?
        .num(s.creditrate)?
        .val(s.interest_long)?
        .val(s.overrides)?
        .val(s.compensate.map_or(-1, |t| t as i128))?;
    Ok(())
}

fn position_to_py(out: &mut Out<'_>, data: usize, p: &Position) -> PyResult<()> {
    out.val(data)?
        .num(p.size)?
        .num(p.price)?
        .opt_num(p.adjbase)?
        .num(p.dt)?
        .num(Num::int(p.day))?;
    Ok(())
}

fn order_to_py(out: &mut Out<'_>, o: &Order) -> PyResult<()> {
    out.val(o.oref)?
        .val(o.data)?
        .val(o.isbuy)?
        .num(o.size)?
        .num(o.remsize)?
        .val(o.exectype)?
        .num(o.price)?
        .num(o.pricelimit)?
        .num(o.pclose)?
        .num(o.created_dt)?
        .num(o.valid)?
        .num(o.dteos)?
        .num(o.trailamount)?
        .num(o.trailpercent)?
        .num(o.limitoffset)?
        .val(o.parent.map_or(-1, i128::from))?
        .val(o.transmit)?
        .val(o.coc)?
        .val(order_state_code(o.state))?
        .val(o.active)?
        .val(o.triggered)?
        .opt_num(o.pannotated)?
        .val(o.completed)?;
    Ok(())
}

fn spec_to_py(out: &mut Out<'_>, o: &OrderSpec) -> PyResult<()> {
    out.val(o.oref)?
        .val(o.data)?
        .val(o.isbuy)?
        .num(o.size)?
        .val(o.exectype)?
        .num(o.price)?
        .num(o.pricelimit)?
        .num(o.pclose)?
        .num(o.created_dt)?
        .num(o.valid)?
        .num(o.dteos)?
        .num(o.trailamount)?
        .num(o.trailpercent)?
        .num(o.limitoffset)?
        .val(o.parent.map_or(-1, i128::from))?
        .val(o.oco.map_or(-1, i128::from))?
        .val(o.transmit)?
        .val(o.check)?
        .val(o.coc)?
        .val(o.notified)?;
    Ok(())
}

fn snapshot_to_py<'py>(py: Python<'py>, snap: &Snapshot) -> PyResult<Bound<'py, PyTuple>> {
    let mut figures = Out::new(py);
    for value in snap.figures {
        figures.num(value)?;
    }
    let mut out = Out::new(py);
    out.val(SNAPSHOT_VERSION)?
        .any(config_to_py(py, &snap.config)?)
        .any(figures.tuple()?)
        .any(tuple_from(py, &snap.comm, |o, (d, s)| {
            comm_to_py(o, *d, s)
        })?)
        .any(tuple_from(py, &snap.positions, |o, (d, p)| {
            position_to_py(o, *d, p)
        })?)
        .any(tuple_from(py, &snap.orders, order_to_py)?)
        .any(tuple_from(py, &snap.submitted, |o, i| o.val(*i).map(drop))?)
        .any(tuple_from(py, &snap.pending, |o, i| {
            o.val(i.map_or(-1, |i| i as i128)).map(drop)
        })?)
        .any(tuple_from(py, &snap.toactivate, |o, i| {
            o.val(*i).map(drop)
        })?)
        .any(tuple_from(py, &snap.pchildren, |o, (r, pc)| {
            let group = PyTuple::new(py, pc)?.into_any();
            o.val(*r)?.any(group);
            Ok(())
        })?)
        .any(tuple_from(py, &snap.ocos, |o, (r, l)| {
            o.val(*r)?.val(*l).map(drop)
        })?)
        .any(tuple_from(py, &snap.ocol, |o, (r, refs)| {
            let group = PyTuple::new(py, refs)?.into_any();
            o.val(*r)?.any(group);
            Ok(())
        })?)
        .any(tuple_from(py, &snap.d_credit, |o, (d, c)| {
            o.val(*d)?.num(*c).map(drop)
        })?)
        .any(tuple_from(py, &snap.cash_addition, |o, c| {
            o.num(*c).map(drop)
        })?)
        .any(tuple_from(py, &snap.history, |o, spec| {
            // a one-item tuple stays a tuple
            let mut one = Out::new(py);
            spec_to_py(&mut one, spec)?;
            o.any(one.tuple()?);
            Ok(())
        })?);
    match snap.fundhist {
        Some((fval, fvalue)) => {
            let mut row = Out::new(py);
            row.num(fval)?.num(fvalue)?;
            out.any(row.tuple()?);
        }
        None => {
            out.any(py.None().into_bound(py));
        }
    }
    Ok(out.tuple()?.cast_into::<PyTuple>()?)
}

/// `CoreInputError("snapshot", "snapshot", None, reason)`: a snapshot the core cannot restore
/// (the shared checker refuses every such snapshot first, with a precise field).
fn snapshot_error(py: Python<'_>, reason: &str) -> PyErr {
    let err = py
        .import("bt_cracktrader.core.contract")
        .and_then(|m| m.getattr("CoreInputError"))
        .and_then(|cls| cls.call1(("snapshot", "snapshot", py.None(), reason)));
    match err {
        Ok(exc) => PyErr::from_value(exc),
        Err(err) => err,
    }
}

fn bad_state(why: &str) -> PyErr {
    Python::attach(|py| snapshot_error(py, why))
}

fn num_from_py(obj: &Bound<'_, PyAny>) -> PyResult<Num> {
    match classify(obj) {
        Value::Int(v) => Ok(Num::int(v)),
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

/// Reads a tuple item by item.
struct Rd<'py> {
    t: Bound<'py, PyTuple>,
    k: usize,
}

impl<'py> Rd<'py> {
    fn new(obj: &Bound<'py, PyAny>, len: usize) -> PyResult<Self> {
        Ok(Rd {
            t: tuple_of(obj, Some(len))?,
            k: 0,
        })
    }

    fn next(&mut self) -> PyResult<Bound<'py, PyAny>> {
        let item = self.t.get_item(self.k)?;
        self.k += 1;
        Ok(item)
    }

    fn num(&mut self) -> PyResult<Num> {
        num_from_py(&self.next()?)
    }

    fn opt_num(&mut self) -> PyResult<Option<Num>> {
        let item = self.next()?;
        if item.is_none() {
            Ok(None)
        } else {
            num_from_py(&item).map(Some)
        }
    }

    fn flag(&mut self) -> PyResult<bool> {
        self.next()?
            .cast::<PyBool>()
            .map(|b| b.is_true())
            .map_err(|_| bad_state("expected a bool"))
    }

    fn get<T: for<'a> FromPyObjectOwned<'a>>(&mut self) -> PyResult<T> {
        self.next()?.extract::<T>().map_err(Into::into)
    }

    fn opt_ref(&mut self) -> PyResult<Option<u64>> {
        let v: i128 = self.get()?;
        if v == -1 {
            Ok(None)
        } else {
            u64::try_from(v)
                .map(Some)
                .map_err(|_| bad_state("a bad ref"))
        }
    }
}

fn list_of<'py, T>(
    obj: &Bound<'py, PyAny>,
    mut each: impl FnMut(&Bound<'py, PyAny>) -> PyResult<T>,
) -> PyResult<Vec<T>> {
    tuple_of(obj, None)?
        .iter()
        .map(|item| each(&item))
        .collect()
}

fn config_from_py(obj: &Bound<'_, PyAny>) -> PyResult<Config> {
    let mut r = Rd::new(obj, 15)?;
    Ok(Config {
        checksubmit: r.flag()?,
        shortcash: r.flag()?,
        coc: r.flag()?,
        coo: r.flag()?,
        slip_perc: r.num()?,
        slip_fixed: r.num()?,
        slip_open: r.flag()?,
        slip_match: r.flag()?,
        slip_limit: r.flag()?,
        slip_out: r.flag()?,
        filler: r.get()?,
        filler_size: r.num()?,
        filler_perc: r.num()?,
        filler_minmov: r.num()?,
        int2pnl: r.flag()?,
    })
}

fn comm_from_py(obj: &Bound<'_, PyAny>) -> PyResult<(usize, CommSpec)> {
    let mut r = Rd::new(obj, 12)?;
    let data = r.get()?;
    let spec = CommSpec {
        stocklike: r.flag()?,
        perc: r.flag()?,
        commission: r.num()?,
        mult: r.num()?,
        margin: r.num()?,
        automargin: r.num()?,
        leverage: r.num()?,
        creditrate: r.num()?,
        interest_long: r.flag()?,
        overrides: r.get()?,
        compensate: {
            let v: i128 = r.get()?;
            if v == -1 {
                None
            } else {
                Some(usize::try_from(v).map_err(|_| bad_state("a bad data"))?)
            }
        },
    };
    Ok((data, spec))
}

fn position_from_py(obj: &Bound<'_, PyAny>) -> PyResult<(usize, Position)> {
    let mut r = Rd::new(obj, 6)?;
    Ok((
        r.get()?,
        Position {
            size: r.num()?,
            price: r.num()?,
            adjbase: r.opt_num()?,
            dt: r.num()?,
            day: r.get()?,
        },
    ))
}

fn order_from_py(obj: &Bound<'_, PyAny>) -> PyResult<Order> {
    let mut r = Rd::new(obj, 23)?;
    Ok(Order {
        oref: r.get()?,
        data: r.get()?,
        isbuy: r.flag()?,
        size: r.num()?,
        remsize: r.num()?,
        exectype: r.get()?,
        price: r.num()?,
        pricelimit: r.num()?,
        pclose: r.num()?,
        created_dt: r.num()?,
        valid: r.num()?,
        dteos: r.num()?,
        trailamount: r.num()?,
        trailpercent: r.num()?,
        limitoffset: r.num()?,
        parent: r.opt_ref()?,
        transmit: r.flag()?,
        coc: r.flag()?,
        state: order_state_from(r.get()?)?,
        active: r.flag()?,
        triggered: r.flag()?,
        pannotated: r.opt_num()?,
        completed: r.flag()?,
    })
}

fn spec_from_py(obj: &Bound<'_, PyAny>) -> PyResult<OrderSpec> {
    let mut r = Rd::new(obj, 20)?;
    Ok(OrderSpec {
        oref: r.get()?,
        data: r.get()?,
        isbuy: r.flag()?,
        size: r.num()?,
        exectype: r.get()?,
        price: r.num()?,
        pricelimit: r.num()?,
        pclose: r.num()?,
        created_dt: r.num()?,
        valid: r.num()?,
        dteos: r.num()?,
        trailamount: r.num()?,
        trailpercent: r.num()?,
        limitoffset: r.num()?,
        parent: r.opt_ref()?,
        oco: r.opt_ref()?,
        transmit: r.flag()?,
        check: r.flag()?,
        coc: r.flag()?,
        notified: r.flag()?,
    })
}

fn snapshot_from_py(state: &Bound<'_, PyAny>) -> PyResult<Snapshot> {
    let mut r = Rd::new(state, 16)?;
    if r.get::<u32>()? != SNAPSHOT_VERSION {
        return Err(bad_state("unknown snapshot version"));
    }
    let config = config_from_py(&r.next()?)?;
    let figures_tuple = tuple_of(&r.next()?, Some(9))?;
    let mut figures = [Num::int(0); 9];
    for (k, slot) in figures.iter_mut().enumerate() {
        *slot = num_from_py(&figures_tuple.get_item(k)?)?;
    }
    let comm = list_of(&r.next()?, comm_from_py)?;
    let positions = list_of(&r.next()?, position_from_py)?;
    let orders = list_of(&r.next()?, order_from_py)?;
    let submitted = list_of(&r.next()?, |i| i.extract::<usize>())?;
    let pending = list_of(&r.next()?, |i| {
        let v: i128 = i.extract()?;
        if v == -1 {
            Ok(None)
        } else {
            usize::try_from(v)
                .map(Some)
                .map_err(|_| bad_state("a bad order index"))
        }
    })?;
    let toactivate = list_of(&r.next()?, |i| i.extract::<usize>())?;
    let pchildren = list_of(&r.next()?, |item| {
        let mut g = Rd::new(item, 2)?;
        let pref: u64 = g.get()?;
        let members = list_of(&g.next()?, |i| i.extract::<usize>())?;
        Ok((pref, members))
    })?;
    let ocos = list_of(&r.next()?, |item| {
        let mut g = Rd::new(item, 2)?;
        Ok((g.get::<u64>()?, g.get::<u64>()?))
    })?;
    let ocol = list_of(&r.next()?, |item| {
        let mut g = Rd::new(item, 2)?;
        let leader: u64 = g.get()?;
        let members = list_of(&g.next()?, |i| i.extract::<u64>())?;
        Ok((leader, members))
    })?;
    let d_credit = list_of(&r.next()?, |item| {
        let mut g = Rd::new(item, 2)?;
        Ok((g.get::<usize>()?, g.num()?))
    })?;
    let cash_addition = list_of(&r.next()?, num_from_py)?;
    let history = list_of(&r.next()?, spec_from_py)?;
    let fundhist = {
        let row = r.next()?;
        if row.is_none() {
            None
        } else {
            let mut g = Rd::new(&row, 2)?;
            Some((g.num()?, g.num()?))
        }
    };
    Ok(Snapshot {
        config,
        figures,
        comm,
        positions,
        orders,
        submitted,
        pending,
        toactivate,
        pchildren,
        ocos,
        ocol,
        d_credit,
        cash_addition,
        history,
        fundhist,
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

/// BackBroker's matching and accounting, in Rust (the twin of `PyCore`).
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

    /// Apply events now, without a bar (what `step` does first); returns the records.
    fn apply<'py>(
        &mut self,
        py: Python<'py>,
        events: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let events = items(events)?;
        let raw: Vec<RawItem> = events.iter().map(|ev| raw_item(ev, false)).collect();
        let records = self.core.apply_raw(&raw).map_err(|err| {
            let src = Sources {
                events: &events,
                ..Sources::default()
            };
            to_py_err(py, err, &src)
        })?;
        records_to_py(py, &records)
    }

    /// Apply the events, then process one bar per registered data: `(records, state)`.
    /// `filler(ref, price, ago)` is a user's volume filler, `comm(data, method, *args)` calls a
    /// user's overridden CommInfo method.
    #[pyo3(signature = (events, bars, filler=None, comm=None))]
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        events: &Bound<'py, PyAny>,
        bars: &Bound<'py, PyAny>,
        filler: Option<Bound<'py, PyAny>>,
        comm: Option<Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyTuple>)> {
        let events = items(events)?;
        let bars = items(bars)?;
        let raw_events: Vec<RawItem> = events.iter().map(|ev| raw_item(ev, false)).collect();
        let raw_bars: Vec<RawItem> = bars.iter().map(|bar| raw_item(bar, true)).collect();
        let mut hooks = PyHooks::new(filler, comm);
        let outcome = self.core.step_raw(&raw_events, &raw_bars, &mut hooks);
        let records = outcome.map_err(|err| {
            let src = Sources {
                events: &events,
                bars: &bars,
                filler_result: hooks.filler_result.take(),
                hook_error: Cell::new(hooks.error.take()),
                ..Sources::default()
            };
            to_py_err(py, err, &src)
        })?;
        Ok((
            records_to_py(py, &records)?,
            state_to_py(py, &self.core.state())?,
        ))
    }

    /// Run a packed batch of steps (`bt_cracktrader.core.packed`) in one call: the packed
    /// records and state of every step, as `step` gives them one call at a time. All or
    /// nothing: on an error the core is as before the call, and an input error names the step.
    #[pyo3(signature = (batch, filler=None, comm=None))]
    fn step_packed<'py>(
        &mut self,
        py: Python<'py>,
        batch: &Bound<'py, PyAny>,
        filler: Option<Bound<'py, PyAny>>,
        comm: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let Ok(bytes) = batch.cast::<PyBytes>() else {
            return Err(PyTypeError::new_err(format!(
                "a packed batch must be bytes, not {}",
                batch.get_type().name()?
            )));
        };
        let mut hooks = PyHooks::new(filler, comm);
        match self.core.step_packed(bytes.as_bytes(), &mut hooks) {
            Ok(out) => Ok(PyBytes::new(py, &out)),
            Err(PackedError { step, error }) => {
                let error = match (step, error) {
                    (Some(k), CoreError::Input(mut input)) => {
                        input.what = format!("{} of step {k}", input.what);
                        CoreError::Input(input)
                    }
                    (_, error) => error,
                };
                let src = Sources {
                    filler_result: hooks.filler_result.take(),
                    hook_error: Cell::new(hooks.error.take()),
                    ..Sources::default()
                };
                Err(to_py_err(py, error, &src))
            }
        }
    }

    /// `broker.getvalue(datas=...)`: `(value, state)`.
    #[pyo3(signature = (datas, closes, lever, comm=None))]
    fn value_of<'py>(
        &mut self,
        py: Python<'py>,
        datas: &Bound<'py, PyAny>,
        closes: &Bound<'py, PyAny>,
        lever: &Bound<'py, PyAny>,
        comm: Option<Bound<'py, PyAny>>,
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
                    .map_or(Value::Other { eq_int: None }, |v| Value::Int(i128::from(v))),
                value => value,
            })
            .collect();
        let raw_closes: Vec<Value> = closes.iter().map(classify).collect();
        let mut hooks = PyHooks::new(None, comm);
        let value = self
            .core
            .value_of_raw(&raw_datas, &raw_closes, lever, &mut hooks)
            .map_err(|err| {
                let src = Sources {
                    datas: &datas,
                    closes: &closes,
                    hook_error: Cell::new(hooks.error.take()),
                    ..Sources::default()
                };
                to_py_err(py, err, &src)
            })?;
        Ok((num_to_py(py, value)?, state_to_py(py, &self.core.state())?))
    }

    /// Pickling: `RustCore()` restored with `__setstate__` (callables are never part of it).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let snapshot = snapshot_to_py(py, &slf.borrow().core.snapshot())?;
        (slf.get_type(), PyTuple::empty(py), snapshot).into_pyobject(py)
    }

    fn __setstate__(&mut self, py: Python<'_>, state: &Bound<'_, PyAny>) -> PyResult<()> {
        self.core = core_from_py(py, state)?;
        Ok(())
    }

    /// The whole state as a versioned tuple of plain data, laid out as
    /// `bt_cracktrader.core.snapshot.SNAPSHOT_FIELDS` (what `PyCore.snapshot()` writes for the
    /// same state).
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        snapshot_to_py(py, &self.core.snapshot())
    }

    /// A core in the state `snapshot` (of either backend) describes; a bad snapshot or one of
    /// another version raises `CoreInputError("snapshot", ...)`, as `PyCore.restore` does.
    #[classmethod]
    fn restore(cls: &Bound<'_, PyType>, snapshot: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(RustCore {
            core: core_from_py(cls.py(), snapshot)?,
        })
    }
}

/// A core from a snapshot (a tuple, or lists after JSON), checked first by the one checker
/// both cores share (`bt_cracktrader.core.snapshot.check_snapshot`), so that both refuse a bad
/// snapshot with the same `CoreInputError`.
fn core_from_py(py: Python<'_>, state: &Bound<'_, PyAny>) -> PyResult<Core> {
    let checked = py
        .import("bt_cracktrader.core.snapshot")?
        .getattr("check_snapshot")?
        .call1((state,))?;
    let snapshot = snapshot_from_py(&checked)?;
    Core::from_snapshot(snapshot).map_err(|err| to_py_err(py, err, &Sources::default()))
}

/// The `bt_cracktrader._rust` extension module.
#[pymodule]
fn _rust(m: &Bound<'_, PyModule>) -> PyResult<()> {
    set_allocator_options();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(core_version, m)?)?;
    m.add_class::<RustCore>()?;
    m.add_class::<ledger::RustLedger>()?;
    Ok(())
}
