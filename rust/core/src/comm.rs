//! A commission scheme (`CommInfoBase` reduced to its numbers, no user overrides) and its
//! formulas, in the order `backtrader/comminfo.py` evaluates them.

use crate::error::CoreError;
use crate::num::{Num, FZERO, ZERO};

/// A commission scheme: the numbers of a `CommInfoBase` (tuple items 2..9 of `EV_DATA`).
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
}

impl CommSpec {
    /// `get_margin(price)`.
    pub fn get_margin(&self, price: Num) -> Result<Num, CoreError> {
        if !self.automargin.truthy() {
            Ok(self.margin)
        } else if self.automargin.lt(ZERO) {
            price.times(self.mult)
        } else {
            price.times(self.automargin)
        }
    }

    /// `getoperationcost(size, price)`.
    pub fn getoperationcost(&self, size: Num, price: Num) -> Result<Num, CoreError> {
        if !self.stocklike {
            return size.absolute()?.times(self.get_margin(price)?);
        }
        size.absolute()?.times(price)
    }

    /// `getvaluesize(size, price)`.
    pub fn getvaluesize(&self, size: Num, price: Num) -> Result<Num, CoreError> {
        if !self.stocklike {
            return size.absolute()?.times(self.get_margin(price)?);
        }
        size.times(price)
    }

    /// `getvalue(position, price)` with the position's size and price.
    pub fn getvalue(&self, size: Num, pprice: Num, price: Num) -> Result<Num, CoreError> {
        if !self.stocklike {
            return size.absolute()?.times(self.get_margin(price)?);
        }
        if size.ge(ZERO) {
            return size.times(price);
        }
        let mut value = pprice.times(size)?;
        value = value.plus(pprice.minus(price)?.times(size)?)?;
        Ok(value)
    }

    /// `getcommission(size, price)`.
    pub fn getcommission(&self, size: Num, price: Num) -> Result<Num, CoreError> {
        if self.perc {
            return size.absolute()?.times(self.commission)?.times(price);
        }
        size.absolute()?.times(self.commission)
    }

    /// `profitandloss(size, price, newprice)`.
    pub fn profitandloss(&self, size: Num, price: Num, newprice: Num) -> Result<Num, CoreError> {
        size.times(newprice.minus(price)?)?.times(self.mult)
    }

    /// `cashadjust(size, price, newprice)`; `price` is the position's adjustment base.
    pub fn cashadjust(
        &self,
        size: Num,
        price: Option<Num>,
        newprice: Num,
    ) -> Result<Num, CoreError> {
        if !self.stocklike {
            // A futures position always has an adjustment base (the Python core asserts it).
            let price = price.ok_or(CoreError::Internal(
                "a futures position without adjustment base",
            ))?;
            return size.times(newprice.minus(price)?)?.times(self.mult);
        }
        Ok(FZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn futures(margin: f64, automargin: f64, mult: f64) -> CommSpec {
        CommSpec {
            stocklike: false,
            perc: false,
            commission: Num::Float(2.0),
            mult: Num::Float(mult),
            margin: Num::Float(margin),
            automargin: Num::Float(automargin),
            leverage: Num::Float(1.0),
        }
    }

    #[test]
    fn margin_and_automargin() {
        let p = Num::Float(101.5);
        assert_eq!(
            futures(2000.0, 0.0, 10.0).get_margin(p).unwrap(),
            Num::Float(2000.0)
        );
        assert_eq!(
            futures(2000.0, -1.0, 10.0).get_margin(p).unwrap(),
            Num::Float(1015.0)
        );
        assert_eq!(
            futures(2000.0, 0.5, 10.0).get_margin(p).unwrap(),
            Num::Float(50.75)
        );
    }

    #[test]
    fn stocklike_short_value_is_pprice_based() {
        // Python: _Comm(True, True, 0.001, 1.0, 0.0, 0.0, 1.0).getvalue(-3, 100.25, 101.5)
        let stock = CommSpec {
            stocklike: true,
            perc: true,
            commission: Num::Float(0.001),
            mult: Num::Float(1.0),
            margin: Num::Float(0.0),
            automargin: Num::Float(0.0),
            leverage: Num::Float(1.0),
        };
        let v = stock
            .getvalue(Num::Int(-3), Num::Float(100.25), Num::Float(101.5))
            .unwrap();
        assert_eq!(v, Num::Float(-297.0));
        // abs(-3) * 0.001 * 101.5
        let c = stock
            .getcommission(Num::Int(-3), Num::Float(101.5))
            .unwrap();
        assert_eq!(c, Num::Float(0.3045));
        assert_eq!(
            stock
                .cashadjust(Num::Int(3), None, Num::Float(1.0))
                .unwrap(),
            FZERO
        );
    }

    #[test]
    fn futures_cashadjust_needs_a_base() {
        let fut = futures(2000.0, 0.0, 10.0);
        assert!(matches!(
            fut.cashadjust(Num::Int(1), None, Num::Float(1.0)),
            Err(CoreError::Internal(_))
        ));
        let adj = fut.cashadjust(Num::Int(-2), Some(Num::Float(100.0)), Num::Float(101.5));
        assert_eq!(adj.unwrap(), Num::Float(-30.0));
    }
}
