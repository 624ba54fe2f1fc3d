//! The writes of a group commit, a statement per kind for the whole batch.
//!
//! Once every step of a [`Store::commit_steps`](crate::store::Store::commit_steps)
//! call has passed its checks (its run locked, its token and first index
//! right), the steps' writes do not depend on each other: their history
//! rows, consumed tasks, new tasks, run rows and consumed messages go out
//! as one statement each over arrays (`unnest`), whatever the batch's size.
//! The rarer writes follow: the ends of runs and the next runs of
//! continue-as-new steps. The wake-ups go after the commit (`notify.rs`).

use super::errors::store_error;
use super::ops::{insert_next_run, task_rows, upsert_tasks, Locked, Wake};
use super::rows::{int, json};
use super::sql::{execute, DELETE_DONE_TASKS, INSERT_EVENTS, UPDATE_RUNS};
use super::COMMIT;
use crate::error::StoreError;
use crate::store::{StepCommit, WorkflowStatus};

/// Writes the checked steps of a batch, each of a different run; returns
/// the wake-ups to send once the batch is committed.
pub(super) async fn write(
    tx: &deadpool_postgres::Transaction<'_>,
    steps: &[(&StepCommit, Locked)],
) -> Result<Wake, StoreError> {
    let sql = |e| store_error(COMMIT, format!("a batch of {} steps", steps.len()), e);

    let mut event_runs: Vec<&str> = Vec::new();
    let mut event_idx: Vec<i64> = Vec::new();
    let mut events: Vec<&str> = Vec::new();
    let mut done_runs: Vec<&str> = Vec::new();
    let mut done_seqs: Vec<i64> = Vec::new();
    let mut new_tasks = Vec::new();
    let mut inbox: Vec<i64> = Vec::new();
    let (mut runs, mut lens, mut nows) = (Vec::new(), Vec::new(), Vec::new());
    let (mut progress, mut statuses) = (Vec::new(), Vec::new());
    let (mut results, mut errors, mut ended) = (Vec::new(), Vec::new(), Vec::new());
    // Ended runs: their tasks go; their messages too, except the next run's
    // after a continue-as-new (only completions, of the old run's calls, go).
    let mut finished_runs: Vec<&str> = Vec::new();
    let mut finished_workflows: Vec<&str> = Vec::new();
    let mut continued_workflows: Vec<&str> = Vec::new();
    let mut wake = Wake::default();
    for (step, run) in steps {
        let run_id = step.run_id.as_str();
        for (i, event) in step.events.iter().enumerate() {
            event_runs.push(run_id);
            event_idx.push(int(run.len.saturating_add(i as u64)));
            events.push(event);
        }
        for seq in &step.done_tasks {
            done_runs.push(run_id);
            done_seqs.push(i64::from(*seq));
        }
        new_tasks.extend(task_rows(step));
        inbox.extend(step.done_inbox.iter().map(|id| int(*id)));
        runs.push(run_id);
        lens.push(int(run.len.saturating_add(step.events.len() as u64)));
        nows.push(int(step.now_ms));
        progress.push(step.progress.as_ref().map(json));
        statuses.push(step.status.as_ref().map(|c| c.status.as_str()));
        results.push(
            step.status
                .as_ref()
                .and_then(|c| c.result.as_ref().map(json)),
        );
        errors.push(step.status.as_ref().and_then(|c| c.error.clone()));
        let finished = step
            .status
            .as_ref()
            .map(|c| c.status)
            .filter(|s| s.is_finished());
        ended.push(finished.is_some());
        match finished {
            Some(WorkflowStatus::ContinuedAsNew) => {
                finished_runs.push(run_id);
                continued_workflows.push(&run.workflow_id);
            }
            Some(_) => {
                finished_runs.push(run_id);
                finished_workflows.push(&run.workflow_id);
            }
            None => {}
        }
        wake.add(Wake::of(step));
    }

    // The common writes, pipelined: one round trip.
    let history = async {
        if events.is_empty() {
            return Ok(());
        }
        execute(tx, INSERT_EVENTS, &[&event_runs, &event_idx, &events])
            .await
            .map(drop)
            .map_err(sql)
    };
    let done = async {
        if done_runs.is_empty() {
            return Ok(());
        }
        execute(tx, DELETE_DONE_TASKS, &[&done_runs, &done_seqs])
            .await
            .map(drop)
            .map_err(sql)
    };
    let tasks = async {
        if new_tasks.is_empty() {
            return Ok(());
        }
        upsert_tasks(tx, new_tasks).await
    };
    let run_rows = async {
        execute(
            tx,
            UPDATE_RUNS,
            &[
                &runs, &lens, &nows, &progress, &statuses, &results, &errors, &ended,
            ],
        )
        .await
        .map(drop)
        .map_err(sql)
    };
    let messages = async {
        if inbox.is_empty() {
            return Ok(());
        }
        execute(tx, "DELETE FROM inbox WHERE id = ANY($1)", &[&inbox])
            .await
            .map(drop)
            .map_err(sql)
    };
    tokio::try_join!(history, done, tasks, run_rows, messages)?;

    if !finished_runs.is_empty() {
        execute(
            tx,
            "DELETE FROM tasks WHERE run_id = ANY($1)",
            &[&finished_runs],
        )
        .await
        .map_err(sql)?;
        if !finished_workflows.is_empty() {
            execute(
                tx,
                "DELETE FROM inbox WHERE workflow_id = ANY($1)",
                &[&finished_workflows],
            )
            .await
            .map_err(sql)?;
        }
        if !continued_workflows.is_empty() {
            execute(
                tx,
                "DELETE FROM inbox WHERE workflow_id = ANY($1) AND kind = 'completed'",
                &[&continued_workflows],
            )
            .await
            .map_err(sql)?;
        }
    }
    for (step, run) in steps.iter().filter(|(step, _)| step.new_run.is_some()) {
        insert_next_run(tx, step, &run.workflow_id, &run.name).await?;
    }
    Ok(wake)
}
