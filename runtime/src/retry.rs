//! Retry policies and their backoff arithmetic.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a failed activity attempt is retried, with Temporal's semantics.
///
/// The delay before attempt `n + 1` is
/// `initial_interval × backoff_coefficient^(n - 1)`, capped at `max_interval`
/// (100 × `initial_interval` when `None`). Attempts stop at `max_attempts`
/// (`None`: no limit), or at the first error whose kind is listed in
/// `non_retryable_error_types`, or at an error raised with
/// [`ActivityError::non_retryable`](crate::ActivityError::non_retryable).
/// The next attempt's time is stored, so a backoff survives a restart.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reprise::RetryPolicy;
///
/// let policy = RetryPolicy {
///     max_attempts: Some(3),
///     non_retryable_error_types: vec!["ValidationError".into()],
///     ..RetryPolicy::default()
/// };
/// assert_eq!(policy.initial_interval, Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Delay before the first retry. Default: 1 s.
    pub initial_interval: Duration,
    /// Factor by which the delay grows at each retry. Default: 2.0.
    pub backoff_coefficient: f64,
    /// Upper bound of the delay. Default (`None`): 100 × `initial_interval`.
    pub max_interval: Option<Duration>,
    /// Attempts in all, the first included. Default (`None`): unlimited.
    pub max_attempts: Option<u32>,
    /// Error kinds that are never retried.
    pub non_retryable_error_types: Vec<String>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_interval: Duration::from_secs(1),
            backoff_coefficient: 2.0,
            max_interval: None,
            max_attempts: None,
            non_retryable_error_types: Vec::new(),
        }
    }
}

impl RetryPolicy {
    /// The delay to wait after failed attempt number `attempt` (1-based),
    /// or `None` when no attempt is left.
    pub(crate) fn delay_after(
        &self,
        attempt: u32,
        kind: &str,
        non_retryable: bool,
    ) -> Option<Duration> {
        if non_retryable || self.non_retryable_error_types.iter().any(|k| k == kind) {
            return None;
        }
        if self.max_attempts.is_some_and(|max| attempt >= max) {
            return None;
        }
        let cap = self
            .max_interval
            .unwrap_or_else(|| self.initial_interval.saturating_mul(100));
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let secs =
            self.initial_interval.as_secs_f64() * self.backoff_coefficient.max(1.0).powi(exponent);
        let delay = Duration::try_from_secs_f64(secs).unwrap_or(cap);
        Some(delay.min(cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Option<Duration> {
        Some(Duration::from_millis(n))
    }

    #[test]
    fn grows_geometrically_up_to_the_cap() {
        let p = RetryPolicy {
            initial_interval: Duration::from_millis(100),
            max_interval: Some(Duration::from_millis(500)),
            ..RetryPolicy::default()
        };
        let delays: Vec<_> = (1..=5).map(|a| p.delay_after(a, "E", false)).collect();
        assert_eq!(delays, vec![ms(100), ms(200), ms(400), ms(500), ms(500)]);
    }

    #[test]
    fn default_cap_is_a_hundred_initial_intervals() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delay_after(40, "E", false),
            Some(Duration::from_secs(100))
        );
    }

    #[test]
    fn stops_at_max_attempts() {
        let p = RetryPolicy {
            max_attempts: Some(3),
            ..RetryPolicy::default()
        };
        assert!(p.delay_after(2, "E", false).is_some());
        assert_eq!(p.delay_after(3, "E", false), None);
    }

    #[test]
    fn non_retryable_kinds_and_errors_stop_at_once() {
        let p = RetryPolicy {
            non_retryable_error_types: vec!["ValidationError".into()],
            ..RetryPolicy::default()
        };
        assert_eq!(p.delay_after(1, "ValidationError", false), None);
        assert_eq!(p.delay_after(1, "Other", true), None);
        assert!(p.delay_after(1, "Other", false).is_some());
    }
}
