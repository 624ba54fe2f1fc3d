//! Helpers for unit-testing activities and workflows.
//!
//! `TestEnv` (feature `testing`) runs workflows in memory on a virtual
//! clock, with activities replaced by mocks; `docs/TESTING.md` shows it at
//! work.
//!
//! `#[activity]` replaces the function by a unit value, so an activity's body
//! cannot be called directly; [`run_activity`] runs one attempt of it with a
//! context of its own, outside any runtime, and [`ActivityTest`] does the same
//! with resources, an attempt number and heartbeat details of your choosing.
//!
//! ```
//! use reprise::prelude::*;
//! use reprise::testing::ActivityTest;
//!
//! #[activity]
//! async fn double(n: u64) -> Result<u64, ActivityError> {
//!     Ok(n * 2)
//! }
//!
//! struct Factor(u64);
//!
//! #[activity]
//! fn scale(factor: Resource<Factor>, n: u64) -> Result<u64, ActivityError> {
//!     Ok(n * factor.0)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! assert_eq!(reprise::testing::run_activity(double, 21).await.unwrap(), 42);
//! let out = ActivityTest::new().resource(Factor(3)).run(scale, 5).await.unwrap();
//! assert_eq!(out, 15);
//! # }
//! ```

#[cfg(feature = "testing")]
mod env;

#[cfg(feature = "testing")]
pub use env::{TestEnv, TestEnvBuilder};

use std::sync::Arc;

use serde_json::Value;

use crate::context::{ActivityContext, AttemptInfo};
use crate::definition::Activity;
use crate::error::ActivityError;
use crate::resource::Resources;

/// Runs the first attempt of an activity's body.
///
/// # Errors
///
/// The activity's own error.
pub async fn run_activity<A: Activity>(
    activity: A,
    input: A::Input,
) -> Result<A::Output, ActivityError> {
    ActivityTest::new().run(activity, input).await
}

/// Runs an activity's body as attempt `attempt`, with the heartbeat details
/// a previous attempt left (`ctx.heartbeat_details()` returns them).
///
/// # Errors
///
/// The activity's own error.
pub async fn run_activity_attempt<A: Activity>(
    activity: A,
    input: A::Input,
    attempt: u32,
    details: Option<Value>,
) -> Result<A::Output, ActivityError> {
    let mut test = ActivityTest::new().attempt(attempt);
    test.details = details;
    test.run(activity, input).await
}

/// Runs one attempt of an activity's body outside any runtime, with the
/// resources, attempt number and heartbeat details given here.
///
/// A synchronous (`fn`) activity runs on tokio's blocking pool, as in a
/// runtime, so the test needs a tokio runtime.
#[derive(Debug)]
pub struct ActivityTest {
    resources: Resources,
    workflow_id: String,
    attempt: u32,
    details: Option<Value>,
}

impl Default for ActivityTest {
    fn default() -> Self {
        ActivityTest::new()
    }
}

impl ActivityTest {
    /// Attempt 1 of workflow `test-workflow`, no resources, no details.
    pub fn new() -> Self {
        ActivityTest {
            resources: Resources::default(),
            workflow_id: "test-workflow".to_owned(),
            attempt: 1,
            details: None,
        }
    }

    /// Hands `value` to `Resource<T>` parameters of its type, as
    /// `RuntimeBuilder::resource` does.
    pub fn resource<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.resources.insert(Arc::new(value));
        self
    }

    /// The attempt number `ctx.attempt()` returns (1 for the first).
    pub fn attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    /// The details `ctx.heartbeat_details()` returns, as left by an earlier
    /// attempt.
    ///
    /// # Panics
    ///
    /// When `details` does not serialize to JSON.
    pub fn heartbeat_details<T: serde::Serialize>(mut self, details: &T) -> Self {
        self.details =
            Some(serde_json::to_value(details).expect("heartbeat details serialize to JSON"));
        self
    }

    /// The workflow id `ctx.workflow_id()` returns.
    pub fn workflow_id(mut self, id: impl Into<String>) -> Self {
        self.workflow_id = id.into();
        self
    }

    /// Runs the attempt.
    ///
    /// # Errors
    ///
    /// The activity's own error; a `MissingResource` error when it takes a
    /// resource this test was not given.
    pub async fn run<A: Activity>(
        &self,
        activity: A,
        input: A::Input,
    ) -> Result<A::Output, ActivityError> {
        let ctx = ActivityContext::new(
            AttemptInfo {
                workflow_id: self.workflow_id.clone(),
                run_id: "test-run".to_owned(),
                activity_name: A::NAME.to_owned(),
                seq: 0,
                attempt: self.attempt,
                details: self.details.clone(),
            },
            Arc::new(self.resources.clone()),
        );
        activity.run(ctx, input).await
    }
}

// Replay checks: `replay` a recorded history against the current code.
pub use crate::replay_check::{replay, ReplayError, ReplayErrorKind};
