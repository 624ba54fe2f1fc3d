//! Activity attempts: deadlines, heartbeats, retries, and their results.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::Value;

use crate::command::Resolution;
use crate::context::ActivityContext;
use crate::error::{
    ActivityError, Chain, FailureData, HEARTBEAT_TIMEOUT, PANIC, SCHEDULE_TO_CLOSE_TIMEOUT,
    START_TO_CLOSE_TIMEOUT,
};
use crate::metrics::{ActivityMetrics, AttemptOutcome};
use crate::replay::panic_message;
use crate::run::RunFault;
use crate::store::{Task, TaskRetry};

use super::limits::SlotWait;
use super::{millis, Completion, Engine, WfMsg};

/// How often an attempt's new heartbeat details are written to the store, at most.
const HEARTBEAT_FLUSH: Duration = Duration::from_secs(1);

impl Engine {
    /// Runs one attempt of an activity call: waits for a slot of its limits
    /// and a permit, runs the body within its deadlines, and hands the
    /// result on (or schedules the next attempt). `workflow` is the type of
    /// the workflow that called it, when known.
    pub(super) async fn run_attempt(
        self: &Arc<Self>,
        task: Task,
        ctx: &ActivityContext,
        workflow: Option<Arc<str>>,
    ) {
        if ctx.is_cancelled_by_workflow() {
            // Its workflow ended, or cancelled the call, while it waited out
            // a backoff.
            return;
        }
        let Some(entry) = self.registry.activity(&task.name) else {
            self.send(WfMsg::Fault {
                run_id: task.run_id.clone(),
                fault: RunFault::UnregisteredActivity {
                    name: task.name.clone(),
                },
            });
            return;
        };
        let run = entry.run.clone();
        let metrics = entry.metrics.clone();
        if task.attempt > 1 && !self.still_pending(&task).await {
            // The call ended while this retry waited out its backoff (its
            // workflow finished, was cancelled or terminated).
            return;
        }
        let options = &task.options;
        let deadline = options
            .schedule_to_close
            .map(|d| task.scheduled_ms.saturating_add(millis(d)));
        let limited = options.is_limited();
        if limited {
            match self.wait_for_slot(&task, ctx, deadline, &metrics).await {
                SlotWait::Granted => {}
                SlotWait::TimedOut => {
                    // The slot never came: the attempt did not run.
                    self.schedule_to_close_passed(&task, task.attempt.saturating_sub(1));
                    return;
                }
                SlotWait::Gone => return,
            }
        }
        // This process's `max_concurrent_activities`, taken after the slot
        // so that waiting for one holds no permit.
        let Ok(permit) = self.slots.clone().acquire_owned().await else {
            return;
        };
        let now = self.now_ms();
        let cancelled = ctx.is_cancelled_by_workflow();
        let late = deadline.is_some_and(|deadline| now >= deadline);
        if cancelled || late {
            // While it waited for a permit.
            drop(permit);
            if limited {
                self.release_slot(&task).await;
            }
            if late && !cancelled {
                self.schedule_to_close_passed(&task, task.attempt.saturating_sub(1));
            }
            return;
        }
        let mut limit = options.start_to_close.map(millis);
        if let Some(deadline) = deadline {
            limit = Some(limit.map_or(deadline - now, |l| l.min(deadline - now)));
        }
        ctx.restart_heartbeat_clock();
        metrics.attempt_started(task.attempt);
        let started = std::time::Instant::now();
        let result = self.attempt(&task, run, ctx, limit, deadline).await;
        metrics.attempt_ran(started.elapsed().as_secs_f64());
        drop(permit);
        if limited {
            // Before the result goes on, so that the workflow's next call
            // finds the slot free.
            self.release_slot(&task).await;
        }
        if result.is_err() {
            ctx.cancel();
        }
        match result {
            Ok(output) => {
                metrics.attempt_ended(AttemptOutcome::Ok);
                self.finish_activity(&task, Ok(output));
            }
            Err(error) => {
                self.attempt_failed(task, ctx, error, deadline, &metrics, workflow)
                    .await
            }
        }
    }

    /// Ends a call whose `schedule_to_close` deadline passed before an
    /// attempt could start.
    fn schedule_to_close_passed(&self, task: &Task, attempts: u32) {
        let error = ActivityError::non_retryable(
            SCHEDULE_TO_CLOSE_TIMEOUT,
            format!(
                "activity `{}` did not finish within its schedule_to_close timeout",
                task.name
            ),
        );
        self.finish_activity(task, Err(error.with_attempts(attempts)));
    }

    /// Whether the task of a retry is still stored: one read per retry, none
    /// per first attempt.
    async fn still_pending(&self, task: &Task) -> bool {
        match self.store.tasks(Some(&task.run_id)).await {
            Ok(tasks) => tasks.iter().any(|t| t.seq == task.seq),
            // When in doubt, run it: activities are at-least-once anyway.
            Err(_) => true,
        }
    }

    /// Runs the body of one attempt within its deadlines, flushing its
    /// heartbeat details to the store while it runs.
    async fn attempt(
        &self,
        task: &Task,
        run: Arc<crate::registry::ActivityFn>,
        ctx: &ActivityContext,
        limit: Option<u64>,
        deadline: Option<u64>,
    ) -> Result<Value, ActivityError> {
        let options = &task.options;
        let body = AssertUnwindSafe(run(ctx.clone(), task.input.clone())).catch_unwind();
        let body = async {
            body.await.unwrap_or_else(|panic| {
                Err(ActivityError::new(
                    PANIC,
                    format!("activity panicked: {}", panic_message(&*panic)),
                ))
            })
        };
        let heartbeat_timeout = options.heartbeat_timeout;
        // Ends when the heartbeats stop for longer than `heartbeat_timeout`;
        // meanwhile stores new details at most once per `HEARTBEAT_FLUSH`.
        let watchdog = async {
            // The heartbeat count of the details stored last.
            let mut flushed: Option<u64> = None;
            loop {
                let (details, last, count) = ctx.last_heartbeat();
                if let Some(details) = details.filter(|_| flushed != Some(count)) {
                    self.store_heartbeat(task, ctx, details).await;
                    flushed = Some(count);
                }
                let mut wake = tokio::time::Instant::now() + HEARTBEAT_FLUSH;
                if let Some(timeout) = heartbeat_timeout {
                    let Some(due) = last.checked_add(timeout) else {
                        // A timeout too large to reach: none.
                        tokio::time::sleep_until(wake).await;
                        continue;
                    };
                    if tokio::time::Instant::now() >= due {
                        return;
                    }
                    wake = wake.min(due);
                }
                tokio::time::sleep_until(wake).await;
            }
        };
        let guarded = async {
            tokio::select! {
                biased;
                r = body => r,
                () = watchdog => Err(ActivityError::new(
                    HEARTBEAT_TIMEOUT,
                    format!(
                        "activity `{}` sent no heartbeat for {:?}",
                        task.name,
                        heartbeat_timeout.unwrap_or_default()
                    ),
                )),
            }
        };
        let Some(limit) = limit else {
            return guarded.await;
        };
        match tokio::time::timeout(Duration::from_millis(limit), guarded).await {
            Ok(result) => result,
            Err(_) if deadline.is_some_and(|d| self.now_ms() >= d) => {
                Err(ActivityError::non_retryable(
                    SCHEDULE_TO_CLOSE_TIMEOUT,
                    format!(
                        "activity `{}` did not finish within its schedule_to_close timeout",
                        task.name
                    ),
                ))
            }
            Err(_) => Err(ActivityError::new(
                START_TO_CLOSE_TIMEOUT,
                format!(
                    "attempt {} of activity `{}` did not finish within its start_to_close timeout",
                    task.attempt, task.name
                ),
            )),
        }
    }

    /// Schedules the next attempt after a failed one, or ends the call.
    /// Logs the failure: once, in the attempt's span.
    async fn attempt_failed(
        self: &Arc<Self>,
        task: Task,
        ctx: &ActivityContext,
        error: ActivityError,
        deadline: Option<u64>,
        metrics: &ActivityMetrics,
        workflow: Option<Arc<str>>,
    ) {
        let data = error.data();
        let retry_in = task
            .options
            .retry
            .delay_after(task.attempt, &data.kind, data.non_retryable);
        let next_due = retry_in.map(|d| self.now_ms().saturating_add(millis(d)));
        let kind = data.kind.as_str();
        let chain = Chain(error.as_ref());
        let due = match next_due {
            // The call ended while the attempt ran: its result is dropped.
            _ if ctx.is_cancelled_by_workflow() => {
                metrics.attempt_ended(AttemptOutcome::Failed);
                tracing::debug!(error = %chain, error.kind = %kind, "activity attempt failed after its call was cancelled");
                None
            }
            Some(due) if deadline.is_none_or(|deadline| due < deadline) => {
                metrics.attempt_ended(AttemptOutcome::Retry);
                tracing::warn!(error = %chain, error.kind = %kind, retry_in = ?retry_in.unwrap_or_default(), "activity attempt failed; retrying");
                Some(due)
            }
            Some(_) => {
                metrics.attempt_ended(AttemptOutcome::Failed);
                tracing::warn!(error = %chain, error.kind = %kind, "activity attempt failed; the next attempt would start after the schedule_to_close deadline: the call fails");
                // A retry is due, but after the schedule_to_close deadline.
                let error = ActivityError::non_retryable(
                    SCHEDULE_TO_CLOSE_TIMEOUT,
                    format!(
                        "activity `{}` did not finish within its schedule_to_close timeout; last error: {error}",
                        task.name
                    ),
                );
                self.finish_activity(&task, Err(error.with_attempts(task.attempt)));
                return;
            }
            None => {
                metrics.attempt_ended(AttemptOutcome::Failed);
                tracing::warn!(error = %chain, error.kind = %kind, "activity attempt failed; not retried: the call fails");
                None
            }
        };
        let Some(due) = due else {
            let attempts = task.attempt;
            self.finish_activity(&task, Err(error.with_attempts(attempts)));
            return;
        };
        let (details, _, _) = ctx.last_heartbeat();
        let retry = TaskRetry {
            run_id: task.run_id.clone(),
            seq: task.seq,
            token: task.token,
            next_attempt: task.attempt + 1,
            due_ms: due,
            last_error: error.to_string(),
        };
        if let Some(details) = details.clone() {
            self.store_heartbeat(&task, ctx, details).await;
        }
        match self.store.retry_task(retry).await {
            Err(e) if e.is_fenced() => {
                tracing::warn!(error = %Chain(&e), "the attempt lost its lease; another worker retries it");
                return;
            }
            Err(e) => {
                tracing::error!(error = %Chain(&e), "could not record a failed attempt; retrying anyway");
            }
            Ok(()) => {}
        }
        let mut next = task;
        next.attempt += 1;
        next.due_ms = due;
        next.last_error = Some(error.to_string());
        next.details = details;
        self.schedule(next, workflow);
    }

    /// Stores an attempt's heartbeat details, renewing its task's lease; a
    /// fenced write (the task is gone, or another worker holds it now)
    /// cancels the attempt, whose result would be dropped.
    async fn store_heartbeat(&self, task: &Task, ctx: &ActivityContext, details: Value) {
        let stored = self
            .store
            .record_heartbeat(
                &task.run_id,
                task.seq,
                task.token,
                details,
                self.lease.duration,
            )
            .await;
        match stored {
            Ok(()) => {}
            Err(e) if e.is_fenced() => {
                tracing::warn!(error = %Chain(&e), "the attempt lost its lease; it is cancelled");
                ctx.cancel();
            }
            Err(e) => tracing::warn!(error = %Chain(&e), "could not store heartbeat details"),
        }
    }

    fn finish_activity(&self, task: &Task, result: Result<Value, ActivityError>) {
        let resolution = Resolution::Activity(result.map_err(|e| {
            let mut data: FailureData = e.data().clone();
            if data.attempts == 0 {
                data.attempts = task.attempt;
            }
            data
        }));
        self.send(WfMsg::Complete(Box::new(Completion {
            workflow_id: task.workflow_id.clone(),
            run_id: task.run_id.clone(),
            seq: task.seq,
            token: task.token,
            resolution,
        })));
    }

    /// Tells the attempts in flight of a run's call (or of all its calls)
    /// that they are cancelled.
    pub(super) fn cancel_attempt(&self, run_id: &str, seq: Option<u32>) {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let range = match seq {
            Some(seq) => (run_id.to_owned(), seq)..=(run_id.to_owned(), seq),
            None => (run_id.to_owned(), 0)..=(run_id.to_owned(), u32::MAX),
        };
        for ctx in running.range(range).map(|(_, ctx)| ctx) {
            ctx.cancel_by_workflow();
        }
    }
}
