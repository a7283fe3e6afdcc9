//! Dynamically typed input: events, bars and arguments as a Python caller passes them, before
//! validation. The core validates these exactly as the Python core validates its tuples (same
//! checks, same order, same messages), so a binding only classifies each object
//! ([`Value`]) and leaves every decision to the core.

use crate::error::ErrValue;
use crate::event::{
    Bar, Event, EV_CANCEL, EV_CONFIG, EV_DATA, EV_POSITION, EV_SET_CASH, EV_SUBMIT,
};
use crate::num::Num;

/// One input object, classified as the Python core's checks see it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// A `bool` (never a number for the core).
    Bool(bool),
    /// An `int` (not a `bool`) within the 128-bit range.
    Int(i128),
    /// An `int` beyond the 128-bit range.
    BigInt {
        /// Sign of the int.
        negative: bool,
        /// `float(x)` overflows (Python's `math.isfinite(x)` raises `OverflowError`).
        float_overflow: bool,
    },
    /// A `float` (or a subclass of it).
    Float(f64),
    /// Any other object.
    Other {
        /// `x == 0` (only consulted for the `exectype` of a submit event).
        eq_zero: bool,
    },
}

impl Value {
    /// The value as reported in an error.
    #[must_use]
    pub fn to_err(self) -> ErrValue {
        match self {
            Value::None => ErrValue::None,
            Value::Bool(v) => ErrValue::Bool(v),
            Value::Int(v) => ErrValue::Int(v),
            Value::BigInt { negative, .. } => ErrValue::BigInt { negative },
            Value::Float(v) => ErrValue::Float(v),
            Value::Other { .. } => ErrValue::Other,
        }
    }
}

impl From<Num> for Value {
    fn from(value: Num) -> Self {
        match value {
            Num::Int(v) => Value::Int(v),
            Num::Float(v) => Value::Float(v),
        }
    }
}

/// Items kept of a tuple: the longest contract tuple (`EV_DATA`) has 9.
pub const MAX_ITEMS: usize = 9;

/// An event or a bar as passed: a `tuple` (or a subclass of it) with its length and its first
/// [`MAX_ITEMS`] items (a longer tuple is refused for its length before any item beyond the tag
/// is looked at), or any other object with its `len()`, if it has one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RawItem {
    is_tuple: bool,
    len: Option<usize>,
    items: [Value; MAX_ITEMS],
}

impl RawItem {
    /// A tuple of `len` items, all `None` until [`RawItem::set`].
    #[must_use]
    pub fn tuple(len: usize) -> Self {
        RawItem {
            is_tuple: true,
            len: Some(len),
            items: [Value::None; MAX_ITEMS],
        }
    }

    /// A tuple of these items.
    #[must_use]
    pub fn from_values(values: &[Value]) -> Self {
        let mut tuple = RawItem::tuple(values.len());
        for (index, value) in values.iter().enumerate() {
            tuple.set(index, *value);
        }
        tuple
    }

    /// Not a tuple; `len` is `len(obj)`, `None` when it has no length.
    #[must_use]
    pub fn not_tuple(len: Option<usize>) -> Self {
        RawItem {
            is_tuple: false,
            len,
            items: [Value::None; MAX_ITEMS],
        }
    }

    /// Set item `index` of a tuple (ignored beyond [`MAX_ITEMS`]).
    pub fn set(&mut self, index: usize, value: Value) {
        if let Some(slot) = self.items.get_mut(index) {
            *slot = value;
        }
    }

    /// `isinstance(obj, tuple)`.
    #[must_use]
    pub fn is_tuple(&self) -> bool {
        self.is_tuple
    }

    /// `len(obj)`, `None` when it has no length.
    #[must_use]
    pub fn length(&self) -> Option<usize> {
        self.len
    }

    /// Item `index` of a tuple (`None` beyond its length or the kept items).
    #[must_use]
    pub fn get(&self, index: usize) -> Value {
        match self.len {
            Some(len) if self.is_tuple && index < len => {
                self.items.get(index).copied().unwrap_or(Value::None)
            }
            _ => Value::None,
        }
    }
}

fn index_value(index: usize) -> Value {
    // usize -> i128 is lossless on every supported target.
    Value::Int(index as i128)
}

impl From<&Event> for RawItem {
    fn from(event: &Event) -> Self {
        let values: &[Value] = match *event {
            Event::Data { data, comm } => &[
                Value::Int(EV_DATA),
                index_value(data),
                Value::Bool(comm.stocklike),
                Value::Bool(comm.perc),
                comm.commission.into(),
                comm.mult.into(),
                comm.margin.into(),
                comm.automargin.into(),
                comm.leverage.into(),
            ],
            Event::Position { data } => &[Value::Int(EV_POSITION), index_value(data)],
            Event::Submit {
                oref,
                data,
                size,
                price,
                created_dt,
                exectype,
                check,
            } => &[
                Value::Int(EV_SUBMIT),
                Value::Int(i128::from(oref)),
                index_value(data),
                size.into(),
                price.into(),
                created_dt.into(),
                Value::Int(i128::from(exectype)),
                Value::Bool(check),
            ],
            Event::Cancel { oref } => &[Value::Int(EV_CANCEL), Value::Int(i128::from(oref))],
            Event::Config {
                checksubmit,
                shortcash,
            } => &[
                Value::Int(EV_CONFIG),
                Value::Bool(checksubmit),
                Value::Bool(shortcash),
            ],
            Event::SetCash { cash } => &[Value::Int(EV_SET_CASH), cash.into()],
        };
        RawItem::from_values(values)
    }
}

impl From<&Bar> for RawItem {
    fn from(bar: &Bar) -> Self {
        RawItem::from_values(&[
            index_value(bar.data),
            bar.dt.into(),
            bar.open.into(),
            bar.high.into(),
            bar.low.into(),
            bar.close.into(),
            bar.volume.into(),
            bar.mark.into(),
        ])
    }
}
