//! The execution ledger: the Rust twin of `bt_cracktrader/core/ledger.py` (`PyLedger`), whose
//! module docstring is the contract. This port follows it statement by statement: the same
//! checks in the same order, the same `int`/`float` operations in the same order (with
//! [`Num`]), the same records with their keys in the same order, the same snapshots.
//!
//! Input and output are [`LValue`]s (Python data); the bindings convert them from and to
//! Python objects and do the logging.

mod check;
mod matrix;
mod value;

use std::collections::{HashMap, HashSet};

use crate::num::Num;

pub use check::{LedgerError, LedgerInputError, PathStep};
pub use matrix::{can_move, is_terminal, MATRIX_VERSION, STATES, TERMINAL, TRANSITIONS};
pub use value::{float_repr, num_repr, str_repr, LValue};

/// Version of the ledger contract (`LEDGER_VERSION`).
pub const LEDGER_VERSION: i64 = 1;
/// Version of the snapshots (`SNAPSHOT_VERSION`).
pub const SNAPSHOT_VERSION: i64 = 1;

/// Diagnostic categories and their logging level names.
pub const CATEGORIES: [(&str, &str); 10] = [
    ("duplicate_report", "DEBUG"),
    ("stale_report", "WARNING"),
    ("unknown_order", "WARNING"),
    ("terminal_order", "WARNING"),
    ("illegal_transition", "ERROR"),
    ("overfill", "ERROR"),
    ("inconsistent_report", "ERROR"),
    ("closed_short", "WARNING"),
    ("implied_accept", "INFO"),
    ("late_fill", "INFO"),
];

/// The logging level name of a diagnostic category.
#[must_use]
pub fn category_level(category: &str) -> &'static str {
    CATEGORIES
        .iter()
        .find(|(name, _)| *name == category)
        .map_or("ERROR", |(_, level)| level)
}

/// Python's logging level number of a level name.
#[must_use]
pub fn level_number(level: &str) -> i32 {
    match level {
        "DEBUG" => 10,
        "INFO" => 20,
        "WARNING" => 30,
        _ => 40,
    }
}

/// An order of the ledger (`_LOrder`).
#[derive(Clone, Debug)]
struct LOrder {
    order: String,
    order_id: Option<String>,
    data: i128,
    side: String,
    size: Num,
    exectype: String,
    price: Option<Num>,
    sim: bool,
    status: &'static str,
    filled: Num,
    cost: Num,
    fee: Num,
    seq: i128,
    cancel_requested: bool,
}

impl LOrder {
    fn to_json(&self) -> LValue {
        LValue::dict(vec![
            ("order", self.order.as_str().into()),
            ("order_id", self.order_id.as_deref().into()),
            ("data", LValue::Int(self.data)),
            ("side", self.side.as_str().into()),
            ("size", self.size.into()),
            ("exectype", self.exectype.as_str().into()),
            ("price", self.price.map_or(LValue::None, LValue::from)),
            ("sim", self.sim.into()),
            ("status", self.status.into()),
            ("filled", self.filled.into()),
            ("cost", self.cost.into()),
            ("fee", self.fee.into()),
            ("seq", LValue::Int(self.seq)),
            ("cancel_requested", self.cancel_requested.into()),
        ])
    }
}

/// A `dict` keyed by data (insertion order kept, an assignment to a known key keeps its place).
#[derive(Clone, Debug)]
struct DataMap<T> {
    items: Vec<(i128, T)>,
    index: HashMap<i128, usize>,
}

impl<T> Default for DataMap<T> {
    fn default() -> Self {
        DataMap {
            items: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<T> DataMap<T> {
    fn get(&self, data: i128) -> Option<&T> {
        self.index.get(&data).map(|&k| &self.items[k].1)
    }

    fn get_mut(&mut self, data: i128) -> Option<&mut T> {
        self.index.get(&data).map(|&k| &mut self.items[k].1)
    }

    fn set(&mut self, data: i128, value: T) {
        match self.index.get(&data) {
            Some(&k) => self.items[k].1 = value,
            None => {
                self.index.insert(data, self.items.len());
                self.items.push((data, value));
            }
        }
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

/// The canonical `&'static str` of a status name.
fn status_name(name: &str) -> &'static str {
    STATES
        .iter()
        .find(|s| **s == name)
        .copied()
        .unwrap_or("Created")
}

// -- event fields (validated before use) -------------------------------------------------------

fn field<'a>(ev: &'a LValue, name: &str) -> &'a LValue {
    ev.get(name).unwrap_or(&LValue::None)
}

fn num_of(ev: &LValue, name: &str) -> Num {
    field(ev, name).num().unwrap_or(Num::int(0))
}

fn opt_num_of(ev: &LValue, name: &str) -> Option<Num> {
    field(ev, name).num()
}

fn int_of(ev: &LValue, name: &str) -> i128 {
    match *field(ev, name) {
        LValue::Int(v) => v,
        _ => 0,
    }
}

fn str_of<'a>(ev: &'a LValue, name: &str) -> &'a str {
    field(ev, name).as_str().unwrap_or("")
}

fn opt_str_of<'a>(ev: &'a LValue, name: &str) -> Option<&'a str> {
    field(ev, name).as_str()
}

fn bool_of(ev: &LValue, name: &str) -> bool {
    matches!(field(ev, name), LValue::Bool(true))
}

fn kind_of(record: &LValue) -> &str {
    record.get("kind").and_then(LValue::as_str).unwrap_or("")
}

/// The execution ledger (`PyLedger`).
#[derive(Clone, Debug)]
pub struct Ledger {
    cash: Num,
    fee_rate: Num,
    strict: bool,
    orders: Vec<LOrder>,
    order_index: HashMap<String, usize>,
    by_id: HashMap<String, String>,
    /// data -> (size, price): Backtrader's Position, created at a data's first fill.
    positions: DataMap<(Num, Num)>,
    marks: DataMap<Num>,
    keys: Vec<String>,
    key_set: HashSet<String>,
    base_cash: Num,
    base_sizes: HashMap<i128, Num>,
    journal: Vec<(i128, Num, Num, Num)>,
}

type Records = Vec<LValue>;
type Res<T> = Result<T, LedgerError>;

impl Ledger {
    /// `PyLedger(cash, fee_rate, strict)`.
    pub fn new(cash: Num, fee_rate: Num, strict: bool) -> Res<Ledger> {
        Ledger::new_raw(&cash.into(), &fee_rate.into(), &strict.into())
    }

    /// `PyLedger(cash, fee_rate, strict)` with arguments of any type (the error paths are the
    /// argument positions `0`, `1`, `2`).
    pub fn new_raw(cash: &LValue, fee_rate: &LValue, strict: &LValue) -> Res<Ledger> {
        let paths = [
            vec![PathStep::Index(0)],
            vec![PathStep::Index(1)],
            vec![PathStep::Index(2)],
        ];
        Ledger::build(cash, fee_rate, strict, paths)
    }

    fn build(
        cash: &LValue,
        fee_rate: &LValue,
        strict: &LValue,
        paths: [Vec<PathStep>; 3],
    ) -> Res<Ledger> {
        let (cash, fee_rate, strict) = check::check_args(cash, fee_rate, strict, paths)?;
        Ok(Ledger {
            cash,
            fee_rate,
            strict,
            orders: Vec::new(),
            order_index: HashMap::new(),
            by_id: HashMap::new(),
            positions: DataMap::default(),
            marks: DataMap::default(),
            keys: Vec::new(),
            key_set: HashSet::new(),
            base_cash: cash,
            base_sizes: HashMap::new(),
            journal: Vec::new(),
        })
    }

    /// The cash.
    #[must_use]
    pub fn cash(&self) -> Num {
        self.cash
    }

    /// Strict mode.
    #[must_use]
    pub fn strict(&self) -> bool {
        self.strict
    }

    /// The number of orders.
    #[must_use]
    pub fn order_count(&self) -> usize {
        self.orders.len()
    }

    /// The number of positions.
    #[must_use]
    pub fn position_count(&self) -> usize {
        self.positions.len()
    }

    /// The transition matrix: `(status, statuses it may move to)` in the file's order.
    #[must_use]
    pub fn transitions() -> &'static [(&'static str, &'static [&'static str])] {
        &TRANSITIONS
    }

    // --- public API ---------------------------------------------------------------------------

    /// Apply a batch of events (a `list`) in `seq` order and return the records.
    pub fn apply(&mut self, events: &LValue) -> Res<Vec<LValue>> {
        let LValue::List(items) = events else {
            return Err(check::input_error(
                "events",
                "events",
                events.clone(),
                "not a list",
                Some(vec![]),
            ));
        };
        for (i, ev) in items.iter().enumerate() {
            check::validate_event(ev, i)?;
        }
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by_key(|&i| int_of(&items[i], "seq"));
        let mut records = Vec::new();
        for i in order {
            let ev = &items[i];
            let before = if self.strict {
                Some(self.snapshot())
            } else {
                None
            };
            let start = records.len();
            self.apply_one(ev, &mut records)?;
            if let Some(before) = before {
                self.check_invariants(ev, &before, &records[start..])?;
            }
        }
        Ok(records)
    }

    /// Cash, value, positions and the client ids of the orders still alive.
    pub fn state(&self) -> Res<LValue> {
        Ok(LValue::dict(vec![
            ("cash", self.cash.into()),
            ("value", self.value()?.into()),
            ("positions", self.positions_json()),
            (
                "open_orders",
                LValue::List(
                    self.orders
                        .iter()
                        .filter(|o| !is_terminal(o.status))
                        .map(|o| o.order.as_str().into())
                        .collect(),
                ),
            ),
        ]))
    }

    /// The order with client id `order`, as in a snapshot.
    #[must_use]
    pub fn order(&self, order: &str) -> Option<LValue> {
        self.order_index
            .get(order)
            .map(|&k| self.orders[k].to_json())
    }

    fn positions_json(&self) -> LValue {
        LValue::List(
            self.positions
                .items
                .iter()
                .map(|(d, (size, price))| {
                    LValue::dict(vec![
                        ("data", LValue::Int(*d)),
                        ("size", (*size).into()),
                        ("price", (*price).into()),
                    ])
                })
                .collect(),
        )
    }

    /// The whole state, versioned, as JSON-able data.
    #[must_use]
    pub fn snapshot(&self) -> LValue {
        LValue::dict(vec![
            ("version", LValue::Int(i128::from(SNAPSHOT_VERSION))),
            ("cash", self.cash.into()),
            ("fee_rate", self.fee_rate.into()),
            ("strict", self.strict.into()),
            (
                "orders",
                LValue::List(self.orders.iter().map(LOrder::to_json).collect()),
            ),
            ("positions", self.positions_json()),
            (
                "marks",
                LValue::List(
                    self.marks
                        .items
                        .iter()
                        .map(|(d, p)| {
                            LValue::dict(vec![("data", LValue::Int(*d)), ("price", (*p).into())])
                        })
                        .collect(),
                ),
            ),
            (
                "keys",
                LValue::List(self.keys.iter().map(|k| k.as_str().into()).collect()),
            ),
        ])
    }

    /// A ledger in the state `snapshot` (of either backend) describes.
    pub fn restore(snapshot: &LValue) -> Res<Ledger> {
        check::check_snapshot(snapshot)?;
        let get = |key: &str| snapshot.get(key).unwrap_or(&LValue::None);
        let key_path = |key: &str| vec![PathStep::Key(key.to_owned())];
        let mut led = Ledger::build(
            get("cash"),
            get("fee_rate"),
            get("strict"),
            [key_path("cash"), key_path("fee_rate"), key_path("strict")],
        )?;
        let list = |key: &str| match get(key) {
            LValue::List(items) => items.as_slice(),
            _ => &[],
        };
        for item in list("orders") {
            let o = LOrder {
                order: str_of(item, "order").to_owned(),
                order_id: opt_str_of(item, "order_id").map(str::to_owned),
                data: int_of(item, "data"),
                side: str_of(item, "side").to_owned(),
                size: num_of(item, "size"),
                exectype: str_of(item, "exectype").to_owned(),
                price: opt_num_of(item, "price"),
                sim: bool_of(item, "sim"),
                status: status_name(str_of(item, "status")),
                filled: num_of(item, "filled"),
                cost: num_of(item, "cost"),
                fee: num_of(item, "fee"),
                seq: int_of(item, "seq"),
                cancel_requested: bool_of(item, "cancel_requested"),
            };
            let (name, order_id) = (o.order.clone(), o.order_id.clone());
            led.insert_order(o);
            if let Some(id) = order_id {
                led.by_id.insert(id, name);
            }
        }
        for item in list("positions") {
            led.positions.set(
                int_of(item, "data"),
                (num_of(item, "size"), num_of(item, "price")),
            );
        }
        for item in list("marks") {
            led.marks.set(int_of(item, "data"), num_of(item, "price"));
        }
        for key in list("keys") {
            led.add_key(key.as_str().unwrap_or(""));
        }
        led.base_cash = led.cash;
        led.base_sizes = led
            .positions
            .items
            .iter()
            .map(|(d, (size, _))| (*d, *size))
            .collect();
        Ok(led)
    }

    fn insert_order(&mut self, o: LOrder) {
        match self.order_index.get(&o.order) {
            Some(&k) => self.orders[k] = o,
            None => {
                self.order_index.insert(o.order.clone(), self.orders.len());
                self.orders.push(o);
            }
        }
    }

    fn add_key(&mut self, key: &str) {
        if self.key_set.insert(key.to_owned()) {
            self.keys.push(key.to_owned());
        }
    }

    // --- applying events ----------------------------------------------------------------------

    fn diag(records: &mut Records, ev: &LValue, order: LValue, category: &str) {
        let key = if str_of(ev, "type") == "report" {
            field(ev, "key").clone()
        } else {
            LValue::None
        };
        records.push(LValue::dict(vec![
            ("kind", "diagnostic".into()),
            ("seq", field(ev, "seq").clone()),
            ("order", order),
            ("category", category.into()),
            ("level", category_level(category).into()),
            ("key", key),
        ]));
    }

    fn transition(
        &mut self,
        records: &mut Records,
        seq: i128,
        k: usize,
        to: &'static str,
        implied: bool,
    ) {
        let o = &mut self.orders[k];
        records.push(LValue::dict(vec![
            ("kind", "transition".into()),
            ("seq", LValue::Int(seq)),
            ("order", o.order.as_str().into()),
            ("from", o.status.into()),
            ("to", to.into()),
            ("implied", implied.into()),
        ]));
        o.status = to;
    }

    fn notify(&mut self, records: &mut Records, seq: i128, k: usize) -> Res<()> {
        let o = &mut self.orders[k];
        o.seq = seq;
        records.push(LValue::dict(vec![
            ("kind", "notification".into()),
            ("seq", LValue::Int(seq)),
            ("order", o.order.as_str().into()),
            ("status", o.status.into()),
            ("filled", o.filled.into()),
            ("remaining", o.size.minus(o.filled)?.into()),
            ("cost", o.cost.into()),
            ("fee", o.fee.into()),
        ]));
        Ok(())
    }

    fn apply_one(&mut self, ev: &LValue, records: &mut Records) -> Res<()> {
        match str_of(ev, "type") {
            "submit" => self.submit(ev, records),
            "report" => self.report(ev, records),
            "bar" => self.bar(ev, records),
            _ => self.order_event(ev, records),
        }
    }

    fn submit(&mut self, ev: &LValue, records: &mut Records) -> Res<()> {
        let name = str_of(ev, "order");
        if self.order_index.contains_key(name) {
            Self::diag(records, ev, name.into(), "illegal_transition");
            return Ok(());
        }
        let size = num_of(ev, "size");
        let seq = int_of(ev, "seq");
        let o = LOrder {
            order: name.to_owned(),
            order_id: None,
            data: int_of(ev, "data"),
            side: str_of(ev, "side").to_owned(),
            size,
            exectype: str_of(ev, "exectype").to_owned(),
            price: opt_num_of(ev, "price"),
            sim: bool_of(ev, "sim"),
            status: "Created",
            // the type of the size: an int-sized order keeps int fills, as Backtrader does
            filled: if size.is_int() {
                Num::int(0)
            } else {
                Num::Float(0.0)
            },
            cost: Num::Float(0.0),
            fee: Num::Float(0.0),
            seq,
            cancel_requested: false,
        };
        self.insert_order(o);
        let k = self.order_index[name];
        self.transition(records, seq, k, "Submitted", false);
        self.notify(records, seq, k)
    }

    fn order_event(&mut self, ev: &LValue, records: &mut Records) -> Res<()> {
        let kind = str_of(ev, "type");
        let seq = int_of(ev, "seq");
        let name = str_of(ev, "order");
        let Some(&k) = self.order_index.get(name) else {
            Self::diag(records, ev, name.into(), "unknown_order");
            return Ok(());
        };
        let status = self.orders[k].status;
        if kind == "cancel_request" {
            if is_terminal(status) {
                Self::diag(records, ev, name.into(), "terminal_order");
                return Ok(());
            }
            let o = &mut self.orders[k];
            o.cancel_requested = true;
            o.seq = seq;
            records.push(LValue::dict(vec![
                ("kind", "cancel_pending".into()),
                ("seq", LValue::Int(seq)),
                ("order", name.into()),
            ]));
            return Ok(());
        }
        let to = match kind {
            "accept" => "Accepted",
            "reject" if bool_of(ev, "margin") => "Margin",
            "reject" => "Rejected",
            "cancel_ack" => "Canceled",
            _ => "Expired",
        };
        if is_terminal(status) {
            // a repeated cancel or expiry acknowledgment is harmless
            let category = if status == to {
                "duplicate_report"
            } else {
                "terminal_order"
            };
            Self::diag(records, ev, name.into(), category);
            return Ok(());
        }
        if !can_move(status, to) {
            Self::diag(records, ev, name.into(), "illegal_transition");
            return Ok(());
        }
        if kind == "accept" {
            if let Some(id) = opt_str_of(ev, "order_id") {
                if self.by_id.get(id).is_some_and(|owner| owner != name) {
                    Self::diag(records, ev, name.into(), "illegal_transition");
                    return Ok(());
                }
                self.orders[k].order_id = Some(id.to_owned());
                self.by_id.insert(id.to_owned(), name.to_owned());
            }
        }
        self.transition(records, seq, k, to, false);
        self.notify(records, seq, k)
    }

    fn find(&self, ev: &LValue) -> Option<usize> {
        let order_id = opt_str_of(ev, "order_id");
        if let Some(name) = opt_str_of(ev, "order") {
            let &k = self.order_index.get(name)?;
            let o = &self.orders[k];
            if let Some(id) = order_id {
                if o.order_id.as_deref().is_some_and(|own| own != id) {
                    return None;
                }
                if o.order_id.is_none() && self.by_id.get(id).is_some_and(|owner| *owner != o.order)
                {
                    return None;
                }
            }
            return Some(k);
        }
        let name = self.by_id.get(order_id?)?;
        self.order_index.get(name).copied()
    }

    fn report(&mut self, ev: &LValue, records: &mut Records) -> Res<()> {
        let seq = int_of(ev, "seq");
        let key = str_of(ev, "key");
        if self.key_set.contains(key) {
            Self::diag(records, ev, field(ev, "order").clone(), "duplicate_report");
            return Ok(());
        }
        let Some(k) = self.find(ev) else {
            Self::diag(records, ev, field(ev, "order").clone(), "unknown_order");
            return Ok(());
        };
        let name: LValue = self.orders[k].order.as_str().into();
        let filled = num_of(ev, "filled");
        let status = str_of(ev, "status");
        let (o_seq, o_filled, o_size, o_status) = {
            let o = &self.orders[k];
            (o.seq, o.filled, o.size, o.status)
        };
        if seq < o_seq || filled.lt(o_filled) {
            Self::diag(records, ev, name, "stale_report");
            return Ok(());
        }
        if filled.gt(o_size) {
            Self::diag(records, ev, name, "overfill");
            return Ok(());
        }
        let delta = filled.minus(o_filled)?;
        let target = match status {
            "open" if filled.truthy() => "Partial",
            "open" => "Accepted",
            "closed" => "Completed",
            "canceled" => "Canceled",
            "expired" => "Expired",
            _ => "Rejected",
        };
        if is_terminal(o_status) {
            if !delta.truthy() {
                let category = if target == o_status {
                    "duplicate_report"
                } else {
                    "stale_report"
                };
                Self::diag(records, ev, name, category);
            } else if target == o_status && (o_status == "Canceled" || o_status == "Expired") {
                let Some(price) = self.report_price(ev, k, delta)? else {
                    Self::diag(records, ev, name, "inconsistent_report");
                    return Ok(());
                };
                self.learn_id(ev, k);
                self.add_key(key);
                Self::diag(records, ev, name, "late_fill");
                let fee = self.fee_delta(ev, k)?;
                self.fill(
                    records,
                    ev,
                    k,
                    (delta, filled),
                    price,
                    fee,
                    field(ev, "ts").clone(),
                )?;
                self.notify(records, seq, k)?;
            } else {
                Self::diag(records, ev, name, "terminal_order");
            }
            return Ok(());
        }
        if !delta.truthy() && target == o_status {
            Self::diag(records, ev, name, "duplicate_report");
            return Ok(());
        }
        // plan the status path, refusing before anything changes
        let mut cur = o_status;
        let implied = delta.truthy() && cur == "Submitted";
        if implied {
            cur = "Accepted";
        }
        if delta.truthy() {
            let after_fill = if filled.py_eq(o_size) {
                "Completed"
            } else {
                "Partial"
            };
            if !can_move(cur, after_fill) {
                Self::diag(records, ev, name, "illegal_transition");
                return Ok(());
            }
            cur = after_fill;
        }
        let mut final_ = cur;
        let mut short = false;
        if cur != "Completed" && target != cur {
            if !can_move(cur, target) {
                Self::diag(records, ev, name, "illegal_transition");
                return Ok(());
            }
            final_ = target;
            short = target == "Completed";
        }
        let mut price = Num::Float(0.0);
        if delta.truthy() {
            let Some(got) = self.report_price(ev, k, delta)? else {
                Self::diag(records, ev, name, "inconsistent_report");
                return Ok(());
            };
            price = got;
        }
        // apply
        self.learn_id(ev, k);
        self.add_key(key);
        if implied {
            Self::diag(records, ev, name.clone(), "implied_accept");
            self.transition(records, seq, k, "Accepted", true);
        }
        if delta.truthy() {
            let fee = self.fee_delta(ev, k)?;
            self.fill(
                records,
                ev,
                k,
                (delta, filled),
                price,
                fee,
                field(ev, "ts").clone(),
            )?;
            let to = if filled.py_eq(self.orders[k].size) {
                "Completed"
            } else {
                "Partial"
            };
            self.transition(records, seq, k, to, false);
        }
        if final_ != self.orders[k].status {
            if short {
                Self::diag(records, ev, name, "closed_short");
            }
            self.transition(records, seq, k, final_, false);
        }
        self.notify(records, seq, k)
    }

    fn learn_id(&mut self, ev: &LValue, k: usize) {
        if let Some(id) = opt_str_of(ev, "order_id") {
            let o = &mut self.orders[k];
            if o.order_id.is_none() {
                o.order_id = Some(id.to_owned());
                self.by_id.insert(id.to_owned(), o.order.clone());
            }
        }
    }

    fn report_price(&self, ev: &LValue, k: usize, delta: Num) -> Res<Option<Num>> {
        let o = &self.orders[k];
        if let Some(last_price) = opt_num_of(ev, "last_price") {
            if opt_num_of(ev, "last_size").is_some_and(|size| size.py_eq(delta)) {
                return Ok(Some(Num::Float(last_price.to_f64())));
            }
        }
        let price = match opt_num_of(ev, "cost") {
            Some(cost) => cost.minus(o.cost)?.over(delta)?,
            None => num_of(ev, "filled")
                .times(num_of(ev, "average"))?
                .minus(o.cost)?
                .over(delta)?,
        };
        let v = price.to_f64();
        if !(v.is_finite() && price.gt(Num::int(0))) {
            return Ok(None);
        }
        Ok(Some(Num::Float(v)))
    }

    fn fee_delta(&self, ev: &LValue, k: usize) -> Res<Num> {
        Ok(match opt_num_of(ev, "fee") {
            None => Num::Float(0.0),
            Some(fee) => fee.minus(self.orders[k].fee)?,
        })
    }

    #[allow(clippy::too_many_arguments, reason = "the signature of PyLedger._fill")]
    /// `_fill`: `(delta, filled)` are the size of this fill and the new cumulative filled as
    /// reported (a simulated fill: the size; `filled + delta` could differ in the last bit).
    fn fill(
        &mut self,
        records: &mut Records,
        ev: &LValue,
        k: usize,
        (delta, filled): (Num, Num),
        price: Num,
        fee: Num,
        ts: LValue,
    ) -> Res<()> {
        let (side, data) = {
            let o = &self.orders[k];
            (o.side == "buy", o.data)
        };
        let signed = if side { delta } else { delta.negated()? };
        if self.positions.get(data).is_none() {
            self.positions.set(data, (Num::int(0), Num::Float(0.0)));
        }
        let (oldsize, oldprice) = self
            .positions
            .get(data)
            .copied()
            .unwrap_or((Num::int(0), Num::Float(0.0)));
        let size = oldsize.plus(signed)?;
        let zero = Num::int(0);
        // backtrader.Position.update
        let (closed, newprice) = if !size.truthy() {
            (signed, Num::Float(0.0))
        } else if !oldsize.truthy() {
            (zero, price)
        } else if oldsize.gt(zero) {
            if signed.gt(zero) {
                let p = oldprice
                    .times(oldsize)?
                    .plus(signed.times(price)?)?
                    .over(size)?;
                (zero, p)
            } else if size.gt(zero) {
                (signed, oldprice)
            } else {
                (oldsize.negated()?, price)
            }
        } else if signed.lt(zero) {
            let p = oldprice
                .times(oldsize)?
                .plus(signed.times(price)?)?
                .over(size)?;
            (zero, p)
        } else if size.lt(zero) {
            (signed, oldprice)
        } else {
            (oldsize.negated()?, price)
        };
        let pnl = closed.negated()?.times(price.minus(oldprice)?)?;
        if let Some(pos) = self.positions.get_mut(data) {
            *pos = (size, newprice);
        }
        self.cash = self.cash.minus(signed.times(price)?)?.minus(fee)?;
        let is_report = str_of(ev, "type") == "report";
        let o = &mut self.orders[k];
        o.filled = filled;
        o.cost = match opt_num_of(ev, "cost") {
            Some(cost) if is_report => Num::Float(cost.to_f64()),
            _ => o.cost.plus(delta.times(price)?)?,
        };
        o.fee = match opt_num_of(ev, "fee") {
            Some(total) if is_report => Num::Float(total.to_f64()),
            _ => o.fee.plus(fee)?,
        };
        if self.strict {
            self.journal.push((data, signed, price, fee));
        }
        let remaining = o.size.minus(o.filled)?;
        records.push(LValue::dict(vec![
            ("kind", "fill".into()),
            ("seq", field(ev, "seq").clone()),
            ("order", o.order.as_str().into()),
            ("data", LValue::Int(data)),
            ("size", signed.into()),
            ("price", price.into()),
            ("fee", fee.into()),
            ("filled", o.filled.into()),
            ("remaining", remaining.into()),
            ("pnl", pnl.into()),
            ("position_size", size.into()),
            ("position_price", newprice.into()),
            ("cash", self.cash.into()),
            ("ts", ts),
        ]));
        Ok(())
    }

    fn bar(&mut self, ev: &LValue, records: &mut Records) -> Res<()> {
        let data = int_of(ev, "data");
        let seq = int_of(ev, "seq");
        self.marks
            .set(data, Num::Float(num_of(ev, "close").to_f64()));
        for k in 0..self.orders.len() {
            let (sim, o_data, status, cancel) = {
                let o = &self.orders[k];
                (o.sim, o.data, o.status, o.cancel_requested)
            };
            if !sim || o_data != data || is_terminal(status) {
                continue;
            }
            if cancel {
                self.transition(records, seq, k, "Canceled", false);
                self.notify(records, seq, k)?;
                continue;
            }
            let mut changed = status == "Submitted";
            if changed {
                self.transition(records, seq, k, "Accepted", false);
            }
            if let Some(price) = self.sim_price(k, ev) {
                let (delta, size) = {
                    let o = &self.orders[k];
                    (o.size.minus(o.filled)?, o.size)
                };
                let fee = delta.times(price)?.absolute()?.times(self.fee_rate)?;
                self.fill(
                    records,
                    ev,
                    k,
                    (delta, size),
                    price,
                    fee,
                    field(ev, "ts").clone(),
                )?;
                self.transition(records, seq, k, "Completed", false);
                changed = true;
            }
            if changed {
                self.notify(records, seq, k)?;
            }
        }
        Ok(())
    }

    fn sim_price(&self, k: usize, ev: &LValue) -> Option<Num> {
        let o = &self.orders[k];
        let opn = Num::Float(num_of(ev, "open").to_f64());
        if o.exectype == "market" {
            return Some(opn);
        }
        let limit = o.price?;
        if o.side == "buy" {
            if opn.le(limit) {
                return Some(opn);
            }
            if num_of(ev, "low").le(limit) {
                return Some(Num::Float(limit.to_f64()));
            }
        } else {
            if opn.ge(limit) {
                return Some(opn);
            }
            if num_of(ev, "high").ge(limit) {
                return Some(Num::Float(limit.to_f64()));
            }
        }
        None
    }

    fn value(&self) -> Res<Num> {
        let mut value = self.cash;
        for (data, (size, price)) in &self.positions.items {
            let mark = self.marks.get(*data).copied().unwrap_or(*price);
            value = value.plus(size.times(mark)?)?;
        }
        Ok(value)
    }

    // --- strict mode --------------------------------------------------------------------------

    fn check_invariants(&self, ev: &LValue, before: &LValue, records: &[LValue]) -> Res<()> {
        let fail = |what: String| {
            Err(LedgerError::Invariant(format!(
                "ledger invariant broken: {what}"
            )))
        };
        let changed = records.iter().any(|r| kind_of(r) != "diagnostic");
        // a bar marks its data even when no order moves
        if !changed && str_of(ev, "type") != "bar" && !self.snapshot().py_eq(before) {
            return fail("a refused or duplicate event changed the state".to_owned());
        }
        let mut old: HashMap<&str, &LValue> = HashMap::new();
        if let Some(LValue::List(orders)) = before.get("orders") {
            for o in orders {
                old.insert(o.get("order").and_then(LValue::as_str).unwrap_or(""), o);
            }
        }
        let zero = Num::int(0);
        for o in &self.orders {
            if !STATES.contains(&o.status) {
                return fail(format!(
                    "order {} has status {}",
                    o.order,
                    str_repr(o.status)
                ));
            }
            if o.status == "Submitted" && o.filled.truthy() {
                return fail(format!("order {} filled before acceptance", o.order));
            }
            if !(zero.le(o.filled) && o.filled.le(o.size)) {
                return fail(format!(
                    "order {} filled {} of {}",
                    o.order,
                    num_repr(o.filled),
                    num_repr(o.size)
                ));
            }
            if let Some(prev) = old.get(o.order.as_str()) {
                let prev_filled = prev.get("filled").and_then(LValue::num).unwrap_or(zero);
                if o.filled.lt(prev_filled) {
                    return fail(format!("order {} filled fell", o.order));
                }
                let prev_status = prev.get("status").and_then(LValue::as_str).unwrap_or("");
                if is_terminal(prev_status) && o.status != prev_status {
                    return fail(format!(
                        "order {} left terminal status {prev_status}",
                        o.order
                    ));
                }
            }
        }
        let mut cash = self.base_cash;
        let mut sizes = self.base_sizes.clone();
        for &(data, signed, price, fee) in &self.journal {
            cash = cash.minus(signed.times(price)?)?.minus(fee)?;
            let size = sizes.get(&data).copied().unwrap_or(zero).plus(signed)?;
            sizes.insert(data, size);
        }
        if !cash.py_eq(self.cash) {
            return fail(format!(
                "cash {} != {} from the fills",
                num_repr(self.cash),
                num_repr(cash)
            ));
        }
        for (data, (size, _)) in &self.positions.items {
            if !sizes.get(data).copied().unwrap_or(zero).py_eq(*size) {
                let made = sizes.get(data).map_or("None".to_owned(), |s| num_repr(*s));
                return fail(format!(
                    "position of data {data} is {}, the fills make {made}",
                    num_repr(*size)
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_table_matches_the_json_file() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../bt_cracktrader/core/schema/transitions.json"
        );
        let text = std::fs::read_to_string(path).expect("transitions.json");
        let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let obj = json.as_object().expect("an object");
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            [
                "description",
                "states",
                "terminal",
                "transitions",
                "version"
            ]
        );
        assert_eq!(obj["version"].as_i64(), Some(MATRIX_VERSION));
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .expect("a list")
                .iter()
                .map(|s| s.as_str().expect("a str").to_owned())
                .collect()
        };
        assert_eq!(strings(&obj["states"]), STATES);
        assert_eq!(strings(&obj["terminal"]), TERMINAL);
        let table = obj["transitions"].as_object().expect("an object");
        assert_eq!(table.len(), TRANSITIONS.len());
        // serde_json's map is sorted without `preserve_order`: check the file's order by text
        let mut last = 0;
        for (state, targets) in TRANSITIONS {
            assert_eq!(strings(&table[state]), targets, "{state}");
            let at = text
                .find(&format!("\"{state}\": ["))
                .expect("state in the table");
            assert!(at > last, "{state} out of order");
            last = at;
        }
        assert_eq!(
            TRANSITIONS.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            STATES
        );
    }
}
