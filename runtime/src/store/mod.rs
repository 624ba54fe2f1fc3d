//! The store boundary: one trait, an in-memory and a SQLite implementation,
//! run by one conformance suite.
//!
//! The engine talks to the store in a few coarse operations. The important
//! one is [`Store::commit_steps`]: everything one activation of one or several runs
//! produced (history events, tasks created and completed, run status) is
//! written in one transaction, so a crash leaves either all of a step or none
//! of it. Many runs' steps share that transaction under load (group commit).

use serde_json::Value;

use crate::definition::{ActivityOptions, BoxFuture};
use crate::error::{Error, StoreError};
use crate::history::SignalData;

pub(crate) mod memory;
pub(crate) mod sqlite;

#[cfg(test)]
mod conformance;

/// Status of a run, and of a workflow (the status of its latest run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunStatus {
    Running,
    /// Stopped by a non-determinism or decoding error; resumes at the next
    /// start-up once the code is fixed.
    Blocked,
    Completed,
    Failed,
    /// Ended by `Runtime::cancel`.
    Cancelled,
    /// Ended by `Runtime::terminate`.
    Terminated,
    /// Ended by `continue_as_new`; a newer run of the workflow goes on.
    ContinuedAsNew,
}

impl RunStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Blocked => "blocked",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Terminated => "terminated",
            RunStatus::ContinuedAsNew => "continued_as_new",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => RunStatus::Running,
            "blocked" => RunStatus::Blocked,
            "completed" => RunStatus::Completed,
            "failed" => RunStatus::Failed,
            "cancelled" => RunStatus::Cancelled,
            "terminated" => RunStatus::Terminated,
            "continued_as_new" => RunStatus::ContinuedAsNew,
            _ => return None,
        })
    }

    pub(crate) fn is_finished(self) -> bool {
        !matches!(self, RunStatus::Running | RunStatus::Blocked)
    }
}

/// A run as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunRecord {
    pub(crate) workflow_id: String,
    pub(crate) run_id: String,
    pub(crate) name: String,
    pub(crate) status: RunStatus,
    /// The output (completed) or the `WorkflowError` (failed), as JSON.
    pub(crate) result: Option<Value>,
    /// Why a run is blocked or failed outside its code (corrupt history, ...).
    pub(crate) error: Option<String>,
    pub(crate) progress: Option<Value>,
    pub(crate) created_ms: u64,
    pub(crate) updated_ms: u64,
}

/// A new workflow: its first run and the run's first history event.
#[derive(Debug, Clone)]
pub(crate) struct NewWorkflow {
    pub(crate) workflow_id: String,
    pub(crate) run_id: String,
    pub(crate) name: String,
    /// `Event::WorkflowStarted`, encoded.
    pub(crate) started_event: String,
    pub(crate) now_ms: u64,
}

/// What [`Store::create_workflow`] found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Created {
    /// The workflow was created.
    New,
    /// A workflow with that id exists already; this is its latest run.
    Existing(RunRecord),
}

/// Kind of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskKind {
    Activity,
    Timer,
}

impl TaskKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TaskKind::Activity => "activity",
            TaskKind::Timer => "timer",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "activity" => Some(TaskKind::Activity),
            "timer" => Some(TaskKind::Timer),
            _ => None,
        }
    }
}

/// Work a run waits for: an activity call to execute, or a timer to fire.
/// Identified by `(run_id, seq)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Task {
    pub(crate) workflow_id: String,
    pub(crate) run_id: String,
    pub(crate) seq: u32,
    pub(crate) kind: TaskKind,
    /// Activity type name (empty for timers).
    pub(crate) name: String,
    /// Activity input (null for timers).
    pub(crate) input: Value,
    pub(crate) options: ActivityOptions,
    /// The attempt to run next (1-based; 0 for timers).
    pub(crate) attempt: u32,
    /// When the call was scheduled (Unix ms), for `schedule_to_close`.
    pub(crate) scheduled_ms: u64,
    /// When the task is due: the next attempt after a backoff, or the timer's deadline.
    pub(crate) due_ms: u64,
    /// The previous attempt's error, shown by `describe`.
    pub(crate) last_error: Option<String>,
    /// The last heartbeat details of the activity, kept across attempts.
    pub(crate) details: Option<Value>,
}

/// Everything one activation of one run writes, committed atomically.
#[derive(Debug, Clone, Default)]
pub(crate) struct StepCommit {
    pub(crate) run_id: String,
    /// Index of the first new event: must equal the run's history length, or
    /// the commit fails (another writer got there first). Not checked when
    /// `events` is empty (a change of status or progress alone).
    pub(crate) first_index: u64,
    /// New events, encoded.
    pub(crate) events: Vec<String>,
    /// Tasks this step consumed (their completion is among `events`).
    pub(crate) done_tasks: Vec<u32>,
    /// Tasks this step created.
    pub(crate) new_tasks: Vec<Task>,
    /// The run's new status, if it changed, with its result or error.
    pub(crate) status: Option<StatusChange>,
    /// The workflow's progress, if it set a new one.
    pub(crate) progress: Option<Value>,
    pub(crate) now_ms: u64,
    /// Inbox messages this step consumed (their events are among `events`).
    pub(crate) done_inbox: Vec<u64>,
    /// The run continued as new: the next run of the same workflow, which
    /// becomes the workflow's latest run.
    pub(crate) new_run: Option<NewRun>,
}

/// The next run of a workflow, created by a continue-as-new step.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NewRun {
    pub(crate) run_id: String,
    /// `Event::WorkflowStarted`, encoded.
    pub(crate) started_event: String,
}

/// A run's change of status.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StatusChange {
    pub(crate) status: RunStatus,
    pub(crate) result: Option<Value>,
    pub(crate) error: Option<String>,
}

/// A failed attempt's effect on its task: when to try again.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskRetry {
    pub(crate) run_id: String,
    pub(crate) seq: u32,
    pub(crate) next_attempt: u32,
    pub(crate) due_ms: u64,
    pub(crate) last_error: String,
}

/// A message to a workflow, kept in its inbox until a step consumes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum InboxItem {
    Signal(SignalData),
    Cancel,
    Terminate {
        reason: String,
    },
    /// A run created by a client process needs its first activation.
    Wake,
}

impl InboxItem {
    /// `(kind, payload)` as stored.
    pub(crate) fn encode(&self) -> (&'static str, Value) {
        match self {
            InboxItem::Signal(s) => (
                "signal",
                serde_json::json!({ "name": s.name, "payload": s.payload }),
            ),
            InboxItem::Cancel => ("cancel", Value::Null),
            InboxItem::Terminate { reason } => ("terminate", Value::String(reason.clone())),
            InboxItem::Wake => ("wake", Value::Null),
        }
    }

    /// The inverse of [`encode`](Self::encode).
    pub(crate) fn decode(kind: &str, payload: Value) -> Option<Self> {
        Some(match kind {
            "signal" => InboxItem::Signal(serde_json::from_value(payload).ok()?),
            "cancel" => InboxItem::Cancel,
            "wake" => InboxItem::Wake,
            "terminate" => InboxItem::Terminate {
                reason: payload.as_str()?.to_owned(),
            },
            _ => return None,
        })
    }
}

/// An inbox message with its id (arrival order) and workflow.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InboxRecord {
    pub(crate) id: u64,
    pub(crate) workflow_id: String,
    pub(crate) item: InboxItem,
}

/// What [`Store::enqueue`] did.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Enqueued {
    /// Stored with this id, for the workflow's latest run.
    Accepted { id: u64, run_id: String },
    /// No workflow has that id.
    NotFound,
    /// The workflow's latest run has ended.
    Finished(RunStatus),
}

/// The history of a run, as stored: `(index, encoded event)` in index order.
pub(crate) type HistoryRows = Vec<(u64, String)>;

/// The store boundary.
///
/// Implementations must make each method atomic, and each step of a commit
/// atomic on its own. Tasks are keyed by `(run_id, seq)`; a step that
/// completes a task that no longer exists still succeeds (the completion may
/// have been recorded by an earlier attempt), but a step whose `first_index`
/// is not the history's length fails without writing anything, and without
/// keeping the other steps of the commit from being written.
pub(crate) trait Store: Send + Sync + 'static {
    /// Creates a workflow and its first run, or returns the existing latest
    /// run of that workflow id.
    fn create_workflow(&self, new: NewWorkflow) -> BoxFuture<'_, Result<Created, StoreError>>;

    /// Commits several runs' steps together (one transaction where the
    /// store has them), each step atomic on its own: a step that fails (its
    /// run is unknown, its `first_index` is stale) writes nothing and does
    /// not keep the others from being written. Returns one result per step,
    /// in the order of `steps`.
    fn commit_steps(&self, steps: Vec<StepCommit>) -> BoxFuture<'_, Vec<Result<(), StoreError>>>;

    /// Records a failed attempt and the time of the next one.
    fn retry_task(&self, retry: TaskRetry) -> BoxFuture<'_, Result<(), StoreError>>;

    /// A run's record and its history.
    fn load_run(
        &self,
        run_id: &str,
    ) -> BoxFuture<'_, Result<Option<(RunRecord, HistoryRows)>, StoreError>>;

    /// The latest run of a workflow id.
    fn latest_run(&self, workflow_id: &str)
        -> BoxFuture<'_, Result<Option<RunRecord>, StoreError>>;

    /// Runs that are not finished (running or blocked), oldest first.
    fn unfinished_runs(&self) -> BoxFuture<'_, Result<Vec<RunRecord>, StoreError>>;

    /// Tasks of a run, or of every run when `run_id` is `None`, ordered by
    /// run id, then `seq`.
    fn tasks(&self, run_id: Option<&str>) -> BoxFuture<'_, Result<Vec<Task>, StoreError>>;

    /// Whether other processes may write to this store (so a worker must
    /// look for their requests).
    fn is_shared(&self) -> bool;

    /// Adds a message to a workflow's inbox, unless the workflow is unknown
    /// or its latest run has ended. Ids grow in arrival order and are never
    /// given twice, even once a message is consumed.
    fn enqueue(
        &self,
        workflow_id: &str,
        item: InboxItem,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Enqueued, StoreError>>;

    /// Every inbox message not yet consumed, in arrival order.
    fn inbox(&self) -> BoxFuture<'_, Result<Vec<InboxRecord>, StoreError>>;

    /// The runs of a workflow, oldest first.
    fn runs(&self, workflow_id: &str) -> BoxFuture<'_, Result<Vec<RunRecord>, StoreError>>;

    /// Stores an activity's latest heartbeat details on its task (a no-op
    /// if the task is gone).
    fn record_heartbeat(
        &self,
        run_id: &str,
        seq: u32,
        details: Value,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
}

/// Which store a runtime opens.
#[derive(Debug, Clone)]
pub(crate) enum StoreConfig {
    Memory,
    Sqlite(std::path::PathBuf, sqlite::SqliteSync),
}

impl StoreConfig {
    /// Opens the store; `worker` takes it for this process's worker.
    pub(crate) async fn open(&self, worker: bool) -> Result<std::sync::Arc<dyn Store>, Error> {
        Ok(match self {
            StoreConfig::Memory => std::sync::Arc::new(memory::MemoryStore::default()),
            StoreConfig::Sqlite(path, sync) => {
                std::sync::Arc::new(sqlite::SqliteStore::open_as(path, *sync, worker).await?)
            }
        })
    }
}
