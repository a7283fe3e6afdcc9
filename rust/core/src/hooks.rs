//! User code the core calls back: a volume filler (`FILLER_CALLBACK`) and a user's CommInfo
//! overrides (the `overrides` bits of `EV_DATA`). The core only knows this trait; the Python
//! bindings implement it with the Python callables given to `step`/`value_of`.

use crate::num::Num;
use crate::value::Value;

/// One argument of a CommInfo callback.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HookArg {
    /// A number (`int` or `float`).
    Num(Num),
    /// A `bool` (`pseudoexec` of `_getcommission`).
    Bool(bool),
    /// `None` (the adjustment base of a position that never had one).
    None,
}

/// The user callable raised; the implementation of [`Hooks`] keeps the exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookFailed;

/// The callables of one call (`step(..., filler, comm)`, `value_of(..., comm)`).
pub trait Hooks {
    /// A filler callable was given.
    fn has_filler(&self) -> bool;
    /// A CommInfo callable was given.
    fn has_comm(&self) -> bool;
    /// `filler(ref, price, ago)`: the object it returned, classified.
    fn filler(&mut self, oref: u64, price: Num, ago: i32) -> Result<Value, HookFailed>;
    /// `comm(data, method, *args)`: the object it returned, classified.
    fn comm(
        &mut self,
        data: usize,
        method: &'static str,
        args: &[HookArg],
    ) -> Result<Value, HookFailed>;
}

/// No callable at all.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {
    fn has_filler(&self) -> bool {
        false
    }

    fn has_comm(&self) -> bool {
        false
    }

    fn filler(&mut self, _oref: u64, _price: Num, _ago: i32) -> Result<Value, HookFailed> {
        Err(HookFailed)
    }

    fn comm(
        &mut self,
        _data: usize,
        _method: &'static str,
        _args: &[HookArg],
    ) -> Result<Value, HookFailed> {
        Err(HookFailed)
    }
}
