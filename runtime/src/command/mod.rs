//! Durable commands, one module per kind.
//!
//! A workflow body does durable things through its context: it calls an
//! activity, starts a timer, receives a signal, records a marker, starts a
//! child workflow, or checks a patch. Each kind lives in one module here,
//! which owns all of it:
//!
//! * the future or method the body calls (`ActivityCall`, `Sleep`, `Recv`,
//!   `ChildCall`, `ctx.patched`, ...);
//! * the command it issues live (a variant of [`Issued`]) and the key the
//!   replay matcher compares ([`CommandKey`]);
//! * what the command writes when its activation commits: its history
//!   events, its task, the workflows or messages it creates ([`Effects`]);
//! * the completion it waits for ([`Resolution`]) and the event that
//!   records it.
//!
//! The stored event format itself is one enum, [`Event`](crate::history::Event):
//! a history row is one of its variants whatever wrote it. Adding a kind means a
//! module here, its variants in [`Issued`], [`CommandKey`] and [`Resolution`],
//! and its events.

use serde_json::Value;

use crate::history::{Event, Input};
use crate::store::{Message, NewChild, Task};

pub(crate) mod activity;
pub(crate) mod child;
pub(crate) mod marker;
pub(crate) mod patch;
pub(crate) mod signal;
pub(crate) mod timer;

pub(crate) use marker::MarkerKind;

/// A command issued by the workflow during a live activation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Issued {
    Activity(activity::Call),
    Timer(timer::Start),
    /// A timer whose `Sleep` was dropped before it fired.
    CancelTimer(u32),
    Marker(marker::Record),
    Child(child::Start),
    /// A patch's marker (`ctx.patched`, `ctx.deprecate_patch`): no sequence number.
    Patch(String),
}

impl Issued {
    /// The key the replay matcher compares, for commands with a sequence number.
    pub(crate) fn key(&self) -> Option<(u32, CommandKey)> {
        match self {
            Issued::Activity(call) => Some((call.seq, call.key())),
            Issued::Timer(start) => Some((start.seq, CommandKey::Timer)),
            Issued::Marker(record) => Some((record.seq, CommandKey::Marker(record.kind))),
            Issued::Child(start) => Some((start.seq, start.key())),
            Issued::CancelTimer(_) | Issued::Patch(_) => None,
        }
    }

    /// Adds what the command writes to the step's effects.
    pub(crate) fn record(self, scope: &Scope<'_>, effects: &mut Effects) {
        match self {
            Issued::Activity(call) => call.record(scope, effects),
            Issued::Timer(start) => start.record(scope, effects),
            Issued::CancelTimer(seq) => timer::cancel(seq, effects),
            Issued::Marker(record) => record.record(effects),
            Issued::Child(start) => start.record(scope, effects),
            Issued::Patch(id) => patch::record(id, effects),
        }
    }
}

/// A command as the replay matcher compares it: kind and name, not payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CommandKey {
    Activity(String),
    Timer,
    Marker(MarkerKind),
    Child(String),
}

impl std::fmt::Display for CommandKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandKey::Activity(name) => write!(f, "activity `{name}`"),
            CommandKey::Timer => f.write_str("timer (`ctx.sleep(..)`)"),
            CommandKey::Marker(kind) => f.write_str(kind.describe()),
            CommandKey::Child(name) => write!(f, "child workflow `{name}`"),
        }
    }
}

/// What a call at a sequence number waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pending {
    Activity,
    Timer,
    /// A child workflow: its id and policy (what the run's end does to it).
    Child(child::OpenChild),
}

impl Issued {
    /// What the call waits for, for commands that wait for a completion.
    pub(crate) fn pending(&self) -> Option<Pending> {
        match self {
            Issued::Activity(_) => Some(Pending::Activity),
            Issued::Timer(_) => Some(Pending::Timer),
            Issued::Child(start) => Some(Pending::Child(child::OpenChild {
                workflow_id: start.workflow_id.clone(),
                parent_close: start.parent_close,
            })),
            Issued::CancelTimer(_) | Issued::Marker(_) | Issued::Patch(_) => None,
        }
    }
}

/// A completion handed to the workflow in an activation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolution {
    Activity(Result<Value, crate::error::FailureData>),
    Timer,
    /// Boxed: a failure is rare, and large next to the other variants.
    Child(Result<Value, Box<child::ChildFailure>>),
}

impl Resolution {
    /// The history event recording this completion of the call at `seq`.
    pub(crate) fn to_event(&self, seq: u32) -> Event {
        match self {
            Resolution::Activity(result) => activity::completion_event(seq, result),
            Resolution::Timer => Event::TimerFired { seq },
            Resolution::Child(result) => child::completion_event(seq, result),
        }
    }

    /// What a call of kind `asked` makes of a completion of another kind: a
    /// divergence naming what the history holds.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Resolution::Activity(_) => "an activity result",
            Resolution::Timer => "a timer firing",
            Resolution::Child(_) => "a child workflow's result",
        }
    }
}

/// The input an event delivers to the workflow, if it is one.
pub(crate) fn input_of(event: &Event) -> Option<Input> {
    if let Some((seq, resolution)) = activity::resolution_of(event)
        .or_else(|| timer::resolution_of(event))
        .or_else(|| child::resolution_of(event))
    {
        return Some(Input::Resolve(seq, resolution));
    }
    match event {
        Event::SignalReceived { signal } => Some(Input::Signal(signal.clone())),
        Event::CancelRequested => Some(Input::Cancel),
        _ => None,
    }
}

/// Where a step's commands are recorded.
#[derive(Debug)]
pub(crate) struct Scope<'a> {
    pub(crate) workflow_id: &'a str,
    pub(crate) run_id: &'a str,
    pub(crate) now_ms: u64,
}

/// What a step's commands write, besides the run's own status.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub(crate) events: Vec<Event>,
    pub(crate) new_tasks: Vec<Task>,
    /// Tasks the step ends.
    pub(crate) done_tasks: Vec<u32>,
    /// Timers cancelled by this step whose tasks were stored: their
    /// deadlines are forgotten once committed.
    pub(crate) cancelled_timers: Vec<u32>,
    /// Child workflows the step starts.
    pub(crate) children: Vec<NewChild>,
    /// Messages to other workflows' inboxes.
    pub(crate) messages: Vec<Message>,
}

/// The state of a call future: not issued yet, waiting for its completion
/// at a sequence number, or done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallState {
    New,
    Waiting(u32),
    Done,
}
