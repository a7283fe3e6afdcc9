//! Orders inside the core (the adapter owns Backtrader's order objects and status codes).

use crate::num::Num;

/// Where a live order is. A completed order (executed, margin, cancelled) is no longer kept:
/// the core only remembers its reference, so that it cannot be reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderState {
    /// Waiting for the submit check.
    Submitted,
    /// Accepted, waiting for a bar to execute on.
    Pending,
}

/// A live market order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Order {
    /// Order reference.
    pub oref: u64,
    /// Data index.
    pub data: usize,
    /// Signed size as submitted.
    pub size: Num,
    /// Size still to execute.
    pub remsize: Num,
    /// `order.created.price` (used by the submit check).
    pub price: Num,
    /// `order.created.dt` (the order executes on the first bar after it).
    pub created_dt: Num,
    /// Submitted or pending.
    pub state: OrderState,
}
