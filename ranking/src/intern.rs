//! Codes interned once per request: the scoring and page-filling loops compare and
//! index small integers instead of hashing or comparing strings per candidate.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::Candidate;

/// The venue id of a digital offer, which has none.
pub(crate) const NO_VENUE: u32 = u32::MAX;

/// The candidates' category, subcategory and venue as dense ids (`0..n` in order of
/// first appearance), with the strings of the ids.
pub(crate) struct Codes<'a> {
    /// Per candidate, its category id.
    pub(crate) category: Vec<u32>,
    /// Per category id, its code.
    pub(crate) category_names: Vec<&'a str>,
    /// Per candidate, its subcategory id.
    pub(crate) subcategory: Vec<u32>,
    /// Per subcategory id, its code.
    pub(crate) subcategory_names: Vec<&'a str>,
    /// Per candidate, its venue id, [`NO_VENUE`] for a digital offer.
    pub(crate) venue: Vec<u32>,
    /// Number of distinct venues.
    pub(crate) venues: usize,
}

impl<'a> Codes<'a> {
    pub(crate) fn new(candidates: &'a [Candidate]) -> Codes<'a> {
        let n = candidates.len();
        let mut categories = Interner::default();
        let mut subcategories = Interner::default();
        // Sized once: a feed's 2,300 candidates come from up to as many venues.
        let mut venues: FastMap<u64, u32> =
            FastMap::with_capacity_and_hasher(n, Default::default());
        let mut codes = Codes {
            category: Vec::with_capacity(n),
            category_names: Vec::new(),
            subcategory: Vec::with_capacity(n),
            subcategory_names: Vec::new(),
            venue: Vec::with_capacity(n),
            venues: 0,
        };
        for c in candidates {
            codes.category.push(categories.id(c.category));
            codes.subcategory.push(subcategories.id(c.subcategory));
            codes.venue.push(match c.venue_id {
                Some(v) => {
                    let next = venues.len() as u32;
                    *venues.entry(v).or_insert(next)
                }
                None => NO_VENUE,
            });
        }
        codes.category_names = categories.names;
        codes.subcategory_names = subcategories.names;
        codes.venues = venues.len();
        codes
    }

    /// Number of distinct categories.
    pub(crate) fn categories(&self) -> usize {
        self.category_names.len()
    }
}

/// Strings to dense ids.
#[derive(Default)]
struct Interner<'a> {
    ids: FastMap<&'a str, u32>,
    /// The ids by where their strings lie, for strings already seen there. The index
    /// hands every hit the same copy of a code, so this one-word lookup answers for
    /// nearly all candidates; hashing and comparing the codes' bytes was 4 % of a feed.
    by_address: FastMap<(usize, usize), u32>,
    names: Vec<&'a str>,
}

impl<'a> Interner<'a> {
    fn id(&mut self, name: &'a str) -> u32 {
        let address = (name.as_ptr() as usize, name.len());
        if let Some(&id) = self.by_address.get(&address) {
            return id;
        }
        let next = self.names.len() as u32;
        let id = *self.ids.entry(name).or_insert_with(|| {
            self.names.push(name);
            next
        });
        self.by_address.insert(address, id);
        id
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The multiply-rotate hash of rustc (FxHash): keys here are short codes and ids from
/// our own index, not attacker-chosen, so SipHash's flooding resistance buys nothing and
/// costs most of an interning pass.
#[derive(Default)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_dense_in_order_of_first_appearance() {
        let c = |category: &'static str, sub: &'static str, venue| Candidate {
            category,
            subcategory: sub,
            venue_id: venue,
            ..Candidate::default()
        };
        let pool = [
            c("CINEMA", "SEANCE", Some(40)),
            c("CINEMA", "SEANCE", None),
            c("LIVRE", "PAPIER", Some(7)),
            c("CINEMA", "FESTIVAL", Some(40)),
        ];
        let codes = Codes::new(&pool);
        assert_eq!(codes.category, [0, 0, 1, 0]);
        assert_eq!(codes.category_names, ["CINEMA", "LIVRE"]);
        assert_eq!(codes.subcategory, [0, 0, 1, 2]);
        assert_eq!(codes.subcategory_names, ["SEANCE", "PAPIER", "FESTIVAL"]);
        assert_eq!(codes.venue, [0, NO_VENUE, 1, 0]);
        assert_eq!(codes.venues, 2);
        assert_eq!(codes.categories(), 2);

        // Equal codes at other addresses are the same code.
        let (cinema, festival) = (String::from("CINEMA"), String::from("FESTIVAL"));
        let pool = [
            c("CINEMA", "FESTIVAL", None),
            Candidate {
                category: &cinema,
                subcategory: &festival,
                ..Candidate::default()
            },
        ];
        let codes = Codes::new(&pool);
        assert_eq!(codes.category, [0, 0]);
        assert_eq!(codes.subcategory, [0, 0]);
        assert_eq!(codes.category_names.len(), 1);
    }
}
