//! Schedules in the store: one row per schedule, written by
//! `Runtime::schedule` and the pause / unpause / delete calls, and advanced
//! by the workers' schedulers (`engine/scheduler.rs`).
//!
//! Every write of a row bumps its `version`. A scheduler fires a tick with
//! [`ScheduleStore::fire_schedule`]: in one transaction, the row's state
//! moves on (the next tick, counters, the buffered tick, the recent runs)
//! if its version is still the one the scheduler read, and the tick's run
//! is created with the deterministic workflow id
//! `<schedule id>@<tick time>`. Two workers that race on a tick both read
//! the same version: one write wins, the other is [`Fired::Stale`] and
//! creates nothing, so a tick starts one run across the cluster.

use serde_json::Value;

use super::{Created, NewWorkflow};
use crate::definition::BoxFuture;
use crate::error::StoreError;

pub(crate) const PUT_SCHEDULE: &str = "storing a schedule";
pub(crate) const READ_SCHEDULES: &str = "reading schedules";
pub(crate) const PAUSE_SCHEDULE: &str = "pausing or unpausing a schedule";
pub(crate) const DELETE_SCHEDULE: &str = "deleting a schedule";
pub(crate) const FIRE_SCHEDULE: &str = "firing a schedule's tick";

/// How many of a schedule's latest runs its row remembers.
pub(crate) const RECENT_RUNS: usize = 10;

/// What moves as a schedule fires: written by [`ScheduleStore::fire_schedule`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ScheduleState {
    /// The next tick not yet handled (Unix ms); `u64::MAX` when the cron
    /// expression has no tick left.
    pub(crate) next_ms: u64,
    /// A tick kept by the `BufferOne` policy, started when the running run ends.
    pub(crate) buffered_ms: Option<u64>,
    /// Ticks not started because the previous run was still running.
    pub(crate) skipped: u64,
    /// Ticks dropped because they were older than the catch-up window.
    pub(crate) missed: u64,
    /// The workflow ids of the latest runs, oldest first, at most [`RECENT_RUNS`].
    pub(crate) recent: Vec<String>,
}

/// A schedule as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScheduleRecord {
    pub(crate) id: String,
    pub(crate) cron: String,
    /// The workflow type's name.
    pub(crate) workflow: String,
    pub(crate) input: Value,
    /// `Overlap::as_str`.
    pub(crate) overlap: String,
    pub(crate) catchup_ms: u64,
    pub(crate) paused: bool,
    pub(crate) state: ScheduleState,
    /// Bumped by every write of the row.
    pub(crate) version: u64,
    pub(crate) created_ms: u64,
    pub(crate) updated_ms: u64,
}

/// A schedule to create, or to update if its id exists.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScheduleDef {
    pub(crate) id: String,
    pub(crate) cron: String,
    pub(crate) workflow: String,
    pub(crate) input: Value,
    pub(crate) overlap: String,
    pub(crate) catchup_ms: u64,
    /// The first tick after now of `cron`: the next tick of a new schedule,
    /// or of an existing one whose cron expression changed. An existing
    /// schedule with the same expression keeps its next tick (a tick is
    /// never fired twice because the application started again).
    pub(crate) next_ms: u64,
    pub(crate) now_ms: u64,
}

/// A tick handled: the row's new state, and the run to create if any.
#[derive(Debug, Clone)]
pub(crate) struct ScheduleFire {
    pub(crate) id: String,
    /// The version read: nothing is written unless it is still the row's.
    pub(crate) version: u64,
    pub(crate) state: ScheduleState,
    /// The tick's run (its workflow id is `<schedule id>@<tick time>`).
    pub(crate) start: Option<NewWorkflow>,
    pub(crate) now_ms: u64,
}

/// What [`ScheduleStore::fire_schedule`] did.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fired {
    /// The state was written, and the run created (or found) if one was asked for.
    Written(Option<Created>),
    /// The row changed since it was read (or is gone): nothing was written.
    Stale,
}

/// The schedules' part of the store (every [`Store`](super::Store) has it).
pub(crate) trait ScheduleStore {
    /// Creates a schedule, or updates the one with that id: its cron
    /// expression, workflow, input and policies change; whether it is
    /// paused, its counters and its recent runs are kept, and so is its
    /// next tick unless the expression changed.
    fn put_schedule(&self, def: ScheduleDef) -> BoxFuture<'_, Result<(), StoreError>>;

    /// One schedule.
    fn schedule(&self, id: &str) -> BoxFuture<'_, Result<Option<ScheduleRecord>, StoreError>>;

    /// Every schedule, by id.
    fn list_schedules(&self) -> BoxFuture<'_, Result<Vec<ScheduleRecord>, StoreError>>;

    /// Pauses or unpauses a schedule; `next_ms`, if given, becomes its
    /// next tick. False when no schedule has that id.
    fn pause_schedule(
        &self,
        id: &str,
        paused: bool,
        next_ms: Option<u64>,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;

    /// Deletes a schedule (its runs stay). False when no schedule has that id.
    fn delete_schedule(&self, id: &str) -> BoxFuture<'_, Result<bool, StoreError>>;

    /// Writes a handled tick: the new state and the tick's run, in one
    /// transaction, if the row's version is still `fire.version`.
    fn fire_schedule(&self, fire: ScheduleFire) -> BoxFuture<'_, Result<Fired, StoreError>>;
}

/// Encodes the recent runs as stored.
pub(crate) fn encode_recent(recent: &[String]) -> String {
    serde_json::to_string(recent).expect("strings encode to JSON")
}

/// Decodes the recent runs as stored.
pub(crate) fn decode_recent(text: &str) -> Result<Vec<String>, serde_json::Error> {
    serde_json::from_str(text)
}
