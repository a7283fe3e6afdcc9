//! Pure-Rust core of `bt_cracktrader`: Backtrader's `BackBroker` order matching and accounting
//! (every execution type, OCO groups, brackets, volume fillers, credit interest, fund mode),
//! bit for bit.
//!
//! This crate is the Rust twin of `bt_cracktrader/core/pycore.py` and implements the contract of
//! `bt_cracktrader/core/contract.py`: [`Core::step`] takes a batch of [`Event`]s and one [`Bar`]
//! per data and returns the [`Record`]s; [`Core::state`] gives the broker figures. Numbers are
//! [`Num`]s, Python `int`s or `float`s with Python's arithmetic, so that results have the same
//! types and the same bits as the Python core's.
//!
//! The `*_raw` entry points take dynamically typed input ([`RawItem`], [`Value`]) and validate it
//! exactly as the Python core does; the Python bindings use them. User code (a volume filler, a
//! CommInfo subclass's overrides) is called back through the [`Hooks`] trait, which the
//! bindings implement with Python callables: this crate has no Python dependency.

mod comm;
mod core;
mod error;
mod event;
mod group;
mod hashing;
mod hooks;
mod ledger;
mod num;
mod order;
mod packed;
mod position;
mod snapshot;
mod validate;
mod value;

pub use crate::comm::{CommSpec, COMM_METHODS};
pub use crate::core::Core;
pub use crate::error::{CoreError, ErrValue, InputError, Origin, ZeroDivision};
pub use crate::event::{
    Bar, Config, Event, Execution, OrderSpec, Record, State, BAR_LENGTH, CONTRACT_VERSION,
    EVENT_LENGTHS, EVENT_NAMES, EV_ADD_CASH, EV_CANCEL, EV_CONFIG, EV_DATA, EV_FUND, EV_HISTORY,
    EV_POSITION, EV_SET_CASH, EV_SUBMIT, EXEC_CLOSE, EXEC_HISTORICAL, EXEC_LIMIT, EXEC_MARKET,
    EXEC_STOP, EXEC_STOPLIMIT, EXEC_STOPTRAIL, EXEC_STOPTRAILLIMIT, FILLER_BARPOINTPERC,
    FILLER_CALLBACK, FILLER_FIXEDBARPERC, FILLER_FIXEDSIZE, FILLER_NONE, REC_ACCEPTED,
    REC_ACTIVATED, REC_CANCELED, REC_EXECUTED, REC_EXPIRED, REC_MARGIN, REC_POSITION, REC_REJECTED,
    REC_SUBMITTED, REC_TRAIL, REC_TRIGGERED,
};
pub use crate::hooks::{HookArg, HookFailed, Hooks, NoHooks};
pub use crate::ledger::{
    category_level, float_repr, level_number, LValue, Ledger, LedgerError, LedgerInputError,
    PathStep, CATEGORIES, LEDGER_VERSION, MATRIX_VERSION as LEDGER_MATRIX_VERSION,
    SNAPSHOT_VERSION as LEDGER_SNAPSHOT_VERSION, STATES as LEDGER_STATES,
    TERMINAL as LEDGER_TERMINAL, TRANSITIONS as LEDGER_TRANSITIONS,
};
pub use crate::num::{Num, FZERO, ZERO};
pub use crate::order::{Order, OrderState};
pub use crate::packed::{
    decode_steps, PackedError, PackedStep, KIND_BOOL, KIND_FLOAT, KIND_INT, KIND_NONE,
    PACKED_VERSION, RESULTS_MAGIC, STEPS_MAGIC,
};
pub use crate::position::Position;
pub use crate::snapshot::Snapshot;
pub use crate::validate::REASON_TOO_LARGE;
pub use crate::value::{Item, RawItem, Value, MAX_ITEMS};

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
