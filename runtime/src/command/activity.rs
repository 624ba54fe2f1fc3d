//! Activity calls: [`ActivityCall`], the command that schedules one, its
//! task, and the events of its completion.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use serde_json::Value;

use super::{CallState, CommandKey, Effects, Issued, Resolution, Scope};
use crate::context::WorkflowContext;
use crate::definition::{Activity, ActivityOptions, Rate};
use crate::error::{ActivityError, FailureData};
use crate::history::Event;
use crate::retry::RetryPolicy;
use crate::run::{RunCore, RunFault};
use crate::store::{Task, TaskKind};

/// The command: call activity `name` with `input` at `seq`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    pub(crate) seq: u32,
    pub(crate) name: String,
    pub(crate) input: Value,
    pub(crate) options: ActivityOptions,
}

impl Call {
    pub(crate) fn key(&self) -> CommandKey {
        CommandKey::Activity(self.name.clone())
    }

    /// `ActivityScheduled`, and the task a worker runs.
    pub(super) fn record(self, scope: &Scope<'_>, effects: &mut Effects) {
        effects.events.push(Event::ActivityScheduled {
            seq: self.seq,
            name: self.name.clone(),
        });
        effects.new_tasks.push(Task {
            workflow_id: scope.workflow_id.to_owned(),
            run_id: scope.run_id.to_owned(),
            seq: self.seq,
            kind: TaskKind::Activity,
            name: self.name,
            input: self.input,
            options: self.options,
            attempt: 1,
            scheduled_ms: scope.now_ms,
            due_ms: scope.now_ms,
            last_error: None,
            details: None,
            heartbeat_ms: None,
            token: 0,
            slot_wait_ms: None,
        });
    }
}

/// The event recording an activity call's result.
pub(super) fn completion_event(seq: u32, result: &Result<Value, FailureData>) -> Event {
    match result {
        Ok(output) => Event::ActivityCompleted {
            seq,
            output: output.clone(),
        },
        Err(failure) => Event::ActivityFailed {
            seq,
            failure: failure.clone(),
        },
    }
}

/// The completion an event records, if it is an activity's.
pub(super) fn resolution_of(event: &Event) -> Option<(u32, Resolution)> {
    match event {
        Event::ActivityCompleted { seq, output } => {
            Some((*seq, Resolution::Activity(Ok(output.clone()))))
        }
        Event::ActivityFailed { seq, failure } => {
            Some((*seq, Resolution::Activity(Err(failure.clone()))))
        }
        _ => None,
    }
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
    pub(crate) fn new(ctx: WorkflowContext, activity: A, input: A::Input) -> Self {
        Self {
            ctx,
            options: activity.options(),
            activity,
            input: Some(input),
            state: CallState::New,
        }
    }

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
        let command = Issued::Activity(Call {
            seq,
            name: name.to_owned(),
            input,
            options: self.options.clone(),
        });
        core.issue(seq, command).then_some(seq)
    }
}

impl<A: Activity> Drop for ActivityCall<A> {
    /// A call dropped while pending keeps running (activities are not
    /// cancelled by dropping their future); its result is recorded when it
    /// comes, and kept nowhere.
    fn drop(&mut self) {
        if let CallState::Waiting(seq) = self.state {
            self.ctx.core().drop_call(seq);
        }
    }
}

impl<A: Activity> Future for ActivityCall<A> {
    type Output = Result<A::Output, ActivityError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let ctx = this.ctx.clone();
        let mut core = ctx.core();
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
            Some(other) => {
                core.set_fault(RunFault::Nondeterminism {
                    seq,
                    recorded: other.describe().to_owned(),
                    asked: format!("activity `{}`", A::NAME),
                });
                Poll::Pending
            }
        }
    }
}
