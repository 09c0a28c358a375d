//! Which event ids may have been stored: a Bloom filter over every stored event's id, so that
//! the driver looks up in the store only the sender-assigned ids that might be retries.
//!
//! A Bloom filter answers "maybe stored" or "certainly not stored"; it never forgets an id it
//! was given, so "certainly not" is exact and the lookup it saves could only have found
//! nothing. "Maybe" is checked in the store as before. The filter is filled from the store in
//! the background when the driver starts (until then, and after a failed load, every id is
//! looked up), and with the ids of every commit of the driver and every history import.
//!
//! It grows as a scalable Bloom filter: when a layer holds as many ids as it was made for, a
//! layer of twice the size is added; an id is "maybe stored" when any layer says so. Each layer
//! has 10 bits per id and 7 hash positions (about 1 % false positives), so a million ids take
//! about 1.2 MiB.

use std::hash::{BuildHasher, Hasher};
use std::sync::{Mutex, PoisonError};

/// Ids the first layer is made for.
const FIRST_LAYER: usize = 16_384;
/// Bits per id in a layer.
const BITS_PER_ID: usize = 10;
/// Hash positions per id.
const HASHES: u64 = 7;

/// One layer: a bit array made for `capacity` ids.
#[derive(Debug)]
struct Layer {
    bits: Vec<u64>,
    capacity: usize,
    held: usize,
}

impl Layer {
    fn new(capacity: usize) -> Layer {
        Layer {
            bits: vec![0; (capacity * BITS_PER_ID).div_ceil(64)],
            capacity,
            held: 0,
        }
    }

    /// The bit positions of an id (double hashing: h1 + i·h2).
    fn positions(&self, (h1, h2): (u64, u64)) -> impl Iterator<Item = (usize, u64)> + use<> {
        let len = (self.bits.len() * 64) as u64;
        (0..HASHES).map(move |i| {
            let bit = h1.wrapping_add(i.wrapping_mul(h2)) % len;
            ((bit / 64) as usize, 1u64 << (bit % 64))
        })
    }

    fn insert(&mut self, hashes: (u64, u64)) {
        for (word, mask) in self.positions(hashes) {
            self.bits[word] |= mask;
        }
        self.held += 1;
    }

    fn may_contain(&self, hashes: (u64, u64)) -> bool {
        self.positions(hashes)
            .all(|(word, mask)| self.bits[word] & mask != 0)
    }
}

#[derive(Debug, Default)]
struct Filter {
    layers: Vec<Layer>,
    /// Filled with every stored id (the load from the store has finished).
    complete: bool,
}

/// The stored event ids, as far as a Bloom filter knows them (shared by the driver, its
/// loader and the history import).
#[derive(Debug, Default)]
pub struct SeenIds {
    filter: Mutex<Filter>,
}

/// Two independent 64-bit hashes of an id (SipHash with two fixed keys: an attacker who picks
/// ids can only make the filter answer "maybe", which costs a lookup, never a wrong "no").
fn hashes(id: &str) -> (u64, u64) {
    let hash = |key: u64| {
        let mut h =
            std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default().build_hasher();
        h.write_u64(key);
        h.write(id.as_bytes());
        h.finish()
    };
    // An even step could cycle through half the positions only: keep it odd.
    (hash(0x5eed_0001), hash(0x5eed_0002) | 1)
}

impl SeenIds {
    fn lock(&self) -> std::sync::MutexGuard<'_, Filter> {
        self.filter.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Remembers stored ids.
    pub fn insert<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let mut filter = self.lock();
        for id in ids {
            let full = filter.layers.last().is_none_or(|l| l.held >= l.capacity);
            if full {
                let capacity = filter
                    .layers
                    .last()
                    .map_or(FIRST_LAYER, |l| l.capacity.saturating_mul(2));
                filter.layers.push(Layer::new(capacity));
            }
            if let Some(layer) = filter.layers.last_mut() {
                layer.insert(hashes(id));
            }
        }
    }

    /// Marks the filter complete: every stored id has been inserted.
    pub fn mark_complete(&self) {
        self.lock().complete = true;
    }

    /// For each id, whether it may have been stored; `None` while the filter is not complete
    /// (then every id must be looked up).
    pub fn may_contain(&self, ids: &[String]) -> Option<Vec<bool>> {
        let filter = self.lock();
        if !filter.complete {
            return None;
        }
        Some(
            ids.iter()
                .map(|id| {
                    let h = hashes(id);
                    filter.layers.iter().any(|l| l.may_contain(h))
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nothing_is_known_before_the_filter_is_complete() {
        let seen = SeenIds::default();
        seen.insert(["a"]);
        assert_eq!(seen.may_contain(&["a".into()]), None);
        seen.mark_complete();
        assert_eq!(seen.may_contain(&["a".into()]), Some(vec![true]));
    }

    #[test]
    fn it_grows_without_losing_ids_and_stays_selective() {
        let seen = SeenIds::default();
        seen.mark_complete();
        let stored: Vec<String> = (0..100_000).map(|n| format!("stored-{n}")).collect();
        seen.insert(stored.iter().map(String::as_str));
        assert!(seen.lock().layers.len() > 1, "grew past the first layer");
        let answers = seen.may_contain(&stored).expect("complete");
        assert!(answers.iter().all(|maybe| *maybe), "no stored id is denied");
        let others: Vec<String> = (0..100_000).map(|n| format!("other-{n}")).collect();
        let false_positives = seen
            .may_contain(&others)
            .expect("complete")
            .iter()
            .filter(|maybe| **maybe)
            .count();
        // About 1 % per layer; well under 5 % over all of them.
        assert!(false_positives < 5_000, "{false_positives} false positives");
    }

    proptest! {
        /// Whatever ids are inserted, in whatever amounts, none of them is ever denied.
        #[test]
        fn an_inserted_id_is_never_denied(ids in proptest::collection::vec(".{0,40}", 0..300)) {
            let seen = SeenIds::default();
            seen.mark_complete();
            seen.insert(ids.iter().map(String::as_str));
            let answers = seen.may_contain(&ids).expect("complete");
            prop_assert!(answers.iter().all(|maybe| *maybe));
        }
    }
}
