//! Durable timers: [`Sleep`], the command that starts one (and the one that
//! cancels it when its future is dropped), its task, and the event of its firing.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use serde_json::Value;

use super::{CallState, Effects, Issued, Resolution, Scope};
use crate::context::WorkflowContext;
use crate::history::Event;
use crate::run::RunFault;
use crate::store::{Task, TaskKind};

/// The sequence number of a workflow's timeout timer
/// (`StartWorkflow::timeout`): no call takes it.
pub(crate) const TIMEOUT_SEQ: u32 = u32::MAX;

/// The command: start the timer at `seq`, firing at `fire_at_ms` (Unix ms).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Start {
    pub(crate) seq: u32,
    pub(crate) fire_at_ms: u64,
}

impl Start {
    /// `TimerStarted`, and the task that fires it.
    pub(super) fn record(self, scope: &Scope<'_>, effects: &mut Effects) {
        effects.events.push(Event::TimerStarted {
            seq: self.seq,
            fire_at_ms: self.fire_at_ms,
        });
        effects.new_tasks.push(self.task(scope));
    }

    /// The task that fires the timer at its deadline.
    pub(crate) fn task(&self, scope: &Scope<'_>) -> Task {
        Task {
            workflow_id: scope.workflow_id.to_owned(),
            run_id: scope.run_id.to_owned(),
            seq: self.seq,
            kind: TaskKind::Timer,
            name: String::new(),
            input: Value::Null,
            options: Default::default(),
            attempt: 0,
            scheduled_ms: scope.now_ms,
            due_ms: self.fire_at_ms,
            last_error: None,
            details: None,
            heartbeat_ms: None,
            token: 0,
            slot_wait_ms: None,
        }
    }
}

/// `TimerCancelled`: a timer started in this very step is never stored nor
/// armed; an older one's task ends, and its deadline is forgotten.
pub(super) fn cancel(seq: u32, effects: &mut Effects) {
    effects.events.push(Event::TimerCancelled { seq });
    let before = effects.new_tasks.len();
    effects
        .new_tasks
        .retain(|t| !(t.kind == TaskKind::Timer && t.seq == seq));
    if effects.new_tasks.len() == before {
        effects.done_tasks.push(seq);
        effects.cancelled_timers.push(seq);
    }
}

/// The completion an event records, if it is a timer's firing.
pub(super) fn resolution_of(event: &Event) -> Option<(u32, Resolution)> {
    match event {
        Event::TimerFired { seq } => Some((*seq, Resolution::Timer)),
        _ => None,
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

impl Sleep {
    pub(crate) fn new(ctx: WorkflowContext, duration: Duration) -> Self {
        Self {
            ctx,
            duration,
            state: CallState::New,
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let ctx = this.ctx.clone();
        let mut core = ctx.core();
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
                if !core.issue(seq, Issued::Timer(Start { seq, fire_at_ms })) {
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
            Some(other) => {
                core.set_fault(RunFault::Nondeterminism {
                    seq,
                    recorded: other.describe().to_owned(),
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
            self.ctx.core().drop_call(seq);
        }
    }
}
