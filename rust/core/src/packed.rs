//! The packed batch: many `step` calls in one byte buffer, and all their records and states in
//! another, so that a whole stream crosses the language boundary once.
//!
//! The layout is `bt_cracktrader/core/packed.py`'s (the reference, with the description of every
//! byte). Each value keeps its Python type (`None`, `bool`, `int` within 64 bits, `float`), so an
//! unpacked batch is exactly the tuples of the contract and goes through the same validation.

use crate::core::Core;
use crate::error::{CoreError, ErrValue};
use crate::event::{Record, State};
use crate::hooks::Hooks;
use crate::num::Num;
use crate::value::{Item, RawItem, Value, MAX_ITEMS};

/// Layout version of both buffers.
pub const PACKED_VERSION: u32 = 1;
/// First bytes of a batch of steps.
pub const STEPS_MAGIC: &[u8; 8] = b"BTCKSTEP";
/// First bytes of a batch of results.
pub const RESULTS_MAGIC: &[u8; 8] = b"BTCKRECS";
/// Kind byte of a packed value.
pub const KIND_NONE: u8 = 0;
/// Kind byte of a `bool` (payload 0 or 1).
pub const KIND_BOOL: u8 = 1;
/// Kind byte of an `int` (payload: little-endian `i64`).
pub const KIND_INT: u8 = 2;
/// Kind byte of a `float` (payload: little-endian IEEE 754 bits).
pub const KIND_FLOAT: u8 = 3;
/// `what` of an error in the buffer itself.
pub const WHAT: &str = "packed batch";

/// One step of a batch: its events and bars, unchecked.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedStep {
    /// The events, as [`Core::step_raw`] takes them.
    pub events: Vec<RawItem>,
    /// The bars.
    pub bars: Vec<RawItem>,
}

/// A failed [`Core::step_packed`]: the step that failed (`None` for the buffer itself or the
/// output) and the error. The core is left as it was before the call.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedError {
    /// Index of the failing step.
    pub step: Option<usize>,
    /// What went wrong.
    pub error: CoreError,
}

fn bad(field: &str, value: ErrValue, reason: String) -> CoreError {
    CoreError::input(WHAT, field, value, reason, None)
}

/// Bytes of one packed value: a kind byte and an 8-byte little-endian payload.
const VALUE_BYTES: usize = 9;

/// One item (an event or a bar) of a batch that [`scan`] accepted, read in place: a value is
/// decoded only when validation looks at it, so a step needs no [`RawItem`]s.
#[derive(Clone, Copy, Debug)]
struct PackedItem<'a> {
    /// The item's `len` values (`len * VALUE_BYTES` bytes).
    values: &'a [u8],
    len: usize,
}

impl Item for PackedItem<'_> {
    #[inline]
    fn is_tuple(&self) -> bool {
        true
    }

    #[inline]
    fn length(&self) -> Option<usize> {
        Some(self.len)
    }

    /// Value `index`, decoded as a checked batch's is (no error is possible); `None` beyond the
    /// item's length or the first [`MAX_ITEMS`], as [`RawItem::get`] (a longer item is refused
    /// for its length before any item beyond the tag is looked at).
    #[inline]
    fn get(&self, index: usize) -> Value {
        if index >= MAX_ITEMS {
            return Value::None;
        }
        // index < MAX_ITEMS: no overflow; `values` holds `len` whole values, so the slice is
        // there exactly when index < len
        let start = index * VALUE_BYTES;
        let Some((&kind, payload)) = self
            .values
            .get(start..start + VALUE_BYTES)
            .and_then(<[u8]>::split_first)
        else {
            return Value::None;
        };
        // 8 bytes by construction (the conversion cannot fail)
        let Ok(payload) = <[u8; 8]>::try_from(payload) else {
            return Value::None;
        };
        match kind {
            KIND_BOOL => Value::Bool(payload[0] == 1),
            KIND_INT => Value::Int(i128::from(i64::from_le_bytes(payload))),
            KIND_FLOAT => Value::Float(f64::from_le_bytes(payload)),
            _ => Value::None,
        }
    }
}

impl PackedItem<'_> {
    /// The item as a [`RawItem`] (its first [`MAX_ITEMS`] values).
    fn to_raw(self) -> RawItem {
        let mut item = RawItem::tuple(self.len);
        for k in 0..self.len.min(MAX_ITEMS) {
            item.set(k, self.get(k));
        }
        item
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], CoreError> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.buf.len());
        let Some(end) = end else {
            return Err(self.truncated(n, field));
        };
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// The error of a [`Reader::take`] past the end (out of line: a valid batch never builds it).
    #[cold]
    #[inline(never)]
    fn truncated(&self, n: usize, field: &str) -> CoreError {
        bad(
            "length",
            ErrValue::Int(self.buf.len() as i128),
            format!("truncated: {field} needs {n} bytes at offset {}", self.pos),
        )
    }

    #[inline(always)]
    fn u32(&mut self, field: &str) -> Result<u32, CoreError> {
        let bytes = self.take(4, field)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn value(&mut self) -> Result<Value, CoreError> {
        let at = self.pos;
        let bytes = self.take(9, "a value")?;
        let mut payload = [0u8; 8];
        payload.copy_from_slice(&bytes[1..9]);
        let word = i64::from_le_bytes(payload);
        match bytes[0] {
            KIND_NONE if word == 0 => Ok(Value::None),
            KIND_BOOL if word == 0 || word == 1 => Ok(Value::Bool(word == 1)),
            KIND_INT => Ok(Value::Int(i128::from(word))),
            KIND_FLOAT => Ok(Value::Float(f64::from_le_bytes(payload))),
            KIND_NONE | KIND_BOOL => Err(bad(
                "payload",
                ErrValue::Int(i128::from(word)),
                format!(
                    "not a {} at offset {at}",
                    if bytes[0] == KIND_NONE {
                        "None"
                    } else {
                        "bool"
                    }
                ),
            )),
            kind => Err(bad(
                "kind",
                ErrValue::Int(i128::from(kind)),
                format!("unknown value kind at offset {at}"),
            )),
        }
    }

    /// Read one item of a batch that [`scan`] accepted: no error is possible past the lengths,
    /// so its values are left to [`PackedItem::get`], without the checks of [`Reader::value`].
    fn item(&mut self) -> Result<PackedItem<'a>, CoreError> {
        let len = self.u32("an item length")? as usize;
        let values = self.take(len.saturating_mul(VALUE_BYTES), "an item")?;
        Ok(PackedItem { values, len })
    }

    /// Check one item without keeping it.
    fn skip_item(&mut self) -> Result<(), CoreError> {
        let len = self.u32("an item length")? as usize;
        let start = self.pos;
        let whole = start
            .checked_add(len.saturating_mul(9))
            .is_some_and(|end| end <= self.buf.len());
        if whole {
            let bytes = &self.buf[start..start + len * 9];
            let valid = bytes.chunks_exact(9).all(|v| match v[0] {
                KIND_INT | KIND_FLOAT => true,
                KIND_NONE => v[1..9] == [0; 8],
                KIND_BOOL => v[1] <= 1 && v[2..9] == [0; 7],
                _ => false,
            });
            if valid {
                self.pos = start + len * 9;
                return Ok(());
            }
        }
        // the checking reader names the first bad value (or where the buffer ends)
        for _ in 0..len {
            self.value()?;
        }
        Ok(())
    }

    /// Read a step's events and bars into the (cleared) buffers, each item as `convert` makes it.
    fn step_into<T>(
        &mut self,
        events: &mut Vec<T>,
        bars: &mut Vec<T>,
        convert: impl Fn(PackedItem<'a>) -> T,
    ) -> Result<(), CoreError> {
        events.clear();
        bars.clear();
        let n_events = self.u32("an event count")? as usize;
        let n_bars = self.u32("a bar count")? as usize;
        for _ in 0..n_events {
            events.push(convert(self.item()?));
        }
        for _ in 0..n_bars {
            bars.push(convert(self.item()?));
        }
        Ok(())
    }

    fn end(&self) -> Result<(), CoreError> {
        if self.pos == self.buf.len() {
            return Ok(());
        }
        Err(bad(
            "length",
            ErrValue::Int(self.buf.len() as i128),
            format!("{} bytes after the last step", self.buf.len() - self.pos),
        ))
    }
}

fn check_header(reader: &mut Reader<'_>, magic: &[u8; 8]) -> Result<usize, CoreError> {
    let head = reader.take(8, "the magic")?;
    if head != magic {
        let hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
        return Err(bad(
            "magic",
            ErrValue::Str(hex),
            format!(
                "not a packed batch: expected {}",
                String::from_utf8_lossy(magic)
            ),
        ));
    }
    let version = reader.u32("the version")?;
    if version != PACKED_VERSION {
        return Err(bad(
            "version",
            ErrValue::Int(i128::from(version)),
            format!("unsupported: this core reads version {PACKED_VERSION}"),
        ));
    }
    Ok(reader.u32("the step count")? as usize)
}

/// Check a whole batch, as `packed.unpack_steps` does before anything runs: returns the step
/// count and the offset of the first step.
fn scan(buf: &[u8]) -> Result<(usize, usize), CoreError> {
    let mut reader = Reader { buf, pos: 0 };
    let n_steps = check_header(&mut reader, STEPS_MAGIC)?;
    let start = reader.pos;
    for _ in 0..n_steps {
        let n_events = reader.u32("an event count")?;
        let n_bars = reader.u32("a bar count")?;
        for _ in 0..(u64::from(n_events) + u64::from(n_bars)) {
            reader.skip_item()?;
        }
    }
    reader.end()?;
    Ok((n_steps, start))
}

/// Decode a batch of steps; every error names the field, the value and the offset.
pub fn decode_steps(buf: &[u8]) -> Result<Vec<PackedStep>, CoreError> {
    let (n_steps, start) = scan(buf)?;
    let mut reader = Reader { buf, pos: start };
    let mut steps = Vec::with_capacity(n_steps);
    for _ in 0..n_steps {
        let mut step = PackedStep {
            events: Vec::new(),
            bars: Vec::new(),
        };
        reader.step_into(&mut step.events, &mut step.bars, PackedItem::to_raw)?;
        steps.push(step);
    }
    Ok(steps)
}

/// An int the layout cannot hold: `(item index, value)`.
type Unpackable = (usize, i128);

fn unpackable(field: &str, value: i128) -> CoreError {
    CoreError::input(
        WHAT,
        field,
        ErrValue::Int(value),
        "an int beyond 64 bits cannot be packed",
        None,
    )
}

struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn count(&mut self, n: usize) {
        // more than 2**32 records in one step cannot happen before memory runs out
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.out.extend_from_slice(&n.to_le_bytes());
    }

    fn word(&mut self, kind: u8, payload: [u8; 8]) {
        // one 9-byte copy: a push then an 8-byte extend checked the capacity twice per value
        let mut word = [kind; 9];
        word[1..].copy_from_slice(&payload);
        self.out.extend_from_slice(&word);
    }

    fn int(&mut self, k: usize, v: i128) -> Result<(), Unpackable> {
        let small = i64::try_from(v).map_err(|_| (k, v))?;
        self.word(KIND_INT, small.to_le_bytes());
        Ok(())
    }

    fn num(&mut self, k: usize, v: Num) -> Result<(), Unpackable> {
        match v {
            Num::Int(v) => self.int(k, v),
            Num::Float(v) => {
                self.word(KIND_FLOAT, v.to_le_bytes());
                Ok(())
            }
        }
    }

    fn record(&mut self, record: &Record) -> Result<(), Unpackable> {
        let tag = record.tag();
        match record {
            Record::Accepted { oref: r }
            | Record::Margin { oref: r }
            | Record::Submitted { oref: r }
            | Record::Canceled { oref: r }
            | Record::Expired { oref: r }
            | Record::Rejected { oref: r }
            | Record::Activated { oref: r }
            | Record::Triggered { oref: r } => {
                self.count(2);
                self.int(0, tag)?;
                self.int(1, i128::from(*r))
            }
            Record::Trail {
                oref,
                price,
                pricelimit,
            } => {
                self.count(4);
                self.int(0, tag)?;
                self.int(1, i128::from(*oref))?;
                self.num(2, *price)?;
                self.num(3, *pricelimit)
            }
            Record::Position { data } => {
                self.count(2);
                self.int(0, tag)?;
                self.int(1, *data as i128)
            }
            Record::Executed(x) => {
                self.count(16);
                self.int(0, tag)?;
                self.int(1, i128::from(x.oref))?;
                for (k, v) in x.nums().into_iter().enumerate() {
                    self.num(k + 2, v)?;
                }
                Ok(())
            }
        }
    }

    fn state(&mut self, s: &State) -> Result<(), Unpackable> {
        self.count(10);
        for (k, v) in s.nums().into_iter().enumerate() {
            self.num(k, v)?;
        }
        self.word(KIND_BOOL, i64::from(s.idle).to_le_bytes());
        Ok(())
    }

    /// One step's records and state; an int that cannot be packed is reported where it is.
    fn result(&mut self, k: usize, records: &[Record], state: &State) -> Result<(), CoreError> {
        self.count(records.len());
        for (i, record) in records.iter().enumerate() {
            self.record(record)
                .map_err(|(item, v)| unpackable(&format!("step {k} record {i} item {item}"), v))?;
        }
        self.state(state)
            .map_err(|(item, v)| unpackable(&format!("step {k} state item {item}"), v))
    }
}

impl Core {
    /// Run a packed batch of steps (see `bt_cracktrader/core/packed.py`) and return the packed
    /// results: each step's records and state, as [`Core::step_raw`] would give them one call
    /// at a time. All or nothing: on any error the core is left exactly as before the call.
    pub fn step_packed(
        &mut self,
        buf: &[u8],
        hooks: &mut dyn Hooks,
    ) -> Result<Vec<u8>, PackedError> {
        let (n_steps, start) = scan(buf).map_err(|error| PackedError { step: None, error })?;
        let before = self.clone();
        let mut out = Writer {
            out: Vec::with_capacity(buf.len()),
        };
        out.out.extend_from_slice(RESULTS_MAGIC);
        out.out.extend_from_slice(&PACKED_VERSION.to_le_bytes());
        out.count(n_steps);
        // the batch is known to be well formed: read one step at a time into reused buffers of
        // views, validated in place
        let mut reader = Reader { buf, pos: start };
        let (mut events, mut bars, mut records) = (Vec::new(), Vec::new(), Vec::new());
        for k in 0..n_steps {
            records.clear();
            let outcome = match reader.step_into(&mut events, &mut bars, |item| item) {
                Err(error) => Err(PackedError { step: None, error }),
                Ok(()) => match self.step_raw_into(&events, &bars, hooks, &mut records) {
                    Ok(()) => out
                        .result(k, &records, &self.state())
                        .map_err(|error| PackedError { step: None, error }),
                    Err(error) => Err(PackedError {
                        step: Some(k),
                        error,
                    }),
                },
            };
            if let Err(err) = outcome {
                *self = before;
                return Err(err);
            }
        }
        Ok(out.out)
    }
}
