//! The SQL of each write: creating a workflow, a step, a message, an
//! attempt's retry, completion and heartbeat, claims and releases. Each runs
//! in the transaction of the writer's batch, under its own savepoint.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use super::errors::store_error;
use super::rows::{
    decode_task, int, json, load_record, select_inbox, select_tasks, SELECT_LATEST_RUN, SELECT_RUN,
    SELECT_TASK,
};
use super::{
    ACQUIRE_SLOT, CLAIM_RUNS, CLAIM_TASKS, COMMIT, COMPLETE, CREATE, ENQUEUE, HEARTBEAT, RELEASE,
    RELEASE_SLOT, RENEW, RETRY,
};
use crate::clock::now_ms;
use crate::error::StoreError;
use crate::store::{
    slot_decision, ClaimedRun, Created, Enqueued, InboxItem, Lease, NewWorkflow, Release,
    SlotGrant, SlotRequest, StepCommit, Task, TaskDone, TaskRetry, Token, WorkflowStatus,
    MAX_RATE_PERIOD_MS,
};

/// Creates a workflow; `token` gives the run's token when it has an owner.
pub(super) fn create(
    conn: &Connection,
    token: impl FnOnce() -> Token,
    new: &NewWorkflow,
) -> Result<Created, StoreError> {
    let context = || format!("workflow `{}`", new.workflow_id);
    let latest: Option<String> = conn
        .prepare_cached("SELECT latest_run_id FROM workflows WHERE workflow_id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([&new.workflow_id], |row| row.get(0))
                .optional()
        })
        .map_err(|e| store_error(CREATE, context(), e))?;
    if let Some(run_id) = latest {
        let record = load_record(conn, CREATE, SELECT_RUN, &run_id)?.ok_or_else(|| {
            StoreError::new(
                CREATE,
                format!(
                    "corrupt row in `workflows` (workflow_id `{}`): column `latest_run_id` holds `{run_id}`, which is not a run",
                    new.workflow_id
                ),
            )
        })?;
        return Ok(Created::Existing(record));
    }
    let now = int(new.now_ms);
    let (owner, lease_until, token) = match &new.owner {
        Some(lease) => (
            Some(lease.worker.as_str()),
            Some(int(now_ms().saturating_add(lease.duration_ms()))),
            token(),
        ),
        None => (None, None, 0),
    };
    conn.prepare_cached(
        "INSERT INTO workflows (workflow_id, latest_run_id, name, created_ms) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut stmt| stmt.execute(params![new.workflow_id, new.run_id, new.name, now]))
    .and_then(|_| {
        conn.prepare_cached(
            "INSERT INTO runs (run_id, workflow_id, name, status, created_ms, updated_ms, history_len,
                 owner, lease_until, token)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1, ?6, ?7, ?8)",
        )?
        .execute(params![
            new.run_id,
            new.workflow_id,
            new.name,
            WorkflowStatus::Running.as_str(),
            now,
            owner,
            lease_until,
            int(token),
        ])
    })
    .and_then(|_| {
        conn.prepare_cached("INSERT INTO history (run_id, idx, event) VALUES (?1, 0, ?2)")?
            .execute(params![new.run_id, new.started_event])
    })
    .map_err(|e| store_error(CREATE, context(), e))?;
    Ok(Created::New { token })
}

pub(super) fn next_token(tokens: &AtomicU64) -> Token {
    tokens.fetch_add(1, Ordering::Relaxed) + 1
}

pub(super) fn apply_step(conn: &Connection, step: &StepCommit) -> Result<(), StoreError> {
    let run_id = &step.run_id;
    let context = || format!("run `{run_id}`");
    let sql = |e| store_error(COMMIT, context(), e);
    let run: Option<(i64, String, String, i64)> = conn
        .prepare_cached("SELECT history_len, workflow_id, name, token FROM runs WHERE run_id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([run_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .optional()
        })
        .map_err(sql)?;
    let Some((len, workflow_id, name, token)) = run else {
        return Err(StoreError::new(COMMIT, format!("no run `{run_id}`")));
    };
    if token != int(step.token) {
        return Err(StoreError::fenced(
            COMMIT,
            format!(
                "run `{run_id}` is held by another worker now (token {token}, the step has {})",
                step.token
            ),
        ));
    }
    let (owner, lease_until) = match &step.lease {
        Some(lease) => (
            Some(lease.worker.as_str()),
            Some(int(now_ms().saturating_add(lease.duration_ms()))),
        ),
        None => (None, None),
    };
    // A step without events (a change of status or progress alone) may
    // come from a worker that does not know the history's length.
    if !step.events.is_empty() && u64::try_from(len).ok() != Some(step.first_index) {
        return Err(StoreError::new(
            COMMIT,
            format!(
                "run `{run_id}` has {len} events, the step expected {}",
                step.first_index
            ),
        ));
    }
    if let Some(new_run) = &step.new_run {
        let taken = conn
            .prepare_cached("SELECT 1 FROM runs WHERE run_id = ?1")
            .and_then(|mut stmt| stmt.exists([&new_run.run_id]))
            .map_err(sql)?;
        if taken {
            return Err(StoreError::new(
                COMMIT,
                format!("run `{}` exists already", new_run.run_id),
            ));
        }
    }

    let mut insert_event = conn
        .prepare_cached("INSERT INTO history (run_id, idx, event) VALUES (?1, ?2, ?3)")
        .map_err(sql)?;
    let mut next = len;
    for event in &step.events {
        insert_event
            .execute(params![run_id, next, event])
            .map_err(sql)?;
        next += 1;
    }

    if !step.done_tasks.is_empty() {
        let mut delete = conn
            .prepare_cached("DELETE FROM tasks WHERE run_id = ?1 AND seq = ?2")
            .map_err(sql)?;
        for seq in &step.done_tasks {
            delete.execute(params![run_id, seq]).map_err(sql)?;
        }
    }

    if !step.new_tasks.is_empty() {
        let mut insert = conn
            .prepare_cached(
                "INSERT OR REPLACE INTO tasks (run_id, seq, workflow_id, kind, name, input, options,
                     attempt, scheduled_ms, due_ms, last_error, details, owner, lease_until, token)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )
            .map_err(sql)?;
        for task in &step.new_tasks {
            let options = serde_json::to_string(&task.options).map_err(|e| {
                StoreError::new(
                    COMMIT,
                    format!(
                        "task {} of run `{}`: its options do not encode: {e}",
                        task.seq, task.run_id
                    ),
                )
            })?;
            insert
                .execute(params![
                    task.run_id,
                    task.seq,
                    task.workflow_id,
                    task.kind.as_str(),
                    task.name,
                    json(&task.input),
                    options,
                    task.attempt,
                    int(task.scheduled_ms),
                    int(task.due_ms),
                    task.last_error,
                    task.details.as_ref().map(json),
                    owner,
                    lease_until,
                    token,
                ])
                .map_err(sql)?;
        }
    }

    let progress = step.progress.as_ref().map(json);
    match &step.status {
        None => conn
            .prepare_cached(
                "UPDATE runs SET history_len = ?2, updated_ms = ?3, progress = coalesce(?4, progress)
                 WHERE run_id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![run_id, next, int(step.now_ms), progress])),
        Some(change) => conn
            .prepare_cached(
                "UPDATE runs SET history_len = ?2, updated_ms = ?3, progress = coalesce(?4, progress),
                     status = ?5, result = ?6, error = ?7
                 WHERE run_id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    run_id,
                    next,
                    int(step.now_ms),
                    progress,
                    change.status.as_str(),
                    change.result.as_ref().map(json),
                    change.error,
                ])
            }),
    }
    .map_err(sql)?;

    if step.status.as_ref().is_some_and(|c| c.status.is_finished()) {
        conn.prepare_cached("DELETE FROM tasks WHERE run_id = ?1")
            .and_then(|mut stmt| stmt.execute([run_id]))
            .map_err(sql)?;
        conn.prepare_cached("UPDATE runs SET owner = NULL, lease_until = NULL WHERE run_id = ?1")
            .and_then(|mut stmt| stmt.execute([run_id]))
            .map_err(sql)?;
        // Nothing reads a finished workflow's messages any more; after a
        // continue-as-new, completions of the old run's calls are not the
        // new run's.
        let leftovers = if step.new_run.is_none() {
            "DELETE FROM inbox WHERE workflow_id = ?1"
        } else {
            "DELETE FROM inbox WHERE workflow_id = ?1 AND kind IN ('completed', 'child')"
        };
        conn.prepare_cached(leftovers)
            .and_then(|mut stmt| stmt.execute([&workflow_id]))
            .map_err(sql)?;
    }

    if !step.done_inbox.is_empty() {
        let mut delete = conn
            .prepare_cached("DELETE FROM inbox WHERE id = ?1")
            .map_err(sql)?;
        for id in &step.done_inbox {
            delete.execute([int(*id)]).map_err(sql)?;
        }
    }

    if let Some(new_run) = &step.new_run {
        // Continue-as-new: the next run of the workflow becomes its latest.
        let now = int(step.now_ms);
        conn.prepare_cached(
            "INSERT INTO runs (run_id, workflow_id, name, status, created_ms, updated_ms, history_len,
                 owner, lease_until, token)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1, ?6, ?7, ?8)",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                new_run.run_id,
                workflow_id,
                name,
                WorkflowStatus::Running.as_str(),
                now,
                owner,
                lease_until,
                token,
            ])
        })
        .and_then(|_| {
            conn.prepare_cached("INSERT INTO history (run_id, idx, event) VALUES (?1, 0, ?2)")?
                .execute(params![new_run.run_id, new_run.started_event])
        })
        .and_then(|_| {
            conn.prepare_cached("UPDATE workflows SET latest_run_id = ?2 WHERE workflow_id = ?1")?
                .execute(params![workflow_id, new_run.run_id])
        })
        .map_err(|e| store_error(COMMIT, format!("run `{}`, continued as `{}`", run_id, new_run.run_id), e))?;
    }
    for child in &step.children {
        // Children are created unowned: any worker claims them.
        if let Created::Existing(_) = create(conn, || 0, &child.workflow)? {
            let message = &child.on_conflict;
            enqueue(conn, &message.workflow_id, &message.item, step.now_ms)?;
        }
    }
    for message in &step.messages {
        enqueue(conn, &message.workflow_id, &message.item, step.now_ms)?;
    }
    Ok(())
}

pub(super) fn enqueue(
    conn: &Connection,
    workflow_id: &str,
    item: &InboxItem,
    now_ms: u64,
) -> Result<Enqueued, StoreError> {
    let Some(latest) = load_record(conn, ENQUEUE, SELECT_LATEST_RUN, workflow_id)? else {
        return Ok(Enqueued::NotFound);
    };
    if latest.status.is_finished() {
        return Ok(Enqueued::Finished(latest.status));
    }
    let (kind, payload) = item.encode();
    conn.prepare_cached(
        "INSERT INTO inbox (workflow_id, kind, payload, created_ms) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut stmt| stmt.execute(params![workflow_id, kind, json(&payload), int(now_ms)]))
    .map_err(|e| store_error(ENQUEUE, format!("workflow `{workflow_id}`"), e))?;
    let id = u64::try_from(conn.last_insert_rowid())
        .map_err(|_| StoreError::new(ENQUEUE, "the inbox gave a negative id"))?;
    Ok(Enqueued::Accepted {
        id,
        run_id: latest.run_id,
    })
}

/// The token of a task: `None` when the task is gone.
fn task_token(
    conn: &Connection,
    operation: &'static str,
    run_id: &str,
    seq: u32,
) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached("SELECT token FROM tasks WHERE run_id = ?1 AND seq = ?2")
        .and_then(|mut stmt| {
            stmt.query_row(params![run_id, seq], |row| row.get(0))
                .optional()
        })
        .map_err(|e| store_error(operation, format!("task {seq} of run `{run_id}`"), e))
}

/// Checks that a task is held under `token`: `Ok(false)` when it is gone.
fn check_task(
    conn: &Connection,
    operation: &'static str,
    run_id: &str,
    seq: u32,
    token: Token,
) -> Result<bool, StoreError> {
    match task_token(conn, operation, run_id, seq)? {
        None => Ok(false),
        Some(held) if held == int(token) => Ok(true),
        Some(held) => Err(StoreError::fenced(
            operation,
            format!(
                "task {seq} of run `{run_id}` is held by another worker now (token {held}, the write has {token})"
            ),
        )),
    }
}

pub(super) fn record_heartbeat(
    conn: &Connection,
    run_id: &str,
    seq: u32,
    token: Token,
    details: &Value,
    lease: Duration,
) -> Result<(), StoreError> {
    if !check_task(conn, HEARTBEAT, run_id, seq, token)? {
        return Err(StoreError::fenced(
            HEARTBEAT,
            format!("task {seq} of run `{run_id}` is gone"),
        ));
    }
    let until = int(now_ms().saturating_add(u64::try_from(lease.as_millis()).unwrap_or(u64::MAX)));
    conn.prepare_cached(
        "UPDATE tasks SET details = ?3, heartbeat_ms = ?5,
             lease_until = CASE WHEN owner IS NULL THEN NULL ELSE ?4 END
         WHERE run_id = ?1 AND seq = ?2",
    )
    .and_then(|mut stmt| stmt.execute(params![run_id, seq, json(details), until, int(now_ms())]))
    .map_err(|e| store_error(HEARTBEAT, format!("task {seq} of run `{run_id}`"), e))?;
    Ok(())
}

pub(super) fn retry_task(conn: &Connection, retry: &TaskRetry) -> Result<(), StoreError> {
    if !check_task(conn, RETRY, &retry.run_id, retry.seq, retry.token)? {
        return Ok(());
    }
    conn.prepare_cached(
        "UPDATE tasks SET attempt = ?3, due_ms = ?4, last_error = ?5 WHERE run_id = ?1 AND seq = ?2",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            retry.run_id,
            retry.seq,
            retry.next_attempt,
            int(retry.due_ms),
            retry.last_error
        ])
    })
    .map_err(|e| {
        store_error(
            RETRY,
            format!("task {} of run `{}`", retry.seq, retry.run_id),
            e,
        )
    })?;
    Ok(())
}

pub(super) fn complete_task(conn: &Connection, done: &TaskDone) -> Result<(), StoreError> {
    if !check_task(conn, COMPLETE, &done.run_id, done.seq, done.token)? {
        return Ok(());
    }
    let sql = |e| {
        store_error(
            COMPLETE,
            format!("task {} of run `{}`", done.seq, done.run_id),
            e,
        )
    };
    conn.prepare_cached("DELETE FROM tasks WHERE run_id = ?1 AND seq = ?2")
        .and_then(|mut stmt| stmt.execute(params![done.run_id, done.seq]))
        .map_err(sql)?;
    let (kind, payload) = InboxItem::Completed {
        seq: done.seq,
        result: done.result.clone(),
    }
    .encode();
    conn.prepare_cached(
        "INSERT INTO inbox (workflow_id, kind, payload, created_ms) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            done.workflow_id,
            kind,
            json(&payload),
            int(done.now_ms)
        ])
    })
    .map_err(sql)?;
    Ok(())
}

/// Names as a JSON array, for `IN (SELECT value FROM json_each(?))`.
pub(super) fn names_json(names: &[String]) -> String {
    serde_json::to_string(names).unwrap_or_else(|_| "[]".to_owned())
}

/// Runs a worker may claim, driven by indexes so that a poll costs little
/// however many runs wait: those with messages (from the inbox), those
/// nobody holds (`runs_free`), those whose holder's lease expired
/// (`runs_held`). $1 worker, $2 names (JSON), $3 now, $4 horizon, $5 limit.
const SELECT_CLAIMABLE_RUNS: &str = "
    WITH ready(seq, run_id, mine) AS (
        SELECT r.seq, r.run_id, coalesce(r.owner = ?1, 0)
        FROM (SELECT DISTINCT workflow_id FROM inbox) i
        JOIN workflows w ON w.workflow_id = i.workflow_id
        JOIN runs r ON r.run_id = w.latest_run_id
        WHERE r.status IN ('running', 'blocked')
          AND (r.owner IS NULL OR r.owner = ?1 OR r.lease_until <= ?3)
        UNION
        SELECT r.seq, r.run_id, 0 FROM runs r
        WHERE r.owner IS NULL AND r.status IN ('running', 'blocked')
          AND (r.history_len = 1 OR r.status = 'blocked'
               OR EXISTS (SELECT 1 FROM tasks t
                          WHERE t.run_id = r.run_id AND t.kind = 'timer' AND t.due_ms <= ?4))
        UNION
        SELECT r.seq, r.run_id, 0 FROM runs r
        WHERE r.owner IS NOT NULL AND r.status IN ('running', 'blocked')
          AND r.lease_until <= ?3 AND r.owner <> ?1
          AND (r.history_len = 1 OR r.status = 'blocked'
               OR EXISTS (SELECT 1 FROM tasks t
                          WHERE t.run_id = r.run_id AND t.kind = 'timer' AND t.due_ms <= ?4))
    )
    SELECT ready.run_id, max(ready.mine), r.token FROM ready JOIN runs r ON r.seq = ready.seq
    WHERE r.name IN (SELECT value FROM json_each(?2))
    GROUP BY ready.seq
    ORDER BY ready.seq LIMIT ?5";

pub(super) fn claim_runs(
    conn: &Connection,
    tokens: &AtomicU64,
    lease: &Lease,
    names: &str,
    limit: usize,
    horizon_ms: u64,
) -> Result<Vec<ClaimedRun>, StoreError> {
    let sql = |e| store_error(CLAIM_RUNS, format!("worker `{}`", lease.worker), e);
    let now = now_ms();
    let until = int(now.saturating_add(lease.duration_ms()));
    let candidates: Vec<(String, bool, i64)> = conn
        .prepare_cached(SELECT_CLAIMABLE_RUNS)
        .and_then(|mut stmt| {
            stmt.query_map(
                params![
                    lease.worker,
                    names,
                    int(now),
                    int(now.saturating_add(horizon_ms)),
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )?
            .collect()
        })
        .map_err(sql)?;
    let mut claimed = Vec::with_capacity(candidates.len());
    for (run_id, mine, held) in candidates {
        // This worker's own runs keep their token (their lease is renewed
        // by `renew`); others get a fresh one.
        let token = if mine {
            u64::try_from(held).unwrap_or(0)
        } else {
            let token = next_token(tokens);
            conn.prepare_cached(
                "UPDATE runs SET owner = ?2, lease_until = ?3, token = ?4 WHERE run_id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![run_id, lease.worker, until, int(token)]))
            .map_err(sql)?;
            token
        };
        let Some(record) = load_record(conn, CLAIM_RUNS, SELECT_RUN, &run_id)? else {
            continue;
        };
        let inbox = select_inbox(conn, CLAIM_RUNS, Some(&record.workflow_id))?;
        let tasks = if mine {
            Vec::new()
        } else {
            select_tasks(conn, CLAIM_RUNS, Some(&run_id))?
        };
        claimed.push(ClaimedRun {
            record,
            token,
            taken: !mine,
            inbox,
            tasks,
        });
    }
    Ok(claimed)
}

const SELECT_CLAIMABLE_TASKS: &str = "
    SELECT t.run_id, t.seq FROM tasks t JOIN runs r ON r.run_id = t.run_id
    WHERE t.kind = 'activity' AND t.due_ms <= ?3 AND r.status = 'running'
      AND (t.owner IS NULL OR t.lease_until <= ?2)
      AND t.name IN (SELECT value FROM json_each(?1))
    ORDER BY t.due_ms LIMIT ?4";

pub(super) fn claim_tasks(
    conn: &Connection,
    tokens: &AtomicU64,
    lease: &Lease,
    names: &str,
    limit: usize,
    horizon_ms: u64,
) -> Result<Vec<Task>, StoreError> {
    let sql = |e| store_error(CLAIM_TASKS, format!("worker `{}`", lease.worker), e);
    let now = now_ms();
    let until = int(now.saturating_add(lease.duration_ms()));
    let candidates: Vec<(String, u32)> = conn
        .prepare_cached(SELECT_CLAIMABLE_TASKS)
        .and_then(|mut stmt| {
            stmt.query_map(
                params![
                    names,
                    int(now),
                    int(now.saturating_add(horizon_ms)),
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?
            .collect()
        })
        .map_err(sql)?;
    let mut claimed = Vec::with_capacity(candidates.len());
    for (run_id, seq) in candidates {
        let token = next_token(tokens);
        conn.prepare_cached(
            "UPDATE tasks SET owner = ?3, lease_until = ?4, token = ?5 WHERE run_id = ?1 AND seq = ?2",
        )
        .and_then(|mut stmt| stmt.execute(params![run_id, seq, lease.worker, until, int(token)]))
        .map_err(sql)?;
        let task = conn
            .prepare_cached(SELECT_TASK)
            .and_then(|mut stmt| {
                stmt.query_row(params![run_id, seq], |row| {
                    Ok(decode_task(CLAIM_TASKS, row))
                })
            })
            .map_err(sql)?;
        match task {
            Ok(task) => claimed.push(task),
            // A corrupt task: left claimed (so it is not handed out again
            // and again) and reported.
            Err(e) => tracing::error!(error = %e, "skipping a corrupt task"),
        }
    }
    Ok(claimed)
}

pub(super) fn release_leases(conn: &Connection, release: &Release) -> Result<(), StoreError> {
    let sql = |e| store_error(RELEASE, format!("{release:?}"), e);
    match release {
        Release::Worker(worker) => {
            conn.prepare_cached(
                "UPDATE runs SET owner = NULL, lease_until = NULL WHERE owner = ?1",
            )
            .and_then(|mut stmt| stmt.execute([worker]))
            .map_err(sql)?;
            conn.prepare_cached(
                "UPDATE tasks SET owner = NULL, lease_until = NULL WHERE owner = ?1",
            )
            .and_then(|mut stmt| stmt.execute([worker]))
            .map_err(sql)?;
            conn.prepare_cached("DELETE FROM slots WHERE owner = ?1")
                .and_then(|mut stmt| stmt.execute([worker]))
                .map_err(sql)?;
        }
        Release::Run { run_id, token } => {
            let released = conn
                .prepare_cached(
                    "UPDATE runs SET owner = NULL, lease_until = NULL WHERE run_id = ?1 AND token = ?2",
                )
                .and_then(|mut stmt| stmt.execute(params![run_id, int(*token)]))
                .map_err(sql)?;
            if released > 0 {
                // Only the tasks held with the run: an attempt another
                // worker claimed stays with it.
                conn.prepare_cached(
                    "UPDATE tasks SET owner = NULL, lease_until = NULL WHERE run_id = ?1 AND token = ?2",
                )
                .and_then(|mut stmt| stmt.execute(params![run_id, int(*token)]))
                .map_err(sql)?;
            }
        }
    }
    Ok(())
}

/// Extends every lease `lease.worker` holds, runs, tasks and slots; drops
/// the starts too old to count for any rate.
pub(super) fn renew(conn: &Connection, lease: &Lease) -> Result<(), StoreError> {
    let now = now_ms();
    let until = int(now.saturating_add(lease.duration_ms()));
    let sql = |e| store_error(RENEW, format!("worker `{}`", lease.worker), e);
    for statement in [
        "UPDATE runs SET lease_until = ?2 WHERE owner = ?1 AND status IN ('running', 'blocked')",
        "UPDATE tasks SET lease_until = ?2 WHERE owner = ?1",
        "UPDATE slots SET lease_until = ?2 WHERE owner = ?1",
    ] {
        conn.prepare_cached(statement)
            .and_then(|mut stmt| stmt.execute(params![lease.worker, until]))
            .map_err(sql)?;
    }
    conn.prepare_cached("DELETE FROM slot_starts WHERE started_ms <= ?1")
        .and_then(|mut stmt| stmt.execute([int(now.saturating_sub(MAX_RATE_PERIOD_MS))]))
        .map_err(sql)?;
    Ok(())
}

/// Grants a slot of an activity's limits, or marks the task as waiting for
/// one (see `Store::acquire_slot`). The writer runs one request at a time,
/// so counting and taking cannot interleave with another worker's.
pub(super) fn acquire_slot(
    conn: &Connection,
    request: &SlotRequest,
) -> Result<SlotGrant, StoreError> {
    let SlotRequest {
        run_id,
        seq,
        token,
        activity,
        key,
        ..
    } = request;
    let sql = |e| store_error(ACQUIRE_SLOT, format!("task {seq} of run `{run_id}`"), e);
    if !check_task(conn, ACQUIRE_SLOT, run_id, *seq, *token)? {
        return Err(StoreError::fenced(
            ACQUIRE_SLOT,
            format!("task {seq} of run `{run_id}` is gone"),
        ));
    }
    let now = request.now_ms;
    let running: i64 = if request.max_concurrent.is_some() {
        conn.prepare_cached(
            "SELECT count(*) FROM slots s WHERE s.activity = ?1 AND s.limit_key = ?2
             AND s.lease_until > ?3 AND NOT (s.run_id = ?4 AND s.seq = ?5)
             AND EXISTS (SELECT 1 FROM tasks t WHERE t.run_id = s.run_id AND t.seq = s.seq)",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![activity, key, int(now), run_id, seq], |row| {
                row.get(0)
            })
        })
        .map_err(sql)?
    } else {
        0
    };
    let (starts, oldest): (i64, Option<i64>) = match request.rate {
        Some(rate) => conn
            .prepare_cached(
                "SELECT count(*), min(started_ms) FROM slot_starts
                 WHERE activity = ?1 AND limit_key = ?2 AND started_ms > ?3",
            )
            .and_then(|mut stmt| {
                let window_start = int(now.saturating_sub(rate.per_ms()));
                stmt.query_row(params![activity, key, window_start], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
            })
            .map_err(sql)?,
        None => (0, None),
    };
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let oldest = oldest.map(count);
    let decision = slot_decision(request, count(running), count(starts), oldest);
    if decision != SlotGrant::Granted {
        conn.prepare_cached(
            "UPDATE tasks SET slot_wait_ms = coalesce(slot_wait_ms, ?3) WHERE run_id = ?1 AND seq = ?2",
        )
        .and_then(|mut stmt| stmt.execute(params![run_id, seq, int(now)]))
        .map_err(sql)?;
        return Ok(decision);
    }
    if request.max_concurrent.is_some() {
        let until = int(now.saturating_add(request.lease.duration_ms()));
        conn.prepare_cached(
            "INSERT OR REPLACE INTO slots (run_id, seq, activity, limit_key, owner, lease_until)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                run_id,
                seq,
                activity,
                key,
                request.lease.worker,
                until
            ])
        })
        .map_err(sql)?;
    }
    if request.rate.is_some() {
        conn.prepare_cached(
            "INSERT INTO slot_starts (activity, limit_key, started_ms) VALUES (?1, ?2, ?3)",
        )
        .and_then(|mut stmt| stmt.execute(params![activity, key, int(now)]))
        .map_err(sql)?;
    }
    conn.prepare_cached(
        "UPDATE tasks SET slot_wait_ms = NULL WHERE run_id = ?1 AND seq = ?2 AND slot_wait_ms IS NOT NULL",
    )
    .and_then(|mut stmt| stmt.execute(params![run_id, seq]))
    .map_err(sql)?;
    Ok(SlotGrant::Granted)
}

/// Gives back the slot an attempt holds, if any.
pub(super) fn release_slot(conn: &Connection, run_id: &str, seq: u32) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM slots WHERE run_id = ?1 AND seq = ?2")
        .and_then(|mut stmt| stmt.execute(params![run_id, seq]))
        .map_err(|e| store_error(RELEASE_SLOT, format!("task {seq} of run `{run_id}`"), e))?;
    Ok(())
}
