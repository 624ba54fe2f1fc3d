//! Schedules: a workflow started on a cron expression (UTC), one run per
//! tick across every worker of a store. See `docs/SCHEDULES.md`.
//!
//! This module holds the public types and the calls of the runtime
//! (`Runtime::schedule`, `pause_schedule`, ...); the workers' scheduler
//! loop is `engine/scheduler.rs`, the rows `store/schedules.rs`.

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use croner::parser::{CronParser, Seconds};
use croner::Cron;
use serde_json::Value;

use crate::clock::system_time;
use crate::definition::{BoxFuture, Workflow};
use crate::engine::Engine;
use crate::error::Error;
use crate::status::WorkflowStatus;
use crate::store::schedules::{ScheduleDef, ScheduleRecord};

/// How long after its time a tick missed during downtime is still fired
/// (default of [`ScheduleWorkflow::catchup_window`]): an hour, so that a
/// restart, a deploy or a short outage loses no run (a nightly job whose
/// worker was down at 02:00 runs when the worker is back at 02:40), while
/// the backlog of a long outage is dropped rather than replayed.
pub const DEFAULT_CATCHUP_WINDOW: Duration = Duration::from_secs(3600);

/// The longest schedule id, in bytes (its runs' ids add the tick's time).
const MAX_SCHEDULE_ID_BYTES: usize = 200;

/// What a schedule does with a tick while its previous run is still
/// running (Temporal's overlap policies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Overlap {
    /// The tick is skipped (counted in [`ScheduleInfo::skipped`]).
    #[default]
    Skip,
    /// The tick is kept, and started when the running run ends; at most one
    /// tick is kept, later ones are skipped.
    BufferOne,
    /// The tick starts another run anyway.
    AllowAll,
    /// The running run is cancelled (as by `Runtime::cancel`) and the
    /// tick's run starts.
    CancelOther,
}

impl Overlap {
    /// The policy's name as stored and printed: `skip`, `buffer_one`,
    /// `allow_all`, `cancel_other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Overlap::Skip => "skip",
            Overlap::BufferOne => "buffer_one",
            Overlap::AllowAll => "allow_all",
            Overlap::CancelOther => "cancel_other",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "skip" => Overlap::Skip,
            "buffer_one" => Overlap::BufferOne,
            "allow_all" => Overlap::AllowAll,
            "cancel_other" => Overlap::CancelOther,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Overlap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A schedule, as [`Runtime::schedules`](crate::Runtime::schedules) lists it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ScheduleInfo {
    /// The schedule's id.
    pub id: String,
    /// Its cron expression (UTC).
    pub cron: String,
    /// The workflow type it starts.
    pub workflow_type: String,
    /// The input of every run, as JSON.
    pub input: Value,
    /// What a tick does while the previous run is still running.
    pub overlap: Overlap,
    /// How late a tick missed during downtime is still fired.
    pub catchup_window: Duration,
    /// Whether it is paused (no tick fires).
    pub paused: bool,
    /// Its next tick; `None` while paused, or when the expression has no
    /// tick left.
    pub next_tick: Option<SystemTime>,
    /// The tick kept by [`Overlap::BufferOne`], waiting for the running run to end.
    pub buffered_tick: Option<SystemTime>,
    /// Ticks not started because the previous run was still running.
    pub skipped: u64,
    /// Ticks dropped because they were older than the catch-up window.
    pub missed: u64,
    /// Its latest runs, oldest first (at most ten).
    pub recent_runs: Vec<ScheduleRun>,
    /// When it was first created.
    pub created_at: SystemTime,
    /// When it last changed (a tick, an update, a pause).
    pub updated_at: SystemTime,
}

/// One of a schedule's latest runs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScheduleRun {
    /// The workflow id: `<schedule id>@<tick time, RFC 3339 UTC>`.
    pub workflow_id: String,
    /// The status of its latest run; `None` if the workflow is gone from the store.
    pub status: Option<WorkflowStatus>,
}

impl ScheduleRun {
    /// Whether it has not ended yet (running, or blocked).
    pub fn is_running(&self) -> bool {
        self.status.is_some_and(|s| !s.is_finished())
    }
}

/// A request to create or update a schedule, made by
/// [`Runtime::schedule`](crate::Runtime::schedule); set its policies, then
/// await it.
#[must_use = "a schedule request does nothing until it is awaited"]
pub struct ScheduleWorkflow<W: Workflow> {
    engine: Arc<Engine>,
    id: String,
    cron: String,
    workflow: W,
    input: W::Input,
    overlap: Overlap,
    catchup_window: Duration,
}

impl<W: Workflow> std::fmt::Debug for ScheduleWorkflow<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScheduleWorkflow")
            .field("id", &self.id)
            .field("cron", &self.cron)
            .field("workflow", &W::NAME)
            .field("overlap", &self.overlap)
            .field("catchup_window", &self.catchup_window)
            .finish_non_exhaustive()
    }
}

impl<W: Workflow> ScheduleWorkflow<W> {
    pub(crate) fn new(
        engine: Arc<Engine>,
        id: String,
        cron: String,
        workflow: W,
        input: W::Input,
    ) -> Self {
        Self {
            engine,
            id,
            cron,
            workflow,
            input,
            overlap: Overlap::default(),
            catchup_window: DEFAULT_CATCHUP_WINDOW,
        }
    }

    /// What a tick does while the previous run is still running (default
    /// [`Overlap::Skip`]).
    pub fn overlap(mut self, overlap: Overlap) -> Self {
        self.overlap = overlap;
        self
    }

    /// How late a tick missed while no worker ran (downtime) is still
    /// fired, in order, under the overlap policy; older ones are dropped
    /// and counted in [`ScheduleInfo::missed`]. Default
    /// [`DEFAULT_CATCHUP_WINDOW`] (an hour).
    pub fn catchup_window(mut self, window: Duration) -> Self {
        self.catchup_window = window;
        self
    }
}

impl<W: Workflow> IntoFuture for ScheduleWorkflow<W> {
    type Output = Result<(), Error>;
    type IntoFuture = BoxFuture<'static, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        let _ = self.workflow;
        Box::pin(async move {
            let input = serde_json::to_value(&self.input).map_err(|source| Error::Payload {
                what: format!("the input of workflow `{}`", W::NAME),
                source,
            })?;
            if self.engine.registry.workflow(W::NAME).is_none() {
                return Err(Error::UnknownWorkflowType {
                    name: W::NAME.to_owned(),
                });
            }
            let id = check_schedule_id(self.id)?;
            let cron = parse_cron(&id, &self.cron)?;
            let now = self.engine.now_ms();
            let next_ms = next_after(&cron, now);
            if next_ms == u64::MAX {
                return Err(Error::InvalidSchedule {
                    id,
                    why: format!("cron expression `{}` has no tick after now", self.cron),
                });
            }
            let def = ScheduleDef {
                id,
                cron: self.cron.trim().to_owned(),
                workflow: W::NAME.to_owned(),
                input,
                overlap: self.overlap.as_str().to_owned(),
                catchup_ms: u64::try_from(self.catchup_window.as_millis()).unwrap_or(u64::MAX),
                next_ms,
                now_ms: now,
            };
            self.engine.store.put_schedule(def).await?;
            self.engine.schedules_changed();
            Ok(())
        })
    }
}

/// A schedule id as given to `schedule`: not empty, not too long.
fn check_schedule_id(id: String) -> Result<String, Error> {
    let why = if id.trim().is_empty() {
        "it is empty".to_owned()
    } else if id.len() > MAX_SCHEDULE_ID_BYTES {
        format!(
            "it is {} bytes long, more than {MAX_SCHEDULE_ID_BYTES}",
            id.len()
        )
    } else {
        return Ok(id);
    };
    let shown: String = id.chars().take(40).collect();
    Err(Error::InvalidSchedule { id: shown, why })
}

/// Parses a cron expression: 5 fields (minute granularity) or 6 with
/// seconds first, evaluated in UTC.
pub(crate) fn parse_cron(id: &str, expression: &str) -> Result<Cron, Error> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .build()
        .parse(expression)
        .map_err(|e| Error::InvalidSchedule {
            id: id.to_owned(),
            why: format!(
                "cron expression `{expression}` does not parse: {}",
                e.to_string().trim_end_matches('.')
            ),
        })
}

fn datetime(ms: u64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The first tick of `cron` strictly after `ms` (Unix ms); `u64::MAX` when
/// there is none.
pub(crate) fn next_after(cron: &Cron, ms: u64) -> u64 {
    cron.find_next_occurrence(&datetime(ms), false)
        .ok()
        .and_then(|next| u64::try_from(next.timestamp_millis()).ok())
        .unwrap_or(u64::MAX)
}

/// The workflow id of a schedule's run for the tick at `ms`:
/// `<schedule id>@<RFC 3339 UTC>`, to the second for a cron tick (a whole
/// second), to the millisecond otherwise (a trigger).
pub(crate) fn tick_id(schedule_id: &str, ms: u64) -> String {
    let format = if ms.is_multiple_of(1000) {
        SecondsFormat::Secs
    } else {
        SecondsFormat::Millis
    };
    format!(
        "{schedule_id}@{}",
        datetime(ms).to_rfc3339_opts(format, true)
    )
}

/// The id of a run started by a trigger at `ms`: to the millisecond, so it
/// is never a cron tick's.
pub(crate) fn trigger_id(schedule_id: &str, ms: u64) -> String {
    format!(
        "{schedule_id}@{}",
        datetime(ms).to_rfc3339_opts(SecondsFormat::Millis, true)
    )
}

/// Pauses (`true`) or unpauses a schedule. Unpausing starts again from the
/// next tick after now: ticks of the pause are not caught up.
pub(crate) async fn set_paused(engine: &Engine, id: &str, paused: bool) -> Result<(), Error> {
    let now = engine.now_ms();
    let next_ms = if paused {
        None
    } else {
        let record = find(engine, id).await?;
        Some(next_after(&parse_cron(id, &record.cron)?, now))
    };
    if !engine
        .store
        .pause_schedule(id, paused, next_ms, now)
        .await?
    {
        return Err(not_found(id));
    }
    engine.schedules_changed();
    Ok(())
}

/// Deletes a schedule; its runs stay.
pub(crate) async fn delete(engine: &Engine, id: &str) -> Result<(), Error> {
    if !engine.store.delete_schedule(id).await? {
        return Err(not_found(id));
    }
    engine.schedules_changed();
    Ok(())
}

/// Every schedule, by id, with the status of its latest runs.
pub(crate) async fn list(engine: &Engine) -> Result<Vec<ScheduleInfo>, Error> {
    let records = engine.store.list_schedules().await?;
    let mut infos = Vec::with_capacity(records.len());
    for record in records {
        infos.push(info(engine, record).await?);
    }
    Ok(infos)
}

async fn info(engine: &Engine, record: ScheduleRecord) -> Result<ScheduleInfo, Error> {
    let mut recent_runs = Vec::with_capacity(record.state.recent.len());
    for workflow_id in &record.state.recent {
        let status = engine
            .store
            .latest_run(workflow_id)
            .await?
            .map(|run| run.status);
        recent_runs.push(ScheduleRun {
            workflow_id: workflow_id.clone(),
            status,
        });
    }
    let next_ms = record.state.next_ms;
    Ok(ScheduleInfo {
        overlap: Overlap::parse(&record.overlap).unwrap_or_default(),
        catchup_window: Duration::from_millis(record.catchup_ms),
        next_tick: (!record.paused && next_ms != u64::MAX).then(|| system_time(next_ms)),
        buffered_tick: record.state.buffered_ms.map(system_time),
        skipped: record.state.skipped,
        missed: record.state.missed,
        recent_runs,
        created_at: system_time(record.created_ms),
        updated_at: system_time(record.updated_ms),
        id: record.id,
        cron: record.cron,
        workflow_type: record.workflow,
        input: record.input,
        paused: record.paused,
    })
}

/// The schedule with that id, or [`Error::ScheduleNotFound`].
pub(crate) async fn find(engine: &Engine, id: &str) -> Result<ScheduleRecord, Error> {
    engine
        .store
        .schedule(id)
        .await?
        .ok_or_else(|| not_found(id))
}

fn not_found(id: &str) -> Error {
    Error::ScheduleNotFound { id: id.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000;

    #[test]
    fn five_fields_tick_on_minutes_and_six_on_seconds() {
        let cron = parse_cron("s", "*/15 * * * *").unwrap();
        // 1 Jan 2030 00:07:30 UTC.
        let start = 1_893_456_000_000 + 7 * MINUTE + 30_000;
        assert_eq!(next_after(&cron, start), 1_893_456_000_000 + 15 * MINUTE);
        let seconds = parse_cron("s", "*/10 * * * * *").unwrap();
        assert_eq!(next_after(&seconds, start), start + 10_000);
        assert_eq!(next_after(&seconds, start + 1), start + 10_000);
    }

    #[test]
    fn bad_expressions_name_the_schedule_and_the_expression() {
        let e = parse_cron("nightly", "0 25 * * *").unwrap_err().to_string();
        assert!(
            e.starts_with("invalid schedule `nightly`: cron expression `0 25 * * *`"),
            "{e}"
        );
        let e = parse_cron("nightly", "every day").unwrap_err().to_string();
        assert!(e.contains("`every day` does not parse"), "{e}");
    }

    #[test]
    fn tick_ids_are_rfc3339_utc() {
        assert_eq!(
            tick_id("etl", 1_893_456_000_000),
            "etl@2030-01-01T00:00:00Z"
        );
        assert_eq!(
            tick_id("etl", 1_893_456_000_250),
            "etl@2030-01-01T00:00:00.250Z"
        );
        assert_eq!(
            trigger_id("etl", 1_893_456_000_000),
            "etl@2030-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn overlaps_round_trip() {
        for overlap in [
            Overlap::Skip,
            Overlap::BufferOne,
            Overlap::AllowAll,
            Overlap::CancelOther,
        ] {
            assert_eq!(Overlap::parse(overlap.as_str()), Some(overlap));
        }
        assert_eq!(Overlap::parse("sometimes"), None);
    }
}
