//! [`WorkflowContext`]: the durable calls a workflow body makes.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::definition::{Activity, ActivityOptions, Rate};
use crate::error::{ActivityError, WorkflowError, WorkflowErrorKind};
use crate::history::{MarkerKind, Resolution};
use crate::retry::RetryPolicy;
use crate::run::{lock, Issued, RunCore, RunFault};
use crate::signal::Signal;

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

    fn lock(&self) -> MutexGuard<'_, RunCore> {
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
        self.lock().is_replaying()
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
        ActivityCall {
            ctx: self.clone(),
            options: activity.options(),
            activity,
            input: Some(input),
            state: CallState::New,
        }
    }

    /// A durable timer: completes after `duration`, measured from the
    /// activation's time. The deadline is stored, so a restart does not
    /// extend it.
    pub fn sleep(&self, duration: Duration) -> Sleep {
        Sleep {
            ctx: self.clone(),
            duration,
            state: CallState::New,
        }
    }

    /// The current time of the workflow: the time at which the current
    /// activation started, the same on replay.
    pub fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.lock().now_ms)
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
            Ok(value) => self.lock().set_progress(value),
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
        SignalChannel {
            ctx: self.clone(),
            _signal: PhantomData,
        }
    }

    /// Whether the workflow was asked to cancel.
    pub fn is_cancelled(&self) -> bool {
        let mut core = self.lock();
        core.see_cancel();
        core.is_cancelled()
    }

    /// Completes when the workflow is asked to cancel. Race it against a
    /// timer or a signal in a `biased` `select!` to clean up there; a timer or
    /// signal await that is polled after cancellation ends the run instead.
    pub fn cancelled(&self) -> Cancelled {
        Cancelled { ctx: self.clone() }
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
                self.lock().set_continue_as_new(value);
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

    fn marker<T, F>(&self, kind: MarkerKind, produce: F) -> T
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> T,
    {
        let mut core = self.lock();
        let seq = core.next_seq();
        if core.is_replaying() {
            if let Some(value) = core.replay_marker(seq, kind) {
                match serde_json::from_value(value) {
                    Ok(v) => return v,
                    Err(e) => core.set_fault(RunFault::Decode {
                        seq,
                        what: kind.describe().to_owned(),
                        error: e.to_string(),
                    }),
                }
            }
            // The run is stopped and nothing of this activation is kept; the
            // body still needs a value to go on to its next await.
            drop(core);
            return produce();
        }
        drop(core);
        let value = produce();
        let mut core = self.lock();
        match serde_json::to_value(&value) {
            Ok(json) => core.push_marker(seq, kind, json),
            Err(e) => core.set_fault(RunFault::Decode {
                seq,
                what: kind.describe().to_owned(),
                error: format!("the value does not serialize: {e}"),
            }),
        }
        value
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    New,
    Waiting(u32),
    Done,
}

/// A call of an activity from a workflow: a future of the activity's result.
///
/// Made by [`WorkflowContext::activity`]. The builder methods override the
/// activity's options for this call only.
#[must_use = "an activity call does nothing until it is awaited"]
pub struct ActivityCall<A: Activity> {
    ctx: WorkflowContext,
    activity: A,
    input: Option<A::Input>,
    options: ActivityOptions,
    state: CallState,
}

// Nothing in an `ActivityCall` is ever pinned in place.
impl<A: Activity> Unpin for ActivityCall<A> {}

impl<A: Activity> fmt::Debug for ActivityCall<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActivityCall")
            .field("activity", &A::NAME)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<A: Activity> ActivityCall<A> {
    /// Overrides the longest time one attempt may run.
    pub fn start_to_close(mut self, timeout: Duration) -> Self {
        self.options.start_to_close = Some(timeout);
        self
    }

    /// Overrides the longest time the whole call may take, retries included.
    pub fn schedule_to_close(mut self, timeout: Duration) -> Self {
        self.options.schedule_to_close = Some(timeout);
        self
    }

    /// Overrides the longest time between two heartbeats.
    pub fn heartbeat_timeout(mut self, timeout: Duration) -> Self {
        self.options.heartbeat_timeout = Some(timeout);
        self
    }

    /// Overrides the retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = policy;
        self
    }

    /// Overrides how many attempts of the activity may run at once, per
    /// limit key, across every worker of the store. Each waiting attempt
    /// compares the running count with its own call's limit.
    ///
    /// # Panics
    ///
    /// When `n` is 0.
    pub fn max_concurrent(mut self, n: u32) -> Self {
        assert!(n > 0, "`max_concurrent` must be at least 1");
        self.options.max_concurrent = Some(n);
        self
    }

    /// Overrides how many attempts of the activity may start per period,
    /// per limit key, across every worker of the store.
    pub fn rate(mut self, rate: Rate) -> Self {
        self.options.rate = Some(rate);
        self
    }

    /// Applies the activity's limits per `key` (a tenant, a source table):
    /// calls with different keys do not count against each other. Calls
    /// without a key share one limit.
    pub fn limit_key(mut self, key: impl Into<String>) -> Self {
        self.options.limit_key = Some(key.into());
        self
    }

    fn schedule(&mut self, core: &mut RunCore) -> Option<u32> {
        let seq = core.next_seq();
        let name = A::NAME;
        if !core.check_only && !core.registry.has_activity(name) {
            core.set_fault(RunFault::UnregisteredActivity {
                name: name.to_owned(),
            });
            return None;
        }
        let input = self.input.take().map(serde_json::to_value);
        let input = match input {
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                core.set_fault(RunFault::Decode {
                    seq,
                    what: format!("the input of activity `{name}`"),
                    error: format!("it does not serialize: {e}"),
                });
                return None;
            }
            None => unreachable!("an activity call is scheduled once"),
        };
        let command = Issued::Activity {
            seq,
            name: name.to_owned(),
            input,
            options: self.options.clone(),
        };
        core.issue(seq, command).then_some(seq)
    }
}

impl<A: Activity> Drop for ActivityCall<A> {
    /// A call dropped while pending keeps running (activities are not
    /// cancelled by dropping their future); its result is recorded when it
    /// comes, and kept nowhere.
    fn drop(&mut self) {
        if let CallState::Waiting(seq) = self.state {
            self.ctx.lock().drop_call(seq);
        }
    }
}

impl<A: Activity> Future for ActivityCall<A> {
    type Output = Result<A::Output, ActivityError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let ctx = this.ctx.clone();
        let mut core = ctx.lock();
        if core.has_fault() {
            return Poll::Pending;
        }
        let seq = match this.state {
            CallState::New if core.cancels_new_calls() => {
                // Cancelled before the body saw it: the call is not made.
                // Replay takes the same path (the cancellation is recorded
                // in the same activation), so nothing is recorded for it.
                core.next_seq();
                core.see_cancel();
                this.state = CallState::Done;
                return Poll::Ready(Err(ActivityError::cancelled_call()));
            }
            CallState::New => match this.schedule(&mut core) {
                Some(seq) => {
                    this.state = CallState::Waiting(seq);
                    seq
                }
                None => return Poll::Pending,
            },
            CallState::Waiting(seq) => seq,
            CallState::Done => panic!("`ActivityCall` polled after it completed"),
        };
        let _ = this.activity;
        match core.take_resolution(seq) {
            None => {
                core.wait(seq, cx.waker());
                Poll::Pending
            }
            Some(Resolution::Activity(Ok(output))) => match serde_json::from_value(output) {
                Ok(output) => {
                    this.state = CallState::Done;
                    Poll::Ready(Ok(output))
                }
                Err(e) => {
                    core.set_fault(RunFault::Decode {
                        seq,
                        what: format!("activity `{}`", A::NAME),
                        error: e.to_string(),
                    });
                    Poll::Pending
                }
            },
            Some(Resolution::Activity(Err(failure))) => {
                this.state = CallState::Done;
                if failure.cancelled {
                    core.see_cancel();
                }
                Poll::Ready(Err(ActivityError::from_data(failure)))
            }
            Some(Resolution::Timer) => {
                core.set_fault(RunFault::Nondeterminism {
                    seq,
                    recorded: "a timer firing".to_owned(),
                    asked: format!("activity `{}`", A::NAME),
                });
                Poll::Pending
            }
        }
    }
}

/// A durable timer: a future that completes when the deadline passes.
///
/// Made by [`WorkflowContext::sleep`]; the timer starts when first polled.
#[must_use = "a timer does nothing until it is awaited"]
#[derive(Debug)]
pub struct Sleep {
    ctx: WorkflowContext,
    duration: Duration,
    state: CallState,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let ctx = this.ctx.clone();
        let mut core = ctx.lock();
        if core.has_fault() {
            return Poll::Pending;
        }
        if core.is_cancelled() && this.state != CallState::Done {
            core.exit_cancelled();
            return Poll::Pending;
        }
        let seq = match this.state {
            CallState::New => {
                let seq = core.next_seq();
                let millis = u64::try_from(this.duration.as_millis()).unwrap_or(u64::MAX);
                let fire_at_ms = core.now_ms.saturating_add(millis);
                if !core.issue(seq, Issued::Timer { seq, fire_at_ms }) {
                    return Poll::Pending;
                }
                this.state = CallState::Waiting(seq);
                seq
            }
            CallState::Waiting(seq) => seq,
            CallState::Done => return Poll::Ready(()),
        };
        match core.take_resolution(seq) {
            None => {
                core.wait(seq, cx.waker());
                Poll::Pending
            }
            Some(Resolution::Timer) => {
                this.state = CallState::Done;
                Poll::Ready(())
            }
            Some(Resolution::Activity(_)) => {
                core.set_fault(RunFault::Nondeterminism {
                    seq,
                    recorded: "an activity result".to_owned(),
                    asked: "a timer (`ctx.sleep(..)`)".to_owned(),
                });
                Poll::Pending
            }
        }
    }
}

impl Drop for Sleep {
    /// A timer dropped before it fired (the losing branch of a `select!`) is
    /// cancelled durably: its task is deleted and it never fires.
    fn drop(&mut self) {
        if let CallState::Waiting(seq) = self.state {
            self.ctx.lock().drop_call(seq);
        }
    }
}

/// The signals of one type sent to a workflow; made by [`WorkflowContext::signal`].
pub struct SignalChannel<S: Signal> {
    ctx: WorkflowContext,
    _signal: PhantomData<fn() -> S>,
}

impl<S: Signal> fmt::Debug for SignalChannel<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalChannel")
            .field("signal", &S::NAME)
            .finish()
    }
}

impl<S: Signal> SignalChannel<S> {
    /// The oldest buffered signal of this type, without waiting.
    pub fn try_recv(&self) -> Option<S> {
        take::<S>(&mut self.ctx.lock())
    }

    /// Waits durably for the next signal of this type. If the workflow is
    /// cancelled while this waits, the run ends as cancelled here.
    pub fn recv(&self) -> Recv<S> {
        Recv {
            ctx: self.ctx.clone(),
            _signal: PhantomData,
        }
    }
}

/// Takes the oldest buffered signal of type `S` that decodes.
fn take<S: Signal>(core: &mut RunCore) -> Option<S> {
    while let Some(payload) = core.take_signal(S::NAME) {
        match serde_json::from_value(payload) {
            Ok(signal) => return Some(signal),
            Err(e) => {
                if !core.is_replaying() {
                    tracing::error!(
                        signal = S::NAME,
                        error = %crate::error::Chain(&e),
                        "signal payload does not decode as `{}`; skipped",
                        std::any::type_name::<S>()
                    );
                }
            }
        }
    }
    None
}

/// A wait for a signal; made by [`SignalChannel::recv`].
#[must_use = "a signal wait does nothing until it is awaited"]
pub struct Recv<S: Signal> {
    ctx: WorkflowContext,
    _signal: PhantomData<fn() -> S>,
}

impl<S: Signal> fmt::Debug for Recv<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recv").field("signal", &S::NAME).finish()
    }
}

impl<S: Signal> Future for Recv<S> {
    type Output = S;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<S> {
        let mut core = self.ctx.lock();
        if core.has_fault() {
            return Poll::Pending;
        }
        if core.is_cancelled() {
            core.exit_cancelled();
            return Poll::Pending;
        }
        match take::<S>(&mut core) {
            Some(signal) => Poll::Ready(signal),
            None => {
                core.wait_signal(cx.waker());
                Poll::Pending
            }
        }
    }
}

/// Completes when the workflow is asked to cancel; made by
/// [`WorkflowContext::cancelled`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Cancelled {
    ctx: WorkflowContext,
}

impl Future for Cancelled {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut core = self.ctx.lock();
        if core.is_cancelled() {
            core.see_cancel();
            Poll::Ready(())
        } else {
            core.wait_cancel(cx.waker());
            Poll::Pending
        }
    }
}
