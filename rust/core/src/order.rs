//! Orders inside the core (the adapter owns Backtrader's order objects and status codes).

use crate::error::CoreError;
use crate::event::{OrderSpec, Record, EXEC_MARKET, EXEC_STOPTRAILLIMIT};
use crate::num::{Num, FZERO};

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
        OrderSlot::from_spec(spec, NO_RARE).order(&Rare::of_spec(spec))
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

    pub(crate) const DEFAULT: Rare = Rare {
        trailamount: FZERO,
        trailpercent: FZERO,
        limitoffset: FZERO,
        pannotated: None,
    };
}

/// No entry in the table of rare values.
pub(crate) const NO_RARE: usize = usize::MAX;

/// An order in the core's order table: an [`Order`] without its [`Rare`] values, which are in
/// the core's `rare` table at index `rare` (or [`Rare::DEFAULT`] when `rare` is [`NO_RARE`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct OrderSlot {
    pub(crate) oref: u64,
    pub(crate) data: usize,
    pub(crate) isbuy: bool,
    pub(crate) size: Num,
    pub(crate) remsize: Num,
    pub(crate) exectype: u8,
    pub(crate) price: Num,
    pub(crate) pricelimit: Num,
    pub(crate) pclose: Num,
    pub(crate) created_dt: Num,
    pub(crate) valid: Num,
    pub(crate) dteos: Num,
    pub(crate) parent: Option<u64>,
    pub(crate) transmit: bool,
    pub(crate) coc: bool,
    pub(crate) state: OrderState,
    pub(crate) active: bool,
    pub(crate) triggered: bool,
    pub(crate) completed: bool,
    /// Index of the order's entry in the core's `rare` table, or [`NO_RARE`].
    pub(crate) rare: usize,
}

impl OrderSlot {
    /// The slot of `order`, its rare values at `rare` (`NO_RARE` when they are the defaults).
    #[inline(always)]
    pub(crate) fn new(order: &Order, rare: usize) -> Self {
        OrderSlot {
            oref: order.oref,
            data: order.data,
            isbuy: order.isbuy,
            size: order.size,
            remsize: order.remsize,
            exectype: order.exectype,
            price: order.price,
            pricelimit: order.pricelimit,
            pclose: order.pclose,
            created_dt: order.created_dt,
            valid: order.valid,
            dteos: order.dteos,
            parent: order.parent,
            transmit: order.transmit,
            coc: order.coc,
            state: order.state,
            active: order.active,
            triggered: order.triggered,
            completed: order.completed,
            rare,
        }
    }

    /// `_Order(ev)`'s slot, its rare values at `rare` (`NO_RARE` when they are the defaults).
    #[inline(always)]
    pub(crate) fn from_spec(spec: &OrderSpec, rare: usize) -> Self {
        OrderSlot {
            oref: spec.oref,
            data: spec.data,
            isbuy: spec.isbuy,
            size: spec.size,
            remsize: spec.size,
            exectype: spec.exectype,
            price: spec.price,
            pricelimit: spec.pricelimit,
            pclose: spec.pclose,
            created_dt: spec.created_dt,
            valid: spec.valid,
            dteos: spec.dteos,
            parent: spec.parent,
            transmit: spec.transmit,
            coc: spec.coc,
            state: OrderState::Created,
            active: spec.parent.is_none(),
            triggered: false,
            completed: false,
            rare,
        }
    }

    /// The whole order, with its rare values.
    #[must_use]
    pub(crate) fn order(&self, rare: &Rare) -> Order {
        Order {
            oref: self.oref,
            data: self.data,
            isbuy: self.isbuy,
            size: self.size,
            remsize: self.remsize,
            exectype: self.exectype,
            price: self.price,
            pricelimit: self.pricelimit,
            pclose: self.pclose,
            created_dt: self.created_dt,
            valid: self.valid,
            dteos: self.dteos,
            trailamount: rare.trailamount,
            trailpercent: rare.trailpercent,
            limitoffset: rare.limitoffset,
            parent: self.parent,
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
    pub(crate) fn expired(&self, dt0: Num) -> bool {
        if self.exectype == EXEC_MARKET {
            return false;
        }
        self.valid.truthy() && dt0.gt(self.valid)
    }

    /// `Order.trailadjust`: move the stop (and limit) with the close, never back.
    pub(crate) fn trailadjust(
        &mut self,
        rare: &Rare,
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
            price.lt(self.price)
        } else {
            price = price.minus(pamount)?;
            price.gt(self.price)
        };
        if moved {
            self.price = price;
            if self.exectype == EXEC_STOPTRAILLIMIT {
                self.pricelimit = price.minus(rare.limitoffset)?;
            }
            records.push(Record::Trail {
                oref: self.oref,
                price: self.price,
                pricelimit: self.pricelimit,
            });
        }
        Ok(())
    }
}

const _: () = assert!(size_of::<OrderSlot>() <= 240);
