//! A commission scheme (`CommInfoBase` reduced to its numbers) and its formulas, in the order
//! `backtrader/comminfo.py` evaluates them. A method a user's subclass overrides (a bit of
//! `overrides`) is called back through [`Hooks::comm`]; the others run here, dispatching to
//! each other exactly as `CommInfoBase` does (the Python core's `_Comm`).

use std::ops::Deref;

use crate::error::{CoreError, ErrValue};
use crate::hooks::{HookArg, Hooks};
use crate::num::{Num, FZERO, ZERO};
use crate::position::DataMap;
use crate::value::Value;

/// The `CommInfoBase` methods a user may override (`contract.COMM_METHODS`); bit `1 << i` of
/// `overrides`.
pub const COMM_METHODS: [&str; 12] = [
    "_getcommission",
    "getcommission",
    "confirmexec",
    "get_margin",
    "get_leverage",
    "getoperationcost",
    "getvaluesize",
    "getvalue",
    "profitandloss",
    "cashadjust",
    "get_credit_interest",
    "_get_credit_interest",
];

const OV_GETCOMM_: u16 = 1 << 0;
const OV_GETCOMMISSION: u16 = 1 << 1;
const OV_CONFIRMEXEC: u16 = 1 << 2;
const OV_GET_MARGIN: u16 = 1 << 3;
const OV_GET_LEVERAGE: u16 = 1 << 4;
const OV_OPERATIONCOST: u16 = 1 << 5;
const OV_VALUESIZE: u16 = 1 << 6;
const OV_GETVALUE: u16 = 1 << 7;
const OV_PNL: u16 = 1 << 8;
const OV_CASHADJUST: u16 = 1 << 9;
const OV_CREDIT: u16 = 1 << 10;
const OV_CREDIT_: u16 = 1 << 11;

/// A commission scheme: the numbers of a `CommInfoBase` (tuple items 2..13 of `EV_DATA`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CommSpec {
    /// Stock-like (`True`) or futures-like.
    pub stocklike: bool,
    /// `COMM_PERC` (the commission is a fraction of the price).
    pub perc: bool,
    /// Commission per unit or fraction.
    pub commission: Num,
    /// Multiplier.
    pub mult: Num,
    /// Margin per contract (`0.0` when unset).
    pub margin: Num,
    /// Automatic margin (`0.0` when off, `< 0` for `price * mult`).
    pub automargin: Num,
    /// Leverage (`> 0`).
    pub leverage: Num,
    /// Credit interest rate per day (`interest / 365`).
    pub creditrate: Num,
    /// Long positions pay interest too.
    pub interest_long: bool,
    /// Bit set of the overridden [`COMM_METHODS`].
    pub overrides: u16,
    /// The data whose position this data's orders update (`data.compensate(other)`).
    pub compensate: Option<usize>,
}

impl CommSpec {
    /// A scheme without interest, overrides or compensation.
    #[must_use]
    pub fn basic(
        stocklike: bool,
        perc: bool,
        commission: Num,
        mult: Num,
        margin: Num,
        automargin: Num,
        leverage: Num,
    ) -> Self {
        CommSpec {
            stocklike,
            perc,
            commission,
            mult,
            margin,
            automargin,
            leverage,
            creditrate: FZERO,
            interest_long: false,
            overrides: 0,
            compensate: None,
        }
    }
}

/// The schemes by data (`self.comm` of the Python core), each with its [`FloatComm`] if it
/// has one, found once when the scheme is set (the fills and valuations look it up with the
/// scheme instead of testing its numbers every time). Reads go through the map (`Deref`);
/// writes through [`Schemes::insert`] and [`Schemes::insert_new`], which keep both in step.
#[derive(Clone, Debug, Default)]
pub(crate) struct Schemes {
    specs: DataMap<CommSpec>,
    /// `Comm::floats()` of the scheme at the same slot of `specs`.
    floats: Vec<Option<FloatComm>>,
}

impl Deref for Schemes {
    type Target = DataMap<CommSpec>;

    fn deref(&self) -> &DataMap<CommSpec> {
        &self.specs
    }
}

impl Schemes {
    /// `comm[data] = spec`.
    pub fn insert(&mut self, data: usize, spec: CommSpec) {
        self.specs.insert(data, spec);
        if let Some((slot, spec)) = self.specs.get_slot(data) {
            let floats = Comm { data, spec }.floats();
            if slot < self.floats.len() {
                self.floats[slot] = floats;
            } else {
                self.floats.push(floats);
            }
        }
    }

    /// Add a scheme (restoring a snapshot); `false` if `data` already has one.
    pub fn insert_new(&mut self, data: usize, spec: CommSpec) -> bool {
        if self.specs.contains(data) {
            return false;
        }
        self.insert(data, spec);
        true
    }

    /// The scheme of `data` bound to it, and its [`FloatComm`] if it has one.
    #[inline(always)]
    pub fn get_floats(&self, data: usize) -> Option<(Comm<'_>, Option<FloatComm>)> {
        let (slot, spec) = self.specs.get_slot(data)?;
        Some((Comm { data, spec }, *self.floats.get(slot)?))
    }
}

/// A scheme bound to its data (`_Comm.data`), the receiver of the formulas. It borrows the
/// scheme: a copy of the whole `CommSpec` per fill was a measurable `memcpy`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Comm<'a> {
    pub data: usize,
    pub spec: &'a CommSpec,
}

fn num(arg: Num) -> HookArg {
    HookArg::Num(arg)
}

impl Comm<'_> {
    #[inline(always)]
    fn overridden(&self, bit: u16) -> bool {
        self.spec.overrides & bit != 0
    }

    /// `_call(method, *args)`: the user's override, its result as returned.
    // (out of line, as `call`: the formulas around them stay small enough to inline)
    #[cold]
    #[inline(never)]
    fn call_raw(
        &self,
        hooks: &mut dyn Hooks,
        method: &'static str,
        args: &[HookArg],
    ) -> Result<Value, CoreError> {
        if !hooks.has_comm() {
            return Err(CoreError::input(
                "step",
                "comm",
                ErrValue::None,
                format!("{method}() is overridden: needs a callable"),
                None,
            ));
        }
        hooks
            .comm(self.data, method, args)
            .map_err(|_| CoreError::Hook)
    }

    /// `_call(method, *args)` used as a number.
    #[cold]
    #[inline(never)]
    fn call(
        &self,
        hooks: &mut dyn Hooks,
        method: &'static str,
        args: &[HookArg],
    ) -> Result<Num, CoreError> {
        match self.call_raw(hooks, method, args)? {
            Value::Int(v) => Ok(Num::int(v)),
            Value::Float(v) => Ok(Num::Float(v)),
            // `True`/`False` compute as `1`/`0`
            Value::Bool(v) => Ok(Num::from(v)),
            Value::None | Value::BigInt { .. } | Value::Other { .. } => {
                Err(CoreError::HookResult { method })
            }
        }
    }

    /// `get_margin(price)`.
    #[inline(always)]
    pub fn get_margin(&self, h: &mut dyn Hooks, price: Num) -> Result<Num, CoreError> {
        if self.overridden(OV_GET_MARGIN) {
            return self.call(h, "get_margin", &[num(price)]);
        }
        let s = &self.spec;
        if !s.automargin.truthy() {
            Ok(s.margin)
        } else if s.automargin.lt(ZERO) {
            price.times(s.mult)
        } else {
            price.times(s.automargin)
        }
    }

    /// `get_leverage()`.
    #[inline(always)]
    pub fn get_leverage(&self, h: &mut dyn Hooks) -> Result<Num, CoreError> {
        if self.overridden(OV_GET_LEVERAGE) {
            return self.call(h, "get_leverage", &[]);
        }
        Ok(self.spec.leverage)
    }

    /// `getoperationcost(size, price)`.
    #[inline(always)]
    pub fn getoperationcost(
        &self,
        h: &mut dyn Hooks,
        size: Num,
        price: Num,
    ) -> Result<Num, CoreError> {
        if self.overridden(OV_OPERATIONCOST) {
            return self.call(h, "getoperationcost", &[num(size), num(price)]);
        }
        if !self.spec.stocklike {
            return size.absolute()?.times(self.get_margin(h, price)?);
        }
        size.absolute()?.times(price)
    }

    /// `getvaluesize(size, price)`.
    #[inline(always)]
    pub fn getvaluesize(&self, h: &mut dyn Hooks, size: Num, price: Num) -> Result<Num, CoreError> {
        if self.overridden(OV_VALUESIZE) {
            return self.call(h, "getvaluesize", &[num(size), num(price)]);
        }
        if !self.spec.stocklike {
            return size.absolute()?.times(self.get_margin(h, price)?);
        }
        size.times(price)
    }

    /// `getvalue(position, price)` with the position's size and price.
    #[inline]
    pub fn getvalue(
        &self,
        h: &mut dyn Hooks,
        size: Num,
        pprice: Num,
        price: Num,
    ) -> Result<Num, CoreError> {
        if self.overridden(OV_GETVALUE) {
            return self.call(h, "getvalue", &[num(size), num(pprice), num(price)]);
        }
        if !self.spec.stocklike {
            return size.absolute()?.times(self.get_margin(h, price)?);
        }
        if size.ge(ZERO) {
            return size.times(price);
        }
        let mut value = pprice.times(size)?;
        value = value.plus(pprice.minus(price)?.times(size)?)?;
        Ok(value)
    }

    /// `_getcommission(size, price, pseudoexec)`.
    #[inline(always)]
    pub fn getcommission_(
        &self,
        h: &mut dyn Hooks,
        size: Num,
        price: Num,
        pseudoexec: bool,
    ) -> Result<Num, CoreError> {
        if self.overridden(OV_GETCOMM_) {
            return self.call(
                h,
                "_getcommission",
                &[num(size), num(price), HookArg::Bool(pseudoexec)],
            );
        }
        if self.spec.perc {
            return size.absolute()?.times(self.spec.commission)?.times(price);
        }
        size.absolute()?.times(self.spec.commission)
    }

    /// `getcommission(size, price)`.
    #[inline(always)]
    pub fn getcommission(
        &self,
        h: &mut dyn Hooks,
        size: Num,
        price: Num,
    ) -> Result<Num, CoreError> {
        if self.overridden(OV_GETCOMMISSION) {
            return self.call(h, "getcommission", &[num(size), num(price)]);
        }
        self.getcommission_(h, size, price, true)
    }

    /// `confirmexec(size, price)`: its result is unused by BackBroker, only a user's override
    /// (side effects) matters.
    #[inline(always)]
    pub fn confirmexec(&self, h: &mut dyn Hooks, size: Num, price: Num) -> Result<(), CoreError> {
        if self.overridden(OV_CONFIRMEXEC) {
            self.call_raw(h, "confirmexec", &[num(size), num(price)])?;
        } else if self.overridden(OV_GETCOMM_) {
            self.call_raw(
                h,
                "_getcommission",
                &[num(size), num(price), HookArg::Bool(false)],
            )?;
        }
        Ok(())
    }

    /// `profitandloss(size, price, newprice)`.
    #[inline(always)]
    pub fn profitandloss(
        &self,
        h: &mut dyn Hooks,
        size: Num,
        price: Num,
        newprice: Num,
    ) -> Result<Num, CoreError> {
        if self.overridden(OV_PNL) {
            return self.call(h, "profitandloss", &[num(size), num(price), num(newprice)]);
        }
        size.times(newprice.minus(price)?)?.times(self.spec.mult)
    }

    /// `cashadjust(size, price, newprice)`; `price` is the position's adjustment base.
    #[inline(always)]
    pub fn cashadjust(
        &self,
        h: &mut dyn Hooks,
        size: Num,
        price: Option<Num>,
        newprice: Num,
    ) -> Result<Num, CoreError> {
        if self.overridden(OV_CASHADJUST) {
            let base = price.map_or(HookArg::None, HookArg::Num);
            return self.call(h, "cashadjust", &[num(size), base, num(newprice)]);
        }
        if !self.spec.stocklike {
            // A futures position always has an adjustment base (the Python core asserts it).
            let price = price.ok_or(CoreError::Internal(
                "a futures position without adjustment base",
            ))?;
            return size.times(newprice.minus(price)?)?.times(self.spec.mult);
        }
        Ok(FZERO)
    }

    /// `get_credit_interest(data, pos, dt)` with the position's last update (`posdt`,
    /// `posday`) and the bar's date number and date ordinal.
    #[allow(
        clippy::too_many_arguments,
        reason = "the Python method's arguments, one by one"
    )]
    pub fn get_credit_interest(
        &self,
        h: &mut dyn Hooks,
        size: Num,
        price: Num,
        posdt: Num,
        posday: i128,
        dt: Num,
        day: i128,
    ) -> Result<Num, CoreError> {
        if self.overridden(OV_CREDIT) {
            return self.call(
                h,
                "get_credit_interest",
                &[num(size), num(price), num(posdt), num(dt)],
            );
        }
        if size.gt(ZERO) && !self.spec.interest_long {
            return Ok(FZERO);
        }
        if day <= posday {
            return Ok(FZERO);
        }
        let days = day.checked_sub(posday).ok_or(CoreError::IntOverflow)?;
        self.get_credit_interest_(h, size, price, days, dt, posdt)
    }

    /// [`Comm::get_credit_interest`] of a position whose size is `size` (its float, as
    /// [`Num::small_f64`]) at the float `price`, in floats: `None` (the general method's) when
    /// either method is overridden, the rate is no float or the days are beyond `i64`.
    #[inline(always)]
    #[must_use]
    pub fn credit_interest_floats(
        &self,
        size: f64,
        price: f64,
        posday: i128,
        day: i128,
    ) -> Option<f64> {
        let Num::Float(rate) = self.spec.creditrate else {
            return None;
        };
        if self.spec.overrides & (OV_CREDIT | OV_CREDIT_) != 0 {
            return None;
        }
        // if size > 0 and not self.interest_long: return 0.0
        if size > 0.0 && !self.spec.interest_long {
            return Some(0.0);
        }
        // if day <= posday: return 0.0
        if day <= posday {
            return Some(0.0);
        }
        // days * self.creditrate * abs(size) * price, days = day - posday (an int: to float
        // first, through i64 as `get_credit_interest_`)
        let days = i64::try_from(day.checked_sub(posday)?).ok()?;
        Some(days as f64 * rate * size.abs() * price)
    }

    /// `_get_credit_interest(data, size, price, days, dt0, dt1)`.
    pub fn get_credit_interest_(
        &self,
        h: &mut dyn Hooks,
        size: Num,
        price: Num,
        days: i128,
        dt0: Num,
        dt1: Num,
    ) -> Result<Num, CoreError> {
        if self.overridden(OV_CREDIT_) {
            return self.call(
                h,
                "_get_credit_interest",
                &[
                    num(size),
                    num(price),
                    num(Num::int(days)),
                    num(dt0),
                    num(dt1),
                ],
            );
        }
        // days * self.creditrate * abs(size) * price; `days * creditrate` of a float rate
        // converts `days` (an i64 in practice: date ordinals) to float first, as Python does
        // (i64 -> f64 rounds as `PyLong_AsDouble`; the i128 conversion, a software routine,
        // was called whatever the value)
        let interest = match (self.spec.creditrate, i64::try_from(days)) {
            (Num::Float(rate), Ok(days)) => Num::Float(days as f64 * rate),
            _ => Num::int(days).times(self.spec.creditrate)?,
        };
        interest.times(size.absolute()?)?.times(price)
    }
}

/// The numbers of a scheme whose formulas all compute in floats: no method overridden, every
/// number a float and a non-zero leverage (dividing by it cannot fail). With a float price and
/// a size converted by [`Num::small_f64`], each formula below is the method's, operation for
/// operation (Python converts the int operand of an `int op float` first, exactly here).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FloatComm {
    pub stocklike: bool,
    pub perc: bool,
    pub commission: f64,
    pub mult: f64,
    pub margin: f64,
    pub automargin: f64,
    pub leverage: f64,
}

#[allow(
    clippy::float_cmp,
    reason = "Python's truth value and comparisons of floats, exactly"
)]
impl FloatComm {
    /// `get_margin(price)`:
    /// `margin if not automargin else price * mult if automargin < 0 else price * automargin`.
    #[inline(always)]
    pub fn get_margin(&self, price: f64) -> f64 {
        if self.automargin == 0.0 {
            self.margin
        } else if self.automargin < 0.0 {
            price * self.mult
        } else {
            price * self.automargin
        }
    }

    /// `getoperationcost(size, price)` of `abs_size = abs(size)`:
    /// `abs(size) * get_margin(price)` (futures), `abs(size) * price` (stocks).
    #[inline(always)]
    pub fn getoperationcost(&self, abs_size: f64, price: f64) -> f64 {
        if !self.stocklike {
            return abs_size * self.get_margin(price);
        }
        abs_size * price
    }

    /// `getvaluesize(size, price)`:
    /// `abs(size) * get_margin(price)` (futures), `size * price` (stocks).
    #[inline(always)]
    pub fn getvaluesize(&self, size: f64, price: f64) -> f64 {
        if !self.stocklike {
            return size.abs() * self.get_margin(price);
        }
        size * price
    }

    /// `getvalue(position, price)` of a position of `size` at `pprice`: `abs(size) *
    /// get_margin(price)` (futures), `size * price` (stocks, `size >= 0`), else
    /// `pprice * size + (pprice - price) * size` (a short position: `value = pos.price *
    /// pos.size; value += (pos.price - price) * pos.size`).
    #[inline(always)]
    pub fn getvalue(&self, size: f64, pprice: f64, price: f64) -> f64 {
        if !self.stocklike {
            return size.abs() * self.get_margin(price);
        }
        if size >= 0.0 {
            return size * price;
        }
        let value = pprice * size;
        value + (pprice - price) * size
    }

    /// `getcommission(size, price)` (`_getcommission`) of `abs_size = abs(size)`:
    /// `abs(size) * commission * price` (percent), `abs(size) * commission` (fixed).
    #[inline(always)]
    pub fn getcommission(&self, abs_size: f64, price: f64) -> f64 {
        if self.perc {
            return abs_size * self.commission * price;
        }
        abs_size * self.commission
    }

    /// `profitandloss(size, price, newprice)`: `size * (newprice - price) * mult`.
    #[inline(always)]
    pub fn profitandloss(&self, size: f64, price: f64, newprice: f64) -> f64 {
        size * (newprice - price) * self.mult
    }

    /// `opencash` of a value: `value / get_leverage()` when `value > 0`, else `value`.
    #[inline(always)]
    pub fn levered(&self, value: f64) -> f64 {
        if value > 0.0 {
            value / self.leverage
        } else {
            value
        }
    }
}

impl Comm<'_> {
    /// The scheme as a [`FloatComm`], if its formulas all compute in floats.
    #[inline(always)]
    pub fn floats(&self) -> Option<FloatComm> {
        let s = self.spec;
        if s.overrides != 0 {
            return None;
        }
        match (s.commission, s.mult, s.margin, s.automargin, s.leverage) {
            (
                Num::Float(commission),
                Num::Float(mult),
                Num::Float(margin),
                Num::Float(automargin),
                Num::Float(leverage),
            ) if leverage != 0.0 => Some(FloatComm {
                stocklike: s.stocklike,
                perc: s.perc,
                commission,
                mult,
                margin,
                automargin,
                leverage,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
impl CommSpec {
    /// [`CommSpec::basic`] of float numbers: `[commission, mult, margin, automargin, leverage]`.
    pub(crate) fn of_floats(stocklike: bool, perc: bool, nums: [f64; 5]) -> Self {
        let [commission, mult, margin, automargin, leverage] = nums.map(Num::Float);
        CommSpec::basic(
            stocklike, perc, commission, mult, margin, automargin, leverage,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::NoHooks;

    /// A stock-like scheme of float numbers: commission 0.001 as a percentage, leverage 1.
    fn stock() -> CommSpec {
        CommSpec::of_floats(true, true, [0.001, 1.0, 0.0, 0.0, 1.0])
    }

    fn futures(margin: f64, automargin: f64, mult: f64) -> CommSpec {
        CommSpec::of_floats(false, false, [2.0, mult, margin, automargin, 1.0])
    }

    fn bind(spec: &CommSpec) -> Comm<'_> {
        Comm { data: 0, spec }
    }

    #[test]
    fn margin_and_automargin() {
        let h = &mut NoHooks;
        let p = Num::Float(101.5);
        assert_eq!(
            bind(&futures(2000.0, 0.0, 10.0)).get_margin(h, p).unwrap(),
            Num::Float(2000.0)
        );
        assert_eq!(
            bind(&futures(2000.0, -1.0, 10.0)).get_margin(h, p).unwrap(),
            Num::Float(1015.0)
        );
        assert_eq!(
            bind(&futures(2000.0, 0.5, 10.0)).get_margin(h, p).unwrap(),
            Num::Float(50.75)
        );
    }

    #[test]
    fn stocklike_short_value_is_pprice_based() {
        let h = &mut NoHooks;
        let spec = stock();
        let stock = bind(&spec);
        let v = stock
            .getvalue(h, Num::int(-3), Num::Float(100.25), Num::Float(101.5))
            .unwrap();
        assert_eq!(v, Num::Float(-297.0));
        // abs(-3) * 0.001 * 101.5
        let c = stock
            .getcommission(h, Num::int(-3), Num::Float(101.5))
            .unwrap();
        assert_eq!(c, Num::Float(0.3045));
        assert_eq!(
            stock
                .cashadjust(h, Num::int(3), None, Num::Float(1.0))
                .unwrap(),
            FZERO
        );
    }

    #[test]
    fn futures_cashadjust_needs_a_base() {
        let h = &mut NoHooks;
        let spec = futures(2000.0, 0.0, 10.0);
        let fut = bind(&spec);
        assert!(matches!(
            fut.cashadjust(h, Num::int(1), None, Num::Float(1.0)),
            Err(CoreError::Internal(_))
        ));
        let adj = fut.cashadjust(h, Num::int(-2), Some(Num::Float(100.0)), Num::Float(101.5));
        assert_eq!(adj.unwrap(), Num::Float(-30.0));
    }

    #[test]
    fn an_override_without_a_callable_is_refused() {
        let h = &mut NoHooks;
        let mut spec = futures(2000.0, 0.0, 10.0);
        spec.overrides = OV_GET_MARGIN;
        let fut = bind(&spec);
        let err = fut.get_margin(h, Num::Float(1.0)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid step: comm = None (get_margin() is overridden: needs a callable)"
        );
        // the overridden get_margin is reached through getoperationcost too
        assert!(fut
            .getoperationcost(h, Num::int(1), Num::Float(1.0))
            .is_err());
        // credit interest without interest: zero, the default formula never calls back
        assert_eq!(
            fut.get_credit_interest(h, Num::int(-1), Num::Float(1.0), FZERO, 1, FZERO, 3)
                .unwrap(),
            Num::Float(0.0)
        );
    }

    /// `Num::Float` of a fast formula's result against the general method's, bit for bit.
    fn same(fast: f64, general: Result<Num, CoreError>, what: &str) {
        let general = general.unwrap();
        assert!(
            crate::num::same_or_both_nan(Num::Float(fast), general),
            "{what}: {fast} {general}"
        );
    }

    #[test]
    fn the_float_formulas_are_the_general_ones() {
        let (floats, sizes) = crate::num::edge_floats_and_sizes();
        let mut h = NoHooks;
        let picks = [0.0, -0.0, 2.0, -1.5, 0.1, f64::NAN, f64::INFINITY, 1e-310];
        let mut schemes = 0;
        for stocklike in [true, false] {
            for perc in [true, false] {
                for &commission in &[0.001, 2.0, -0.0, f64::NAN] {
                    for &automargin in &picks {
                        for &leverage in &[1.0, 2.5, -0.0, f64::NAN, 1e-310] {
                            let spec = CommSpec::of_floats(
                                stocklike,
                                perc,
                                [commission, 10.0, 500.0, automargin, leverage],
                            );
                            let comm = Comm {
                                data: 0,
                                spec: &spec,
                            };
                            let Some(fc) = comm.floats() else {
                                assert!(leverage == 0.0);
                                continue;
                            };
                            schemes += 1;
                            for &(size, s) in &sizes {
                                for &price in &floats {
                                    let p = Num::Float(price);
                                    let w = format!("{spec:?} {size} {price}");
                                    same(
                                        fc.getoperationcost(s.abs(), price),
                                        comm.getoperationcost(&mut h, size, p),
                                        &w,
                                    );
                                    same(
                                        fc.getvaluesize(s, price),
                                        comm.getvaluesize(&mut h, size, p),
                                        &w,
                                    );
                                    same(
                                        fc.getcommission(s.abs(), price),
                                        comm.getcommission(&mut h, size, p),
                                        &w,
                                    );
                                    same(
                                        fc.profitandloss(s, price, 3.25),
                                        comm.profitandloss(&mut h, size, p, Num::Float(3.25)),
                                        &w,
                                    );
                                    same(fc.get_margin(price), comm.get_margin(&mut h, p), &w);
                                    for pprice in [0.0, -0.0, 101.5, -2.25, f64::NAN, f64::INFINITY]
                                    {
                                        same(
                                            fc.getvalue(s, pprice, price),
                                            comm.getvalue(&mut h, size, Num::Float(pprice), p),
                                            &format!("{w} {pprice}"),
                                        );
                                    }
                                }
                            }
                            for &value in &floats {
                                let v = Num::Float(value);
                                let general = if v.gt(ZERO) {
                                    v.over(comm.get_leverage(&mut h).unwrap())
                                } else {
                                    Ok(v)
                                };
                                same(fc.levered(value), general, "levered");
                            }
                        }
                    }
                }
            }
        }
        assert!(schemes > 100);
        // no fast path for an override, an int number or a zero leverage
        let mut spec = stock();
        assert!(Comm {
            data: 0,
            spec: &spec
        }
        .floats()
        .is_some());
        spec.overrides = OV_GETCOMM_;
        assert!(Comm {
            data: 0,
            spec: &spec
        }
        .floats()
        .is_none());
        spec.overrides = 0;
        spec.mult = Num::int(1);
        assert!(Comm {
            data: 0,
            spec: &spec
        }
        .floats()
        .is_none());
        spec.mult = Num::Float(1.0);
        spec.leverage = Num::Float(0.0);
        assert!(Comm {
            data: 0,
            spec: &spec
        }
        .floats()
        .is_none());
    }

    #[test]
    fn schemes_keep_the_float_scheme_of_each_data() {
        let float = CommSpec::of_floats(true, false, [0.5, 1.0, 0.0, 0.0, 2.0]);
        let mut int = float;
        int.commission = Num::int(1);
        let mut overridden = float;
        overridden.overrides = 1;
        let mut schemes = Schemes::default();
        let check = |schemes: &Schemes, data: usize, spec: &CommSpec| {
            let (comm, fc) = schemes.get_floats(data).unwrap();
            assert_eq!(comm.data, data);
            assert_eq!(format!("{:?}", comm.spec), format!("{spec:?}"));
            let expected = Comm { data, spec }.floats();
            assert_eq!(format!("{fc:?}"), format!("{expected:?}"));
        };
        schemes.insert(5, float);
        schemes.insert(9000, int);
        assert!(schemes.insert_new(2, overridden));
        assert!(!schemes.insert_new(5, int));
        check(&schemes, 5, &float);
        check(&schemes, 9000, &int);
        check(&schemes, 2, &overridden);
        assert!(schemes.get_floats(5).unwrap().1.is_some());
        // a replaced scheme keeps its place and takes the new one's floats
        schemes.insert(5, int);
        schemes.insert(9000, float);
        check(&schemes, 5, &int);
        check(&schemes, 9000, &float);
        assert!(schemes.get_floats(5).unwrap().1.is_none());
        assert!(schemes.get_floats(9000).unwrap().1.is_some());
        assert_eq!(schemes.keys().collect::<Vec<_>>(), [5, 9000, 2]);
        assert!(schemes.get_floats(3).is_none());
    }

    #[test]
    fn credit_interest_floats_is_the_general_method() {
        let mut h = NoHooks;
        let nums = crate::num::edge_nums();
        let sizes: Vec<(Num, f64)> = nums
            .iter()
            .filter_map(|&n| n.small_f64().map(|v| (n, v)))
            .filter(|&(n, _)| n.truthy())
            .collect();
        let days = [
            (0_i128, 0_i128),
            (5, 3),
            (3, 5),
            (738_000, 738_001),
            (738_000, 739_365),
            (i128::MIN, 0),
            (-(1 << 70), 1 << 70),
            (0, i128::from(i64::MAX)),
            (-1, i128::from(i64::MAX)),
        ];
        let mut fast_cases = 0;
        for rate in [
            Num::Float(0.0),
            Num::Float(0.05 / 365.0),
            Num::Float(f64::NAN),
            Num::int(2),
        ] {
            for interest_long in [false, true] {
                for overrides in [0, OV_CREDIT, OV_CREDIT_, OV_PNL] {
                    let mut spec = stock();
                    spec.creditrate = rate;
                    spec.interest_long = interest_long;
                    spec.overrides = overrides;
                    let comm = Comm {
                        data: 0,
                        spec: &spec,
                    };
                    for &(size, s) in &sizes {
                        for price in [101.25, -0.0, f64::INFINITY, f64::NAN] {
                            for (posday, day) in days {
                                let Some(fast) = comm.credit_interest_floats(s, price, posday, day)
                                else {
                                    assert!(
                                        overrides & (OV_CREDIT | OV_CREDIT_) != 0
                                            || !matches!(rate, Num::Float(_))
                                            || day
                                                .checked_sub(posday)
                                                .is_none_or(|d| d > i128::from(i64::MAX))
                                    );
                                    continue;
                                };
                                let general = comm.get_credit_interest(
                                    &mut h,
                                    size,
                                    Num::Float(price),
                                    Num::Float(1.0),
                                    posday,
                                    Num::Float(2.0),
                                    day,
                                );
                                let w = format!("{spec:?} {size} {price} {posday} {day}");
                                match general.unwrap() {
                                    Num::Float(g) => assert!(
                                        g.to_bits() == fast.to_bits()
                                            || (g.is_nan() && fast.is_nan()),
                                        "{w}: {fast} {g}"
                                    ),
                                    Num::Int(_) => panic!("{w}"),
                                }
                                fast_cases += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(fast_cases > 1000);
    }

    #[test]
    fn credit_interest_of_float_rates_converts_days_as_python() {
        let mut h = NoHooks;
        let days_list = [
            1_i128,
            2,
            365,
            (1 << 53) + 1,
            i128::from(i64::MAX),
            i128::from(i64::MAX) + 1,
            1 << 100,
        ];
        for rate in [0.0, -0.0, 0.05 / 365.0, f64::NAN, f64::INFINITY, 1e-310] {
            let mut spec = stock();
            spec.creditrate = Num::Float(rate);
            let comm = Comm {
                data: 0,
                spec: &spec,
            };
            for days in days_list {
                for size in [Num::int(-3), Num::Float(-2.5), Num::int(1 << 80)] {
                    let general = Num::int(days)
                        .times(Num::Float(rate))
                        .unwrap()
                        .times(size.absolute().unwrap())
                        .unwrap()
                        .times(Num::Float(101.25))
                        .unwrap();
                    let got = comm
                        .get_credit_interest_(
                            &mut h,
                            size,
                            Num::Float(101.25),
                            days,
                            Num::Float(2.0),
                            Num::Float(1.0),
                        )
                        .unwrap();
                    assert_eq!(got, general, "{days} days at {rate} of {size}");
                }
            }
        }
    }
}
