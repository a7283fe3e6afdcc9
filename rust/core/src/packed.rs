//! The packed batch: many `step` calls in one byte buffer, and all their records and states in
//! another, so that a whole stream crosses the language boundary once.
//!
//! The layout is `bt_cracktrader/core/packed.py`'s (the reference, with the description of every
//! byte). Each value keeps its Python type (`None`, `bool`, `int` within 64 bits, `float`), so an
//! unpacked batch is exactly the tuples of the contract and goes through the same validation.

use crate::core::{Core, FusedStep};
use crate::error::{CoreError, ErrValue};
use crate::event::{Record, State};
use crate::hooks::Hooks;
use crate::num::Num;
use crate::validate::StepBufs;
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

#[cold]
#[inline(never)]
fn bad(field: &str, value: ErrValue, reason: String) -> CoreError {
    CoreError::input(WHAT, field, value, reason, None)
}

/// Bytes of one packed value: a kind byte and an 8-byte little-endian payload.
const VALUE_BYTES: usize = 9;

/// At most this many orders are reserved ahead by [`Core::step_packed`].
const MAX_RESERVED_ORDERS: usize = 1 << 20;

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

    /// Value `index`; `None` beyond the item's length or the first [`MAX_ITEMS`], as
    /// [`RawItem::get`] (a longer item is refused for its length before any item beyond the
    /// tag is looked at). A value [`scan`] would refuse (a batch whose values are checked as
    /// they are read, see [`Core::step_packed`]) is an object no check accepts, so its step
    /// fails and the batch's error is then found.
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
        let word = u64::from_le_bytes(payload);
        match kind {
            KIND_INT => Value::Int(i128::from(word as i64)),
            KIND_FLOAT => Value::Float(f64::from_bits(word)),
            KIND_BOOL if word <= 1 => Value::Bool(word == 1),
            KIND_NONE if word == 0 => Value::None,
            _ => Value::Other { eq_int: None },
        }
    }

    #[inline]
    fn packed_words(&self) -> Option<&[u8]> {
        Some(self.values)
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

/// The header of a batch of steps: returns the step count and the offset of the first step.
fn read_header(buf: &[u8]) -> Result<(usize, usize), CoreError> {
    let mut reader = Reader { buf, pos: 0 };
    let n_steps = check_header(&mut reader, STEPS_MAGIC)?;
    Ok((n_steps, reader.pos))
}

/// [`scan`]'s error, `otherwise` for a batch it accepts.
#[cold]
#[inline(never)]
fn scan_error(buf: &[u8], otherwise: PackedError) -> PackedError {
    match scan(buf) {
        Err(error) => PackedError { step: None, error },
        Ok(_) => otherwise,
    }
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

/// The longest item of the results: a `REC_EXECUTED` record.
const MAX_WORDS: usize = 16;

/// One item of the results, written in place at the end of the output: its length, then its
/// values. (Not built apart and copied: the copy read its small stores back with wide loads,
/// a failed store forward per item.)
struct ItemBuf<'a> {
    bytes: &'a mut [u8; 4 + MAX_WORDS * VALUE_BYTES],
}

/// The room of the longest item, copied to the output before the values are written (a copy
/// of a fixed size; the output is then cut to the item's length, see [`ItemBuf::new`]).
const ZEROS: [u8; 4 + MAX_WORDS * VALUE_BYTES] = [0; 4 + MAX_WORDS * VALUE_BYTES];

impl<'a> ItemBuf<'a> {
    /// Room for the longest item at the end of `out`, the length of one of `n` values written:
    /// the caller cuts the output to the item's length once it is written
    /// ([`Writer::cut`]).
    #[inline(always)]
    fn new(out: &'a mut Vec<u8>, n: usize) -> Self {
        let start = out.len();
        out.extend_from_slice(&ZEROS);
        let Some(bytes) = out
            .get_mut(start..)
            .and_then(|b| <&mut [u8; 4 + MAX_WORDS * VALUE_BYTES]>::try_from(b).ok())
        else {
            unreachable!("the room was just added");
        };
        // n <= MAX_WORDS
        bytes[..4].copy_from_slice(&(n as u32).to_le_bytes());
        ItemBuf { bytes }
    }

    /// Value `k`.
    #[inline(always)]
    fn put(&mut self, k: usize, kind: u8, payload: [u8; 8]) {
        let at = 4 + k * VALUE_BYTES;
        self.bytes[at] = kind;
        self.bytes[at + 1..at + VALUE_BYTES].copy_from_slice(&payload);
    }

    /// Value `k`, an int.
    #[inline(always)]
    fn int(&mut self, k: usize, v: i128) -> Result<(), Unpackable> {
        let small = i64::try_from(v).map_err(|_| (k, v))?;
        self.put(k, KIND_INT, small.to_le_bytes());
        Ok(())
    }

    /// Value `k`, a number.
    #[inline(always)]
    fn num(&mut self, k: usize, v: Num) -> Result<(), Unpackable> {
        match v {
            Num::Int(v) => self.int(k, v.get()),
            Num::Float(v) => {
                self.put(k, KIND_FLOAT, v.to_le_bytes());
                Ok(())
            }
        }
    }
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

    /// A record of its tag and one int (most records): one fixed-size copy.
    #[inline(always)]
    fn short(&mut self, tag: i128, v: i128) -> Result<(), Unpackable> {
        let tag = i64::try_from(tag).map_err(|_| (0, tag))?;
        let v = i64::try_from(v).map_err(|_| (1, v))?;
        let mut bytes = [0; 4 + 2 * VALUE_BYTES];
        bytes[..4].copy_from_slice(&2_u32.to_le_bytes());
        bytes[4] = KIND_INT;
        bytes[5..13].copy_from_slice(&tag.to_le_bytes());
        bytes[13] = KIND_INT;
        bytes[14..].copy_from_slice(&v.to_le_bytes());
        self.out.extend_from_slice(&bytes);
        Ok(())
    }

    fn record(&mut self, record: &Record) -> Result<(), Unpackable> {
        match record {
            Record::Accepted { oref: r }
            | Record::Margin { oref: r }
            | Record::Submitted { oref: r }
            | Record::Canceled { oref: r }
            | Record::Expired { oref: r }
            | Record::Rejected { oref: r }
            | Record::Activated { oref: r }
            | Record::Triggered { oref: r } => {
                return self.short(record.tag(), i128::from(*r));
            }
            Record::Trail { .. } | Record::Position { .. } | Record::Executed(_) => {}
        }
        // (an error leaves a part of an item at the end of the output, which is then dropped)
        let n = match record {
            Record::Trail { .. } => 4,
            Record::Position { .. } => 2,
            _ => MAX_WORDS, // `Record::Executed`, the others written above
        };
        let mut item = ItemBuf::new(&mut self.out, n);
        item.int(0, record.tag())?;
        match record {
            Record::Accepted { .. }
            | Record::Margin { .. }
            | Record::Submitted { .. }
            | Record::Canceled { .. }
            | Record::Expired { .. }
            | Record::Rejected { .. }
            | Record::Activated { .. }
            | Record::Triggered { .. } => return Ok(()), // written above

            Record::Trail {
                oref,
                price,
                pricelimit,
            } => {
                item.int(1, i128::from(*oref))?;
                item.num(2, *price)?;
                item.num(3, *pricelimit)?;
            }
            Record::Position { data } => {
                item.int(1, *data as i128)?;
            }
            Record::Executed(x) => {
                item.int(1, i128::from(x.oref))?;
                // `Execution::nums`, read in place
                for (k, v) in [
                    &x.dt,
                    &x.size,
                    &x.price,
                    &x.closed,
                    &x.closedvalue,
                    &x.closedcomm,
                    &x.opened,
                    &x.openedvalue,
                    &x.openedcomm,
                    &x.pnl,
                    &x.psize,
                    &x.pprice,
                    &x.position_size,
                    &x.position_price,
                ]
                .into_iter()
                .enumerate()
                {
                    item.num(k + 2, *v)?;
                }
            }
        }
        self.cut(n);
        Ok(())
    }

    /// The output cut to the end of the last item (of `n` values) after [`ItemBuf::new`].
    #[inline(always)]
    fn cut(&mut self, n: usize) {
        let len = self.out.len() - (MAX_WORDS - n) * VALUE_BYTES;
        self.out.truncate(len);
    }

    /// The state: `State::nums`, read in place, then `idle`.
    fn state(&mut self, s: &State) -> Result<(), Unpackable> {
        let mut item = ItemBuf::new(&mut self.out, 10);
        for (k, v) in [
            &s.cash,
            &s.value,
            &s.valuemkt,
            &s.valuelever,
            &s.valuemktlever,
            &s.fundvalue,
            &s.fundshares,
            &s.leverage,
            &s.unrealized,
        ]
        .into_iter()
        .enumerate()
        {
            item.num(k, *v)?;
        }
        item.put(9, KIND_BOOL, i64::from(s.idle).to_le_bytes());
        self.cut(10);
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
        // `packed.unpack_steps` checks the whole batch before anything runs. Here it is
        // checked as it is read instead, once. Its frame (counts, item lengths, nothing after
        // the last step) as the steps are read, in the order `scan` reads it. Its values as
        // validation reads them: validation reads every value of a valid step, the fast path
        // only accepts well-formed values and anything else reads as an object no check
        // accepts (`PackedItem::get`). So all steps succeed and the batch ends where it should
        // only if `scan` accepts it, and on any error the whole batch is scanned and its
        // error, if any, reported instead. Unless a callable could run (and see a step of a
        // batch that is refused): then everything is checked first.
        let lazy = !hooks.has_filler() && !hooks.has_comm();
        let frame = if lazy { read_header(buf) } else { scan(buf) };
        let (n_steps, start) =
            frame.map_err(|error| scan_error(buf, PackedError { step: None, error }))?;
        let before = self.clone();
        if lazy {
            // First with the steps of submits and cancels applied as they are read
            // (`Core::step_fused`); a batch that is not plainly valid all through, whatever
            // the reason, runs again from the start as below, which gives its error exactly.
            if let Ok(out) = self.run_steps(buf, n_steps, start, hooks, true) {
                return Ok(out);
            }
            *self = before.clone();
        }
        self.run_steps(buf, n_steps, start, hooks, false)
            .map_err(|stop| {
                *self = before;
                let err = match stop {
                    Stop::Error(err) => err,
                    // (only a fused run is refused)
                    Stop::Refused => PackedError {
                        step: None,
                        error: CoreError::Internal("a batch refused without fusing"),
                    },
                };
                if lazy {
                    scan_error(buf, err)
                } else {
                    err
                }
            })
    }

    /// The steps of a batch from `start`, into the results (the core is left part way on an
    /// error). `fused`: the steps of submits and cancels run through `Core::step_fused`.
    fn run_steps(
        &mut self,
        buf: &[u8],
        n_steps: usize,
        start: usize,
        hooks: &mut dyn Hooks,
        fused: bool,
    ) -> Result<Vec<u8>, Stop> {
        // Room for as many new orders as the batch could submit (21 values a submit), so the
        // order table is not copied as it grows; pages never written are never touched.
        let room = (buf.len() / (21 * VALUE_BYTES)).min(MAX_RESERVED_ORDERS);
        let _ = self.orders.try_reserve(room);
        let _ = self.queued.try_reserve(room);
        let mut out = Writer {
            out: Vec::with_capacity(buf.len()),
        };
        out.out.extend_from_slice(RESULTS_MAGIC);
        out.out.extend_from_slice(&PACKED_VERSION.to_le_bytes());
        out.count(n_steps);
        // one step at a time into reused buffers of views, validated in place
        let mut reader = Reader { buf, pos: start };
        let (mut events, mut bars, mut records) = (Vec::new(), Vec::new(), Vec::new());
        // and the validated events and bars, kept from step to step too
        let mut bufs = StepBufs::default();
        let frame = |error| Stop::Error(PackedError { step: None, error });
        // the batch is read ahead of the steps, see `READ_AHEAD`
        let mut ahead = start;
        for k in 0..n_steps {
            records.clear();
            ahead = read_ahead(buf, ahead, reader.pos);
            reader
                .step_into(&mut events, &mut bars, |item| item)
                .map_err(frame)?;
            let at_step = |error| {
                Stop::Error(PackedError {
                    step: Some(k),
                    error,
                })
            };
            let fused_step = if fused {
                self.step_fused(&events, &bars, hooks, &mut bufs, &mut records)
                    .map_err(at_step)?
            } else {
                FusedStep::Classic
            };
            match fused_step {
                FusedStep::Done => {}
                FusedStep::Refused => return Err(Stop::Refused),
                FusedStep::Classic => self
                    .step_raw_bufs(&events, &bars, hooks, &mut bufs, &mut records)
                    .map_err(at_step)?,
            }
            out.result(k, &records, &self.state()).map_err(frame)?;
        }
        reader.end().map_err(frame)?;
        Ok(out.out)
    }
}

/// How far ahead of the step being read [`Core::run_steps`] loads the batch (about two steps of
/// the core-only benchmark). A batch is usually cold when it is run (just packed, or a large
/// buffer, after other work), and a step takes several microseconds to run but the hardware
/// prefetcher, which does not cross pages, follows its bytes only when they are read: each new
/// page of the batch then stalls the step that reads it. One load per cache line of the window,
/// all independent, brings the next steps in while this one runs (in the core-only benchmark,
/// right after a Python-core run, ~8% of the batch's time). A safe load does as well there as
/// the `prefetch` instruction (which needs `unsafe`), and in a warm cache it costs nothing
/// measurable (~54 loads a step that hit).
const READ_AHEAD: usize = 8192;

/// Touch the lines of `buf` from `done` (where the last call stopped) to `READ_AHEAD` bytes
/// past `pos`; returns where this one stopped.
#[inline(always)]
fn read_ahead(buf: &[u8], mut done: usize, pos: usize) -> usize {
    let end = pos.saturating_add(READ_AHEAD).min(buf.len());
    let mut acc = 0_u8;
    while done < end {
        acc ^= buf[done];
        done += 64;
    }
    // (the loads are kept, their value is not used)
    std::hint::black_box(acc);
    done
}

/// Why [`Core::run_steps`] stopped.
enum Stop {
    /// A step of a fused run was not plainly valid.
    Refused,
    /// The batch's error (or a fused run's, found again by a run without fusing).
    Error(PackedError),
}
