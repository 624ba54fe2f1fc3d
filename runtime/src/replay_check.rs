//! Replay checks before a deploy: the current code of a workflow replayed
//! against recorded histories, without running anything or writing
//! anything, and the first divergence reported.
//!
//! * [`replay`] (re-exported as `reprise::testing::replay`) checks one
//!   history, given as the JSON of a [`WorkflowHistory`](crate::WorkflowHistory)
//!   (`rt.history(id)`, `reprise history ID --json`);
//! * [`Runtime::check_replay`](crate::Runtime::check_replay) checks every
//!   open run of a store against the runtime's registered workflow types
//!   ([`ReplayReport`]), as `reprise replay-check` does;
//! * `RuntimeBuilder::check_replay_on_start(true)` checks them when a
//!   worker starts and blocks the runs that diverge at once, instead of when
//!   each next takes a step.
//!
//! A check replays exactly as a worker does after a restart (`LiveRun`,
//! `replay.rs`): the same matching of commands by sequence number, so what
//! it reports is what a worker would block the run with. It runs no
//! activity, so the activities the code calls need not be registered.

use std::fmt;
use std::sync::Arc;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::definition::Workflow;
use crate::error::{Error, WorkflowError};
use crate::history::{Event, RecordedHistory};
use crate::registry::Registry;
use crate::replay::{LiveRun, Outcome};
use crate::run::{lock, RunFault};
use crate::status::WorkflowStatus;
use crate::store::{InboxItem, Store};

/// What kind of divergence a [`ReplayError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReplayErrorKind {
    /// The code asked for another durable call than the history recorded at
    /// a sequence number, made fewer or more calls, or ended (completed,
    /// failed, was cancelled, continued as new) where the history did not,
    /// or in another way.
    Nondeterminism,
    /// The workflow code panicked.
    Panic,
    /// A recorded value (an activity's result, a marker, the workflow's
    /// input) no longer decodes into the type the code has for it.
    Decode,
    /// The history is of another workflow type.
    WrongWorkflowType,
    /// The history is not one: not JSON of the expected shape, an event that
    /// does not decode, events out of place.
    BadHistory,
}

/// The first divergence between a workflow's current code and a recorded
/// history: what a worker would block the run with.
///
/// Its `Display` is the message a blocked run shows (without the
/// workflow and run ids): `non-determinism at sequence number 3: the
/// history recorded activity `load`, but the code asked for timer
/// (`ctx.sleep(..)`)`.
///
/// | kind | `seq` | `recorded` | `asked` |
/// | --- | --- | --- | --- |
/// | `Nondeterminism` | where it diverged | what the history holds there | what the code did instead |
/// | `Decode` | the value's (`None`: the input) | the value (`activity `load``) | why it does not decode |
/// | `Panic` | `None` | empty | the panic's message |
/// | `WrongWorkflowType` | `None` | the history's type | the code's type |
/// | `BadHistory` | `None` | empty | empty |
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReplayError {
    /// What kind of divergence.
    pub kind: ReplayErrorKind,
    /// The sequence number of the durable call where the code diverged.
    pub seq: Option<u32>,
    /// What the history recorded there.
    pub recorded: String,
    /// What the code asked for instead.
    pub asked: String,
    /// The whole message, as `Display` shows it.
    pub message: String,
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ReplayError {}

impl ReplayError {
    fn bad_history(message: impl Into<String>) -> Self {
        Self {
            kind: ReplayErrorKind::BadHistory,
            seq: None,
            recorded: String::new(),
            asked: String::new(),
            message: message.into(),
        }
    }

    fn wrong_type(recorded: &str, asked: &str) -> Self {
        Self {
            kind: ReplayErrorKind::WrongWorkflowType,
            seq: None,
            recorded: recorded.to_owned(),
            asked: asked.to_owned(),
            message: format!(
                "the history is of workflow type `{recorded}`, not `{asked}`: \
                 replay it against the code of `{recorded}`"
            ),
        }
    }

    fn from_fault(fault: RunFault) -> Self {
        let message = fault.to_string();
        let (kind, seq, recorded, asked) = match fault {
            RunFault::Nondeterminism {
                seq,
                recorded,
                asked,
            } => (ReplayErrorKind::Nondeterminism, Some(seq), recorded, asked),
            RunFault::Decode { seq, what, error } => {
                (ReplayErrorKind::Decode, Some(seq), what, error)
            }
            RunFault::Panic { message } => (ReplayErrorKind::Panic, None, String::new(), message),
            // Only a check with the activities registered (at a worker's
            // start) sees it: the code calls an activity the worker lacks.
            RunFault::UnregisteredActivity { name } => (
                ReplayErrorKind::Nondeterminism,
                None,
                String::new(),
                format!("activity `{name}`, which is not registered"),
            ),
        };
        Self {
            kind,
            seq,
            recorded,
            asked,
            message,
        }
    }

    fn input(name: &str, error: &WorkflowError) -> Self {
        Self {
            kind: ReplayErrorKind::Decode,
            seq: None,
            recorded: format!("the input of workflow `{name}`"),
            asked: error.message().to_owned(),
            message: error.message().to_owned(),
        }
    }
}

/// Replays the current code of `workflow` against a recorded history and
/// reports the first divergence, as a worker would find it after a deploy.
/// Nothing runs: activity calls are matched against the history, not
/// executed, and need not be registered anywhere.
///
/// `history` is the JSON of a [`WorkflowHistory`](crate::WorkflowHistory):
/// `serde_json::to_value(rt.history(id).await?)`, or the output of
/// `reprise history ID --json`; a bare array of its events is accepted
/// too. A history that stops while the run is open replays fine up to its
/// end (what the code would do next is not recorded, so it is not
/// checked); a history that ends is checked to end the same way
/// (completed, failed, cancelled, continued as new; a termination is not
/// the code's doing and is not compared).
///
/// ```
/// use reprise::prelude::*;
/// use reprise::testing::{replay, ReplayErrorKind};
///
/// #[activity]
/// async fn load(n: u64) -> Result<u64, ActivityError> { Ok(n) }
///
/// // Version 2 sleeps before it loads...
/// #[workflow]
/// async fn etl(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
///     ctx.sleep(Duration::from_secs(60)).await;
///     Ok(ctx.activity(load, n).await?)
/// }
///
/// // ... but version 1, which recorded this history, loaded first.
/// let history = json!({ "events": [
///     { "type": "WorkflowStarted", "name": "etl", "input": 7 },
///     { "type": "Activation", "time_ms": 1_800_000_000_000u64 },
///     { "type": "ActivityScheduled", "seq": 0, "name": "load" },
/// ]});
/// let err = replay(etl, &history).unwrap_err();
/// assert_eq!(err.kind, ReplayErrorKind::Nondeterminism);
/// assert_eq!(err.seq, Some(0));
/// assert_eq!(
///     err.to_string(),
///     "non-determinism at sequence number 0: the history recorded activity `load`, \
///      but the code asked for timer (`ctx.sleep(..)`)"
/// );
/// ```
///
/// # Errors
///
/// The first divergence; [`ReplayErrorKind::WrongWorkflowType`] for a
/// history of another workflow type; [`ReplayErrorKind::BadHistory`] for
/// JSON that is not a history.
pub fn replay<W: Workflow>(workflow: W, history: &Value) -> Result<(), ReplayError> {
    let (events, ids) = match history {
        Value::Array(events) => (events, None),
        Value::Object(fields) => match fields.get("events") {
            Some(Value::Array(events)) => (events, Some(fields)),
            Some(_) => {
                return Err(ReplayError::bad_history(
                    "the history's `events` is not an array",
                ))
            }
            None => {
                return Err(ReplayError::bad_history(
                    "not a history: expected the JSON of a `WorkflowHistory` (an object with \
                     `events`, as `reprise history ID --json` prints) or an array of events",
                ))
            }
        },
        other => {
            return Err(ReplayError::bad_history(format!(
                "not a history: expected the JSON of a `WorkflowHistory` or an array of \
                 events, found {}",
                json_kind(other)
            )))
        }
    };
    let id = |field: &str, default: &str| {
        ids.and_then(|f| f.get(field))
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_owned()
    };
    let rows: Vec<(u64, String)> = events
        .iter()
        .enumerate()
        .map(|(i, event)| (i as u64, event.to_string()))
        .collect();
    let mut registry = Registry::default();
    registry.add_workflow(workflow);
    check_history(
        &Arc::new(registry),
        true,
        &id("workflow_id", "replay-check"),
        &id("run_id", "replay-check"),
        &rows,
        W::NAME,
    )
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Replays stored rows `(index, event JSON)` of a run of workflow type
/// `name` against the code `registry` has for it. `check_only`: activities
/// need not be registered (nothing will run).
pub(crate) fn check_history(
    registry: &Arc<Registry>,
    check_only: bool,
    workflow_id: &str,
    run_id: &str,
    rows: &[(u64, String)],
    name: &str,
) -> Result<(), ReplayError> {
    let Some((_, last)) = rows.last() else {
        return Err(ReplayError::bad_history(
            "the history has no events: it starts with `WorkflowStarted`",
        ));
    };
    // A termination (or a timeout) is appended without polling the body: the rest is
    // replayed as the open run it was.
    let mut rows = rows;
    if matches!(
        serde_json::from_str(last),
        Ok(Event::WorkflowTerminated { .. } | Event::WorkflowTimedOut { .. })
    ) {
        rows = &rows[..rows.len() - 1];
    }
    // The end of a run that ended is its last event.
    let recorded_end = rows
        .last()
        .and_then(|(_, row)| serde_json::from_str::<Event>(row).ok());
    let history =
        RecordedHistory::decode(rows).map_err(|e| ReplayError::bad_history(e.to_string()))?;
    if history.name != name {
        return Err(ReplayError::wrong_type(&history.name, name));
    }
    let replayed = LiveRun::replay_as(
        Arc::from(workflow_id),
        Arc::from(run_id),
        registry.clone(),
        history,
        check_only,
    );
    let (run, end) = match replayed {
        Ok((_, None)) => return Ok(()),
        Ok((_, Some(Outcome::Fault(fault)))) => return Err(ReplayError::from_fault(fault)),
        Ok((run, Some(end))) => (run, end),
        Err(e) => return Err(ReplayError::input(name, &e)),
    };
    // The last activation recorded the end, and the code ended there too
    // (`LiveRun::replay` checks that much): the same way?
    let asked = match &end {
        Outcome::Finished(Ok(_)) => ("completion", "the workflow's completion (`Ok`)".into()),
        Outcome::Finished(Err(e)) => ("failure", format!("the workflow's failure (`Err`: {e})")),
        Outcome::Cancelled => ("cancellation", "the workflow's cancellation".into()),
        Outcome::ContinueAsNew(_) => ("continue", "a continue-as-new".into()),
        Outcome::Pending | Outcome::Fault(_) => return Ok(()),
    };
    let recorded = match recorded_end {
        Some(Event::WorkflowCompleted { .. }) => ("completion", "the workflow's completion"),
        Some(Event::WorkflowFailed { .. }) => ("failure", "the workflow's failure"),
        Some(Event::WorkflowCancelled) => ("cancellation", "the workflow's cancellation"),
        Some(Event::WorkflowContinuedAsNew { .. }) => ("continue", "a continue-as-new"),
        _ => return Ok(()),
    };
    if recorded.0 == asked.0 {
        return Ok(());
    }
    let seq = lock(&run.core).next_seq;
    Err(ReplayError::from_fault(RunFault::Nondeterminism {
        seq,
        recorded: recorded.1.to_owned(),
        asked: asked.1,
    }))
}

/// What replaying one open run gave: see [`RunReplay`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReplayOutcome {
    /// The code replays the run's history without divergence.
    Ok,
    /// The code diverges from the history: a worker with this code blocks
    /// the run (or has blocked it).
    Diverged {
        /// The first divergence.
        error: ReplayError,
    },
    /// The run's workflow type is not registered with this runtime: not
    /// checked.
    NotRegistered,
}

/// One open run of a [`ReplayReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RunReplay {
    /// The workflow's id.
    pub workflow_id: String,
    /// The run's id.
    pub run_id: String,
    /// The workflow type's name.
    pub workflow_type: String,
    /// The run's status: `running` or `blocked`.
    pub status: WorkflowStatus,
    /// What its replay gave.
    #[serde(flatten)]
    pub outcome: ReplayOutcome,
}

impl RunReplay {
    /// The divergence, if the run diverged.
    pub fn error(&self) -> Option<&ReplayError> {
        match &self.outcome {
            ReplayOutcome::Diverged { error } => Some(error),
            _ => None,
        }
    }
}

/// What [`Runtime::check_replay`](crate::Runtime::check_replay) found: every
/// open run (running or blocked) of the store, oldest first, replayed
/// against the runtime's code.
///
/// It serializes (for `reprise replay-check --json`) as
/// `{"runs": [...], "ok": N, "diverged": N, "not_registered": N}`, each run
/// with `workflow_id`, `run_id`, `workflow_type`, `status` and `outcome`
/// (`ok`, `diverged` with an `error` — `kind`, `seq`, `recorded`, `asked`,
/// `message` — or `not_registered`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplayReport {
    /// The open runs, oldest first.
    pub runs: Vec<RunReplay>,
}

impl ReplayReport {
    /// The runs whose replay diverged, with their divergence.
    pub fn divergences(&self) -> impl Iterator<Item = (&RunReplay, &ReplayError)> {
        self.runs.iter().filter_map(|run| Some((run, run.error()?)))
    }

    /// The runs of workflow types this runtime does not have registered.
    pub fn not_registered(&self) -> impl Iterator<Item = &RunReplay> {
        self.runs
            .iter()
            .filter(|run| run.outcome == ReplayOutcome::NotRegistered)
    }

    /// Whether no run diverged (runs of types not registered here were not
    /// checked, and do not count).
    pub fn is_clean(&self) -> bool {
        self.divergences().next().is_none()
    }

    fn count(&self, what: fn(&ReplayOutcome) -> bool) -> usize {
        self.runs.iter().filter(|run| what(&run.outcome)).count()
    }
}

impl Serialize for ReplayReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_struct("ReplayReport", 4)?;
        out.serialize_field("runs", &self.runs)?;
        out.serialize_field("ok", &self.count(|o| *o == ReplayOutcome::Ok))?;
        out.serialize_field(
            "diverged",
            &self.count(|o| matches!(o, ReplayOutcome::Diverged { .. })),
        )?;
        out.serialize_field(
            "not_registered",
            &self.count(|o| *o == ReplayOutcome::NotRegistered),
        )?;
        out.end()
    }
}

/// Replays every open run of `store` whose type `registry` has, as a replay
/// check (nothing runs, nothing is written).
pub(crate) async fn check_store(
    store: &dyn Store,
    registry: &Arc<Registry>,
) -> Result<ReplayReport, Error> {
    let mut report = ReplayReport::default();
    for record in store.unfinished_runs().await? {
        let mut run = RunReplay {
            workflow_id: record.workflow_id.clone(),
            run_id: record.run_id.clone(),
            workflow_type: record.name.clone(),
            status: record.status,
            outcome: ReplayOutcome::NotRegistered,
        };
        if registry.workflow(&record.name).is_some() {
            // Read again: it may have ended since it was listed.
            let Some((record, rows)) = store.load_run(&record.run_id).await? else {
                continue;
            };
            if record.status.is_finished() {
                continue;
            }
            run.status = record.status;
            run.outcome = match check_history(
                registry,
                true,
                &record.workflow_id,
                &record.run_id,
                &rows,
                &record.name,
            ) {
                Ok(()) => ReplayOutcome::Ok,
                Err(error) => ReplayOutcome::Diverged { error },
            };
            // Replays are CPU work: let the runtime's other tasks in.
            tokio::task::yield_now().await;
        }
        report.runs.push(run);
    }
    Ok(report)
}

/// At a worker's start (`check_replay_on_start`): replays every running
/// run of a type `registry` has, with its activities as registered, as the
/// worker would when the run next takes a step, and asks for the divergent
/// ones to be resumed now (`InboxItem::Wake`). The worker's start claims
/// them with their message, loads them, and blocks them with the divergence
/// as any worker does (`Executor::load`), before `build` returns. Blocked
/// runs need nothing: a starting worker retries them anyway. Returns how
/// many runs diverge.
pub(crate) async fn wake_divergent_runs(
    store: &dyn Store,
    registry: &Arc<Registry>,
    now_ms: u64,
) -> Result<usize, Error> {
    let mut divergent = 0;
    let mut checked = 0;
    for record in store.unfinished_runs().await? {
        if record.status != WorkflowStatus::Running || registry.workflow(&record.name).is_none() {
            continue;
        }
        let Some((record, rows)) = store.load_run(&record.run_id).await? else {
            continue;
        };
        if record.status != WorkflowStatus::Running {
            continue;
        }
        checked += 1;
        let checked = check_history(
            registry,
            false,
            &record.workflow_id,
            &record.run_id,
            &rows,
            &record.name,
        );
        tokio::task::yield_now().await;
        let Err(error) = checked else { continue };
        divergent += 1;
        tracing::warn!(
            workflow.id = %record.workflow_id,
            run.id = %record.run_id,
            error = %error,
            "replay check at start: the run diverges from this code; it is blocked"
        );
        store
            .enqueue(&record.workflow_id, InboxItem::Wake, now_ms)
            .await?;
    }
    tracing::info!(
        checked,
        divergent,
        "replay check at start: open runs replayed against this code"
    );
    Ok(divergent)
}
