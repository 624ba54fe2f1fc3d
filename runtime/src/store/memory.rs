//! The in-memory store: for tests and for measuring the engine alone.
//! Nothing survives the process.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::Value;

use super::{
    Created, Enqueued, HistoryRows, InboxItem, InboxRecord, NewWorkflow, RunRecord, RunStatus,
    StepCommit, Store, Task, TaskRetry,
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
    /// Inbox messages by id (arrival order).
    inbox: BTreeMap<u64, InboxRecord>,
    next_inbox_id: u64,
}

#[derive(Debug)]
struct StoredRun {
    record: RunRecord,
    history: Vec<String>,
}

impl Inner {
    fn apply(&mut self, mut step: StepCommit) -> Result<(), StoreError> {
        if let Some(new_run) = &step.new_run {
            if self.runs.contains_key(&new_run.run_id) {
                return Err(StoreError::new(
                    "committing a workflow step",
                    format!("run `{}` exists already", new_run.run_id),
                ));
            }
        }
        let new_run = step.new_run.take();
        let Some(run) = self.runs.get_mut(&step.run_id) else {
            return Err(StoreError::new(
                "committing a workflow step",
                format!("no run `{}`", step.run_id),
            ));
        };
        if !step.events.is_empty() && run.history.len() as u64 != step.first_index {
            return Err(StoreError::new(
                "committing a workflow step",
                format!(
                    "run `{}` has {} events, the step expected {}",
                    step.run_id,
                    run.history.len(),
                    step.first_index
                ),
            ));
        }
        run.history.extend(step.events);
        run.record.updated_ms = step.now_ms;
        for id in &step.done_inbox {
            self.inbox.remove(id);
        }
        if let Some(progress) = step.progress {
            run.record.progress = Some(progress);
        }
        let mut finished = false;
        if let Some(change) = step.status {
            run.record.status = change.status;
            run.record.result = change.result;
            run.record.error = change.error;
            finished = change.status.is_finished();
        }
        for seq in &step.done_tasks {
            self.tasks.remove(&(step.run_id.clone(), *seq));
        }
        for task in step.new_tasks {
            self.tasks.insert((task.run_id.clone(), task.seq), task);
        }
        if finished {
            let run_tasks: Vec<(String, u32)> = self
                .tasks
                .range((step.run_id.clone(), 0)..=(step.run_id.clone(), u32::MAX))
                .map(|(key, _)| key.clone())
                .collect();
            for key in run_tasks {
                self.tasks.remove(&key);
            }
        }
        if let Some(new_run) = new_run {
            let record = RunRecord {
                run_id: new_run.run_id.clone(),
                status: RunStatus::Running,
                result: None,
                error: None,
                progress: None,
                created_ms: step.now_ms,
                updated_ms: step.now_ms,
                ..self.runs[&step.run_id].record.clone()
            };
            self.workflows
                .entry(record.workflow_id.clone())
                .or_default()
                .push(new_run.run_id.clone());
            self.order.push(new_run.run_id.clone());
            self.runs.insert(
                new_run.run_id,
                StoredRun {
                    record,
                    history: vec![new_run.started_event],
                },
            );
        }
        Ok(())
    }
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
        inner
            .workflows
            .insert(new.workflow_id, vec![new.run_id.clone()]);
        inner.order.push(new.run_id.clone());
        inner.runs.insert(
            new.run_id,
            StoredRun {
                record,
                history: vec![new.started_event],
            },
        );
        ready(Ok(Created::New))
    }

    fn commit_steps(&self, steps: Vec<StepCommit>) -> BoxFuture<'_, Vec<Result<(), StoreError>>> {
        let mut inner = self.lock();
        // Each step is checked, then applied: a bad step writes nothing and
        // does not stop the others.
        let results = steps.into_iter().map(|step| inner.apply(step)).collect();
        ready(results)
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

    fn load_run(
        &self,
        run_id: &str,
    ) -> BoxFuture<'_, Result<Option<(RunRecord, HistoryRows)>, StoreError>> {
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

    fn latest_run(
        &self,
        workflow_id: &str,
    ) -> BoxFuture<'_, Result<Option<RunRecord>, StoreError>> {
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

    fn is_shared(&self) -> bool {
        false
    }

    fn enqueue(
        &self,
        workflow_id: &str,
        item: InboxItem,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Enqueued, StoreError>> {
        let _ = now_ms;
        let mut inner = self.lock();
        let latest = inner
            .workflows
            .get(workflow_id)
            .and_then(|runs| runs.last())
            .map(|run_id| inner.runs[run_id].record.clone());
        let result = match latest {
            None => Enqueued::NotFound,
            Some(record) if record.status.is_finished() => Enqueued::Finished(record.status),
            Some(record) => {
                inner.next_inbox_id += 1;
                let id = inner.next_inbox_id;
                let message = InboxRecord {
                    id,
                    workflow_id: workflow_id.to_owned(),
                    item,
                };
                inner.inbox.insert(id, message);
                Enqueued::Accepted {
                    id,
                    run_id: record.run_id,
                }
            }
        };
        ready(Ok(result))
    }

    fn inbox(&self) -> BoxFuture<'_, Result<Vec<InboxRecord>, StoreError>> {
        ready(Ok(self.lock().inbox.values().cloned().collect()))
    }

    fn runs(&self, workflow_id: &str) -> BoxFuture<'_, Result<Vec<RunRecord>, StoreError>> {
        let inner = self.lock();
        let runs = inner
            .workflows
            .get(workflow_id)
            .map(|ids| ids.iter().map(|id| inner.runs[id].record.clone()).collect())
            .unwrap_or_default();
        ready(Ok(runs))
    }

    fn record_heartbeat(
        &self,
        run_id: &str,
        seq: u32,
        details: Value,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        if let Some(task) = self.lock().tasks.get_mut(&(run_id.to_owned(), seq)) {
            task.details = Some(details);
        }
        ready(Ok(()))
    }
}
