//! Errors of the core: refused input (`CoreInputError` in Python) and the few Python exceptions
//! the reference core can raise while computing.

use std::fmt;

use crate::num::Num;

/// The offending value of an [`InputError`], as the Python core would hold it.
#[derive(Clone, Debug, PartialEq)]
pub enum ErrValue {
    /// Python `None`.
    None,
    /// A `bool`.
    Bool(bool),
    /// An `int` (also a length or an index).
    Int(i128),
    /// An `int` beyond the 128-bit range.
    BigInt {
        /// Sign of the int.
        negative: bool,
    },
    /// A `float`.
    Float(f64),
    /// A `list` (the `datas` of a value request).
    List(Vec<ErrValue>),
    /// A `str` of printable ASCII without quotes or backslashes (e.g. bytes in hex).
    Str(String),
    /// Any other object (its `repr` is known only to the caller that passed it: see
    /// [`InputError::origin`]).
    Other,
}

impl ErrValue {
    /// The value of a number.
    #[must_use]
    pub fn from_num(value: Num) -> Self {
        match value {
            Num::Int(v) => ErrValue::Int(v.get()),
            Num::Float(v) => ErrValue::Float(v),
        }
    }
}

impl fmt::Display for ErrValue {
    /// Python's `repr` (as far as this side knows the value).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrValue::None => f.write_str("None"),
            ErrValue::Bool(true) => f.write_str("True"),
            ErrValue::Bool(false) => f.write_str("False"),
            ErrValue::Int(v) => write!(f, "{v}"),
            ErrValue::BigInt { negative } => f.write_str(if *negative {
                "<int below -2**127>"
            } else {
                "<int beyond 2**127>"
            }),
            ErrValue::Float(v) => write!(f, "{}", Num::Float(*v)),
            ErrValue::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            ErrValue::Str(text) => write!(f, "'{text}'"),
            ErrValue::Other => f.write_str("<object>"),
        }
    }
}

/// Where a refused value came from in the caller's input, so that a binding can report the
/// original object (e.g. a `numpy.float64` keeps its own `repr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Argument `0..4` of the constructor: `cash`, `checksubmit`, `shortcash`, `fundstartval`.
    Arg(usize),
    /// Item `item` of event `index`.
    Event {
        /// Position of the event in the batch.
        index: usize,
        /// Position of the item in the event tuple.
        item: usize,
    },
    /// Item `item` of bar `index`.
    Bar {
        /// Position of the bar in the list.
        index: usize,
        /// Position of the item in the bar tuple.
        item: usize,
    },
    /// The whole `datas` argument of a value request (reported as `list(datas)`).
    Datas,
    /// Item `index` of the `datas` of a value request.
    Data(usize),
    /// Item `index` of the `closes` of a value request.
    Close(usize),
    /// The object the user's filler callable returned last.
    FillerResult,
}

/// An event, bar or argument the core refuses (Python: `CoreInputError(what, field, value,
/// reason)`, message `invalid {what}: {field} = {value!r} ({reason})`).
#[derive(Clone, Debug, PartialEq)]
pub struct InputError {
    /// The refused item, e.g. `"submit event #3"`, `"bar #0"`, `"broker"`.
    pub what: String,
    /// The refused field, e.g. `"size"`.
    pub field: String,
    /// The refused value.
    pub value: ErrValue,
    /// Why, e.g. `"not finite"`.
    pub reason: String,
    /// Where `value` came from in the input, when it is an input item.
    pub origin: Option<Origin>,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {}: {} = {} ({})",
            self.what, self.field, self.value, self.reason
        )
    }
}

/// The operands of a division by zero ([`CoreError::ZeroDivision`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ZeroDivision {
    /// The dividend.
    pub dividend: Num,
    /// The (zero) divisor.
    pub divisor: Num,
    /// Floor division (`//`) rather than true division (`/`).
    pub floor: bool,
}

/// Everything a core call can fail with.
///
/// Only [`CoreError::Input`] is raised before any state change; the others are raised where the
/// Python core raises them (mid-computation), leaving the state as the Python core leaves it.
#[derive(Clone, Debug, PartialEq)]
pub enum CoreError {
    /// Refused input (Python: `CoreInputError`); the state is untouched.
    Input(Box<InputError>),
    /// `len()` of bar `bar`, which is no tuple and has no length (Python: `TypeError`).
    NoLen {
        /// Position of the bar.
        bar: usize,
    },
    /// An `int` too large for a `float` where the Python core converts it (`math.isfinite`;
    /// Python: `OverflowError`).
    IntToFloat(Origin),
    /// A division by zero (Python: `ZeroDivisionError`), e.g. the fund value when the starting
    /// cash, hence the number of fund shares, is zero (as in Backtrader's `BackBroker`).
    ///
    /// Boxed: every arithmetic step returns `Result<Num, CoreError>`, which stays small only
    /// when no variant carries numbers inline.
    ZeroDivision(Box<ZeroDivision>),
    /// A missing key (Python: `KeyError(key)`), e.g. a cancel of an order that a history event
    /// of the same batch only announces.
    KeyError(i128),
    /// Python's `IndexError` (`pop from an empty deque`), where BackBroker's own code raises it.
    IndexError(&'static str),
    /// A user callable (filler or CommInfo override) raised: the caller that passed it holds
    /// the exception.
    Hook,
    /// A user's CommInfo override returned something that is neither an `int` nor a `float`.
    HookResult {
        /// The overridden method.
        method: &'static str,
    },
    /// An `int` result beyond the 128-bit range (Python would carry on with a big int).
    IntOverflow,
    /// A snapshot that does not describe a consistent core.
    BadSnapshot(String),
    /// A broken invariant of the core (Python: `AssertionError`); a bug, never expected.
    Internal(&'static str),
}

impl CoreError {
    #[cold]
    #[inline(never)]
    pub(crate) fn input(
        what: impl Into<String>,
        field: &str,
        value: ErrValue,
        reason: impl Into<String>,
        origin: Option<Origin>,
    ) -> Self {
        CoreError::Input(Box::new(InputError {
            what: what.into(),
            field: field.to_owned(),
            value,
            reason: reason.into(),
            origin,
        }))
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreError::Input(err) => err.fmt(f),
            CoreError::NoLen { bar } => write!(f, "bar #{bar} has no len()"),
            CoreError::IntToFloat(_) => f.write_str("int too large to convert to float"),
            CoreError::ZeroDivision(z) => {
                let op = if z.floor { "//" } else { "/" };
                write!(f, "division by zero: {} {op} {}", z.dividend, z.divisor)
            }
            CoreError::KeyError(key) => write!(f, "KeyError: {key}"),
            CoreError::IndexError(why) => write!(f, "IndexError: {why}"),
            CoreError::Hook => f.write_str("a user callback raised"),
            CoreError::HookResult { method } => {
                write!(f, "{method}() returned neither an int nor a float")
            }
            CoreError::IntOverflow => f.write_str("int result beyond the 128-bit range"),
            CoreError::BadSnapshot(why) => write!(f, "bad core snapshot: {why}"),
            CoreError::Internal(why) => write!(f, "internal error: {why}"),
        }
    }
}

impl std::error::Error for CoreError {}
