//! Validation of the ledger's input: events, constructor arguments and snapshots, with the
//! checks of `ledger.py` in the same order and the same `(what, field, value, reason)`.

use std::fmt;

use super::matrix::STATES;
use super::value::LValue;
use crate::error::CoreError;
use crate::num::Num;

/// One step from the root of a call's input to a value (the root is the `events` of `apply`,
/// the `(cash, fee_rate, strict)` arguments of the constructor, the snapshot of `restore`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    /// `obj[k]` of a list (or tuple).
    Index(usize),
    /// `obj[key]` of a dict with a `str` key.
    Key(String),
    /// The value of the `k`-th item of a dict (its key may be of any type).
    KeyAt(usize),
}

/// Refused input: Python's `CoreInputError(what, field, value, reason)`.
#[derive(Clone, Debug, PartialEq)]
pub struct LedgerInputError {
    /// The item: an event type, `"event"`, `"events"`, `"ledger"`, `"snapshot"`.
    pub what: String,
    /// The field. When `field_from_key` is set it is the key of the last step of `path`
    /// (`str(key)` in Python; here the key's text, or its `repr` for a non-`str` key).
    pub field: String,
    /// The offending value, as far as this crate knows it (the bindings report the original
    /// object at `path` instead).
    pub value: LValue,
    /// Why it is refused.
    pub reason: String,
    /// Where the value is in the call's input; `None` when the value is `None` (a missing field).
    pub path: Option<Vec<PathStep>>,
    /// The field is `str(key)` of the dict item at the last step of `path` (an unknown field).
    pub field_from_key: bool,
}

impl LedgerInputError {
    /// The position of the offending event in the batch, for an error of `apply` about one
    /// event.
    #[must_use]
    pub fn event_index(&self) -> Option<usize> {
        match self.path.as_deref() {
            Some([PathStep::Index(i), ..]) if self.what != "events" => Some(*i),
            _ => None,
        }
    }
}

/// An error of the ledger.
#[derive(Clone, Debug, PartialEq)]
pub enum LedgerError {
    /// Refused input (Python: `CoreInputError`); the ledger is left untouched.
    Input(Box<LedgerInputError>),
    /// Strict mode found a broken invariant (Python: `LedgerInvariantError`, same message).
    Invariant(String),
    /// An `int` result beyond 128 bits (Python would go on with a big int: `OverflowError`).
    Overflow,
    /// A division by zero (Python: `ZeroDivisionError`); unreachable for validated input.
    ZeroDivision,
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerError::Input(e) => write!(
                f,
                "invalid {}: {} = {} ({})",
                e.what,
                e.field,
                e.value.py_repr(),
                e.reason
            ),
            LedgerError::Invariant(msg) => f.write_str(msg),
            LedgerError::Overflow => f.write_str("integer result beyond 128 bits"),
            LedgerError::ZeroDivision => f.write_str("division by zero"),
        }
    }
}

impl std::error::Error for LedgerError {}

impl From<CoreError> for LedgerError {
    fn from(err: CoreError) -> Self {
        match err {
            CoreError::ZeroDivision(_) => LedgerError::ZeroDivision,
            _ => LedgerError::Overflow,
        }
    }
}

/// `2**63`: ints of this magnitude or more are refused.
pub const INT_LIMIT: i128 = 1 << 63;

/// Field kinds (`_STR`, ... of `ledger.py`), plus the type-only kinds of snapshot items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Str,
    OptStr,
    Int,
    Side,
    Pos,
    OptPos,
    NonNeg,
    OptNonNeg,
    OptNum,
    Bool,
    ExecType,
    Status,
    Num,
    /// Snapshot items: any `int` (not a `bool`).
    AnyInt,
    /// Snapshot items: any `int` or `float` (not a `bool`).
    AnyNum,
    /// Snapshot items: `None` or any number.
    OptAnyNum,
    /// Snapshot items: an order status (`STATES`).
    State,
}

/// Event types and their fields after `type` and `seq`, in validation order.
pub const EVENT_FIELDS: [(&str, &[(&str, Kind)]); 8] = [
    (
        "submit",
        &[
            ("order", Kind::Str),
            ("data", Kind::Int),
            ("side", Kind::Side),
            ("size", Kind::Pos),
            ("exectype", Kind::ExecType),
            ("price", Kind::OptPos),
            ("sim", Kind::Bool),
        ],
    ),
    (
        "accept",
        &[("order", Kind::Str), ("order_id", Kind::OptStr)],
    ),
    ("reject", &[("order", Kind::Str), ("margin", Kind::Bool)]),
    ("cancel_request", &[("order", Kind::Str)]),
    ("cancel_ack", &[("order", Kind::Str)]),
    ("expire", &[("order", Kind::Str)]),
    (
        "report",
        &[
            ("order", Kind::OptStr),
            ("order_id", Kind::OptStr),
            ("status", Kind::Status),
            ("filled", Kind::NonNeg),
            ("average", Kind::OptPos),
            ("cost", Kind::OptNonNeg),
            ("last_price", Kind::OptPos),
            ("last_size", Kind::OptPos),
            ("fee", Kind::OptNum),
            ("ts", Kind::OptNum),
            ("key", Kind::Str),
        ],
    ),
    (
        "bar",
        &[
            ("data", Kind::Int),
            ("ts", Kind::Num),
            ("open", Kind::Pos),
            ("high", Kind::Pos),
            ("low", Kind::Pos),
            ("close", Kind::Pos),
        ],
    ),
];

/// Statuses of a report.
pub const REPORT_STATUSES: [&str; 5] = ["open", "closed", "canceled", "expired", "rejected"];

/// Fields of the items of a snapshot's lists, in validation order.
pub const SNAPSHOT_ITEMS: [(&str, &[(&str, Kind)]); 3] = [
    (
        "orders",
        &[
            ("order", Kind::Str),
            ("order_id", Kind::OptStr),
            ("data", Kind::AnyInt),
            ("side", Kind::Side),
            ("size", Kind::AnyNum),
            ("exectype", Kind::ExecType),
            ("price", Kind::OptAnyNum),
            ("sim", Kind::Bool),
            ("status", Kind::State),
            ("filled", Kind::AnyNum),
            ("cost", Kind::AnyNum),
            ("fee", Kind::AnyNum),
            ("seq", Kind::AnyInt),
            ("cancel_requested", Kind::Bool),
        ],
    ),
    (
        "positions",
        &[
            ("data", Kind::AnyInt),
            ("size", Kind::AnyNum),
            ("price", Kind::AnyNum),
        ],
    ),
    ("marks", &[("data", Kind::AnyInt), ("price", Kind::AnyNum)]),
];

/// The keys of a snapshot, in validation order.
pub const SNAPSHOT_KEYS: [&str; 8] = [
    "version",
    "cash",
    "fee_rate",
    "strict",
    "orders",
    "positions",
    "marks",
    "keys",
];

/// The fields of an event type.
#[must_use]
pub fn event_fields(kind: &str) -> Option<&'static [(&'static str, Kind)]> {
    EVENT_FIELDS
        .iter()
        .find(|(name, _)| *name == kind)
        .map(|(_, fields)| *fields)
}

fn one_of(names: &[&str]) -> String {
    format!("expected one of {}", names.join(", "))
}

/// `_check_number`: the reason a value is refused as a number.
pub fn check_number(value: &LValue) -> Result<(), String> {
    match *value {
        LValue::Int(v) if !(-INT_LIMIT < v && v < INT_LIMIT) => Err("out of range".to_owned()),
        LValue::Int(_) => Ok(()),
        LValue::Float(v) if !v.is_finite() => Err("not finite".to_owned()),
        LValue::Float(_) => Ok(()),
        _ => Err("not a number".to_owned()),
    }
}

/// `_check_field`: the reason a value of kind `kind` is refused.
pub fn check_field(kind: Kind, value: &LValue) -> Result<(), String> {
    let optional = matches!(
        kind,
        Kind::OptStr | Kind::OptPos | Kind::OptNonNeg | Kind::OptNum | Kind::OptAnyNum
    );
    if optional && value.is_none() {
        return Ok(());
    }
    let is_in = |names: &[&str]| value.as_str().is_some_and(|s| names.contains(&s));
    match kind {
        Kind::Str | Kind::OptStr => match value {
            LValue::Str(s) if s.is_empty() => Err("empty".to_owned()),
            LValue::Str(_) => Ok(()),
            _ => Err("not a str".to_owned()),
        },
        Kind::Int => match *value {
            LValue::Int(v) if !(0..INT_LIMIT).contains(&v) => Err("out of range".to_owned()),
            LValue::Int(_) => Ok(()),
            _ => Err("not an int".to_owned()),
        },
        Kind::AnyInt => match *value {
            LValue::Int(v) if !(-INT_LIMIT < v && v < INT_LIMIT) => Err("out of range".to_owned()),
            LValue::Int(_) => Ok(()),
            _ => Err("not an int".to_owned()),
        },
        Kind::AnyNum | Kind::OptAnyNum => match *value {
            LValue::Int(v) if !(-INT_LIMIT < v && v < INT_LIMIT) => Err("out of range".to_owned()),
            LValue::Int(_) | LValue::Float(_) => Ok(()),
            _ => Err("not a number".to_owned()),
        },
        Kind::Bool => match value {
            LValue::Bool(_) => Ok(()),
            _ => Err("not a bool".to_owned()),
        },
        Kind::Side if !is_in(&["buy", "sell"]) => Err("expected 'buy' or 'sell'".to_owned()),
        Kind::ExecType if !is_in(&["market", "limit"]) => {
            Err("expected 'market' or 'limit'".to_owned())
        }
        Kind::Status if !is_in(&REPORT_STATUSES) => Err(one_of(&REPORT_STATUSES)),
        Kind::State if !is_in(&STATES) => Err(one_of(&STATES)),
        Kind::Side | Kind::ExecType | Kind::Status | Kind::State => Ok(()),
        Kind::Pos | Kind::OptPos | Kind::NonNeg | Kind::OptNonNeg | Kind::OptNum | Kind::Num => {
            check_number(value)?;
            let v = value.num().unwrap_or(Num::int(0));
            if matches!(kind, Kind::Pos | Kind::OptPos) && !v.gt(Num::int(0)) {
                return Err("not > 0".to_owned());
            }
            if matches!(kind, Kind::NonNeg | Kind::OptNonNeg) && !v.ge(Num::int(0)) {
                return Err("negative".to_owned());
            }
            Ok(())
        }
    }
}

/// An input error.
pub fn input_error(
    what: &str,
    field: &str,
    value: LValue,
    reason: impl Into<String>,
    path: Option<Vec<PathStep>>,
) -> LedgerError {
    LedgerError::Input(Box::new(LedgerInputError {
        what: what.to_owned(),
        field: field.to_owned(),
        value,
        reason: reason.into(),
        path,
        field_from_key: false,
    }))
}

/// `validate_event(events[index])`.
pub fn validate_event(ev: &LValue, index: usize) -> Result<(), LedgerError> {
    let at = |steps: Vec<PathStep>| {
        let mut path = vec![PathStep::Index(index)];
        path.extend(steps);
        Some(path)
    };
    let field_at = |field: &str| at(vec![PathStep::Key(field.to_owned())]);
    let LValue::Dict(items) = ev else {
        return Err(input_error(
            "event",
            "event",
            ev.clone(),
            "not a dict",
            at(vec![]),
        ));
    };
    let Some(kind_value) = ev.get("type") else {
        return Err(input_error("event", "type", LValue::None, "missing", None));
    };
    let Some((kind, fields)) = kind_value
        .as_str()
        .and_then(|kind| event_fields(kind).map(|fields| (kind, fields)))
    else {
        let names: Vec<&str> = EVENT_FIELDS.iter().map(|(name, _)| *name).collect();
        return Err(input_error(
            "event",
            "type",
            kind_value.clone(),
            one_of(&names),
            field_at("type"),
        ));
    };
    let check = |field: &str, kind_of: Kind| -> Result<(), LedgerError> {
        let Some(value) = ev.get(field) else {
            return Err(input_error(kind, field, LValue::None, "missing", None));
        };
        check_field(kind_of, value)
            .map_err(|reason| input_error(kind, field, value.clone(), reason, field_at(field)))
    };
    check("seq", Kind::Int)?;
    for &(field, kind_of) in fields {
        check(field, kind_of)?;
    }
    if items.len() != fields.len() + 2 {
        for (k, (key, value)) in items.iter().enumerate() {
            let known = key.as_str().is_some_and(|key| {
                key == "type" || key == "seq" || fields.iter().any(|(f, _)| *f == key)
            });
            if !known {
                let mut err = input_error(
                    kind,
                    &key.py_str(),
                    value.clone(),
                    "unknown field",
                    at(vec![PathStep::KeyAt(k)]),
                );
                if let LedgerError::Input(e) = &mut err {
                    e.field_from_key = true;
                }
                return Err(err);
            }
        }
    }
    let is_none = |field: &str| ev.get(field).is_none_or(LValue::is_none);
    if kind == "submit"
        && ev.get("exectype").and_then(LValue::as_str) == Some("limit")
        && is_none("price")
    {
        return Err(input_error(
            kind,
            "price",
            LValue::None,
            "a limit order needs a price",
            None,
        ));
    }
    if kind == "report" {
        if is_none("order") && is_none("order_id") {
            return Err(input_error(
                kind,
                "order",
                LValue::None,
                "a report needs order or order_id",
                None,
            ));
        }
        let filled = ev.get("filled").and_then(LValue::num);
        if filled.is_some_and(|f| f.gt(Num::int(0))) && is_none("average") && is_none("cost") {
            return Err(input_error(
                kind,
                "average",
                LValue::None,
                "a report with fills needs average or cost",
                None,
            ));
        }
    }
    Ok(())
}

/// `_check_ledger_args`: the constructor's checks (`paths` locate `cash`, `fee_rate`, `strict`).
pub fn check_args(
    cash: &LValue,
    fee_rate: &LValue,
    strict: &LValue,
    paths: [Vec<PathStep>; 3],
) -> Result<(Num, Num, bool), LedgerError> {
    let [cash_at, fee_at, strict_at] = paths;
    check_number(cash)
        .map_err(|reason| input_error("ledger", "cash", cash.clone(), reason, Some(cash_at)))?;
    check_number(fee_rate).map_err(|reason| {
        input_error(
            "ledger",
            "fee_rate",
            fee_rate.clone(),
            reason,
            Some(fee_at.clone()),
        )
    })?;
    let fee = fee_rate.num().unwrap_or(Num::Float(0.0));
    if fee.lt(Num::int(0)) {
        return Err(input_error(
            "ledger",
            "fee_rate",
            fee_rate.clone(),
            "negative",
            Some(fee_at),
        ));
    }
    let LValue::Bool(strict) = *strict else {
        return Err(input_error(
            "ledger",
            "strict",
            strict.clone(),
            "not a bool",
            Some(strict_at),
        ));
    };
    let cash = Num::Float(cash.num().unwrap_or(Num::Float(0.0)).to_f64());
    Ok((cash, Num::Float(fee.to_f64()), strict))
}

/// `_check_snapshot`: the snapshot's layout and its items' types.
pub fn check_snapshot(snapshot: &LValue) -> Result<(), LedgerError> {
    let key_at = |key: &str| Some(vec![PathStep::Key(key.to_owned())]);
    if !matches!(snapshot, LValue::Dict(_)) {
        return Err(input_error(
            "snapshot",
            "snapshot",
            snapshot.clone(),
            "not a dict",
            Some(vec![]),
        ));
    }
    let version = snapshot.get("version");
    if !matches!(version, Some(LValue::Int(1))) {
        return Err(input_error(
            "snapshot",
            "version",
            version.cloned().unwrap_or(LValue::None),
            "unknown snapshot version (this core reads 1)",
            version.and(key_at("version")),
        ));
    }
    for key in SNAPSHOT_KEYS {
        if snapshot.get(key).is_none() {
            return Err(input_error("snapshot", key, LValue::None, "missing", None));
        }
    }
    for key in ["orders", "positions", "marks", "keys"] {
        let value = snapshot.get(key).unwrap_or(&LValue::None);
        if !matches!(value, LValue::List(_)) {
            return Err(input_error(
                "snapshot",
                key,
                value.clone(),
                "not a list",
                key_at(key),
            ));
        }
    }
    for (key, fields) in SNAPSHOT_ITEMS {
        let Some(LValue::List(items)) = snapshot.get(key) else {
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let where_ = format!("{key}[{i}]");
            let item_at = |steps: &[PathStep]| {
                let mut path = vec![PathStep::Key(key.to_owned()), PathStep::Index(i)];
                path.extend_from_slice(steps);
                Some(path)
            };
            if !matches!(item, LValue::Dict(_)) {
                return Err(input_error(
                    "snapshot",
                    &where_,
                    item.clone(),
                    "not a dict",
                    item_at(&[]),
                ));
            }
            for &(field, kind) in fields {
                let name = format!("{where_}.{field}");
                let Some(value) = item.get(field) else {
                    return Err(input_error(
                        "snapshot",
                        &name,
                        LValue::None,
                        "missing",
                        None,
                    ));
                };
                check_field(kind, value).map_err(|reason| {
                    input_error(
                        "snapshot",
                        &name,
                        value.clone(),
                        reason,
                        item_at(&[PathStep::Key(field.to_owned())]),
                    )
                })?;
            }
            if key == "orders"
                && item.get("exectype").and_then(LValue::as_str) == Some("limit")
                && item.get("price").is_some_and(LValue::is_none)
            {
                return Err(input_error(
                    "snapshot",
                    &format!("{where_}.price"),
                    LValue::None,
                    "a limit order needs a price",
                    None,
                ));
            }
        }
    }
    if let Some(LValue::List(keys)) = snapshot.get("keys") {
        for (i, key) in keys.iter().enumerate() {
            if !matches!(key, LValue::Str(_)) {
                return Err(input_error(
                    "snapshot",
                    &format!("keys[{i}]"),
                    key.clone(),
                    "not a str",
                    Some(vec![PathStep::Key("keys".to_owned()), PathStep::Index(i)]),
                ));
            }
        }
    }
    Ok(())
}
