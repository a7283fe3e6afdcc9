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

    /// `x in group`.
    #[inline]
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

/// Refs up to this far beyond the dense part grow it; a ref further out goes to the map.
const DENSE_SLACK: u64 = 1024;

/// Entries per chunk of the dense part.
const CHUNK: usize = 256;

/// A map keyed by order reference (`self.orders`, `self.ocos`, ... of the Python core). Refs
/// are a counter in practice, so they index fixed-size chunks: no hashing, and growing adds a
/// chunk (no rehash, no copy of the entries, as a hash map or a `Vec` would at each doubling;
/// the maps hold an entry per order). A ref far beyond the others goes to a hash map instead,
/// so odd refs cost no memory; every key of that map is beyond the dense part (growing the
/// dense part moves the keys it covers).
#[derive(Clone, Debug)]
pub(crate) struct RefMap<V> {
    /// Fixed-size chunks: indexing within one needs no bounds check.
    dense: Vec<Box<[Option<V>; CHUNK]>>,
    sparse: FastMap<u64, V>,
    len: usize,
}

impl<V> Default for RefMap<V> {
    fn default() -> Self {
        RefMap {
            dense: Vec::new(),
            sparse: FastMap::default(),
            len: 0,
        }
    }
}

impl<V> RefMap<V> {
    /// How many refs (from 0) the dense part covers.
    #[inline]
    fn covered(&self) -> usize {
        self.dense.len() * CHUNK
    }

    /// The dense slot of `key`, if the dense part covers it.
    #[inline]
    fn slot(&self, key: u64) -> Option<usize> {
        usize::try_from(key).ok().filter(|&k| k < self.covered())
    }

    #[inline]
    fn at(&self, slot: usize) -> &Option<V> {
        &self.dense[slot / CHUNK][slot % CHUNK]
    }

    #[inline]
    fn at_mut(&mut self, slot: usize) -> &mut Option<V> {
        &mut self.dense[slot / CHUNK][slot % CHUNK]
    }

    /// The dense slot of `key`, growing the dense part when `key` is near it.
    fn slot_or_grow(&mut self, key: u64) -> Option<usize> {
        if let Some(slot) = self.slot(key) {
            return Some(slot);
        }
        let covered = self.covered() as u64;
        if key > covered.saturating_mul(2).saturating_add(DENSE_SLACK) || key >= u64::from(u32::MAX)
        {
            return None;
        }
        let key = usize::try_from(key).ok()?;
        while self.covered() <= key {
            // (built on the heap: a chunk of groups is too large for a stack temporary)
            let chunk: Box<[Option<V>]> = (0..CHUNK).map(|_| None).collect();
            match chunk.try_into() {
                Ok(chunk) => self.dense.push(chunk),
                Err(_) => unreachable!("a chunk of CHUNK entries"),
            }
        }
        if !self.sparse.is_empty() {
            let covered = self.covered() as u64;
            let moved: Vec<u64> = self
                .sparse
                .keys()
                .copied()
                .filter(|&k| k < covered)
                .collect();
            for k in moved {
                let value = self.sparse.remove(&k);
                *self.at_mut(k as usize) = value;
            }
        }
        Some(key)
    }

    /// `map.get(key)`.
    #[inline]
    pub(crate) fn get(&self, key: &u64) -> Option<&V> {
        match self.slot(*key) {
            Some(slot) => self.at(slot).as_ref(),
            None => self.sparse.get(key),
        }
    }

    /// `key in map`.
    #[inline]
    pub(crate) fn contains_key(&self, key: &u64) -> bool {
        self.get(key).is_some()
    }

    /// `map[key] = value`; the value replaced.
    #[inline]
    pub(crate) fn insert(&mut self, key: u64, value: V) -> Option<V> {
        // (a key the dense part covers, the usual case, inline; growing or the map out of line)
        let Some(slot) = self.slot(key) else {
            return self.insert_grow(key, value);
        };
        let old = self.at_mut(slot).replace(value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    #[inline(never)]
    fn insert_grow(&mut self, key: u64, value: V) -> Option<V> {
        let old = match self.slot_or_grow(key) {
            Some(slot) => self.at_mut(slot).replace(value),
            None => self.sparse.insert(key, value),
        };
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// `map.pop(key, None)`.
    #[inline]
    pub(crate) fn remove(&mut self, key: &u64) -> Option<V> {
        let old = match self.slot(*key) {
            Some(slot) => self.at_mut(slot).take(),
            None => self.sparse.remove(key),
        };
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The entries, by key.
    pub(crate) fn sorted(&self) -> Vec<(u64, &V)> {
        let mut items: Vec<(u64, &V)> = Vec::with_capacity(self.len);
        for (k, v) in self.dense.iter().flat_map(|chunk| chunk.iter()).enumerate() {
            if let Some(v) = v {
                items.push((k as u64, v));
            }
        }
        let start = items.len();
        items.extend(self.sparse.iter().map(|(k, v)| (*k, v)));
        // (every key of the map is beyond the dense part)
        items[start..].sort_unstable_by_key(|(k, _)| *k);
        items
    }
}

impl<V: Default> RefMap<V> {
    /// `map.setdefault(key, V())` (`entry(key).or_default()`).
    #[inline]
    pub(crate) fn get_or_default(&mut self, key: u64) -> &mut V {
        // (a key the dense part covers, the usual case, inline; growing or the map out of line)
        let Some(slot) = self.slot(key) else {
            return self.get_or_default_grow(key);
        };
        let entry = &mut self.dense[slot / CHUNK][slot % CHUNK];
        if entry.is_none() {
            self.len += 1;
        }
        entry.get_or_insert_with(V::default)
    }

    #[inline(never)]
    fn get_or_default_grow(&mut self, key: u64) -> &mut V {
        match self.slot_or_grow(key) {
            Some(slot) => {
                if self.at(slot).is_none() {
                    self.len += 1;
                }
                let entry = self.at_mut(slot);
                entry.get_or_insert_with(V::default)
            }
            None => {
                let len = &mut self.len;
                self.sparse.entry(key).or_insert_with(|| {
                    *len += 1;
                    V::default()
                })
            }
        }
    }
}

impl<V> FromIterator<(u64, V)> for RefMap<V> {
    fn from_iter<I: IntoIterator<Item = (u64, V)>>(iter: I) -> Self {
        let mut map = RefMap::default();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
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

    #[test]
    fn ref_map_behaves_as_a_map_dense_or_not() {
        let mut m: RefMap<u64> = RefMap::default();
        let mut reference: std::collections::BTreeMap<u64, u64> = Default::default();
        // dense refs, a far one, refs that then grow the dense part over the far one, removals
        let keys = [
            1_u64,
            2,
            3,
            5000,
            2,
            0,
            4000,
            3000,
            9000,
            1 << 40,
            u64::MAX,
            4000,
            7,
        ];
        for (n, &k) in keys.iter().enumerate() {
            let v = n as u64;
            assert_eq!(m.insert(k, v), reference.insert(k, v));
            if n % 3 == 2 {
                assert_eq!(m.remove(&2), reference.remove(&2));
            }
            assert_eq!(m.len(), reference.len());
            let all: Vec<(u64, u64)> = m.sorted().into_iter().map(|(k, v)| (k, *v)).collect();
            let want: Vec<(u64, u64)> = reference.iter().map(|(k, v)| (*k, *v)).collect();
            assert_eq!(all, want);
            for probe in [0, 1, 2, 3, 7, 3000, 4000, 5000, 9000, 1 << 40, u64::MAX, 12] {
                assert_eq!(m.get(&probe), reference.get(&probe));
                assert_eq!(m.contains_key(&probe), reference.contains_key(&probe));
            }
        }
        *m.get_or_default(8) += 5;
        *m.get_or_default(1 << 50) += 6;
        *m.get_or_default(8) += 1;
        assert_eq!((m.get(&8), m.get(&(1 << 50))), (Some(&6), Some(&6)));
        assert_eq!(m.len(), reference.len() + 2);
        let copy: RefMap<u64> = m.sorted().into_iter().map(|(k, v)| (k, *v)).collect();
        assert_eq!(copy.sorted(), m.sorted());
    }
}
