//! The contract's tuples as Rust types (`bt_cracktrader/core/contract.py`): input events and
//! bars, output records and the state. Same fields, same order, same tags.

pub use crate::comm::CommSpec;
use crate::num::Num;

/// Version of the contract these types implement (`contract.CONTRACT_VERSION`).
pub const CONTRACT_VERSION: u32 = 3;

/// `EV_DATA`: register a data (or replace its commission scheme).
pub const EV_DATA: i128 = 0;
/// `EV_POSITION`: create the flat position entry of a data.
pub const EV_POSITION: i128 = 1;
/// `EV_SUBMIT`: a new order.
pub const EV_SUBMIT: i128 = 2;
/// `EV_CANCEL`: `broker.cancel(order)`.
pub const EV_CANCEL: i128 = 3;
/// `EV_CONFIG`: broker parameters.
pub const EV_CONFIG: i128 = 4;
/// `EV_SET_CASH`: `broker.set_cash`.
pub const EV_SET_CASH: i128 = 5;
/// `EV_ADD_CASH`: `broker.add_cash`.
pub const EV_ADD_CASH: i128 = 6;
/// `EV_HISTORY`: an order of `add_order_history`.
pub const EV_HISTORY: i128 = 7;
/// `EV_FUND`: the row of `set_fund_history` in force.
pub const EV_FUND: i128 = 8;

/// Names used in error messages, indexed by event tag (`contract.EVENT_NAMES`).
pub const EVENT_NAMES: [&str; 9] = [
    "data", "position", "submit", "cancel", "config", "set_cash", "add_cash", "history", "fund",
];
/// Tuple length of each event, indexed by event tag (`contract.EVENT_LENGTHS`).
pub const EVENT_LENGTHS: [usize; 9] = [13, 2, 21, 3, 16, 2, 2, 21, 3];
/// Tuple length of a bar (`contract.BAR_LENGTH`).
pub const BAR_LENGTH: usize = 15;

/// `REC_ACCEPTED`.
pub const REC_ACCEPTED: i128 = 0;
/// `REC_MARGIN`.
pub const REC_MARGIN: i128 = 1;
/// `REC_EXECUTED`.
pub const REC_EXECUTED: i128 = 2;
/// `REC_SUBMITTED`.
pub const REC_SUBMITTED: i128 = 3;
/// `REC_CANCELED`.
pub const REC_CANCELED: i128 = 4;
/// `REC_EXPIRED`.
pub const REC_EXPIRED: i128 = 5;
/// `REC_REJECTED`.
pub const REC_REJECTED: i128 = 6;
/// `REC_ACTIVATED`.
pub const REC_ACTIVATED: i128 = 7;
/// `REC_TRIGGERED`.
pub const REC_TRIGGERED: i128 = 8;
/// `REC_TRAIL`.
pub const REC_TRAIL: i128 = 9;
/// `REC_POSITION`.
pub const REC_POSITION: i128 = 10;

/// Backtrader's `Order.Market`.
pub const EXEC_MARKET: u8 = 0;
/// Backtrader's `Order.Close`.
pub const EXEC_CLOSE: u8 = 1;
/// Backtrader's `Order.Limit`.
pub const EXEC_LIMIT: u8 = 2;
/// Backtrader's `Order.Stop`.
pub const EXEC_STOP: u8 = 3;
/// Backtrader's `Order.StopLimit`.
pub const EXEC_STOPLIMIT: u8 = 4;
/// Backtrader's `Order.StopTrail`.
pub const EXEC_STOPTRAIL: u8 = 5;
/// Backtrader's `Order.StopTrailLimit`.
pub const EXEC_STOPTRAILLIMIT: u8 = 6;
/// Backtrader's `Order.Historical`.
pub const EXEC_HISTORICAL: u8 = 7;

/// No volume filler: orders fill completely.
pub const FILLER_NONE: u8 = 0;
/// `bt.fillers.FixedSize`.
pub const FILLER_FIXEDSIZE: u8 = 1;
/// `bt.fillers.FixedBarPerc`.
pub const FILLER_FIXEDBARPERC: u8 = 2;
/// `bt.fillers.BarPointPerc`.
pub const FILLER_BARPOINTPERC: u8 = 3;
/// A user's filler, called back.
pub const FILLER_CALLBACK: u8 = 4;

/// An order as `EV_SUBMIT` (or `EV_HISTORY`) carries it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OrderSpec {
    /// Order reference.
    pub oref: u64,
    /// Data index.
    pub data: usize,
    /// A buy order.
    pub isbuy: bool,
    /// Signed size (negative sells); an `int` or a `float`.
    pub size: Num,
    /// Execution type (`EXEC_*`).
    pub exectype: u8,
    /// `order.created.price`.
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
    /// Reference of the OCO order.
    pub oco: Option<u64>,
    /// `order.transmit`.
    pub transmit: bool,
    /// Submit check for this order.
    pub check: bool,
    /// `order.info.get("coc", True)`.
    pub coc: bool,
    /// The adapter already notified the submission.
    pub notified: bool,
}

/// The broker parameters of `EV_CONFIG`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    /// `checksubmit`.
    pub checksubmit: bool,
    /// `shortcash`.
    pub shortcash: bool,
    /// Cheat-on-close.
    pub coc: bool,
    /// Cheat-on-open.
    pub coo: bool,
    /// `slip_perc`.
    pub slip_perc: Num,
    /// `slip_fixed`.
    pub slip_fixed: Num,
    /// `slip_open`.
    pub slip_open: bool,
    /// `slip_match`.
    pub slip_match: bool,
    /// `slip_limit`.
    pub slip_limit: bool,
    /// `slip_out`.
    pub slip_out: bool,
    /// `FILLER_*`.
    pub filler: u8,
    /// `FixedSize`'s size.
    pub filler_size: Num,
    /// `FixedBarPerc`/`BarPointPerc`'s perc.
    pub filler_perc: Num,
    /// `BarPointPerc`'s minmov.
    pub filler_minmov: Num,
    /// `int2pnl`.
    pub int2pnl: bool,
}

impl Default for Config {
    /// The parameters of a new core (BackBroker's defaults).
    fn default() -> Self {
        Config {
            checksubmit: true,
            shortcash: true,
            coc: false,
            coo: false,
            slip_perc: Num::Float(0.0),
            slip_fixed: Num::Float(0.0),
            slip_open: false,
            slip_match: true,
            slip_limit: true,
            slip_out: false,
            filler: FILLER_NONE,
            filler_size: Num::int(0),
            filler_perc: Num::int(0),
            filler_minmov: Num::int(0),
            int2pnl: true,
        }
    }
}

/// An input event; the variants mirror the `EV_*` tuples item by item.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    /// `(EV_DATA, data, stocklike, perc, commission, mult, margin, automargin, leverage,
    /// creditrate, interest_long, overrides, compensate)`.
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
    /// `EV_SUBMIT`.
    Submit(OrderSpec),
    /// `(EV_CANCEL, ref, notified)`.
    Cancel {
        /// Order reference.
        oref: u64,
        /// The adapter already notified the cancellation of `oref`.
        notified: bool,
    },
    /// `EV_CONFIG`.
    Config(Config),
    /// `(EV_SET_CASH, cash)`.
    SetCash {
        /// The new cash.
        cash: Num,
    },
    /// `(EV_ADD_CASH, cash)`.
    AddCash {
        /// The cash to add.
        cash: Num,
    },
    /// `EV_HISTORY`.
    History(OrderSpec),
    /// `(EV_FUND, fundvalue, netvalue)`.
    Fund {
        /// Fund share value.
        fundvalue: Num,
        /// Net asset value.
        netvalue: Num,
    },
}

/// One bar of one data: `(data, dt, open, high, low, close, mark, volume, rhigh, rlow, pdt,
/// phigh, plow, pvolume, day)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bar {
    /// Data index.
    pub data: usize,
    /// Datetime (Backtrader's float date number).
    pub dt: Num,
    /// Price orders are matched against (open).
    pub open: Num,
    /// High.
    pub high: Num,
    /// Low.
    pub low: Num,
    /// Close.
    pub close: Num,
    /// `data.close[0]`: the price positions are valued and marked to.
    pub mark: Num,
    /// `data.volume[0]`.
    pub volume: Num,
    /// `data.high[0]`.
    pub rhigh: Num,
    /// `data.low[0]`.
    pub rlow: Num,
    /// `data.datetime[-1]`.
    pub pdt: Num,
    /// `data.high[-1]`.
    pub phigh: Num,
    /// `data.low[-1]`.
    pub plow: Num,
    /// `data.volume[-1]`.
    pub pvolume: Num,
    /// The date ordinal of the bar (credit interest counts days with it).
    pub day: i128,
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

impl Execution {
    /// The numbers of the `REC_EXECUTED` tuple after `ref`, in its order (`dt` .. `position_price`).
    #[must_use]
    pub fn nums(&self) -> [Num; 14] {
        [
            self.dt,
            self.size,
            self.price,
            self.closed,
            self.closedvalue,
            self.closedcomm,
            self.opened,
            self.openedvalue,
            self.openedcomm,
            self.pnl,
            self.psize,
            self.pprice,
            self.position_size,
            self.position_price,
        ]
    }
}

/// An output record; the variants mirror the `REC_*` tuples.
///
/// An execution is held in place, not boxed: a record vector is reused from step to step, and
/// a box cost an allocation and a free per fill, more than the larger slots of the vector.
#[derive(Clone, Debug, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "a fill's record in place: no allocation per fill"
)]
pub enum Record {
    /// `(REC_ACCEPTED, ref)`.
    Accepted {
        /// Order reference.
        oref: u64,
    },
    /// `(REC_MARGIN, ref)`.
    Margin {
        /// Order reference.
        oref: u64,
    },
    /// `(REC_EXECUTED, ref, dt, size, price, closed, closedvalue, closedcomm, opened,
    /// openedvalue, openedcomm, pnl, psize, pprice, position_size, position_price)`.
    Executed(Execution),
    /// `(REC_SUBMITTED, ref)`.
    Submitted {
        /// Order reference.
        oref: u64,
    },
    /// `(REC_CANCELED, ref)`.
    Canceled {
        /// Order reference.
        oref: u64,
    },
    /// `(REC_EXPIRED, ref)`.
    Expired {
        /// Order reference.
        oref: u64,
    },
    /// `(REC_REJECTED, ref)`.
    Rejected {
        /// Order reference.
        oref: u64,
    },
    /// `(REC_ACTIVATED, ref)`.
    Activated {
        /// Order reference.
        oref: u64,
    },
    /// `(REC_TRIGGERED, ref)`.
    Triggered {
        /// Order reference.
        oref: u64,
    },
    /// `(REC_TRAIL, ref, price, pricelimit)`.
    Trail {
        /// Order reference.
        oref: u64,
        /// The new `order.created.price`.
        price: Num,
        /// The new `order.created.pricelimit`.
        pricelimit: Num,
    },
    /// `(REC_POSITION, data)`.
    Position {
        /// Data index.
        data: usize,
    },
}

impl Record {
    /// The record's tag (`REC_*`).
    #[must_use]
    pub fn tag(&self) -> i128 {
        match self {
            Record::Accepted { .. } => REC_ACCEPTED,
            Record::Margin { .. } => REC_MARGIN,
            Record::Executed(_) => REC_EXECUTED,
            Record::Submitted { .. } => REC_SUBMITTED,
            Record::Canceled { .. } => REC_CANCELED,
            Record::Expired { .. } => REC_EXPIRED,
            Record::Rejected { .. } => REC_REJECTED,
            Record::Activated { .. } => REC_ACTIVATED,
            Record::Triggered { .. } => REC_TRIGGERED,
            Record::Trail { .. } => REC_TRAIL,
            Record::Position { .. } => REC_POSITION,
        }
    }
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
    /// Nothing can change before the next event: no order submitted, pending or to activate,
    /// no history order, cash addition or fund history, and every position flat.
    pub idle: bool,
}

impl State {
    /// The numbers of the state tuple, in `contract.STATE_FIELDS` order (`idle` follows them).
    #[must_use]
    pub fn nums(&self) -> [Num; 9] {
        [
            self.cash,
            self.value,
            self.valuemkt,
            self.valuelever,
            self.valuemktlever,
            self.fundvalue,
            self.fundshares,
            self.leverage,
            self.unrealized,
        ]
    }
}
