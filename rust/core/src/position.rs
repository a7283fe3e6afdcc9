//! Positions: `backtrader.Position.update` and the insertion-ordered book of positions
//! (Backtrader values positions in the order their entries were created).

use crate::hashing::FastMap;

use crate::error::CoreError;
use crate::num::{Num, FZERO, ZERO};

/// The position of one data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Position {
    /// Signed size (`int` or `float`, as the orders that built it).
    pub size: Num,
    /// Average price (`0.0` when flat).
    pub price: Num,
    /// Price the futures cash adjustment was last made at (`None` until the first opening).
    pub adjbase: Option<Num>,
    /// Date number of the last update (a fill or a credit interest charge).
    pub dt: Num,
    /// Date ordinal of the last update.
    pub day: i128,
}

impl Default for Position {
    fn default() -> Self {
        Position::new(ZERO, FZERO)
    }
}

impl Position {
    /// `Position(size, price)`: the price is kept only for a non-zero size.
    #[must_use]
    #[inline]
    pub fn new(size: Num, price: Num) -> Self {
        Position {
            size,
            price: if size.truthy() { price } else { FZERO },
            adjbase: None,
            dt: FZERO,
            day: 0,
        }
    }

    /// `position.clone()`: size and price only (no adjustment base, no date).
    #[must_use]
    #[inline]
    pub fn fresh_clone(&self) -> Self {
        Position::new(self.size, self.price)
    }

    /// `position.update(size, price)`: returns `(size, price, opened, closed)` after it.
    // (always inlined: three call sites per fill, and the four-number result returned
    // through memory was a fifth of its cost)
    #[inline(always)]
    pub fn update(&mut self, size: Num, price: Num) -> Result<(Num, Num, Num, Num), CoreError> {
        // A float position filled at a float price (the usual case): every operation below
        // has a float operand, so Python converts an int `size` to float first and computes
        // in floats; only `opened`/`closed` keep the type of `size` (or are the int 0).
        if let (Num::Float(old), Num::Float(avg), Num::Float(p)) = (self.size, self.price, price) {
            let (opened, closed) = self.update_float(old, avg, size, p);
            return Ok((self.size, self.price, opened, closed));
        }
        self.update_general(size, price)
    }

    /// [`Position::update`] of a float position (`size` `old`, price `avg`) at the float price
    /// `price`: the same branches, each float operation as Python's (an int `size` converted
    /// correctly rounded, as `int + float` does; the conversion keeps its sign, so the
    /// comparisons of `size` with 0 are those of the int).
    #[inline(always)]
    fn update_float(&mut self, old: f64, avg: f64, size: Num, price: f64) -> (Num, Num) {
        match self.update_floats(old, avg, size.to_f64(), price) {
            Moved::Closed => (ZERO, size),
            Moved::Opened => (size, ZERO),
            Moved::Reversed { opened, closed } => (Num::Float(opened), Num::Float(closed)),
        }
    }

    /// The float part of [`Position::update`]: `size` is the float of the update's size (as
    /// Python converts it), the result says what `opened, closed` are.
    #[inline(always)]
    #[allow(
        clippy::float_cmp,
        reason = "Python's truth value and comparisons of floats, exactly"
    )]
    pub fn update_floats(&mut self, old: f64, avg: f64, s: f64, price: f64) -> Moved {
        // self.size += size
        let new = old + s;
        self.size = Num::Float(new);
        if new == 0.0 {
            // not self.size: opened, closed = 0, size; self.price = 0.0
            self.price = FZERO;
            Moved::Closed
        } else if old == 0.0 {
            // not oldsize: opened, closed = size, 0; self.price = price
            self.price = Num::Float(price);
            Moved::Opened
        } else if old > 0.0 {
            if s > 0.0 {
                // opened, closed = size, 0
                // self.price = (self.price * oldsize + size * price) / self.size
                self.price = Num::Float((avg * old + s * price) / new);
                Moved::Opened
            } else if new > 0.0 {
                // opened, closed = 0, size
                Moved::Closed
            } else {
                // opened, closed = self.size, -oldsize; self.price = price
                self.price = Num::Float(price);
                Moved::Reversed {
                    opened: new,
                    closed: -old,
                }
            }
        } else if s < 0.0 {
            // opened, closed = size, 0
            // self.price = (self.price * oldsize + size * price) / self.size
            self.price = Num::Float((avg * old + s * price) / new);
            Moved::Opened
        } else if new < 0.0 {
            // opened, closed = 0, size
            Moved::Closed
        } else {
            // opened, closed = self.size, -oldsize; self.price = price
            self.price = Num::Float(price);
            Moved::Reversed {
                opened: new,
                closed: -old,
            }
        }
    }

    /// [`Position::update`] for any operand types.
    #[inline(always)]
    fn update_general(&mut self, size: Num, price: Num) -> Result<(Num, Num, Num, Num), CoreError> {
        let oldsize = self.size;
        self.size = self.size.plus(size)?;
        let opened;
        let closed;
        if !self.size.truthy() {
            (opened, closed) = (ZERO, size);
            self.price = FZERO;
        } else if !oldsize.truthy() {
            (opened, closed) = (size, ZERO);
            self.price = price;
        } else if oldsize.gt(ZERO) {
            if size.gt(ZERO) {
                (opened, closed) = (size, ZERO);
                self.price = self
                    .price
                    .times(oldsize)?
                    .plus(size.times(price)?)?
                    .over(self.size)?;
            } else if self.size.gt(ZERO) {
                (opened, closed) = (ZERO, size);
            } else {
                (opened, closed) = (self.size, oldsize.negated()?);
                self.price = price;
            }
        } else if size.lt(ZERO) {
            (opened, closed) = (size, ZERO);
            self.price = self
                .price
                .times(oldsize)?
                .plus(size.times(price)?)?
                .over(self.size)?;
        } else if self.size.lt(ZERO) {
            (opened, closed) = (ZERO, size);
        } else {
            (opened, closed) = (self.size, oldsize.negated()?);
            self.price = price;
        }
        Ok((self.size, self.price, opened, closed))
    }
}

/// What an update of a float position did ([`Position::update_floats`]): the `opened, closed`
/// of `Position.update`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Moved {
    /// `0, size`: the size reduced or closed the position.
    Closed,
    /// `size, 0`: the size opened or increased the position.
    Opened,
    /// `self.size, -oldsize` (both floats): the size reversed the position.
    Reversed { opened: f64, closed: f64 },
}

impl Moved {
    /// `opened, closed` of an update by `size` (`s` its float, as [`Num::small_f64`]): as
    /// `Position.update` returns them, as floats, and `-closed` as a float (`-0` is `0` for an
    /// int, `-0.0` for a float).
    #[inline(always)]
    #[must_use]
    pub fn sizes(self, size: Num, s: f64) -> (Num, Num, f64, f64, f64) {
        match self {
            Moved::Closed => {
                let neg = if size.is_int() { -s + 0.0 } else { -s };
                (ZERO, size, 0.0, s, neg)
            }
            Moved::Opened => (size, ZERO, s, 0.0, 0.0),
            Moved::Reversed { opened, closed } => (
                Num::Float(opened),
                Num::Float(closed),
                opened,
                closed,
                -closed,
            ),
        }
    }
}

/// Datas below this index find their slot in a table; others in a hash map.
const DENSE_DATAS: usize = 1 << 12;

/// A Python `dict` keyed by data: insertion-ordered (replacing a value keeps its place).
#[derive(Clone, Debug)]
pub(crate) struct DataMap<T> {
    entries: Vec<(usize, T)>,
    /// `slot + 1` of a data below [`DENSE_DATAS`] (`0`: no entry). Positions are created in
    /// the order of the first fills, not of the datas: a data's slot is rarely its index, and
    /// hashing the data at every fill was a measurable cost.
    dense: Vec<u32>,
    /// The slots of the datas from [`DENSE_DATAS`] on.
    slots: FastMap<usize, usize>,
}

impl<T> Default for DataMap<T> {
    fn default() -> Self {
        DataMap {
            entries: Vec::new(),
            dense: Vec::new(),
            slots: FastMap::default(),
        }
    }
}

impl<T> DataMap<T> {
    /// The slot of `data`'s entry, if it has one.
    #[inline(always)]
    fn slot(&self, data: usize) -> Option<usize> {
        if data < DENSE_DATAS {
            match self.dense.get(data) {
                Some(&s) if s != 0 => Some(s as usize - 1),
                _ => None,
            }
        } else {
            self.slots.get(&data).copied()
        }
    }

    /// Record that `data`'s entry is the last one.
    fn index_last(&mut self, data: usize) {
        let slot = self.entries.len() - 1;
        if data < DENSE_DATAS {
            if self.dense.len() <= data {
                self.dense.resize(data + 1, 0);
            }
            // (fewer than 2^32 entries: one per data, and datas below DENSE_DATAS are few)
            self.dense[data] = u32::try_from(slot + 1).unwrap_or(u32::MAX);
        } else {
            self.slots.insert(data, slot);
        }
    }

    /// The value of `data`, if it has an entry.
    #[must_use]
    #[inline]
    pub fn get(&self, data: usize) -> Option<&T> {
        self.slot(data).map(|slot| &self.entries[slot].1)
    }

    /// The slot and value of `data`, if it has an entry.
    #[must_use]
    #[inline(always)]
    pub fn get_slot(&self, data: usize) -> Option<(usize, &T)> {
        self.slot(data).map(|slot| (slot, &self.entries[slot].1))
    }

    /// `data in map`.
    #[must_use]
    pub fn contains(&self, data: usize) -> bool {
        self.slot(data).is_some()
    }

    /// `map[data] = value` (a new entry goes last, an existing one keeps its place).
    pub fn insert(&mut self, data: usize, value: T) {
        match self.slot(data) {
            Some(slot) => self.entries[slot].1 = value,
            None => {
                self.entries.push((data, value));
                self.index_last(data);
            }
        }
    }

    /// Add an entry (restoring a snapshot); `false` if `data` already has one.
    pub fn insert_new(&mut self, data: usize, value: T) -> bool {
        if self.contains(data) {
            return false;
        }
        self.insert(data, value);
        true
    }

    /// The entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &(usize, T)> {
        self.entries.iter()
    }

    /// The keys in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = usize> + '_ {
        self.entries.iter().map(|(d, _)| *d)
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry at `slot` (insertion order).
    #[must_use]
    pub fn at(&self, slot: usize) -> (usize, &T) {
        let (data, value) = &self.entries[slot];
        (*data, value)
    }

    /// The value at `slot`, mutable.
    pub fn at_mut(&mut self, slot: usize) -> &mut T {
        &mut self.entries[slot].1
    }
}

impl<T: Default> DataMap<T> {
    /// `map.setdefault(data, T())`; returns the slot and whether it was created.
    #[inline(always)]
    pub fn setdefault_slot(&mut self, data: usize) -> (usize, bool) {
        match self.slot(data) {
            Some(slot) => (slot, false),
            None => (self.add_default(data), true),
        }
    }

    /// A new entry for `data` (out of line: once per data).
    #[inline(never)]
    fn add_default(&mut self, data: usize) -> usize {
        self.entries.push((data, T::default()));
        self.index_last(data);
        self.entries.len() - 1
    }

    /// `map.setdefault(data, T())`.
    pub fn setdefault(&mut self, data: usize) -> &mut T {
        let (slot, _) = self.setdefault_slot(data);
        &mut self.entries[slot].1
    }
}

/// The positions by data, in the order their entries were created.
pub(crate) type Positions = DataMap<Position>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::same_or_both_nan;

    fn i(v: i128) -> Num {
        Num::int(v)
    }

    fn f(v: f64) -> Num {
        Num::Float(v)
    }

    #[test]
    fn update_opens_adds_reduces_reverses_and_closes() {
        // Reference: bt_cracktrader.core.pycore._Position, step by step.
        let mut p = Position::default();
        assert_eq!(
            p.update(i(10), f(100.5)).unwrap(),
            (i(10), f(100.5), i(10), i(0))
        );
        // (100.5 * 10 + 5 * 101.25) / 15
        assert_eq!(
            p.update(i(5), f(101.25)).unwrap(),
            (i(15), f(100.75), i(5), i(0))
        );
        assert_eq!(
            p.update(i(-4), f(99.0)).unwrap(),
            (i(11), f(100.75), i(0), i(-4))
        );
        // reversal: opened is the new size, closed the old size negated
        assert_eq!(
            p.update(f(-12.5), f(98.0)).unwrap(),
            (f(-1.5), f(98.0), f(-1.5), i(-11))
        );
        assert_eq!(
            p.update(f(1.5), f(97.0)).unwrap(),
            (f(0.0), f(0.0), i(0), f(1.5))
        );
        assert_eq!(
            p,
            Position {
                size: f(0.0),
                price: f(0.0),
                adjbase: None,
                dt: f(0.0),
                day: 0,
            }
        );
    }

    /// Numbers of the fast and the general path, pairwise [`same_or_both_nan`].
    fn same_nums(a: &[Num], b: &[Num]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| same_or_both_nan(x, y))
    }

    /// Positions of the fast and the general path, field by field [`same_or_both_nan`].
    fn same_position(a: &Position, b: &Position) -> bool {
        let adjbase = match (a.adjbase, b.adjbase) {
            (Some(x), Some(y)) => same_or_both_nan(x, y),
            (x, y) => x.is_none() && y.is_none(),
        };
        same_nums(&[a.size, a.price, a.dt], &[b.size, b.price, b.dt]) && adjbase && a.day == b.day
    }

    #[test]
    fn the_float_update_is_the_general_one() {
        let nums = crate::num::edge_nums();
        let floats: Vec<Num> = nums.iter().copied().filter(|n| !n.is_int()).collect();
        for &old in &floats {
            for &avg in &floats {
                for &size in &nums {
                    for &price in &floats {
                        let start = Position::new(old, avg);
                        let mut fast = start;
                        let mut general = start;
                        let a = fast.update(size, price).unwrap();
                        let b = general.update_general(size, price).unwrap();
                        let what = format!("{old} {avg} + {size} at {price}");
                        assert!(
                            same_nums(&[a.0, a.1, a.2, a.3], &[b.0, b.1, b.2, b.3]),
                            "{what}"
                        );
                        assert!(same_position(&fast, &general), "{what}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_float_sizes_of_an_update_are_those_of_the_general_one() {
        let nums = crate::num::edge_nums();
        let floats: Vec<f64> = nums
            .iter()
            .filter_map(|n| n.small_f64().filter(|_| !n.is_int()))
            .collect();
        for &old in &floats {
            for &size in &nums {
                let Some(s) = size.small_f64() else {
                    continue;
                };
                for &price in &floats {
                    let start = Position::new(Num::Float(old), Num::Float(2.5));
                    let mut general = start;
                    let (psize, _, opened, closed) =
                        general.update_general(size, Num::Float(price)).unwrap();
                    let mut fast = start;
                    let moved = fast.update_floats(old, 2.5, s, price);
                    let (o, c, fo, fc, neg) = moved.sizes(size, s);
                    let what = format!("{old} + {size} at {price}");
                    assert!(same_position(&fast, &general), "{what}");
                    let negated = closed.negated().unwrap().to_f64();
                    let got = [o, c, Num::Float(fo), Num::Float(fc), Num::Float(neg)];
                    let want = [
                        opened,
                        closed,
                        Num::Float(opened.to_f64()),
                        Num::Float(closed.to_f64()),
                        Num::Float(negated),
                    ];
                    assert!(same_nums(&got, &want), "{what}");
                    assert!(same_or_both_nan(Num::Float(old + s), psize), "{what}");
                }
            }
        }
    }

    #[test]
    fn fresh_clone_drops_price_of_flat_and_adjbase() {
        let p = Position {
            size: i(0),
            price: f(3.0),
            adjbase: Some(f(2.0)),
            dt: f(5.0),
            day: 5,
        };
        assert_eq!(p.fresh_clone(), Position::new(i(0), f(0.0)));
        assert_eq!(p.fresh_clone().price, f(0.0));
        let q = Position {
            size: i(2),
            price: f(3.0),
            adjbase: Some(f(2.0)),
            dt: f(5.0),
            day: 5,
        };
        assert_eq!(
            q.fresh_clone(),
            Position {
                size: i(2),
                price: f(3.0),
                adjbase: None,
                dt: f(0.0),
                day: 0,
            }
        );
    }

    #[test]
    fn book_keeps_creation_order() {
        let mut book = Positions::default();
        book.setdefault(3).size = i(1);
        book.setdefault(0);
        book.setdefault(3).size = i(2);
        let order: Vec<usize> = book.keys().collect();
        assert_eq!(order, vec![3, 0]);
        assert_eq!(book.get(3).unwrap().size, i(2));
        assert!(book.get(1).is_none());
        assert!(!book.insert_new(0, Position::default()));
        // datas 0 and 1 away from the slots of their own indexes: found through the map
        book.setdefault(1).size = i(4);
        assert_eq!(book.setdefault_slot(1), (2, false));
        assert_eq!(book.setdefault_slot(0), (1, false));
        assert_eq!(book.get(1).unwrap().size, i(4));
        assert!(book.contains(3) && !book.contains(2));
        // a data beyond the table: through the map, in its place in the creation order
        book.setdefault(DENSE_DATAS + 7).size = i(9);
        assert_eq!(book.setdefault_slot(DENSE_DATAS + 7), (3, false));
        assert!(!book.contains(DENSE_DATAS) && book.contains(DENSE_DATAS + 7));
        assert_eq!(
            book.keys().collect::<Vec<_>>(),
            vec![3, 0, 1, DENSE_DATAS + 7]
        );
    }
}
