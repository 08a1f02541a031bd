//! Category and subcategory codes, interned for the life of the process.
//!
//! A feed's searches return thousands of hits and each carries two codes, of which
//! there are a few hundred at most (the taxonomy's: the engine refuses an offer with
//! another subcategory before it reaches an index). Each
//! distinct code is leaked once and every hit shares it, instead of allocating two
//! strings per hit.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock, PoisonError};

/// The process-wide copy of `code`.
pub(crate) fn intern(code: &str) -> &'static str {
    static CODES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut codes = CODES
        .get_or_init(Mutex::default)
        .lock()
        // The set is never left half-updated: a panic elsewhere does not spoil it.
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(&known) = codes.get(code) {
        return known;
    }
    let leaked: &'static str = Box::leak(code.into());
    codes.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_copy_per_code() {
        let a = intern("SEANCE_CINE");
        let b = intern(&String::from("SEANCE_CINE"));
        assert_eq!(a, "SEANCE_CINE");
        assert!(std::ptr::eq(a, b));
        assert!(!std::ptr::eq(a, intern("LIVRE_PAPIER")));
    }
}
