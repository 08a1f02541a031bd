//! The process's allocator: mimalloc, told to keep freed memory for a while.

use libmimalloc_sys::{mi_option_set, mi_option_t};

/// mimalloc rather than glibc's allocator: see api/Cargo.toml.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (the same index in versions 2 and 3), which
/// libmimalloc-sys does not name: how long, in milliseconds, freed memory stays committed
/// before it is handed back to the OS.
const PURGE_DELAY: mi_option_t = 15;

/// How long freed memory is kept before it is returned to the OS.
///
/// mimalloc's default (1 s, ten times that for its arenas) returned the memory a feed had
/// just freed often enough that the next feeds faulted it back in: 6 to 8 page faults per feed
/// under load, 1 or 2 with 10 s, and about a tenth of a feed's CPU with the calls that gave the
/// memory back. Ten seconds still returns what a burst took once the burst is over.
/// benches/search.sh gives the search benchmark the same delay: change both together.
pub const PURGE_DELAY_MS: i64 = 10_000;

/// Applies [`PURGE_DELAY_MS`] unless `MIMALLOC_PURGE_DELAY` sets the delay already (an
/// operator's choice wins). Call it at the start of `main`: mimalloc reads the option each
/// time it would purge, so it holds from then on.
pub fn tune() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: setting an option is a store to mimalloc's option table, valid at any time.
    unsafe { mi_option_set(PURGE_DELAY, PURGE_DELAY_MS as _) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libmimalloc_sys::mi_option_get;

    fn purge_delay_ms() -> i64 {
        // SAFETY: reading an option has no precondition.
        let value = unsafe { mi_option_get(PURGE_DELAY) };
        value as i64
    }

    #[test]
    fn the_option_tuned_is_the_purge_delay() {
        // mimalloc 3 documents a purge delay of 1,000 ms by default: an index pointing
        // at another option would read something else.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        assert_eq!(purge_delay_ms(), 1_000);
        tune();
        assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
    }
}
