//! The transaction of each operation, one attempt each (`*_once`; the
//! store's methods decide whether to retry), and the writing of a step.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use super::batch;
use super::errors::{describe, is_retryable, store_error};
use super::rows::{
    clip, decode_inbox_rows, decode_run, decode_task, int, json, run_fields, span, Fields,
};
use super::sql::{
    execute, query, query_opt, run_columns, CLAIM_RUNS_SQL, CLAIM_TASKS_SQL, INSERT_FIRST_RUN,
    INSERT_NEXT_RUN, LOCK_RUNS, OWN_RUNS_SQL, RELEASE_RUN, RELEASE_RUN_TASKS, RELEASE_WORKER_RUNS,
    RELEASE_WORKER_TASKS, RENEW_RUNS, RENEW_TASKS, SELECT_INBOX_OF_WORKFLOWS, SELECT_LATEST_RUN,
    SELECT_RUN_WITH_HISTORY, SELECT_TASKS_OF_RUNS, UPSERT_TASKS,
};
use super::{
    PostgresStore, CLAIM_RUNS, CLAIM_TASKS, COMMIT, CREATE, ENQUEUE, LOAD_RUN, RELEASE, RENEW,
};
use crate::error::StoreError;
use crate::store::{
    ClaimFilter, ClaimedRun, Created, Enqueued, HistoryRows, InboxItem, InboxRecord, Lease,
    NewWorkflow, Release, RunRecord, StepCommit, Task, TaskKind, Token, WorkflowStatus,
};

/// How often `enqueue` looks for a workflow's latest run again when the one
/// it locked turned out to have continued as new meanwhile.
const ENQUEUE_ATTEMPTS: usize = 4;

impl PostgresStore {
    /// One attempt of `create_workflow`.
    pub(super) async fn create_once(&self, new: &NewWorkflow) -> Result<Created, StoreError> {
        let context = || format!("workflow `{}`", new.workflow_id);
        let sql = |e| store_error(CREATE, context(), e);
        let mut client = self.client(CREATE).await?;
        let tx = client.transaction().await.map_err(sql)?;
        let now = int(new.now_ms);
        // A concurrent creation of the same id waits for the other
        // transaction, then finds its row.
        let inserted = execute(
            &tx,
            "INSERT INTO workflows (workflow_id, latest_run_id, name, created_ms)
             VALUES ($1, $2, $3, $4) ON CONFLICT (workflow_id) DO NOTHING",
            &[&new.workflow_id, &new.run_id, &new.name, &now],
        )
        .await
        .map_err(sql)?;
        if inserted == 0 {
            let row = query_opt(&tx, SELECT_LATEST_RUN, &[&new.workflow_id])
                .await
                .map_err(sql)?;
            tx.rollback().await.map_err(sql)?;
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
                return Ok(Created::New { token });
            }
            return Ok(Created::Existing(record));
        }
        let owner = new.owner.as_ref().map(|lease| lease.worker.as_str());
        let lease_ms = span(new.owner.as_ref().map_or(0, |lease| lease.duration_ms()));
        let row = query_opt(
            &tx,
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
            &tx,
            "INSERT INTO history (run_id, idx, event) VALUES ($1, 0, $2)",
            &[&new.run_id, &new.started_event],
        )
        .await
        .map_err(sql)?;
        tx.commit().await.map_err(sql)?;
        if owner.is_none() {
            self.notifier.work();
        }
        Ok(Created::New { token })
    }

    /// Writes a batch of steps in one transaction; `Err` if the transaction
    /// itself failed (then nothing of the batch was written).
    pub(super) async fn commit_batch(
        &self,
        steps: &[StepCommit],
    ) -> Result<Vec<Result<(), StoreError>>, Abort> {
        let mut client = self.client(COMMIT).await.map_err(Abort::from)?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| Abort::sql("starting a transaction", &e))?;
        // One read locks every run of the batch, in `run_id` order (as every
        // group commit does, so two commits never wait for each other in a
        // cycle), and one finds the next runs' ids already taken.
        let run_ids: Vec<&str> = steps.iter().map(|s| s.run_id.as_str()).collect();
        let new_ids: Vec<&str> = steps
            .iter()
            .filter_map(|s| s.new_run.as_ref().map(|n| n.run_id.as_str()))
            .collect();
        let lock_params: [&(dyn ToSql + Sync); 1] = [&run_ids];
        let (locked, taken) = tokio::try_join!(query(&tx, LOCK_RUNS, &lock_params), async {
            if new_ids.is_empty() {
                Ok(Vec::new())
            } else {
                query(
                    &tx,
                    "SELECT run_id FROM runs WHERE run_id = ANY($1)",
                    &[&new_ids],
                )
                .await
            }
        },)
        .map_err(|e| Abort::sql("locking the runs of the steps", &e))?;
        let taken: HashSet<String> = taken.iter().filter_map(|row| row.try_get(0).ok()).collect();
        let mut runs: HashMap<String, Result<Locked, StoreError>> = HashMap::new();
        for row in &locked {
            if let Ok(run_id) = row.try_get::<_, String>(0) {
                runs.insert(run_id, Locked::decode(row));
            }
        }
        // Each step is checked against its run as the steps before it in
        // the batch leave it; a step that fails its checks writes nothing.
        let mut results: Vec<Result<(), StoreError>> = Vec::with_capacity(steps.len());
        let mut valid: Vec<(&StepCommit, Locked)> = Vec::with_capacity(steps.len());
        for step in steps {
            let checked = match runs.get_mut(&step.run_id) {
                None => Err(StoreError::new(COMMIT, format!("no run `{}`", step.run_id))),
                Some(Err(e)) => Err(StoreError::new(COMMIT, e.to_string())),
                Some(Ok(run)) => run.check(step, &taken).map(|()| {
                    let before = run.clone();
                    run.len = run.len.saturating_add(step.events.len() as u64);
                    before
                }),
            };
            match checked {
                Ok(run) => {
                    valid.push((step, run));
                    results.push(Ok(()));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        // The writes of every step go out at once: the connection pipelines
        // them, and PostgreSQL runs them in the order sent, so each step's
        // writes keep their order. Steps touch rows of their own run (and
        // workflow) only.
        let mut seen = HashSet::with_capacity(valid.len());
        let wake = if valid
            .iter()
            .all(|(step, _)| seen.insert(step.run_id.as_str()))
        {
            batch::write(&tx, &valid).await.map_err(Abort::from)?
        } else {
            // Two steps of one run: each after the other, as checked.
            let mut wake = Wake::default();
            for (step, run) in &valid {
                wake.add(write_step(&tx, step, run).await.map_err(Abort::from)?);
            }
            wake
        };
        tx.commit()
            .await
            .map_err(|e| Abort::sql("committing", &e))?;
        if wake.work {
            self.notifier.work();
        }
        if wake.done {
            self.notifier.done();
        }
        Ok(results)
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
        // Two statements, each its own transaction, sent at once: the runs'
        // locks are not held while the tasks' are taken.
        let params: [&(dyn ToSql + Sync); 2] = [&lease.worker, &lease_ms];
        let (row, _) = tokio::try_join!(
            client.query_one(&runs, &params),
            client.execute(&tasks, &params),
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

/// The wake-ups a commit sends once it is committed.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Wake {
    /// Work for any worker: tasks nobody holds, a next run nobody holds.
    pub(super) work: bool,
    /// A run ended.
    pub(super) done: bool,
}

impl Wake {
    /// What `step` calls for.
    pub(super) fn of(step: &StepCommit) -> Self {
        Self {
            work: step.lease.is_none()
                && (step.new_run.is_some()
                    || step.new_tasks.iter().any(|t| t.kind == TaskKind::Activity)),
            done: step.status.as_ref().is_some_and(|c| c.status.is_finished()),
        }
    }

    /// Both `self`'s wake-ups and `other`'s.
    pub(super) fn add(&mut self, other: Wake) {
        self.work |= other.work;
        self.done |= other.done;
    }
}

/// A run as a commit found it, locked.
#[derive(Debug, Clone)]
pub(super) struct Locked {
    pub(super) len: u64,
    pub(super) workflow_id: String,
    pub(super) name: String,
    token: Token,
}

impl Locked {
    /// A row of [`LOCK_RUNS`].
    fn decode(row: &tokio_postgres::Row) -> Result<Self, StoreError> {
        let run_id: String = row.try_get(0).unwrap_or_default();
        let fields = Fields::new(row, COMMIT, "runs", format!("run_id `{}`", clip(&run_id)));
        Ok(Self {
            len: fields.uint(1, "history_len")?,
            workflow_id: fields.text(2, "workflow_id")?,
            name: fields.text(3, "name")?,
            token: fields.uint(4, "token")?,
        })
    }

    /// Whether `step` may be written: its token is the run's, its first
    /// event goes at the end of the history, its next run's id is free.
    fn check(&self, step: &StepCommit, taken: &HashSet<String>) -> Result<(), StoreError> {
        let run_id = &step.run_id;
        if self.token != step.token {
            return Err(StoreError::fenced(
                COMMIT,
                format!(
                    "run `{run_id}` is held by another worker now (token {}, the step has {})",
                    self.token, step.token
                ),
            ));
        }
        // A step without events (a change of status or progress alone) may
        // come from a worker that does not know the history's length.
        if !step.events.is_empty() && self.len != step.first_index {
            return Err(StoreError::new(
                COMMIT,
                format!(
                    "run `{run_id}` has {} events, the step expected {}",
                    self.len, step.first_index
                ),
            ));
        }
        if let Some(new_run) = step.new_run.as_ref().filter(|n| taken.contains(&n.run_id)) {
            return Err(StoreError::new(
                COMMIT,
                format!("run `{}` exists already", new_run.run_id),
            ));
        }
        Ok(())
    }
}

/// Writes a step that passed its checks, its run locked as `run` says.
async fn write_step(
    tx: &deadpool_postgres::Transaction<'_>,
    step: &StepCommit,
    run: &Locked,
) -> Result<Wake, StoreError> {
    let run_id = &step.run_id;
    let context = || format!("run `{run_id}`");
    let sql = |e| store_error(COMMIT, context(), e);
    let len = run.len;
    let workflow_id = &run.workflow_id;
    let name = &run.name;
    let next = len.saturating_add(step.events.len() as u64);
    let seqs: Vec<i64> = step.done_tasks.iter().map(|&seq| i64::from(seq)).collect();
    let progress = step.progress.as_ref().map(json);
    let now = int(step.now_ms);
    let history_len = int(next);
    let first = int(len);
    // The common writes of a step touch different rows: they go out
    // together, one round trip (the connection pipelines them).
    let events = async {
        if step.events.is_empty() {
            return Ok(());
        }
        execute(
            tx,
            "INSERT INTO history (run_id, idx, event)
             SELECT $1, $2 + u.ord - 1, u.event FROM unnest($3::text[]) WITH ORDINALITY AS u(event, ord)",
            &[run_id, &first, &step.events],
        )
        .await
        .map(drop)
        .map_err(sql)
    };
    let done = async {
        if seqs.is_empty() {
            return Ok(());
        }
        execute(
            tx,
            "DELETE FROM tasks WHERE run_id = $1 AND seq = ANY($2)",
            &[run_id, &seqs],
        )
        .await
        .map(drop)
        .map_err(sql)
    };
    let new_tasks = async {
        if step.new_tasks.is_empty() {
            return Ok(());
        }
        upsert_tasks(tx, task_rows(step)).await
    };
    let run_row = async {
        match &step.status {
            None => {
                execute(
                    tx,
                    "UPDATE runs SET history_len = $2, updated_ms = $3, progress = coalesce($4, progress)
                     WHERE run_id = $1",
                    &[run_id, &history_len, &now, &progress],
                )
                .await
            }
            Some(change) => {
                let result = change.result.as_ref().map(json);
                execute(
                    tx,
                    "UPDATE runs SET history_len = $2, updated_ms = $3, progress = coalesce($4, progress),
                         status = $5, result = $6, error = $7,
                         owner = CASE WHEN $8 THEN NULL ELSE owner END,
                         lease_until = CASE WHEN $8 THEN NULL ELSE lease_until END
                     WHERE run_id = $1",
                    &[
                        run_id,
                        &history_len,
                        &now,
                        &progress,
                        &change.status.as_str(),
                        &result,
                        &change.error,
                        // An ended run is nobody's: nothing claims it again.
                        &change.status.is_finished(),
                    ],
                )
                .await
            }
        }
        .map(drop)
        .map_err(sql)
    };
    tokio::try_join!(events, done, new_tasks, run_row)?;

    if !step.done_inbox.is_empty() {
        let ids: Vec<i64> = step.done_inbox.iter().map(|&id| int(id)).collect();
        execute(tx, "DELETE FROM inbox WHERE id = ANY($1)", &[&ids])
            .await
            .map_err(sql)?;
    }

    let finished = step
        .status
        .as_ref()
        .map(|change| change.status)
        .filter(|s| s.is_finished());
    if let Some(status) = finished {
        execute(tx, "DELETE FROM tasks WHERE run_id = $1", &[run_id])
            .await
            .map_err(sql)?;
        if status == WorkflowStatus::ContinuedAsNew {
            // The next run reads the workflow's messages, but completions
            // are of this run's activity calls: nothing can use them now.
            execute(
                tx,
                "DELETE FROM inbox WHERE workflow_id = $1 AND kind = 'completed'",
                &[&workflow_id],
            )
            .await
            .map_err(sql)?;
        } else {
            // Nothing reads the workflow's messages any more.
            execute(
                tx,
                "DELETE FROM inbox WHERE workflow_id = $1",
                &[&workflow_id],
            )
            .await
            .map_err(sql)?;
        }
    }

    insert_next_run(tx, step, workflow_id, name).await?;

    Ok(Wake::of(step))
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

/// Why a whole commit transaction failed.
#[derive(Debug)]
pub(super) struct Abort {
    retryable: bool,
    pub(super) message: String,
}

impl Abort {
    /// The transaction failed at `what`.
    fn sql(what: &str, e: &tokio_postgres::Error) -> Self {
        Self {
            retryable: is_retryable(e),
            message: format!("{what}: {}", describe(e)),
        }
    }

    /// The error each step of the batch is answered with.
    pub(super) fn error(&self, operation: &'static str) -> StoreError {
        StoreError::with_source(operation, self.retryable, BatchFailed(self.message.clone()))
    }
}

impl From<StoreError> for Abort {
    fn from(e: StoreError) -> Self {
        Self {
            retryable: e.is_retryable(),
            message: e.to_string(),
        }
    }
}

/// The error of a step whose transaction failed.
#[derive(Debug, thiserror::Error)]
#[error("the transaction was rolled back: {0}")]
struct BatchFailed(String);

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
