//! The hasher of the core's maps, keyed by order refs and data indexes: small integers the
//! caller chose, hashed on every order and every bar. SipHash (the std default) guards against
//! flooding with crafted keys, which a backtest's own refs are not; a multiply-rotate hash (the
//! one rustc uses for its own tables) costs a few cycles instead. Iteration order never reaches
//! a result: everything order-dependent keeps its own `Vec`/`VecDeque`, and snapshots sort.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// FxHash: `(h.rotate_left(5) ^ word) * K` per word.
#[derive(Clone, Copy, Debug, Default)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A `HashMap` with [`FxHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
/// A `HashSet` with [`FxHasher`].
pub type FastSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_work_with_small_keys() {
        let mut map: FastMap<u64, usize> = FastMap::default();
        for k in 0..1000 {
            map.insert(k, (k * 2) as usize);
        }
        assert!((0..1000).all(|k| map[&k] == (k * 2) as usize));
        let mut set: FastSet<u64> = FastSet::default();
        assert!(set.insert(7) && !set.insert(7));
    }
}
