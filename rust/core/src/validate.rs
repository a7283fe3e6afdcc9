//! Validation, a port of the Python core's `_validate`, `_finite`, `_flag` and `_index`: the
//! same checks in the same order with the same messages. Nothing is applied unless everything
//! is valid; the result is the batch as typed events and bars.

use crate::hashing::FastSet;

use crate::comm::{CommSpec, COMM_METHODS};
use crate::core::Core;
use crate::error::{CoreError, ErrValue, Origin};
use crate::event::{
    Bar, Config, Event, OrderSpec, BAR_LENGTH, EVENT_LENGTHS, EVENT_NAMES, EV_ADD_CASH, EV_CANCEL,
    EV_CONFIG, EV_DATA, EV_FUND, EV_HISTORY, EV_POSITION, EV_SET_CASH, EV_SUBMIT, EXEC_HISTORICAL,
    EXEC_STOPTRAIL, EXEC_STOPTRAILLIMIT, FILLER_CALLBACK,
};
use crate::num::{Num, ZERO};
use crate::packed::{KIND_BOOL, KIND_FLOAT, KIND_INT};
use crate::value::{Item, Value};

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
    /// `data N` (its compensate target).
    Data(usize),
    /// `step` (a callable that is missing).
    Step,
    /// `filler result`.
    FillerResult,
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
            What::Data(d) => format!("data {d}"),
            What::Step => "step".to_owned(),
            What::FillerResult => "filler result".to_owned(),
        }
    }
}

#[cold]
#[inline(never)]
pub(crate) fn fail(
    what: What,
    field: &str,
    value: ErrValue,
    reason: impl Into<String>,
    origin: Option<Origin>,
) -> CoreError {
    CoreError::input(what.render(), field, value, reason, origin)
}

#[cold]
#[inline(never)]
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
        Value::Int(v) => Ok(Finite::Num(Num::int(v))),
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

/// `_number(what, field, value)`, then the Rust core's range.
pub(crate) fn number(
    what: What,
    field: &str,
    value: Value,
    origin: Origin,
) -> Result<Num, CoreError> {
    match value {
        Value::Int(v) => Ok(Num::int(v)),
        Value::Float(v) => Ok(Num::Float(v)),
        Value::BigInt { .. } => Err(refuse(what, field, value, REASON_TOO_LARGE, origin)),
        Value::None | Value::Bool(_) | Value::Other { .. } => {
            Err(refuse(what, field, value, "not a number", origin))
        }
    }
}

/// `_ref_or_none(what, field, value)`: `Ok(None)` for `-1`, `Ok(Some(ref))` for a ref that
/// fits (a larger one is never a known ref: `Some(u64::MAX)` with `big` set).
fn ref_or_none(
    what: What,
    field: &str,
    value: Value,
    origin: Origin,
) -> Result<RefOrNone, CoreError> {
    match value {
        Value::Int(-1) => Ok(RefOrNone::None),
        Value::Int(v) if v >= 0 => Ok(u64::try_from(v).map_or(RefOrNone::Unknown, RefOrNone::Ref)),
        Value::BigInt {
            negative: false, ..
        } => Ok(RefOrNone::Unknown),
        _ => Err(refuse(what, field, value, "not an order ref or -1", origin)),
    }
}

/// Datas whose bars are tracked on the stack.
const INLINE_DATAS: usize = 32;

/// The `compensate` item of a data the core has.
fn core_compensate(data: usize, spec: &CommSpec) -> Compensate {
    Compensate {
        data,
        target: spec
            .compensate
            .map_or(RefOrNone::None, |t| RefOrNone::Ref(t as u64)),
        raw: None,
    }
}

/// A valid `parent`/`oco`/`compensate` item.
#[derive(Clone, Copy)]
enum RefOrNone {
    /// `-1`.
    None,
    /// A reference or index within `u64`.
    Ref(u64),
    /// A valid int no order or data can have.
    Unknown,
}

/// `bar[1:]` field names (`contract.BAR_FIELDS`).
const BAR_FIELDS: [&str; 14] = [
    "dt", "open", "high", "low", "close", "mark", "volume", "rhigh", "rlow", "pdt", "phigh",
    "plow", "pvolume", "day",
];

/// The refs the core knows plus those of the batch being validated (`_Known`).
struct Known<'a> {
    core: &'a Core,
    new: NewRefs,
}

impl Known<'_> {
    #[inline(always)]
    fn contains(&self, oref: u64) -> bool {
        self.core.knows_ref(oref) || self.new.contains(oref)
    }
}

/// The refs of the batch being validated: a sorted `Vec` while they come in increasing order
/// (as an adapter numbers its orders), where a new ref beyond the last is known absent at
/// once; a set from the first one that does not.
enum NewRefs {
    Sorted(Vec<u64>),
    Set(FastSet<u64>),
}

impl NewRefs {
    #[inline(always)]
    fn contains(&self, oref: u64) -> bool {
        match self {
            NewRefs::Sorted(refs) => {
                refs.last().is_some_and(|&last| oref <= last) && refs.binary_search(&oref).is_ok()
            }
            NewRefs::Set(refs) => refs.contains(&oref),
        }
    }

    /// Add a ref it does not hold.
    #[inline(always)]
    fn insert(&mut self, oref: u64) {
        match self {
            NewRefs::Sorted(refs) if refs.last().is_none_or(|&last| oref > last) => refs.push(oref),
            _ => self.insert_unordered(oref),
        }
    }

    /// [`NewRefs::insert`] of a ref not beyond the last (out of line: an adapter numbers its
    /// orders in order).
    #[cold]
    #[inline(never)]
    fn insert_unordered(&mut self, oref: u64) {
        match self {
            NewRefs::Sorted(refs) => {
                let mut set: FastSet<u64> = refs.iter().copied().collect();
                set.insert(oref);
                *self = NewRefs::Set(set);
            }
            NewRefs::Set(refs) => {
                refs.insert(oref);
            }
        }
    }
}

/// The datas the core knows plus those of the batch (`datas`).
struct Datas<'a> {
    core: &'a Core,
    new: Vec<usize>,
    /// Bit `d` for each data `d < 64` of either: such a data is looked up in one bit.
    low: u64,
}

impl<'a> Datas<'a> {
    fn new(core: &'a Core) -> Self {
        let low = core
            .comm
            .keys()
            .filter(|&d| d < 64)
            .fold(0, |low, d| low | 1 << d);
        Datas {
            core,
            new: Vec::new(),
            low,
        }
    }

    #[inline]
    fn contains(&self, data: usize) -> bool {
        if data < 64 {
            return self.low & 1 << data != 0;
        }
        self.core.comm.contains(data) || self.new.contains(&data)
    }

    /// Add a data it does not hold.
    fn insert(&mut self, data: usize) {
        if data < 64 {
            self.low |= 1 << data;
        }
        self.new.push(data);
    }

    fn contains_index(&self, data: Option<u128>) -> Option<usize> {
        data.and_then(|d| usize::try_from(d).ok())
            .filter(|&d| self.contains(d))
    }
}

/// The `compensate` item of a data, kept until the check after all events.
#[derive(Clone, Copy)]
struct Compensate {
    data: usize,
    target: RefOrNone,
    /// The raw item and where it came from (`None` for a data the core already had).
    raw: Option<(Value, Origin)>,
}

/// `PyCore._validate(events, bars)`; `bars` is `None` for `apply`.
pub(crate) fn validate<I: Item>(
    core: &Core,
    events: &[I],
    bars: Option<&[I]>,
) -> Result<(Vec<Event>, Vec<Bar>), CoreError> {
    let mut out = Vec::with_capacity(events.len());
    let mut out_bars = Vec::with_capacity(bars.map_or(0, <[I]>::len));
    validate_into(core, events, bars, &mut out, &mut out_bars)?;
    Ok((out, out_bars))
}

/// The buffers of [`validate_into`] a packed batch keeps from step to step.
#[derive(Default)]
pub(crate) struct StepBufs {
    /// The events of a step.
    pub(crate) events: Vec<Event>,
    /// The bars of a step.
    pub(crate) bars: Vec<Bar>,
}

/// [`validate`] into buffers a caller keeps from step to step (a packed batch): they are
/// cleared first, and hold the events and bars on success (anything on an error).
pub(crate) fn validate_into<I: Item>(
    core: &Core,
    events: &[I],
    bars: Option<&[I]>,
    out: &mut Vec<Event>,
    out_bars: &mut Vec<Bar>,
) -> Result<(), CoreError> {
    out.clear();
    out_bars.clear();
    out.reserve(events.len());
    let mut datas = Datas::new(core);
    // one allocation for the refs of the batch (at most one per event), none while it fills
    let mut known = Known {
        core,
        new: NewRefs::Sorted(Vec::with_capacity(events.len())),
    };
    // the core's `compensate` items, copied only once a data event may replace one: until
    // then they are checked where they are
    let mut compensate: Vec<Compensate> = Vec::new();
    let mut compensate_copied = false;

    for (i, raw) in events.iter().enumerate() {
        if raw
            .packed_words()
            .is_some_and(|words| fast_event(words, &datas, &mut known, out))
        {
            continue;
        }
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
        // 0 <= tag < 9
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
                let creditrate = finite(what, "creditrate", ev(9), at(9))?;
                let interest_long = flag(what, "interest_long", ev(10), at(10))?;
                let overrides = match ev(11) {
                    Value::Int(v) if (0..1_i128 << COMM_METHODS.len()).contains(&v) => v as u16,
                    other => {
                        return Err(refuse(
                            what,
                            "overrides",
                            other,
                            "not a bit set of COMM_METHODS",
                            at(11),
                        ))
                    }
                };
                let target = ref_or_none(what, "compensate", ev(12), at(12))?;
                if !datas.contains(data) {
                    datas.insert(data);
                }
                let entry = Compensate {
                    data,
                    target,
                    raw: Some((ev(12), at(12))),
                };
                if !compensate_copied {
                    compensate.extend(
                        core.comm
                            .iter()
                            .map(|(data, spec)| core_compensate(*data, spec)),
                    );
                    compensate_copied = true;
                }
                match compensate.iter_mut().find(|c| c.data == data) {
                    Some(slot) => *slot = entry,
                    None => compensate.push(entry),
                }
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
                        creditrate,
                        interest_long,
                        overrides,
                        compensate: match target {
                            RefOrNone::Ref(t) => usize::try_from(t).ok(),
                            RefOrNone::None | RefOrNone::Unknown => None,
                        },
                    },
                }
            }
            EV_POSITION => {
                let data = index(what, "data", ev(1), at(1))?;
                let data = datas
                    .contains_index(data)
                    .ok_or_else(|| refuse(what, "data", ev(1), "unknown data", at(1)))?;
                Event::Position { data }
            }
            EV_SUBMIT | EV_HISTORY => {
                let spec = validate_submit(what, tuple, i, &datas, &known)?;
                if tag == EV_HISTORY
                    && (spec.notified || spec.check || spec.parent.is_some() || spec.oco.is_some())
                {
                    return Err(refuse(
                        what,
                        "notified",
                        ev(20),
                        "a history order stands alone",
                        at(20),
                    ));
                }
                known.new.insert(spec.oref);
                if tag == EV_SUBMIT {
                    Event::Submit(spec)
                } else {
                    Event::History(spec)
                }
            }
            EV_CANCEL => {
                let oref = index(what, "ref", ev(1), at(1))?;
                let oref = oref
                    .and_then(|r| u64::try_from(r).ok())
                    .filter(|&r| known.contains(r))
                    .ok_or_else(|| refuse(what, "ref", ev(1), "unknown order ref", at(1)))?;
                let notified = flag(what, "notified", ev(2), at(2))?;
                Event::Cancel { oref, notified }
            }
            EV_CONFIG => {
                let checksubmit = flag(what, "checksubmit", ev(1), at(1))?;
                let shortcash = flag(what, "shortcash", ev(2), at(2))?;
                let coc = flag(what, "coc", ev(3), at(3))?;
                let coo = flag(what, "coo", ev(4), at(4))?;
                let slip_perc = finite(what, "slip_perc", ev(5), at(5))?;
                let slip_fixed = finite(what, "slip_fixed", ev(6), at(6))?;
                let slip_open = flag(what, "slip_open", ev(7), at(7))?;
                let slip_match = flag(what, "slip_match", ev(8), at(8))?;
                let slip_limit = flag(what, "slip_limit", ev(9), at(9))?;
                let slip_out = flag(what, "slip_out", ev(10), at(10))?;
                // `ev[11] not in range(FILLER_CALLBACK + 1) or isinstance(ev[11], bool)`
                let filler = match ev(11) {
                    Value::Int(v) if (0..=i128::from(FILLER_CALLBACK)).contains(&v) => {
                        Some(v as u8)
                    }
                    // `k == v` for a float: exact (`1.0 in range(5)`, `-0.0 in range(5)`)
                    Value::Float(v) => {
                        (0..=FILLER_CALLBACK).find(|&k| Num::int(k.into()).py_eq(Num::Float(v)))
                    }
                    Value::Other { eq_int } => eq_int.filter(|&k| k <= FILLER_CALLBACK),
                    _ => None,
                };
                let Some(filler) = filler else {
                    return Err(refuse(what, "filler", ev(11), "unknown filler", at(11)));
                };
                let filler_size = finite(what, "filler_size", ev(12), at(12))?;
                let filler_perc = finite(what, "filler_perc", ev(13), at(13))?;
                let filler_minmov = finite(what, "filler_minmov", ev(14), at(14))?;
                let int2pnl = flag(what, "int2pnl", ev(15), at(15))?;
                Event::Config(Config {
                    checksubmit,
                    shortcash,
                    coc,
                    coo,
                    slip_perc,
                    slip_fixed,
                    slip_open,
                    slip_match,
                    slip_limit,
                    slip_out,
                    filler,
                    filler_size,
                    filler_perc,
                    filler_minmov,
                    int2pnl,
                })
            }
            EV_SET_CASH => Event::SetCash {
                cash: finite(what, "cash", ev(1), at(1))?,
            },
            EV_ADD_CASH => Event::AddCash {
                cash: finite(what, "cash", ev(1), at(1))?,
            },
            EV_FUND => Event::Fund {
                fundvalue: number(what, "fundvalue", ev(1), at(1))?,
                netvalue: number(what, "netvalue", ev(2), at(2))?,
            },
            _ => return Err(CoreError::Internal("event tag out of range")),
        };
        out.push(event);
    }
    validate_tail(core, &datas, &compensate, compensate_copied, bars, out_bars)
}

/// The bars of a step whose events are all submits and cancels, checked after its events were
/// applied (see `Core::step_fused`): the end of [`validate_into`] for a step without a data
/// event, whose datas are the core's (submits and cancels never change them).
pub(crate) fn validate_bars<I: Item>(
    core: &Core,
    bars: &[I],
    out_bars: &mut Vec<Bar>,
) -> Result<(), CoreError> {
    out_bars.clear();
    validate_tail(core, &Datas::new(core), &[], false, Some(bars), out_bars)
}

/// The end of [`validate_into`], after the events: the `compensate` items, then the bars.
#[inline(always)]
fn validate_tail<I: Item>(
    core: &Core,
    datas: &Datas<'_>,
    compensate: &[Compensate],
    compensate_copied: bool,
    bars: Option<&[I]>,
    out_bars: &mut Vec<Bar>,
) -> Result<(), CoreError> {
    let core_items = (!compensate_copied).then(|| {
        core.comm
            .iter()
            .map(|(data, spec)| core_compensate(*data, spec))
    });
    for comp in compensate
        .iter()
        .copied()
        .chain(core_items.into_iter().flatten())
    {
        let known_target = match comp.target {
            RefOrNone::None => true,
            RefOrNone::Ref(t) => usize::try_from(t).is_ok_and(|t| datas.contains(t)),
            RefOrNone::Unknown => false,
        };
        if !known_target {
            let (value, origin) = match comp.raw {
                Some((value, origin)) => (value.to_err(), Some(origin)),
                None => (ErrValue::None, None),
            };
            return Err(fail(
                What::Data(comp.data),
                "compensate",
                value,
                "unknown data",
                origin,
            ));
        }
    }

    let Some(bars) = bars else {
        return Ok(());
    };
    // the datas, sorted (each once: a new data is one the core does not have), and whether
    // each has its bar; on the stack for a few
    let n_datas = core.comm.len() + datas.new.len();
    let (mut registered_inline, mut seen_inline) = ([0_usize; INLINE_DATAS], [false; INLINE_DATAS]);
    let (mut registered_heap, mut seen_heap) = (Vec::new(), Vec::new());
    let (registered, seen): (&mut [usize], &mut [bool]) = if n_datas <= INLINE_DATAS {
        (
            &mut registered_inline[..n_datas],
            &mut seen_inline[..n_datas],
        )
    } else {
        registered_heap.resize(n_datas, 0);
        seen_heap.resize(n_datas, false);
        (&mut registered_heap, &mut seen_heap)
    };
    for (slot, data) in registered
        .iter_mut()
        .zip(core.comm.keys().chain(datas.new.iter().copied()))
    {
        *slot = data;
    }
    registered.sort_unstable();
    debug_assert!(registered.windows(2).all(|w| w[0] < w[1]));
    out_bars.reserve(bars.len());
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
        if bar
            .packed_words()
            .is_some_and(|words| fast_bar(words, registered, seen, out_bars))
        {
            continue;
        }
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
        let day = match bar.get(14) {
            Value::Int(v) => Some(v),
            Value::BigInt { .. } => None,
            other => return Err(refuse(what, "day", other, "not an int", at(14))),
        };
        let mut nums = [ZERO; 13];
        for (k, name) in BAR_FIELDS[..13].iter().enumerate() {
            nums[k] = match bar.get(k + 1) {
                Value::Int(v) => Num::int(v),
                Value::Float(v) => Num::Float(v),
                other => return Err(refuse(what, name, other, REASON_TOO_LARGE, at(k + 1))),
            };
        }
        let day = day.ok_or_else(|| refuse(what, "day", bar.get(14), REASON_TOO_LARGE, at(14)))?;
        seen[slot] = true;
        let [dt, open, high, low, close, mark, volume, rhigh, rlow, pdt, phigh, plow, pvolume] =
            nums;
        out_bars.push(Bar {
            data: registered[slot],
            dt,
            open,
            high,
            low,
            close,
            mark,
            volume,
            rhigh,
            rlow,
            pdt,
            phigh,
            plow,
            pvolume,
            day,
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
    Ok(())
}

/// The checks of `price`/`pricelimit` of a submit event: a number, not NaN, infinite only
/// for a trailing stop (which starts at +/-inf until its first adjustment).
fn check_price(
    what: What,
    field: &str,
    value: Value,
    origin: Origin,
    exectype: u8,
) -> Result<(), CoreError> {
    let trailing = exectype == EXEC_STOPTRAIL || exectype == EXEC_STOPTRAILLIMIT;
    match value {
        Value::Float(v) if v.is_nan() || (v.is_infinite() && !trailing) => {
            Err(refuse(what, field, value, "not finite", origin))
        }
        Value::Int(_) | Value::Float(_) => Ok(()),
        // `math.isnan(value)` converts an int to a float
        Value::BigInt {
            float_overflow: true,
            ..
        } => Err(CoreError::IntToFloat(origin)),
        Value::BigInt { .. } => Ok(()),
        Value::None | Value::Bool(_) | Value::Other { .. } => {
            Err(refuse(what, field, value, "not a number", origin))
        }
    }
}

fn validate_submit<I: Item>(
    what: What,
    tuple: &I,
    i: usize,
    datas: &Datas<'_>,
    known: &Known<'_>,
) -> Result<OrderSpec, CoreError> {
    let at = |item: usize| Origin::Event { index: i, item };
    let ev = |item: usize| tuple.get(item);
    let oref = index(what, "ref", ev(1), at(1))?;
    let oref = oref
        .and_then(|r| u64::try_from(r).ok())
        .ok_or_else(|| refuse(what, "ref", ev(1), REASON_TOO_LARGE, at(1)))?;
    if known.contains(oref) {
        return Err(refuse(what, "ref", ev(1), "duplicate order ref", at(1)));
    }
    let data = index(what, "data", ev(2), at(2))?;
    let data = datas
        .contains_index(data)
        .ok_or_else(|| refuse(what, "data", ev(2), "unknown data", at(2)))?;
    let isbuy = flag(what, "isbuy", ev(3), at(3))?;
    let beyond = || refuse(what, "size", ev(4), "int beyond 2**53", at(4));
    let size = match finite_or_big(what, "size", ev(4), at(4))? {
        Finite::Big => return Err(beyond()),
        Finite::Num(size) => {
            if size.is_int() && size.absolute()?.gt(Num::int(1 << 53)) {
                return Err(beyond());
            }
            size
        }
    };
    let exectype = match ev(5) {
        Value::Int(v) if (0..=i128::from(EXEC_HISTORICAL)).contains(&v) => v as u8,
        other => return Err(refuse(what, "exectype", other, "unknown exectype", at(5))),
    };
    check_price(what, "price", ev(6), at(6), exectype)?;
    check_price(what, "pricelimit", ev(7), at(7), exectype)?;
    let pclose = finite(what, "pclose", ev(8), at(8))?;
    let created_dt = finite(what, "created_dt", ev(9), at(9))?;
    let valid = finite(what, "valid", ev(10), at(10))?;
    let dteos = finite(what, "dteos", ev(11), at(11))?;
    let trailamount = finite(what, "trailamount", ev(12), at(12))?;
    let trailpercent = finite(what, "trailpercent", ev(13), at(13))?;
    let limitoffset = number(what, "limitoffset", ev(14), at(14))?;
    let parent = match ref_or_none(what, "parent", ev(15), at(15))? {
        RefOrNone::None => None,
        RefOrNone::Ref(r) if known.contains(r) => Some(r),
        RefOrNone::Ref(_) | RefOrNone::Unknown => {
            return Err(refuse(what, "parent", ev(15), "unknown order ref", at(15)))
        }
    };
    let oco = match ref_or_none(what, "oco", ev(16), at(16))? {
        RefOrNone::None => None,
        RefOrNone::Ref(r) if known.contains(r) => Some(r),
        RefOrNone::Ref(_) | RefOrNone::Unknown => {
            return Err(refuse(what, "oco", ev(16), "unknown order ref", at(16)))
        }
    };
    let transmit = flag(what, "transmit", ev(17), at(17))?;
    let check = flag(what, "check", ev(18), at(18))?;
    let coc = flag(what, "coc", ev(19), at(19))?;
    let notified = flag(what, "notified", ev(20), at(20))?;
    if notified && (parent.is_some() || !transmit) {
        return Err(refuse(
            what,
            "notified",
            ev(20),
            "only for orders sent on their own",
            at(20),
        ));
    }
    let price = number(what, "price", ev(6), at(6))?;
    let pricelimit = number(what, "pricelimit", ev(7), at(7))?;
    Ok(OrderSpec {
        oref,
        data,
        isbuy,
        size,
        exectype,
        price,
        pricelimit,
        pclose,
        created_dt,
        valid,
        dteos,
        trailamount,
        trailpercent,
        limitoffset,
        parent,
        oco,
        transmit,
        check,
        coc,
        notified,
    })
}

// The fast path of a packed batch: an event or a bar whose every value has the expected kind
// and passes every check is decoded straight from its words, with the values `Item::get` gives
// and the checks of the code above in the same terms; at the first value that is not plainly
// valid it gives up (`None`) and the checks item by item run from the start, raising the error
// they always did. It accepts nothing they refuse and builds the same event or bar
// (`tests/packed_fast.rs` runs both over the fixtures, the bench stream and malformed copies).

/// Bytes of one packed value.
const WORD: usize = 9;

/// Word `k`: its kind byte and its payload.
#[inline(always)]
fn word(words: &[u8], k: usize) -> Option<(u8, u64)> {
    // (the kind byte and one load of the payload, not the word copied out first)
    let bytes: &[u8; WORD] = words.get(k * WORD..(k + 1) * WORD)?.try_into().ok()?;
    let payload: &[u8; WORD - 1] = bytes[1..].try_into().ok()?;
    Some((bytes[0], u64::from_le_bytes(*payload)))
}

/// An `int`.
#[inline(always)]
fn word_int(words: &[u8], k: usize) -> Option<i64> {
    match word(words, k)? {
        (KIND_INT, payload) => Some(payload as i64),
        _ => None,
    }
}

/// `_index`: a non-negative `int`.
#[inline(always)]
fn word_index(words: &[u8], k: usize) -> Option<u64> {
    word_int(words, k).and_then(|v| u64::try_from(v).ok())
}

/// `_flag`: a `bool` (a payload other than 0 or 1 is left to the checks).
#[inline(always)]
fn word_flag(words: &[u8], k: usize) -> Option<bool> {
    match word(words, k)? {
        (KIND_BOOL, payload @ (0 | 1)) => Some(payload == 1),
        _ => None,
    }
}

/// `_number`: an `int` or any `float`.
#[inline(always)]
fn word_number(words: &[u8], k: usize) -> Option<Num> {
    match word(words, k)? {
        (KIND_INT, payload) => Some(Num::int(i128::from(payload as i64))),
        (KIND_FLOAT, payload) => Some(Num::Float(f64::from_bits(payload))),
        _ => None,
    }
}

/// `_ref_or_none` of a `parent`/`oco`: `-1`, or a known ref.
#[inline(always)]
fn word_ref(words: &[u8], k: usize, knows: &impl Fn(u64) -> bool) -> Option<Option<u64>> {
    match word_int(words, k)? {
        -1 => Some(None),
        v => u64::try_from(v).ok().filter(|&r| knows(r)).map(Some),
    }
}

/// A plainly valid submit, history or cancel event, pushed onto `out` (its ref into `known`);
/// `false`, with nothing done, for anything else.
#[inline(always)]
fn fast_event(
    words: &[u8],
    datas: &Datas<'_>,
    known: &mut Known<'_>,
    out: &mut Vec<Event>,
) -> bool {
    // the tag, then the length the tag expects
    match (word_int(words, 0), words.len()) {
        (Some(2), SUBMIT_WORDS) => fast_submit(words, datas, known, out, false),
        (Some(7), SUBMIT_WORDS) => fast_submit(words, datas, known, out, true),
        (Some(3), CANCEL_WORDS) => fast_cancel(words, known, out),
        _ => false,
    }
}

/// Bytes of a submit or history event.
const SUBMIT_WORDS: usize = 21 * WORD;
/// Bytes of a cancel event.
const CANCEL_WORDS: usize = 3 * WORD;

/// [`validate_submit`] (and for a history order the check that follows it) of a plainly
/// valid submit or history event.
#[inline(always)]
fn fast_submit(
    words: &[u8],
    datas: &Datas<'_>,
    known: &mut Known<'_>,
    out: &mut Vec<Event>,
    history: bool,
) -> bool {
    let Ok(w) = <&[u8; SUBMIT_WORDS]>::try_from(words) else {
        return false;
    };
    submit_into(w, datas, known, out, history).is_some()
}

/// The body of [`fast_submit`], the order built where it is pushed.
#[inline(always)]
fn submit_into(
    w: &[u8; SUBMIT_WORDS],
    datas: &Datas<'_>,
    known: &mut Known<'_>,
    out: &mut Vec<Event>,
    history: bool,
) -> Option<()> {
    let spec = submit_check(w, |d| datas.contains(d), |r| known.contains(r), history)?.spec();
    known.new.insert(spec.oref);
    out.push(if history {
        Event::History(spec)
    } else {
        Event::Submit(spec)
    });
    Some(())
}

/// A plainly valid submit or history event, checked (see [`submit_check`]) and held as its
/// words: the numbers as their payloads (`bits`, by word from word 4, the size; word 5, the
/// exec type, unused) and which are `int`s (`ints`, a bit by the same index). Small and
/// without `Num`s, so that `Core::step_fused` writes the order's slot straight from it
/// (`OrderSlot::from_packed`), and the classic fast path builds its [`OrderSpec`] (`spec`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PackedSubmit {
    pub(crate) oref: u64,
    pub(crate) data: usize,
    pub(crate) parent: Option<u64>,
    pub(crate) oco: Option<u64>,
    pub(crate) bits: [u64; 11],
    pub(crate) ints: u16,
    pub(crate) exectype: u8,
    pub(crate) isbuy: bool,
    pub(crate) transmit: bool,
    pub(crate) check: bool,
    pub(crate) coc: bool,
    pub(crate) notified: bool,
}

/// Indexes of [`PackedSubmit::bits`] (word `k` at `k - 4`).
pub(crate) const P_SIZE: usize = 0;
pub(crate) const P_PRICE: usize = 2;
pub(crate) const P_PRICELIMIT: usize = 3;
pub(crate) const P_PCLOSE: usize = 4;
pub(crate) const P_CREATED_DT: usize = 5;
pub(crate) const P_VALID: usize = 6;
pub(crate) const P_DTEOS: usize = 7;
pub(crate) const P_TRAILAMOUNT: usize = 8;
pub(crate) const P_TRAILPERCENT: usize = 9;
pub(crate) const P_LIMITOFFSET: usize = 10;

impl PackedSubmit {
    /// Whether number `i` is an `int`.
    #[inline(always)]
    pub(crate) fn is_int(&self, i: usize) -> bool {
        self.ints >> i & 1 == 1
    }

    /// Number `i` as a [`Num`] (the value `_number` gives: an `int` within `i64`, or a
    /// `float` of the same bits).
    #[inline(always)]
    pub(crate) fn num(&self, i: usize) -> Num {
        if self.is_int(i) {
            Num::int(i128::from(self.bits[i] as i64))
        } else {
            Num::Float(f64::from_bits(self.bits[i]))
        }
    }

    /// Whether the rare values (trailing amount and percent, limit offset) are
    /// `Rare::DEFAULT`'s: the `float` `0.0` (not `-0.0`, not the `int` `0`), as `==` on
    /// numbers (type and bits) has it.
    #[inline(always)]
    pub(crate) fn rare_is_default(&self) -> bool {
        let rare = 1 << P_TRAILAMOUNT | 1 << P_TRAILPERCENT | 1 << P_LIMITOFFSET;
        self.ints & rare == 0
            && self.bits[P_TRAILAMOUNT] | self.bits[P_TRAILPERCENT] | self.bits[P_LIMITOFFSET] == 0
    }

    /// The event's [`OrderSpec`].
    #[inline(always)]
    pub(crate) fn spec(&self) -> OrderSpec {
        OrderSpec {
            oref: self.oref,
            data: self.data,
            isbuy: self.isbuy,
            size: self.num(P_SIZE),
            exectype: self.exectype,
            price: self.num(P_PRICE),
            pricelimit: self.num(P_PRICELIMIT),
            pclose: self.num(P_PCLOSE),
            created_dt: self.num(P_CREATED_DT),
            valid: self.num(P_VALID),
            dteos: self.num(P_DTEOS),
            trailamount: self.num(P_TRAILAMOUNT),
            trailpercent: self.num(P_TRAILPERCENT),
            limitoffset: self.num(P_LIMITOFFSET),
            parent: self.parent,
            oco: self.oco,
            transmit: self.transmit,
            check: self.check,
            coc: self.coc,
            notified: self.notified,
        }
    }
}

/// The order of a plainly valid submit or history event, given which datas (`has_data`) and
/// which refs (`knows`) the step knows so far; `None` for anything else.
#[inline(always)]
fn submit_check(
    w: &[u8; SUBMIT_WORDS],
    has_data: impl Fn(usize) -> bool,
    knows: impl Fn(u64) -> bool,
    history: bool,
) -> Option<PackedSubmit> {
    let oref = word_index(w, 1)?;
    if knows(oref) {
        return None;
    }
    let data = usize::try_from(word_index(w, 2)?)
        .ok()
        .filter(|&d| has_data(d))?;
    let isbuy = word_flag(w, 3)?;
    let exectype = u8::try_from(word_int(w, 5)?)
        .ok()
        .filter(|&e| e <= EXEC_HISTORICAL)?;
    let trailing = exectype == EXEC_STOPTRAIL || exectype == EXEC_STOPTRAILLIMIT;
    // Each number: an `int`, or a `float` whose bits without the sign are below `limit`:
    // `FINITE` for `_finite` (the size, words 8 to 13: not all ones in the exponent, i.e. not
    // infinite nor NaN); for the prices, [`check_price`] then `_number`, the same but for a
    // trailing stop, whose prices may be infinite (not NaN: one above); any for word 14
    // (`_number`).
    const ABS: u64 = !(1 << 63);
    const FINITE: u64 = 0x7ff0_0000_0000_0000;
    let price = FINITE + u64::from(trailing);
    let mut ints = 0u16;
    let mut num = |k: usize, limit: u64| -> Option<u64> {
        match word(w, k)? {
            (KIND_INT, payload) => {
                ints |= 1 << (k - 4);
                Some(payload)
            }
            (KIND_FLOAT, payload) if payload & ABS < limit => Some(payload),
            _ => None,
        }
    };
    let bits = [
        num(4, FINITE)?,
        0, // word 5, the exec type
        num(6, price)?,
        num(7, price)?,
        num(8, FINITE)?,
        num(9, FINITE)?,
        num(10, FINITE)?,
        num(11, FINITE)?,
        num(12, FINITE)?,
        num(13, FINITE)?,
        num(14, u64::MAX)?,
    ];
    if ints & 1 << P_SIZE != 0 && (bits[P_SIZE] as i64).unsigned_abs() > 1 << 53 {
        return None;
    }
    let parent = word_ref(w, 15, &knows)?;
    let oco = word_ref(w, 16, &knows)?;
    let transmit = word_flag(w, 17)?;
    let check = word_flag(w, 18)?;
    let coc = word_flag(w, 19)?;
    let notified = word_flag(w, 20)?;
    if notified && (parent.is_some() || !transmit) {
        return None;
    }
    // a history order stands alone
    if history && (notified || check || parent.is_some() || oco.is_some()) {
        return None;
    }
    Some(PackedSubmit {
        oref,
        data,
        parent,
        oco,
        bits,
        ints,
        exectype,
        isbuy,
        transmit,
        check,
        coc,
        notified,
    })
}

/// A plainly valid cancel event.
#[inline(always)]
fn fast_cancel(words: &[u8], known: &Known<'_>, out: &mut Vec<Event>) -> bool {
    let Some((oref, notified)) = cancel_of(words, |r| known.contains(r)) else {
        return false;
    };
    out.push(Event::Cancel { oref, notified });
    true
}

/// The `(ref, notified)` of a plainly valid cancel event, given which refs the step knows so
/// far (`knows`); `None` for anything else.
#[inline(always)]
fn cancel_of(words: &[u8], knows: impl Fn(u64) -> bool) -> Option<(u64, bool)> {
    let w = <&[u8; CANCEL_WORDS]>::try_from(words).ok()?;
    let oref = word_index(w, 1).filter(|&r| knows(r))?;
    let notified = word_flag(w, 2)?;
    Some((oref, notified))
}

/// The tag of an event `Core::step_fused` may apply as it is read: a submit or a cancel. (A
/// history event is not: its ref is known to the rest of its step's checks, not to the core's
/// ref table.)
#[inline(always)]
pub(crate) fn fused_tag(words: &[u8]) -> bool {
    matches!(word_int(words, 0), Some(2 | 3))
}

/// A plainly valid submit event, checked against the core as it is now: the datas it has (a
/// step without data events, whose datas are those of `Datas::new(core)`) and the refs of its
/// table (after the step's earlier submits were applied, those of `Known`: see
/// `Core::step_fused`). The checks of [`fast_event`] in the same terms; `None` for anything
/// else (nothing is said about it: the caller runs the checks of [`validate_into`]).
#[inline(always)]
pub(crate) fn fused_submit(core: &Core, words: &[u8]) -> Option<PackedSubmit> {
    if word_int(words, 0)? != 2 {
        return None;
    }
    let w = <&[u8; SUBMIT_WORDS]>::try_from(words).ok()?;
    submit_check(w, |d| core.comm.contains(d), |r| core.knows_ref(r), false)
}

/// [`fused_submit`] of a cancel event: its `(ref, notified)`.
#[inline(always)]
pub(crate) fn fused_cancel(core: &Core, words: &[u8]) -> Option<(u64, bool)> {
    if word_int(words, 0)? != 3 {
        return None;
    }
    cancel_of(words, |r| core.knows_ref(r))
}

/// A plainly valid bar (of a registered data without one yet), pushed onto `out` and its
/// data marked in `seen`; `false`, with nothing done, for anything else.
#[inline(always)]
fn fast_bar(words: &[u8], registered: &[usize], seen: &mut [bool], out: &mut Vec<Bar>) -> bool {
    let Some((slot, bar)) = bar_of(words, registered, seen) else {
        return false;
    };
    seen[slot] = true;
    out.push(bar);
    true
}

#[inline(always)]
fn bar_of(words: &[u8], registered: &[usize], seen: &[bool]) -> Option<(usize, Bar)> {
    let w: &[u8; BAR_LENGTH * WORD] = words.try_into().ok()?;
    let data = usize::try_from(word_index(w, 0)?).ok()?;
    let slot = registered.binary_search(&data).ok()?;
    if *seen.get(slot)? {
        return None;
    }
    let bar = Bar {
        data,
        dt: word_number(w, 1)?,
        open: word_number(w, 2)?,
        high: word_number(w, 3)?,
        low: word_number(w, 4)?,
        close: word_number(w, 5)?,
        mark: word_number(w, 6)?,
        volume: word_number(w, 7)?,
        rhigh: word_number(w, 8)?,
        rlow: word_number(w, 9)?,
        pdt: word_number(w, 10)?,
        phigh: word_number(w, 11)?,
        plow: word_number(w, 12)?,
        pvolume: word_number(w, 13)?,
        day: i128::from(word_int(w, 14)?),
    };
    Some((slot, bar))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// One packed word.
    fn put(out: &mut Vec<u8>, kind: u8, payload: u64) {
        out.push(kind);
        out.extend_from_slice(&payload.to_le_bytes());
    }

    /// A number as its packed word.
    fn put_num(out: &mut Vec<u8>, v: Num) {
        match v {
            Num::Int(i) => put(out, KIND_INT, i.get() as i64 as u64),
            Num::Float(x) => put(out, KIND_FLOAT, x.to_bits()),
        }
    }

    /// The packed words of the submit event of `spec`.
    fn submit_words(spec: &OrderSpec) -> Vec<u8> {
        let mut w = Vec::new();
        put(&mut w, KIND_INT, 2);
        put(&mut w, KIND_INT, spec.oref);
        put(&mut w, KIND_INT, spec.data as u64);
        put(&mut w, KIND_BOOL, u64::from(spec.isbuy));
        put_num(&mut w, spec.size);
        put(&mut w, KIND_INT, u64::from(spec.exectype));
        for v in [
            spec.price,
            spec.pricelimit,
            spec.pclose,
            spec.created_dt,
            spec.valid,
            spec.dteos,
            spec.trailamount,
            spec.trailpercent,
            spec.limitoffset,
        ] {
            put_num(&mut w, v);
        }
        for r in [spec.parent, spec.oco] {
            put(&mut w, KIND_INT, r.map_or(u64::MAX, |r| r)); // -1: none
        }
        for b in [spec.transmit, spec.check, spec.coc, spec.notified] {
            put(&mut w, KIND_BOOL, u64::from(b));
        }
        w
    }

    /// The slot and rare entry `Core::step_fused` writes for a submit are those
    /// `Core::new_order` writes for the same event's `OrderSpec`: every exec type, `int` and
    /// `float` numbers, with and without a valid, a parent, an oco, rare values.
    #[test]
    fn fused_slot_is_new_orders() {
        use crate::comm::CommSpec;
        use crate::event::Event;
        let f = Num::Float;
        let i = Num::int;
        let mut core = Core::new(f(1e6), true, true, f(100.0)).expect("a valid core");
        let comm = CommSpec::basic(true, true, f(0.001), f(1.0), f(0.0), f(0.0), f(1.0));
        let base = OrderSpec {
            oref: 1,
            data: 0,
            isbuy: true,
            size: i(10),
            exectype: 2,
            price: f(100.0),
            pricelimit: f(100.0),
            pclose: f(99.5),
            created_dt: f(738_000.5),
            valid: f(0.0),
            dteos: f(738_000.99),
            trailamount: f(0.0),
            trailpercent: f(0.0),
            limitoffset: f(0.0),
            parent: None,
            oco: None,
            transmit: false,
            check: true,
            coc: true,
            notified: false,
        };
        core.apply(&[
            Event::Data { data: 0, comm },
            Event::Data { data: 3, comm },
            Event::Submit(base),
            Event::Submit(OrderSpec { oref: 2, ..base }),
        ])
        .expect("a valid start");
        let sizes = [
            i(10),
            i(-7),
            i(1 << 53),
            i(-(1 << 53)),
            f(2.5),
            f(-0.25),
            f(-0.0),
        ];
        let nums = [f(0.0), f(-0.0), i(0), i(-3), f(1.5), f(1e300)];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut fused = 0;
        let mut rare = 0;
        for round in 0..4000 {
            let exectype = (round % 8) as u8;
            let trailing = exectype == EXEC_STOPTRAIL || exectype == EXEC_STOPTRAILLIMIT;
            let mut prices = nums.to_vec();
            if trailing {
                prices.push(f(f64::INFINITY));
            }
            let mut offsets = nums.to_vec();
            offsets.extend([f(f64::NAN), f(f64::NEG_INFINITY)]);
            let pick = |next: &mut dyn FnMut(usize) -> usize, from: &[Num]| {
                // mostly the plain defaults
                if next(3) == 0 {
                    from[next(from.len())]
                } else {
                    from[0]
                }
            };
            let notified = next(6) == 0;
            let spec = OrderSpec {
                oref: 10 + round,
                data: [0, 3][next(2)],
                isbuy: next(2) == 0,
                size: sizes[next(sizes.len())],
                exectype,
                price: prices[next(prices.len())],
                pricelimit: prices[next(prices.len())],
                pclose: nums[next(nums.len())],
                created_dt: nums[next(nums.len())],
                valid: nums[next(nums.len())],
                dteos: nums[next(nums.len())],
                trailamount: pick(&mut next, &nums),
                trailpercent: pick(&mut next, &nums),
                limitoffset: pick(&mut next, &offsets),
                parent: [None, Some(1)][usize::from(!notified) * next(2)],
                oco: [None, Some(2), Some(1)][next(3)],
                transmit: notified || next(2) == 0,
                check: next(2) == 0,
                coc: next(2) == 0,
                notified,
            };
            let words = submit_words(&spec);
            let packed = fused_submit(&core, &words).expect("a plainly valid submit");
            fused += 1;
            assert_eq!(packed.spec(), spec, "{round}: the spec");
            let mut classic = core.clone();
            let mut direct = core.clone();
            let a = classic.new_order(&spec).expect("an order");
            let b = direct.new_packed_order(&packed).expect("an order");
            assert_eq!(a, b);
            assert_eq!(
                format!("{:?}", classic.orders[a]),
                format!("{:?}", direct.orders[b]),
                "{round}: the slots differ"
            );
            assert_eq!(classic.rare, direct.rare, "{round}: the rare values differ");
            assert_eq!(
                format!("{:?}", classic.wide),
                format!("{:?}", direct.wide),
                "{round}: the wide ints differ"
            );
            rare += usize::from(!packed.rare_is_default());
        }
        assert_eq!(fused, 4000);
        assert!(rare > 500 && rare < 3500, "{rare} orders with rare values");
    }

    /// `NewRefs` answers as a set, whatever the order of the refs.
    #[test]
    fn new_refs_are_a_set() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..200 {
            let mut refs = NewRefs::Sorted(Vec::new());
            let mut model = HashSet::new();
            for k in 0..(round % 40) {
                // mostly increasing, now and then anything
                let oref = if next() % 5 == 0 {
                    next() % 100
                } else {
                    k * 3 + next() % 3
                };
                assert_eq!(refs.contains(oref), model.contains(&oref));
                if model.insert(oref) {
                    refs.insert(oref);
                }
                for probe in 0..130 {
                    assert_eq!(refs.contains(probe), model.contains(&probe));
                }
            }
        }
    }
}
