//! `Num`: a Python number (`int` or `float`) with Python's arithmetic.
//!
//! The Python core never converts its numbers: an `int` size stays an `int`, a `float` price
//! stays a `float`, and `int op float` converts the `int` to `float` first. `Num` reproduces
//! exactly that, so every result has the same type and the same bits as in Python:
//!
//! * `int op int` (`+`, `-`, `*`) is exact integer arithmetic (128 bits here; a result beyond
//!   that range is an error instead of Python's unbounded `int`).
//! * any operation with a `float` converts the `int` operand (correctly rounded, as
//!   `PyLong_AsDouble`) and performs one IEEE operation.
//! * `/` is true division: always a `float`, correctly rounded also for `int / int`, and a
//!   zero divisor is an error (`ZeroDivisionError`), not an infinity.
//! * comparisons between `int` and `float` are exact (no conversion), as in Python.

use std::cmp::Ordering;
use std::fmt;

use crate::error::{CoreError, ZeroDivision};

/// A Python number: `int` or `float`.
///
/// `==` (`PartialEq`) is *identity of the Python value*: same type and, for floats, same bits
/// (`0.0 != -0.0`, `1 != 1.0`, a NaN equals the same NaN). Python's numeric comparisons are
/// [`Num::py_cmp`], [`Num::gt`], [`Num::lt`], ...
///
/// 24 bytes: the `int` is an [`Int`] (an `i128` at 8-byte alignment), so a `Num` does not
/// carry the 16-byte alignment of `i128` into every order, event and record.
#[derive(Clone, Copy, Debug)]
pub enum Num {
    /// A Python `int` (build one with [`Num::int`], read it with [`Int::get`]).
    Int(Int),
    /// A Python `float`.
    Float(f64),
}

const _: () = assert!(size_of::<Num>() == 24 && align_of::<Num>() == 8);
const _: () = assert!(size_of::<Option<Num>>() == 24);

/// The `i128` of a [`Num::Int`], stored at 8-byte alignment (two 8-byte words): read and
/// written by value only, with [`Int::get`] and [`Int::new`] (or `From`/`Into`).
#[derive(Clone, Copy)]
#[repr(Rust, packed(8))]
pub struct Int(i128);

impl Int {
    /// The integer `v`.
    #[must_use]
    #[inline(always)]
    pub const fn new(v: i128) -> Self {
        Int(v)
    }

    /// The integer.
    #[must_use]
    #[inline(always)]
    pub const fn get(self) -> i128 {
        // (a by-value read of the packed field: a copy, never a misaligned reference)
        self.0
    }
}

impl From<i128> for Int {
    #[inline(always)]
    fn from(v: i128) -> Self {
        Int(v)
    }
}

impl From<Int> for i128 {
    #[inline(always)]
    fn from(v: Int) -> Self {
        v.get()
    }
}

impl PartialEq for Int {
    #[inline(always)]
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for Int {}

impl fmt::Debug for Int {
    /// As the `i128` (`Num::Int(5)` prints `Int(5)`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.get(), f)
    }
}

impl fmt::Display for Int {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.get(), f)
    }
}

/// A `Num` unpacked for matching: the `int` as a plain `i128`.
#[derive(Clone, Copy)]
enum V {
    I(i128),
    F(f64),
}

impl V {
    /// [`Num::to_f64`].
    #[inline(always)]
    fn to_f64(self) -> f64 {
        match self {
            // i128 -> f64 rounds to nearest, ties to even: `PyLong_AsDouble`. Through i64 when
            // it fits: the same rounding, one instruction instead of a software routine.
            // (the fit test as "the high word is the sign of the low one": fewer instructions
            // than `i64::try_from`'s range check)
            V::I(v) => {
                let (low, high) = (v as i64, (v >> 64) as i64);
                if high == low >> 63 {
                    low as f64
                } else {
                    v as f64
                }
            }
            V::F(v) => v,
        }
    }
}

/// The integer zero (`0`).
pub const ZERO: Num = Num::int(0);
/// The float zero (`0.0`).
pub const FZERO: Num = Num::Float(0.0);

impl PartialEq for Num {
    fn eq(&self, other: &Self) -> bool {
        match (self.v(), other.v()) {
            (V::I(a), V::I(b)) => a == b,
            (V::F(a), V::F(b)) => a.to_bits() == b.to_bits(),
            _ => false,
        }
    }
}

impl Eq for Num {}

impl From<f64> for Num {
    fn from(v: f64) -> Self {
        Num::Float(v)
    }
}

impl From<i64> for Num {
    fn from(v: i64) -> Self {
        Num::int(i128::from(v))
    }
}

impl From<i32> for Num {
    fn from(v: i32) -> Self {
        Num::int(i128::from(v))
    }
}

impl From<bool> for Num {
    /// Python's `bool` in arithmetic: `True` is `1`, `False` is `0`.
    fn from(v: bool) -> Self {
        Num::int(i128::from(v))
    }
}

impl fmt::Display for Num {
    /// Python's `repr` (up to the exponent format of very large or small floats).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.v() {
            V::I(v) => write!(f, "{v}"),
            V::F(v) if v.is_nan() => f.write_str("nan"),
            V::F(v) if v.is_infinite() => f.write_str(if v > 0.0 { "inf" } else { "-inf" }),
            V::F(v) => write!(f, "{v:?}"),
        }
    }
}

#[cold]
#[inline(never)]
fn overflow() -> CoreError {
    CoreError::IntOverflow
}

/// The `ZeroDivisionError` of `dividend / divisor` (`//` when `floor`), out of the hot path.
#[cold]
#[inline(never)]
fn zero_division(dividend: Num, divisor: Num, floor: bool) -> CoreError {
    CoreError::ZeroDivision(Box::new(ZeroDivision {
        dividend,
        divisor,
        floor,
    }))
}

impl Num {
    /// The Python `int` `v`.
    #[must_use]
    #[inline(always)]
    pub const fn int(v: i128) -> Num {
        Num::Int(Int::new(v))
    }

    /// The value of a Python `int`, `None` for a `float`.
    #[must_use]
    #[inline(always)]
    pub const fn as_int(self) -> Option<i128> {
        match self {
            Num::Int(v) => Some(v.get()),
            Num::Float(_) => None,
        }
    }

    /// Unpacked for matching.
    #[inline(always)]
    const fn v(self) -> V {
        match self {
            Num::Int(v) => V::I(v.get()),
            Num::Float(v) => V::F(v),
        }
    }

    /// `True` for a Python `int`.
    #[must_use]
    #[inline]
    pub fn is_int(self) -> bool {
        matches!(self, Num::Int(_))
    }

    /// `float(self)`: an `int` converted with correct rounding (ties to even), as Python does.
    #[must_use]
    #[inline(always)]
    pub fn to_f64(self) -> f64 {
        self.v().to_f64()
    }

    /// The float an operation with a float operand computes with (Python converts an `int`
    /// first), when that conversion is exact and `abs`/`-` of the `int` cannot overflow: a
    /// `float`, or an `int` within 2**53. `None` for other ints (the general path's).
    #[must_use]
    #[inline(always)]
    pub fn small_f64(self) -> Option<f64> {
        match self {
            Num::Float(v) => Some(v),
            Num::Int(v) => {
                let v = v.get();
                // (through i64: a single instruction; i128 -> f64 is a software routine)
                is_small(v).then_some(v as i64 as f64)
            }
        }
    }

    /// Python's truth value (`bool(x)`): non-zero; a NaN is true.
    #[must_use]
    #[inline(always)]
    pub fn truthy(self) -> bool {
        match self.v() {
            V::I(v) => v != 0,
            V::F(v) => v != 0.0,
        }
    }

    /// `x or other`: `x` when it is true, else `other`.
    #[must_use]
    #[inline(always)]
    pub fn or(self, other: Num) -> Num {
        if self.truthy() {
            self
        } else {
            other
        }
    }

    /// `a + b`.
    #[inline(always)]
    pub fn plus(self, other: Num) -> Result<Num, CoreError> {
        match (self.v(), other.v()) {
            (V::I(a), V::I(b)) => a.checked_add(b).map(Num::int).ok_or_else(overflow),
            (a, b) => Ok(Num::Float(a.to_f64() + b.to_f64())),
        }
    }

    /// `a - b`.
    #[inline(always)]
    pub fn minus(self, other: Num) -> Result<Num, CoreError> {
        match (self.v(), other.v()) {
            (V::I(a), V::I(b)) => a.checked_sub(b).map(Num::int).ok_or_else(overflow),
            (a, b) => Ok(Num::Float(a.to_f64() - b.to_f64())),
        }
    }

    /// `a * b`.
    #[inline(always)]
    pub fn times(self, other: Num) -> Result<Num, CoreError> {
        match (self.v(), other.v()) {
            (V::I(a), V::I(b)) => a.checked_mul(b).map(Num::int).ok_or_else(overflow),
            (a, b) => Ok(Num::Float(a.to_f64() * b.to_f64())),
        }
    }

    /// `a / b` (true division): a `float`; a zero divisor raises `ZeroDivisionError`.
    #[inline(always)]
    pub fn over(self, other: Num) -> Result<Num, CoreError> {
        match (self.v(), other.v()) {
            (V::F(a), V::F(b)) if b != 0.0 => Ok(Num::Float(a / b)),
            (V::I(a), V::I(b)) if b != 0 => Ok(Num::Float(int_truediv(a, b))),
            (V::I(_), V::I(_)) => Err(zero_division(self, other, false)),
            (a, b) => {
                let divisor = b.to_f64();
                if divisor == 0.0 {
                    return Err(zero_division(self, other, false));
                }
                Ok(Num::Float(a.to_f64() / divisor))
            }
        }
    }

    /// `a // b` (floor division): an `int` for two ints, else CPython's `float_floor_div`
    /// (`_float_div_mod`) on the operands converted to `float`; a zero divisor raises
    /// `ZeroDivisionError`.
    pub fn floordiv(self, other: Num) -> Result<Num, CoreError> {
        match (self.v(), other.v()) {
            (V::I(_), V::I(0)) => Err(zero_division(self, other, true)),
            (V::I(a), V::I(b)) => {
                let q = a.checked_div(b).ok_or_else(overflow)?;
                // `a % b` cannot overflow once `a / b` did not
                if a % b != 0 && ((a < 0) != (b < 0)) {
                    Ok(Num::int(q - 1))
                } else {
                    Ok(Num::int(q))
                }
            }
            (a, b) => {
                let (vx, wx) = (a.to_f64(), b.to_f64());
                if wx == 0.0 {
                    return Err(zero_division(self, other, true));
                }
                Ok(Num::Float(float_floor_div(vx, wx)))
            }
        }
    }

    /// `-x` (`-0` is `0` for an `int`, `-0.0` for a `float`).
    #[inline(always)]
    pub fn negated(self) -> Result<Num, CoreError> {
        match self.v() {
            V::I(v) => v.checked_neg().map(Num::int).ok_or_else(overflow),
            V::F(v) => Ok(Num::Float(-v)),
        }
    }

    /// `abs(x)` (`abs(-0.0)` is `0.0`).
    #[inline(always)]
    pub fn absolute(self) -> Result<Num, CoreError> {
        match self.v() {
            V::I(v) => v.checked_abs().map(Num::int).ok_or_else(overflow),
            V::F(v) => Ok(Num::Float(v.abs())),
        }
    }

    /// Python's comparison: exact also between an `int` and a `float`; `None` when a NaN is
    /// involved (every ordering comparison is then false).
    #[must_use]
    #[inline]
    pub fn py_cmp(self, other: Num) -> Option<Ordering> {
        match (self.v(), other.v()) {
            (V::I(a), V::I(b)) => Some(a.cmp(&b)),
            (V::F(a), V::F(b)) => a.partial_cmp(&b),
            (V::I(a), V::F(b)) => cmp_int_float(a, b),
            (V::F(a), V::I(b)) => cmp_int_float(b, a).map(Ordering::reverse),
        }
    }

    /// `a > b`.
    #[must_use]
    #[inline(always)]
    pub fn gt(self, other: Num) -> bool {
        // (same-type operands and floats with ints within 2**53 compare directly as floats,
        // exactly; a NaN makes every comparison false)
        match (self.v(), other.v()) {
            (V::F(a), V::F(b)) => a > b,
            (V::I(a), V::I(b)) => a > b,
            (V::F(a), V::I(b)) if is_small(b) => a > b as i64 as f64,
            (V::I(a), V::F(b)) if is_small(a) => (a as i64 as f64) > b,
            _ => self.py_cmp(other) == Some(Ordering::Greater),
        }
    }

    /// `a >= b`.
    #[must_use]
    #[inline(always)]
    pub fn ge(self, other: Num) -> bool {
        // (same-type operands and floats with ints within 2**53 compare directly as floats,
        // exactly; a NaN makes every comparison false)
        match (self.v(), other.v()) {
            (V::F(a), V::F(b)) => a >= b,
            (V::I(a), V::I(b)) => a >= b,
            (V::F(a), V::I(b)) if is_small(b) => a >= b as i64 as f64,
            (V::I(a), V::F(b)) if is_small(a) => (a as i64 as f64) >= b,
            _ => {
                matches!(
                    self.py_cmp(other),
                    Some(Ordering::Greater | Ordering::Equal)
                )
            }
        }
    }

    /// `a < b`.
    #[must_use]
    #[inline(always)]
    pub fn lt(self, other: Num) -> bool {
        // (same-type operands and floats with ints within 2**53 compare directly as floats,
        // exactly; a NaN makes every comparison false)
        match (self.v(), other.v()) {
            (V::F(a), V::F(b)) => a < b,
            (V::I(a), V::I(b)) => a < b,
            (V::F(a), V::I(b)) if is_small(b) => a < b as i64 as f64,
            (V::I(a), V::F(b)) if is_small(a) => (a as i64 as f64) < b,
            _ => self.py_cmp(other) == Some(Ordering::Less),
        }
    }

    /// `a <= b`.
    #[must_use]
    #[inline(always)]
    pub fn le(self, other: Num) -> bool {
        // (same-type operands and floats with ints within 2**53 compare directly as floats,
        // exactly; a NaN makes every comparison false)
        match (self.v(), other.v()) {
            (V::F(a), V::F(b)) => a <= b,
            (V::I(a), V::I(b)) => a <= b,
            (V::F(a), V::I(b)) if is_small(b) => a <= b as i64 as f64,
            (V::I(a), V::F(b)) if is_small(a) => (a as i64 as f64) <= b,
            _ => {
                matches!(self.py_cmp(other), Some(Ordering::Less | Ordering::Equal))
            }
        }
    }

    /// `a == b` in Python (numeric equality: `1 == 1.0`, `0.0 == -0.0`).
    #[must_use]
    #[inline]
    pub fn py_eq(self, other: Num) -> bool {
        self.py_cmp(other) == Some(Ordering::Equal)
    }
}

/// `min(items)`: the first of the minimal items (an item replaces the current minimum only
/// when it is strictly smaller, so a NaN first stays), keeping its type.
#[must_use]
pub fn py_min(items: &[Num]) -> Num {
    let mut best = items[0];
    for &item in &items[1..] {
        if item.lt(best) {
            best = item;
        }
    }
    best
}

/// CPython's `_float_div_mod(vx, wx)` floor quotient (`wx != 0`).
#[allow(
    clippy::float_cmp,
    reason = "a literal port of CPython's float floor division"
)]
fn float_floor_div(vx: f64, wx: f64) -> f64 {
    // Rust's `%` on floats is C's `fmod`.
    // (the remainder itself is not needed: only its sign adjusts the quotient)
    let modulo = vx % wx;
    let mut div = (vx - modulo) / wx;
    if modulo != 0.0 && (wx < 0.0) != (modulo < 0.0) {
        div -= 1.0;
    }
    if div != 0.0 {
        let mut floordiv = div.floor();
        if div - floordiv > 0.5 {
            floordiv += 1.0;
        }
        floordiv
    } else {
        0.0_f64.copysign(vx / wx)
    }
}

/// An int within 2**53: exactly a float, so one float comparison with it is exact.
#[inline(always)]
fn is_small(i: i128) -> bool {
    (-(1_i128 << 53)..=1 << 53).contains(&i)
}

/// 2**127 as a float (exact).
const TWO_POW_127: f64 = f64::from_bits(0x47E0_0000_0000_0000);

/// Exact comparison of an `int` with a `float`, as Python's `float_richcompare`.
#[inline]
fn cmp_int_float(i: i128, f: f64) -> Option<Ordering> {
    // An int within 2**53 is exactly a float: one float comparison is exact (NaN -> None).
    if is_small(i) {
        // (through i64: a single instruction; i128 -> f64 is a software routine)
        return (i as i64 as f64).partial_cmp(&f);
    }
    if f.is_nan() {
        return None;
    }
    if f.is_infinite() {
        return Some(if f > 0.0 {
            Ordering::Less
        } else {
            Ordering::Greater
        });
    }
    let t = f.trunc();
    if t >= TWO_POW_127 {
        return Some(Ordering::Less);
    }
    if t < -TWO_POW_127 {
        return Some(Ordering::Greater);
    }
    // `t` is integral and within the i128 range: the conversion is exact.
    let ti = t as i128;
    match i.cmp(&ti) {
        Ordering::Equal => 0.0_f64.partial_cmp(&(f - t)),
        unequal => Some(unequal),
    }
}

/// `a / b` for two ints, correctly rounded (round half to even) as Python's `long_true_divide`.
/// `b` must not be zero. Cannot overflow: `|a / b| <= 2**127`.
fn int_truediv(a: i128, b: i128) -> f64 {
    let negative = (a < 0) != (b < 0);
    let (n, d) = (a.unsigned_abs(), b.unsigned_abs());
    let magnitude = if n == 0 {
        0.0
    } else if n <= 1 << 53 && d <= 1 << 53 {
        // Both exactly representable: one IEEE division is correctly rounded.
        n as f64 / d as f64
    } else {
        // Long division until the quotient has at least 56 significant bits, then fold the
        // remainder into a sticky bit below the rounding bit and let the u128 -> f64
        // conversion round once.
        let mut q = n / d;
        let mut r = n % d;
        let mut shift: i32 = 0;
        while q < 1 << 55 {
            // r < d <= 2**127, so 2 * r fits.
            let r2 = r << 1;
            q <<= 1;
            if r2 >= d {
                q |= 1;
                r = r2 - d;
            } else {
                r = r2;
            }
            shift += 1;
        }
        if r != 0 {
            q |= 1;
        }
        // q as f64 rounds correctly; scaling by 2**-shift is exact (the result is normal:
        // it is at least 2**-127).
        let scale = f64::from_bits(((1023 - i64::from(shift)) as u64) << 52);
        q as f64 * scale
    };
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

#[cfg(test)]
/// Two numbers of a fast path and the general path: the same bits, or both float NaN. (A
/// NaN's sign and payload are nothing Python shows, and nothing the compiler keeps: a release
/// build folds constant operands, or swaps those of a sum, and the NaN it gives may differ.)
pub(crate) fn same_or_both_nan(a: Num, b: Num) -> bool {
    a == b || matches!((a, b), (Num::Float(x), Num::Float(y)) if x.is_nan() && y.is_nan())
}

#[cfg(test)]
/// Edge values for the fast paths: signed zeros, subnormals, infinities, NaN, huge and
/// small ints, ints beyond 2**53 and at the ends of the `i128` range.
pub(crate) fn edge_nums() -> Vec<Num> {
    let mut out = vec![
        Num::Float(0.0),
        Num::Float(-0.0),
        Num::Float(1.0),
        Num::Float(-1.0),
        Num::Float(2.5),
        Num::Float(-3.75),
        Num::Float(100.125),
        Num::Float(1e-310),
        Num::Float(-1e-310),
        Num::Float(f64::MIN_POSITIVE),
        Num::Float(f64::MAX),
        Num::Float(-f64::MAX),
        Num::Float(f64::INFINITY),
        Num::Float(f64::NEG_INFINITY),
        Num::Float(f64::NAN),
        Num::Float(-f64::NAN),
        Num::Float(0.1),
        Num::Float(9_007_199_254_740_994.0),
    ];
    for v in [
        0,
        1,
        -1,
        3,
        -7,
        1 << 53,
        (1 << 53) + 1,
        -(1 << 53) - 1,
        i128::from(i64::MAX),
        i128::from(i64::MIN),
        (1 << 100) + 12_345,
        i128::MAX,
        i128::MIN,
    ] {
        out.push(Num::int(v));
    }
    out
}

#[cfg(test)]
/// The floats of [`edge_nums`], and its numbers that a fast path takes as a size (with their
/// floats, [`Num::small_f64`]).
pub(crate) fn edge_floats_and_sizes() -> (Vec<f64>, Vec<(Num, f64)>) {
    let nums = edge_nums();
    let floats = nums
        .iter()
        .filter_map(|n| match n {
            Num::Float(v) => Some(*v),
            Num::Int(_) => None,
        })
        .collect();
    let sizes = nums
        .iter()
        .filter_map(|&n| n.small_f64().map(|v| (n, v)))
        .collect();
    (floats, sizes)
}

#[cfg(test)]
#[allow(
    clippy::float_cmp,
    reason = "exact float results are the point of these tests"
)]
mod tests {
    use super::*;

    fn f(v: f64) -> Num {
        Num::Float(v)
    }

    fn i(v: i128) -> Num {
        Num::int(v)
    }

    #[test]
    fn int_and_float_arithmetic_follow_python_types() {
        assert_eq!(i(2).plus(i(3)).unwrap(), i(5));
        assert_eq!(i(2).plus(f(0.5)).unwrap(), f(2.5));
        assert_eq!(i(2).times(f(1.5)).unwrap(), f(3.0));
        assert_eq!(i(7).over(i(2)).unwrap(), f(3.5));
        // -0 is 0 for an int, -0.0 for a float; a float plus int 0 is +0.0 (Python: -0.0 + 0)
        assert_eq!(i(0).negated().unwrap(), i(0));
        assert_eq!(f(0.0).negated().unwrap(), f(-0.0));
        assert_eq!(f(-0.0).plus(i(0)).unwrap(), f(0.0));
        // -1.5 * False == -0.0 in Python
        assert_eq!(f(-1.5).times(Num::from(false)).unwrap(), f(-0.0));
        assert_eq!(f(-0.0).absolute().unwrap(), f(0.0));
        // 0 / -5 == -0.0 in Python
        assert_eq!(i(0).over(i(-5)).unwrap(), f(-0.0));
    }

    #[test]
    fn division_by_zero_is_an_error() {
        assert!(matches!(
            f(1.0).over(f(0.0)),
            Err(CoreError::ZeroDivision(_))
        ));
        assert!(matches!(
            f(1.0).over(f(-0.0)),
            Err(CoreError::ZeroDivision(_))
        ));
        assert!(matches!(i(1).over(i(0)), Err(CoreError::ZeroDivision(_))));
        assert!(matches!(f(1.0).over(i(0)), Err(CoreError::ZeroDivision(_))));
    }

    #[test]
    fn int_true_division_is_correctly_rounded() {
        // Values from CPython 3.11: repr((2**60 + 1) / 3), repr(10**20 / 7), ...
        assert_eq!(int_truediv((1 << 60) + 1, 3), 3.843_071_682_022_823e17);
        assert_eq!(
            int_truediv(100_000_000_000_000_000_000, 7),
            1.428_571_428_571_428_7e19
        );
        assert_eq!(int_truediv(1, 3), 1.0 / 3.0);
        assert_eq!(int_truediv(-1, 3), -1.0 / 3.0);
        assert_eq!(int_truediv(1, i128::MAX), 5.877_471_754_111_438e-39);
        assert_eq!(int_truediv(i128::MIN, -1), TWO_POW_127);
        // (2**54 + 1) / 2 = 2**53 + 0.5: a tie, rounded to even (2**53)
        assert_eq!(int_truediv((1 << 54) + 1, 2), 9_007_199_254_740_992.0);
        // (2**54 + 3) / 2 = 2**53 + 1.5: a tie, rounded to even (2**53 + 2)
        assert_eq!(int_truediv((1 << 54) + 3, 2), 9_007_199_254_740_994.0);
        // (2**55 + 5) / 4 = 2**53 + 1.25: above the tie, rounded up (2**53 + 2)
        assert_eq!(int_truediv((1 << 55) + 5, 4), 9_007_199_254_740_994.0);
        // (2**55 + 3) / 4 = 2**53 + 0.75: below the tie, rounded down
        assert_eq!(int_truediv((1 << 55) + 3, 4), 9_007_199_254_740_992.0);
    }

    #[test]
    fn int_float_comparisons_are_exact() {
        let big = (1_i128 << 53) + 1;
        assert!(i(big).gt(f(9_007_199_254_740_992.0)));
        assert!(!i(big).py_eq(f(9_007_199_254_740_992.0)));
        assert!(i(1).lt(f(1.5)));
        assert!(i(2).gt(f(1.5)));
        assert!(i(-2).lt(f(-1.5)));
        assert!(i(1).py_eq(f(1.0)));
        assert!(i(0).py_eq(f(-0.0)));
        assert!(i(i128::MAX).lt(f(f64::INFINITY)));
        assert!(i(i128::MIN).gt(f(-1e300)));
        assert!(i(i128::MAX).lt(f(TWO_POW_127)));
        assert_eq!(i(1).py_cmp(f(f64::NAN)), None);
        assert!(!i(1).lt(f(f64::NAN)) && !i(1).ge(f(f64::NAN)));
    }

    #[test]
    fn comparison_fast_paths_agree_with_py_cmp() {
        let two53 = 1_i128 << 53;
        let nums = [
            i(0),
            i(1),
            i(-1),
            i(two53),
            i(two53 + 1),
            i(-two53 - 1),
            f(0.0),
            f(-0.0),
            f(1.0),
            f(0.5),
            f(9_007_199_254_740_992.0),
            f(-9_007_199_254_740_992.0),
            f(f64::NAN),
            f(f64::INFINITY),
        ];
        for &a in &nums {
            for &b in &nums {
                let c = a.py_cmp(b);
                assert_eq!(a.gt(b), c == Some(Ordering::Greater), "{a} > {b}");
                assert_eq!(a.lt(b), c == Some(Ordering::Less), "{a} < {b}");
                assert_eq!(
                    a.ge(b),
                    matches!(c, Some(Ordering::Greater | Ordering::Equal)),
                    "{a} >= {b}"
                );
                assert_eq!(
                    a.le(b),
                    matches!(c, Some(Ordering::Less | Ordering::Equal)),
                    "{a} <= {b}"
                );
            }
        }
        assert!(i(two53 + 1).gt(f(9_007_199_254_740_992.0)));
        assert!(f(-0.0).ge(i(0)) && f(-0.0).le(i(0)));
    }

    #[test]
    fn small_f64_is_the_conversion_of_python_within_2_53() {
        for n in edge_nums() {
            match (n, n.small_f64()) {
                (Num::Float(v), got) => assert_eq!(got.map(f64::to_bits), Some(v.to_bits())),
                (Num::Int(v), Some(got)) => {
                    assert!(is_small(v.get()), "{n}");
                    assert_eq!(got.to_bits(), n.to_f64().to_bits(), "{n}");
                    // the float of -x and abs(x) are those of the int's (-0 is 0)
                    let neg = n.negated().unwrap().to_f64();
                    assert_eq!((-got + 0.0).to_bits(), neg.to_bits(), "{n}");
                    let abs = n.absolute().unwrap().to_f64();
                    assert_eq!(got.abs().to_bits(), abs.to_bits(), "{n}");
                }
                (Num::Int(v), None) => assert!(!is_small(v.get()), "{n}"),
            }
        }
    }

    #[test]
    fn truthiness_and_or() {
        assert!(!i(0).truthy() && !f(-0.0).truthy());
        assert!(f(f64::NAN).truthy());
        assert_eq!(f(0.0).or(f(1.0)), f(1.0));
        assert_eq!(f(2.0).or(f(1.0)), f(2.0));
    }

    #[test]
    fn floor_division_follows_cpython() {
        // Values from CPython 3.11.
        assert_eq!(i(7).floordiv(i(2)).unwrap(), i(3));
        assert_eq!(i(-7).floordiv(i(2)).unwrap(), i(-4));
        assert_eq!(i(7).floordiv(i(-2)).unwrap(), i(-4));
        assert_eq!(i(-8).floordiv(i(2)).unwrap(), i(-4));
        assert_eq!(f(7.5).floordiv(i(2)).unwrap(), f(3.0));
        assert_eq!(f(-7.5).floordiv(f(2.0)).unwrap(), f(-4.0));
        assert_eq!(f(0.0).floordiv(f(-3.0)).unwrap(), f(-0.0));
        assert_eq!(f(-0.0).floordiv(f(3.0)).unwrap(), f(-0.0));
        assert_eq!(f(1.0).floordiv(f(0.1)).unwrap(), f(9.0));
        assert_eq!(i(1).floordiv(f(0.1)).unwrap(), f(9.0));
        assert_eq!(f(12345.0 * 3.7).floordiv(i(100)).unwrap(), f(456.0));
        assert!(matches!(f(f64::INFINITY).floordiv(f(2.0)).unwrap(), Num::Float(v) if v.is_nan()));
        assert!(matches!(
            f(1.0).floordiv(i(0)),
            Err(CoreError::ZeroDivision(z)) if z.floor
        ));
        assert!(matches!(
            i(1).floordiv(i(0)),
            Err(CoreError::ZeroDivision(z)) if z.floor
        ));
    }

    #[test]
    fn min_keeps_the_first_minimum_and_its_type() {
        assert_eq!(py_min(&[f(3.0), i(3), i(5)]), f(3.0));
        assert_eq!(py_min(&[i(3), f(3.0)]), i(3));
        assert_eq!(py_min(&[f(4.0), i(3)]), i(3));
        assert!(matches!(py_min(&[f(f64::NAN), i(3)]), Num::Float(v) if v.is_nan()));
        assert_eq!(py_min(&[i(3), f(f64::NAN)]), i(3));
    }

    #[test]
    fn int_overflow_is_an_error() {
        assert!(matches!(
            i(i128::MAX).plus(i(1)),
            Err(CoreError::IntOverflow)
        ));
        assert!(matches!(
            i(i128::MIN).absolute(),
            Err(CoreError::IntOverflow)
        ));
        assert!(matches!(
            i(1 << 100).times(i(1 << 100)),
            Err(CoreError::IntOverflow)
        ));
    }
}
