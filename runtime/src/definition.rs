//! What `#[workflow]` and `#[activity]` generate: the [`Workflow`] and
//! [`Activity`] traits, and an activity's default [`ActivityOptions`].

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::context::{ActivityContext, WorkflowContext};
use crate::error::{ActivityError, WorkflowError};
use crate::retry::RetryPolicy;

/// A boxed, `Send` future, as workflow and activity bodies are returned.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A workflow type: what `#[workflow]` turns an `async fn` into.
///
/// The macro replaces the function by a unit value of the same name that
/// implements this trait; that value is what [`Runtime::start`](crate::Runtime::start)
/// and [`RuntimeBuilder::workflow`](crate::RuntimeBuilder::workflow) take.
/// Write workflows with the macro: it checks the body for non-determinism.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a workflow",
    label = "not a workflow",
    note = "mark an `async fn` with `#[reprise::workflow]` to make it one"
)]
pub trait Workflow: Copy + Send + Sync + 'static {
    /// The workflow type's name, stored in the history (the function's name
    /// unless `#[workflow(name = "...")]` sets it).
    const NAME: &'static str;
    /// The input: the parameters after the context (`()` for none, a tuple for several).
    type Input: Serialize + DeserializeOwned + Send + 'static;
    /// The `T` of the function's `Result<T, WorkflowError>`.
    type Output: Serialize + DeserializeOwned + Send + 'static;

    /// Runs the body.
    fn run(
        self,
        ctx: WorkflowContext,
        input: Self::Input,
    ) -> BoxFuture<'static, Result<Self::Output, WorkflowError>>;
}

/// An activity type: what `#[activity]` turns an `async fn` into.
///
/// Activities do the work that touches the world: I/O, clocks, randomness.
/// Their code runs at least once per call (a crash between the end of an
/// attempt and the recording of its result runs it again), so make them
/// idempotent.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an activity",
    label = "not an activity",
    note = "mark an `async fn` with `#[reprise::activity]` to make it one"
)]
pub trait Activity: Copy + Send + Sync + 'static {
    /// The activity type's name (the function's name unless `name = "..."` sets it).
    const NAME: &'static str;
    /// The input: the parameters after the optional `ActivityContext`.
    type Input: Serialize + DeserializeOwned + Send + 'static;
    /// The `T` of the function's `Result<T, ActivityError>`.
    type Output: Serialize + DeserializeOwned + Send + 'static;

    /// The options given in the attribute; a call may override them.
    fn options(&self) -> ActivityOptions;

    /// Runs one attempt of the body.
    fn run(
        self,
        ctx: ActivityContext,
        input: Self::Input,
    ) -> BoxFuture<'static, Result<Self::Output, ActivityError>>;
}

/// Timeouts and retry policy of an activity call.
///
/// The attribute of `#[activity]` sets an activity's defaults; a call
/// overrides them with [`ActivityCall`](crate::ActivityCall)'s methods.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ActivityOptions {
    /// Longest time one attempt may run; a longer attempt fails with kind
    /// `StartToCloseTimeout` and is retried. `None`: no limit.
    pub start_to_close: Option<Duration>,
    /// Longest time the whole call may take, retries and backoff included; past
    /// it the call fails with kind `ScheduleToCloseTimeout`. `None`: no limit.
    pub schedule_to_close: Option<Duration>,
    /// Longest time between two heartbeats of an attempt; past it the attempt
    /// fails with kind `HeartbeatTimeout` and is retried. `None`: no limit.
    pub heartbeat_timeout: Option<Duration>,
    /// How failed attempts are retried.
    pub retry: RetryPolicy,
}
