//! The scheduler: every worker runs one. It reads the schedules, sleeps
//! until the earliest next tick (or the poll interval, for schedules that
//! other processes changed, or until a run a buffered tick waits for
//! ends), and fires each due tick with one compare-and-set of the
//! schedule's row that also creates the tick's run
//! ([`ScheduleStore::fire_schedule`](crate::store::schedules::ScheduleStore::fire_schedule)).
//! Two workers that fire the same tick read the same row version: one
//! write wins, the other finds the row moved on and reads it again, so a
//! tick starts one run across the cluster.
//!
//! Runs are created without an owner, as a client creates them, and the
//! claimer is kicked: this worker, or any other that has the workflow type,
//! claims the run. Time is the engine's (`Engine::now_ms`: the virtual
//! clock of a `TestEnv`, the store's clock on PostgreSQL).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::{Engine, MAX_BACKOFF};
use crate::error::{Chain, Error, StoreError};
use crate::history::Event;
use crate::schedule::{next_after, parse_cron, tick_id, trigger_id, Overlap};
use crate::store::schedules::{Fired, ScheduleFire, ScheduleRecord, ScheduleState, RECENT_RUNS};
use crate::store::{Created, InboxItem, NewWorkflow};

impl Engine {
    /// Wakes this process's scheduler: a schedule changed here.
    pub(crate) fn schedules_changed(&self) {
        self.schedule_wake.notify_one();
    }
}

/// What one look at a schedule did.
enum Step {
    /// It wrote the schedule (or lost a race for it): look again at once.
    Again,
    /// Nothing to do before this time (Unix ms), if any.
    Wait(Option<u64>),
}

/// Runs the scheduler until the worker stops.
pub(crate) async fn run_scheduler(engine: Arc<Engine>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut ended = Vec::new();
        let wake_at = match pass(&engine, &mut ended).await {
            Ok(Step::Again) => {
                tokio::task::yield_now().await;
                continue;
            }
            Ok(Step::Wait(at)) => {
                backoff = Duration::from_millis(100);
                at
            }
            Err(e) => {
                tracing::warn!(error = %Chain(&e), "could not fire schedules; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let mut wait = engine.poll_interval;
        if let Some(at) = wake_at {
            wait = wait.min(Duration::from_millis(at.saturating_sub(engine.now_ms())));
        }
        let run_ended = async {
            if ended.is_empty() {
                std::future::pending::<()>().await;
            }
            let _ = futures_util::future::select_all(ended).await;
        };
        tokio::select! {
            () = engine.schedule_wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
            () = run_ended => {}
        }
    }
}

/// One look at every schedule: fires what is due; `ended` gets a waiter
/// for each run a buffered tick waits for.
async fn pass(engine: &Engine, ended: &mut Vec<oneshot::Receiver<()>>) -> Result<Step, StoreError> {
    let now = engine.now_ms();
    let mut again = false;
    let mut earliest: Option<u64> = None;
    for record in engine.store.list_schedules().await? {
        // A worker fires only the schedules whose workflow it runs.
        if record.paused || engine.registry.workflow(&record.workflow).is_none() {
            continue;
        }
        match step(engine, &record, now, ended).await? {
            Step::Again => again = true,
            Step::Wait(Some(at)) => earliest = Some(earliest.map_or(at, |e| e.min(at))),
            Step::Wait(None) => {}
        }
    }
    Ok(if again {
        Step::Again
    } else {
        Step::Wait(earliest)
    })
}

/// Handles what is due of one schedule: its buffered tick once the run it
/// waits for has ended, then its next tick if it is due (ticks older than
/// the catch-up window are dropped first).
async fn step(
    engine: &Engine,
    record: &ScheduleRecord,
    now: u64,
    ended: &mut Vec<oneshot::Receiver<()>>,
) -> Result<Step, StoreError> {
    let cron = match parse_cron(&record.id, &record.cron) {
        Ok(cron) => cron,
        Err(e) => {
            tracing::error!(schedule = %record.id, error = %e, "a stored schedule does not parse; it does not fire");
            return Ok(Step::Wait(None));
        }
    };
    let mut state = record.state.clone();
    if state.buffered_ms.is_none() && state.next_ms > now {
        // Nothing to do yet: no read of the latest run.
        return Ok(Step::Wait(Some(state.next_ms)));
    }
    // Registered before the run's status is read: an end in between is not lost.
    let waiter = match (&state.buffered_ms, state.recent.last()) {
        (Some(_), Some(last)) => Some(engine.wait_for(last)),
        _ => None,
    };
    let running = last_running(engine, &state).await?;
    if let Some(buffered) = state.buffered_ms {
        if running.is_none() {
            state.buffered_ms = None;
            let workflow_id = tick_id(&record.id, buffered);
            return fire(engine, record, state, Some(workflow_id)).await;
        }
        ended.extend(waiter);
    }
    if state.next_ms > now {
        return Ok(Step::Wait(Some(state.next_ms)));
    }
    let horizon = now.saturating_sub(record.catchup_ms);
    let mut tick = state.next_ms;
    while tick < horizon {
        state.missed += 1;
        tick = next_after(&cron, tick);
    }
    if tick > now {
        if tick == u64::MAX {
            tracing::info!(schedule = %record.id, "the schedule's cron expression has no tick left");
        }
        state.next_ms = tick;
        return fire(engine, record, state, None).await;
    }
    state.next_ms = next_after(&cron, tick);
    let overlap = Overlap::parse(&record.overlap).unwrap_or_default();
    let start = apply_overlap(engine, overlap, &mut state, tick, running).await;
    let workflow_id = start.then(|| tick_id(&record.id, tick));
    fire(engine, record, state, workflow_id).await
}

/// The workflow id of the schedule's latest run if it has not ended.
async fn last_running(
    engine: &Engine,
    state: &ScheduleState,
) -> Result<Option<String>, StoreError> {
    let Some(last) = state.recent.last() else {
        return Ok(None);
    };
    Ok(engine
        .store
        .latest_run(last)
        .await?
        .filter(|run| !run.status.is_finished())
        .map(|_| last.clone()))
}

/// Applies the overlap policy to a tick at `tick_ms`; whether to start its run.
async fn apply_overlap(
    engine: &Engine,
    overlap: Overlap,
    state: &mut ScheduleState,
    tick_ms: u64,
    running: Option<String>,
) -> bool {
    let Some(running) = running else {
        return true;
    };
    match overlap {
        Overlap::AllowAll => true,
        Overlap::Skip => {
            state.skipped += 1;
            false
        }
        Overlap::BufferOne => {
            if state.buffered_ms.is_none() {
                state.buffered_ms = Some(tick_ms);
            } else {
                state.skipped += 1;
            }
            false
        }
        Overlap::CancelOther => {
            match crate::client::send(engine, &running, InboxItem::Cancel).await {
                Ok(()) | Err(Error::NotFound { .. } | Error::Finished { .. }) => {}
                Err(e) => {
                    tracing::warn!(workflow.id = %running, error = %Chain(&e), "could not cancel a schedule's running run");
                }
            }
            true
        }
    }
}

/// Writes the schedule's new state and, with `workflow_id`, creates the
/// tick's run, if nobody wrote the schedule since it was read.
async fn fire(
    engine: &Engine,
    record: &ScheduleRecord,
    state: ScheduleState,
    workflow_id: Option<String>,
) -> Result<Step, StoreError> {
    match write(engine, record, state, workflow_id.clone()).await? {
        Fired::Written(_) => {
            if let Some(workflow_id) = workflow_id {
                tracing::info!(schedule = %record.id, workflow.id = %workflow_id, "a schedule started a run");
            }
        }
        Fired::Stale => {}
    }
    Ok(Step::Again)
}

/// The compare-and-set of a schedule's row, with the run to create.
async fn write(
    engine: &Engine,
    record: &ScheduleRecord,
    mut state: ScheduleState,
    workflow_id: Option<String>,
) -> Result<Fired, StoreError> {
    let now = engine.now_ms();
    let start = workflow_id.map(|workflow_id| {
        state.recent.push(workflow_id.clone());
        if state.recent.len() > RECENT_RUNS {
            let excess = state.recent.len() - RECENT_RUNS;
            state.recent.drain(..excess);
        }
        let started = Event::WorkflowStarted {
            name: record.workflow.clone(),
            input: record.input.clone(),
            signals: Vec::new(),
            parent: None,
            deadline_ms: None,
        };
        NewWorkflow {
            workflow_id,
            run_id: uuid::Uuid::new_v4().to_string(),
            name: record.workflow.clone(),
            started_event: serde_json::to_string(&started).expect("events encode to JSON"),
            now_ms: now,
            // Claimed like a client's run, by a worker that has the type.
            owner: None,
        }
    });
    let fired = engine
        .store
        .fire_schedule(ScheduleFire {
            id: record.id.clone(),
            version: record.version,
            state,
            start,
            now_ms: now,
        })
        .await?;
    if let Fired::Written(Some(Created::New { .. })) = fired {
        engine.kick();
    }
    Ok(fired)
}

/// Starts a run of the schedule now, under its overlap policy; the
/// workflow id started, or `None` when the policy skipped or buffered it.
pub(crate) async fn trigger(engine: &Engine, id: &str) -> Result<Option<String>, Error> {
    /// Writes lost to a concurrent tick or update, at most, before giving up.
    const ATTEMPTS: usize = 8;
    for _ in 0..ATTEMPTS {
        let record = crate::schedule::find(engine, id).await?;
        let mut state = record.state.clone();
        let now = engine.now_ms();
        let running = last_running(engine, &state).await?;
        let overlap = Overlap::parse(&record.overlap).unwrap_or_default();
        let start = apply_overlap(engine, overlap, &mut state, now, running).await;
        let workflow_id = start.then(|| trigger_id(&record.id, now));
        if let Fired::Written(_) = write(engine, &record, state, workflow_id.clone()).await? {
            engine.schedules_changed();
            return Ok(workflow_id);
        }
    }
    Err(Error::Store(StoreError::new(
        crate::store::schedules::FIRE_SCHEDULE,
        format!("schedule `{id}` kept changing while it was triggered; try again"),
    )))
}
