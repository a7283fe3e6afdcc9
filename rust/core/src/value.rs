//! Dynamically typed input: events, bars and arguments as a Python caller passes them, before
//! validation. The core validates these exactly as the Python core validates its tuples (same
//! checks, same order, same messages), so a binding only classifies each object
//! ([`Value`]) and leaves every decision to the core.

use crate::error::ErrValue;
use crate::event::{
    Bar, Event, OrderSpec, EV_ADD_CASH, EV_CANCEL, EV_CONFIG, EV_DATA, EV_FUND, EV_HISTORY,
    EV_POSITION, EV_SET_CASH, EV_SUBMIT,
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
        /// The first of `0..=4` the object equals (`x in range(5)`), only consulted for the
        /// `filler` of a config event.
        eq_int: Option<u8>,
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
            Num::Int(v) => Value::Int(v.get()),
            Num::Float(v) => Value::Float(v),
        }
    }
}

/// Items kept of a tuple: the longest contract tuples (`EV_SUBMIT`, `EV_HISTORY`) have 21.
pub const MAX_ITEMS: usize = 21;

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

/// An unchecked event or bar as validation reads it: [`RawItem`], or a view of one that is
/// decoded only as its items are looked at (a packed batch's). Every implementation answers as
/// [`RawItem`]'s methods of the same names do for the same object.
pub trait Item {
    /// `isinstance(obj, tuple)`.
    fn is_tuple(&self) -> bool;
    /// `len(obj)`, `None` when it has no length.
    fn length(&self) -> Option<usize>;
    /// Item `index` of a tuple (`None` beyond its length or the first [`MAX_ITEMS`]).
    fn get(&self, index: usize) -> Value;

    /// The tuple's values as a packed batch lays them out (`bt_cracktrader/core/packed.py`):
    /// one 9-byte word per value, a kind byte then a little-endian payload, decoding to the
    /// same values as [`Item::get`]. Validation reads a well-formed event or bar straight
    /// from them and leaves anything else to the checks item by item; `None` (the default)
    /// for an item held any other way.
    #[inline]
    fn packed_words(&self) -> Option<&[u8]> {
        None
    }
}

impl Item for RawItem {
    #[inline]
    fn is_tuple(&self) -> bool {
        RawItem::is_tuple(self)
    }

    #[inline]
    fn length(&self) -> Option<usize> {
        RawItem::length(self)
    }

    #[inline]
    fn get(&self, index: usize) -> Value {
        RawItem::get(self, index)
    }
}

fn index_value(index: usize) -> Value {
    // usize -> i128 is lossless on every supported target.
    Value::Int(index as i128)
}

fn ref_value(oref: Option<u64>) -> Value {
    oref.map_or(Value::Int(-1), |r| Value::Int(i128::from(r)))
}

fn order_values(tag: i128, o: &OrderSpec) -> Vec<Value> {
    vec![
        Value::Int(tag),
        Value::Int(i128::from(o.oref)),
        index_value(o.data),
        Value::Bool(o.isbuy),
        o.size.into(),
        Value::Int(i128::from(o.exectype)),
        o.price.into(),
        o.pricelimit.into(),
        o.pclose.into(),
        o.created_dt.into(),
        o.valid.into(),
        o.dteos.into(),
        o.trailamount.into(),
        o.trailpercent.into(),
        o.limitoffset.into(),
        ref_value(o.parent),
        ref_value(o.oco),
        Value::Bool(o.transmit),
        Value::Bool(o.check),
        Value::Bool(o.coc),
        Value::Bool(o.notified),
    ]
}

impl From<&Event> for RawItem {
    fn from(event: &Event) -> Self {
        let values: Vec<Value> = match *event {
            Event::Data { data, comm } => vec![
                Value::Int(EV_DATA),
                index_value(data),
                Value::Bool(comm.stocklike),
                Value::Bool(comm.perc),
                comm.commission.into(),
                comm.mult.into(),
                comm.margin.into(),
                comm.automargin.into(),
                comm.leverage.into(),
                comm.creditrate.into(),
                Value::Bool(comm.interest_long),
                Value::Int(i128::from(comm.overrides)),
                comm.compensate.map_or(Value::Int(-1), index_value),
            ],
            Event::Position { data } => vec![Value::Int(EV_POSITION), index_value(data)],
            Event::Submit(ref spec) => order_values(EV_SUBMIT, spec),
            Event::History(ref spec) => order_values(EV_HISTORY, spec),
            Event::Cancel { oref, notified } => vec![
                Value::Int(EV_CANCEL),
                Value::Int(i128::from(oref)),
                Value::Bool(notified),
            ],
            Event::Config(c) => vec![
                Value::Int(EV_CONFIG),
                Value::Bool(c.checksubmit),
                Value::Bool(c.shortcash),
                Value::Bool(c.coc),
                Value::Bool(c.coo),
                c.slip_perc.into(),
                c.slip_fixed.into(),
                Value::Bool(c.slip_open),
                Value::Bool(c.slip_match),
                Value::Bool(c.slip_limit),
                Value::Bool(c.slip_out),
                Value::Int(i128::from(c.filler)),
                c.filler_size.into(),
                c.filler_perc.into(),
                c.filler_minmov.into(),
                Value::Bool(c.int2pnl),
            ],
            Event::SetCash { cash } => vec![Value::Int(EV_SET_CASH), cash.into()],
            Event::AddCash { cash } => vec![Value::Int(EV_ADD_CASH), cash.into()],
            Event::Fund {
                fundvalue,
                netvalue,
            } => vec![Value::Int(EV_FUND), fundvalue.into(), netvalue.into()],
        };
        RawItem::from_values(&values)
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
            bar.mark.into(),
            bar.volume.into(),
            bar.rhigh.into(),
            bar.rlow.into(),
            bar.pdt.into(),
            bar.phigh.into(),
            bar.plow.into(),
            bar.pvolume.into(),
            Value::Int(bar.day),
        ])
    }
}
