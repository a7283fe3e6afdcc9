//! `Core`: BackBroker's matching and accounting, a line-by-line port of
//! `bt_cracktrader/core/pycore.py` (itself written in the order of
//! `backtrader/brokers/bbroker.py`). Every arithmetic operation below is the Python one, in the
//! same order and association, on [`Num`]s that keep Python's `int`/`float` types.
//!
//! Orders live in an arena (`orders`, in creation order) and the queues hold arena indices, as
//! the Python core's deques hold the order objects themselves: an order transmitted again with
//! its bracket sits twice in the pending queue, exactly as in BackBroker.

use std::collections::VecDeque;

use crate::hashing::FastMap;

use crate::comm::{Comm, CommSpec, FloatComm, Schemes};
use crate::error::{CoreError, ErrValue, Origin};
use crate::event::{
    Bar, Config, Event, Execution, OrderSpec, Record, State, EXEC_CLOSE, EXEC_HISTORICAL,
    EXEC_LIMIT, EXEC_MARKET, EXEC_STOP, EXEC_STOPLIMIT, EXEC_STOPTRAIL, EXEC_STOPTRAILLIMIT,
    FILLER_BARPOINTPERC, FILLER_CALLBACK, FILLER_FIXEDBARPERC, FILLER_FIXEDSIZE, FILLER_NONE,
};
use crate::group::{Group, RefTable};
use crate::hooks::{Hooks, NoHooks};
use crate::num::{py_min, Num, FZERO, ZERO};
use crate::order::{Order, OrderSlot, OrderState, Rare, Wide, NO_RARE};
use crate::position::{DataMap, Position, Positions};
use crate::validate::{
    fail, finite, flag, fused_cancel, fused_submit, fused_tag, validate, validate_bars,
    validate_into, PackedSubmit, StepBufs, What,
};
use crate::value::{RawItem, Value};

/// `backtrader.utils.py3.MAXINT`.
const MAXINT: i128 = 9_223_372_036_854_775_807;

/// The deterministic broker core (the Rust twin of `PyCore`).
#[derive(Clone, Debug)]
pub struct Core {
    pub(crate) config: Config,
    pub(crate) d_credit: FastMap<usize, Num>,
    pub(crate) cash_addition: VecDeque<Num>,
    pub(crate) history: Vec<OrderSpec>,
    pub(crate) fundhist: Option<(Num, Num)>,
    pub(crate) cash: Num,
    pub(crate) comm: Schemes,
    pub(crate) positions: Positions,
    /// Every order ever created, in creation order (the Python core's order objects), without
    /// their rare values.
    pub(crate) orders: Vec<OrderSlot>,
    /// The rare values of the orders that have some (`OrderSlot::rare` indexes it).
    pub(crate) rare: Vec<Rare>,
    /// The ints of the order table beyond `i64` (`OrderSlot`'s numbers are 8 bytes).
    pub(crate) wide: Wide,
    /// `self.orders`, `self.ocos`, `self.ocol` and `self.pchildren` of the Python core, by
    /// reference (`orders`: the last order created with a reference).
    pub(crate) refs: RefTable,
    pub(crate) submitted: VecDeque<usize>,
    /// The pending queue; `None` is the end-of-pass sentinel of `next()` (one stays behind when
    /// a pass is interrupted by an exception, as in the Python core).
    pub(crate) pending: VecDeque<Option<usize>>,
    /// How many times each order (by index) sits in `pending` (twice for the re-transmit
    /// quirk): cancelling or OCO-checking an order that is not queued skips the queue scan.
    pub(crate) queued: Vec<u32>,
    /// Some order ref was reused (a history order may reuse one): `refs` then no longer
    /// names every order of a ref, and OCO checks always scan the queue.
    pub(crate) refs_shared: bool,
    pub(crate) toactivate: VecDeque<usize>,
    pub(crate) value: Num,
    pub(crate) valuemkt: Num,
    pub(crate) valuelever: Num,
    pub(crate) valuemktlever: Num,
    pub(crate) fundval: Num,
    pub(crate) fundshares: Num,
    pub(crate) leverage: Num,
    pub(crate) unrealized: Num,
}

/// What [`Core::step_fused`] did with a step.
pub(crate) enum FusedStep {
    /// The step ran.
    Done,
    /// Not a step it runs; nothing was done.
    Classic,
    /// An event was not plainly valid; the core is left part way.
    Refused,
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

    #[inline(always)]
    fn get(&self, data: usize) -> Result<&'a Bar, CoreError> {
        // Common case: the bars come in data order, one per data.
        if let Some(bar) = self.bars.get(data).filter(|bar| bar.data == data) {
            return Ok(bar);
        }
        self.search(data)
    }

    #[inline(never)]
    fn search(&self, data: usize) -> Result<&'a Bar, CoreError> {
        self.index
            .binary_search_by_key(&data, |&(d, _)| d)
            .map(|k| &self.bars[self.index[k].1])
            .map_err(|_| CoreError::Internal("no bar for the data of an order or position"))
    }
}

/// What the matching of one order needs besides the core: its bar, all bars, the records and
/// the callables (`ctx` in the Python core).
struct Ctx<'a, 'h> {
    bar: &'a Bar,
    marks: &'a Marks<'a>,
    records: &'a mut Vec<Record>,
    hooks: &'a mut (dyn Hooks + 'h),
}

/// How many position slots `check_submitted` keeps its clones of on the stack.
const NEAR_SLOTS: usize = 8;

/// The money of a fill computed in floats ([`Core::fill_floats`]).
/// The result of [`Core::fill_general`]: the update of the position's clone (`psize`,
/// `pprice`, `closed`, `opened` after a margin, `popened` before it) and the money of the fill.
struct GeneralFill {
    psize: Num,
    pprice: Num,
    opened: Num,
    closed: Num,
    popened: Num,
    pnl: Num,
    closedvalue: Num,
    closedcomm: Num,
    openedvalue: Num,
    openedcomm: Num,
}

struct FloatFill {
    pnl: f64,
    closedvalue: f64,
    closedcomm: f64,
    openedvalue: f64,
    openedcomm: f64,
    /// The opening did not fit the cash (`opened` becomes `0`, its value and commission `0.0`).
    margin: bool,
    /// The core's new cash, if the fill writes it.
    cash: Option<f64>,
    /// The position's adjustment base becomes the price.
    adjbase: bool,
}

const MISSING_COMM: CoreError = CoreError::Internal("no commission scheme for a data");
const MISSING_OCO: CoreError = CoreError::Internal("an order without OCO entry");

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
            config: Config {
                checksubmit,
                shortcash,
                ..Config::default()
            },
            d_credit: FastMap::default(),
            cash_addition: VecDeque::new(),
            history: Vec::new(),
            fundhist: None,
            cash,
            comm: Schemes::default(),
            positions: Positions::default(),
            orders: Vec::new(),
            rare: Vec::new(),
            wide: Wide::default(),
            refs: RefTable::default(),
            submitted: VecDeque::new(),
            pending: VecDeque::new(),
            queued: Vec::new(),
            refs_shared: false,
            toactivate: VecDeque::new(),
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
            && self.toactivate.is_empty()
            && self.history.is_empty()
            && self.cash_addition.is_empty()
            && self.fundhist.is_none()
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

    /// The order a reference names (the last one created with it), if any.
    #[must_use]
    pub fn order(&self, oref: u64) -> Option<Order> {
        self.refs.order(oref).map(|idx| self.full_order(idx))
    }

    /// The whole order at `idx` of the order table.
    pub(crate) fn full_order(&self, idx: usize) -> Order {
        let slot = &self.orders[idx];
        slot.order(self.rare_of(slot), &self.wide)
    }

    /// The rare values of an order.
    #[inline(always)]
    pub(crate) fn rare_of(&self, slot: &OrderSlot) -> &Rare {
        self.rare.get(slot.rare as usize).unwrap_or(&Rare::DEFAULT)
    }

    /// The rare values of the order at `idx`, for writing (an entry is made for it if it has
    /// none).
    fn rare_mut(&mut self, idx: usize) -> Result<&mut Rare, CoreError> {
        if self.orders[idx].rare == NO_RARE {
            self.orders[idx].rare = self.rare_index()?;
            self.rare.push(Rare::DEFAULT);
        }
        Ok(&mut self.rare[self.orders[idx].rare as usize])
    }

    /// The index of the next entry of the rare table (an error once the table is full: beyond
    /// `u32`, four billion orders with rare values, too many for any memory).
    #[inline(always)]
    fn rare_index(&self) -> Result<u32, CoreError> {
        u32::try_from(self.rare.len())
            .ok()
            .filter(|&at| at != NO_RARE)
            .ok_or(CoreError::Internal("too many orders with rare values"))
    }

    /// Appends `order` to the order table (its rare values to their table unless they are the
    /// defaults); its index.
    pub(crate) fn push_order(&mut self, order: &Order) -> Result<usize, CoreError> {
        let rare = Rare {
            trailamount: order.trailamount,
            trailpercent: order.trailpercent,
            limitoffset: order.limitoffset,
            pannotated: order.pannotated,
        };
        let at = self.push_rare(rare)?;
        self.orders.push(OrderSlot::new(order, at, &mut self.wide));
        Ok(self.orders.len() - 1)
    }

    /// `rare`'s index in the rare table (`NO_RARE` for the defaults, which have no entry).
    #[inline(always)]
    fn push_rare(&mut self, rare: Rare) -> Result<u32, CoreError> {
        // (`==` on numbers is identity: type and bits)
        if rare == Rare::DEFAULT {
            Ok(NO_RARE)
        } else {
            let at = self.rare_index()?;
            self.rare.push(rare);
            Ok(at)
        }
    }

    /// The position entry of a data, if it exists.
    #[must_use]
    pub fn position(&self, data: usize) -> Option<&Position> {
        self.positions.get(data)
    }

    pub(crate) fn knows_ref(&self, oref: u64) -> bool {
        self.refs.order(oref).is_some()
    }

    /// Apply events now, without a bar (what `step` does first); returns the records.
    pub fn apply(&mut self, events: &[Event]) -> Result<Vec<Record>, CoreError> {
        let raw: Vec<RawItem> = events.iter().map(RawItem::from).collect();
        self.apply_raw(&raw)
    }

    /// [`Core::apply`] with unchecked events.
    pub fn apply_raw(&mut self, events: &[RawItem]) -> Result<Vec<Record>, CoreError> {
        let (events, _) = validate(self, events, None)?;
        let mut records = Vec::new();
        for event in &events {
            self.apply_event(event, &mut records)?;
        }
        Ok(records)
    }

    /// Apply the events, then process one bar per registered data; returns the records.
    pub fn step(&mut self, events: &[Event], bars: &[Bar]) -> Result<Vec<Record>, CoreError> {
        self.step_with(events, bars, &mut NoHooks)
    }

    /// [`Core::step`] with the user's callables.
    pub fn step_with(
        &mut self,
        events: &[Event],
        bars: &[Bar],
        hooks: &mut dyn Hooks,
    ) -> Result<Vec<Record>, CoreError> {
        let raw_events: Vec<RawItem> = events.iter().map(RawItem::from).collect();
        let raw_bars: Vec<RawItem> = bars.iter().map(RawItem::from).collect();
        self.step_raw(&raw_events, &raw_bars, hooks)
    }

    /// [`Core::step_with`] with unchecked events and bars.
    pub fn step_raw<I: crate::value::Item>(
        &mut self,
        events: &[I],
        bars: &[I],
        hooks: &mut dyn Hooks,
    ) -> Result<Vec<Record>, CoreError> {
        let mut records = Vec::new();
        self.step_raw_into(events, bars, hooks, &mut records)?;
        Ok(records)
    }

    /// [`Core::step_raw`] appending the records to `records` (a caller running many steps
    /// reuses one vector). On an error, `records` may hold some of the failed step's records.
    pub fn step_raw_into<I: crate::value::Item>(
        &mut self,
        events: &[I],
        bars: &[I],
        hooks: &mut dyn Hooks,
        records: &mut Vec<Record>,
    ) -> Result<(), CoreError> {
        self.step_raw_bufs(events, bars, hooks, &mut StepBufs::default(), records)
    }

    /// [`Core::step_raw_into`] with the validated events and bars in `bufs`, which a caller
    /// running many steps (a packed batch) keeps: no allocation per step once they are grown.
    pub(crate) fn step_raw_bufs<I: crate::value::Item>(
        &mut self,
        events: &[I],
        bars: &[I],
        hooks: &mut dyn Hooks,
        bufs: &mut StepBufs,
        records: &mut Vec<Record>,
    ) -> Result<(), CoreError> {
        validate_into(self, events, Some(bars), &mut bufs.events, &mut bufs.bars)?;
        let (events, bars) = (&bufs.events, &bufs.bars);
        let filler = events
            .iter()
            .rev()
            .find_map(|ev| match ev {
                Event::Config(c) => Some(c.filler),
                _ => None,
            })
            .unwrap_or(self.config.filler);
        if filler == FILLER_CALLBACK && !hooks.has_filler() {
            return Err(fail(
                What::Step,
                "filler",
                ErrValue::None,
                "a callback filler needs a callable",
                None,
            ));
        }
        // about a record per event and a couple per bar: most steps never grow the vector
        records.reserve(events.len() + 2 * bars.len() + 8);
        for event in events {
            self.apply_event(event, records)?;
        }
        let marks = Marks::new(bars);
        self.next(&marks, records, hooks)
    }

    /// [`Core::step_raw_bufs`] of a step of a packed batch whose events are all submits and
    /// cancels, each applied as soon as it is read and found plainly valid (`fused_submit`,
    /// `fused_cancel`): no `Event` is built and no refs are gathered besides the core's own
    /// table.
    ///
    /// [`FusedStep::Classic`]: the step is not of that kind (an event of another tag, or a
    /// callback filler, refused at once by the whole step's checks), nothing was done, and
    /// [`Core::step_raw_bufs`] runs it. [`FusedStep::Refused`] or an error: some event or bar
    /// was not plainly valid, or applying failed, and the core is left part way: the caller
    /// restores it and runs the whole batch through [`Core::step_raw_bufs`] again, which
    /// reports today's error (or result). So this only has to be right when it succeeds:
    ///
    /// - Each event is accepted by the same checks as in [`validate_into`] (the fast path,
    ///   `fast_event`), against the core's datas and the refs of its table: the datas are the
    ///   step's (no data event in it; submits and cancels never change them), and the refs the
    ///   core knew before the step plus those of the step's earlier submits (`known.new`),
    ///   since applying a submit always enters its ref in the table (`ocoize`, before anything
    ///   can fail) and nothing ever removes a ref from it. (History events, whose refs are in
    ///   `known.new` but never in the table, are left to [`Core::step_raw_bufs`].) So the step
    ///   passes [`validate_into`] with the same events, in the same order.
    /// - The bars are checked after the events, with [`validate_bars`]: the same checks as at
    ///   the end of [`validate_into`] for the same datas (the core's).
    /// - The filler check of [`Core::step_raw_bufs`] passes (the core's filler is not the
    ///   callback), and then the events are applied in the same order to the same core,
    ///   then `next` runs on the same bars.
    ///
    /// An accepted event cannot fail to apply, as it happens (`new_order` fails only with 2**32
    /// orders with rare values; `ocoize` reads the leader of a known ref, which every order
    /// entered in the table has; a cancel's ref is known), but nothing above relies on it: a
    /// failure would only mean running the batch again.
    pub(crate) fn step_fused<I: crate::value::Item>(
        &mut self,
        events: &[I],
        bars: &[I],
        hooks: &mut dyn Hooks,
        bufs: &mut StepBufs,
        records: &mut Vec<Record>,
    ) -> Result<FusedStep, CoreError> {
        let fusable = self.config.filler != FILLER_CALLBACK
            && events
                .iter()
                .all(|ev| ev.packed_words().is_some_and(fused_tag));
        if !fusable {
            return Ok(FusedStep::Classic);
        }
        records.reserve(events.len() + 2 * bars.len() + 8);
        for raw in events {
            let Some(words) = raw.packed_words() else {
                return Ok(FusedStep::Refused);
            };
            if let Some(packed) = fused_submit(self, words) {
                self.apply_packed_submit(&packed, records)?;
            } else if let Some((oref, notified)) = fused_cancel(self, words) {
                self.apply_cancel(oref, notified, records)?;
            } else {
                return Ok(FusedStep::Refused);
            }
        }
        validate_bars(self, bars, &mut bufs.bars)?;
        let marks = Marks::new(&bufs.bars);
        self.next(&marks, records, hooks)?;
        Ok(FusedStep::Done)
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
        self.value_of_raw(&datas, &closes, lever, &mut NoHooks)
    }

    /// [`Core::value_of`] with unchecked datas and closes and the user's callables. A data is
    /// looked up as a Python `dict` key: `True` is `1` and `1.0` is `1`.
    pub fn value_of_raw(
        &mut self,
        datas: &[Value],
        closes: &[Value],
        lever: bool,
        hooks: &mut dyn Hooks,
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
                .filter(|&d| self.comm.contains(d))
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
        self.get_value(&mark, Some(&keys), lever, hooks)
    }

    // -- events: BackBroker.buy/sell/submit/transmit/cancel -----------------------------------

    fn apply_event(&mut self, event: &Event, records: &mut Vec<Record>) -> Result<(), CoreError> {
        match *event {
            Event::Data { data, comm } => self.comm.insert(data, comm),
            Event::Position { data } => {
                self.positions.setdefault(data);
            }
            Event::Submit(ref spec) => self.apply_submit(spec, records)?,
            Event::Cancel { oref, notified } => self.apply_cancel(oref, notified, records)?,
            Event::Config(config) => self.config = config,
            Event::SetCash { cash } => self.cash = cash,
            Event::AddCash { cash } => self.cash_addition.push_back(cash),
            Event::History(spec) => self.history.push(spec),
            Event::Fund {
                fundvalue,
                netvalue,
            } => self.fundhist = Some((fundvalue, netvalue)),
        }
        Ok(())
    }

    /// A submit event (`EV_SUBMIT`).
    #[inline(always)]
    fn apply_submit(
        &mut self,
        spec: &OrderSpec,
        records: &mut Vec<Record>,
    ) -> Result<(), CoreError> {
        let idx = self.new_order(spec)?;
        self.ocoize(idx, spec.oco)?;
        self.submit(idx, spec.check, spec.notified, records);
        Ok(())
    }

    /// A cancel event (`EV_CANCEL`).
    #[inline(always)]
    fn apply_cancel(
        &mut self,
        oref: u64,
        notified: bool,
        records: &mut Vec<Record>,
    ) -> Result<(), CoreError> {
        let idx = self
            .refs
            .order(oref)
            .ok_or(CoreError::KeyError(i128::from(oref)))?;
        self.cancel(idx, records, false, notified)?;
        Ok(())
    }

    /// [`Core::apply_submit`] of a checked packed submit (`step_fused`): its order's slot
    /// written straight from the words, a `Rare` entry only when its rare values are not the
    /// defaults, as [`Core::new_order`] does.
    #[inline(always)]
    fn apply_packed_submit(
        &mut self,
        packed: &PackedSubmit,
        records: &mut Vec<Record>,
    ) -> Result<(), CoreError> {
        let idx = self.new_packed_order(packed)?;
        self.ocoize(idx, packed.oco)?;
        self.submit(idx, packed.check, packed.notified, records);
        Ok(())
    }

    /// [`Core::new_order`] of a checked packed submit.
    #[inline(always)]
    pub(crate) fn new_packed_order(&mut self, packed: &PackedSubmit) -> Result<usize, CoreError> {
        let rare = if packed.rare_is_default() {
            NO_RARE
        } else {
            self.push_rare(Rare::of_packed(packed))?
        };
        self.orders.push(OrderSlot::from_packed(packed, rare));
        self.queued.push(0);
        Ok(self.orders.len() - 1)
    }

    /// `order = _Order(ev)` (`ocoize` enters it in `self.orders`).
    #[inline(always)]
    pub(crate) fn new_order(&mut self, spec: &OrderSpec) -> Result<usize, CoreError> {
        let rare = self.push_rare(Rare::of_spec(spec))?;
        self.orders
            .push(OrderSlot::from_spec(spec, rare, &mut self.wide));
        self.queued.push(0);
        Ok(self.orders.len() - 1)
    }

    /// `self.orders[order.ref] = order` and `_ocoize`.
    #[inline(always)]
    fn ocoize(&mut self, idx: usize, oco: Option<u64>) -> Result<(), CoreError> {
        let oref = self.orders[idx].oref;
        match oco {
            None => {
                if self.refs.new_alone(oref, idx) {
                    self.refs_shared = true;
                }
            }
            Some(oco) => {
                if self.refs.set_order(oref, idx) {
                    self.refs_shared = true;
                }
                let ocoref = self
                    .refs
                    .leader(oco)
                    .ok_or(CoreError::KeyError(i128::from(oco)))?;
                self.refs.set_leader(oref, ocoref);
                self.refs.push_ocol(ocoref, oref);
            }
        }
        Ok(())
    }

    #[inline(always)]
    fn take_children(&mut self, idx: usize, records: &mut Vec<Record>) -> Option<u64> {
        let order = &mut self.orders[idx];
        let pref = order.parent().unwrap_or(order.oref);
        if pref != order.oref && !self.refs.has_children(pref) {
            order.state = OrderState::Done;
            records.push(Record::Rejected { oref: order.oref });
            return None;
        }
        Some(pref)
    }

    #[inline(always)]
    fn submit(&mut self, idx: usize, check: bool, notified: bool, records: &mut Vec<Record>) {
        let Some(pref) = self.take_children(idx, records) else {
            return;
        };
        // (the usual case, a group of this order alone, without its members copied out)
        if self.refs.push_only_child(pref, idx) {
            if self.orders[idx].transmit {
                self.transmit(idx, check, notified, records);
            }
            return;
        }
        let members = self.refs.push_child(pref, idx);
        if self.orders[idx].transmit {
            // `transmit` never touches `pchildren`: the group is read in place (a group held
            // inline, the usual case, copied out first: no lookup of it per member)
            if let Some(members) = members {
                for &x in members.as_slice() {
                    self.transmit(x, check, notified && x == idx, records);
                }
                return;
            }
            let mut k = 0;
            while let Some(x) = self.refs.child(pref, k) {
                self.transmit(x, check, notified && x == idx, records);
                k += 1;
            }
        }
    }

    #[inline(always)]
    fn transmit(&mut self, idx: usize, check: bool, notified: bool, records: &mut Vec<Record>) {
        if check {
            self.orders[idx].state = OrderState::Submitted;
            self.submitted.push_back(idx);
            if !notified {
                records.push(Record::Submitted {
                    oref: self.orders[idx].oref,
                });
            }
        } else {
            self.submit_accept(idx, records, notified);
        }
    }

    #[inline(always)]
    fn submit_accept(&mut self, idx: usize, records: &mut Vec<Record>, notified: bool) {
        let order = &mut self.orders[idx];
        order.state = OrderState::Pending;
        if order.rare != NO_RARE {
            let rare = order.rare as usize;
            self.rare[rare].pannotated = None;
        }
        let order = &self.orders[idx];
        let oref = order.oref;
        self.enqueue(idx);
        if !notified {
            records.push(Record::Accepted { oref });
        }
    }

    /// `self.pending.append(order)`.
    #[inline(always)]
    fn enqueue(&mut self, idx: usize) {
        self.pending.push_back(Some(idx));
        self.queued[idx] += 1;
    }

    fn cancel(
        &mut self,
        idx: usize,
        records: &mut Vec<Record>,
        bracket: bool,
        notified: bool,
    ) -> Result<bool, CoreError> {
        if self.queued[idx] == 0 {
            return Ok(false);
        }
        // `self.pending.remove(order)`: its first occurrence; an order queued once is its only
        // one, found as well from the back, nearer to the orders a cancel usually concerns
        // (the children of a bracket, queued after the orders of earlier bars)
        let queued_once = self.queued[idx] == 1;
        let found = if queued_once {
            self.pending.iter().rposition(|&o| o == Some(idx))
        } else {
            self.pending.iter().position(|&o| o == Some(idx))
        };
        let Some(k) = found else {
            return Err(CoreError::Internal("a queued order missing from pending"));
        };
        self.pending.remove(k);
        self.queued[idx] -= 1;
        let order = &mut self.orders[idx];
        order.state = OrderState::Done;
        order.completed = false;
        if !notified {
            records.push(Record::Canceled { oref: order.oref });
        }
        self.ococheck(idx, records)?;
        if !bracket {
            self.bracketize(idx, records, true)?;
        }
        Ok(true)
    }

    // (in line at its callers, `cancel` known there: the completed order's pop of its group,
    // nearly always the whole work, needs no call)
    #[inline(always)]
    fn bracketize(
        &mut self,
        idx: usize,
        records: &mut Vec<Record>,
        cancel: bool,
    ) -> Result<(), CoreError> {
        let order = &self.orders[idx];
        let pref = order.parent().unwrap_or(order.oref);
        if cancel || order.parent().is_some() {
            return self.cancel_children(pref, records);
        }
        let Some((a, b)) = self.refs.pop_child(pref) else {
            return Err(CoreError::IndexError("pop from an empty deque"));
        };
        // (usually nothing is left: an order alone, or a bracket's last leg)
        if !a.is_empty() {
            self.toactivate.extend(a);
            self.toactivate.extend(b);
        }
        Ok(())
    }

    /// `pc = self.pchildren[pref]`, cancel its members, `del self.pchildren[pref]` (of
    /// `_bracketize`): cancelling with `bracket=True` never looks at the groups.
    #[inline(never)]
    fn cancel_children(&mut self, pref: u64, records: &mut Vec<Record>) -> Result<(), CoreError> {
        let mut pc = self.refs.take_children(pref).unwrap_or_default();
        while let Some(o) = pc.pop_front() {
            self.cancel(o, records, true, false)?;
        }
        Ok(())
    }

    #[inline(always)]
    fn ococheck(&mut self, idx: usize, records: &mut Vec<Record>) -> Result<(), CoreError> {
        let oref = self.orders[idx].oref;
        // (the usual case, in one look at the ref's slot, in line at the caller) an order
        // outside any OCO group and not queued: its group of itself is taken and no queue scan
        // could find a member (`ococheck_any` does the same without shared refs: `ocol` is
        // `[oref]` or gone and `queued[idx]` is 0)
        if !self.refs_shared && self.queued[idx] == 0 && self.refs.take_own_ocol(oref) {
            return Ok(());
        }
        self.ococheck_any(idx, oref, records)
    }

    #[inline(never)]
    fn ococheck_any(
        &mut self,
        idx: usize,
        oref: u64,
        records: &mut Vec<Record>,
    ) -> Result<(), CoreError> {
        let parentref = self.refs.leader(oref).ok_or(MISSING_OCO)?;
        // (an order outside any OCO group is its own parent: `ocos[parentref]` is `parentref`)
        let ocoref = if parentref == oref {
            oref
        } else {
            let Some(ocoref) = self.refs.leader(parentref) else {
                return Ok(());
            };
            ocoref
        };
        let Some(ocol) = self.refs.take_ocol(ocoref) else {
            return Ok(());
        };
        if ocol.is_empty() {
            return Ok(());
        }
        if !self.refs_shared {
            // (the usual case) no member is queued: the scan would find none. Without shared
            // refs, a group of the order alone needs no lookup of its ref.
            if let ([only], []) = ocol.as_slices() {
                if *only == oref && self.queued[idx] == 0 {
                    return Ok(());
                }
            }
            let queued = |oref: &u64| match self.refs.order(*oref) {
                Some(o) => self.queued[o] > 0,
                None => true, // not an order of this core: scan to be sure
            };
            if !ocol.any(queued) {
                return Ok(());
            }
        }
        self.oco_cancel(&ocol, records);
        Ok(())
    }

    /// The scan of `_ococheck`: cancel the queued members of `ocol`, last queued first.
    #[inline(never)]
    fn oco_cancel(&mut self, ocol: &Group<u64>, records: &mut Vec<Record>) {
        // (`oref in ocol`, the group's slices taken once and tested ref by ref: `Group::contains`
        // per queued order, with `slice::contains` unrolled for long slices, cost more on a
        // group of a few refs)
        let (head, tail) = ocol.as_slices();
        #[allow(
            clippy::manual_contains,
            reason = "slice::contains is the slower form on a group of a few refs"
        )]
        let member = |oref: u64| head.iter().any(|&m| m == oref) || tail.iter().any(|&m| m == oref);
        // (the queue scanned from the back over its slices, not indexed position by position)
        let mut end = self.pending.len();
        loop {
            let orders = &self.orders;
            let found = self
                .pending
                .range(..end)
                .rposition(|&q| q.is_some_and(|o| member(orders[o].oref)));
            let Some(i) = found else {
                break;
            };
            end = i;
            if let Some(Some(o)) = self.pending.remove(i) {
                let order = &mut self.orders[o];
                self.queued[o] -= 1;
                order.state = OrderState::Done;
                // an order re-transmitted into a bracket sits twice in pending: its own fill
                // cancels its twin, and the order then no longer counts as completed
                order.completed = false;
                records.push(Record::Canceled { oref: order.oref });
            }
        }
    }

    /// `self.positions[data]` of BackBroker's defaultdict, reporting a new entry; its slot.
    #[inline(always)]
    fn position_slot(&mut self, data: usize, records: &mut Vec<Record>) -> usize {
        let (slot, created) = self.positions.setdefault_slot(data);
        if created {
            records.push(Record::Position { data });
        }
        slot
    }

    fn comm_of(&self, data: usize) -> Result<Comm<'_>, CoreError> {
        comm_in(&self.comm, data)
    }

    /// The scheme of a data and its [`FloatComm`] if it has one.
    #[inline(always)]
    fn comm_floats_of(&self, data: usize) -> Result<(Comm<'_>, Option<FloatComm>), CoreError> {
        comm_floats_in(&self.comm, data)
    }

    // -- BackBroker.next ---------------------------------------------------------------------

    fn next(
        &mut self,
        marks: &Marks<'_>,
        records: &mut Vec<Record>,
        hooks: &mut dyn Hooks,
    ) -> Result<(), CoreError> {
        while let Some(idx) = self.toactivate.pop_front() {
            let order = &mut self.orders[idx];
            order.active = true;
            records.push(Record::Activated { oref: order.oref });
        }

        if self.config.checksubmit {
            self.check_submitted(marks, records, hooks)?;
        }

        let mut credit = FZERO;
        for slot in 0..self.positions.len() {
            let (data, pos) = self.positions.at(slot);
            let pos = *pos;
            if pos.size.truthy() {
                let bar = marks.get(data)?;
                let comm = self.comm_of(data)?;
                // (a size within 2**53 at a float price, a float rate and no override of
                // either credit method: the interest in floats, `credit_interest_floats`)
                let fast = match (pos.size.small_f64(), pos.price) {
                    (Some(s), Num::Float(p)) => comm.credit_interest_floats(s, p, pos.day, bar.day),
                    _ => None,
                };
                let dcredit = match fast {
                    Some(v) => Num::Float(v),
                    None => comm.get_credit_interest(
                        hooks, pos.size, pos.price, pos.dt, pos.day, bar.dt, bar.day,
                    )?,
                };
                // `d_credit[data] += dcredit` (a defaultdict of float): one lookup when the
                // entry exists (the usual case), the sum written only once it is computed
                if let Some(entry) = self.d_credit.get_mut(&data) {
                    *entry = entry.plus(dcredit)?;
                } else {
                    let total = FZERO.plus(dcredit)?;
                    self.d_credit.insert(data, total);
                }
                credit = credit.plus(dcredit)?;
                let pos = self.positions.at_mut(slot);
                pos.dt = bar.dt;
                pos.day = bar.day;
            }
        }
        self.cash = self.cash.minus(credit)?;

        for spec in std::mem::take(&mut self.history) {
            let idx = self.new_order(&spec)?;
            self.ocoize(idx, None)?;
            self.submit(idx, false, false, records);
        }

        self.pending.push_back(None);
        loop {
            let Some(queued) = self.pending.pop_front() else {
                return Err(CoreError::IndexError("pop from an empty deque"));
            };
            let Some(idx) = queued else {
                break;
            };
            self.queued[idx] -= 1;
            // (the order's slot read once for its data, expiry and activity)
            let order = &self.orders[idx];
            let bar = marks.get(order.data)?;
            if order.expired(bar.dt, &self.wide) {
                let order = &mut self.orders[idx];
                order.state = OrderState::Done;
                records.push(Record::Expired { oref: order.oref });
                self.ococheck(idx, records)?;
                self.bracketize(idx, records, true)?;
            } else if !order.active {
                self.enqueue(idx);
            } else {
                let mut cx = Ctx {
                    bar,
                    marks,
                    records: &mut *records,
                    hooks: &mut *hooks,
                };
                self.try_exec(idx, &mut cx)?;
                if self.orders[idx].alive() {
                    self.enqueue(idx);
                } else if self.orders[idx].completed {
                    self.bracketize(idx, records, false)?;
                }
            }
        }

        for slot in 0..self.positions.len() {
            let (data, pos) = self.positions.at(slot);
            let (size, adjbase) = (pos.size, pos.adjbase);
            if size.truthy() {
                let mark = marks.get(data)?.mark;
                let adjust = self.comm_of(data)?.cashadjust(hooks, size, adjbase, mark)?;
                self.cash = self.cash.plus(adjust)?;
                self.positions.at_mut(slot).adjbase = Some(mark);
            }
        }

        self.get_value(
            &|data| marks.get(data).map(|bar| bar.mark),
            None,
            false,
            hooks,
        )?;
        Ok(())
    }

    // -- BackBroker.check_submitted ----------------------------------------------------------

    // (out of line: with its general pseudo-execution out of line too, it became small enough
    // to inline into `next`, which then ran more instructions and more slowly when cold)
    #[inline(never)]
    fn check_submitted(
        &mut self,
        marks: &Marks<'_>,
        records: &mut Vec<Record>,
        hooks: &mut dyn Hooks,
    ) -> Result<(), CoreError> {
        let mut cash = self.cash;
        // `positions = {}` of clones by data, here by the slot of the data's position entry
        // (`position_slot` creates an entry only once: a second order of a data finds it)
        // (the first slots on the stack: no allocation per step for the usual few datas)
        let mut near: [Option<Position>; NEAR_SLOTS] = [None; NEAR_SLOTS];
        let mut far: Vec<Option<Position>> = Vec::new();
        while let Some(idx) = self.submitted.pop_front() {
            if self.take_children(idx, records).is_none() {
                continue;
            }
            let data = self.orders[idx].data;
            let slot = self.position_slot(data, records);
            let entry = if let Some(entry) = near.get_mut(slot) {
                entry
            } else {
                let k = slot - NEAR_SLOTS;
                if far.len() <= k {
                    far.resize(k + 1, None);
                }
                &mut far[k]
            };
            let position = entry.get_or_insert_with(|| self.positions.at(slot).1.fresh_clone());
            let bar = marks.get(data)?;
            // (float cash kept as an `f64` from one order to the next: the `Num` returned
            // through memory cost a stalled load on this chain per order)
            let fast = match cash {
                Num::Float(c) => self.pseudo_execute_fast(idx, c, position, bar),
                Num::Int(_) => None,
            };
            let accept = if let Some(c) = fast {
                cash = Num::Float(c);
                c >= 0.0 // `cash.ge(FZERO)` of a float
            } else {
                cash = self.pseudo_execute(idx, cash, position, bar, hooks)?;
                cash.ge(FZERO)
            };
            if accept {
                self.submit_accept(idx, records, false);
                continue;
            }
            let order = &mut self.orders[idx];
            order.state = OrderState::Done;
            records.push(Record::Margin { oref: order.oref });
            self.ococheck(idx, records)?;
            self.bracketize(idx, records, true)?;
        }
        Ok(())
    }

    fn pseudo_execute(
        &self,
        idx: usize,
        cash: Num,
        position: &mut Position,
        bar: &Bar,
        h: &mut dyn Hooks,
    ) -> Result<Num, CoreError> {
        if let Num::Float(c) = cash {
            if let Some(v) = self.pseudo_execute_fast(idx, c, position, bar) {
                return Ok(Num::Float(v));
            }
        }
        let order = &self.orders[idx];
        let comm = self.comm_floats_of(order.data)?.0;
        let cinfocomp = match comm.spec.compensate {
            None => comm,
            Some(target) => self.comm_floats_of(target)?.0,
        };
        let price = self.pseudo_price(idx, bar);
        let remsize = order.remsize(&self.wide);
        self.pseudo_execute_general(comm, cinfocomp, cash, position, remsize, price, h)
    }

    /// The price of [`Core::pseudo_execute`].
    #[inline(always)]
    fn pseudo_price(&self, idx: usize, bar: &Bar) -> Num {
        let order = &self.orders[idx];
        if self.config.coo && order.exectype == EXEC_MARKET {
            bar.open
        } else {
            order.price(&self.wide)
        }
    }

    /// [`Core::pseudo_execute`] of float cash when everything is in floats: schemes of float
    /// numbers without overrides, float price and position, a size within 2**53 (the update
    /// and every formula then compute in floats, and none can fail, as in Python); `None`,
    /// with nothing done, otherwise (an unknown data too: the general path reports it).
    #[inline(always)]
    fn pseudo_execute_fast(
        &self,
        idx: usize,
        cash: f64,
        position: &mut Position,
        bar: &Bar,
    ) -> Option<f64> {
        let order = &self.orders[idx];
        let (comm, comm_floats) = self.comm_floats_of(order.data).ok()?;
        let comp_floats = match comm.spec.compensate {
            None => comm_floats,
            Some(target) => self.comm_floats_of(target).ok()?.1,
        };
        let (fc, fcomp) = comm_floats.zip(comp_floats)?;
        let remsize = order.remsize(&self.wide);
        let (Num::Float(price), Num::Float(old), Num::Float(avg), Some(s)) = (
            self.pseudo_price(idx, bar),
            position.size,
            position.price,
            remsize.small_f64(),
        ) else {
            return None;
        };
        // _, _, opened, closed = position.update(order.remsize, price) (as floats)
        let (_, _, o, c, _) = position.update_floats(old, avg, s, price).sizes(remsize, s);
        Some(self.pseudo_execute_floats(fc, fcomp, cash, price, o, c))
    }

    /// [`Core::pseudo_execute`] in [`Num`]s (overrides, int positions, wide or mixed numbers):
    /// out of line and cold, as [`Core::fill_general`].
    #[cold]
    #[inline(never)]
    #[allow(
        clippy::too_many_arguments,
        reason = "the numbers of the pseudo-execution, unpacked once by the caller"
    )]
    fn pseudo_execute_general(
        &self,
        comm: Comm<'_>,
        cinfocomp: Comm<'_>,
        mut cash: Num,
        position: &mut Position,
        remsize: Num,
        price: Num,
        h: &mut dyn Hooks,
    ) -> Result<Num, CoreError> {
        let (_, _, opened, closed) = position.update(remsize, price)?;
        if closed.truthy() {
            let closedvalue = if self.config.shortcash {
                comm.getvaluesize(h, closed.negated()?, price)?
            } else {
                comm.getoperationcost(h, closed, price)?
            };
            let mut closecash = closedvalue;
            if closedvalue.gt(ZERO) {
                closecash = closecash.over(comm.get_leverage(h)?)?;
            }
            // cash += closecash + 0 * comm.stocklike
            cash = cash.plus(closecash.plus(ZERO.times(Num::from(comm.spec.stocklike))?)?)?;
            cash = cash.minus(comm.getcommission(h, closed, price)?)?;
        }
        if opened.truthy() {
            let openedvalue = if self.config.shortcash {
                comm.getvaluesize(h, opened, price)?
            } else {
                comm.getoperationcost(h, opened, price)?
            };
            let mut opencash = openedvalue;
            if openedvalue.gt(ZERO) {
                opencash = opencash.over(comm.get_leverage(h)?)?;
            }
            cash = cash.minus(opencash)?;
            cash = cash.minus(cinfocomp.getcommission(h, opened, price)?)?;
        }
        Ok(cash)
    }

    /// [`Core::pseudo_execute`] after the update, all in floats: `comm` the order's scheme,
    /// `comp` the one of its opening commission, `opened`/`closed` the sizes as floats.
    #[inline(always)]
    #[allow(clippy::float_cmp, reason = "Python's truth value of a float, exactly")]
    fn pseudo_execute_floats(
        &self,
        comm: FloatComm,
        comp: FloatComm,
        mut cash: f64,
        price: f64,
        opened: f64,
        closed: f64,
    ) -> f64 {
        // if closed:
        if closed != 0.0 {
            // closedvalue = comm.getvaluesize(-closed, price) if shortcash
            //               else comm.getoperationcost(closed, price)
            let closedvalue = if self.config.shortcash {
                comm.getvaluesize(-closed, price)
            } else {
                comm.getoperationcost(closed.abs(), price)
            };
            // closecash = closedvalue; if closedvalue > 0: closecash /= comm.get_leverage()
            let closecash = comm.levered(closedvalue);
            // cash += closecash + 0 * comm.stocklike   (float + int 0: + 0.0)
            cash += closecash + 0.0;
            // cash -= comm.getcommission(closed, price)
            cash -= comm.getcommission(closed.abs(), price);
        }
        // if opened:
        if opened != 0.0 {
            // openedvalue = comm.getvaluesize(opened, price) if shortcash
            //               else comm.getoperationcost(opened, price)
            let openedvalue = if self.config.shortcash {
                comm.getvaluesize(opened, price)
            } else {
                comm.getoperationcost(opened.abs(), price)
            };
            // opencash = openedvalue; if openedvalue > 0: opencash /= comm.get_leverage()
            // cash -= opencash
            cash -= comm.levered(openedvalue);
            // cash -= cinfocomp.getcommission(opened, price)
            cash -= comp.getcommission(opened.abs(), price);
        }
        cash
    }

    // -- BackBroker._try_exec and the matching rules ------------------------------------------

    fn slip_up(
        &self,
        pmax: Num,
        price: Num,
        doslip: bool,
        lim: bool,
    ) -> Result<Option<Num>, CoreError> {
        if !doslip {
            return Ok(Some(price));
        }
        let c = &self.config;
        let pslip = if c.slip_perc.truthy() {
            price.times(Num::int(1).plus(c.slip_perc)?)?
        } else if c.slip_fixed.truthy() {
            price.plus(c.slip_fixed)?
        } else {
            return Ok(Some(price));
        };
        Ok(if pslip.le(pmax) {
            Some(pslip)
        } else if c.slip_match || (lim && c.slip_limit) {
            Some(if !c.slip_out { pmax } else { pslip })
        } else {
            None
        })
    }

    fn slip_down(
        &self,
        pmin: Num,
        price: Num,
        doslip: bool,
        lim: bool,
    ) -> Result<Option<Num>, CoreError> {
        if !doslip {
            return Ok(Some(price));
        }
        let c = &self.config;
        let pslip = if c.slip_perc.truthy() {
            price.times(Num::int(1).minus(c.slip_perc)?)?
        } else if c.slip_fixed.truthy() {
            price.minus(c.slip_fixed)?
        } else {
            return Ok(Some(price));
        };
        Ok(if pslip.ge(pmin) {
            Some(pslip)
        } else if c.slip_match || (lim && c.slip_limit) {
            Some(if !c.slip_out { pmin } else { pslip })
        } else {
            None
        })
    }

    // (the matching rules read the bar's prices from `cx.bar` where they use them: copying
    // all five numbers up front for every order and every bar was a cost of its own)
    fn try_exec(&mut self, idx: usize, cx: &mut Ctx<'_, '_>) -> Result<(), CoreError> {
        let order = &self.orders[idx];
        let ex = order.exectype;
        match ex {
            EXEC_MARKET => self.try_exec_market(idx, cx),
            EXEC_CLOSE => self.try_exec_close(idx, cx),
            EXEC_LIMIT => self.try_exec_limit(idx, order.price(&self.wide), cx),
            EXEC_STOPLIMIT | EXEC_STOPTRAILLIMIT if order.triggered => {
                self.try_exec_limit(idx, order.pricelimit(&self.wide), cx)
            }
            EXEC_STOP | EXEC_STOPTRAIL => self.try_exec_stop(idx, order.price(&self.wide), cx),
            EXEC_STOPLIMIT | EXEC_STOPTRAILLIMIT => {
                let (price, pricelimit) = (order.price(&self.wide), order.pricelimit(&self.wide));
                self.try_exec_stoplimit(idx, price, pricelimit, cx)
            }
            EXEC_HISTORICAL => self.execute(idx, 0, Some(order.price(&self.wide)), cx, None),
            _ => Ok(()),
        }
    }

    fn try_exec_market(&mut self, idx: usize, cx: &mut Ctx<'_, '_>) -> Result<(), CoreError> {
        let bar = cx.bar;
        let order = &self.orders[idx];
        let dtcoc;
        let exprice;
        if self.config.coc && order.coc {
            dtcoc = Some(order.created_dt(&self.wide));
            exprice = order.pclose(&self.wide);
        } else {
            if !self.config.coo && bar.dt.le(order.created_dt(&self.wide)) {
                return Ok(());
            }
            dtcoc = None;
            exprice = bar.open;
        }
        let p = if order.isbuy {
            self.slip_up(bar.high, exprice, self.config.slip_open, false)?
        } else {
            self.slip_down(bar.low, exprice, self.config.slip_open, false)?
        };
        self.execute(idx, 0, p, cx, dtcoc)
    }

    fn try_exec_close(&mut self, idx: usize, cx: &mut Ctx<'_, '_>) -> Result<(), CoreError> {
        let (dt0, pclose) = (cx.bar.dt, cx.bar.close);
        let order = &self.orders[idx];
        let dteos = order.dteos(&self.wide);
        if dt0.gt(order.created_dt(&self.wide)) && dt0.ge(dteos) {
            let pannotated = self.rare_of(order).pannotated.filter(|p| p.truthy());
            if pannotated.is_some() && dt0.gt(dteos) {
                self.execute(idx, -1, pannotated, cx, None)?;
            } else {
                self.execute(idx, 0, Some(pclose), cx, None)?;
            }
            return Ok(());
        }
        self.rare_mut(idx)?.pannotated = Some(pclose);
        Ok(())
    }

    fn try_exec_limit(
        &mut self,
        idx: usize,
        plimit: Num,
        cx: &mut Ctx<'_, '_>,
    ) -> Result<(), CoreError> {
        let bar = cx.bar;
        let (popen, phigh, plow) = (bar.open, bar.high, bar.low);
        let slip_open = self.config.slip_open;
        if self.orders[idx].isbuy {
            if plimit.ge(popen) {
                let pmax = py_min(&[phigh, plimit]);
                let p = self.slip_up(pmax, popen, slip_open, true)?;
                self.execute(idx, 0, p, cx, None)?;
            } else if plimit.ge(plow) {
                self.execute(idx, 0, Some(plimit), cx, None)?;
            }
        } else if plimit.le(popen) {
            let p = self.slip_down(plimit, popen, slip_open, true)?;
            self.execute(idx, 0, p, cx, None)?;
        } else if plimit.le(phigh) {
            self.execute(idx, 0, Some(plimit), cx, None)?;
        }
        Ok(())
    }

    fn try_exec_stop(
        &mut self,
        idx: usize,
        pcreated: Num,
        cx: &mut Ctx<'_, '_>,
    ) -> Result<(), CoreError> {
        let bar = cx.bar;
        let (popen, phigh, plow, pclose) = (bar.open, bar.high, bar.low, bar.close);
        let slip_open = self.config.slip_open;
        if self.orders[idx].isbuy {
            if popen.ge(pcreated) {
                let p = self.slip_up(phigh, popen, slip_open, false)?;
                self.execute(idx, 0, p, cx, None)?;
            } else if phigh.ge(pcreated) {
                let p = self.slip_up(phigh, pcreated, true, false)?;
                self.execute(idx, 0, p, cx, None)?;
            }
        } else if popen.le(pcreated) {
            let p = self.slip_down(plow, popen, slip_open, false)?;
            self.execute(idx, 0, p, cx, None)?;
        } else if plow.le(pcreated) {
            let p = self.slip_down(plow, pcreated, true, false)?;
            self.execute(idx, 0, p, cx, None)?;
        }
        let order = &self.orders[idx];
        if order.alive() && order.exectype == EXEC_STOPTRAIL {
            let rare = *self.rare_of(order);
            self.orders[idx].trailadjust(&rare, &mut self.wide, pclose, cx.records)?;
        }
        Ok(())
    }

    fn trigger(&mut self, idx: usize, records: &mut Vec<Record>) {
        let order = &mut self.orders[idx];
        order.triggered = true;
        records.push(Record::Triggered { oref: order.oref });
    }

    fn try_exec_stoplimit(
        &mut self,
        idx: usize,
        pcreated: Num,
        plimit: Num,
        cx: &mut Ctx<'_, '_>,
    ) -> Result<(), CoreError> {
        let bar = cx.bar;
        let (popen, phigh, plow, pclose) = (bar.open, bar.high, bar.low, bar.close);
        if self.orders[idx].isbuy {
            if popen.ge(pcreated) {
                self.trigger(idx, cx.records);
                self.try_exec_limit(idx, plimit, cx)?;
            } else if phigh.ge(pcreated) {
                self.trigger(idx, cx.records);
                if popen.gt(pclose) {
                    if plimit.ge(pcreated) {
                        let p = self.slip_up(phigh, pcreated, true, true)?;
                        self.execute(idx, 0, p, cx, None)?;
                    } else if plimit.ge(pclose) {
                        self.execute(idx, 0, Some(plimit), cx, None)?;
                    }
                } else if plimit.ge(pcreated) {
                    let p = self.slip_up(phigh, pcreated, true, true)?;
                    self.execute(idx, 0, p, cx, None)?;
                }
            }
        } else if popen.le(pcreated) {
            self.trigger(idx, cx.records);
            self.try_exec_limit(idx, plimit, cx)?;
        } else if plow.le(pcreated) {
            self.trigger(idx, cx.records);
            if popen.le(pclose) {
                if plimit.le(pcreated) {
                    let p = self.slip_down(plow, pcreated, true, true)?;
                    self.execute(idx, 0, p, cx, None)?;
                } else if plimit.le(pclose) {
                    self.execute(idx, 0, Some(plimit), cx, None)?;
                }
            } else if plimit.le(pcreated) {
                let p = self.slip_down(plow, pcreated, true, true)?;
                self.execute(idx, 0, p, cx, None)?;
            }
        }
        let order = &self.orders[idx];
        if order.alive() && order.exectype == EXEC_STOPTRAILLIMIT {
            let rare = *self.rare_of(order);
            self.orders[idx].trailadjust(&rare, &mut self.wide, pclose, cx.records)?;
        }
        Ok(())
    }

    // -- BackBroker._execute -----------------------------------------------------------------

    fn fill_size(
        &mut self,
        idx: usize,
        price: Num,
        ago: i32,
        cx: &mut Ctx<'_, '_>,
    ) -> Result<Num, CoreError> {
        let bar = cx.bar;
        let (volume, high, low) = if ago == 0 {
            (bar.volume, bar.rhigh, bar.rlow)
        } else {
            (bar.pvolume, bar.phigh, bar.plow)
        };
        let c = &self.config;
        let order = &self.orders[idx];
        match c.filler {
            FILLER_FIXEDSIZE => {
                let size = c.filler_size.or(Num::int(MAXINT));
                Ok(py_min(&[
                    volume,
                    order.remsize(&self.wide).absolute()?,
                    size,
                ]))
            }
            FILLER_FIXEDBARPERC => {
                let maxsize = volume.times(c.filler_perc)?.floordiv(Num::int(100))?;
                Ok(py_min(&[maxsize, order.remsize(&self.wide).absolute()?]))
            }
            FILLER_BARPOINTPERC => {
                let minmov = c.filler_minmov;
                let mut parts = Num::int(1);
                if minmov.truthy() {
                    parts = high.minus(low)?.plus(minmov)?.floordiv(minmov)?;
                }
                let alloc_vol = volume
                    .over(parts)?
                    .times(c.filler_perc)?
                    .floordiv(Num::Float(100.0))?;
                Ok(py_min(&[alloc_vol, order.remsize(&self.wide).absolute()?]))
            }
            _ => {
                let size = cx
                    .hooks
                    .filler(order.oref, price, ago)
                    .map_err(|_| CoreError::Hook)?;
                match size {
                    Value::Int(v) => Ok(Num::int(v)),
                    Value::Float(v) => Ok(Num::Float(v)),
                    Value::BigInt { .. } => Err(fail(
                        What::FillerResult,
                        "size",
                        size.to_err(),
                        crate::validate::REASON_TOO_LARGE,
                        Some(Origin::FillerResult),
                    )),
                    _ => Err(fail(
                        What::FillerResult,
                        "size",
                        size.to_err(),
                        "not a number",
                        Some(Origin::FillerResult),
                    )),
                }
            }
        }
    }

    #[allow(
        clippy::too_many_lines,
        reason = "BackBroker._execute, kept in one piece to compare line by line"
    )]
    fn execute(
        &mut self,
        idx: usize,
        ago: i32,
        price: Option<Num>,
        cx: &mut Ctx<'_, '_>,
        dtcoc: Option<Num>,
    ) -> Result<(), CoreError> {
        let Some(price) = price else {
            return Ok(());
        };
        let size = if self.config.filler == FILLER_NONE {
            self.orders[idx].remsize(&self.wide)
        } else {
            let size = self.fill_size(idx, price, ago, cx)?;
            if self.orders[idx].isbuy {
                size
            } else {
                size.negated()?
            }
        };
        let data = self.orders[idx].data;
        // data.compensate(other): the position (and the opening commission) are other's. Each
        // scheme is looked up once (both before the position entry is made, as before).
        let (comm, comm_floats) = comm_floats_in(&self.comm, data)?;
        let (pdata, (cinfocomp, comp_floats)) = match comm.spec.compensate {
            None => (data, (comm, comm_floats)),
            Some(pdata) => (pdata, comm_floats_in(&self.comm, pdata)?),
        };
        let (slot, created) = self.positions.setdefault_slot(pdata);
        if created {
            cx.records.push(Record::Position { data: pdata });
        }
        let shortcash = self.config.shortcash;
        let h = &mut *cx.hooks;
        let position = *self.positions.at(slot).1;
        let pprice_orig = position.price;
        let psize;
        let pprice;
        let mut opened;
        let closed;
        let popened;
        let pnl;
        let closedvalue;
        let mut closedcomm;
        let openedvalue;
        let openedcomm;
        // Schemes of float numbers without overrides, float cash, prices and position, a size
        // within 2**53 (and a float adjustment base for futures): the update and the formulas
        // below in floats, none of them can fail (`update_floats`, `fill_floats`).
        let floats = comm_floats.zip(comp_floats);
        let adjbase = match position.adjbase {
            Some(Num::Float(v)) => Some(v),
            _ => None,
        };
        let floats = floats.filter(|(fc, _)| fc.stocklike || adjbase.is_some());
        if let (
            Some((fc, fcomp)),
            Num::Float(price_f),
            Num::Float(pprice_f),
            Num::Float(cash_f),
            Num::Float(old),
            Some(s),
        ) = (
            floats,
            price,
            pprice_orig,
            self.cash,
            position.size,
            size.small_f64(),
        ) {
            // psize, pprice, opened, closed = position.clone().update(size, price)
            let mut clone = position.fresh_clone();
            let moved = clone.update_floats(old, pprice_f, s, price_f);
            (psize, pprice) = (clone.size, clone.price);
            // (psize as a float: the clone's `self.size += size`)
            let ps = old + s;
            // opened and closed as the update returns them, as floats, and -closed
            let (o, c, neg_closed);
            (opened, closed, o, c, neg_closed) = moved.sizes(size, s);
            popened = opened;
            let fill = Core::fill_floats(
                shortcash, fc, fcomp, price_f, pprice_f, cash_f, neg_closed, c, o, ps, adjbase,
            );
            pnl = Num::Float(fill.pnl);
            closedvalue = Num::Float(fill.closedvalue);
            closedcomm = Num::Float(fill.closedcomm);
            openedvalue = Num::Float(fill.openedvalue);
            openedcomm = Num::Float(fill.openedcomm);
            if fill.margin {
                opened = ZERO;
            }
            if fill.adjbase {
                self.positions.at_mut(slot).adjbase = Some(price);
            }
            if let Some(cash) = fill.cash {
                self.cash = Num::Float(cash);
            }
        } else {
            let fill = Core::fill_general(
                comm,
                cinfocomp,
                h,
                shortcash,
                &position,
                size,
                price,
                &mut self.cash,
                &mut self.positions,
                slot,
            )?;
            (psize, pprice, opened, closed, popened) = (
                fill.psize,
                fill.pprice,
                fill.opened,
                fill.closed,
                fill.popened,
            );
            (pnl, closedvalue, closedcomm, openedvalue, openedcomm) = (
                fill.pnl,
                fill.closedvalue,
                fill.closedcomm,
                fill.openedvalue,
                fill.openedcomm,
            );
        }

        let execsize = closed.plus(opened)?;
        if execsize.truthy() {
            comm.confirmexec(h, execsize, price)?;
            // (the order's bar is the one of its data)
            let pbar = if pdata == data {
                cx.bar
            } else {
                cx.marks.get(pdata)?
            };
            let position = self.positions.at_mut(slot);
            if execsize == size {
                // the update of the clone above, on the same size and price (and the
                // position's own price is read only when its size is non-zero, as the
                // clone's): its result, without computing it again
                position.size = psize;
                position.price = pprice;
            } else {
                position.update(execsize, price)?;
            }
            position.dt = pbar.dt;
            position.day = pbar.day;
            let (position_size, position_price) = (position.size, position.price);
            if closed.truthy() && self.config.int2pnl {
                closedcomm = closedcomm.plus(self.d_credit.remove(&pdata).unwrap_or(FZERO))?;
            }
            let order = &mut self.orders[idx];
            let remsize = order.remsize(&self.wide).minus(execsize)?;
            order.set_remsize(remsize, &mut self.wide);
            if !remsize.truthy() {
                order.state = OrderState::Done;
                order.completed = true;
            }
            let dt = match dtcoc {
                Some(dt) => dt,
                None if ago == 0 => pbar.dt,
                None => pbar.pdt,
            };
            cx.records.push(Record::Executed(Execution {
                oref: order.oref,
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
                position_size,
                position_price,
            }));
            self.ococheck(idx, cx.records)?;
        }

        if popened.truthy() && !opened.truthy() {
            let order = &mut self.orders[idx];
            order.state = OrderState::Done;
            cx.records.push(Record::Margin { oref: order.oref });
            self.ococheck(idx, cx.records)?;
            self.bracketize(idx, cx.records, true)?;
        }
        Ok(())
    }

    /// The update and the money of a fill in [`Num`]s (the general part of
    /// [`Core::execute`]: overrides, int positions, wide or mixed numbers), writing the core's
    /// cash and the position's adjustment base. Out of line and cold: the float fill of the
    /// usual schemes keeps `execute` small, and a batch that runs this at all (a position's
    /// first fills, while its size is still an int) fetches it once, in one piece.
    #[cold]
    #[inline(never)]
    #[allow(
        clippy::too_many_arguments,
        reason = "the numbers of the fill and the two fields it writes"
    )]
    fn fill_general(
        comm: Comm<'_>,
        cinfocomp: Comm<'_>,
        h: &mut dyn Hooks,
        shortcash: bool,
        position: &Position,
        size: Num,
        price: Num,
        core_cash: &mut Num,
        positions: &mut Positions,
        slot: usize,
    ) -> Result<GeneralFill, CoreError> {
        let pprice_orig = position.price;
        let (psize, pprice, mut opened, closed) = position.fresh_clone().update(size, price)?;
        let popened = opened;
        let pnl = comm.profitandloss(h, closed.negated()?, pprice_orig, price)?;
        let mut cash = *core_cash;
        let (closedvalue, closedcomm, mut openedvalue, mut openedcomm);

        if closed.truthy() {
            closedvalue = if shortcash {
                comm.getvaluesize(h, closed.negated()?, pprice_orig)?
            } else {
                comm.getoperationcost(h, closed, pprice_orig)?
            };
            let mut closecash = closedvalue;
            if closedvalue.gt(ZERO) {
                closecash = closecash.over(comm.get_leverage(h)?)?;
            }
            // cash += closecash + pnl * comm.stocklike
            cash = cash.plus(closecash.plus(pnl.times(Num::from(comm.spec.stocklike))?)?)?;
            closedcomm = comm.getcommission(h, closed, price)?;
            cash = cash.minus(closedcomm)?;
            let adjbase = positions.at(slot).1.adjbase;
            cash = cash.plus(comm.cashadjust(h, closed.negated()?, adjbase, price)?)?;
            *core_cash = cash;
        } else {
            closedvalue = FZERO;
            closedcomm = FZERO;
        }

        if opened.truthy() {
            openedvalue = if shortcash {
                comm.getvaluesize(h, opened, price)?
            } else {
                comm.getoperationcost(h, opened, price)?
            };
            let mut opencash = openedvalue;
            if openedvalue.gt(ZERO) {
                opencash = opencash.over(comm.get_leverage(h)?)?;
            }
            cash = cash.minus(opencash)?;
            openedcomm = cinfocomp.getcommission(h, opened, price)?;
            cash = cash.minus(openedcomm)?;
            if cash.lt(FZERO) {
                opened = ZERO;
                openedvalue = FZERO;
                openedcomm = FZERO;
            } else {
                if psize.absolute()?.gt(opened.absolute()?) {
                    let adjbase = positions.at(slot).1.adjbase;
                    cash =
                        cash.plus(comm.cashadjust(h, psize.minus(opened)?, adjbase, price)?)?;
                }
                positions.at_mut(slot).adjbase = Some(price);
                *core_cash = cash;
            }
        } else {
            openedvalue = FZERO;
            openedcomm = FZERO;
        }
        Ok(GeneralFill {
            psize,
            pprice,
            opened,
            closed,
            popened,
            pnl,
            closedvalue,
            closedcomm,
            openedvalue,
            openedcomm,
        })
    }

    /// The money of a fill in floats (the float part of [`Core::execute`], between the update
    /// of the position's clone and `execsize`): `comm` the data's scheme, `comp` the one of
    /// the opening commission, `cash` the core's, `closed`, `opened`, `psize` the update's
    /// sizes and `neg_closed` `-closed` as floats, `adjbase` the position's float adjustment
    /// base (`Some` for futures). The caller writes the cash and the adjustment base it
    /// returns (where Python writes them: their values do not depend on the order).
    #[inline(always)]
    #[allow(
        clippy::too_many_arguments,
        reason = "the numbers of the fill, unpacked once by the caller"
    )]
    fn fill_floats(
        shortcash: bool,
        comm: FloatComm,
        comp: FloatComm,
        price: f64,
        pprice_orig: f64,
        mut cash: f64,
        neg_closed: f64,
        closed: f64,
        opened: f64,
        psize: f64,
        adjbase: Option<f64>,
    ) -> FloatFill {
        // cashadjust(size, position.adjbase, price): 0.0 for stocks,
        // size * (newprice - price) * mult for futures
        let cashadjust = |size: f64| match adjbase {
            Some(base) if !comm.stocklike => size * (price - base) * comm.mult,
            _ => 0.0,
        };
        // pnl = comm.profitandloss(-closed, pprice_orig, price)
        let pnl = comm.profitandloss(neg_closed, pprice_orig, price);
        let mut fill = FloatFill {
            pnl,
            closedvalue: 0.0,
            closedcomm: 0.0,
            openedvalue: 0.0,
            openedcomm: 0.0,
            margin: false,
            cash: None,
            adjbase: false,
        };
        // if closed:
        if closed != 0.0 {
            // closedvalue = comm.getvaluesize(-closed, pprice_orig) if shortcash
            //               else comm.getoperationcost(closed, pprice_orig)
            fill.closedvalue = if shortcash {
                comm.getvaluesize(neg_closed, pprice_orig)
            } else {
                comm.getoperationcost(closed.abs(), pprice_orig)
            };
            // closecash = closedvalue; if closedvalue > 0: closecash /= comm.get_leverage()
            let closecash = comm.levered(fill.closedvalue);
            // cash += closecash + pnl * comm.stocklike   (float * bool: * 1.0 or * 0.0)
            cash += closecash + pnl * f64::from(u8::from(comm.stocklike));
            // closedcomm = comm.getcommission(closed, price); cash -= closedcomm
            fill.closedcomm = comm.getcommission(closed.abs(), price);
            cash -= fill.closedcomm;
            // cash += comm.cashadjust(-closed, position.adjbase, price)
            cash += cashadjust(neg_closed);
            fill.cash = Some(cash);
        }
        // if opened:
        if opened != 0.0 {
            // openedvalue = comm.getvaluesize(opened, price) if shortcash
            //               else comm.getoperationcost(opened, price)
            let openedvalue = if shortcash {
                comm.getvaluesize(opened, price)
            } else {
                comm.getoperationcost(opened.abs(), price)
            };
            // opencash = openedvalue; if openedvalue > 0: opencash /= comm.get_leverage()
            // cash -= opencash
            cash -= comm.levered(openedvalue);
            // openedcomm = cinfocomp.getcommission(opened, price); cash -= openedcomm
            let openedcomm = comp.getcommission(opened.abs(), price);
            cash -= openedcomm;
            // if cash < 0: opened = 0; openedvalue = openedcomm = 0.0
            if cash < 0.0 {
                fill.margin = true;
            } else {
                fill.openedvalue = openedvalue;
                fill.openedcomm = openedcomm;
                // if abs(psize) > abs(opened):
                //     cash += comm.cashadjust(psize - opened, position.adjbase, price)
                // (an int difference of ints within 2**53 rounds to the float difference)
                if psize.abs() > opened.abs() {
                    cash += cashadjust(psize - opened);
                }
                fill.adjbase = true;
                fill.cash = Some(cash);
            }
        }
        fill
    }

    // -- BackBroker._get_value ---------------------------------------------------------------

    fn get_value(
        &mut self,
        mark: &dyn Fn(usize) -> Result<Num, CoreError>,
        datas: Option<&[usize]>,
        lever: bool,
        h: &mut dyn Hooks,
    ) -> Result<Num, CoreError> {
        let mut pos_value = FZERO;
        let mut pos_value_unlever = FZERO;
        let mut unrealized = FZERO;

        while let Some(c) = self.cash_addition.pop_front() {
            self.fundshares = self.fundshares.plus(c.over(self.fundval)?)?;
            self.cash = self.cash.plus(c)?;
        }

        // `for data in datas or list(self.positions)`
        let count = match datas {
            Some(datas) if !datas.is_empty() => datas.len(),
            _ => self.positions.len(),
        };
        let single = datas.is_some_and(|d| d.len() == 1);
        for k in 0..count {
            let data = match datas {
                Some(datas) if !datas.is_empty() => datas[k],
                _ => self.positions.at(k).0,
            };
            let (comm, comm_floats) = self.comm_floats_of(data)?;
            let position = *self
                .positions
                .get(data)
                .ok_or(CoreError::Internal("no position entry for a valued data"))?;
            let mark = mark(data)?;
            // Of a valuation of all positions, with a scheme of float numbers without
            // overrides, a float position price and mark, a size within 2**53 (and the float
            // sums, as they always are): the value in floats (`value_floats`), none of the
            // formulas can fail.
            if let (
                false,
                Some(fc),
                Some(s),
                Num::Float(pprice),
                Num::Float(m),
                Num::Float(pv),
                Num::Float(pvu),
                Num::Float(unr),
            ) = (
                single,
                comm_floats,
                position.size.small_f64(),
                position.price,
                mark,
                pos_value,
                pos_value_unlever,
                unrealized,
            ) {
                let sums = value_floats(self.config.shortcash, fc, s, pprice, m, (pv, pvu, unr));
                pos_value = Num::Float(sums.0);
                pos_value_unlever = Num::Float(sums.1);
                unrealized = Num::Float(sums.2);
                continue;
            }
            let mut dvalue = if !self.config.shortcash {
                comm.getvalue(h, position.size, position.price, mark)?
            } else {
                comm.getvaluesize(h, position.size, mark)?
            };
            let dunrealized = comm.profitandloss(h, position.size, position.price, mark)?;
            if single {
                if lever && dvalue.gt(ZERO) {
                    dvalue = dvalue.minus(dunrealized)?;
                    return dvalue.over(comm.get_leverage(h)?)?.plus(dunrealized);
                }
                return Ok(dvalue);
            }
            if !self.config.shortcash {
                dvalue = dvalue.absolute()?;
            }
            pos_value = pos_value.plus(dvalue)?;
            unrealized = unrealized.plus(dunrealized)?;
            if dvalue.gt(ZERO) {
                dvalue = dvalue.minus(dunrealized)?;
                pos_value_unlever = pos_value_unlever.plus(dvalue.over(comm.get_leverage(h)?)?)?;
                pos_value_unlever = pos_value_unlever.plus(dunrealized)?;
            } else {
                pos_value_unlever = pos_value_unlever.plus(dvalue)?;
            }
        }

        match self.fundhist {
            None => {
                self.value = self.cash.plus(pos_value_unlever)?;
                self.fundval = self.value.over(self.fundshares)?;
            }
            Some((fval, fvalue)) => {
                self.value = fvalue;
                self.cash = fvalue.minus(pos_value_unlever)?;
                self.fundval = fval;
                self.fundshares = fvalue.over(fval)?;
                let lev = pos_value.over(pos_value_unlever.or(Num::Float(1.0)))?;
                pos_value_unlever = fvalue;
                pos_value = fvalue.times(lev)?;
            }
        }
        self.valuemkt = pos_value_unlever;
        self.valuelever = self.cash.plus(pos_value)?;
        self.valuemktlever = pos_value;
        self.leverage = pos_value.over(pos_value_unlever.or(Num::Float(1.0)))?;
        self.unrealized = unrealized;
        Ok(if !lever { self.value } else { self.valuelever })
    }
}

/// One position added to the sums `(pos_value, pos_value_unlever, unrealized)` of
/// `_get_value` (the loop's body for several datas), in floats: `fc` the data's scheme, `size`
/// the float of the position's size (as [`Num::small_f64`]), `pprice` its price, `mark` the
/// data's mark.
#[inline(always)]
fn value_floats(
    shortcash: bool,
    fc: FloatComm,
    size: f64,
    pprice: f64,
    mark: f64,
    (mut pos_value, mut pos_value_unlever, mut unrealized): (f64, f64, f64),
) -> (f64, f64, f64) {
    let mut dvalue = if !shortcash {
        // dvalue = comm.getvalue(position, price)
        fc.getvalue(size, pprice, mark)
    } else {
        // dvalue = comm.getvaluesize(position.size, price)
        fc.getvaluesize(size, mark)
    };
    // dunrealized = comm.profitandloss(position.size, position.price, price)
    let dunrealized = fc.profitandloss(size, pprice, mark);
    // if not self.p.shortcash: dvalue = abs(dvalue)
    if !shortcash {
        dvalue = dvalue.abs();
    }
    // pos_value += dvalue; unrealized += dunrealized
    pos_value += dvalue;
    unrealized += dunrealized;
    if dvalue > 0.0 {
        // dvalue -= dunrealized
        // pos_value_unlever += (dvalue / comm.get_leverage()); pos_value_unlever += dunrealized
        dvalue -= dunrealized;
        pos_value_unlever += dvalue / fc.leverage;
        pos_value_unlever += dunrealized;
    } else {
        // pos_value_unlever += dvalue
        pos_value_unlever += dvalue;
    }
    (pos_value, pos_value_unlever, unrealized)
}

/// The scheme of a data, borrowing only the schemes (the core's other fields stay free).
fn comm_in(comm: &DataMap<CommSpec>, data: usize) -> Result<Comm<'_>, CoreError> {
    let spec = comm.get(data).ok_or(MISSING_COMM)?;
    Ok(Comm { data, spec })
}

/// The scheme of a data and its [`FloatComm`] if it has one (as [`comm_in`]).
#[inline(always)]
fn comm_floats_in(comm: &Schemes, data: usize) -> Result<(Comm<'_>, Option<FloatComm>), CoreError> {
    comm.get_floats(data).ok_or(MISSING_COMM)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The loop's body of `_get_value` for several datas, in `Num`s (the general path).
    fn value_general(
        shortcash: bool,
        comm: &Comm<'_>,
        size: Num,
        pprice: Num,
        mark: Num,
        (mut pos_value, mut pos_value_unlever, mut unrealized): (Num, Num, Num),
    ) -> (Num, Num, Num) {
        let h = &mut NoHooks;
        let mut dvalue = if !shortcash {
            comm.getvalue(h, size, pprice, mark).unwrap()
        } else {
            comm.getvaluesize(h, size, mark).unwrap()
        };
        let dunrealized = comm.profitandloss(h, size, pprice, mark).unwrap();
        if !shortcash {
            dvalue = dvalue.absolute().unwrap();
        }
        pos_value = pos_value.plus(dvalue).unwrap();
        unrealized = unrealized.plus(dunrealized).unwrap();
        if dvalue.gt(ZERO) {
            dvalue = dvalue.minus(dunrealized).unwrap();
            let lever = dvalue.over(comm.get_leverage(h).unwrap()).unwrap();
            pos_value_unlever = pos_value_unlever.plus(lever).unwrap();
            pos_value_unlever = pos_value_unlever.plus(dunrealized).unwrap();
        } else {
            pos_value_unlever = pos_value_unlever.plus(dvalue).unwrap();
        }
        (pos_value, pos_value_unlever, unrealized)
    }

    /// A float of the fast path against the general path's number: the same bits, or both
    /// NaN (a NaN's sign and payload are nothing Python shows, nor anything the compiler keeps:
    /// it may swap the operands of a sum).
    fn same(fast: f64, general: Num) -> bool {
        crate::num::same_or_both_nan(Num::Float(fast), general)
    }

    #[test]
    fn value_floats_is_the_general_valuation() {
        let (floats, sizes) = crate::num::edge_floats_and_sizes();
        let sums = [(0.0, 0.0, 0.0), (-0.0, 1.5, -2.0), (1e300, f64::NAN, 3.0)];
        let mut cases = 0;
        for stocklike in [true, false] {
            for automargin in [0.0, -1.0, 0.5] {
                for leverage in [1.0, 2.5, f64::NAN] {
                    let spec = CommSpec::of_floats(
                        stocklike,
                        false,
                        [0.001, 10.0, 500.0, automargin, leverage],
                    );
                    let comm = Comm {
                        data: 0,
                        spec: &spec,
                    };
                    let fc = comm.floats().unwrap();
                    for shortcash in [false, true] {
                        for &(size, s) in &sizes {
                            for &pprice in &floats {
                                for mark in [0.0, -0.0, 101.5, -3.0, f64::NAN, f64::INFINITY] {
                                    for (a, b, c) in sums {
                                        let fast =
                                            value_floats(shortcash, fc, s, pprice, mark, (a, b, c));
                                        let general = value_general(
                                            shortcash,
                                            &comm,
                                            size,
                                            Num::Float(pprice),
                                            Num::Float(mark),
                                            (Num::Float(a), Num::Float(b), Num::Float(c)),
                                        );
                                        let fast = [fast.0, fast.1, fast.2];
                                        let general = [general.0, general.1, general.2];
                                        for (fast, general) in fast.into_iter().zip(general) {
                                            assert!(
                                                same(fast, general),
                                                "{spec:?} {shortcash} {size} {pprice} {mark}: \
                                                 {fast} {general}"
                                            );
                                        }
                                        cases += 1;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(cases > 10_000);
    }

    /// A limit order of data 0 at `price` (the fields a pseudo-execution reads).
    fn limit_order(oref: u64, isbuy: bool, size: Num, price: f64) -> OrderSpec {
        OrderSpec {
            oref,
            data: 0,
            isbuy,
            size,
            exectype: EXEC_LIMIT,
            price: Num::Float(price),
            pricelimit: FZERO,
            pclose: FZERO,
            created_dt: FZERO,
            valid: FZERO,
            dteos: FZERO,
            trailamount: FZERO,
            trailpercent: FZERO,
            limitoffset: FZERO,
            parent: None,
            oco: None,
            transmit: true,
            check: true,
            coc: false,
            notified: false,
        }
    }

    #[test]
    fn the_float_pseudo_execution_is_the_general_one() {
        let (floats, sizes) = crate::num::edge_floats_and_sizes();
        let bar = Bar {
            data: 0,
            dt: FZERO,
            open: Num::Float(99.5),
            high: FZERO,
            low: FZERO,
            close: FZERO,
            mark: FZERO,
            volume: FZERO,
            rhigh: FZERO,
            rlow: FZERO,
            pdt: FZERO,
            phigh: FZERO,
            plow: FZERO,
            pvolume: FZERO,
            day: 0,
        };
        let mut cases = 0;
        for (stocklike, perc) in [(true, false), (true, true), (false, false)] {
            for leverage in [1.0, 2.5, f64::NAN] {
                let spec =
                    CommSpec::of_floats(stocklike, perc, [0.001, 10.0, 500.0, 0.0, leverage]);
                for shortcash in [false, true] {
                    let mut core =
                        Core::new(Num::Float(1e7), true, true, Num::Float(100.0)).unwrap();
                    core.config.shortcash = shortcash;
                    core.apply_event(
                        &Event::Data {
                            data: 0,
                            comm: spec,
                        },
                        &mut Vec::new(),
                    )
                    .unwrap();
                    let mut oref = 0;
                    for &(size, _) in &sizes {
                        for &price in &floats {
                            for isbuy in [true, false] {
                                oref += 1;
                                let idx = core.new_order(&limit_order(oref, isbuy, size, price));
                                let idx = idx.unwrap();
                                for (old, avg) in
                                    [(0.0, 0.0), (-0.0, 0.0), (2.0, 101.5), (-7.5, 3.25)]
                                {
                                    for cash in [1e7, 0.0, -0.0, -2.5, f64::NAN] {
                                        let start = Position {
                                            size: Num::Float(old),
                                            price: Num::Float(avg),
                                            ..Position::default()
                                        };
                                        let mut fast_pos = start;
                                        let fast = core
                                            .pseudo_execute_fast(idx, cash, &mut fast_pos, &bar)
                                            .unwrap();
                                        let comm = core.comm_floats_of(0).unwrap().0;
                                        let remsize = core.orders[idx].remsize(&core.wide);
                                        let at = core.pseudo_price(idx, &bar);
                                        let mut general_pos = start;
                                        let general = core
                                            .pseudo_execute_general(
                                                comm,
                                                comm,
                                                Num::Float(cash),
                                                &mut general_pos,
                                                remsize,
                                                at,
                                                &mut NoHooks,
                                            )
                                            .unwrap();
                                        let what = format!(
                                            "{spec:?} {shortcash} {size} {price} {isbuy} \
                                             {old} {avg} {cash}"
                                        );
                                        assert!(same(fast, general), "{what}: {fast} {general}");
                                        for (f, g) in [
                                            (fast_pos.size, general_pos.size),
                                            (fast_pos.price, general_pos.price),
                                        ] {
                                            let Num::Float(f) = f else {
                                                panic!("{what}: an int position");
                                            };
                                            assert!(same(f, g), "{what}: {f} {g}");
                                        }
                                        cases += 1;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(cases > 10_000);
    }
}
