//! A group commit: every step of a batch checked against its locked run
//! (token, first index, next run's id), then the steps that passed written
//! together (`batch.rs`), then the wake-ups sent (`notify.rs`).

use std::collections::{HashMap, HashSet};

use tokio_postgres::types::ToSql;

use super::batch;
use super::errors::{describe, is_retryable};
use super::rows::{clip, Fields};
use super::sql::{query, LOCK_RUNS};
use super::{PostgresStore, COMMIT};
use crate::error::StoreError;
use crate::store::{StepCommit, TaskKind, Token};

impl PostgresStore {
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
            for one in valid.chunks(1) {
                wake.add(batch::write(&tx, one).await.map_err(Abort::from)?);
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
            work: !step.children.is_empty()
                || !step.messages.is_empty()
                || (step.lease.is_none()
                    && (step.new_run.is_some()
                        || step.new_tasks.iter().any(|t| t.kind == TaskKind::Activity))),
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
