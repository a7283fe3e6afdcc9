//! `Group`: the short FIFO lists the core keeps per order (a bracket's orders under its parent
//! ref, the members of an OCO group). Almost every order is a group of one and a bracket a
//! group of three, so up to [`INLINE`] items live in place; a heap deque per order was a
//! measurable share of the core's time (one allocation and one free per order). A group is no
//! larger than the `VecDeque` it replaces plus a tag: the maps holding one entry per order
//! grow past the allocator's mmap threshold, and larger entries there cost page faults.

use std::collections::VecDeque;

use crate::hashing::FastMap;

/// Items held without a heap allocation.
const INLINE: usize = 3;

/// How many items a group holds in place (`0..=INLINE`): an enum, so that its unused values
/// tag the other variant of [`Group`] and a `Group` (and an `Option` of one) is no larger than
/// its inline form, 32 bytes for 8-byte items: the maps hold an entry per order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Len {
    L0 = 0,
    L1 = 1,
    L2 = 2,
    L3 = 3,
}

const _: () = assert!(INLINE == 3);

impl Len {
    #[inline(always)]
    fn get(self) -> usize {
        self as usize
    }

    /// One more (`self` below `INLINE`).
    #[inline(always)]
    fn up(self) -> Len {
        match self {
            Len::L0 => Len::L1,
            Len::L1 => Len::L2,
            Len::L2 | Len::L3 => Len::L3,
        }
    }

    /// One less (`self` above zero).
    #[inline(always)]
    fn down(self) -> Len {
        match self {
            Len::L0 | Len::L1 => Len::L0,
            Len::L2 => Len::L1,
            Len::L3 => Len::L2,
        }
    }
}

/// A FIFO (`collections.deque` / `list` in the Python core) of `Copy` items.
#[derive(Clone, Debug)]
pub(crate) enum Group<T: Copy + Default> {
    /// `items[head..head + len]`.
    Inline {
        head: u8,
        len: Len,
        items: [T; INLINE],
    },
    /// Every item, once more than fit in place were pushed (boxed: a spilled group is rare,
    /// and in place its deque would make every group larger).
    #[allow(
        clippy::box_collection,
        reason = "the box keeps the spilled form one word wide, so a group stays 32 bytes"
    )]
    Heap(Box<VecDeque<T>>),
}

const _: () = assert!(size_of::<Option<Group<u64>>>() == 32);
const _: () = assert!(size_of::<Option<Group<usize>>>() == 32);

impl<T: Copy + Default> Default for Group<T> {
    fn default() -> Self {
        Group::Inline {
            head: 0,
            len: Len::L0,
            items: [T::default(); INLINE],
        }
    }
}

impl<T: Copy + Default + PartialEq> Group<T> {
    /// `append(x)`.
    pub(crate) fn push_back(&mut self, item: T) {
        match self {
            Group::Heap(heap) => heap.push_back(item),
            Group::Inline { head, len, items } => {
                let end = usize::from(*head) + len.get();
                if end < INLINE {
                    items[end] = item;
                    *len = len.up();
                } else {
                    let mut heap = VecDeque::with_capacity(INLINE * 2);
                    heap.extend(items[usize::from(*head)..end].iter().copied());
                    heap.push_back(item);
                    *self = Group::Heap(Box::new(heap));
                }
            }
        }
    }

    /// `popleft()`.
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        match self {
            Group::Heap(heap) => heap.pop_front(),
            Group::Inline { len: Len::L0, .. } => None,
            Group::Inline { head, len, items } => {
                let item = items[usize::from(*head)];
                *head += 1;
                *len = len.down();
                Some(item)
            }
        }
    }

    /// The items, first to last, in two slices (the second is empty unless spilled to the
    /// heap): plain slice loops, where a chained iterator over both forms cost a lot per item.
    #[inline]
    pub(crate) fn as_slices(&self) -> (&[T], &[T]) {
        match self {
            Group::Inline { head, len, items } => {
                let head = usize::from(*head);
                (&items[head..head + len.get()], &[])
            }
            Group::Heap(heap) => heap.as_slices(),
        }
    }

    /// The items of a group held in place, copied (`None` once spilled to the heap).
    #[inline]
    pub(crate) fn inline_copy(&self) -> Option<impl Iterator<Item = T>> {
        match *self {
            Group::Inline { head, len, items } => {
                let head = usize::from(head);
                Some(items.into_iter().skip(head).take(len.get()))
            }
            Group::Heap(_) => None,
        }
    }

    /// The items, first to last.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        let (a, b) = self.as_slices();
        a.iter().chain(b)
    }

    /// Number of items.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        match self {
            Group::Inline { len, .. } => len.get(),
            Group::Heap(heap) => heap.len(),
        }
    }

    /// No items.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Item `k` (first is `0`).
    #[inline]
    pub(crate) fn get(&self, k: usize) -> Option<T> {
        match self {
            Group::Heap(heap) => heap.get(k).copied(),
            Group::Inline { .. } => self.as_slices().0.get(k).copied(),
        }
    }

    /// `x in group` (the OCO scan tests its group's slices itself).
    #[cfg(test)]
    pub(crate) fn contains(&self, item: &T) -> bool {
        let (a, b) = self.as_slices();
        a.contains(item) || b.contains(item)
    }

    /// Some item satisfies `f` (tried first to last, stopping at the first that does).
    #[inline]
    pub(crate) fn any(&self, mut f: impl FnMut(&T) -> bool) -> bool {
        let (a, b) = self.as_slices();
        a.iter().any(&mut f) || b.iter().any(f)
    }
}

impl<T: Copy + Default + PartialEq> FromIterator<T> for Group<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut group = Group::default();
        for item in iter {
            group.push_back(item);
        }
        group
    }
}

/// Refs up to this far beyond the dense part (above or below it) grow it; a ref further out
/// goes to the map.
const DENSE_SLACK: u64 = 1024;

/// Entries per chunk of the dense part (a chunk is 4 KiB).
const CHUNK: usize = 256;

/// At most this many refs are held densely.
const MAX_COVERED: u64 = 1 << 32;

/// Refs from here up never go to the dense part (its end must not overflow).
const DENSE_LIMIT: u64 = u64::MAX - (MAX_COVERED << 1);

/// `Slot::idx` of a ref whose entries all live in the map (`RefTable::sparse`).
const FULL: u32 = u32::MAX;

/// `Slot::pc`: no entry, an empty group; from `PC_ONE`, a group of one order (its index plus
/// `PC_ONE`); from `PC_SIDE`, a group in the side table (its place plus `PC_SIDE`).
const PC_EMPTY: u32 = 1;
const PC_ONE: u32 = 2;
const PC_SIDE: u32 = 1 << 31;

/// `Slot::ocol`: no entry, the group of the ref alone; from `OCOL_SIDE`, a group in the side
/// table (its place plus `OCOL_SIDE`).
const OCOL_SELF: u32 = 1;
const OCOL_SIDE: u32 = 2;

/// The four entries of one ref in the dense part, 16 bytes (zero: none), so that one cache line
/// serves every lookup of a ref and an order writes 16 bytes of them, not the 96 of four
/// separate maps. What does not fit (an order index or leader distance beyond 32 bits, a side
/// table beyond its range) moves the ref's entries to the map (`idx` is then `FULL`).
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    /// `orders[ref]`: the order index plus one (`0`: none).
    idx: u32,
    /// `ocos[ref]`: `ref - leader + 1` (`0`: none; the leader is never above the ref here).
    oco: u32,
    /// `pchildren[ref]` (see `PC_ONE`).
    pc: u32,
    /// `ocol[ref]` (see `OCOL_SELF`).
    ocol: u32,
}

/// The entries of a ref held in the map, in full.
#[derive(Clone, Debug, Default)]
struct Full {
    idx: Option<usize>,
    oco: Option<u64>,
    pc: Option<Group<usize>>,
    ocol: Option<Group<u64>>,
}

/// The groups of more than the common forms (a bracket, an OCO pair), by place; freed places
/// are reused.
#[derive(Clone, Debug)]
struct Side<T: Copy + Default> {
    groups: Vec<Group<T>>,
    free: Vec<u32>,
}

impl<T: Copy + Default> Default for Side<T> {
    fn default() -> Self {
        Side {
            groups: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T: Copy + Default> Side<T> {
    /// A place for `group`, if one below `limit` is free or can be added.
    fn alloc(&mut self, group: Group<T>, limit: u32) -> Option<u32> {
        if let Some(at) = self.free.pop() {
            self.groups[at as usize] = group;
            return Some(at);
        }
        let at = u32::try_from(self.groups.len())
            .ok()
            .filter(|&at| at < limit)?;
        self.groups.push(group);
        Some(at)
    }

    /// The group at `at`, its place freed.
    fn take(&mut self, at: u32) -> Group<T> {
        self.free.push(at);
        std::mem::take(&mut self.groups[at as usize])
    }

    #[inline]
    fn get(&self, at: u32) -> &Group<T> {
        &self.groups[at as usize]
    }

    #[inline]
    fn get_mut(&mut self, at: u32) -> &mut Group<T> {
        &mut self.groups[at as usize]
    }
}

/// The maps the core keeps by order reference, in one table: `self.orders` (the last order
/// created with a ref), `self.ocos` (OCO leader by ref), `self.ocol` (OCO members by leader) and
/// `self.pchildren` (bracket orders by parent ref) of the Python core.
///
/// Refs are a counter in practice (not necessarily from zero: Backtrader's counter is process
/// wide), so the dense part covers a range of refs from `base`, in fixed-size chunks: no
/// hashing, and growing (up, or down when a smaller ref comes) adds a chunk (no rehash, no copy
/// of the entries). A ref far from the others goes to a hash map instead, so odd refs cost no
/// memory; a ref the dense part covers is in the map only if its slot says `FULL`.
#[derive(Clone, Debug, Default)]
pub(crate) struct RefTable {
    /// The first ref of the dense part (a multiple of `CHUNK`).
    base: u64,
    /// Fixed-size chunks: indexing within one needs no bounds check.
    dense: Vec<Box<[Slot; CHUNK]>>,
    sparse: FastMap<u64, Full>,
    /// `pchildren` groups held in `side_pc`, `ocol` groups in `side_ocol`.
    side_pc: Side<usize>,
    side_ocol: Side<u64>,
    /// Number of refs naming an order.
    orders: usize,
}

/// A group of orders copied out of the table, when held in place (see `RefTable::push_child`).
pub(crate) struct Members {
    items: [usize; INLINE],
    len: usize,
}

impl Members {
    /// The orders, first to last.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[usize] {
        &self.items[..self.len]
    }
}

impl RefTable {
    /// How many refs (from `base`) the dense part covers.
    #[inline]
    fn covered(&self) -> usize {
        self.dense.len() * CHUNK
    }

    /// The dense position of `key`, if the dense part covers it.
    #[inline]
    fn pos(&self, key: u64) -> Option<usize> {
        let off = key.wrapping_sub(self.base);
        if off < self.covered() as u64 {
            Some(off as usize)
        } else {
            None
        }
    }

    #[inline]
    fn at(&self, pos: usize) -> &Slot {
        &self.dense[pos / CHUNK][pos % CHUNK]
    }

    #[inline]
    fn at_mut(&mut self, pos: usize) -> &mut Slot {
        &mut self.dense[pos / CHUNK][pos % CHUNK]
    }

    /// The slot of `key` in the dense part, unless its entries live in the map.
    #[inline]
    fn dense(&self, key: u64) -> Option<&Slot> {
        self.pos(key)
            .map(|pos| self.at(pos))
            .filter(|s| s.idx != FULL)
    }

    /// The entries of `key` in the map, if any.
    #[inline(never)]
    fn full(&self, key: u64) -> Option<&Full> {
        self.sparse.get(&key)
    }

    /// The dense position of `key` for writing, growing the dense part when `key` is near it;
    /// `None` when its entries live (or go) in the map.
    #[inline]
    fn dense_pos_mut(&mut self, key: u64) -> Option<usize> {
        match self.pos(key) {
            Some(pos) if self.at(pos).idx != FULL => Some(pos),
            Some(_) => None,
            None => self.grow(key),
        }
    }

    /// Grows the dense part to cover `key` if it is near (marking the refs of the map it then
    /// covers as `FULL`); the position of `key` unless its entries live in the map.
    #[inline(never)]
    fn grow(&mut self, key: u64) -> Option<usize> {
        if key >= DENSE_LIMIT {
            return None;
        }
        let covered = self.covered() as u64;
        let chunk = CHUNK as u64;
        let fresh = || Box::new([Slot::default(); CHUNK]);
        if self.dense.is_empty() {
            self.base = key - key % chunk;
            self.dense.push(fresh());
        } else if key >= self.base {
            let beyond = key - (self.base + covered);
            let need = (beyond / chunk + 1) * chunk;
            if beyond > covered + DENSE_SLACK || covered + need > MAX_COVERED {
                return None;
            }
            while self.pos(key).is_none() {
                self.dense.push(fresh());
            }
        } else {
            let below = self.base - key;
            let base = key - key % chunk;
            let need = self.base - base;
            if below > covered + DENSE_SLACK || covered + need > MAX_COVERED {
                return None;
            }
            let n = usize::try_from(need / chunk).ok()?;
            self.dense.splice(0..0, (0..n).map(|_| fresh()));
            self.base = base;
        }
        if !self.sparse.is_empty() {
            let moved: Vec<usize> = self.sparse.keys().filter_map(|&k| self.pos(k)).collect();
            for pos in moved {
                self.at_mut(pos).idx = FULL;
            }
        }
        self.pos(key).filter(|&pos| self.at(pos).idx != FULL)
    }

    /// Moves the entries of the ref at `pos` to the map (a value of it does not fit its slot).
    #[cold]
    #[inline(never)]
    fn spill(&mut self, key: u64, pos: usize) {
        let full = Full {
            idx: self.order(key),
            oco: self.leader(key),
            pc: self.take_children(key),
            ocol: self.take_ocol(key),
        };
        *self.at_mut(pos) = Slot {
            idx: FULL,
            ..Slot::default()
        };
        self.sparse.insert(key, full);
    }

    /// The entries of `key` in the map, made if needed (for a ref whose entries do not fit the
    /// dense part).
    #[inline(never)]
    fn full_mut(&mut self, key: u64) -> &mut Full {
        self.sparse.entry(key).or_default()
    }

    // -- `self.orders` -------------------------------------------------------------------------

    /// `orders.get(ref)`: the index of the last order created with `key`.
    #[inline(always)]
    pub(crate) fn order(&self, key: u64) -> Option<usize> {
        match self.dense(key) {
            Some(s) => (s.idx as usize).checked_sub(1),
            None => self.full(key).and_then(|f| f.idx),
        }
    }

    /// The slot of `key` for writing, when the dense part covers it and holds its entries.
    #[inline(always)]
    fn fast_mut(&mut self, key: u64) -> Option<&mut Slot> {
        let pos = self.pos(key)?;
        Some(self.at_mut(pos)).filter(|s| s.idx != FULL)
    }

    /// `orders[ref] = order; ocos[ref] = ref; ocol[ref].append(ref)`: a new order outside any
    /// OCO group (one write of its slot in the usual case); whether `key` named an order already.
    #[inline(always)]
    pub(crate) fn new_alone(&mut self, key: u64, idx: usize) -> bool {
        if let Some(s) = self.fast_mut(key) {
            if s.idx == 0 && s.ocol == 0 && idx < (FULL - 1) as usize {
                s.idx = idx as u32 + 1;
                s.oco = 1;
                s.ocol = OCOL_SELF;
                self.orders += 1;
                return false;
            }
        }
        self.new_alone_slow(key, idx)
    }

    #[inline(never)]
    fn new_alone_slow(&mut self, key: u64, idx: usize) -> bool {
        let replaced = self.set_order(key, idx);
        self.set_leader(key, key);
        self.push_ocol(key, key);
        replaced
    }

    /// `orders[ref] = order`; whether `key` named an order already.
    #[inline(never)]
    pub(crate) fn set_order(&mut self, key: u64, idx: usize) -> bool {
        if let Some(pos) = self.dense_pos_mut(key) {
            if let Some(v) = u32::try_from(idx).ok().filter(|&v| v < FULL - 1) {
                let s = self.at_mut(pos);
                let old = s.idx;
                s.idx = v + 1;
                if old == 0 {
                    self.orders += 1;
                }
                return old != 0;
            }
            self.spill(key, pos);
        }
        let old = self.full_mut(key).idx.replace(idx);
        if old.is_none() {
            self.orders += 1;
        }
        old.is_some()
    }

    /// Number of refs naming an order.
    pub(crate) fn orders_len(&self) -> usize {
        self.orders
    }

    // -- `self.ocos` ---------------------------------------------------------------------------

    /// `ocos.get(ref)`: the leader of the OCO group of `key`.
    #[inline(always)]
    pub(crate) fn leader(&self, key: u64) -> Option<u64> {
        match self.dense(key) {
            Some(s) => (s.oco != 0).then(|| key - u64::from(s.oco - 1)),
            None => self.full(key).and_then(|f| f.oco),
        }
    }

    /// `ocos[ref] = leader`.
    #[inline(never)]
    pub(crate) fn set_leader(&mut self, key: u64, leader: u64) {
        if let Some(pos) = self.dense_pos_mut(key) {
            let fits = key
                .checked_sub(leader)
                .and_then(|d| u32::try_from(d).ok())
                .filter(|&d| d < u32::MAX);
            if let Some(d) = fits {
                self.at_mut(pos).oco = d + 1;
                return;
            }
            self.spill(key, pos);
        }
        self.full_mut(key).oco = Some(leader);
    }

    // -- `self.ocol` ---------------------------------------------------------------------------

    /// `ocol[leader].append(member)`.
    #[inline(never)]
    pub(crate) fn push_ocol(&mut self, leader: u64, member: u64) {
        if let Some(pos) = self.dense_pos_mut(leader) {
            let s = self.at_mut(pos);
            match s.ocol {
                0 if member == leader => {
                    s.ocol = OCOL_SELF;
                    return;
                }
                v if v >= OCOL_SIDE => {
                    self.side_ocol.get_mut(v - OCOL_SIDE).push_back(member);
                    return;
                }
                v => {
                    let mut group = Group::default();
                    if v == OCOL_SELF {
                        group.push_back(leader);
                    }
                    group.push_back(member);
                    if let Some(at) = self.side_ocol.alloc(group, u32::MAX - OCOL_SIDE) {
                        self.at_mut(pos).ocol = at + OCOL_SIDE;
                        return;
                    }
                    self.spill(leader, pos);
                }
            }
        }
        self.full_mut(leader)
            .ocol
            .get_or_insert_default()
            .push_back(member);
    }

    /// `ocol.pop(key, None)` for a ref that is its own OCO leader (`ocos[key] == key`) and whose
    /// group is at most itself (the usual order outside any OCO group): `true` when that is so
    /// (the group, if any, is then taken), `false` (nothing changed) otherwise.
    #[inline(always)]
    pub(crate) fn take_own_ocol(&mut self, key: u64) -> bool {
        if let Some(s) = self.fast_mut(key) {
            if s.oco == 1 && (s.ocol == OCOL_SELF || s.ocol == 0) {
                s.ocol = 0;
                return true;
            }
        }
        false
    }

    /// `ocol.pop(leader, None)`.
    #[inline(always)]
    pub(crate) fn take_ocol(&mut self, leader: u64) -> Option<Group<u64>> {
        if let Some(s) = self.fast_mut(leader) {
            match s.ocol {
                0 => return None,
                OCOL_SELF => {
                    s.ocol = 0;
                    return Some(Group::Inline {
                        head: 0,
                        len: Len::L1,
                        items: [leader, 0, 0],
                    });
                }
                _ => {}
            }
        }
        self.take_ocol_slow(leader)
    }

    #[inline(never)]
    fn take_ocol_slow(&mut self, leader: u64) -> Option<Group<u64>> {
        if let Some(pos) = self.pos(leader).filter(|&pos| self.at(pos).idx != FULL) {
            let s = self.at_mut(pos);
            let v = std::mem::take(&mut s.ocol);
            return match v {
                0 => None,
                OCOL_SELF => Some(std::iter::once(leader).collect()),
                v => Some(self.side_ocol.take(v - OCOL_SIDE)),
            };
        }
        self.take_ocol_full(leader)
    }

    #[inline(never)]
    fn take_ocol_full(&mut self, leader: u64) -> Option<Group<u64>> {
        self.sparse.get_mut(&leader).and_then(|f| f.ocol.take())
    }

    /// `ocol[leader] = group`.
    pub(crate) fn set_ocol(&mut self, leader: u64, group: Group<u64>) {
        self.take_ocol(leader);
        if let ([only], []) = group.as_slices() {
            if *only == leader {
                self.push_ocol(leader, leader);
                return;
            }
        }
        if let Some(pos) = self.dense_pos_mut(leader) {
            if let Some(at) = self.side_ocol.alloc(group.clone(), u32::MAX - OCOL_SIDE) {
                self.at_mut(pos).ocol = at + OCOL_SIDE;
                return;
            }
            self.spill(leader, pos);
        }
        self.full_mut(leader).ocol = Some(group);
    }

    // -- `self.pchildren` ----------------------------------------------------------------------

    /// `ref in pchildren`.
    #[inline]
    pub(crate) fn has_children(&self, key: u64) -> bool {
        match self.dense(key) {
            Some(s) => s.pc != 0,
            None => self.full(key).is_some_and(|f| f.pc.is_some()),
        }
    }

    /// [`RefTable::push_child`] of the usual case, a group that was empty: `true` when done
    /// (the group is now `[idx]`), `false` with nothing done otherwise. (No [`Members`] built:
    /// the group copied out through memory cost a stalled load per submit.)
    #[inline(always)]
    pub(crate) fn push_only_child(&mut self, key: u64, idx: usize) -> bool {
        if let Some(s) = self.fast_mut(key) {
            if (s.pc == 0 || s.pc == PC_EMPTY) && idx < (PC_SIDE - PC_ONE) as usize {
                s.pc = idx as u32 + PC_ONE;
                return true;
            }
        }
        false
    }

    /// `pchildren[ref].append(order)`; the group's orders, copied, when it is held in place.
    #[inline(always)]
    pub(crate) fn push_child(&mut self, key: u64, idx: usize) -> Option<Members> {
        if let Some(s) = self.fast_mut(key) {
            if (s.pc == 0 || s.pc == PC_EMPTY) && idx < (PC_SIDE - PC_ONE) as usize {
                s.pc = idx as u32 + PC_ONE;
                return Some(Members {
                    items: [idx, 0, 0],
                    len: 1,
                });
            }
        }
        self.push_child_slow(key, idx)
    }

    #[inline(never)]
    fn push_child_slow(&mut self, key: u64, idx: usize) -> Option<Members> {
        if let Some(pos) = self.dense_pos_mut(key) {
            let s = self.at_mut(pos);
            match s.pc {
                0 | PC_EMPTY => {
                    if let Some(v) = u32::try_from(idx).ok().filter(|&v| v < PC_SIDE - PC_ONE) {
                        s.pc = v + PC_ONE;
                        return Some(Members {
                            items: [idx, 0, 0],
                            len: 1,
                        });
                    }
                    let group = std::iter::once(idx).collect();
                    if let Some(at) = self.side_pc.alloc(group, u32::MAX - PC_SIDE) {
                        self.at_mut(pos).pc = at + PC_SIDE;
                        return Some(Members {
                            items: [idx, 0, 0],
                            len: 1,
                        });
                    }
                }
                v if v >= PC_SIDE => {
                    let group = self.side_pc.get_mut(v - PC_SIDE);
                    group.push_back(idx);
                    return members(group);
                }
                v => {
                    let first = (v - PC_ONE) as usize;
                    let group: Group<usize> = [first, idx].into_iter().collect();
                    if let Some(at) = self.side_pc.alloc(group, u32::MAX - PC_SIDE) {
                        self.at_mut(pos).pc = at + PC_SIDE;
                        return Some(Members {
                            items: [first, idx, 0],
                            len: 2,
                        });
                    }
                }
            }
            self.spill(key, pos);
        }
        let group = self.full_mut(key).pc.get_or_insert_default();
        group.push_back(idx);
        members(group)
    }

    /// `pchildren[ref][k]`, if there.
    pub(crate) fn child(&self, key: u64, k: usize) -> Option<usize> {
        match self.dense(key) {
            Some(s) => match s.pc {
                0 | PC_EMPTY => None,
                v if v >= PC_SIDE => self.side_pc.get(v - PC_SIDE).get(k),
                v => (k == 0).then_some((v - PC_ONE) as usize),
            },
            None => self.full(key).and_then(|f| f.pc.as_ref()?.get(k)),
        }
    }

    /// `pchildren.pop(ref, None)`.
    #[inline(always)]
    pub(crate) fn take_children(&mut self, key: u64) -> Option<Group<usize>> {
        if let Some(s) = self.fast_mut(key) {
            match s.pc {
                0 => return None,
                PC_EMPTY => {
                    s.pc = 0;
                    return Some(Group::default());
                }
                v if v < PC_SIDE => {
                    s.pc = 0;
                    return Some(Group::Inline {
                        head: 0,
                        len: Len::L1,
                        items: [(v - PC_ONE) as usize, 0, 0],
                    });
                }
                _ => {}
            }
        }
        self.take_children_slow(key)
    }

    #[inline(never)]
    fn take_children_slow(&mut self, key: u64) -> Option<Group<usize>> {
        if let Some(pos) = self.pos(key).filter(|&pos| self.at(pos).idx != FULL) {
            let s = self.at_mut(pos);
            let v = std::mem::take(&mut s.pc);
            return match v {
                0 => None,
                PC_EMPTY => Some(Group::default()),
                v if v >= PC_SIDE => Some(self.side_pc.take(v - PC_SIDE)),
                v => Some(std::iter::once((v - PC_ONE) as usize).collect()),
            };
        }
        self.take_children_full(key)
    }

    #[inline(never)]
    fn take_children_full(&mut self, key: u64) -> Option<Group<usize>> {
        self.sparse.get_mut(&key).and_then(|f| f.pc.take())
    }

    /// `pchildren[ref].popleft()` (making an empty group if there is none): the orders left,
    /// `None` if the group was empty (the entry then exists, empty).
    #[inline(always)]
    pub(crate) fn pop_child(&mut self, key: u64) -> Option<(&[usize], &[usize])> {
        if let Some(s) = self.fast_mut(key) {
            if s.pc >= PC_ONE && s.pc < PC_SIDE {
                s.pc = PC_EMPTY;
                return Some((&[], &[]));
            }
        }
        self.pop_child_slow(key)
    }

    #[inline(never)]
    fn pop_child_slow(&mut self, key: u64) -> Option<(&[usize], &[usize])> {
        if let Some(pos) = self.dense_pos_mut(key) {
            let s = self.at_mut(pos);
            return match s.pc {
                0 | PC_EMPTY => {
                    s.pc = PC_EMPTY;
                    None
                }
                v if v >= PC_SIDE => {
                    let group = self.side_pc.get_mut(v - PC_SIDE);
                    group.pop_front()?;
                    Some(group.as_slices())
                }
                _ => {
                    s.pc = PC_EMPTY;
                    Some((&[], &[]))
                }
            };
        }
        let group = self.full_mut(key).pc.get_or_insert_default();
        group.pop_front()?;
        Some(group.as_slices())
    }

    /// `pchildren[ref] = group`.
    pub(crate) fn set_children(&mut self, key: u64, group: Group<usize>) {
        self.take_children(key);
        if group.is_empty() {
            self.pop_child(key);
            return;
        }
        if let ([only], []) = group.as_slices() {
            self.push_child(key, *only);
            return;
        }
        if let Some(pos) = self.dense_pos_mut(key) {
            if let Some(at) = self.side_pc.alloc(group.clone(), u32::MAX - PC_SIDE) {
                self.at_mut(pos).pc = at + PC_SIDE;
                return;
            }
            self.spill(key, pos);
        }
        self.full_mut(key).pc = Some(group);
    }

    // -- snapshots -----------------------------------------------------------------------------

    /// The entries `dense`/`full` give, by ref.
    fn sorted<T>(
        &self,
        dense: impl Fn(u64, &Slot) -> Option<T>,
        full: impl Fn(&Full) -> Option<T>,
    ) -> Vec<(u64, T)> {
        let mut items = Vec::new();
        for (pos, s) in self.dense.iter().flat_map(|chunk| chunk.iter()).enumerate() {
            if s.idx != FULL {
                let key = self.base + pos as u64;
                if let Some(v) = dense(key, s) {
                    items.push((key, v));
                }
            }
        }
        let start = items.len();
        items.extend(self.sparse.iter().filter_map(|(k, f)| Some((*k, full(f)?))));
        if items.len() > start {
            items.sort_unstable_by_key(|(k, _)| *k);
        }
        items
    }

    /// `orders` by ref: the order indices.
    pub(crate) fn sorted_orders(&self) -> Vec<(u64, usize)> {
        self.sorted(|_, s| (s.idx as usize).checked_sub(1), |f| f.idx)
    }

    /// `ocos` by ref.
    pub(crate) fn sorted_leaders(&self) -> Vec<(u64, u64)> {
        self.sorted(
            |key, s| (s.oco != 0).then(|| key - u64::from(s.oco - 1)),
            |f| f.oco,
        )
    }

    /// `ocol` by leader.
    pub(crate) fn sorted_ocol(&self) -> Vec<(u64, Vec<u64>)> {
        self.sorted(
            |key, s| match s.ocol {
                0 => None,
                OCOL_SELF => Some(vec![key]),
                v => Some(self.side_ocol.get(v - OCOL_SIDE).iter().copied().collect()),
            },
            |f| Some(f.ocol.as_ref()?.iter().copied().collect()),
        )
    }

    /// `pchildren` by parent ref: the order indices.
    pub(crate) fn sorted_children(&self) -> Vec<(u64, Vec<usize>)> {
        self.sorted(
            |_, s| match s.pc {
                0 => None,
                PC_EMPTY => Some(Vec::new()),
                v if v >= PC_SIDE => Some(self.side_pc.get(v - PC_SIDE).iter().copied().collect()),
                v => Some(vec![(v - PC_ONE) as usize]),
            },
            |f| Some(f.pc.as_ref()?.iter().copied().collect()),
        )
    }
}

/// The orders of a group, copied, when held in place.
#[inline]
fn members(group: &Group<usize>) -> Option<Members> {
    let mut items = [0; INLINE];
    let mut len = 0;
    for x in group.inline_copy()? {
        items[len] = x;
        len += 1;
    }
    Some(Members { items, len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order_survives_spilling_to_the_heap() {
        for n in 0..10_usize {
            let mut g: Group<usize> = (0..n).collect();
            assert_eq!(g.len(), n);
            assert_eq!(
                g.iter().copied().collect::<Vec<_>>(),
                (0..n).collect::<Vec<_>>()
            );
            assert!((0..n).all(|k| g.get(k) == Some(k) && g.contains(&k)));
            assert!(!g.contains(&n) && g.get(n).is_none());
            for k in 0..n {
                assert_eq!(g.pop_front(), Some(k));
                g.push_back(100 + k);
            }
            let rest: Vec<usize> = (0..n).map(|k| 100 + k).collect();
            assert_eq!(g.iter().copied().collect::<Vec<_>>(), rest);
            for k in 0..n {
                assert_eq!(g.pop_front(), Some(100 + k));
            }
            assert!(g.is_empty() && g.pop_front().is_none());
        }
    }

    #[test]
    fn popping_frees_no_room_in_place_but_keeps_order() {
        let mut g: Group<u64> = Group::default();
        g.push_back(1);
        g.push_back(2);
        assert_eq!(g.pop_front(), Some(1));
        g.push_back(3);
        g.push_back(4); // beyond the inline slots: spills
        assert_eq!(g.iter().copied().collect::<Vec<_>>(), vec![2, 3, 4]);
        assert_eq!(size_of::<Group<u64>>(), 32);
    }

    use std::collections::{BTreeMap, VecDeque};

    /// The four maps of the Python core, plainly.
    #[derive(Default)]
    struct Model {
        orders: BTreeMap<u64, usize>,
        ocos: BTreeMap<u64, u64>,
        ocol: BTreeMap<u64, VecDeque<u64>>,
        pchildren: BTreeMap<u64, VecDeque<usize>>,
    }

    fn listed<V: Clone, T>(m: &BTreeMap<u64, V>, f: impl Fn(&V) -> T) -> Vec<(u64, T)> {
        m.iter().map(|(k, v)| (*k, f(v))).collect()
    }

    fn same(t: &RefTable, m: &Model, probes: &[u64]) {
        assert_eq!(t.sorted_orders(), listed(&m.orders, |v| *v));
        assert_eq!(t.orders_len(), m.orders.len());
        assert_eq!(t.sorted_leaders(), listed(&m.ocos, |v| *v));
        let ocol = listed(&m.ocol, |v| v.iter().copied().collect::<Vec<_>>());
        assert_eq!(t.sorted_ocol(), ocol);
        let pc = listed(&m.pchildren, |v| v.iter().copied().collect::<Vec<_>>());
        assert_eq!(t.sorted_children(), pc);
        for &k in probes {
            assert_eq!(t.order(k), m.orders.get(&k).copied());
            assert_eq!(t.leader(k), m.ocos.get(&k).copied());
            assert_eq!(t.has_children(k), m.pchildren.contains_key(&k));
            for j in 0..5 {
                let want = m.pchildren.get(&k).and_then(|g| g.get(j)).copied();
                assert_eq!(t.child(k, j), want);
            }
        }
    }

    /// A snapshot round trip: the table rebuilt from its listings.
    fn rebuilt(t: &RefTable) -> RefTable {
        let mut r = RefTable::default();
        for (k, v) in t.sorted_orders() {
            r.set_order(k, v);
        }
        for (k, v) in t.sorted_children() {
            r.set_children(k, v.into_iter().collect());
        }
        for (k, v) in t.sorted_leaders() {
            r.set_leader(k, v);
        }
        for (k, v) in t.sorted_ocol() {
            r.set_ocol(k, v.into_iter().collect());
        }
        r
    }

    /// Random operations on the table and on plain maps agree, with refs near a counter (from
    /// an offset), below it, far off, huge order indices, leaders above their ref, spills.
    #[test]
    fn ref_table_behaves_as_four_maps() {
        for (seed, start) in [
            (1_u64, 0_u64),
            (2, 100_000),
            (3, 1 << 40),
            (4, 5000),
            (5, 7),
        ] {
            let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let mut next = move |n: u64| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng % n
            };
            let mut t = RefTable::default();
            let mut m = Model::default();
            let mut counter = start;
            for step in 0..4000 {
                let key = match next(10) {
                    0 => start.saturating_sub(next(3000)),
                    1 => [u64::MAX, u64::MAX - 1, 1 << 50, 0, 3][next(5) as usize],
                    2 => start + next(200_000),
                    _ => {
                        counter += next(3);
                        counter - next(4).min(counter)
                    }
                };
                let idx = match next(20) {
                    0 => usize::MAX - next(3) as usize,
                    1 => (1 << 31) + next(5) as usize,
                    2 => u32::MAX as usize - next(3) as usize,
                    _ => next(100_000) as usize,
                };
                let other = if next(4) == 0 {
                    key.saturating_add(next(3))
                } else {
                    key - next(5).min(key)
                };
                match next(11) {
                    0 => assert_eq!(t.set_order(key, idx), m.orders.insert(key, idx).is_some()),
                    1 => {
                        let had = m.orders.insert(key, idx).is_some();
                        m.ocos.insert(key, key);
                        m.ocol.entry(key).or_default().push_back(key);
                        assert_eq!(t.new_alone(key, idx), had);
                    }
                    2 => {
                        t.set_leader(key, other);
                        m.ocos.insert(key, other);
                    }
                    3 => {
                        t.push_ocol(other, key);
                        m.ocol.entry(other).or_default().push_back(key);
                    }
                    4 => {
                        let got = t
                            .take_ocol(key)
                            .map(|g| g.iter().copied().collect::<Vec<_>>());
                        let want = m.ocol.remove(&key).map(|g| g.into_iter().collect());
                        assert_eq!(got, want);
                    }
                    5 | 6 => {
                        let got = t.push_child(key, idx).map(|g| g.as_slice().to_vec());
                        let g = m.pchildren.entry(key).or_default();
                        g.push_back(idx);
                        if let Some(got) = got {
                            assert_eq!(got, g.iter().copied().collect::<Vec<_>>());
                        }
                    }
                    7 => {
                        let got = t.take_children(key).map(|g| g.iter().copied().collect());
                        let want = m.pchildren.remove(&key).map(|g| g.into_iter().collect());
                        assert_eq!(got, want as Option<Vec<usize>>);
                    }
                    8 => {
                        let got = t.pop_child(key).map(|(a, b)| [a, b].concat());
                        let g = m.pchildren.entry(key).or_default();
                        let want = g.pop_front().map(|_| g.iter().copied().collect::<Vec<_>>());
                        assert_eq!(got, want);
                    }
                    9 => {
                        let group: Vec<u64> = (0..next(6)).map(|j| other.wrapping_add(j)).collect();
                        t.set_ocol(key, group.iter().copied().collect());
                        m.ocol.insert(key, group.into_iter().collect());
                    }
                    _ => {
                        let group: Vec<usize> =
                            (0..next(6)).map(|j| idx / 2 + j as usize).collect();
                        t.set_children(key, group.iter().copied().collect());
                        m.pchildren.insert(key, group.into_iter().collect());
                    }
                }
                if step % 97 == 0 {
                    let probes = [key, other, start, counter, 0, u64::MAX, 1 << 50];
                    same(&t, &m, &probes);
                    t = rebuilt(&t);
                    same(&t, &m, &probes);
                }
            }
            same(&t, &m, &[]);
            let copy = t.clone();
            same(&copy, &m, &[]);
        }
    }

    /// Refs from a process-wide counter (a run's first ref large) stay in the dense part, as do
    /// refs a little below the first one; a ref far off does not.
    #[test]
    fn refs_from_an_offset_are_dense() {
        let mut t = RefTable::default();
        for (n, key) in (100_000_u64..103_000).enumerate() {
            t.new_alone(key, n);
            t.push_child(key, n);
        }
        assert!(t.sparse.is_empty());
        assert_eq!(t.base, 100_000 - 100_000 % CHUNK as u64);
        t.new_alone(99_000, 7); // below the first ref: the dense part moves down
        assert!(t.sparse.is_empty() && t.base <= 99_000);
        t.new_alone(5, 8); // far below: the map
        t.new_alone(1 << 40, 9); // far above: the map
        assert_eq!(t.sparse.len(), 2);
        assert_eq!(
            (t.order(5), t.order(1 << 40), t.order(99_000)),
            (Some(8), Some(9), Some(7))
        );
        assert_eq!(t.order(100_500), Some(500));
        assert_eq!(size_of::<Slot>(), 16);
    }
}
