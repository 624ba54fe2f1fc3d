//! The in-memory store: for tests and for measuring the engine alone.
//! Nothing survives the process.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::Value;

use super::{
    ClaimFilter, ClaimedRun, Created, Enqueued, HistoryRows, InboxItem, InboxRecord, Lease,
    ListQuery, ListedRun, NewWorkflow, Release, RunRecord, SlotGrant, SlotRequest, StepCommit,
    Store, Task, TaskDone, TaskKind, TaskRetry, Token, WorkflowStatus,
};
use crate::clock::Clock;
use crate::definition::BoxFuture;
use crate::error::StoreError;

mod schedules;

use super::operation::{ACQUIRE_SLOT, COMMIT, COMPLETE, HEARTBEAT, RETRY};

#[derive(Debug, Default)]
pub(crate) struct MemoryStore {
    inner: Mutex<Inner>,
    /// Its clock: the runtime's (virtual in a `TestEnv`).
    clock: Clock,
}

impl MemoryStore {
    /// An empty store reading the time from `clock`.
    pub(crate) fn with_clock(clock: Clock) -> Self {
        Self {
            clock,
            ..Self::default()
        }
    }
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
    /// Leases of runs and tasks, by run id and by `(run id, seq)`.
    run_leases: HashMap<String, Held>,
    task_leases: HashMap<(String, u32), Held>,
    last_token: Token,
    /// Slots of limited activities held by running attempts, by `(run id, seq)`.
    slots: HashMap<(String, u32), Slot>,
    /// Starts of limited attempts with a rate, by `(activity, key)`, oldest first.
    starts: HashMap<(String, String), VecDeque<u64>>,
    /// Schedules by id.
    schedules: BTreeMap<String, super::schedules::ScheduleRecord>,
}

/// A slot of an activity's limits held by one attempt.
#[derive(Debug)]
struct Slot {
    activity: String,
    key: String,
    held: Held,
}

#[derive(Debug)]
struct StoredRun {
    record: RunRecord,
    history: Vec<String>,
    token: Token,
}

/// Who holds a run or a task, and until when (Unix ms).
#[derive(Debug, Clone)]
struct Held {
    worker: String,
    until: u64,
}

impl Held {
    fn new(lease: &Lease, now: u64) -> Self {
        Self {
            worker: lease.worker.clone(),
            until: now.saturating_add(lease.duration_ms()),
        }
    }

    fn is_live(&self, now: u64) -> bool {
        self.until > now
    }
}

impl Inner {
    /// Applies one step; `now` is the store's clock (for the new tasks' leases).
    fn apply(&mut self, mut step: StepCommit, now: u64) -> Result<(), StoreError> {
        if let Some(new_run) = &step.new_run {
            if self.runs.contains_key(&new_run.run_id) {
                return Err(StoreError::new(
                    COMMIT,
                    format!("run `{}` exists already", new_run.run_id),
                ));
            }
        }
        let new_run = step.new_run.take();
        let Some(run) = self.runs.get_mut(&step.run_id) else {
            return Err(StoreError::new(COMMIT, format!("no run `{}`", step.run_id)));
        };
        if run.token != step.token {
            return Err(StoreError::fenced(
                COMMIT,
                format!(
                    "run `{}` is held by another worker now (token {}, the step has {})",
                    step.run_id, run.token, step.token
                ),
            ));
        }
        if !step.events.is_empty() && run.history.len() as u64 != step.first_index {
            return Err(StoreError::new(
                COMMIT,
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
        for mut task in step.new_tasks {
            task.token = step.token;
            let key = (task.run_id.clone(), task.seq);
            match &step.lease {
                Some(lease) => {
                    self.task_leases.insert(key.clone(), Held::new(lease, now));
                }
                None => {
                    self.task_leases.remove(&key);
                }
            }
            self.tasks.insert(key, task);
        }
        let continued = new_run.is_some();
        if finished {
            let run_tasks: Vec<(String, u32)> = self
                .tasks
                .range((step.run_id.clone(), 0)..=(step.run_id.clone(), u32::MAX))
                .map(|(key, _)| key.clone())
                .collect();
            for key in run_tasks {
                self.tasks.remove(&key);
                self.task_leases.remove(&key);
            }
            self.run_leases.remove(&step.run_id);
            // Nothing reads a finished workflow's messages any more; after
            // a continue-as-new, completions of the old run's calls are not
            // the new run's.
            let workflow_id = &self.runs[&step.run_id].record.workflow_id;
            self.inbox.retain(|_, m| {
                &m.workflow_id != workflow_id
                    || (continued
                        && !matches!(
                            m.item,
                            InboxItem::Completed { .. } | InboxItem::Child { .. }
                        ))
            });
        }
        if let Some(new_run) = new_run {
            let record = RunRecord {
                run_id: new_run.run_id.clone(),
                status: WorkflowStatus::Running,
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
            if let Some(lease) = &step.lease {
                self.run_leases
                    .insert(new_run.run_id.clone(), Held::new(lease, now));
            }
            self.runs.insert(
                new_run.run_id,
                StoredRun {
                    record,
                    history: vec![new_run.started_event],
                    token: step.token,
                },
            );
        }
        for child in step.children {
            if let Created::Existing(_) = self.create(child.workflow, now) {
                self.enqueue(&child.on_conflict.workflow_id, child.on_conflict.item);
            }
        }
        for message in step.messages {
            self.enqueue(&message.workflow_id, message.item);
        }
        Ok(())
    }

    /// Creates a workflow and its first run, unless the id is taken.
    fn create(&mut self, new: NewWorkflow, now: u64) -> Created {
        if let Some(runs) = self.workflows.get(&new.workflow_id) {
            let latest = runs.last().expect("a workflow has a run");
            return Created::Existing(self.runs[latest].record.clone());
        }
        let record = RunRecord {
            workflow_id: new.workflow_id.clone(),
            run_id: new.run_id.clone(),
            name: new.name,
            status: WorkflowStatus::Running,
            result: None,
            error: None,
            progress: None,
            created_ms: new.now_ms,
            updated_ms: new.now_ms,
        };
        let token = match &new.owner {
            Some(lease) => {
                let token = self.next_token();
                self.run_leases
                    .insert(new.run_id.clone(), Held::new(lease, now));
                token
            }
            None => 0,
        };
        self.workflows
            .insert(new.workflow_id, vec![new.run_id.clone()]);
        self.order.push(new.run_id.clone());
        self.runs.insert(
            new.run_id,
            StoredRun {
                record,
                history: vec![new.started_event],
                token,
            },
        );
        Created::New { token }
    }

    /// Adds a message to a workflow's inbox, unless it is unknown or ended.
    fn enqueue(&mut self, workflow_id: &str, item: InboxItem) -> Enqueued {
        let latest = self
            .workflows
            .get(workflow_id)
            .and_then(|runs| runs.last())
            .map(|run_id| &self.runs[run_id].record);
        match latest {
            None => Enqueued::NotFound,
            Some(record) if record.status.is_finished() => Enqueued::Finished(record.status),
            Some(record) => {
                let run_id = record.run_id.clone();
                self.next_inbox_id += 1;
                let id = self.next_inbox_id;
                let message = InboxRecord {
                    id,
                    workflow_id: workflow_id.to_owned(),
                    item,
                };
                self.inbox.insert(id, message);
                Enqueued::Accepted { id, run_id }
            }
        }
    }

    fn next_token(&mut self) -> Token {
        self.last_token += 1;
        self.last_token
    }

    /// Whether nobody but `worker` holds the run.
    fn run_free(&self, run_id: &str, worker: &str, now: u64) -> (bool, bool) {
        match self.run_leases.get(run_id) {
            Some(held) if held.worker == worker => (true, true),
            Some(held) if held.is_live(now) => (false, false),
            _ => (true, false),
        }
    }

    fn inbox_of(&self, workflow_id: &str) -> Vec<InboxRecord> {
        self.inbox
            .values()
            .filter(|m| m.workflow_id == workflow_id)
            .cloned()
            .collect()
    }

    fn tasks_of(&self, run_id: &str) -> Vec<Task> {
        self.tasks
            .range((run_id.to_owned(), 0)..=(run_id.to_owned(), u32::MAX))
            .map(|(_, t)| t.clone())
            .collect()
    }

    /// Checks a task's token: `Ok(None)` when the task is gone.
    fn held_task(
        &mut self,
        operation: &'static str,
        run_id: &str,
        seq: u32,
        token: Token,
    ) -> Result<Option<&mut Task>, StoreError> {
        match self.tasks.get_mut(&(run_id.to_owned(), seq)) {
            None => Ok(None),
            Some(task) if task.token == token => Ok(Some(task)),
            Some(task) => Err(StoreError::fenced(
                operation,
                format!(
                    "task {seq} of run `{run_id}` is held by another worker now (token {}, the write has {token})",
                    task.token
                ),
            )),
        }
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
        let now = self.clock.now_ms();
        ready(Ok(self.lock().create(new, now)))
    }

    fn commit_steps(&self, steps: Vec<StepCommit>) -> BoxFuture<'_, Vec<Result<(), StoreError>>> {
        let mut inner = self.lock();
        // Each step is checked, then applied: a bad step writes nothing and
        // does not stop the others.
        let now = self.clock.now_ms();
        let results = steps
            .into_iter()
            .map(|step| inner.apply(step, now))
            .collect();
        ready(results)
    }

    fn retry_task(&self, retry: TaskRetry) -> BoxFuture<'_, Result<(), StoreError>> {
        let mut inner = self.lock();
        let result = inner
            .held_task(RETRY, &retry.run_id, retry.seq, retry.token)
            .map(|task| {
                if let Some(task) = task {
                    task.attempt = retry.next_attempt;
                    task.due_ms = retry.due_ms;
                    task.last_error = Some(retry.last_error);
                }
            });
        ready(result)
    }

    fn complete_task(&self, done: TaskDone) -> BoxFuture<'_, Result<(), StoreError>> {
        let mut inner = self.lock();
        let found = match inner.held_task(COMPLETE, &done.run_id, done.seq, done.token) {
            Ok(found) => found.is_some(),
            Err(e) => return ready(Err(e)),
        };
        if found {
            let key = (done.run_id.clone(), done.seq);
            inner.tasks.remove(&key);
            inner.task_leases.remove(&key);
            inner.next_inbox_id += 1;
            let id = inner.next_inbox_id;
            inner.inbox.insert(
                id,
                InboxRecord {
                    id,
                    workflow_id: done.workflow_id,
                    item: InboxItem::Completed {
                        seq: done.seq,
                        result: done.result,
                    },
                },
            );
        }
        ready(Ok(()))
    }

    fn claim_runs<'a>(
        &'a self,
        lease: &'a Lease,
        filter: ClaimFilter<'a>,
    ) -> BoxFuture<'a, Result<Vec<ClaimedRun>, StoreError>> {
        let mut inner = self.lock();
        let now = self.clock.now_ms();
        let horizon = now.saturating_add(filter.horizon_ms);
        let mut claimed = Vec::new();
        for i in 0..inner.order.len() {
            if claimed.len() >= filter.limit {
                break;
            }
            let run = &inner.runs[&inner.order[i]];
            if run.record.status.is_finished() || !filter.names.contains(&run.record.name) {
                continue;
            }
            let run_id = inner.order[i].clone();
            let (free, mine) = inner.run_free(&run_id, &lease.worker, now);
            if !free {
                continue;
            }
            let has_inbox = inner
                .inbox
                .values()
                .any(|m| m.workflow_id == run.record.workflow_id);
            let ready = has_inbox
                || (!mine
                    && (run.history.len() == 1
                        || run.record.status == WorkflowStatus::Blocked
                        || inner
                            .tasks_of(&run_id)
                            .iter()
                            .any(|t| t.kind == TaskKind::Timer && t.due_ms <= horizon)));
            if !ready {
                continue;
            }
            let record = run.record.clone();
            let token = if mine {
                run.token
            } else {
                let token = inner.next_token();
                inner.runs.get_mut(&run_id).expect("listed").token = token;
                token
            };
            inner
                .run_leases
                .insert(run_id.clone(), Held::new(lease, now));
            claimed.push(ClaimedRun {
                inbox: inner.inbox_of(&record.workflow_id),
                tasks: if mine {
                    Vec::new()
                } else {
                    inner.tasks_of(&run_id)
                },
                record,
                token,
                taken: !mine,
            });
        }
        ready(Ok(claimed))
    }

    fn claim_tasks<'a>(
        &'a self,
        lease: &'a Lease,
        filter: ClaimFilter<'a>,
    ) -> BoxFuture<'a, Result<Vec<Task>, StoreError>> {
        let mut inner = self.lock();
        let now = self.clock.now_ms();
        let horizon = now.saturating_add(filter.horizon_ms);
        let mut candidates: Vec<(u64, (String, u32))> = inner
            .tasks
            .iter()
            .filter(|(key, task)| {
                task.kind == TaskKind::Activity
                    && task.due_ms <= horizon
                    && filter.names.contains(&task.name)
                    && inner
                        .runs
                        .get(&task.run_id)
                        .is_some_and(|r| r.record.status == WorkflowStatus::Running)
                    && inner
                        .task_leases
                        .get(*key)
                        .is_none_or(|held| !held.is_live(now))
            })
            .map(|(key, task)| (task.due_ms, key.clone()))
            .collect();
        candidates.sort();
        let mut claimed = Vec::new();
        for (_, key) in candidates.into_iter().take(filter.limit) {
            let token = inner.next_token();
            inner.task_leases.insert(key.clone(), Held::new(lease, now));
            let task = inner.tasks.get_mut(&key).expect("listed");
            task.token = token;
            claimed.push(task.clone());
        }
        ready(Ok(claimed))
    }

    fn renew<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let until = self.clock.now_ms().saturating_add(lease.duration_ms());
        for held in inner
            .run_leases
            .values_mut()
            .chain(inner.task_leases.values_mut())
            .chain(inner.slots.values_mut().map(|slot| &mut slot.held))
        {
            if held.worker == lease.worker {
                held.until = until;
            }
        }
        // Starts older than the longest rate period count for no request.
        let oldest = self
            .clock
            .now_ms()
            .saturating_sub(super::MAX_RATE_PERIOD_MS);
        inner.starts.retain(|_, starts| {
            while starts.front().is_some_and(|&start| start <= oldest) {
                starts.pop_front();
            }
            !starts.is_empty()
        });
        ready(Ok(None))
    }

    fn release(&self, release: Release) -> BoxFuture<'_, Result<(), StoreError>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        match release {
            Release::Worker(worker) => {
                inner.run_leases.retain(|_, held| held.worker != worker);
                inner.task_leases.retain(|_, held| held.worker != worker);
                inner.slots.retain(|_, slot| slot.held.worker != worker);
            }
            Release::Run { run_id, token } => {
                if inner.runs.get(&run_id).is_some_and(|r| r.token == token) {
                    inner.run_leases.remove(&run_id);
                    // Only the tasks held with the run: an attempt another
                    // worker claimed stays with it.
                    let tasks = &inner.tasks;
                    inner.task_leases.retain(|key, _| {
                        key.0 != run_id || tasks.get(key).is_some_and(|t| t.token != token)
                    });
                }
            }
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

    fn list_runs(&self, query: ListQuery) -> BoxFuture<'_, Result<Vec<ListedRun>, StoreError>> {
        let inner = self.lock();
        let before = usize::try_from(query.before.unwrap_or(u64::MAX)).unwrap_or(usize::MAX);
        let listed = inner
            .order
            .iter()
            .enumerate()
            .take(before)
            .rev()
            .map(|(position, id)| (position as u64, &inner.runs[id].record))
            .filter(|(_, r)| {
                inner.workflows[&r.workflow_id].last() == Some(&r.run_id)
                    && query.status.is_none_or(|s| r.status == s)
                    && query.name.as_ref().is_none_or(|n| &r.name == n)
                    && r.created_ms >= query.since_ms.unwrap_or(0)
                    && r.created_ms < query.until_ms.unwrap_or(u64::MAX)
            })
            .take(query.limit)
            .map(|(position, record)| ListedRun {
                position,
                record: record.clone(),
            })
            .collect();
        ready(Ok(listed))
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

    fn enqueue(
        &self,
        workflow_id: &str,
        item: InboxItem,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Enqueued, StoreError>> {
        let _ = now_ms;
        ready(Ok(self.lock().enqueue(workflow_id, item)))
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
        token: Token,
        details: Value,
        lease: std::time::Duration,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let mut inner = self.lock();
        let result = match inner.held_task(HEARTBEAT, run_id, seq, token) {
            Ok(Some(task)) => {
                task.details = Some(details);
                task.heartbeat_ms = Some(self.clock.now_ms());
                let until = self
                    .clock
                    .now_ms()
                    .saturating_add(u64::try_from(lease.as_millis()).unwrap_or(u64::MAX));
                if let Some(held) = inner.task_leases.get_mut(&(run_id.to_owned(), seq)) {
                    held.until = until;
                }
                Ok(())
            }
            Ok(None) => Err(StoreError::fenced(
                HEARTBEAT,
                format!("task {seq} of run `{run_id}` is gone"),
            )),
            Err(e) => Err(e),
        };
        ready(result)
    }

    fn acquire_slot(&self, request: SlotRequest) -> BoxFuture<'_, Result<SlotGrant, StoreError>> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let (run_id, seq) = (request.run_id.clone(), request.seq);
        match inner.held_task(ACQUIRE_SLOT, &run_id, seq, request.token) {
            Ok(Some(_)) => {}
            Ok(None) => {
                let gone = format!("task {seq} of run `{run_id}` is gone");
                return ready(Err(StoreError::fenced(ACQUIRE_SLOT, gone)));
            }
            Err(e) => return ready(Err(e)),
        }
        let now = request.now_ms;
        let tasks = &inner.tasks;
        let running = inner
            .slots
            .iter()
            .filter(|(key, slot)| {
                slot.activity == request.activity
                    && slot.key == request.key
                    && slot.held.is_live(now)
                    && !(key.0 == run_id && key.1 == seq)
                    // A slot whose task is gone was never given back.
                    && tasks.contains_key(*key)
            })
            .count() as u64;
        let pair = (request.activity.clone(), request.key.clone());
        let starts = inner.starts.entry(pair).or_default();
        if let Some(rate) = request.rate {
            let window_start = now.saturating_sub(rate.per_ms());
            while starts.front().is_some_and(|&start| start <= window_start) {
                starts.pop_front();
            }
        }
        let decision = super::slot_decision(
            &request,
            running,
            starts.len() as u64,
            starts.front().copied(),
        );
        if decision == SlotGrant::Granted && request.rate.is_some() {
            starts.push_back(now);
        }
        let task = inner
            .tasks
            .get_mut(&(run_id.clone(), seq))
            .expect("checked above");
        if decision == SlotGrant::Granted {
            task.slot_wait_ms = None;
            if request.max_concurrent.is_some() {
                let held = Held::new(&request.lease, now);
                let slot = Slot {
                    activity: request.activity,
                    key: request.key,
                    held,
                };
                inner.slots.insert((run_id, seq), slot);
            }
        } else {
            task.slot_wait_ms.get_or_insert(now);
        }
        ready(Ok(decision))
    }

    fn release_slot(&self, run_id: &str, seq: u32) -> BoxFuture<'_, Result<(), StoreError>> {
        self.lock().slots.remove(&(run_id.to_owned(), seq));
        ready(Ok(()))
    }
}
