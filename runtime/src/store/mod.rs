//! The store boundary: one trait, implemented by the in-memory, SQLite and
//! PostgreSQL stores and run by one conformance suite.
//!
//! The engine talks to the store in a few coarse operations:
//!
//! * **Claims.** A worker takes work under a [`Lease`]: [`Store::claim_runs`]
//!   hands it runs that have something to do (new inbox messages, a first
//!   activation, a due timer, a blocked run to retry) with their new
//!   inputs, [`Store::claim_tasks`] activity attempts nobody holds. Each
//!   claim gives the row a fresh [`Token`]; the worker renews its leases
//!   with [`Store::renew`] while it lives and gives them back with
//!   [`Store::release`]. A dead worker's leases expire and its work is
//!   claimed by the others. Lease expiry uses the store's clock.
//! * **Fenced writes.** Every write of claimed work carries the token it was
//!   claimed with. A write whose token is no longer the row's (another
//!   worker claimed it since) fails with a [`StoreError`] for which
//!   `is_fenced()` is true, and changes nothing.
//! * **Steps.** [`Store::commit_steps`] writes everything one activation of
//!   one or several runs produced (history events, tasks created and
//!   completed, inbox messages consumed, run status) in one transaction, so
//!   a crash leaves either all of a step or none of it. Many runs' steps
//!   share that transaction under load (group commit).
//! * **Completions.** An activity that finishes on a worker that does not
//!   own its run is stored with [`Store::complete_task`]: the attempt's task
//!   ends and the completion becomes an inbox message of the run, in one
//!   transaction. On the run's owner, the completion goes straight into the
//!   run's next step instead.
//! * **Slots.** An attempt of an activity with limits (`max_concurrent`,
//!   `rate`) first takes a slot with [`Store::acquire_slot`]: granted only
//!   while the running count and the recent starts of its `(activity, key)`
//!   are under the limits, counted over every worker of the store. A slot
//!   is held under the worker's lease until [`Store::release_slot`], so a
//!   dead worker's slots free themselves when its lease expires.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::command::child::ChildFailure;
use crate::definition::{ActivityOptions, BoxFuture};
use crate::error::{Error, FailureData, StoreError};
use crate::history::SignalData;

pub(crate) mod memory;
pub(crate) mod operation;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
pub(crate) mod schedules;
pub(crate) mod sqlite;

#[cfg(test)]
mod conformance;

pub(crate) use crate::status::WorkflowStatus;

/// A run as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunRecord {
    pub(crate) workflow_id: String,
    pub(crate) run_id: String,
    pub(crate) name: String,
    pub(crate) status: WorkflowStatus,
    /// The output (completed) or the `WorkflowError` (failed), as JSON.
    pub(crate) result: Option<Value>,
    /// Why a run is blocked or failed outside its code (corrupt history, ...).
    pub(crate) error: Option<String>,
    pub(crate) progress: Option<Value>,
    pub(crate) created_ms: u64,
    pub(crate) updated_ms: u64,
}

/// Which workflows [`Store::list_runs`] returns: the latest run of each
/// workflow that matches every filter given.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ListQuery {
    pub(crate) status: Option<WorkflowStatus>,
    /// The workflow type's name.
    pub(crate) name: Option<String>,
    /// Runs created at or after this time (Unix ms).
    pub(crate) since_ms: Option<u64>,
    /// Runs created before this time (Unix ms).
    pub(crate) until_ms: Option<u64>,
    /// Runs older than this position (a [`ListedRun::position`] of the
    /// previous page).
    pub(crate) before: Option<u64>,
    /// The most runs returned.
    pub(crate) limit: usize,
}

/// A run [`Store::list_runs`] returns, with its place in the listing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListedRun {
    /// The run's creation order in the store: larger is newer.
    pub(crate) position: u64,
    pub(crate) record: RunRecord,
}

/// A fencing token: the value a claim gave a run or a task. Every write of
/// claimed work carries it; a row never gets the same token twice. Rows
/// nobody ever claimed have token 0.
pub(crate) type Token = u64;

/// Who claims work, and for how long a claim lasts unrenewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lease {
    /// The worker's id (unique among live workers).
    pub(crate) worker: String,
    /// How long a claim lasts without renewal.
    pub(crate) duration: Duration,
}

impl Lease {
    pub(crate) fn duration_ms(&self) -> u64 {
        u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX)
    }
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
    /// The worker that creates the run and runs it (it owns the run with a
    /// fresh token); `None` for a client, whose run any worker claims.
    pub(crate) owner: Option<Arc<Lease>>,
}

/// What [`Store::create_workflow`] found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Created {
    /// The workflow was created; its run has this token (0 without owner).
    New { token: Token },
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
    /// When the last heartbeat was recorded (Unix ms).
    pub(crate) heartbeat_ms: Option<u64>,
    /// The token of the claim that holds the task (set by the store: the
    /// run's token for the tasks of a step, a fresh one for a claimed task).
    pub(crate) token: Token,
    /// Since when (Unix ms) the next attempt waits for a slot of its
    /// activity's limits; `None` when it does not wait for one.
    pub(crate) slot_wait_ms: Option<u64>,
}

/// Everything one activation of one run writes, committed atomically.
#[derive(Debug, Clone, Default)]
pub(crate) struct StepCommit {
    pub(crate) run_id: String,
    /// The token the run was claimed (or created) with: the step fails,
    /// fenced, unless it is still the run's.
    pub(crate) token: Token,
    /// The worker writing the step: the tasks it creates are held by it,
    /// under the run's token. `None` leaves them for any worker to claim.
    pub(crate) lease: Option<Arc<Lease>>,
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
    /// A step that ends the run (other than by continue-as-new) also drops
    /// the workflow's messages it did not consume: nothing reads them any more.
    pub(crate) done_inbox: Vec<u64>,
    /// The run continued as new: the next run of the same workflow, which
    /// becomes the workflow's latest run.
    pub(crate) new_run: Option<NewRun>,
    /// Child workflows this step starts: created unowned (any worker
    /// claims them), or, when their id is taken, their `on_conflict`
    /// message is added instead.
    pub(crate) children: Vec<NewChild>,
    /// Messages this step adds to other workflows' inboxes; a message for
    /// a workflow that is unknown or has ended is dropped.
    pub(crate) messages: Vec<Message>,
}

/// A workflow started by a step (a child), with the message its parent
/// gets instead when a workflow of that id exists already.
#[derive(Debug, Clone)]
pub(crate) struct NewChild {
    pub(crate) workflow: NewWorkflow,
    pub(crate) on_conflict: Message,
}

/// A message a step adds to a workflow's inbox.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    pub(crate) workflow_id: String,
    pub(crate) item: InboxItem,
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
    pub(crate) status: WorkflowStatus,
    pub(crate) result: Option<Value>,
    pub(crate) error: Option<String>,
}

/// A failed attempt's effect on its task: when to try again.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskRetry {
    pub(crate) run_id: String,
    pub(crate) seq: u32,
    /// The task's token: fenced unless it is still the task's.
    pub(crate) token: Token,
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
    /// Written by earlier versions; runs needing a first activation are
    /// now claimed without it.
    Wake,
    /// An activity call finished on a worker that does not own its run.
    Completed {
        seq: u32,
        result: Result<Value, FailureData>,
    },
    /// A child workflow of run `run_id` (its call at `seq`) ended.
    Child {
        run_id: String,
        seq: u32,
        result: Result<Value, ChildFailure>,
    },
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
            InboxItem::Completed { seq, result } => (
                "completed",
                match result {
                    Ok(output) => serde_json::json!({ "seq": seq, "output": output }),
                    Err(failure) => serde_json::json!({ "seq": seq, "failure": failure }),
                },
            ),
            InboxItem::Child {
                run_id,
                seq,
                result,
            } => (
                "child",
                match result {
                    Ok(output) => {
                        serde_json::json!({ "run_id": run_id, "seq": seq, "output": output })
                    }
                    Err(failure) => {
                        serde_json::json!({ "run_id": run_id, "seq": seq, "failure": failure })
                    }
                },
            ),
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
            "completed" => {
                let seq = u32::try_from(payload.get("seq")?.as_u64()?).ok()?;
                let result = match (payload.get("output"), payload.get("failure")) {
                    (Some(output), None) => Ok(output.clone()),
                    (None, Some(failure)) => Err(serde_json::from_value(failure.clone()).ok()?),
                    _ => return None,
                };
                InboxItem::Completed { seq, result }
            }
            "child" => {
                let seq = u32::try_from(payload.get("seq")?.as_u64()?).ok()?;
                let run_id = payload.get("run_id")?.as_str()?.to_owned();
                let result = match (payload.get("output"), payload.get("failure")) {
                    (Some(output), None) => Ok(output.clone()),
                    (None, Some(failure)) => Err(serde_json::from_value(failure.clone()).ok()?),
                    _ => return None,
                };
                InboxItem::Child {
                    run_id,
                    seq,
                    result,
                }
            }
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
    Finished(WorkflowStatus),
}

/// The history of a run, as stored: `(index, encoded event)` in index order.
pub(crate) type HistoryRows = Vec<(u64, String)>;

/// A run handed to a worker by [`Store::claim_runs`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClaimedRun {
    pub(crate) record: RunRecord,
    /// The run's token: the worker's steps of the run carry it.
    pub(crate) token: Token,
    /// Whether the claim gave the run to this worker (it was nobody's, or
    /// its owner's lease had expired), as opposed to renewing this worker's
    /// own claim to hand it new messages.
    pub(crate) taken: bool,
    /// The workflow's inbox messages not yet consumed, in arrival order.
    pub(crate) inbox: Vec<InboxRecord>,
    /// When `taken`: the run's tasks, so the new owner arms its timers.
    pub(crate) tasks: Vec<Task>,
}

/// What a worker may claim, besides its lease.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClaimFilter<'a> {
    /// Workflow types (for runs) or activity types (for tasks) this worker
    /// has registered: others are left for workers that have them.
    pub(crate) names: &'a [String],
    /// At most this many rows per call.
    pub(crate) limit: usize,
    /// Timers and attempts due before the store's now plus this many
    /// milliseconds are claimed already, so that the worker's own timer
    /// fires them on time.
    pub(crate) horizon_ms: u64,
}

/// An activity call that ended on a worker that does not own its run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskDone {
    pub(crate) workflow_id: String,
    pub(crate) run_id: String,
    pub(crate) seq: u32,
    /// The task's token: fenced unless it is still the task's.
    pub(crate) token: Token,
    pub(crate) result: Result<Value, FailureData>,
    pub(crate) now_ms: u64,
}

/// A request for a slot of an activity's limits, for one attempt.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SlotRequest {
    pub(crate) run_id: String,
    pub(crate) seq: u32,
    /// The task's token: fenced unless it is still the task's.
    pub(crate) token: Token,
    /// The activity type's name and the call's limit key (empty for none):
    /// attempts of the same pair count against each other.
    pub(crate) activity: String,
    pub(crate) key: String,
    pub(crate) max_concurrent: Option<u32>,
    pub(crate) rate: Option<crate::definition::Rate>,
    /// The worker that will hold the slot, and for how long unrenewed.
    pub(crate) lease: Arc<Lease>,
    /// The worker's now (stores with a clock of their own use theirs).
    pub(crate) now_ms: u64,
}

/// What [`Store::acquire_slot`] answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotGrant {
    /// The attempt may run; its slot is held until released.
    Granted,
    /// The limits are reached. `retry_at_ms` (store clock): when the rate
    /// window frees a start, if that is what is in the way; `None` when a
    /// running attempt must end first.
    Busy { retry_at_ms: Option<u64> },
}

/// How long starts are kept for rate limits: the longest period a
/// [`Rate`](crate::Rate) parses (`"N/h"`). Longer periods set in code are
/// counted over this hour only.
pub(crate) const MAX_RATE_PERIOD_MS: u64 = 3_600_000;

/// What the limits say, given how many attempts of the request's
/// `(activity, key)` hold a slot (itself excepted) and the starts recorded
/// within its rate window (the oldest first). The one rule every store
/// applies.
pub(crate) fn slot_decision(
    request: &SlotRequest,
    running: u64,
    starts_in_window: u64,
    oldest_start_ms: Option<u64>,
) -> SlotGrant {
    if request
        .max_concurrent
        .is_some_and(|max| running >= u64::from(max))
    {
        return SlotGrant::Busy { retry_at_ms: None };
    }
    if let Some(rate) = request.rate {
        if starts_in_window >= u64::from(rate.count) {
            let retry_at_ms = oldest_start_ms.map(|oldest| oldest.saturating_add(rate.per_ms()));
            return SlotGrant::Busy { retry_at_ms };
        }
    }
    SlotGrant::Granted
}

/// What [`Store::release`] gives back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Release {
    /// Every run and task the worker holds (shutdown, or start-up: a worker
    /// id is unique among live workers, so what a starting worker finds
    /// under its id was left by a previous process of that id).
    Worker(String),
    /// One run and its tasks, if the token is still the run's.
    Run { run_id: String, token: Token },
}

/// Wake-ups a store sends when other processes write: each receiver's value
/// changes when something happened since it last looked.
#[derive(Debug, Clone)]
pub(crate) struct Notifications {
    /// Work may be claimable: a run got a message or was created, a lease
    /// was given back.
    pub(crate) work: tokio::sync::watch::Receiver<u64>,
    /// A workflow's run ended somewhere: result waiters look again.
    pub(crate) done: tokio::sync::watch::Receiver<u64>,
    /// A slot of an activity's limits was given back somewhere: attempts
    /// waiting for one ask again.
    pub(crate) slots: tokio::sync::watch::Receiver<u64>,
}

/// The store boundary.
///
/// Implementations must make each method atomic, and each step of a commit
/// atomic on its own. Tasks are keyed by `(run_id, seq)`; a step that
/// completes a task that no longer exists still succeeds (the completion may
/// have been recorded by an earlier attempt), but a step whose `first_index`
/// is not the history's length, or whose token is not the run's, fails
/// without writing anything, and without keeping the other steps of the
/// commit from being written.
pub(crate) trait Store: schedules::ScheduleStore + Send + Sync + 'static {
    /// Creates a workflow and its first run, or returns the existing latest
    /// run of that workflow id.
    fn create_workflow(&self, new: NewWorkflow) -> BoxFuture<'_, Result<Created, StoreError>>;

    /// Commits several runs' steps together (one transaction where the
    /// store has them), each step atomic on its own: a step that fails (its
    /// run is unknown, its `first_index` is stale, its token fenced) writes
    /// nothing and does not keep the others from being written. Returns one
    /// result per step, in the order of `steps`.
    fn commit_steps(&self, steps: Vec<StepCommit>) -> BoxFuture<'_, Vec<Result<(), StoreError>>>;

    /// Records a failed attempt and the time of the next one; the task
    /// stays with the worker that holds it. Fenced by the task's token; a
    /// task that is gone is not an error.
    fn retry_task(&self, retry: TaskRetry) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Ends an activity task and adds its completion to the workflow's
    /// inbox, in one transaction. Fenced by the task's token; a task that is
    /// gone (its completion is recorded already) is not an error and adds
    /// nothing.
    fn complete_task(&self, done: TaskDone) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Claims runs that have something to do for `lease.worker`: runs
    /// nobody holds (or whose lease expired) that have inbox messages, have
    /// never been activated, are blocked, or have a timer due within the
    /// horizon; and runs this worker holds that have inbox messages. Oldest
    /// first, at most `filter.limit`. Two concurrent claimers never get the
    /// same run, except a worker's own runs again.
    fn claim_runs<'a>(
        &'a self,
        lease: &'a Lease,
        filter: ClaimFilter<'a>,
    ) -> BoxFuture<'a, Result<Vec<ClaimedRun>, StoreError>>;

    /// Claims activity tasks of running runs that nobody holds (or whose
    /// lease expired) and that are due within the horizon, earliest first,
    /// each with a fresh token. Two concurrent claimers never get the same task.
    fn claim_tasks<'a>(
        &'a self,
        lease: &'a Lease,
        filter: ClaimFilter<'a>,
    ) -> BoxFuture<'a, Result<Vec<Task>, StoreError>>;

    /// Extends every lease `lease.worker` holds by `lease.duration` from
    /// the store's now. Returns the store's clock (Unix ms) where it has
    /// one of its own, so workers agree on due times.
    fn renew<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<Option<u64>, StoreError>>;

    /// Gives leases back, so other workers may claim the work at once.
    fn release(&self, release: Release) -> BoxFuture<'_, Result<(), StoreError>>;

    /// A run's record and its history.
    fn load_run(
        &self,
        run_id: &str,
    ) -> BoxFuture<'_, Result<Option<(RunRecord, HistoryRows)>, StoreError>>;

    /// The latest run of a workflow id.
    fn latest_run(&self, workflow_id: &str)
        -> BoxFuture<'_, Result<Option<RunRecord>, StoreError>>;

    /// Runs that are not finished (running or blocked), oldest first.
    #[allow(dead_code)] // for tools and the conformance suite
    fn unfinished_runs(&self) -> BoxFuture<'_, Result<Vec<RunRecord>, StoreError>>;

    /// The latest runs of the workflows matching `query`, newest first (by
    /// the runs' creation order), at most `query.limit`. A corrupt row is
    /// skipped and logged, so one bad row does not hide the others.
    fn list_runs(&self, query: ListQuery) -> BoxFuture<'_, Result<Vec<ListedRun>, StoreError>>;

    /// Tasks of a run, or of every run when `run_id` is `None`, ordered by
    /// run id, then `seq`.
    fn tasks(&self, run_id: Option<&str>) -> BoxFuture<'_, Result<Vec<Task>, StoreError>>;

    /// How often a worker looks for work nobody told it about: other
    /// processes' writes the store sends no notification for, a dead
    /// worker's expired leases, timers due soon.
    fn poll_interval(&self) -> Duration {
        Duration::from_secs(1)
    }

    /// Wake-ups from other processes, for stores that send them. Without
    /// them a worker of a shared store polls.
    fn notifications(&self) -> Option<Notifications> {
        None
    }

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
    #[allow(dead_code)] // for tools and the conformance suite
    fn inbox(&self) -> BoxFuture<'_, Result<Vec<InboxRecord>, StoreError>>;

    /// The runs of a workflow, oldest first.
    fn runs(&self, workflow_id: &str) -> BoxFuture<'_, Result<Vec<RunRecord>, StoreError>>;

    /// Asks for a slot for one attempt of an activity with limits. Granted
    /// when fewer than `max_concurrent` attempts of the same `(activity,
    /// key)` hold a live slot (one whose task still exists: a slot never
    /// given back stops counting when its call ends) and fewer than `rate.count` started within the
    /// last `rate.per` ([`slot_decision`]); a granted slot records the start
    /// and is held by `lease.worker` (renewed with its other leases) until
    /// [`release_slot`](Self::release_slot) or the lease's expiry. A busy
    /// answer marks the task as waiting for a slot (`Task::slot_wait_ms`).
    /// Two workers never both get the last slot. Fenced by the task's token;
    /// a task that is gone is fenced too (the call has ended).
    fn acquire_slot(&self, request: SlotRequest) -> BoxFuture<'_, Result<SlotGrant, StoreError>>;

    /// Gives back the slot an attempt holds, if any.
    fn release_slot(&self, run_id: &str, seq: u32) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Stores an activity's latest heartbeat details on its task and
    /// renews the task's lease by `lease`. Fenced by the task's token: a
    /// fenced heartbeat tells the attempt that its task is gone or held by
    /// another worker now.
    fn record_heartbeat(
        &self,
        run_id: &str,
        seq: u32,
        token: Token,
        details: Value,
        lease: Duration,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
}

/// Which store a runtime opens.
#[derive(Debug, Clone)]
pub(crate) enum StoreConfig {
    Memory,
    Sqlite(std::path::PathBuf, sqlite::SqliteSync),
    #[cfg(feature = "postgres")]
    Postgres(postgres::PostgresConfig),
}

impl StoreConfig {
    /// Opens the store; `worker` takes it for this process's worker.
    pub(crate) async fn open(
        &self,
        worker: bool,
        clock: crate::clock::Clock,
    ) -> Result<Arc<dyn Store>, Error> {
        Ok(match self {
            StoreConfig::Memory => Arc::new(memory::MemoryStore::with_clock(clock)),
            StoreConfig::Sqlite(path, sync) => {
                Arc::new(sqlite::SqliteStore::open_as(path, *sync, worker).await?)
            }
            #[cfg(feature = "postgres")]
            StoreConfig::Postgres(config) => Arc::new(postgres::PostgresStore::open(config).await?),
        })
    }
}
