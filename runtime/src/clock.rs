//! This process's wall clock, in the Unix milliseconds every store and the
//! engine count in. (A worker of a store with a clock of its own adds the
//! store's offset: `Engine::now_ms`.)

use std::time::{SystemTime, UNIX_EPOCH};

/// The current wall-clock time in Unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
