//! Orders inside the core (the adapter owns Backtrader's order objects and status codes).

use crate::error::CoreError;
use crate::event::{OrderSpec, Record, EXEC_MARKET, EXEC_STOPTRAILLIMIT};
use crate::num::{Num, FZERO};
use crate::validate::{
    PackedSubmit, P_CREATED_DT, P_DTEOS, P_LIMITOFFSET, P_PCLOSE, P_PRICE, P_PRICELIMIT, P_SIZE,
    P_TRAILAMOUNT, P_TRAILPERCENT, P_VALID,
};

/// Where an order is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderState {
    /// Held in a bracket group, not transmitted.
    Created,
    /// Waiting for the submit check.
    Submitted,
    /// Accepted, alive.
    Pending,
    /// Completed, cancelled, expired, margin or rejected.
    Done,
}

/// An order (the Python core's `_Order`), whole: what [`Core::order`](crate::Core::order) and
/// snapshots give (the core holds it as an [`OrderSlot`] and its [`Rare`] values).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Order {
    /// Order reference.
    pub oref: u64,
    /// Data index.
    pub data: usize,
    /// A buy order.
    pub isbuy: bool,
    /// Signed size as submitted.
    pub size: Num,
    /// Size still to execute.
    pub remsize: Num,
    /// Execution type (`EXEC_*`).
    pub exectype: u8,
    /// `order.created.price` (moved by a trailing stop).
    pub price: Num,
    /// `order.created.pricelimit`.
    pub pricelimit: Num,
    /// `order.created.pclose`.
    pub pclose: Num,
    /// `order.created.dt`.
    pub created_dt: Num,
    /// `order.valid` (`0.0`: good till cancelled).
    pub valid: Num,
    /// `order.dteos`.
    pub dteos: Num,
    /// `order.trailamount`.
    pub trailamount: Num,
    /// `order.trailpercent`.
    pub trailpercent: Num,
    /// `order._limitoffset`.
    pub limitoffset: Num,
    /// Reference of the bracket parent.
    pub parent: Option<u64>,
    /// `order.transmit`.
    pub transmit: bool,
    /// `order.info.get("coc", True)`.
    pub coc: bool,
    /// Where the order is.
    pub state: OrderState,
    /// Not a bracket child waiting for its parent's execution.
    pub active: bool,
    /// A StopLimit whose stop was reached.
    pub triggered: bool,
    /// The close annotated by a Close order.
    pub pannotated: Option<Num>,
    /// Completed (not merely done).
    pub completed: bool,
}

impl Order {
    /// `_Order(ev)`.
    #[must_use]
    pub fn new(spec: &OrderSpec) -> Self {
        let mut wide = Wide::default();
        OrderSlot::from_spec(spec, NO_RARE, &mut wide).order(&Rare::of_spec(spec), &wide)
    }

    /// `order.alive()`.
    #[must_use]
    pub fn alive(&self) -> bool {
        matches!(
            self.state,
            OrderState::Created | OrderState::Submitted | OrderState::Pending
        )
    }

    /// `Order.expire()`'s test.
    #[must_use]
    pub fn expired(&self, dt0: Num) -> bool {
        if self.exectype == EXEC_MARKET {
            return false;
        }
        self.valid.truthy() && dt0.gt(self.valid)
    }
}

/// The values of an order that are almost always their defaults: the trailing amounts of a
/// trailing stop and the close annotated by a Close order. They live beside the order table
/// ([`OrderSlot::rare`]), so that the table's slots, written once per order and read at every
/// bar, stay small.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Rare {
    pub(crate) trailamount: Num,
    pub(crate) trailpercent: Num,
    pub(crate) limitoffset: Num,
    pub(crate) pannotated: Option<Num>,
}

impl Rare {
    /// An order's rare values when it has no entry (the values of an order the adapter built
    /// without trailing: `0.0`, `0.0`, `0.0`, and no annotated close).
    /// The rare values of `_Order(ev)`.
    #[inline(always)]
    pub(crate) fn of_spec(spec: &OrderSpec) -> Rare {
        Rare {
            trailamount: spec.trailamount,
            trailpercent: spec.trailpercent,
            limitoffset: spec.limitoffset,
            pannotated: None,
        }
    }

    /// [`Rare::of_spec`] of a checked packed submit.
    #[inline(always)]
    pub(crate) fn of_packed(p: &PackedSubmit) -> Rare {
        Rare {
            trailamount: p.num(P_TRAILAMOUNT),
            trailpercent: p.num(P_TRAILPERCENT),
            limitoffset: p.num(P_LIMITOFFSET),
            pannotated: None,
        }
    }

    pub(crate) const DEFAULT: Rare = Rare {
        trailamount: FZERO,
        trailpercent: FZERO,
        limitoffset: FZERO,
        pannotated: None,
    };
}

/// No entry in the table of rare values.
pub(crate) const NO_RARE: u32 = u32::MAX;

/// The ints of the order table beyond the `i64` range (legal: the core's ints are `i128`):
/// an [`OrderSlot`] holds such a number as its index here. Entries are only added (a number
/// that becomes wide again reuses its entry only while it stays wide), so an index stays valid.
#[derive(Clone, Debug, Default)]
pub(crate) struct Wide(Vec<i128>);

/// How a number of an [`OrderSlot`] is held: two bits a number in [`OrderSlot::tags`], and the
/// number's 8 bytes in its field.
type Tag = u16;
/// A `float`: the field is its bits.
const FLOAT: Tag = 0;
/// An `int` within `i64`: the field is its two's complement.
const INT: Tag = 1;
/// An `int` beyond `i64`: the field is its index in [`Wide`].
const WIDE: Tag = 2;

/// The numbers of an [`OrderSlot`], by their position in [`OrderSlot::tags`].
#[derive(Clone, Copy)]
enum Field {
    Remsize = 0,
    Price = 1,
    Pricelimit = 2,
    Valid = 3,
    Size = 4,
    Pclose = 5,
    CreatedDt = 6,
    Dteos = 7,
}

/// A number as it is held in a slot: its bits and tag (a wide int is added to `wide`).
#[inline(always)]
fn pack(v: Num, wide: &mut Wide) -> (u64, Tag) {
    match v {
        Num::Float(x) => (x.to_bits(), FLOAT),
        Num::Int(i) => match i64::try_from(i.get()) {
            Ok(small) => (small as u64, INT),
            Err(_) => pack_wide(i.get(), wide),
        },
    }
}

#[cold]
#[inline(never)]
fn pack_wide(v: i128, wide: &mut Wide) -> (u64, Tag) {
    wide.0.push(v);
    ((wide.0.len() - 1) as u64, WIDE)
}

/// The tags of the numbers, by [`Field`], as [`OrderSlot::tags`] holds them.
#[inline(always)]
fn tags(t: [Tag; 8]) -> Tag {
    t[0] | t[1] << 2 | t[2] << 4 | t[3] << 6 | t[4] << 8 | t[5] << 10 | t[6] << 12 | t[7] << 14
}

/// The number held as `bits` with tag `tag`.
#[inline(always)]
fn unpack(bits: u64, tag: Tag, wide: &Wide) -> Num {
    match tag {
        FLOAT => Num::Float(f64::from_bits(bits)),
        INT => Num::int(i128::from(bits as i64)),
        _ => unpack_wide(bits, wide),
    }
}

#[cold]
#[inline(never)]
fn unpack_wide(bits: u64, wide: &Wide) -> Num {
    // (an index this table gave: below its length, hence within usize)
    Num::int(wide.0[bits as usize])
}

/// An order in the core's order table: an [`Order`] without its [`Rare`] values, which are in
/// the core's `rare` table at index `rare` (or [`Rare::DEFAULT`] when `rare` is [`NO_RARE`]).
///
/// 104 bytes (24-byte `Num`s made it 240): each number is 8 bytes, a `float`'s bits or an `int`
/// within `i64`, and a two-bit tag in `tags`; an `int` beyond `i64` is in the core's [`Wide`]
/// table, which every read and write of a number is given. The numbers and flags the pending
/// loop reads at every bar (expiry, matching) come first.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct OrderSlot {
    remsize: u64,
    price: u64,
    pricelimit: u64,
    valid: u64,
    pub(crate) oref: u64,
    pub(crate) data: usize,
    /// The tag of each number (two bits each, by [`Field`]).
    tags: Tag,
    pub(crate) state: OrderState,
    pub(crate) exectype: u8,
    pub(crate) isbuy: bool,
    pub(crate) active: bool,
    pub(crate) triggered: bool,
    pub(crate) completed: bool,
    pub(crate) coc: bool,
    pub(crate) transmit: bool,
    has_parent: bool,
    /// Index of the order's entry in the core's `rare` table, or [`NO_RARE`].
    pub(crate) rare: u32,
    size: u64,
    pclose: u64,
    created_dt: u64,
    dteos: u64,
    /// The parent's reference when `has_parent`.
    parent: u64,
}

const _: () = assert!(size_of::<OrderSlot>() == 104 && align_of::<OrderSlot>() == 8);
// the fields read at every bar in the first 64 bytes
const _: () = assert!(std::mem::offset_of!(OrderSlot, rare) == 60);

/// The getters of the numbers of [`OrderSlot`], and the setters of those that change after the
/// order is created.
macro_rules! numbers {
    ($($field:ident: $tag:expr $(, $set:ident)?;)*) => {
        $(
            #[doc = concat!("`", stringify!($field), "`.")]
            #[must_use]
            #[inline(always)]
            pub(crate) fn $field(&self, wide: &Wide) -> Num {
                unpack(self.$field, self.tag($tag), wide)
            }

            $(
                #[doc = concat!("Set `", stringify!($field), "`.")]
                #[inline(always)]
                pub(crate) fn $set(&mut self, v: Num, wide: &mut Wide) {
                    let (bits, tag) = self.repack(self.$field, $tag, v, wide);
                    self.$field = bits;
                    self.set_tag($tag, tag);
                }
            )?
        )*
    };
}

impl OrderSlot {
    numbers! {
        remsize: Field::Remsize, set_remsize;
        price: Field::Price, set_price;
        pricelimit: Field::Pricelimit, set_pricelimit;
        valid: Field::Valid;
        size: Field::Size;
        pclose: Field::Pclose;
        created_dt: Field::CreatedDt;
        dteos: Field::Dteos;
    }

    #[inline(always)]
    fn tag(&self, f: Field) -> Tag {
        (self.tags >> (2 * f as u32)) & 3
    }

    #[inline(always)]
    fn set_tag(&mut self, f: Field, tag: Tag) {
        let at = 2 * f as u32;
        self.tags = (self.tags & !(3 << at)) | (tag << at);
    }

    /// The bits and tag of field `f` (now `bits`) set to `v`: a wide int replaces the entry of
    /// a wide field in place.
    #[inline(always)]
    fn repack(&self, bits: u64, f: Field, v: Num, wide: &mut Wide) -> (u64, Tag) {
        if let Num::Int(i) = v {
            if i64::try_from(i.get()).is_err() && self.tag(f) == WIDE {
                wide.0[bits as usize] = i.get();
                return (bits, WIDE);
            }
        }
        pack(v, wide)
    }

    /// Reference of the bracket parent.
    #[must_use]
    #[inline(always)]
    pub(crate) fn parent(&self) -> Option<u64> {
        self.has_parent.then_some(self.parent)
    }

    /// The slot of `order`, its rare values at `rare` (`NO_RARE` when they are the defaults).
    #[inline(always)]
    pub(crate) fn new(order: &Order, rare: u32, wide: &mut Wide) -> Self {
        let (remsize, t0) = pack(order.remsize, wide);
        let (price, t1) = pack(order.price, wide);
        let (pricelimit, t2) = pack(order.pricelimit, wide);
        let (valid, t3) = pack(order.valid, wide);
        let (size, t4) = pack(order.size, wide);
        let (pclose, t5) = pack(order.pclose, wide);
        let (created_dt, t6) = pack(order.created_dt, wide);
        let (dteos, t7) = pack(order.dteos, wide);
        OrderSlot {
            remsize,
            price,
            pricelimit,
            valid,
            oref: order.oref,
            data: order.data,
            tags: tags([t0, t1, t2, t3, t4, t5, t6, t7]),
            state: order.state,
            exectype: order.exectype,
            isbuy: order.isbuy,
            active: order.active,
            triggered: order.triggered,
            completed: order.completed,
            coc: order.coc,
            transmit: order.transmit,
            has_parent: order.parent.is_some(),
            rare,
            size,
            pclose,
            created_dt,
            dteos,
            parent: order.parent.unwrap_or(0),
        }
    }

    /// `_Order(ev)`'s slot, its rare values at `rare` (`NO_RARE` when they are the defaults).
    #[inline(always)]
    pub(crate) fn from_spec(spec: &OrderSpec, rare: u32, wide: &mut Wide) -> Self {
        let (size, t4) = pack(spec.size, wide);
        // (a wide size needs an entry of its own for the remaining size, written on fills)
        let (remsize, t0) = if t4 == WIDE {
            pack(spec.size, wide)
        } else {
            (size, t4)
        };
        let (price, t1) = pack(spec.price, wide);
        let (pricelimit, t2) = pack(spec.pricelimit, wide);
        let (valid, t3) = pack(spec.valid, wide);
        let (pclose, t5) = pack(spec.pclose, wide);
        let (created_dt, t6) = pack(spec.created_dt, wide);
        let (dteos, t7) = pack(spec.dteos, wide);
        OrderSlot {
            remsize,
            price,
            pricelimit,
            valid,
            oref: spec.oref,
            data: spec.data,
            tags: tags([t0, t1, t2, t3, t4, t5, t6, t7]),
            state: OrderState::Created,
            exectype: spec.exectype,
            isbuy: spec.isbuy,
            active: spec.parent.is_none(),
            triggered: false,
            completed: false,
            coc: spec.coc,
            transmit: spec.transmit,
            has_parent: spec.parent.is_some(),
            rare,
            size,
            pclose,
            created_dt,
            dteos,
            parent: spec.parent.unwrap_or(0),
        }
    }

    /// [`OrderSlot::from_spec`] of a checked packed submit, its rare values at `rare`: the
    /// same slot, written from the words (a packed number is a `float` or an `int` within
    /// `i64`, held as its payload: never wide).
    #[inline(always)]
    pub(crate) fn from_packed(p: &PackedSubmit, rare: u32) -> Self {
        let tag = |i: usize| Tag::from(p.is_int(i)) * INT;
        let size = tag(P_SIZE);
        OrderSlot {
            remsize: p.bits[P_SIZE],
            price: p.bits[P_PRICE],
            pricelimit: p.bits[P_PRICELIMIT],
            valid: p.bits[P_VALID],
            oref: p.oref,
            data: p.data,
            tags: tags([
                size,
                tag(P_PRICE),
                tag(P_PRICELIMIT),
                tag(P_VALID),
                size,
                tag(P_PCLOSE),
                tag(P_CREATED_DT),
                tag(P_DTEOS),
            ]),
            state: OrderState::Created,
            exectype: p.exectype,
            isbuy: p.isbuy,
            active: p.parent.is_none(),
            triggered: false,
            completed: false,
            coc: p.coc,
            transmit: p.transmit,
            has_parent: p.parent.is_some(),
            rare,
            size: p.bits[P_SIZE],
            pclose: p.bits[P_PCLOSE],
            created_dt: p.bits[P_CREATED_DT],
            dteos: p.bits[P_DTEOS],
            parent: p.parent.unwrap_or(0),
        }
    }

    /// The whole order, with its rare values.
    #[must_use]
    pub(crate) fn order(&self, rare: &Rare, wide: &Wide) -> Order {
        Order {
            oref: self.oref,
            data: self.data,
            isbuy: self.isbuy,
            size: self.size(wide),
            remsize: self.remsize(wide),
            exectype: self.exectype,
            price: self.price(wide),
            pricelimit: self.pricelimit(wide),
            pclose: self.pclose(wide),
            created_dt: self.created_dt(wide),
            valid: self.valid(wide),
            dteos: self.dteos(wide),
            trailamount: rare.trailamount,
            trailpercent: rare.trailpercent,
            limitoffset: rare.limitoffset,
            parent: self.parent(),
            transmit: self.transmit,
            coc: self.coc,
            state: self.state,
            active: self.active,
            triggered: self.triggered,
            pannotated: rare.pannotated,
            completed: self.completed,
        }
    }

    /// `order.alive()`.
    #[must_use]
    #[inline(always)]
    pub(crate) fn alive(&self) -> bool {
        matches!(
            self.state,
            OrderState::Created | OrderState::Submitted | OrderState::Pending
        )
    }

    /// `Order.expire()`'s test.
    #[must_use]
    #[inline(always)]
    pub(crate) fn expired(&self, dt0: Num, wide: &Wide) -> bool {
        if self.exectype == EXEC_MARKET {
            return false;
        }
        let valid = self.valid(wide);
        valid.truthy() && dt0.gt(valid)
    }

    /// `Order.trailadjust`: move the stop (and limit) with the close, never back.
    pub(crate) fn trailadjust(
        &mut self,
        rare: &Rare,
        wide: &mut Wide,
        mut price: Num,
        records: &mut Vec<Record>,
    ) -> Result<(), CoreError> {
        let pamount = if rare.trailamount.truthy() {
            rare.trailamount
        } else if rare.trailpercent.truthy() {
            price.times(rare.trailpercent)?
        } else {
            FZERO
        };
        let moved = if self.isbuy {
            price = price.plus(pamount)?;
            price.lt(self.price(wide))
        } else {
            price = price.minus(pamount)?;
            price.gt(self.price(wide))
        };
        if moved {
            self.set_price(price, wide);
            if self.exectype == EXEC_STOPTRAILLIMIT {
                self.set_pricelimit(price.minus(rare.limitoffset)?, wide);
            }
            records.push(Record::Trail {
                oref: self.oref,
                price: self.price(wide),
                pricelimit: self.pricelimit(wide),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every class of number: ints at the `i64` edges and beyond, up to the `i128` limits;
    /// signed zeros, infinities, NaNs with payloads and signs.
    fn numbers() -> Vec<Num> {
        let mut out: Vec<Num> = [
            0,
            1,
            -1,
            i128::from(i64::MAX),
            i128::from(i64::MAX) + 1,
            i128::from(i64::MIN),
            i128::from(i64::MIN) - 1,
            i128::from(u64::MAX),
            1 << 100,
            -(1 << 100),
            i128::MAX,
            i128::MIN,
        ]
        .into_iter()
        .map(Num::int)
        .collect();
        out.extend(
            [
                0.0,
                -0.0,
                1.5,
                f64::MAX,
                f64::MIN_POSITIVE,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::from_bits(0x7ff8_0000_0000_0000),
                f64::from_bits(0x7ff8_0000_0000_0001),
                f64::from_bits(0xfff8_dead_beef_0001),
                f64::from_bits(0x7ff0_0000_0000_0001), // signalling
                f64::from_bits(1),                     // subnormal
            ]
            .into_iter()
            .map(Num::Float),
        );
        out
    }

    /// `==` on `Num` is identity (type and bits), so these compare the exact value.
    #[test]
    fn every_number_reads_back_whole() {
        let mut wide = Wide::default();
        for v in numbers() {
            let (bits, tag) = pack(v, &mut wide);
            assert_eq!(unpack(bits, tag, &wide), v, "{v:?}");
            let wide_int = v.as_int().is_some_and(|i| i64::try_from(i).is_err());
            assert_eq!(tag == WIDE, wide_int, "{v:?}");
            assert_eq!(tag == FLOAT, v.as_int().is_none(), "{v:?}");
        }
        // one entry for each int beyond i64
        assert_eq!(wide.0.len(), 7);
    }

    fn spec(size: Num) -> OrderSpec {
        OrderSpec {
            oref: 7,
            data: 3,
            isbuy: true,
            size,
            exectype: EXEC_STOPTRAILLIMIT,
            price: Num::int(i128::MIN),
            pricelimit: Num::Float(-0.0),
            pclose: Num::int(i128::from(i64::MIN)),
            created_dt: Num::Float(f64::NAN),
            valid: Num::int(i128::MAX),
            dteos: Num::int(1 << 64),
            trailamount: FZERO,
            trailpercent: FZERO,
            limitoffset: FZERO,
            parent: Some(u64::MAX),
            oco: None,
            transmit: false,
            check: true,
            coc: true,
            notified: false,
        }
    }

    #[test]
    fn slots_hold_their_orders_whole() {
        let mut wide = Wide::default();
        for size in numbers() {
            let spec = spec(size);
            let order = Order::new(&spec);
            assert_eq!(order.size, size);
            assert_eq!(order.remsize, size);
            assert_eq!(order.price, spec.price);
            assert_eq!(order.pricelimit, spec.pricelimit);
            assert_eq!(order.pclose, spec.pclose);
            assert_eq!(order.created_dt, spec.created_dt);
            assert_eq!(order.valid, spec.valid);
            assert_eq!(order.dteos, spec.dteos);
            assert_eq!(order.parent, Some(u64::MAX));
            assert!(!order.active && !order.transmit && order.coc && order.isbuy);
            let slot = OrderSlot::new(&order, 5, &mut wide);
            assert_eq!(slot.order(&Rare::DEFAULT, &wide), order);
            assert_eq!(slot.rare, 5);
        }
        let order = Order {
            parent: None,
            ..Order::new(&spec(ZERO_INT))
        };
        let slot = OrderSlot::new(&order, NO_RARE, &mut wide);
        assert_eq!(slot.parent(), None);
        assert_eq!(slot.order(&Rare::DEFAULT, &wide), order);
    }

    const ZERO_INT: Num = Num::int(0);

    /// Writes that switch a number between the 8 bytes of its field and the wide table, and
    /// back, leave the other numbers alone.
    #[test]
    fn writes_switch_between_narrow_and_wide() {
        let mut wide = Wide::default();
        let spec = spec(Num::int(1 << 70));
        let mut slot = OrderSlot::from_spec(&spec, NO_RARE, &mut wide);
        let before = slot.order(&Rare::DEFAULT, &wide);
        let entries = wide.0.len();
        let mut expect = before;
        for v in numbers().into_iter().chain(numbers().into_iter().rev()) {
            slot.set_remsize(v, &mut wide);
            slot.set_price(v, &mut wide);
            slot.set_pricelimit(v, &mut wide);
            expect.remsize = v;
            expect.price = v;
            expect.pricelimit = v;
            assert_eq!(slot.order(&Rare::DEFAULT, &wide), expect, "{v:?}");
        }
        // the other numbers, among them the wide ones, are untouched
        assert_eq!(slot.size(&wide), before.size);
        assert_eq!(slot.valid(&wide), before.valid);
        assert_eq!(slot.dteos(&wide), before.dteos);
        assert_eq!(slot.price(&wide), numbers()[0]);
        // a wide number written over a wide one reuses its entry
        slot.set_remsize(Num::int(1 << 90), &mut wide);
        let n = wide.0.len();
        slot.set_remsize(Num::int(-(1 << 90)), &mut wide);
        assert_eq!(wide.0.len(), n);
        assert_eq!(slot.remsize(&wide), Num::int(-(1 << 90)));
        assert!(wide.0.len() > entries);
        // and each setter sets its own tag only
        let fresh = OrderSlot::from_spec(&spec, NO_RARE, &mut wide);
        let base = fresh.order(&Rare::DEFAULT, &wide);
        let v = Num::Float(2.0);
        let mut slot = fresh;
        slot.set_remsize(v, &mut wide);
        assert_eq!(
            slot.order(&Rare::DEFAULT, &wide),
            Order { remsize: v, ..base }
        );
        let mut slot = fresh;
        slot.set_price(v, &mut wide);
        assert_eq!(
            slot.order(&Rare::DEFAULT, &wide),
            Order { price: v, ..base }
        );
        let mut slot = fresh;
        slot.set_pricelimit(v, &mut wide);
        assert_eq!(
            slot.order(&Rare::DEFAULT, &wide),
            Order {
                pricelimit: v,
                ..base
            }
        );
    }

    #[test]
    fn expiry_reads_a_wide_valid() {
        let mut wide = Wide::default();
        let slot = OrderSlot::from_spec(&spec(Num::int(1)), NO_RARE, &mut wide);
        assert!(!slot.expired(Num::Float(1e38), &wide));
        assert!(slot.expired(Num::Float(f64::MAX), &wide));
        assert!(!slot.expired(Num::int(i128::MAX), &wide));
        let spec = OrderSpec {
            valid: Num::int(i128::from(i64::MAX) + 1),
            ..spec(Num::int(1))
        };
        let slot = OrderSlot::from_spec(&spec, NO_RARE, &mut wide);
        assert!(slot.expired(Num::int(i128::from(i64::MAX) + 2), &wide));
        assert!(!slot.expired(Num::int(i128::from(i64::MAX) + 1), &wide));
    }
}
