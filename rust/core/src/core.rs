//! `Core`: BackBroker's matching and accounting for Market orders, a line-by-line port of
//! `bt_cracktrader/core/pycore.py` (itself written in the order of
//! `backtrader/brokers/bbroker.py`). Every arithmetic operation below is the Python one, in the
//! same order and association, on [`Num`]s that keep Python's `int`/`float` types.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::comm::CommSpec;
use crate::error::{CoreError, ErrValue, Origin};
use crate::event::{Bar, Event, Execution, Record, State};
use crate::num::{Num, FZERO, ZERO};
use crate::order::{Order, OrderState};
use crate::position::{Position, Positions};
use crate::validate::{fail, finite, flag, validate, What};
use crate::value::{RawItem, Value};

/// The deterministic broker core (the Rust twin of `PyCore`).
#[derive(Clone, Debug)]
pub struct Core {
    pub(crate) checksubmit: bool,
    pub(crate) shortcash: bool,
    pub(crate) cash: Num,
    pub(crate) comm: HashMap<usize, CommSpec>,
    pub(crate) positions: Positions,
    /// Live orders (submitted or pending).
    pub(crate) orders: HashMap<u64, Order>,
    /// References of completed orders (they can never be reused).
    pub(crate) done: HashSet<u64>,
    pub(crate) submitted: VecDeque<u64>,
    pub(crate) pending: VecDeque<u64>,
    pub(crate) value: Num,
    pub(crate) valuemkt: Num,
    pub(crate) valuelever: Num,
    pub(crate) valuemktlever: Num,
    pub(crate) fundval: Num,
    pub(crate) fundshares: Num,
    pub(crate) leverage: Num,
    pub(crate) unrealized: Num,
}

/// The bars of a step by data (`marks` in the Python core).
struct Marks<'a> {
    bars: &'a [Bar],
    /// `(data, position in bars)`, sorted by data.
    index: Vec<(usize, usize)>,
}

impl<'a> Marks<'a> {
    fn new(bars: &'a [Bar]) -> Self {
        let mut index: Vec<(usize, usize)> = bars
            .iter()
            .enumerate()
            .map(|(k, bar)| (bar.data, k))
            .collect();
        index.sort_unstable();
        Marks { bars, index }
    }

    fn get(&self, data: usize) -> Result<&'a Bar, CoreError> {
        // Common case: the bars come in data order, one per data.
        if let Some(bar) = self.bars.get(data).filter(|bar| bar.data == data) {
            return Ok(bar);
        }
        self.index
            .binary_search_by_key(&data, |&(d, _)| d)
            .map(|k| &self.bars[self.index[k].1])
            .map_err(|_| CoreError::Internal("no bar for the data of an order or position"))
    }
}

const MISSING_COMM: CoreError = CoreError::Internal("no commission scheme for a data");
const MISSING_ORDER: CoreError = CoreError::Internal("unknown live order");

impl Core {
    /// `PyCore(cash, checksubmit, shortcash, fundstartval)`.
    pub fn new(
        cash: Num,
        checksubmit: bool,
        shortcash: bool,
        fundstartval: Num,
    ) -> Result<Core, CoreError> {
        Core::new_raw([
            cash.into(),
            Value::Bool(checksubmit),
            Value::Bool(shortcash),
            fundstartval.into(),
        ])
    }

    /// `PyCore(cash, checksubmit, shortcash, fundstartval)` with unchecked arguments, validated
    /// as the Python core validates them.
    pub fn new_raw(args: [Value; 4]) -> Result<Core, CoreError> {
        let [cash, checksubmit, shortcash, fundstartval] = args;
        let cash = finite(What::Broker, "cash", cash, Origin::Arg(0))?;
        let fundstartval = finite(What::Broker, "fundstartval", fundstartval, Origin::Arg(3))?;
        if !fundstartval.truthy() {
            return Err(fail(
                What::Broker,
                "fundstartval",
                ErrValue::from_num(fundstartval),
                "zero",
                Some(Origin::Arg(3)),
            ));
        }
        let checksubmit = flag(What::Broker, "checksubmit", checksubmit, Origin::Arg(1))?;
        let shortcash = flag(What::Broker, "shortcash", shortcash, Origin::Arg(2))?;
        Ok(Core {
            checksubmit,
            shortcash,
            cash,
            comm: HashMap::new(),
            positions: Positions::default(),
            orders: HashMap::new(),
            done: HashSet::new(),
            submitted: VecDeque::new(),
            pending: VecDeque::new(),
            value: cash,
            valuemkt: FZERO,
            valuelever: FZERO,
            valuemktlever: FZERO,
            fundval: fundstartval,
            fundshares: cash.over(fundstartval)?,
            leverage: Num::Float(1.0),
            unrealized: FZERO,
        })
    }

    // -- the contract ------------------------------------------------------------------------

    /// The broker figures (`STATE_FIELDS`).
    #[must_use]
    pub fn state(&self) -> State {
        let idle = self.submitted.is_empty()
            && self.pending.is_empty()
            && !self.positions.iter().any(|(_, p)| p.size.truthy());
        State {
            cash: self.cash,
            value: self.value,
            valuemkt: self.valuemkt,
            valuelever: self.valuelever,
            valuemktlever: self.valuemktlever,
            fundvalue: self.fundval,
            fundshares: self.fundshares,
            leverage: self.leverage,
            unrealized: self.unrealized,
            idle,
        }
    }

    /// Apply events now, without a bar (what `step` does first).
    pub fn apply(&mut self, events: &[Event]) -> Result<(), CoreError> {
        let raw: Vec<RawItem> = events.iter().map(RawItem::from).collect();
        self.apply_raw(&raw)
    }

    /// [`Core::apply`] with unchecked events.
    pub fn apply_raw(&mut self, events: &[RawItem]) -> Result<(), CoreError> {
        let (events, _) = validate(self, events, None)?;
        for event in &events {
            self.apply_event(event);
        }
        Ok(())
    }

    /// Apply the events, then process one bar per registered data; returns the records.
    pub fn step(&mut self, events: &[Event], bars: &[Bar]) -> Result<Vec<Record>, CoreError> {
        let raw_events: Vec<RawItem> = events.iter().map(RawItem::from).collect();
        let raw_bars: Vec<RawItem> = bars.iter().map(RawItem::from).collect();
        self.step_raw(&raw_events, &raw_bars)
    }

    /// [`Core::step`] with unchecked events and bars.
    pub fn step_raw(
        &mut self,
        events: &[RawItem],
        bars: &[RawItem],
    ) -> Result<Vec<Record>, CoreError> {
        let (events, bars) = validate(self, events, Some(bars))?;
        let mut records = Vec::new();
        for event in &events {
            self.apply_event(event);
        }
        let marks = Marks::new(&bars);

        if self.checksubmit {
            self.check_submitted(&mut records)?;
        }

        // One pass over the pending queue (the Python core's sentinel loop).
        for _ in 0..self.pending.len() {
            let Some(oref) = self.pending.pop_front() else {
                break;
            };
            let data = self.orders.get(&oref).ok_or(MISSING_ORDER)?.data;
            self.try_exec(oref, marks.get(data)?, &mut records)?;
            if self
                .orders
                .get(&oref)
                .is_some_and(|o| o.state == OrderState::Pending)
            {
                self.pending.push_back(oref);
            }
        }

        for (data, pos) in self.positions.iter_mut() {
            if pos.size.truthy() {
                let mark = marks.get(*data)?.mark;
                let comm = self.comm.get(data).ok_or(MISSING_COMM)?;
                self.cash = self
                    .cash
                    .plus(comm.cashadjust(pos.size, pos.adjbase, mark)?)?;
                pos.adjbase = Some(mark);
            }
        }

        self.get_value(|data| marks.get(data).map(|bar| bar.mark), None, false)?;
        Ok(records)
    }

    /// `broker.getvalue(datas=...)`: with one data its raw value, else the partial total, which
    /// (as in BackBroker) replaces the cached figures.
    pub fn value_of(
        &mut self,
        datas: &[usize],
        closes: &[Num],
        lever: bool,
    ) -> Result<Num, CoreError> {
        let datas: Vec<Value> = datas.iter().map(|&d| Value::Int(d as i128)).collect();
        let closes: Vec<Value> = closes.iter().map(|&c| c.into()).collect();
        self.value_of_raw(&datas, &closes, lever)
    }

    /// [`Core::value_of`] with unchecked datas and closes. A data is looked up as a Python
    /// `dict` key: `True` is `1` and `1.0` is `1`.
    pub fn value_of_raw(
        &mut self,
        datas: &[Value],
        closes: &[Value],
        lever: bool,
    ) -> Result<Num, CoreError> {
        if datas.len() != closes.len() || datas.is_empty() {
            return Err(fail(
                What::ValueRequest,
                "datas",
                ErrValue::List(datas.iter().map(|d| d.to_err()).collect()),
                "empty or unmatched",
                Some(Origin::Datas),
            ));
        }
        let mut keys = Vec::with_capacity(datas.len());
        let mut marks = Vec::with_capacity(datas.len());
        for (k, (&data, &close)) in datas.iter().zip(closes).enumerate() {
            let key = dict_key(data)
                .filter(|d| self.comm.contains_key(d))
                .ok_or_else(|| {
                    fail(
                        What::ValueRequest,
                        "data",
                        data.to_err(),
                        "unknown data",
                        Some(Origin::Data(k)),
                    )
                })?;
            let close = finite(What::ValueRequest, "close", close, Origin::Close(k))?;
            keys.push(key);
            marks.push((key, close));
        }
        for &data in &keys {
            self.positions.setdefault(data);
        }
        // `{d: c for d, c in zip(datas, closes)}`: the last close of a data wins.
        let mark = |data: usize| {
            marks
                .iter()
                .rev()
                .find(|(d, _)| *d == data)
                .map(|&(_, c)| c)
                .ok_or(CoreError::Internal("no close for a data"))
        };
        self.get_value(mark, Some(&keys), lever)
    }

    // -- events --------------------------------------------------------------------------------

    fn apply_event(&mut self, event: &Event) {
        match *event {
            Event::Data { data, comm } => {
                self.comm.insert(data, comm);
            }
            Event::Position { data } => {
                self.positions.setdefault(data);
            }
            Event::Submit {
                oref,
                data,
                size,
                price,
                created_dt,
                exectype: _,
                check,
            } => {
                let state = if check {
                    self.submitted.push_back(oref);
                    OrderState::Submitted
                } else {
                    self.pending.push_back(oref);
                    OrderState::Pending
                };
                self.orders.insert(
                    oref,
                    Order {
                        oref,
                        data,
                        size,
                        remsize: size,
                        price,
                        created_dt,
                        state,
                    },
                );
            }
            Event::Cancel { oref } => {
                if let Some(order) = self.orders.remove(&oref) {
                    let queue = match order.state {
                        OrderState::Pending => &mut self.pending,
                        OrderState::Submitted => &mut self.submitted,
                    };
                    if let Some(k) = queue.iter().position(|&r| r == oref) {
                        queue.remove(k);
                    }
                    self.done.insert(oref);
                }
            }
            Event::Config {
                checksubmit,
                shortcash,
            } => {
                self.checksubmit = checksubmit;
                self.shortcash = shortcash;
            }
            Event::SetCash { cash } => self.cash = cash,
        }
    }

    fn finish(&mut self, oref: u64) {
        self.orders.remove(&oref);
        self.done.insert(oref);
    }

    // -- BackBroker.check_submitted ----------------------------------------------------------

    fn check_submitted(&mut self, records: &mut Vec<Record>) -> Result<(), CoreError> {
        let mut cash = self.cash;
        let mut positions: HashMap<usize, Position> = HashMap::new();
        while let Some(oref) = self.submitted.pop_front() {
            let order = *self.orders.get(&oref).ok_or(MISSING_ORDER)?;
            let position = positions
                .entry(order.data)
                .or_insert_with(|| self.positions.setdefault(order.data).fresh_clone());
            cash = self.pseudo_execute(&order, cash, position)?;
            if cash.ge(FZERO) {
                if let Some(live) = self.orders.get_mut(&oref) {
                    live.state = OrderState::Pending;
                }
                self.pending.push_back(oref);
                records.push(Record::Accepted { oref });
            } else {
                self.finish(oref);
                records.push(Record::Margin { oref });
            }
        }
        Ok(())
    }

    fn pseudo_execute(
        &self,
        order: &Order,
        mut cash: Num,
        position: &mut Position,
    ) -> Result<Num, CoreError> {
        let comm = self.comm.get(&order.data).ok_or(MISSING_COMM)?;
        let price = order.price;
        let (_, _, opened, closed) = position.update(order.remsize, price)?;
        if closed.truthy() {
            let closedvalue = if self.shortcash {
                comm.getvaluesize(closed.negated()?, price)?
            } else {
                comm.getoperationcost(closed, price)?
            };
            let mut closecash = closedvalue;
            if closedvalue.gt(ZERO) {
                closecash = closecash.over(comm.leverage)?;
            }
            // cash += closecash + 0 * comm.stocklike
            cash = cash.plus(closecash.plus(ZERO.times(Num::from(comm.stocklike))?)?)?;
            cash = cash.minus(comm.getcommission(closed, price)?)?;
        }
        if opened.truthy() {
            let openedvalue = if self.shortcash {
                comm.getvaluesize(opened, price)?
            } else {
                comm.getoperationcost(opened, price)?
            };
            let mut opencash = openedvalue;
            if openedvalue.gt(ZERO) {
                opencash = opencash.over(comm.leverage)?;
            }
            cash = cash.minus(opencash)?;
            cash = cash.minus(comm.getcommission(opened, price)?)?;
        }
        Ok(cash)
    }

    // -- BackBroker._try_exec_market and _execute --------------------------------------------

    fn try_exec(
        &mut self,
        oref: u64,
        bar: &Bar,
        records: &mut Vec<Record>,
    ) -> Result<(), CoreError> {
        let dt = bar.dt;
        let created_dt = self.orders.get(&oref).ok_or(MISSING_ORDER)?.created_dt;
        if dt.le(created_dt) {
            return Ok(());
        }
        self.execute(oref, dt, bar.open, records)
    }

    fn execute(
        &mut self,
        oref: u64,
        dt: Num,
        price: Num,
        records: &mut Vec<Record>,
    ) -> Result<(), CoreError> {
        let mut order = *self.orders.get(&oref).ok_or(MISSING_ORDER)?;
        let size = order.remsize;
        let comm = *self.comm.get(&order.data).ok_or(MISSING_COMM)?;
        let shortcash = self.shortcash;
        let position = self.positions.setdefault(order.data);
        let pprice_orig = position.price;
        let (psize, pprice, mut opened, closed) = position.fresh_clone().update(size, price)?;
        let pnl = comm.profitandloss(closed.negated()?, pprice_orig, price)?;
        let mut cash = self.cash;

        let closedvalue;
        let closedcomm;
        if closed.truthy() {
            closedvalue = if shortcash {
                comm.getvaluesize(closed.negated()?, pprice_orig)?
            } else {
                comm.getoperationcost(closed, pprice_orig)?
            };
            let mut closecash = closedvalue;
            if closedvalue.gt(ZERO) {
                closecash = closecash.over(comm.leverage)?;
            }
            // cash += closecash + pnl * comm.stocklike
            cash = cash.plus(closecash.plus(pnl.times(Num::from(comm.stocklike))?)?)?;
            closedcomm = comm.getcommission(closed, price)?;
            cash = cash.minus(closedcomm)?;
            cash = cash.plus(comm.cashadjust(closed.negated()?, position.adjbase, price)?)?;
            self.cash = cash;
        } else {
            closedvalue = FZERO;
            closedcomm = FZERO;
        }

        let popened = opened;
        let mut openedvalue;
        let mut openedcomm;
        if opened.truthy() {
            openedvalue = if shortcash {
                comm.getvaluesize(opened, price)?
            } else {
                comm.getoperationcost(opened, price)?
            };
            let mut opencash = openedvalue;
            if openedvalue.gt(ZERO) {
                opencash = opencash.over(comm.leverage)?;
            }
            cash = cash.minus(opencash)?;
            openedcomm = comm.getcommission(opened, price)?;
            cash = cash.minus(openedcomm)?;
            if cash.lt(FZERO) {
                opened = ZERO;
                openedvalue = FZERO;
                openedcomm = FZERO;
            } else {
                if psize.absolute()?.gt(opened.absolute()?) {
                    cash = cash.plus(comm.cashadjust(
                        psize.minus(opened)?,
                        position.adjbase,
                        price,
                    )?)?;
                }
                position.adjbase = Some(price);
                self.cash = cash;
            }
        } else {
            openedvalue = FZERO;
            openedcomm = FZERO;
        }

        let mut completed = false;
        let execsize = closed.plus(opened)?;
        if execsize.truthy() {
            position.update(execsize, price)?;
            order.remsize = order.remsize.minus(execsize)?;
            if !order.remsize.truthy() {
                completed = true;
            }
            records.push(Record::Executed(Box::new(Execution {
                oref,
                dt,
                size: execsize,
                price,
                closed,
                closedvalue,
                closedcomm,
                opened,
                openedvalue,
                openedcomm,
                pnl,
                psize,
                pprice,
                position_size: position.size,
                position_price: position.price,
            })));
        }

        if popened.truthy() && !opened.truthy() {
            completed = true;
            records.push(Record::Margin { oref });
        }
        if completed {
            self.finish(oref);
        } else {
            self.orders.insert(oref, order);
        }
        Ok(())
    }

    // -- BackBroker._get_value ---------------------------------------------------------------

    fn get_value<F>(
        &mut self,
        mark: F,
        datas: Option<&[usize]>,
        lever: bool,
    ) -> Result<Num, CoreError>
    where
        F: Fn(usize) -> Result<Num, CoreError>,
    {
        let mut pos_value = FZERO;
        let mut pos_value_unlever = FZERO;
        let mut unrealized = FZERO;
        // `for data in datas or list(self.positions)`
        let count = match datas {
            Some(datas) if !datas.is_empty() => datas.len(),
            _ => self.positions.len(),
        };
        let single = datas.is_some_and(|d| d.len() == 1);
        for k in 0..count {
            let data = match datas {
                Some(datas) if !datas.is_empty() => datas[k],
                _ => self.positions.data_at(k),
            };
            let comm = self.comm.get(&data).ok_or(MISSING_COMM)?;
            let position = self
                .positions
                .get(data)
                .ok_or(CoreError::Internal("no position entry for a valued data"))?;
            let mark = mark(data)?;
            let mut dvalue = if !self.shortcash {
                comm.getvalue(position.size, position.price, mark)?
            } else {
                comm.getvaluesize(position.size, mark)?
            };
            let dunrealized = comm.profitandloss(position.size, position.price, mark)?;
            if single {
                if lever && dvalue.gt(ZERO) {
                    dvalue = dvalue.minus(dunrealized)?;
                    return dvalue.over(comm.leverage)?.plus(dunrealized);
                }
                return Ok(dvalue);
            }
            if !self.shortcash {
                dvalue = dvalue.absolute()?;
            }
            pos_value = pos_value.plus(dvalue)?;
            unrealized = unrealized.plus(dunrealized)?;
            if dvalue.gt(ZERO) {
                dvalue = dvalue.minus(dunrealized)?;
                pos_value_unlever = pos_value_unlever.plus(dvalue.over(comm.leverage)?)?;
                pos_value_unlever = pos_value_unlever.plus(dunrealized)?;
            } else {
                pos_value_unlever = pos_value_unlever.plus(dvalue)?;
            }
        }

        self.value = self.cash.plus(pos_value_unlever)?;
        self.fundval = self.value.over(self.fundshares)?;
        self.valuemkt = pos_value_unlever;
        self.valuelever = self.cash.plus(pos_value)?;
        self.valuemktlever = pos_value;
        self.leverage = pos_value.over(pos_value_unlever.or(Num::Float(1.0)))?;
        self.unrealized = unrealized;
        Ok(if !lever { self.value } else { self.valuelever })
    }
}

/// A data as a Python `dict` key: an int, a bool (`True == 1`) or an integral float
/// (`1.0 == 1`, `-0.0 == 0`).
fn dict_key(value: Value) -> Option<usize> {
    match value {
        Value::Int(v) => usize::try_from(v).ok(),
        Value::Bool(v) => Some(usize::from(v)),
        Value::Float(v) if v.is_finite() && v.fract() == 0.0 && v > -1.0 && v < 1.8e19 => {
            // integral, within the usize range (checked again below)
            let as_int = v as i128;
            usize::try_from(as_int).ok()
        }
        _ => None,
    }
}
