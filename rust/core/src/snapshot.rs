//! `Snapshot`: the whole state of a [`Core`] as plain data, for pickling (`optstrategy` sends the
//! broker to worker processes) and for tests.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::comm::CommSpec;
use crate::core::Core;
use crate::error::CoreError;
use crate::num::Num;
use crate::order::{Order, OrderState};
use crate::position::{Position, Positions};

/// Everything a [`Core`] holds. `Core::from_snapshot(core.snapshot())` is the same core.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// `checksubmit`.
    pub checksubmit: bool,
    /// `shortcash`.
    pub shortcash: bool,
    /// `cash, value, valuemkt, valuelever, valuemktlever, fundvalue, fundshares, leverage,
    /// unrealized`.
    pub figures: [Num; 9],
    /// Commission scheme by data, sorted by data.
    pub comm: Vec<(usize, CommSpec)>,
    /// Positions by data, in creation order.
    pub positions: Vec<(usize, Position)>,
    /// Live orders, sorted by reference.
    pub orders: Vec<Order>,
    /// References of completed orders, sorted.
    pub done: Vec<u64>,
    /// The submitted queue (references, front first).
    pub submitted: Vec<u64>,
    /// The pending queue (references, front first).
    pub pending: Vec<u64>,
}

fn bad(why: impl Into<String>) -> CoreError {
    CoreError::BadSnapshot(why.into())
}

impl Core {
    /// The whole state as plain data.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        let mut comm: Vec<(usize, CommSpec)> = self.comm.iter().map(|(d, c)| (*d, *c)).collect();
        comm.sort_unstable_by_key(|(d, _)| *d);
        let mut orders: Vec<Order> = self.orders.values().copied().collect();
        orders.sort_unstable_by_key(|o| o.oref);
        let mut done: Vec<u64> = self.done.iter().copied().collect();
        done.sort_unstable();
        Snapshot {
            checksubmit: self.checksubmit,
            shortcash: self.shortcash,
            figures: [
                self.cash,
                self.value,
                self.valuemkt,
                self.valuelever,
                self.valuemktlever,
                self.fundval,
                self.fundshares,
                self.leverage,
                self.unrealized,
            ],
            comm,
            positions: self.positions.iter().copied().collect(),
            orders,
            done,
            submitted: self.submitted.iter().copied().collect(),
            pending: self.pending.iter().copied().collect(),
        }
    }

    /// A core from a snapshot, refused unless it is consistent (every order in exactly the
    /// queue of its state, every data registered, every open position with an adjustment
    /// base).
    pub fn from_snapshot(snapshot: Snapshot) -> Result<Core, CoreError> {
        let Snapshot {
            checksubmit,
            shortcash,
            figures,
            comm: comm_list,
            positions: position_list,
            orders: order_list,
            done: done_list,
            submitted,
            pending,
        } = snapshot;

        let mut comm = HashMap::with_capacity(comm_list.len());
        for (data, spec) in comm_list {
            if !spec.leverage.gt(Num::Int(0)) {
                return Err(bad(format!("data {data}: leverage not positive")));
            }
            if comm.insert(data, spec).is_some() {
                return Err(bad(format!("data {data} registered twice")));
            }
        }
        let mut positions = Positions::default();
        for (data, position) in position_list {
            if !comm.contains_key(&data) {
                return Err(bad(format!("position of unknown data {data}")));
            }
            if position.size.truthy() && position.adjbase.is_none() {
                return Err(bad(format!("open position of data {data} without base")));
            }
            if !positions.insert_new(data, position) {
                return Err(bad(format!("two positions for data {data}")));
            }
        }
        let done: HashSet<u64> = done_list.iter().copied().collect();
        if done.len() != done_list.len() {
            return Err(bad("a completed order ref listed twice"));
        }
        let mut orders = HashMap::with_capacity(order_list.len());
        for order in order_list {
            if !comm.contains_key(&order.data) {
                return Err(bad(format!("order {} of unknown data", order.oref)));
            }
            if done.contains(&order.oref) {
                return Err(bad(format!("order {} both live and completed", order.oref)));
            }
            if orders.insert(order.oref, order).is_some() {
                return Err(bad(format!("order {} listed twice", order.oref)));
            }
        }
        let mut queued = HashSet::with_capacity(orders.len());
        for (queue, state) in [
            (&submitted, OrderState::Submitted),
            (&pending, OrderState::Pending),
        ] {
            for oref in queue {
                match orders.get(oref) {
                    Some(order) if order.state == state => {}
                    _ => return Err(bad(format!("queued order {oref} not live in that state"))),
                }
                if !queued.insert(*oref) {
                    return Err(bad(format!("order {oref} queued twice")));
                }
            }
        }
        if queued.len() != orders.len() {
            return Err(bad("a live order in no queue"));
        }

        let [cash, value, valuemkt, valuelever, valuemktlever, fundval, fundshares, leverage, unrealized] =
            figures;
        Ok(Core {
            checksubmit,
            shortcash,
            cash,
            comm,
            positions,
            orders,
            done,
            submitted: VecDeque::from(submitted),
            pending: VecDeque::from(pending),
            value,
            valuemkt,
            valuelever,
            valuemktlever,
            fundval,
            fundshares,
            leverage,
            unrealized,
        })
    }
}
