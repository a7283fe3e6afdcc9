//! Pure-Rust core of `bt_cracktrader`: Backtrader's `BackBroker` order matching and accounting
//! for Market orders, bit for bit.
//!
//! This crate is the Rust twin of `bt_cracktrader/core/pycore.py` and implements the contract of
//! `bt_cracktrader/core/contract.py`: [`Core::step`] takes a batch of [`Event`]s and one [`Bar`]
//! per data and returns the [`Record`]s; [`Core::state`] gives the broker figures. Numbers are
//! [`Num`]s, Python `int`s or `float`s with Python's arithmetic, so that results have the same
//! types and the same bits as the Python core's.
//!
//! The `*_raw` entry points take dynamically typed input ([`RawItem`], [`Value`]) and validate it
//! exactly as the Python core does; the Python bindings use them.

mod comm;
mod core;
mod error;
mod event;
mod num;
mod order;
mod position;
mod snapshot;
mod validate;
mod value;

pub use crate::comm::CommSpec;
pub use crate::core::Core;
pub use crate::error::{CoreError, ErrValue, InputError, Origin};
pub use crate::event::{
    Bar, Event, Execution, Record, State, BAR_LENGTH, CONTRACT_VERSION, EVENT_LENGTHS, EVENT_NAMES,
    EV_CANCEL, EV_CONFIG, EV_DATA, EV_POSITION, EV_SET_CASH, EV_SUBMIT, EXEC_MARKET, REC_ACCEPTED,
    REC_EXECUTED, REC_MARGIN,
};
pub use crate::num::{Num, FZERO, ZERO};
pub use crate::order::{Order, OrderState};
pub use crate::position::Position;
pub use crate::snapshot::Snapshot;
pub use crate::validate::REASON_TOO_LARGE;
pub use crate::value::{RawItem, Value, MAX_ITEMS};

/// Version of the core crate (taken from the workspace `Cargo.toml`).
#[must_use]
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_not_empty() {
        assert!(!version().is_empty());
    }
}
