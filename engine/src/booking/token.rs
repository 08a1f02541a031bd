//! Booking tokens: eight characters a person can read out at the door.
//!
//! A token is a keyed permutation of the booking id (a four-round Feistel network on
//! 40 bits), written in Crockford's base 32. A permutation makes tokens unique without
//! a retry loop, deterministic for the generator, and not a visible sequence.

use crate::ids::BookingId;

/// Crockford's alphabet: no I, L, O or U, which are misread.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const KEYS: [u64; 4] = [
    0x9E37_79B9_7F4A_7C15,
    0xBF58_476D_1CE4_E5B9,
    0x94D0_49BB_1331_11EB,
    0xD6E8_FEB8_6659_FD93,
];
const HALF: u64 = (1 << 20) - 1;

fn round(x: u64, key: u64) -> u64 {
    // splitmix64's finaliser: cheap and well mixed.
    let mut z = x.wrapping_add(key);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) & HALF
}

/// The token of a booking. Unique for every id below 2^40.
pub fn token_for(id: BookingId) -> String {
    let v = id.0 as u64 & ((1 << 40) - 1);
    let (mut left, mut right) = (v >> 20, v & HALF);
    for key in KEYS {
        let next = left ^ round(right, key);
        left = right;
        right = next;
    }
    let mixed = (left << 20) | right;
    (0..8)
        .rev()
        .map(|i| ALPHABET[((mixed >> (i * 5)) & 31) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn tokens_are_unique_readable_and_stable() {
        let tokens: HashSet<String> = (1..200_000).map(|i| token_for(BookingId(i))).collect();
        assert_eq!(tokens.len(), 199_999);
        let t = token_for(BookingId(1));
        assert_eq!(t.len(), 8);
        assert!(t.bytes().all(|c| ALPHABET.contains(&c)));
        assert_eq!(t, token_for(BookingId(1)));
        assert_ne!(token_for(BookingId(2)), token_for(BookingId(3)));
    }
}
