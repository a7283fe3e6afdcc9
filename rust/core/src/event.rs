//! The contract's tuples as Rust types (`bt_cracktrader/core/contract.py`): input events and
//! bars, output records and the state. Same fields, same order, same tags.

pub use crate::comm::CommSpec;
use crate::num::Num;

/// Version of the contract these types implement (`contract.CONTRACT_VERSION`).
pub const CONTRACT_VERSION: u32 = 1;

/// `EV_DATA`: register a data (or replace its commission scheme).
pub const EV_DATA: i128 = 0;
/// `EV_POSITION`: create the flat position entry of a data.
pub const EV_POSITION: i128 = 1;
/// `EV_SUBMIT`: a new order.
pub const EV_SUBMIT: i128 = 2;
/// `EV_CANCEL`: cancel a pending order.
pub const EV_CANCEL: i128 = 3;
/// `EV_CONFIG`: `checksubmit` and `shortcash`.
pub const EV_CONFIG: i128 = 4;
/// `EV_SET_CASH`: `broker.set_cash`.
pub const EV_SET_CASH: i128 = 5;

/// Names used in error messages, indexed by event tag (`contract.EVENT_NAMES`).
pub const EVENT_NAMES: [&str; 6] = ["data", "position", "submit", "cancel", "config", "set_cash"];
/// Tuple length of each event, indexed by event tag (`contract.EVENT_LENGTHS`).
pub const EVENT_LENGTHS: [usize; 6] = [9, 2, 8, 2, 3, 2];
/// Tuple length of a bar (`contract.BAR_LENGTH`).
pub const BAR_LENGTH: usize = 8;

/// `REC_ACCEPTED`.
pub const REC_ACCEPTED: i128 = 0;
/// `REC_MARGIN`.
pub const REC_MARGIN: i128 = 1;
/// `REC_EXECUTED`.
pub const REC_EXECUTED: i128 = 2;

/// Backtrader's `Order.Market`, the only execution type of contract version 1.
pub const EXEC_MARKET: i64 = 0;

/// An input event; the variants mirror the `EV_*` tuples item by item.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    /// `(EV_DATA, data, stocklike, perc, commission, mult, margin, automargin, leverage)`.
    Data {
        /// Data index.
        data: usize,
        /// The commission scheme.
        comm: CommSpec,
    },
    /// `(EV_POSITION, data)`.
    Position {
        /// Data index.
        data: usize,
    },
    /// `(EV_SUBMIT, ref, data, size, price, created_dt, exectype, check)`.
    Submit {
        /// Order reference.
        oref: u64,
        /// Data index.
        data: usize,
        /// Signed size (negative sells); an `int` or a `float`.
        size: Num,
        /// `order.created.price`.
        price: Num,
        /// `order.created.dt`.
        created_dt: Num,
        /// Execution type (only [`EXEC_MARKET`]).
        exectype: i64,
        /// Wait for the submit check (else straight to the pending queue).
        check: bool,
    },
    /// `(EV_CANCEL, ref)`.
    Cancel {
        /// Order reference.
        oref: u64,
    },
    /// `(EV_CONFIG, checksubmit, shortcash)`.
    Config {
        /// `checksubmit`.
        checksubmit: bool,
        /// `shortcash`.
        shortcash: bool,
    },
    /// `(EV_SET_CASH, cash)`.
    SetCash {
        /// The new cash.
        cash: Num,
    },
}

/// One bar of one data: `(data, dt, open, high, low, close, volume, mark)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bar {
    /// Data index.
    pub data: usize,
    /// Datetime (Backtrader's float date number).
    pub dt: Num,
    /// Price market orders are matched against.
    pub open: Num,
    /// High.
    pub high: Num,
    /// Low.
    pub low: Num,
    /// Close.
    pub close: Num,
    /// Volume.
    pub volume: Num,
    /// `data.close[0]`: the price positions are valued and marked to.
    pub mark: Num,
}

/// One execution bit (`REC_EXECUTED`), with the position of the order's data after it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Execution {
    /// Order reference.
    pub oref: u64,
    /// Execution datetime.
    pub dt: Num,
    /// Executed size (`closed + opened`).
    pub size: Num,
    /// Execution price.
    pub price: Num,
    /// Closed size.
    pub closed: Num,
    /// Closed value.
    pub closedvalue: Num,
    /// Commission of the closed part.
    pub closedcomm: Num,
    /// Opened size.
    pub opened: Num,
    /// Opened value.
    pub openedvalue: Num,
    /// Commission of the opened part.
    pub openedcomm: Num,
    /// Profit and loss of the closed part.
    pub pnl: Num,
    /// Position size after the execution (as computed before it).
    pub psize: Num,
    /// Position price after the execution (as computed before it).
    pub pprice: Num,
    /// Position size after the execution.
    pub position_size: Num,
    /// Position price after the execution.
    pub position_price: Num,
}

/// An output record; the variants mirror the `REC_*` tuples.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// `(REC_ACCEPTED, ref)`: the submit check passed.
    Accepted {
        /// Order reference.
        oref: u64,
    },
    /// `(REC_MARGIN, ref)`: not enough cash.
    Margin {
        /// Order reference.
        oref: u64,
    },
    /// `(REC_EXECUTED, ref, dt, size, price, closed, closedvalue, closedcomm, opened,
    /// openedvalue, openedcomm, pnl, psize, pprice, position_size, position_price)`.
    Executed(Box<Execution>),
}

/// The broker figures after a call (`contract.STATE_FIELDS`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct State {
    /// Cash.
    pub cash: Num,
    /// Value.
    pub value: Num,
    /// Market value of the positions (unlevered).
    pub valuemkt: Num,
    /// Value with leverage.
    pub valuelever: Num,
    /// Market value of the positions with leverage.
    pub valuemktlever: Num,
    /// Fund value.
    pub fundvalue: Num,
    /// Fund shares.
    pub fundshares: Num,
    /// Leverage.
    pub leverage: Num,
    /// Unrealized profit and loss.
    pub unrealized: Num,
    /// No order submitted or pending and every position flat.
    pub idle: bool,
}
