//! `LValue`: the JSON-like data of the ledger (events, records, snapshots), typed as Python sees
//! it, and the few Python behaviours on it the ledger relies on (`repr`, `==`).

use std::cmp::Ordering;
use std::fmt::Write as _;

use crate::num::Num;

/// A Python object as the ledger sees it: `None`, `bool`, `int`, `float`, `str`, `list` (or the
/// `tuple` of a batch), `dict` (items in their order; keys may be of any type) or any other
/// object.
///
/// An `int` beyond the 128-bit range is given clamped to `i128::MIN`/`i128::MAX` by the bindings:
/// the ledger refuses every int of 2**63 or more in magnitude as "out of range" anyway.
#[derive(Clone, Debug)]
pub enum LValue {
    /// `None`.
    None,
    /// A `bool` (never a number for the ledger).
    Bool(bool),
    /// An `int`.
    Int(i128),
    /// A `float`.
    Float(f64),
    /// A `str`.
    Str(String),
    /// A `list`.
    List(Vec<LValue>),
    /// A `dict`: `(key, value)` pairs in insertion order.
    Dict(Vec<(LValue, LValue)>),
    /// Any other object.
    Other,
}

impl PartialEq for LValue {
    /// Identity of the data: same types and, for floats, same bits (`0.0 != -0.0`, `1 != 1.0`);
    /// dicts compare their items in order. Python's `==` is [`LValue::py_eq`].
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (LValue::None, LValue::None) | (LValue::Other, LValue::Other) => true,
            (LValue::Bool(a), LValue::Bool(b)) => a == b,
            (LValue::Int(a), LValue::Int(b)) => a == b,
            (LValue::Float(a), LValue::Float(b)) => a.to_bits() == b.to_bits(),
            (LValue::Str(a), LValue::Str(b)) => a == b,
            (LValue::List(a), LValue::List(b)) => a == b,
            (LValue::Dict(a), LValue::Dict(b)) => a == b,
            _ => false,
        }
    }
}

impl From<Num> for LValue {
    fn from(v: Num) -> Self {
        match v {
            Num::Int(v) => LValue::Int(v.get()),
            Num::Float(v) => LValue::Float(v),
        }
    }
}

impl From<&str> for LValue {
    fn from(v: &str) -> Self {
        LValue::Str(v.to_owned())
    }
}

impl From<String> for LValue {
    fn from(v: String) -> Self {
        LValue::Str(v)
    }
}

impl From<bool> for LValue {
    fn from(v: bool) -> Self {
        LValue::Bool(v)
    }
}

impl From<Option<&str>> for LValue {
    fn from(v: Option<&str>) -> Self {
        v.map_or(LValue::None, LValue::from)
    }
}

impl LValue {
    /// A dict with `str` keys, in the given order.
    #[must_use]
    pub fn dict(items: Vec<(&str, LValue)>) -> Self {
        LValue::Dict(items.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// `value[key]` of a dict with a `str` key (`None` when absent or not a dict).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&LValue> {
        match self {
            LValue::Dict(items) => items
                .iter()
                .find(|(k, _)| matches!(k, LValue::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The number of an `int` or a `float` (never a `bool`).
    #[must_use]
    pub fn num(&self) -> Option<Num> {
        match *self {
            LValue::Int(v) => Some(Num::int(v)),
            LValue::Float(v) => Some(Num::Float(v)),
            _ => None,
        }
    }

    /// The text of a `str`.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            LValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// `value is None`.
    #[must_use]
    pub fn is_none(&self) -> bool {
        matches!(self, LValue::None)
    }

    /// Python's `==` for data: numbers numerically (`1 == 1.0 == True`, `0.0 == -0.0`; a float
    /// equals itself even when it is a NaN, as the same object does in a container), dicts
    /// whatever their order, other objects never.
    #[must_use]
    pub fn py_eq(&self, other: &LValue) -> bool {
        let number = |v: &LValue| match *v {
            LValue::Bool(b) => Some(Num::from(b)),
            _ => v.num(),
        };
        match (self, other) {
            (LValue::Float(a), LValue::Float(b)) if a.to_bits() == b.to_bits() => true,
            (LValue::None, LValue::None) => true,
            (LValue::Str(a), LValue::Str(b)) => a == b,
            (LValue::List(a), LValue::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.py_eq(y))
            }
            (LValue::Dict(a), LValue::Dict(b)) => {
                a.len() == b.len()
                    && a.iter().all(|(k, v)| {
                        b.iter()
                            .find(|(k2, _)| k.py_eq(k2))
                            .is_some_and(|(_, v2)| v.py_eq(v2))
                    })
            }
            _ => match (number(self), number(other)) {
                (Some(a), Some(b)) => a.py_cmp(b) == Some(Ordering::Equal),
                _ => false,
            },
        }
    }

    /// Python's `repr` (of the data the ledger puts in a message).
    #[must_use]
    pub fn py_repr(&self) -> String {
        match self {
            LValue::None => "None".to_owned(),
            LValue::Bool(true) => "True".to_owned(),
            LValue::Bool(false) => "False".to_owned(),
            LValue::Int(v) => v.to_string(),
            LValue::Float(v) => float_repr(*v),
            LValue::Str(s) => str_repr(s),
            LValue::List(items) => {
                let parts: Vec<String> = items.iter().map(LValue::py_repr).collect();
                format!("[{}]", parts.join(", "))
            }
            LValue::Dict(items) => {
                let parts: Vec<String> = items
                    .iter()
                    .map(|(k, v)| format!("{}: {}", k.py_repr(), v.py_repr()))
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
            LValue::Other => "<object>".to_owned(),
        }
    }

    /// Python's `str` (`repr` except for a `str`).
    #[must_use]
    pub fn py_str(&self) -> String {
        match self {
            LValue::Str(s) => s.clone(),
            other => other.py_repr(),
        }
    }
}

/// Python's `repr` of a number.
#[must_use]
pub fn num_repr(v: Num) -> String {
    match v {
        Num::Int(v) => v.to_string(),
        Num::Float(v) => float_repr(v),
    }
}

/// Python's `repr(float)`: the shortest round-tripping digits, in fixed notation when the
/// decimal exponent is in `-4..16`, else as `d.ddde+XX`.
#[must_use]
pub fn float_repr(v: f64) -> String {
    if v.is_nan() {
        return "nan".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // Rust's `{:e}` gives the shortest round-tripping digits ("-1.2345e-7", "0e0"); Python
    // takes, among the strings of that length that round-trip, the one closest to the value:
    // the correctly rounded one when it round-trips.
    let shortest = format!("{v:e}");
    let length = shortest
        .split('e')
        .next()
        .map_or(1, |m| m.chars().filter(char::is_ascii_digit).count());
    let closest = format!("{:.*e}", length.saturating_sub(1), v);
    let sci = if closest
        .parse::<f64>()
        .is_ok_and(|c| c.to_bits() == v.to_bits())
    {
        closest
    } else {
        shortest
    };
    let (negative, sci) = match sci.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, sci.as_str()),
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let decpt = exp + 1;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if decpt <= -4 || decpt > 16 {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    } else if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..-decpt {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let point = usize::try_from(decpt).unwrap_or(0);
        if point >= digits.len() {
            out.push_str(&digits);
            for _ in digits.len()..point {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
    out
}

/// Python's `repr(str)`.
#[must_use]
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if u32::from(c) < 0x20 || u32::from(c) == 0x7f => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_is_pythons() {
        let cases = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123.456, "123.456"),
            (-2.5e300, "-2.5e+300"),
            (1.0 / 3.0, "0.3333333333333333"),
            (5e-324, "5e-324"),
            (1_760_485_316_806_258.2, "1760485316806258.2"),
            (-669_542_770_550_635.2, "-669542770550635.2"),
        ];
        for (v, want) in cases {
            assert_eq!(float_repr(v), want);
        }
    }

    #[test]
    fn str_repr_is_pythons() {
        assert_eq!(str_repr("abc"), "'abc'");
        assert_eq!(str_repr("a'b"), "\"a'b\"");
        assert_eq!(str_repr("a'b\""), "'a\\'b\"'");
        assert_eq!(str_repr("a\nb"), "'a\\nb'");
    }
}
