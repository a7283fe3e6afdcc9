//! `Snapshot`: the whole state of a [`Core`] as plain data, for pickling (`optstrategy` sends the
//! broker to worker processes) and for tests. Callables are never part of it.

use std::collections::VecDeque;

use crate::hashing::FastMap;

use crate::comm::{CommSpec, Schemes};
use crate::core::Core;
use crate::error::CoreError;
use crate::event::{Config, OrderSpec, EXEC_HISTORICAL, FILLER_CALLBACK};
use crate::group::RefTable;
use crate::num::Num;
use crate::order::{Order, Wide};
use crate::position::{Position, Positions};

/// Everything a [`Core`] holds. `Core::from_snapshot(core.snapshot())` is the same core.
///
/// The queues and bracket groups name orders by their index in `orders` (an order can sit twice
/// in the pending queue, and two orders can share a reference when a history order reuses one).
/// `snapshot()` lists the orders in a canonical order that the Python core can reproduce: first
/// the orders that sit in a queue or bracket group but are no longer the last order created with
/// their reference (in the order `submitted`, `pending`, `toactivate`, then `pchildren` by parent
/// reference meet them), then the last order of each reference, by reference. Orders reachable
/// from neither (replaced in `self.orders` and in no queue: garbage in the Python core) are left
/// out. `from_snapshot` accepts any order list (the last order of a reference is the one its
/// reference names).
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// The broker parameters.
    pub config: Config,
    /// `cash, value, valuemkt, valuelever, valuemktlever, fundvalue, fundshares, leverage,
    /// unrealized`.
    pub figures: [Num; 9],
    /// Commission scheme by data, in registration order.
    pub comm: Vec<(usize, CommSpec)>,
    /// Positions by data, in creation order.
    pub positions: Vec<(usize, Position)>,
    /// Every order, in creation order.
    pub orders: Vec<Order>,
    /// The submitted queue (order indices, front first).
    pub submitted: Vec<usize>,
    /// The pending queue (order indices, front first; `None` is a sentinel left by an
    /// interrupted pass).
    pub pending: Vec<Option<usize>>,
    /// The orders to activate on the next bar.
    pub toactivate: Vec<usize>,
    /// Bracket groups by parent reference, sorted.
    pub pchildren: Vec<(u64, Vec<usize>)>,
    /// OCO group leader by order reference, sorted.
    pub ocos: Vec<(u64, u64)>,
    /// OCO group members by leader reference, sorted.
    pub ocol: Vec<(u64, Vec<u64>)>,
    /// Credit interest not yet assigned to a closing trade, by data, sorted.
    pub d_credit: Vec<(usize, Num)>,
    /// Cash additions not yet applied.
    pub cash_addition: Vec<Num>,
    /// History orders not yet accepted.
    pub history: Vec<OrderSpec>,
    /// The fund history row in force.
    pub fundhist: Option<(Num, Num)>,
}

fn bad(why: impl Into<String>) -> CoreError {
    CoreError::BadSnapshot(why.into())
}

fn sorted<K: Ord + Copy, V: Clone>(map: &FastMap<K, V>) -> Vec<(K, V)> {
    let mut items: Vec<(K, V)> = map.iter().map(|(k, v)| (*k, v.clone())).collect();
    items.sort_unstable_by_key(|(k, _)| *k);
    items
}

impl Core {
    /// The whole state as plain data.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        let pchildren = self.refs.sorted_children();
        // the canonical order list (see `Snapshot`) and each arena index's place in it
        let mut at = vec![usize::MAX; self.orders.len()];
        let mut listed = Vec::with_capacity(self.refs.orders_len());
        let by_ref = self.refs.sorted_orders();
        for &(_, idx) in &by_ref {
            at[idx] = 0; // a placeholder: listed after the replaced ones
        }
        let queued = self
            .submitted
            .iter()
            .chain(self.pending.iter().flatten())
            .chain(self.toactivate.iter())
            .chain(pchildren.iter().flat_map(|(_, pc)| pc.iter()));
        for &idx in queued {
            if at[idx] == usize::MAX {
                at[idx] = listed.len();
                listed.push(idx);
            }
        }
        for &(_, idx) in &by_ref {
            at[idx] = listed.len();
            listed.push(idx);
        }
        Snapshot {
            config: self.config,
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
            comm: self.comm.iter().copied().collect(),
            positions: self.positions.iter().copied().collect(),
            orders: listed.iter().map(|&idx| self.full_order(idx)).collect(),
            submitted: self.submitted.iter().map(|&idx| at[idx]).collect(),
            pending: self
                .pending
                .iter()
                .map(|idx| idx.map(|idx| at[idx]))
                .collect(),
            toactivate: self.toactivate.iter().map(|&idx| at[idx]).collect(),
            pchildren: pchildren
                .into_iter()
                .map(|(k, v)| (k, v.iter().map(|&idx| at[idx]).collect()))
                .collect(),
            ocos: self.refs.sorted_leaders(),
            ocol: self.refs.sorted_ocol(),
            d_credit: sorted(&self.d_credit),
            cash_addition: self.cash_addition.iter().copied().collect(),
            history: self.history.clone(),
            fundhist: self.fundhist,
        }
    }

    /// A core from a snapshot, refused unless it is consistent enough to run: every order index
    /// within the order list, every data of an order, position or compensation registered.
    pub fn from_snapshot(snapshot: Snapshot) -> Result<Core, CoreError> {
        let Snapshot {
            config,
            figures,
            comm: comm_list,
            positions: position_list,
            orders,
            submitted,
            pending,
            toactivate,
            pchildren,
            ocos,
            ocol,
            d_credit,
            cash_addition,
            history,
            fundhist,
        } = snapshot;

        if config.filler > FILLER_CALLBACK {
            return Err(bad("unknown filler"));
        }
        let mut comm = Schemes::default();
        for (data, spec) in comm_list {
            if !spec.leverage.gt(Num::int(0)) {
                return Err(bad(format!("data {data}: leverage not positive")));
            }
            if spec.overrides >= 1 << 12 {
                return Err(bad(format!("data {data}: unknown overrides")));
            }
            if !comm.insert_new(data, spec) {
                return Err(bad(format!("data {data} registered twice")));
            }
        }
        let registered = |data: usize| comm.contains(data);
        for (data, spec) in comm.iter() {
            if spec.compensate.is_some_and(|t| !registered(t)) {
                return Err(bad(format!("data {data} compensates an unknown data")));
            }
        }
        let mut positions = Positions::default();
        for (data, position) in position_list {
            if !registered(data) {
                return Err(bad(format!("position of unknown data {data}")));
            }
            if !positions.insert_new(data, position) {
                return Err(bad(format!("two positions for data {data}")));
            }
        }
        let mut refs = RefTable::default();
        for (idx, order) in orders.iter().enumerate() {
            if !registered(order.data) {
                return Err(bad(format!("order {} of unknown data", order.oref)));
            }
            if order.exectype > EXEC_HISTORICAL {
                return Err(bad(format!("order {}: unknown exectype", order.oref)));
            }
            refs.set_order(order.oref, idx);
        }
        for spec in &history {
            if !registered(spec.data) || spec.exectype > EXEC_HISTORICAL {
                return Err(bad(format!("history order {} is invalid", spec.oref)));
            }
        }
        for (data, _) in &d_credit {
            if !registered(*data) {
                return Err(bad(format!("credit of unknown data {data}")));
            }
        }
        let in_range = |idx: &usize| *idx < orders.len();
        if !submitted.iter().all(in_range)
            || !pending.iter().flatten().all(in_range)
            || !toactivate.iter().all(in_range)
            || !pchildren.iter().all(|(_, pc)| pc.iter().all(in_range))
        {
            return Err(bad("an order index beyond the order list"));
        }
        if ocos.iter().any(|&(oref, _)| refs.order(oref).is_none()) {
            return Err(bad("an OCO entry of an unknown order"));
        }

        let [cash, value, valuemkt, valuelever, valuemktlever, fundval, fundshares, leverage, unrealized] =
            figures;
        let mut queued = vec![0; orders.len()];
        for &idx in pending.iter().flatten() {
            queued[idx] += 1;
        }
        // a replaced order is listed only while it is queued
        let refs_shared = orders.len() != refs.orders_len();
        for (parent, pc) in pchildren {
            refs.set_children(parent, pc.into_iter().collect());
        }
        for (oref, leader) in ocos {
            refs.set_leader(oref, leader);
        }
        for (leader, members) in ocol {
            refs.set_ocol(leader, members.into_iter().collect());
        }
        let mut core = Core {
            config,
            queued,
            refs_shared,
            d_credit: d_credit.into_iter().collect(),
            cash_addition: VecDeque::from(cash_addition),
            history,
            fundhist,
            cash,
            comm,
            positions,
            orders: Vec::with_capacity(orders.len()),
            rare: Vec::new(),
            wide: Wide::default(),
            refs,
            submitted: VecDeque::from(submitted),
            pending: VecDeque::from(pending),
            toactivate: VecDeque::from(toactivate),
            value,
            valuemkt,
            valuelever,
            valuemktlever,
            fundval,
            fundshares,
            leverage,
            unrealized,
        };
        for order in &orders {
            core.push_order(order)?;
        }
        Ok(core)
    }
}
