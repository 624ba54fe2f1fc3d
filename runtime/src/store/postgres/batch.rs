//! The writes of a group commit, a statement per kind for the whole batch.
//!
//! Once every step of a [`Store::commit_steps`](crate::store::Store::commit_steps)
//! call has passed its checks (its run locked, its token and first index
//! right), the steps' writes do not depend on each other: their history
//! rows, consumed tasks, new tasks, run rows and consumed messages go out
//! as one statement each over arrays (`unnest`), whatever the batch's size.
//! The rarer writes follow: the ends of runs and the next runs of
//! continue-as-new steps. The wake-ups go after the commit (`notify.rs`).

use std::collections::HashMap;

use futures_util::future::try_join_all;

use super::commit::{Locked, Wake};
use super::errors::store_error;
use super::ops::create_in;
use super::rows::{int, json, span};
use super::sql::{
    execute, DELETE_DONE_TASKS, INSERT_EVENTS, INSERT_NEXT_RUN, UPDATE_RUNS, UPSERT_TASKS,
};
use super::COMMIT;
use crate::error::StoreError;
use crate::store::{Created, InboxItem, StepCommit, Task, WorkflowStatus};

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
                "DELETE FROM inbox WHERE workflow_id = ANY($1) AND kind IN ('completed', 'child')",
                &[&continued_workflows],
            )
            .await
            .map_err(sql)?;
        }
    }
    for (step, run) in steps.iter().filter(|(step, _)| step.new_run.is_some()) {
        insert_next_run(tx, step, &run.workflow_id, &run.name).await?;
    }
    // Children (unowned: any worker claims them) and messages, pipelined on
    // the transaction's connection: a parent that starts thousands of
    // children waits for a few round trips, not one per statement.
    // A second child of the same id in the batch conflicts with the first
    // (it is not sent along, whose row may not be written yet).
    let mut ids = std::collections::HashSet::new();
    let (children, repeated): (Vec<_>, Vec<_>) = steps
        .iter()
        .flat_map(|(step, _)| step.children.iter().map(move |child| (step.now_ms, child)))
        .partition(|(_, child)| ids.insert(child.workflow.workflow_id.as_str()));
    let created = try_join_all(children.into_iter().map(|(now_ms, child)| async move {
        let (created, _) = create_in(tx, &child.workflow).await?;
        Ok::<_, StoreError>(matches!(created, Created::Existing(_)).then_some((now_ms, child)))
    }))
    .await?;
    let conflicts = created
        .into_iter()
        .flatten()
        .chain(repeated)
        .map(|(now_ms, child)| (now_ms, &child.on_conflict));
    let messages = steps
        .iter()
        .flat_map(|(step, _)| step.messages.iter().map(move |m| (step.now_ms, m)));
    try_join_all(
        conflicts
            .chain(messages)
            .map(|(now_ms, m)| add_message(tx, &m.workflow_id, &m.item, now_ms)),
    )
    .await?;
    Ok(wake)
}

/// Adds a message to a workflow's inbox if its latest run has not ended.
/// The run is not locked (a group commit locks only its own runs): a
/// message that lands just as the run ends stays unread, as one that
/// arrives for an ended workflow would.
async fn add_message(
    tx: &deadpool_postgres::Transaction<'_>,
    workflow_id: &str,
    item: &InboxItem,
    now_ms: u64,
) -> Result<(), StoreError> {
    let (kind, payload) = item.encode();
    execute(
        tx,
        "INSERT INTO inbox (workflow_id, kind, payload, created_ms)
         SELECT w.workflow_id, $2, $3, $4 FROM workflows w
         JOIN runs r ON r.run_id = w.latest_run_id
         WHERE w.workflow_id = $1 AND r.status IN ('running', 'blocked')",
        &[&workflow_id, &kind, &json(&payload), &int(now_ms)],
    )
    .await
    .map(drop)
    .map_err(|e| store_error(COMMIT, format!("a message to workflow `{workflow_id}`"), e))
}

/// A new task as it is written: the task, its holder (or none), the
/// holder's lease (ms) and the token.
pub(super) type TaskRow<'a> = (&'a Task, Option<&'a str>, i64, i64);

/// A step's new tasks as rows.
pub(super) fn task_rows(step: &StepCommit) -> Vec<TaskRow<'_>> {
    let owner = step.lease.as_ref().map(|lease| lease.worker.as_str());
    let lease_ms = span(step.lease.as_ref().map_or(0, |lease| lease.duration_ms()));
    step.new_tasks
        .iter()
        .map(|task| (task, owner, lease_ms, int(step.token)))
        .collect()
}

/// Inserts (or replaces) new tasks, in one statement.
pub(super) async fn upsert_tasks(
    tx: &deadpool_postgres::Transaction<'_>,
    rows: Vec<TaskRow<'_>>,
) -> Result<(), StoreError> {
    // One row per key: `ON CONFLICT DO UPDATE` cannot change a row twice
    // in one statement. The last task of a key wins, as with one insert each.
    let mut by_key: HashMap<(&str, u32), usize> = HashMap::with_capacity(rows.len());
    let mut unique: Vec<TaskRow<'_>> = Vec::with_capacity(rows.len());
    for row in rows {
        match by_key.get(&(row.0.run_id.as_str(), row.0.seq)) {
            Some(&i) => unique[i] = row,
            None => {
                by_key.insert((row.0.run_id.as_str(), row.0.seq), unique.len());
                unique.push(row);
            }
        }
    }
    unique.sort_by(|a, b| (&a.0.run_id, a.0.seq).cmp(&(&b.0.run_id, b.0.seq)));
    let mut options = Vec::with_capacity(unique.len());
    for (task, ..) in &unique {
        options.push(serde_json::to_string(&task.options).map_err(|e| {
            StoreError::new(
                COMMIT,
                format!(
                    "task {} of run `{}`: its options do not encode: {e}",
                    task.seq, task.run_id
                ),
            )
        })?);
    }
    let tasks: Vec<&Task> = unique.iter().map(|row| row.0).collect();
    let run_ids: Vec<&str> = tasks.iter().map(|t| t.run_id.as_str()).collect();
    let seqs: Vec<i64> = tasks.iter().map(|t| i64::from(t.seq)).collect();
    let workflow_ids: Vec<&str> = tasks.iter().map(|t| t.workflow_id.as_str()).collect();
    let kinds: Vec<&str> = tasks.iter().map(|t| t.kind.as_str()).collect();
    let names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<String> = tasks.iter().map(|t| json(&t.input)).collect();
    let attempts: Vec<i64> = tasks.iter().map(|t| i64::from(t.attempt)).collect();
    let scheduled: Vec<i64> = tasks.iter().map(|t| int(t.scheduled_ms)).collect();
    let due: Vec<i64> = tasks.iter().map(|t| int(t.due_ms)).collect();
    let last_errors: Vec<Option<&str>> = tasks.iter().map(|t| t.last_error.as_deref()).collect();
    let details: Vec<Option<String>> = tasks.iter().map(|t| t.details.as_ref().map(json)).collect();
    let owners: Vec<Option<&str>> = unique.iter().map(|row| row.1).collect();
    let leases: Vec<i64> = unique.iter().map(|row| row.2).collect();
    let tokens: Vec<i64> = unique.iter().map(|row| row.3).collect();
    execute(
        tx,
        UPSERT_TASKS,
        &[
            &run_ids,
            &seqs,
            &workflow_ids,
            &kinds,
            &names,
            &inputs,
            &options,
            &attempts,
            &scheduled,
            &due,
            &last_errors,
            &details,
            &owners,
            &leases,
            &tokens,
        ],
    )
    .await
    .map_err(|e| store_error(COMMIT, "new tasks", e))?;
    Ok(())
}

/// Continue-as-new: the next run of the workflow becomes its latest, held
/// by the same worker under the same token (nothing for other steps).
pub(super) async fn insert_next_run(
    tx: &deadpool_postgres::Transaction<'_>,
    step: &StepCommit,
    workflow_id: &str,
    name: &str,
) -> Result<(), StoreError> {
    let Some(new_run) = &step.new_run else {
        return Ok(());
    };
    let run_id = &step.run_id;
    let owner = step.lease.as_ref().map(|lease| lease.worker.as_str());
    let lease_ms = span(step.lease.as_ref().map_or(0, |lease| lease.duration_ms()));
    let now = int(step.now_ms);
    let context = || format!("run `{run_id}`, continued as `{}`", new_run.run_id);
    let sql = |e| store_error(COMMIT, context(), e);
    execute(
        tx,
        INSERT_NEXT_RUN,
        &[
            &new_run.run_id,
            &workflow_id,
            &name,
            &now,
            &owner,
            &lease_ms,
            &int(step.token),
        ],
    )
    .await
    .map_err(sql)?;
    execute(
        tx,
        "INSERT INTO history (run_id, idx, event) VALUES ($1, 0, $2)",
        &[&new_run.run_id, &new_run.started_event],
    )
    .await
    .map_err(sql)?;
    execute(
        tx,
        "UPDATE workflows SET latest_run_id = $2 WHERE workflow_id = $1",
        &[&workflow_id, &new_run.run_id],
    )
    .await
    .map_err(sql)?;
    Ok(())
}
