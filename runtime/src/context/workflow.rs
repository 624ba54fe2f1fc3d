//! [`WorkflowContext`]: the durable calls a workflow body makes.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::command::activity::ActivityCall;
use crate::command::child::ChildCall;
use crate::command::signal::{Cancelled, SignalChannel};
use crate::command::timer::Sleep;
use crate::command::{marker, patch, MarkerKind};
use crate::definition::{Activity, Workflow};
use crate::error::{WorkflowError, WorkflowErrorKind};
use crate::run::{lock, RunCore};
use crate::signal::Signal;

/// The history length, in events, from which
/// [`WorkflowContext::continue_as_new_suggested`] answers `true`.
///
/// A run's history is replayed whole when it is not cached (a restart,
/// another worker taking the run): at the 1.3–2.5 µs per event the replay
/// benchmark measures on SQLite (`docs/PERFORMANCE.md`), 10 000 events cost
/// 13–25 ms, and every event past that makes each miss slower.
pub const CONTINUE_AS_NEW_EVENTS: u64 = 10_000;

/// The history size, in bytes of stored JSON, from which
/// [`WorkflowContext::continue_as_new_suggested`] answers `true`.
pub const CONTINUE_AS_NEW_BYTES: u64 = 8 * 1024 * 1024;

/// The handle a workflow body uses for everything durable.
///
/// Every method that does something (`activity`, `sleep`, `side_effect`,
/// `uuid`, `random_u64`) takes the next sequence number of the run: its
/// outcome is recorded in the history the first time and read back from it
/// when the body is replayed. `now` reads the time of the current
/// activation, the same on replay.
///
/// `WorkflowContext` is cheap to clone and `Send + Sync`; to use it in
/// per-item `async move` blocks, write `let ctx = &ctx;` first.
#[derive(Clone)]
pub struct WorkflowContext {
    core: Arc<Mutex<RunCore>>,
    workflow_id: Arc<str>,
    run_id: Arc<str>,
}

impl fmt::Debug for WorkflowContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkflowContext")
            .field("workflow_id", &self.workflow_id)
            .field("run_id", &self.run_id)
            .finish_non_exhaustive()
    }
}

impl WorkflowContext {
    pub(crate) fn new(core: Arc<Mutex<RunCore>>) -> Self {
        let (workflow_id, run_id) = {
            let c = lock(&core);
            (c.workflow_id.clone(), c.run_id.clone())
        };
        Self {
            core,
            workflow_id,
            run_id,
        }
    }

    /// The run's core, locked.
    pub(crate) fn core(&self) -> MutexGuard<'_, RunCore> {
        lock(&self.core)
    }

    /// The workflow's id.
    pub fn workflow_id(&self) -> &str {
        &self.workflow_id
    }

    /// The id of this run of the workflow.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Whether the body is being replayed from the history (as opposed to
    /// running live). Useful to skip logging that would repeat.
    pub fn is_replaying(&self) -> bool {
        self.core().is_replaying()
    }

    /// Calls an activity. The returned [`ActivityCall`] is a future of the
    /// activity's `Result<Output, ActivityError>`; its methods override the
    /// activity's timeouts and retry policy for this call.
    ///
    /// The call is scheduled when the future is first polled. Its result is
    /// recorded once; on replay it is returned without running the activity.
    /// A failed call's error carries the attempt count; when the workflow is
    /// cancelled, a pending call returns an error whose `is_cancelled()` is true.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reprise::prelude::*;
    /// # #[activity] async fn fetch(page: u32) -> Result<Vec<u64>, ActivityError> { Ok(vec![]) }
    /// #[workflow]
    /// async fn crawl(ctx: WorkflowContext, pages: u32) -> Result<usize, WorkflowError> {
    ///     let calls = (0..pages).map(|p| ctx.activity(fetch, p).start_to_close(Duration::from_secs(30)));
    ///     let mut n = 0;
    ///     for result in join_all(calls).await {
    ///         n += result?.len();
    ///     }
    ///     Ok(n)
    /// }
    /// ```
    pub fn activity<A: Activity>(&self, activity: A, input: A::Input) -> ActivityCall<A> {
        ActivityCall::new(self.clone(), activity, input)
    }

    /// A durable timer: completes after `duration`, measured from the
    /// activation's time. The deadline is stored, so a restart does not
    /// extend it.
    pub fn sleep(&self, duration: Duration) -> Sleep {
        Sleep::new(self.clone(), duration)
    }

    /// The current time of the workflow: the time at which the current
    /// activation started, the same on replay.
    pub fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.core().now_ms)
    }

    /// Runs `f` once and records its result; on replay the recorded value is
    /// returned and `f` is not called. For small non-deterministic values
    /// (a random seed, a config read); do I/O in an activity instead.
    pub fn side_effect<T, F>(&self, f: F) -> T
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> T,
    {
        self.marker(MarkerKind::SideEffect, f)
    }

    /// A random UUID (v4), recorded in the history.
    pub fn uuid(&self) -> uuid::Uuid {
        self.marker(MarkerKind::Uuid, uuid::Uuid::new_v4)
    }

    /// A random `u64`, recorded in the history.
    pub fn random_u64(&self) -> u64 {
        self.marker(MarkerKind::Random, || {
            let (hi, lo) = uuid::Uuid::new_v4().as_u64_pair();
            hi ^ lo.rotate_left(17)
        })
    }

    /// Publishes the workflow's progress, shown by `Runtime::describe` and
    /// the command-line tool. It is stored with the activation's commit; it
    /// is not part of the history.
    pub fn set_progress<T: Serialize + ?Sized>(&self, progress: &T) {
        match serde_json::to_value(progress) {
            Ok(value) => self.core().set_progress(value),
            Err(e) => {
                tracing::warn!(error = %crate::error::Chain(&e), "progress does not serialize to JSON; ignored")
            }
        }
    }

    /// The signals of type `S` sent to this workflow: receive them with
    /// [`SignalChannel::recv`] (waits durably) or [`SignalChannel::try_recv`].
    ///
    /// Signals are recorded in the history in arrival order and buffered until
    /// received; a signal whose payload does not decode as `S` is logged and
    /// skipped.
    ///
    /// # Examples
    ///
    /// Wait for a signal or a timer, whichever comes first, deterministically:
    ///
    /// ```
    /// # use reprise::prelude::*;
    /// #[derive(Serialize, Deserialize, Signal)]
    /// struct Approve { by: String }
    ///
    /// #[workflow]
    /// async fn approval(ctx: WorkflowContext) -> Result<Option<String>, WorkflowError> {
    ///     let approvals = ctx.signal::<Approve>();
    ///     tokio::select! {
    ///         biased;
    ///         a = approvals.recv() => Ok(Some(a.by)),
    ///         () = ctx.sleep(Duration::from_secs(3600)) => Ok(None),
    ///     }
    /// }
    /// ```
    pub fn signal<S: Signal>(&self) -> SignalChannel<S> {
        SignalChannel::new(self.clone())
    }

    /// Whether the workflow was asked to cancel.
    pub fn is_cancelled(&self) -> bool {
        let mut core = self.core();
        core.see_cancel();
        core.is_cancelled()
    }

    /// Completes when the workflow is asked to cancel. Race it against a
    /// timer or a signal in a `biased` `select!` to clean up there; a timer or
    /// signal await that is polled after cancellation ends the run instead.
    pub fn cancelled(&self) -> Cancelled {
        Cancelled::new(self.clone())
    }

    /// Ends this run and starts a new run of the same workflow, with the same
    /// id, a fresh history and `input`. Signals received and not yet consumed
    /// are carried to the new run. Return its result from the body:
    /// `return ctx.continue_as_new(next_input);`. The macro checks that
    /// `input` has the workflow's input type.
    ///
    /// # Errors
    ///
    /// Always returns `Err`: the value to return from the body. Its error is
    /// not the workflow's result; the new run's result is.
    pub fn continue_as_new<I: Serialize, T>(&self, input: I) -> Result<T, WorkflowError> {
        match serde_json::to_value(&input) {
            Ok(value) => {
                self.core().set_continue_as_new(value);
                Err(WorkflowError::with_kind(
                    WorkflowErrorKind::ContinuedAsNew,
                    "ContinuedAsNew",
                    "the workflow continued as a new run",
                ))
            }
            Err(e) => Err(WorkflowError::with_kind(
                WorkflowErrorKind::Payload,
                "PayloadError",
                format!("the input of continue-as-new does not serialize: {e}"),
            )),
        }
    }

    /// Whether `ctx.continue_as_new(..)` is advisable now: the run's
    /// history has reached [`CONTINUE_AS_NEW_EVENTS`] events or
    /// [`CONTINUE_AS_NEW_BYTES`] bytes. Decided when each activation starts
    /// and recorded with it, so replay answers the same.
    ///
    /// ```
    /// # use reprise::prelude::*;
    /// # #[activity] async fn step(n: u64) -> Result<u64, ActivityError> { Ok(n + 1) }
    /// #[workflow]
    /// async fn counter(ctx: WorkflowContext, mut n: u64) -> Result<u64, WorkflowError> {
    ///     loop {
    ///         n = ctx.activity(step, n).await?;
    ///         if n >= 1_000_000 {
    ///             return Ok(n);
    ///         }
    ///         if ctx.continue_as_new_suggested() {
    ///             return ctx.continue_as_new(n);
    ///         }
    ///     }
    /// }
    /// ```
    pub fn continue_as_new_suggested(&self) -> bool {
        self.core().continue_as_new_suggested
    }

    /// Starts a child workflow and returns a future of its result.
    ///
    /// The child is created in the same transaction as this activation's
    /// step, runs on any worker that has its type registered, and its
    /// result is recorded in this run's history once. Set its workflow id
    /// with [`ChildCall::id`] (by default `<parent id>/<sequence number>`)
    /// and what happens to it if this run ends first with
    /// [`ChildCall::parent_close`]. Cancelling this workflow cancels its
    /// children (other than abandoned ones).
    ///
    /// ```
    /// # use reprise::prelude::*;
    /// # #[workflow] async fn import_file(ctx: WorkflowContext, path: String) -> Result<u64, WorkflowError> { Ok(0) }
    /// #[workflow]
    /// async fn nightly(ctx: WorkflowContext, files: Vec<String>) -> Result<u64, WorkflowError> {
    ///     let ctx = &ctx;
    ///     let children = files.into_iter().enumerate().map(|(i, path)| {
    ///         ctx.child(import_file, path).id(format!("{}-file-{i}", ctx.workflow_id()))
    ///     });
    ///     let mut rows = 0;
    ///     for result in join_all(children).await {
    ///         rows += result?;
    ///     }
    ///     Ok(rows)
    /// }
    /// ```
    pub fn child<W: Workflow>(&self, workflow: W, input: W::Input) -> ChildCall<W> {
        let _ = workflow;
        ChildCall::new(self.clone(), input)
    }

    /// Whether this run takes the new branch of patch `id`, as in Temporal:
    /// `true` when the code runs live (the check is recorded), `false` when
    /// the run replays history recorded before the patch existed at that
    /// point. The first answer for an id holds for the rest of the run.
    ///
    /// Once no run of the old code is left, replace the check with
    /// [`deprecate_patch`](Self::deprecate_patch) and keep only the new
    /// branch; once no run from before that is left, remove that call too.
    /// See `docs/VERSIONING.md`.
    ///
    /// ```
    /// # use reprise::prelude::*;
    /// # #[activity] async fn dedupe(n: u64) -> Result<u64, ActivityError> { Ok(n) }
    /// # #[activity] async fn load(n: u64) -> Result<u64, ActivityError> { Ok(n) }
    /// #[workflow]
    /// async fn import(ctx: WorkflowContext, rows: u64) -> Result<u64, WorkflowError> {
    ///     let rows = if ctx.patched("dedupe-v2") {
    ///         ctx.activity(dedupe, rows).await?
    ///     } else {
    ///         rows
    ///     };
    ///     Ok(ctx.activity(load, rows).await?)
    /// }
    /// ```
    pub fn patched(&self, id: &str) -> bool {
        patch::patched(&mut self.core(), id)
    }

    /// Marks patch `id` as the only branch left: records it live like
    /// [`patched`](Self::patched) (so that runs started now still replay on
    /// code that checks it), and never diverges on replay, recorded or not.
    pub fn deprecate_patch(&self, id: &str) {
        patch::deprecate(&mut self.core(), id)
    }

    fn marker<T, F>(&self, kind: MarkerKind, produce: F) -> T
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> T,
    {
        marker::value(|| self.core(), kind, produce)
    }
}
