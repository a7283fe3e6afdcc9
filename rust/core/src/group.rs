//! `Group`: the short FIFO lists the core keeps per order (a bracket's orders under its parent
//! ref, the members of an OCO group). Almost every order is a group of one and a bracket a
//! group of three, so up to [`INLINE`] items live in place; a heap deque per order was a
//! measurable share of the core's time (one allocation and one free per order). A group is no
//! larger than the `VecDeque` it replaces plus a tag: the maps holding one entry per order
//! grow past the allocator's mmap threshold, and larger entries there cost page faults.

use std::collections::VecDeque;

/// Items held without a heap allocation.
const INLINE: usize = 3;

/// A FIFO (`collections.deque` / `list` in the Python core) of `Copy` items.
#[derive(Clone, Debug)]
pub(crate) enum Group<T: Copy + Default> {
    /// `items[head..head + len]`.
    Inline {
        head: u8,
        len: u8,
        items: [T; INLINE],
    },
    /// Every item, once more than fit in place were pushed.
    Heap(VecDeque<T>),
}

impl<T: Copy + Default> Default for Group<T> {
    fn default() -> Self {
        Group::Inline {
            head: 0,
            len: 0,
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
                let end = usize::from(*head) + usize::from(*len);
                if end < INLINE {
                    items[end] = item;
                    *len += 1;
                } else {
                    let mut heap = VecDeque::with_capacity(INLINE * 2);
                    heap.extend(items[usize::from(*head)..end].iter().copied());
                    heap.push_back(item);
                    *self = Group::Heap(heap);
                }
            }
        }
    }

    /// `popleft()`.
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        match self {
            Group::Heap(heap) => heap.pop_front(),
            Group::Inline { len: 0, .. } => None,
            Group::Inline { head, len, items } => {
                let item = items[usize::from(*head)];
                *head += 1;
                *len -= 1;
                Some(item)
            }
        }
    }

    /// The items in place, `None` once spilled to the heap.
    fn inline_items(&self) -> Option<&[T]> {
        match self {
            Group::Inline { head, len, items } => {
                let head = usize::from(*head);
                Some(&items[head..head + usize::from(*len)])
            }
            Group::Heap(_) => None,
        }
    }

    /// The items, first to last.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        let (inline, heap) = match self {
            Group::Heap(heap) => (None, Some(heap)),
            Group::Inline { .. } => (self.inline_items(), None),
        };
        inline
            .into_iter()
            .flatten()
            .chain(heap.into_iter().flatten())
    }

    /// Number of items.
    pub(crate) fn len(&self) -> usize {
        match self {
            Group::Inline { len, .. } => usize::from(*len),
            Group::Heap(heap) => heap.len(),
        }
    }

    /// No items.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Item `k` (first is `0`).
    pub(crate) fn get(&self, k: usize) -> Option<T> {
        match self {
            Group::Heap(heap) => heap.get(k).copied(),
            Group::Inline { .. } => self.inline_items().and_then(|s| s.get(k)).copied(),
        }
    }

    /// `x in group`.
    pub(crate) fn contains(&self, item: &T) -> bool {
        match self {
            Group::Heap(heap) => heap.contains(item),
            Group::Inline { .. } => self.inline_items().is_some_and(|s| s.contains(item)),
        }
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
        assert_eq!(size_of::<Group<u64>>(), 40);
    }
}
