//! The clock a runtime counts in: Unix milliseconds, every store's and the
//! engine's unit. A runtime reads this process's wall clock; a
//! [`TestEnv`](crate::testing::TestEnv) reads a virtual one that follows
//! tokio's paused time, so durable timers, backoffs and timeouts of hours
//! pass in no time. (A worker of a store with a clock of its own adds the
//! store's offset: `Engine::now_ms`.)

use std::time::{SystemTime, UNIX_EPOCH};

/// The current wall-clock time in Unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    unix_ms(SystemTime::now())
}

/// The time at `ms` Unix milliseconds.
pub(crate) fn system_time(ms: u64) -> SystemTime {
    UNIX_EPOCH + std::time::Duration::from_millis(ms)
}

/// `time` in Unix milliseconds (0 before the epoch).
pub(crate) fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Where a runtime reads the time.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) enum Clock {
    /// This process's wall clock.
    #[default]
    System,
    /// Unix ms `base_ms` at tokio's instant `start`, moving with tokio's
    /// clock (paused and advanced in tests).
    #[cfg(feature = "testing")]
    Virtual {
        base_ms: u64,
        start: tokio::time::Instant,
    },
}

impl Clock {
    /// A virtual clock that reads the wall clock's time now, and from then
    /// on moves with tokio's.
    #[cfg(feature = "testing")]
    pub(crate) fn virtual_from_now() -> Self {
        Clock::Virtual {
            base_ms: now_ms(),
            start: tokio::time::Instant::now(),
        }
    }

    /// The time in Unix ms.
    pub(crate) fn now_ms(&self) -> u64 {
        match self {
            Clock::System => now_ms(),
            #[cfg(feature = "testing")]
            Clock::Virtual { base_ms, start } => {
                let elapsed = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
                base_ms.saturating_add(elapsed)
            }
        }
    }
}
