//! The in-memory store: for tests and for measuring the engine alone.
//! Nothing survives the process.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::{
    Created, HistoryRows, NewWorkflow, RunRecord, RunStatus, StepCommit, Store, Task, TaskRetry,
};
use crate::definition::BoxFuture;
use crate::error::StoreError;

#[derive(Debug, Default)]
pub(crate) struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// workflow id → its runs' ids, oldest first.
    workflows: HashMap<String, Vec<String>>,
    runs: HashMap<String, StoredRun>,
    /// Runs in creation order, for `unfinished_runs`.
    order: Vec<String>,
    tasks: BTreeMap<(String, u32), Task>,
}

#[derive(Debug)]
struct StoredRun {
    record: RunRecord,
    history: Vec<String>,
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

impl Store for MemoryStore {
    fn create_workflow(&self, new: NewWorkflow) -> BoxFuture<'_, Result<Created, StoreError>> {
        let mut inner = self.lock();
        if let Some(runs) = inner.workflows.get(&new.workflow_id) {
            let latest = runs.last().expect("a workflow has a run");
            return ready(Ok(Created::Existing(inner.runs[latest].record.clone())));
        }
        let record = RunRecord {
            workflow_id: new.workflow_id.clone(),
            run_id: new.run_id.clone(),
            name: new.name,
            status: RunStatus::Running,
            result: None,
            error: None,
            progress: None,
            created_ms: new.now_ms,
            updated_ms: new.now_ms,
        };
        inner.workflows.insert(new.workflow_id, vec![new.run_id.clone()]);
        inner.order.push(new.run_id.clone());
        inner.runs.insert(
            new.run_id,
            StoredRun { record, history: vec![new.started_event] },
        );
        ready(Ok(Created::New))
    }

    fn commit(&self, steps: Vec<StepCommit>) -> BoxFuture<'_, Result<(), StoreError>> {
        let mut inner = self.lock();
        // Check everything first: the batch is all or nothing.
        for step in &steps {
            let Some(run) = inner.runs.get(&step.run_id) else {
                return ready(Err(StoreError::new(
                    "committing a workflow step",
                    format!("no run `{}`", step.run_id),
                )));
            };
            if !step.events.is_empty() && run.history.len() as u64 != step.first_index {
                return ready(Err(StoreError::new(
                    "committing a workflow step",
                    format!(
                        "run `{}` has {} events, the step expected {}",
                        step.run_id,
                        run.history.len(),
                        step.first_index
                    ),
                )));
            }
        }
        for step in steps {
            for seq in &step.done_tasks {
                inner.tasks.remove(&(step.run_id.clone(), *seq));
            }
            for task in step.new_tasks {
                inner.tasks.insert((task.run_id.clone(), task.seq), task);
            }
            let run = inner.runs.get_mut(&step.run_id).expect("checked above");
            run.history.extend(step.events);
            run.record.updated_ms = step.now_ms;
            if let Some(progress) = step.progress {
                run.record.progress = Some(progress);
            }
            if let Some(change) = step.status {
                run.record.status = change.status;
                run.record.result = change.result;
                run.record.error = change.error;
                if change.status.is_finished() {
                    let run_id = step.run_id.clone();
                    inner.tasks.retain(|(r, _), _| *r != run_id);
                }
            }
        }
        ready(Ok(()))
    }

    fn retry_task(&self, retry: TaskRetry) -> BoxFuture<'_, Result<(), StoreError>> {
        let mut inner = self.lock();
        if let Some(task) = inner.tasks.get_mut(&(retry.run_id, retry.seq)) {
            task.attempt = retry.next_attempt;
            task.due_ms = retry.due_ms;
            task.last_error = Some(retry.last_error);
        }
        ready(Ok(()))
    }

    fn load_run(&self, run_id: &str) -> BoxFuture<'_, Result<Option<(RunRecord, HistoryRows)>, StoreError>> {
        let inner = self.lock();
        let found = inner.runs.get(run_id).map(|run| {
            let rows = run
                .history
                .iter()
                .enumerate()
                .map(|(i, row)| (i as u64, row.clone()))
                .collect();
            (run.record.clone(), rows)
        });
        ready(Ok(found))
    }

    fn latest_run(&self, workflow_id: &str) -> BoxFuture<'_, Result<Option<RunRecord>, StoreError>> {
        let inner = self.lock();
        let found = inner
            .workflows
            .get(workflow_id)
            .and_then(|runs| runs.last())
            .map(|run_id| inner.runs[run_id].record.clone());
        ready(Ok(found))
    }

    fn unfinished_runs(&self) -> BoxFuture<'_, Result<Vec<RunRecord>, StoreError>> {
        let inner = self.lock();
        let runs = inner
            .order
            .iter()
            .map(|id| &inner.runs[id].record)
            .filter(|r| !r.status.is_finished())
            .cloned()
            .collect();
        ready(Ok(runs))
    }

    fn tasks(&self, run_id: Option<&str>) -> BoxFuture<'_, Result<Vec<Task>, StoreError>> {
        let inner = self.lock();
        let tasks = inner
            .tasks
            .values()
            .filter(|t| run_id.is_none_or(|r| t.run_id == r))
            .cloned()
            .collect();
        ready(Ok(tasks))
    }
}
