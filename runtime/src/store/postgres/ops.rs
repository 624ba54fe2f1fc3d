//! The transaction of each operation but the group commit (`commit.rs`),
//! one attempt each (`*_once`; the store's methods decide whether to
//! retry).

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use super::errors::store_error;
use super::rows::{
    clip, decode_inbox_rows, decode_run, decode_task, int, json, run_fields, span, Fields,
};
use super::slots::{max_rate_period, PRUNE_STARTS, RELEASE_WORKER_SLOTS, RENEW_SLOTS};
use super::sql::{
    execute, query, query_opt, run_columns, CLAIM_RUNS_SQL, CLAIM_TASKS_SQL, INSERT_FIRST_RUN,
    OWN_RUNS_SQL, RELEASE_RUN, RELEASE_RUN_TASKS, RELEASE_WORKER_RUNS, RELEASE_WORKER_TASKS,
    RENEW_RUNS, RENEW_TASKS, SELECT_INBOX_OF_WORKFLOWS, SELECT_LATEST_RUN, SELECT_RUN_WITH_HISTORY,
    SELECT_TASKS_OF_RUNS,
};
use super::{PostgresStore, CLAIM_RUNS, CLAIM_TASKS, CREATE, ENQUEUE, LOAD_RUN, RELEASE, RENEW};
use crate::error::StoreError;
use crate::store::{
    ClaimFilter, ClaimedRun, Created, Enqueued, HistoryRows, InboxItem, InboxRecord, Lease,
    NewWorkflow, Release, RunRecord, Task, Token, WorkflowStatus,
};

/// How often `enqueue` looks for a workflow's latest run again when the one
/// it locked turned out to have continued as new meanwhile.
const ENQUEUE_ATTEMPTS: usize = 4;

impl PostgresStore {
    /// One attempt of `create_workflow`.
    pub(super) async fn create_once(&self, new: &NewWorkflow) -> Result<Created, StoreError> {
        let sql = |e| store_error(CREATE, format!("workflow `{}`", new.workflow_id), e);
        let mut client = self.client(CREATE).await?;
        let tx = client.transaction().await.map_err(sql)?;
        let (created, inserted) = create_in(&tx, new).await?;
        if inserted {
            tx.commit().await.map_err(sql)?;
            if new.owner.is_none() {
                self.notifier.work();
            }
        } else {
            tx.rollback().await.map_err(sql)?;
        }
        Ok(created)
    }

    /// One attempt of `claim_runs`: the claim, then the claimed
    /// workflows' messages and the taken runs' tasks, in one transaction.
    pub(super) async fn claim_runs_once(
        &self,
        lease: &Lease,
        filter: ClaimFilter<'_>,
    ) -> Result<Vec<ClaimedRun>, StoreError> {
        let sql = |e| store_error(CLAIM_RUNS, format!("worker `{}`", lease.worker), e);
        let mut client = self.client(CLAIM_RUNS).await?;
        let tx = client.transaction().await.map_err(sql)?;
        let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
        let mut rows = query(&tx, OWN_RUNS_SQL, &[&lease.worker, &filter.names, &limit])
            .await
            .map_err(sql)?;
        let left = limit - i64::try_from(rows.len()).unwrap_or(limit);
        if left > 0 {
            rows.extend(
                query(
                    &tx,
                    CLAIM_RUNS_SQL,
                    &[
                        &lease.worker,
                        &filter.names,
                        &left,
                        &span(filter.horizon_ms),
                        &span(lease.duration_ms()),
                    ],
                )
                .await
                .map_err(sql)?,
            );
        }
        if rows.is_empty() {
            tx.commit().await.map_err(sql)?;
            return Ok(Vec::new());
        }
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let decoded = decode_run(CLAIM_RUNS, row).and_then(|record| {
                let fields = run_fields(CLAIM_RUNS, row);
                let token: Token = fields.uint(9, "token")?;
                let taken: bool = fields.value(10, "taken")?;
                let seq: i64 = fields.value(11, "seq")?;
                Ok((seq, record, token, taken))
            });
            match decoded {
                Ok(run) => claimed.push(run),
                // It stays with this worker, unused, until the worker gives
                // its leases back: claimed again, it would only be logged again.
                Err(e) => tracing::error!(error = %e, "skipping a corrupt run"),
            }
        }
        claimed.sort_by_key(|(seq, ..)| *seq);
        let workflow_ids: Vec<&str> = claimed
            .iter()
            .map(|(_, r, ..)| r.workflow_id.as_str())
            .collect();
        let taken_ids: Vec<&str> = claimed
            .iter()
            .filter(|(_, _, _, taken)| *taken)
            .map(|(_, r, ..)| r.run_id.as_str())
            .collect();
        // Both reads go out at once (the connection pipelines them).
        let inbox_params: [&(dyn ToSql + Sync); 1] = [&workflow_ids];
        let task_params: [&(dyn ToSql + Sync); 1] = [&taken_ids];
        let (inbox_rows, task_rows) = tokio::try_join!(
            query(&tx, SELECT_INBOX_OF_WORKFLOWS, &inbox_params),
            async {
                if taken_ids.is_empty() {
                    Ok(Vec::new())
                } else {
                    query(&tx, SELECT_TASKS_OF_RUNS, &task_params).await
                }
            },
        )
        .map_err(sql)?;
        tx.commit().await.map_err(sql)?;

        let mut inboxes: HashMap<String, Vec<InboxRecord>> = HashMap::new();
        for message in decode_inbox_rows(CLAIM_RUNS, &inbox_rows) {
            inboxes
                .entry(message.workflow_id.clone())
                .or_default()
                .push(message);
        }
        let mut tasks: HashMap<String, Vec<Task>> = HashMap::new();
        for row in &task_rows {
            match decode_task(CLAIM_RUNS, row) {
                Ok(task) => tasks.entry(task.run_id.clone()).or_default().push(task),
                Err(e) => tracing::error!(error = %e, "skipping a corrupt task"),
            }
        }
        Ok(claimed
            .into_iter()
            .map(|(_, record, token, taken)| ClaimedRun {
                inbox: inboxes
                    .get(&record.workflow_id)
                    .cloned()
                    .unwrap_or_default(),
                tasks: if taken {
                    tasks.remove(&record.run_id).unwrap_or_default()
                } else {
                    Vec::new()
                },
                record,
                token,
                taken,
            })
            .collect())
    }

    /// One attempt of `claim_tasks`.
    pub(super) async fn claim_tasks_once(
        &self,
        lease: &Lease,
        filter: ClaimFilter<'_>,
    ) -> Result<Vec<Task>, StoreError> {
        let client = self.client(CLAIM_TASKS).await?;
        let rows = query(
            &client,
            CLAIM_TASKS_SQL,
            &[
                &lease.worker,
                &filter.names,
                &i64::try_from(filter.limit).unwrap_or(i64::MAX),
                &span(filter.horizon_ms),
                &span(lease.duration_ms()),
            ],
        )
        .await
        .map_err(|e| store_error(CLAIM_TASKS, format!("worker `{}`", lease.worker), e))?;
        let mut tasks: Vec<Task> = rows
            .iter()
            .filter_map(|row| match decode_task(CLAIM_TASKS, row) {
                Ok(task) => Some(task),
                Err(e) => {
                    tracing::error!(error = %e, "skipping a corrupt task");
                    None
                }
            })
            .collect();
        tasks.sort_by(|a, b| (a.due_ms, &a.run_id, a.seq).cmp(&(b.due_ms, &b.run_id, b.seq)));
        Ok(tasks)
    }

    /// One attempt of `renew`; the database's now.
    pub(super) async fn renew_once(&self, lease: &Lease) -> Result<u64, StoreError> {
        let sql = |e| store_error(RENEW, format!("worker `{}`", lease.worker), e);
        let client = self.client(RENEW).await?;
        let lease_ms = span(lease.duration_ms());
        let runs = client.prepare_cached(RENEW_RUNS).await.map_err(sql)?;
        let tasks = client.prepare_cached(RENEW_TASKS).await.map_err(sql)?;
        let slots = client.prepare_cached(RENEW_SLOTS).await.map_err(sql)?;
        let prune = client.prepare_cached(PRUNE_STARTS).await.map_err(sql)?;
        // Statements, each its own transaction, sent at once: the runs'
        // locks are not held while the tasks' are taken.
        let params: [&(dyn ToSql + Sync); 2] = [&lease.worker, &lease_ms];
        let longest = max_rate_period();
        let prune_params: [&(dyn ToSql + Sync); 1] = [&longest];
        let (row, _, _, _) = tokio::try_join!(
            client.query_one(&runs, &params),
            client.execute(&tasks, &params),
            client.execute(&slots, &params),
            client.execute(&prune, &prune_params),
        )
        .map_err(sql)?;
        let now: i64 = row.try_get(0).map_err(sql)?;
        u64::try_from(now).map_err(|_| {
            StoreError::new(
                RENEW,
                format!("the database's clock reads {now} ms, before 1970"),
            )
        })
    }

    /// One attempt of `release`.
    pub(super) async fn release_once(&self, release: &Release) -> Result<(), StoreError> {
        let context = || match release {
            Release::Worker(worker) => format!("worker `{worker}`"),
            Release::Run { run_id, .. } => format!("run `{run_id}`"),
        };
        let sql = |e| store_error(RELEASE, context(), e);
        let mut client = self.client(RELEASE).await?;
        let tx = client.transaction().await.map_err(sql)?;
        match release {
            Release::Worker(worker) => {
                execute(&tx, RELEASE_WORKER_RUNS, &[worker])
                    .await
                    .map_err(sql)?;
                execute(&tx, RELEASE_WORKER_TASKS, &[worker])
                    .await
                    .map_err(sql)?;
                execute(&tx, RELEASE_WORKER_SLOTS, &[worker])
                    .await
                    .map_err(sql)?;
            }
            Release::Run { run_id, token } => {
                let released = execute(&tx, RELEASE_RUN, &[run_id, &int(*token)])
                    .await
                    .map_err(sql)?;
                if released == 0 {
                    // Another worker's now (or gone): nothing to give back.
                    tx.rollback().await.map_err(sql)?;
                    return Ok(());
                }
                execute(&tx, RELEASE_RUN_TASKS, &[run_id, &int(*token)])
                    .await
                    .map_err(sql)?;
            }
        }
        tx.commit().await.map_err(sql)?;
        self.notifier.work();
        Ok(())
    }

    /// One attempt of `load_run`.
    pub(super) async fn load_run_once(
        &self,
        run_id: &str,
    ) -> Result<Option<(RunRecord, HistoryRows)>, StoreError> {
        let client = self.client(LOAD_RUN).await?;
        // One statement: the record and the history of one snapshot.
        let row = query_opt(&client, SELECT_RUN_WITH_HISTORY, &[&run_id])
            .await
            .map_err(|e| store_error(LOAD_RUN, format!("run `{run_id}`"), e))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let record = decode_run(LOAD_RUN, &row)?;
        let fields = Fields::new(
            &row,
            LOAD_RUN,
            "history",
            format!("run_id `{}`", clip(run_id)),
        );
        let indexes: Vec<i64> = fields.value(9, "idx")?;
        let events: Vec<String> = fields.value(10, "event")?;
        let mut history = Vec::with_capacity(events.len());
        for (idx, event) in indexes.into_iter().zip(events) {
            let idx = u64::try_from(idx).map_err(|_| {
                fields.corrupt("idx", format_args!("holds {idx}, which is out of range"))
            })?;
            history.push((idx, event));
        }
        Ok(Some((record, history)))
    }

    /// `enqueue` (not retried: a lost answer may hide a stored message).
    pub(super) async fn enqueue_once(
        &self,
        workflow_id: &str,
        item: &InboxItem,
        now_ms: u64,
    ) -> Result<Enqueued, StoreError> {
        let sql = |e| store_error(ENQUEUE, format!("workflow `{workflow_id}`"), e);
        let mut client = self.client(ENQUEUE).await?;
        let tx = client.transaction().await.map_err(sql)?;
        for _ in 0..ENQUEUE_ATTEMPTS {
            let latest = query_opt(
                &tx,
                "SELECT latest_run_id FROM workflows WHERE workflow_id = $1",
                &[&workflow_id],
            )
            .await
            .map_err(sql)?;
            let Some(latest) = latest else {
                tx.rollback().await.map_err(sql)?;
                return Ok(Enqueued::NotFound);
            };
            let latest: String = Fields::new(
                &latest,
                ENQUEUE,
                "workflows",
                format!("workflow_id `{}`", clip(workflow_id)),
            )
            .text(0, "latest_run_id")?;
            // Locked: a step ending the run either committed before (its
            // status shows here) or waits for this message and drops it.
            let row = query_opt(
                &tx,
                concat!(
                    "SELECT ",
                    run_columns!(),
                    " FROM runs WHERE run_id = $1 FOR UPDATE"
                ),
                &[&latest],
            )
            .await
            .map_err(sql)?;
            let Some(row) = row else {
                return Err(StoreError::new(
                    ENQUEUE,
                    format!(
                        "corrupt row in `workflows` (workflow_id `{}`): column `latest_run_id` holds `{}`, which is not a run",
                        clip(workflow_id),
                        clip(&latest)
                    ),
                ));
            };
            let record = decode_run(ENQUEUE, &row)?;
            if record.status == WorkflowStatus::ContinuedAsNew {
                // The run continued as new while this waited for its lock:
                // the workflow's latest run is another one now.
                continue;
            }
            if record.status.is_finished() {
                tx.rollback().await.map_err(sql)?;
                return Ok(Enqueued::Finished(record.status));
            }
            let (kind, payload) = item.encode();
            let row = query_opt(
                &tx,
                "INSERT INTO inbox (workflow_id, kind, payload, created_ms) VALUES ($1, $2, $3, $4)
                 RETURNING id",
                &[&workflow_id, &kind, &json(&payload), &int(now_ms)],
            )
            .await
            .map_err(sql)?;
            let id = match &row {
                Some(row) => Fields::new(row, ENQUEUE, "inbox", "a new message".to_owned())
                    .uint::<u64>(0, "id")?,
                None => return Err(StoreError::new(ENQUEUE, "the inbox gave no id")),
            };
            tx.commit().await.map_err(sql)?;
            self.notifier.work();
            return Ok(Enqueued::Accepted {
                id,
                run_id: record.run_id,
            });
        }
        Err(StoreError::new(
            ENQUEUE,
            format!("workflow `{workflow_id}`: its latest run keeps changing"),
        )
        .retryable(true))
    }
}

/// A task's current token, `None` if it is gone.
pub(super) async fn task_token(
    client: &impl GenericClient,
    operation: &'static str,
    run_id: &str,
    seq: u32,
) -> Result<Option<Token>, StoreError> {
    let row = query_opt(
        client,
        "SELECT token FROM tasks WHERE run_id = $1 AND seq = $2",
        &[&run_id, &i64::from(seq)],
    )
    .await
    .map_err(|e| store_error(operation, format!("task {seq} of run `{run_id}`"), e))?;
    row.map(|row| {
        Fields::new(
            &row,
            operation,
            "tasks",
            format!("run_id `{}`, seq {seq}", clip(run_id)),
        )
        .uint(0, "token")
    })
    .transpose()
}

/// The error of a task write under a token that is not the task's.
pub(super) fn task_fenced(
    operation: &'static str,
    run_id: &str,
    seq: u32,
    token: Token,
    mine: Token,
) -> StoreError {
    StoreError::fenced(
        operation,
        format!("task {seq} of run `{run_id}` is held by another worker now (token {token}, the attempt has {mine})"),
    )
}

/// Creates a workflow in `tx` (not committed), or finds the existing one;
/// whether it inserted anything.
pub(super) async fn create_in(
    tx: &impl GenericClient,
    new: &NewWorkflow,
) -> Result<(Created, bool), StoreError> {
    let context = || format!("workflow `{}`", new.workflow_id);
    let sql = |e| store_error(CREATE, context(), e);
    let now = int(new.now_ms);
    // A concurrent creation of the same id waits for the other
    // transaction, then finds its row.
    let inserted = execute(
        tx,
        "INSERT INTO workflows (workflow_id, latest_run_id, name, created_ms)
         VALUES ($1, $2, $3, $4) ON CONFLICT (workflow_id) DO NOTHING",
        &[&new.workflow_id, &new.run_id, &new.name, &now],
    )
    .await
    .map_err(sql)?;
    if inserted == 0 {
        let row = query_opt(tx, SELECT_LATEST_RUN, &[&new.workflow_id])
            .await
            .map_err(sql)?;
        let Some(row) = row else {
            return Err(StoreError::new(
                CREATE,
                format!(
                    "corrupt row in `workflows` (workflow_id `{}`): column `latest_run_id` names no run",
                    clip(&new.workflow_id)
                ),
            ));
        };
        let record = decode_run(CREATE, &row)?;
        if record.run_id == new.run_id {
            // This very creation, committed by an attempt whose answer
            // was lost with its connection.
            let token = run_fields(CREATE, &row).uint(9, "token")?;
            return Ok((Created::New { token }, false));
        }
        return Ok((Created::Existing(record), false));
    }
    let owner = new.owner.as_ref().map(|lease| lease.worker.as_str());
    let lease_ms = span(new.owner.as_ref().map_or(0, |lease| lease.duration_ms()));
    let row = query_opt(
        tx,
        INSERT_FIRST_RUN,
        &[
            &new.run_id,
            &new.workflow_id,
            &new.name,
            &now,
            &owner,
            &lease_ms,
        ],
    )
    .await
    .map_err(sql)?;
    let token = match &row {
        Some(row) => Fields::new(
            row,
            CREATE,
            "runs",
            format!("run_id `{}`", clip(&new.run_id)),
        )
        .uint(0, "token")?,
        None => {
            return Err(StoreError::new(
                CREATE,
                format!("{}: the run was not inserted", context()),
            ))
        }
    };
    execute(
        tx,
        "INSERT INTO history (run_id, idx, event) VALUES ($1, 0, $2)",
        &[&new.run_id, &new.started_event],
    )
    .await
    .map_err(sql)?;
    Ok((Created::New { token }, true))
}
