//! Child workflows: [`ChildCall`], the command that starts one (a new
//! workflow created in the parent's step), the events of its start and of
//! its result, and what a run's end tells its parent and its children.
//!
//! A child is an ordinary workflow whose `WorkflowStarted` event names its
//! parent ([`ParentRef`]): when its last run ends, that run's step adds the
//! result to the parent's inbox in the same transaction, and any worker
//! holding the parent delivers it. The parent's history holds one event per
//! child start (`ChildStarted`) and one per result (`ChildCompleted` /
//! `ChildFailed`), however many children it has.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CallState, CommandKey, Effects, Issued, Resolution, Scope};
use crate::context::WorkflowContext;
use crate::definition::Workflow;
use crate::error::{WorkflowError, WorkflowErrorKind};
use crate::history::Event;
use crate::run::{RunCore, RunFault};
use crate::store::{InboxItem, Message, NewChild, NewWorkflow};

/// What happens to a child workflow still running when its parent's run
/// ends (completes, fails, is cancelled, terminated, times out or
/// continues as new).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParentClose {
    /// The child is asked to cancel (`Runtime::cancel`). The default.
    #[default]
    Cancel,
    /// The child is terminated: none of its code runs any more.
    Terminate,
    /// The child goes on on its own; nobody waits for its result.
    Abandon,
}

/// The parent of a child workflow, as its `WorkflowStarted` event names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ParentRef {
    pub(crate) workflow_id: String,
    pub(crate) run_id: String,
    /// The sequence number of the parent's call.
    pub(crate) seq: u32,
}

/// How a child workflow failed, as its parent records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ChildFailure {
    pub(crate) workflow_id: String,
    pub(crate) error: WorkflowError,
    /// The child was never started: a workflow with its id exists already.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) already_exists: bool,
}

/// The error of a child workflow call: the child failed, was cancelled,
/// terminated or timed out, or could not start because a workflow with its
/// id exists already.
///
/// `?` converts it into the parent's [`WorkflowError`] (kind `ChildFailed`;
/// a cancelled child's error stays a cancellation).
#[derive(Debug, Clone, PartialEq)]
pub struct ChildError {
    failure: ChildFailure,
}

impl ChildError {
    /// The child's workflow id.
    pub fn workflow_id(&self) -> &str {
        &self.failure.workflow_id
    }

    /// The child's own error (its `error_kind()` says whether it failed,
    /// was cancelled, terminated or timed out).
    pub fn error(&self) -> &WorkflowError {
        &self.failure.error
    }

    /// Whether the child was never started because a workflow with its id
    /// exists already.
    pub fn is_already_exists(&self) -> bool {
        self.failure.already_exists
    }

    /// Whether the child was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.failure.error.is_cancelled()
    }

    /// Whether the child ran out of its workflow timeout.
    pub fn is_timed_out(&self) -> bool {
        self.failure.error.error_kind() == WorkflowErrorKind::TimedOut
    }
}

impl fmt::Display for ChildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.failure.already_exists {
            write!(
                f,
                "child workflow `{}` was not started: a workflow with that id exists already",
                self.failure.workflow_id
            )
        } else {
            write!(
                f,
                "child workflow `{}` failed: {}",
                self.failure.workflow_id, self.failure.error
            )
        }
    }
}

impl std::error::Error for ChildError {}

impl From<ChildError> for WorkflowError {
    fn from(e: ChildError) -> Self {
        if e.is_cancelled() {
            return e.failure.error;
        }
        WorkflowError::with_kind(WorkflowErrorKind::Child, CHILD_FAILED, e.to_string())
    }
}

/// [`WorkflowError::kind`] of a parent's error converted from a [`ChildError`].
pub(crate) const CHILD_FAILED: &str = "ChildFailed";

/// The command: start child workflow `workflow_id` of type `name` at `seq`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Start {
    pub(crate) seq: u32,
    pub(crate) workflow_id: String,
    pub(crate) name: String,
    pub(crate) input: Value,
    pub(crate) parent_close: ParentClose,
}

impl Start {
    pub(crate) fn key(&self) -> CommandKey {
        CommandKey::Child(self.name.clone())
    }

    /// `ChildStarted`, and the child workflow created in the same
    /// transaction (or, if its id is taken, a failure for the parent).
    pub(super) fn record(self, scope: &Scope<'_>, effects: &mut Effects) {
        effects.events.push(Event::ChildStarted {
            seq: self.seq,
            name: self.name.clone(),
            workflow_id: self.workflow_id.clone(),
            parent_close: self.parent_close,
        });
        let parent = ParentRef {
            workflow_id: scope.workflow_id.to_owned(),
            run_id: scope.run_id.to_owned(),
            seq: self.seq,
        };
        let started = Event::WorkflowStarted {
            name: self.name.clone(),
            input: self.input,
            signals: Vec::new(),
            parent: Some(Box::new(parent.clone())),
            deadline_ms: None,
        };
        let conflict = ChildFailure {
            workflow_id: self.workflow_id.clone(),
            error: WorkflowError::with_kind(
                WorkflowErrorKind::Runtime,
                "WorkflowExists",
                format!("a workflow with id `{}` exists already", self.workflow_id),
            ),
            already_exists: true,
        };
        effects.children.push(NewChild {
            workflow: NewWorkflow {
                workflow_id: self.workflow_id,
                run_id: uuid::Uuid::new_v4().to_string(),
                name: self.name,
                started_event: serde_json::to_string(&started).expect("events encode to JSON"),
                now_ms: scope.now_ms,
                owner: None,
            },
            on_conflict: result_message(&parent, Err(conflict)),
        });
    }
}

/// The message that hands a child's result to its parent.
fn result_message(parent: &ParentRef, result: Result<Value, ChildFailure>) -> Message {
    Message {
        workflow_id: parent.workflow_id.clone(),
        item: InboxItem::Child {
            run_id: parent.run_id.clone(),
            seq: parent.seq,
            result,
        },
    }
}

/// What the end of run of workflow `workflow_id` tells others, however it
/// ended (its code returned, it was terminated, it timed out): its parent
/// gets `result` (`None` on continue-as-new: the next run reports), its
/// children still open get their parent-close policies.
pub(crate) fn end_messages<'a>(
    workflow_id: &str,
    parent: Option<&ParentRef>,
    result: Option<Result<Value, WorkflowError>>,
    children: impl IntoIterator<Item = &'a OpenChild>,
) -> Vec<Message> {
    let mut messages = close_messages(children, workflow_id);
    if let (Some(parent), Some(result)) = (parent, result) {
        let result = result.map_err(|error| ChildFailure {
            workflow_id: workflow_id.to_owned(),
            error,
            already_exists: false,
        });
        messages.push(result_message(parent, result));
    }
    messages
}

/// A child started and not yet resolved, as its parent's run remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenChild {
    pub(crate) workflow_id: String,
    pub(crate) parent_close: ParentClose,
}

/// What a run's end does to its children still open, by their policies.
pub(crate) fn close_messages<'a>(
    children: impl IntoIterator<Item = &'a OpenChild>,
    workflow_id: &str,
) -> Vec<Message> {
    children
        .into_iter()
        .filter_map(|child| {
            let item = match child.parent_close {
                ParentClose::Cancel => InboxItem::Cancel,
                ParentClose::Terminate => InboxItem::Terminate {
                    reason: format!("its parent workflow `{workflow_id}` closed"),
                },
                ParentClose::Abandon => return None,
            };
            Some(Message {
                workflow_id: child.workflow_id.clone(),
                item,
            })
        })
        .collect()
}

/// The event recording a child's result.
pub(super) fn completion_event(seq: u32, result: &Result<Value, Box<ChildFailure>>) -> Event {
    match result {
        Ok(output) => Event::ChildCompleted {
            seq,
            output: output.clone(),
        },
        Err(failure) => Event::ChildFailed {
            seq,
            failure: failure.clone(),
        },
    }
}

/// The completion an event records, if it is a child's result.
pub(super) fn resolution_of(event: &Event) -> Option<(u32, Resolution)> {
    match event {
        Event::ChildCompleted { seq, output } => {
            Some((*seq, Resolution::Child(Ok(output.clone()))))
        }
        Event::ChildFailed { seq, failure } => {
            Some((*seq, Resolution::Child(Err(failure.clone()))))
        }
        _ => None,
    }
}

/// A child workflow call: a future of the child's result.
///
/// Made by [`WorkflowContext::child`]. The child starts when the future is
/// first polled, in the same transaction as the parent's step; its result
/// is recorded in the parent's history once.
#[must_use = "a child workflow call does nothing until it is awaited"]
pub struct ChildCall<W: Workflow> {
    ctx: WorkflowContext,
    input: Option<W::Input>,
    id: Option<String>,
    parent_close: ParentClose,
    state: CallState,
    _workflow: PhantomData<fn() -> W>,
}

// Nothing in a `ChildCall` is ever pinned in place.
impl<W: Workflow> Unpin for ChildCall<W> {}

impl<W: Workflow> fmt::Debug for ChildCall<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildCall")
            .field("workflow", &W::NAME)
            .field("id", &self.id)
            .field("parent_close", &self.parent_close)
            .finish_non_exhaustive()
    }
}

impl<W: Workflow> ChildCall<W> {
    pub(crate) fn new(ctx: WorkflowContext, input: W::Input) -> Self {
        Self {
            ctx,
            input: Some(input),
            id: None,
            parent_close: ParentClose::default(),
            state: CallState::New,
            _workflow: PhantomData,
        }
    }

    /// The child's workflow id. By default `<parent id>/<sequence number>`:
    /// unique, and the same on replay.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// What happens to the child if the parent's run ends first
    /// ([`ParentClose::Cancel`] by default).
    pub fn parent_close(mut self, policy: ParentClose) -> Self {
        self.parent_close = policy;
        self
    }

    fn start(&mut self, core: &mut RunCore) -> Option<u32> {
        let seq = core.next_seq();
        let input = match self.input.take().map(serde_json::to_value) {
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                core.set_fault(RunFault::Decode {
                    seq,
                    what: format!("the input of child workflow `{}`", W::NAME),
                    error: format!("it does not serialize: {e}"),
                });
                return None;
            }
            None => unreachable!("a child workflow is started once"),
        };
        let workflow_id = self
            .id
            .take()
            .unwrap_or_else(|| format!("{}/{seq}", core.workflow_id));
        let command = Issued::Child(Start {
            seq,
            workflow_id,
            name: W::NAME.to_owned(),
            input,
            parent_close: self.parent_close,
        });
        core.issue(seq, command).then_some(seq)
    }
}

impl<W: Workflow> Drop for ChildCall<W> {
    /// A child whose call is dropped while it runs goes on; its result is
    /// recorded when it comes, and kept nowhere.
    fn drop(&mut self) {
        if let CallState::Waiting(seq) = self.state {
            self.ctx.core().drop_call(seq);
        }
    }
}

impl<W: Workflow> Future for ChildCall<W> {
    type Output = Result<W::Output, ChildError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let ctx = this.ctx.clone();
        let mut core = ctx.core();
        if core.has_fault() {
            return Poll::Pending;
        }
        let seq = match this.state {
            CallState::New => match this.start(&mut core) {
                Some(seq) => {
                    this.state = CallState::Waiting(seq);
                    seq
                }
                None => return Poll::Pending,
            },
            CallState::Waiting(seq) => seq,
            CallState::Done => panic!("`ChildCall` polled after it completed"),
        };
        match core.take_resolution(seq) {
            None => {
                core.wait(seq, cx.waker());
                Poll::Pending
            }
            Some(Resolution::Child(Ok(output))) => match serde_json::from_value(output) {
                Ok(output) => {
                    this.state = CallState::Done;
                    Poll::Ready(Ok(output))
                }
                Err(e) => {
                    core.set_fault(RunFault::Decode {
                        seq,
                        what: format!("child workflow `{}`", W::NAME),
                        error: e.to_string(),
                    });
                    Poll::Pending
                }
            },
            Some(Resolution::Child(Err(failure))) => {
                this.state = CallState::Done;
                if failure.error.is_cancelled() {
                    core.see_cancel();
                }
                Poll::Ready(Err(ChildError { failure: *failure }))
            }
            Some(other) => {
                core.set_fault(RunFault::Nondeterminism {
                    seq,
                    recorded: other.describe().to_owned(),
                    asked: format!("child workflow `{}`", W::NAME),
                });
                Poll::Pending
            }
        }
    }
}
