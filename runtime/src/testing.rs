//! Helpers for unit-testing activities and workflows.
//!
//! `#[activity]` replaces the function by a unit value, so an activity's body
//! cannot be called directly; [`run_activity`] runs one attempt of it with a
//! context of its own, outside any runtime.
//!
//! ```
//! use reprise::prelude::*;
//!
//! #[activity]
//! async fn double(n: u64) -> Result<u64, ActivityError> {
//!     Ok(n * 2)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! assert_eq!(reprise::testing::run_activity(double, 21).await.unwrap(), 42);
//! # }
//! ```

use serde_json::Value;

use crate::context::{ActivityContext, AttemptInfo};
use crate::definition::Activity;
use crate::error::ActivityError;

/// Runs the first attempt of an activity's body.
///
/// # Errors
///
/// The activity's own error.
pub async fn run_activity<A: Activity>(
    activity: A,
    input: A::Input,
) -> Result<A::Output, ActivityError> {
    run_activity_attempt(activity, input, 1, None).await
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
    let ctx = ActivityContext::new(AttemptInfo {
        workflow_id: "test-workflow".to_owned(),
        run_id: "test-run".to_owned(),
        activity_name: A::NAME.to_owned(),
        seq: 0,
        attempt,
        details,
    });
    activity.run(ctx, input).await
}
