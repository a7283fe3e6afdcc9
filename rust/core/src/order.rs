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

/// An order (the Python core's `_Order`).
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
        Order {
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
            trailamount: spec.trailamount,
            trailpercent: spec.trailpercent,
            limitoffset: spec.limitoffset,
            parent: spec.parent,
            transmit: spec.transmit,
            coc: spec.coc,
            state: OrderState::Created,
            active: spec.parent.is_none(),
            triggered: false,
            pannotated: None,
            completed: false,
        }
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

    /// `Order.trailadjust`: move the stop (and limit) with the close, never back.
    pub(crate) fn trailadjust(
        &mut self,
        mut price: Num,
        records: &mut Vec<Record>,
    ) -> Result<(), CoreError> {
        let pamount = if self.trailamount.truthy() {
            self.trailamount
        } else if self.trailpercent.truthy() {
            price.times(self.trailpercent)?
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
                self.pricelimit = price.minus(self.limitoffset)?;
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
