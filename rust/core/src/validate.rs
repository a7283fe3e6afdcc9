//! Validation, a port of the Python core's `_validate`, `_finite`, `_flag` and `_index`: the
//! same checks in the same order with the same messages. Nothing is applied unless everything
//! is valid; the result is the batch as typed events and bars.

use std::collections::HashSet;

use crate::comm::CommSpec;
use crate::core::Core;
use crate::error::{CoreError, ErrValue, Origin};
use crate::event::{
    Bar, Event, BAR_LENGTH, EVENT_LENGTHS, EVENT_NAMES, EV_CANCEL, EV_CONFIG, EV_DATA, EV_POSITION,
    EV_SET_CASH, EV_SUBMIT,
};
use crate::num::{Num, ZERO};
use crate::value::{RawItem, Value};

/// Reason of the one check the Python core does not have: an int it would carry as a big int
/// (an index beyond 64 bits, a number beyond 128 bits).
pub const REASON_TOO_LARGE: &str = "int too large for the Rust core";

/// The `what` of an error, rendered only when an error is raised.
#[derive(Clone, Copy, Debug)]
pub(crate) enum What {
    Broker,
    Tag(usize),
    Event(usize, usize),
    Bar(usize),
    Bars,
    ValueRequest,
}

impl What {
    fn render(self) -> String {
        match self {
            What::Broker => "broker".to_owned(),
            What::Tag(i) => format!("event #{i}"),
            What::Event(tag, i) => format!("{} event #{i}", EVENT_NAMES[tag]),
            What::Bar(i) => format!("bar #{i}"),
            What::Bars => "bars".to_owned(),
            What::ValueRequest => "value request".to_owned(),
        }
    }
}

pub(crate) fn fail(
    what: What,
    field: &str,
    value: ErrValue,
    reason: impl Into<String>,
    origin: Option<Origin>,
) -> CoreError {
    CoreError::input(what.render(), field, value, reason, origin)
}

fn refuse(what: What, field: &str, value: Value, reason: &str, origin: Origin) -> CoreError {
    fail(what, field, value.to_err(), reason, Some(origin))
}

/// `_finite`, keeping apart an int beyond the 128-bit range that passes it.
pub(crate) enum Finite {
    Num(Num),
    Big,
}

/// `_finite(what, field, value)`.
pub(crate) fn finite_or_big(
    what: What,
    field: &str,
    value: Value,
    origin: Origin,
) -> Result<Finite, CoreError> {
    match value {
        Value::Int(v) => Ok(Finite::Num(Num::Int(v))),
        Value::Float(v) if v.is_finite() => Ok(Finite::Num(Num::Float(v))),
        Value::Float(_) => Err(refuse(what, field, value, "not finite", origin)),
        Value::BigInt {
            float_overflow: true,
            ..
        } => Err(CoreError::IntToFloat(origin)),
        Value::BigInt { .. } => Ok(Finite::Big),
        Value::None | Value::Bool(_) | Value::Other { .. } => {
            Err(refuse(what, field, value, "not a number", origin))
        }
    }
}

/// `_finite(what, field, value)`, then the Rust core's range.
pub(crate) fn finite(
    what: What,
    field: &str,
    value: Value,
    origin: Origin,
) -> Result<Num, CoreError> {
    match finite_or_big(what, field, value, origin)? {
        Finite::Num(num) => Ok(num),
        Finite::Big => Err(refuse(what, field, value, REASON_TOO_LARGE, origin)),
    }
}

/// `_flag(what, field, value)`.
pub(crate) fn flag(
    what: What,
    field: &str,
    value: Value,
    origin: Origin,
) -> Result<bool, CoreError> {
    match value {
        Value::Bool(v) => Ok(v),
        _ => Err(refuse(what, field, value, "not a bool", origin)),
    }
}

/// `_index(what, field, value)`: `Some(n)`, or `None` for a (valid) int beyond 128 bits.
fn index(what: What, field: &str, value: Value, origin: Origin) -> Result<Option<u128>, CoreError> {
    match value {
        Value::Int(v) if v >= 0 => Ok(Some(v.unsigned_abs())),
        Value::BigInt {
            negative: false, ..
        } => Ok(None),
        _ => Err(refuse(what, field, value, "not a non-negative int", origin)),
    }
}

fn is_number(value: Value) -> bool {
    matches!(
        value,
        Value::Int(_) | Value::BigInt { .. } | Value::Float(_)
    )
}

/// `bar[1:]` field names.
const BAR_FIELDS: [&str; 7] = ["dt", "open", "high", "low", "close", "volume", "mark"];

/// `PyCore._validate(events, bars)`; `bars` is `None` for `apply`.
pub(crate) fn validate(
    core: &Core,
    events: &[RawItem],
    bars: Option<&[RawItem]>,
) -> Result<(Vec<Event>, Vec<Bar>), CoreError> {
    // `datas`, `refs` and `known` of the Python core: the core's own sets plus this batch.
    let mut new_datas: Vec<usize> = Vec::new();
    let mut new_refs: HashSet<u64> = HashSet::new();
    let mut cancelled: HashSet<u64> = HashSet::new();
    let is_data = |data: Option<u128>, new_datas: &[usize]| {
        data.and_then(|d| usize::try_from(d).ok())
            .filter(|d| core.comm.contains_key(d) || new_datas.contains(d))
    };

    let mut out = Vec::with_capacity(events.len());
    for (i, raw) in events.iter().enumerate() {
        // `ev[0] if isinstance(ev, tuple) and ev else None`
        let tuple_len = match raw.length() {
            Some(len) if raw.is_tuple() && len > 0 => len,
            _ => {
                return Err(fail(
                    What::Tag(i),
                    "tag",
                    ErrValue::None,
                    "unknown event tag",
                    None,
                ));
            }
        };
        let tuple = raw;
        let tag_value = tuple.get(0);
        let tag = match tag_value {
            Value::Int(t) if (0..EVENT_NAMES.len() as i128).contains(&t) => t,
            _ => {
                let origin = Origin::Event { index: i, item: 0 };
                return Err(refuse(
                    What::Tag(i),
                    "tag",
                    tag_value,
                    "unknown event tag",
                    origin,
                ));
            }
        };
        // 0 <= tag < 6
        let slot = tag.unsigned_abs() as usize;
        let what = What::Event(slot, i);
        if tuple_len != EVENT_LENGTHS[slot] {
            return Err(fail(
                what,
                "length",
                ErrValue::Int(tuple_len as i128),
                format!("expected {}", EVENT_LENGTHS[slot]),
                None,
            ));
        }
        let at = |item: usize| Origin::Event { index: i, item };
        let ev = |item: usize| tuple.get(item);
        let event = match tag {
            EV_DATA => {
                let data = index(what, "data", ev(1), at(1))?;
                let data = data
                    .and_then(|d| usize::try_from(d).ok())
                    .ok_or_else(|| refuse(what, "data", ev(1), REASON_TOO_LARGE, at(1)))?;
                let stocklike = flag(what, "stocklike", ev(2), at(2))?;
                let perc = flag(what, "perc", ev(3), at(3))?;
                let commission = finite(what, "commission", ev(4), at(4))?;
                let mult = finite(what, "mult", ev(5), at(5))?;
                let margin = finite(what, "margin", ev(6), at(6))?;
                let automargin = finite(what, "automargin", ev(7), at(7))?;
                let leverage = finite(what, "leverage", ev(8), at(8))?;
                if !leverage.gt(ZERO) {
                    return Err(refuse(what, "leverage", ev(8), "not positive", at(8)));
                }
                new_datas.push(data);
                Event::Data {
                    data,
                    comm: CommSpec {
                        stocklike,
                        perc,
                        commission,
                        mult,
                        margin,
                        automargin,
                        leverage,
                    },
                }
            }
            EV_POSITION => {
                let data = index(what, "data", ev(1), at(1))?;
                let data = is_data(data, &new_datas)
                    .ok_or_else(|| refuse(what, "data", ev(1), "unknown data", at(1)))?;
                Event::Position { data }
            }
            EV_SUBMIT => validate_submit(core, what, tuple, i, &new_datas, &mut new_refs)?,
            EV_CANCEL => {
                let oref = index(what, "ref", ev(1), at(1))?;
                let oref = oref
                    .and_then(|r| u64::try_from(r).ok())
                    .filter(|r| {
                        (core.orders.contains_key(r) || new_refs.contains(r))
                            && !cancelled.contains(r)
                    })
                    .ok_or_else(|| refuse(what, "ref", ev(1), "unknown order ref", at(1)))?;
                cancelled.insert(oref);
                Event::Cancel { oref }
            }
            EV_CONFIG => Event::Config {
                checksubmit: flag(what, "checksubmit", ev(1), at(1))?,
                shortcash: flag(what, "shortcash", ev(2), at(2))?,
            },
            EV_SET_CASH => Event::SetCash {
                cash: finite(what, "cash", ev(1), at(1))?,
            },
            _ => return Err(CoreError::Internal("event tag out of range")),
        };
        out.push(event);
    }

    let Some(bars) = bars else {
        return Ok((out, Vec::new()));
    };
    let mut registered: Vec<usize> = core.comm.keys().copied().chain(new_datas).collect();
    registered.sort_unstable();
    registered.dedup();
    let mut seen = vec![false; registered.len()];
    let mut out_bars = Vec::with_capacity(bars.len());
    for (i, raw) in bars.iter().enumerate() {
        let what = What::Bar(i);
        let length_error = |len: usize| {
            fail(
                what,
                "length",
                ErrValue::Int(len as i128),
                format!("expected {BAR_LENGTH}"),
                None,
            )
        };
        // `not isinstance(bar, tuple) or len(bar) != BAR_LENGTH`
        let bar = match raw.length() {
            Some(BAR_LENGTH) if raw.is_tuple() => raw,
            Some(len) => return Err(length_error(len)),
            None => return Err(CoreError::NoLen { bar: i }),
        };
        let at = |item: usize| Origin::Bar { index: i, item };
        let data = index(what, "data", bar.get(0), at(0))?;
        let slot = data
            .and_then(|d| usize::try_from(d).ok())
            .and_then(|d| registered.binary_search(&d).ok())
            .ok_or_else(|| refuse(what, "data", bar.get(0), "unknown data", at(0)))?;
        if seen[slot] {
            return Err(refuse(what, "data", bar.get(0), "duplicate bar", at(0)));
        }
        for (k, name) in BAR_FIELDS.iter().enumerate() {
            if !is_number(bar.get(k + 1)) {
                return Err(refuse(
                    what,
                    name,
                    bar.get(k + 1),
                    "not a number",
                    at(k + 1),
                ));
            }
        }
        let mut nums = [ZERO; 7];
        for (k, name) in BAR_FIELDS.iter().enumerate() {
            nums[k] = match bar.get(k + 1) {
                Value::Int(v) => Num::Int(v),
                Value::Float(v) => Num::Float(v),
                other => return Err(refuse(what, name, other, REASON_TOO_LARGE, at(k + 1))),
            };
        }
        seen[slot] = true;
        let [dt, open, high, low, close, volume, mark] = nums;
        out_bars.push(Bar {
            data: registered[slot],
            dt,
            open,
            high,
            low,
            close,
            volume,
            mark,
        });
    }
    if let Some(slot) = seen.iter().position(|seen| !seen) {
        return Err(fail(
            What::Bars,
            "data",
            ErrValue::Int(registered[slot] as i128),
            "no bar for a registered data",
            None,
        ));
    }
    Ok((out, out_bars))
}

fn validate_submit(
    core: &Core,
    what: What,
    tuple: &RawItem,
    i: usize,
    new_datas: &[usize],
    new_refs: &mut HashSet<u64>,
) -> Result<Event, CoreError> {
    let at = |item: usize| Origin::Event { index: i, item };
    let ev = |item: usize| tuple.get(item);
    let oref = index(what, "ref", ev(1), at(1))?;
    let oref = oref
        .and_then(|r| u64::try_from(r).ok())
        .ok_or_else(|| refuse(what, "ref", ev(1), REASON_TOO_LARGE, at(1)))?;
    if core.orders.contains_key(&oref) || core.done.contains(&oref) || new_refs.contains(&oref) {
        return Err(refuse(what, "ref", ev(1), "duplicate order ref", at(1)));
    }
    let data = index(what, "data", ev(2), at(2))?;
    let data = data
        .and_then(|d| usize::try_from(d).ok())
        .filter(|d| core.comm.contains_key(d) || new_datas.contains(d))
        .ok_or_else(|| refuse(what, "data", ev(2), "unknown data", at(2)))?;
    let beyond = || refuse(what, "size", ev(3), "int beyond 2**53", at(3));
    let size = match finite_or_big(what, "size", ev(3), at(3))? {
        Finite::Big => return Err(beyond()),
        Finite::Num(size) => {
            if size.is_int() && size.absolute()?.gt(Num::Int(1 << 53)) {
                return Err(beyond());
            }
            size
        }
    };
    let price = finite(what, "price", ev(4), at(4))?;
    let created_dt = finite(what, "created_dt", ev(5), at(5))?;
    // `exectype != EXEC_MARKET` (0 == False == 0.0 == -0.0 in Python)
    match ev(6) {
        Value::Int(0) | Value::Bool(false) | Value::Other { eq_zero: true } => {}
        // a float pattern compares with `==`: 0.0 and -0.0
        Value::Float(0.0) => {}
        other => {
            return Err(refuse(
                what,
                "exectype",
                other,
                "unsupported exectype",
                at(6),
            ))
        }
    }
    let check = flag(what, "check", ev(7), at(7))?;
    new_refs.insert(oref);
    Ok(Event::Submit {
        oref,
        data,
        size,
        price,
        created_dt,
        exectype: 0,
        check,
    })
}
