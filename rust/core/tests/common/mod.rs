//! Helpers shared by the integration tests: outputs as typed scalars compared by type and bits,
//! raw input built like Python tuples, and the test callables.

#![allow(dead_code, reason = "each test crate uses a part of the helpers")]

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use cracktrader_core::{
    CoreError, HookArg, HookFailed, Hooks, Num, RawItem, Record, State, Value, KIND_BOOL,
    KIND_FLOAT, KIND_INT, KIND_NONE, PACKED_VERSION, STEPS_MAGIC,
};
use serde_json::Value as Json;

/// One scalar of a record, a state or a callback log, compared by type and bits.
#[derive(Clone)]
pub enum Item {
    Int(i128),
    Float(f64),
    Bool(bool),
    Str(&'static str),
    None,
}

impl PartialEq for Item {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Item::Int(a), Item::Int(b)) => a == b,
            (Item::Float(a), Item::Float(b)) => a.to_bits() == b.to_bits(),
            (Item::Bool(a), Item::Bool(b)) => a == b,
            (Item::Str(a), Item::Str(b)) => a == b,
            (Item::None, Item::None) => true,
            _ => false,
        }
    }
}

impl fmt::Debug for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Int(v) => write!(f, "{v}"),
            Item::Float(v) => write!(f, "{v:?}f"),
            Item::Bool(v) => write!(f, "{v}"),
            Item::Str(v) => write!(f, "{v:?}"),
            Item::None => f.write_str("None"),
        }
    }
}

impl From<Num> for Item {
    fn from(value: Num) -> Self {
        match value {
            Num::Int(v) => Item::Int(v.get()),
            Num::Float(v) => Item::Float(v),
        }
    }
}

/// A record as the tuple the contract lays out.
pub fn record_items(record: &Record) -> Vec<Item> {
    let tag = Item::Int(record.tag());
    let oref = |oref: &u64| Item::Int(i128::from(*oref));
    match record {
        Record::Accepted { oref: r }
        | Record::Margin { oref: r }
        | Record::Submitted { oref: r }
        | Record::Canceled { oref: r }
        | Record::Expired { oref: r }
        | Record::Rejected { oref: r }
        | Record::Activated { oref: r }
        | Record::Triggered { oref: r } => vec![tag, oref(r)],
        Record::Trail {
            oref: r,
            price,
            pricelimit,
        } => vec![tag, oref(r), Item::from(*price), Item::from(*pricelimit)],
        Record::Position { data } => vec![tag, Item::Int(*data as i128)],
        Record::Executed(x) => {
            let mut items = vec![tag, oref(&x.oref)];
            items.extend(x.nums().map(Item::from));
            items
        }
    }
}

/// All records of a call.
pub fn records(records: Vec<Record>) -> Vec<Vec<Item>> {
    records.into_iter().map(|r| record_items(&r)).collect()
}

/// The state as the tuple of `contract.STATE_FIELDS`.
pub fn state_items(state: &State) -> Vec<Item> {
    let mut items: Vec<Item> = state.nums().map(Item::from).to_vec();
    items.push(Item::Bool(state.idle));
    items
}

/// A Python tuple of these items.
pub fn raw(values: &[Value]) -> RawItem {
    RawItem::from_values(values)
}

/// A Python `int`.
pub fn vi(v: i128) -> Value {
    Value::Int(v)
}

/// A Python `float`.
pub fn vf(v: f64) -> Value {
    Value::Float(v)
}

/// A Python `bool`.
pub fn vb(v: bool) -> Value {
    Value::Bool(v)
}

/// The outcome of a call as the Python core would report it.
pub fn error_name(err: &CoreError) -> String {
    match err {
        CoreError::Input(e) => format!("CoreInputError: {e}"),
        CoreError::ZeroDivision(_) => "ZeroDivisionError".to_owned(),
        CoreError::KeyError(_) => "KeyError".to_owned(),
        CoreError::IndexError(_) => "IndexError".to_owned(),
        CoreError::IntToFloat(_) | CoreError::IntOverflow => "OverflowError".to_owned(),
        // the exception the Python twin of the test callables raises
        CoreError::Hook => "Boom".to_owned(),
        other => format!("{other:?}"),
    }
}

/// The call succeeded with these outputs.
#[track_caller]
#[allow(
    clippy::needless_pass_by_value,
    reason = "the generated tests pass a vec! literal"
)]
pub fn expect(got: Result<Vec<Vec<Item>>, CoreError>, expected: Vec<Vec<Item>>) {
    match got {
        Ok(got) => assert_eq!(got, expected),
        Err(err) => panic!("expected {expected:?}, got {}", error_name(&err)),
    }
}

/// The call failed with this error (`CoreInputError: <message>` or the exception class).
#[track_caller]
pub fn expect_error(got: Result<Vec<Vec<Item>>, CoreError>, expected: &str) {
    match got {
        Ok(got) => panic!("expected {expected}, got {got:?}"),
        Err(err) => assert_eq!(error_name(&err), expected),
    }
}

fn num(arg: HookArg) -> Num {
    match arg {
        HookArg::Num(v) => v,
        HookArg::Bool(v) => Num::from(v),
        HookArg::None => Num::int(0),
    }
}

fn arg_item(arg: HookArg) -> Item {
    match arg {
        HookArg::Num(v) => Item::from(v),
        HookArg::Bool(v) => Item::Bool(v),
        HookArg::None => Item::None,
    }
}

fn value(result: Result<Num, CoreError>) -> Result<Value, HookFailed> {
    result.map(Value::from).map_err(|_| HookFailed)
}

/// The test callables: the Rust twin of `Hooks` in the generator of `core.rs` (same answers,
/// same log).
#[derive(Default)]
pub struct TestHooks {
    pub filler_on: bool,
    pub comm_on: bool,
    /// Fail at this call of a core call (counting from 1), as the Python twin raises.
    pub fail_at: Option<usize>,
    log: Vec<Vec<Item>>,
}

impl TestHooks {
    /// The calls since the last `take_log`.
    pub fn take_log(&mut self) -> Vec<Vec<Item>> {
        std::mem::take(&mut self.log)
    }
}

impl Hooks for TestHooks {
    fn has_filler(&self) -> bool {
        self.filler_on
    }

    fn has_comm(&self) -> bool {
        self.comm_on
    }

    fn filler(&mut self, oref: u64, price: Num, ago: i32) -> Result<Value, HookFailed> {
        let r = i128::from(oref);
        self.log.push(vec![
            Item::Str("filler"),
            Item::Int(r),
            Item::from(price),
            Item::Int(i128::from(ago)),
        ]);
        if self.fail_at == Some(self.log.len()) {
            return Err(HookFailed);
        }
        // `[ref % 3 + 1, 1.5, 0][n % 3]`
        Ok(match self.log.len() % 3 {
            0 => Value::Int(r % 3 + 1),
            1 => Value::Float(1.5),
            _ => Value::Int(0),
        })
    }

    fn comm(
        &mut self,
        data: usize,
        method: &'static str,
        args: &[HookArg],
    ) -> Result<Value, HookFailed> {
        let mut entry = vec![
            Item::Str("comm"),
            Item::Int(data as i128),
            Item::Str(method),
        ];
        entry.extend(args.iter().copied().map(arg_item));
        self.log.push(entry);
        if self.fail_at == Some(self.log.len()) {
            return Err(HookFailed);
        }
        let a = |k: usize| num(args[k]);
        let abs0 = || a(0).absolute();
        value(match method {
            "_getcommission" | "getcommission" => abs0().and_then(|v| v.times(Num::Float(0.25))),
            "confirmexec" => return Ok(Value::None),
            "get_margin" => a(0).times(Num::Float(0.5)),
            "get_leverage" => Ok(Num::int(2)),
            "getoperationcost" | "getvaluesize" => abs0().and_then(|v| v.times(a(1))),
            "getvalue" => a(0).times(a(2)),
            "profitandloss" => a(2).minus(a(1)).and_then(|d| a(0).times(d)),
            "cashadjust" => match args[1] {
                HookArg::None => Ok(Num::Float(0.0)),
                _ => a(2).minus(a(1)).and_then(|d| a(0).times(d)),
            },
            "get_credit_interest" => abs0().and_then(|v| v.times(Num::Float(0.01))),
            "_get_credit_interest" => a(2)
                .times(Num::Float(0.001))
                .and_then(|v| v.times(abs0()?))
                .and_then(|v| v.times(a(1))),
            _ => return Err(HookFailed),
        })
    }
}

// -- recordings (fixtures/core/*.json) ------------------------------------------------------

/// A scalar of a recorded output (records, values, states).
pub fn json_item(json: &Json) -> Item {
    match json {
        Json::Bool(v) => Item::Bool(*v),
        Json::Number(n) => {
            if let Some(v) = n.as_i64() {
                Item::Int(i128::from(v))
            } else if let Some(v) = n.as_u64() {
                Item::Int(i128::from(v))
            } else {
                Item::Float(n.as_f64().expect("a JSON number"))
            }
        }
        other => panic!("not a scalar: {other}"),
    }
}

pub fn json_items(json: &Json) -> Vec<Item> {
    json.as_array()
        .expect("an array")
        .iter()
        .map(json_item)
        .collect()
}

/// A JSON value as the core's dynamic input (JSON arrays are tuples).
pub fn json_value(json: &Json) -> Value {
    match json {
        Json::Null => Value::None,
        Json::Bool(v) => Value::Bool(*v),
        Json::Number(_) => match json_item(json) {
            Item::Int(v) => Value::Int(v),
            Item::Float(v) => Value::Float(v),
            _ => Value::None,
        },
        Json::String(_) | Json::Array(_) | Json::Object(_) => Value::Other { eq_int: None },
    }
}

/// A JSON list as the core's dynamic input values (the `datas`/`closes` of a value request).
pub fn json_values(json: &Json) -> Vec<Value> {
    json.as_array()
        .expect("a JSON list")
        .iter()
        .map(json_value)
        .collect()
}

/// A reader of a packed results buffer (`bt_cracktrader/core/packed.py`'s layout).
pub struct Cursor<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

impl Cursor<'_> {
    pub fn take(&mut self, n: usize) -> &[u8] {
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        out
    }

    pub fn u32(&mut self) -> usize {
        u32::from_le_bytes(self.take(4).try_into().unwrap()) as usize
    }

    /// One item: its values as typed scalars.
    pub fn item(&mut self) -> Vec<Item> {
        (0..self.u32())
            .map(|_| {
                let v = self.take(9);
                let payload: [u8; 8] = v[1..9].try_into().unwrap();
                match v[0] {
                    KIND_NONE => Item::None,
                    KIND_BOOL => Item::Bool(payload[0] == 1),
                    KIND_INT => Item::Int(i128::from(i64::from_le_bytes(payload))),
                    KIND_FLOAT => Item::Float(f64::from_le_bytes(payload)),
                    kind => panic!("kind {kind}"),
                }
            })
            .collect()
    }
}

/// The golden core fixtures (`fixtures/core/*.json`), sorted.
pub fn core_fixture_paths() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/core");
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no fixture in {}", dir.display());
    paths
}

/// One step of a test batch: its events and its bars, as values.
pub type Step = (Vec<Vec<Value>>, Vec<Vec<Value>>);

/// One item of a packed batch (`bt_cracktrader/core/packed.py`'s layout).
pub fn push_item(out: &mut Vec<u8>, values: &[Value]) {
    out.extend_from_slice(&u32::try_from(values.len()).unwrap().to_le_bytes());
    for value in values {
        let (kind, payload) = match *value {
            Value::None => (KIND_NONE, [0; 8]),
            Value::Bool(v) => (KIND_BOOL, i64::from(v).to_le_bytes()),
            Value::Int(v) => (KIND_INT, i64::try_from(v).unwrap().to_le_bytes()),
            Value::Float(v) => (KIND_FLOAT, v.to_le_bytes()),
            other => panic!("cannot pack {other:?}"),
        };
        out.push(kind);
        out.extend_from_slice(&payload);
    }
}

/// A packed batch of these steps.
pub fn pack(steps: &[Step]) -> Vec<u8> {
    let mut out = STEPS_MAGIC.to_vec();
    out.extend_from_slice(&PACKED_VERSION.to_le_bytes());
    out.extend_from_slice(&u32::try_from(steps.len()).unwrap().to_le_bytes());
    for (events, bars) in steps {
        out.extend_from_slice(&u32::try_from(events.len()).unwrap().to_le_bytes());
        out.extend_from_slice(&u32::try_from(bars.len()).unwrap().to_le_bytes());
        for item in events.iter().chain(bars) {
            push_item(&mut out, item);
        }
    }
    out
}
