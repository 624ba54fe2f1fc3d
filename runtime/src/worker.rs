//! The in-process worker: one workflow executor task, a timer task, and
//! activity attempts on the tokio runtime.
//!
//! * The **workflow executor** owns the cache of live runs. It receives
//!   messages (a run to start or resume, an activity's or timer's
//!   completion), takes every message already queued as one batch, runs one
//!   activation per run touched, and commits all of the batch's steps in one
//!   store transaction (group commit). Only after that commit are the new
//!   activity tasks dispatched, the new timers armed and the waiters of
//!   finished workflows woken.
//! * The **timer task** keeps one heap of deadlines: durable timers, and
//!   activity attempts waiting out a retry backoff.
//! * **Activity attempts** run as tokio tasks, at most
//!   `max_concurrent_activities` at once. A final result goes to the
//!   executor, which records it with the workflow's reaction to it in one
//!   commit and deletes the task; a retryable failure is recorded on the task
//!   with the time of the next attempt.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::FutureExt;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tracing::Instrument;

use crate::context::{ActivityContext, AttemptInfo};
use crate::error::{
    ActivityError, FailureData, HEARTBEAT_TIMEOUT, PANIC, SCHEDULE_TO_CLOSE_TIMEOUT,
    START_TO_CLOSE_TIMEOUT,
};
use crate::history::{Event, Input, RecordedHistory, Resolution, SignalData};
use crate::registry::Registry;
use crate::replay::{panic_message, Issued, LiveRun, Outcome, RunFault};
use crate::store::{
    InboxItem, InboxRecord, NewRun, RunStatus, StatusChange, StepCommit, Store, Task, TaskKind,
    TaskRetry,
};

/// The current wall-clock time in Unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// How often an attempt's new heartbeat details are written to the store, at most.
const HEARTBEAT_FLUSH: Duration = Duration::from_secs(1);

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A message to the workflow executor.
#[derive(Debug)]
pub(crate) enum WfMsg {
    /// A run exists in the store and may need its first activation, or (if
    /// blocked) another try at replay.
    Resume { run_id: String },
    /// A run this process just created: it needs its first activation, and
    /// its start is known without reading it back from the store.
    Started(Box<StartedRun>),
    /// A completion for a run.
    Complete {
        run_id: String,
        seq: u32,
        resolution: Resolution,
    },
    /// A message from a workflow's inbox: a signal, a cancellation or a
    /// termination.
    Inbox(InboxRecord),
    /// A run cannot go on (e.g. an activity it calls is not registered).
    Fault { run_id: String, fault: RunFault },
    /// Answered once every message sent before it is processed.
    Barrier(oneshot::Sender<()>),
    /// Finish the current batch and stop.
    Shutdown(oneshot::Sender<()>),
}

/// What a newly created run starts with.
#[derive(Debug)]
pub(crate) struct StartedRun {
    pub(crate) workflow_id: String,
    pub(crate) run_id: String,
    pub(crate) name: String,
    pub(crate) input: Value,
    pub(crate) signals: Vec<SignalData>,
}

/// Something the timer task waits for.
#[derive(Debug)]
enum Due {
    /// A durable timer fires.
    Timer { run_id: String, seq: u32 },
    /// An activity attempt may start.
    Attempt(Box<Task>),
}

/// Settings of the worker.
#[derive(Debug, Clone)]
pub(crate) struct WorkerConfig {
    pub(crate) max_concurrent_activities: usize,
    pub(crate) max_cached_runs: usize,
    /// False for a client: no executor, timers or activities in this process.
    pub(crate) run_workflows: bool,
}

/// What the runtime, its handles and the worker tasks share.
pub(crate) struct Engine {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) registry: Arc<Registry>,
    wf_tx: mpsc::UnboundedSender<WfMsg>,
    due_tx: mpsc::UnboundedSender<(u64, Due)>,
    slots: Arc<Semaphore>,
    /// Waiters for a workflow id's current run to finish.
    waiters: Mutex<HashMap<String, Vec<oneshot::Sender<()>>>>,
    /// Attempts in flight, by `(run_id, seq)`, to tell them of a cancellation.
    running: Mutex<BTreeMap<(String, u32), ActivityContext>>,
    shutdown: tokio::sync::watch::Sender<bool>,
    /// A client runtime: results are polled, not pushed.
    pub(crate) client: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

/// Join handles of the worker's tasks (none for a client).
#[derive(Debug)]
pub(crate) struct WorkerTasks {
    executor: Option<tokio::task::JoinHandle<()>>,
    /// The timer heap and the watcher of other processes' requests.
    others: Vec<tokio::task::JoinHandle<()>>,
}

/// How often a worker looks for requests (signals, cancellations) that
/// client processes wrote to a shared store.
const WATCH_INTERVAL: Duration = Duration::from_millis(200);

impl Engine {
    /// Starts the worker: resumes every unfinished run, re-arms timers and
    /// re-dispatches activity tasks found in the store.
    pub(crate) async fn start(
        store: Arc<dyn Store>,
        registry: Arc<Registry>,
        config: WorkerConfig,
    ) -> Result<(Arc<Engine>, WorkerTasks), crate::Error> {
        let (wf_tx, wf_rx) = mpsc::unbounded_channel();
        let (due_tx, due_rx) = mpsc::unbounded_channel();
        let (shutdown, _) = tokio::sync::watch::channel(false);
        let engine = Arc::new(Engine {
            store,
            registry,
            wf_tx,
            due_tx,
            slots: Arc::new(Semaphore::new(config.max_concurrent_activities.max(1))),
            waiters: Mutex::new(HashMap::new()),
            running: Mutex::new(BTreeMap::new()),
            shutdown,
            client: !config.run_workflows,
        });
        if !config.run_workflows {
            return Ok((
                engine,
                WorkerTasks {
                    executor: None,
                    others: Vec::new(),
                },
            ));
        }
        let unfinished = engine.store.unfinished_runs().await?;
        let tasks = engine.store.tasks(None).await?;
        let executor = tokio::spawn(
            Executor {
                engine: engine.clone(),
                cache: Cache::new(config.max_cached_runs),
                blocked: HashSet::new(),
                delivered: HashSet::new(),
            }
            .run(wf_rx),
        );
        let timers = tokio::spawn(run_timers(engine.clone(), due_rx));
        let with_tasks: HashSet<&str> = tasks.iter().map(|t| t.run_id.as_str()).collect();
        for run in &unfinished {
            // A run with tasks resumes when they complete; one without any
            // (never activated, blocked, or between a completion and its
            // commit) is activated now.
            if run.status == RunStatus::Blocked || !with_tasks.contains(run.run_id.as_str()) {
                engine.send(WfMsg::Resume {
                    run_id: run.run_id.clone(),
                });
            }
        }
        for task in tasks {
            engine.schedule(task);
        }
        for record in engine.store.inbox().await? {
            engine.send(WfMsg::Inbox(record));
        }
        // Blocked runs that replay cleanly now are running again before
        // `build` returns, so a caller never sees their stale status.
        let (tx, rx) = oneshot::channel();
        engine.send(WfMsg::Barrier(tx));
        let _ = rx.await;
        let mut others = vec![timers];
        if engine.store.is_shared() {
            others.push(tokio::spawn(watch_inbox(engine.clone())));
        }
        Ok((
            engine,
            WorkerTasks {
                executor: Some(executor),
                others,
            },
        ))
    }

    pub(crate) fn send(&self, msg: WfMsg) {
        // Fails only after shutdown, when nothing is to be done any more.
        let _ = self.wf_tx.send(msg);
    }

    /// Dispatches a task now or arms it for later.
    fn schedule(self: &Arc<Self>, task: Task) {
        match task.kind {
            TaskKind::Timer => {
                let _ = self.due_tx.send((
                    task.due_ms,
                    Due::Timer {
                        run_id: task.run_id,
                        seq: task.seq,
                    },
                ));
            }
            TaskKind::Activity if task.due_ms > now_ms() => {
                let _ = self
                    .due_tx
                    .send((task.due_ms, Due::Attempt(Box::new(task))));
            }
            TaskKind::Activity => self.dispatch(task),
        }
    }

    /// Starts an activity attempt once a slot is free.
    fn dispatch(self: &Arc<Self>, task: Task) {
        let engine = self.clone();
        tokio::spawn(async move {
            let mut shutdown = engine.shutdown.subscribe();
            let Ok(permit) = engine.slots.clone().acquire_owned().await else {
                return;
            };
            let span = tracing::info_span!(
                "activity",
                activity.name = %task.name,
                workflow.id = %task.workflow_id,
                run.id = %task.run_id,
                seq = task.seq,
                attempt = task.attempt,
            );
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => {}
                () = engine.run_attempt(task).instrument(span) => {}
            }
            drop(permit);
        });
    }

    async fn run_attempt(self: &Arc<Self>, task: Task) {
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
        let options = &task.options;
        let now = now_ms();
        let deadline = options
            .schedule_to_close
            .map(|d| task.scheduled_ms.saturating_add(millis(d)));
        if deadline.is_some_and(|deadline| now >= deadline) {
            let error = ActivityError::non_retryable(
                SCHEDULE_TO_CLOSE_TIMEOUT,
                format!(
                    "activity `{}` did not finish within its schedule_to_close timeout",
                    task.name
                ),
            );
            self.finish_activity(
                &task,
                Err(error.with_attempts(task.attempt.saturating_sub(1))),
            );
            return;
        }
        let mut limit = options.start_to_close.map(millis);
        if let Some(deadline) = deadline {
            limit = Some(limit.map_or(deadline - now, |l| l.min(deadline - now)));
        }
        let ctx = ActivityContext::new(AttemptInfo {
            workflow_id: task.workflow_id.clone(),
            run_id: task.run_id.clone(),
            activity_name: task.name.clone(),
            seq: task.seq,
            attempt: task.attempt,
            details: task.details.clone(),
        });
        let key = (task.run_id.clone(), task.seq);
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), ctx.clone());
        let result = self.attempt(&task, run, &ctx, limit, deadline).await;
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
        if result.is_err() {
            ctx.cancel();
        }
        match result {
            Ok(output) => self.finish_activity(&task, Ok(output)),
            Err(error) => self.attempt_failed(task, &ctx, error, deadline).await,
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
            let mut flushed: Option<std::time::Instant> = None;
            loop {
                let (details, last) = ctx.last_heartbeat();
                if let Some(details) = details.filter(|_| flushed.is_none_or(|f| f < last)) {
                    if let Err(e) = self
                        .store
                        .record_heartbeat(&task.run_id, task.seq, details)
                        .await
                    {
                        tracing::warn!(error = %e, "could not store heartbeat details");
                    }
                    flushed = Some(last);
                }
                let mut wake = tokio::time::Instant::now() + HEARTBEAT_FLUSH;
                if let Some(timeout) = heartbeat_timeout {
                    let due = tokio::time::Instant::from(last + timeout);
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
            Err(_) if deadline.is_some_and(|d| now_ms() >= d) => Err(ActivityError::non_retryable(
                SCHEDULE_TO_CLOSE_TIMEOUT,
                format!(
                    "activity `{}` did not finish within its schedule_to_close timeout",
                    task.name
                ),
            )),
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
    async fn attempt_failed(
        self: &Arc<Self>,
        task: Task,
        ctx: &ActivityContext,
        error: ActivityError,
        deadline: Option<u64>,
    ) {
        let data = error.data();
        let retry_in = task
            .options
            .retry
            .delay_after(task.attempt, &data.kind, data.non_retryable);
        let next_due = retry_in.map(|d| now_ms().saturating_add(millis(d)));
        match next_due {
            Some(due)
                if deadline.is_none_or(|deadline| due < deadline)
                    && !ctx.is_cancelled_by_workflow() =>
            {
                tracing::debug!(error = %error, retry_in = ?retry_in, "activity attempt failed; will retry");
                let (details, _) = ctx.last_heartbeat();
                let retry = TaskRetry {
                    run_id: task.run_id.clone(),
                    seq: task.seq,
                    next_attempt: task.attempt + 1,
                    due_ms: due,
                    last_error: error.to_string(),
                };
                if let Some(details) = details.clone() {
                    if let Err(e) = self
                        .store
                        .record_heartbeat(&task.run_id, task.seq, details)
                        .await
                    {
                        tracing::warn!(error = %e, "could not store heartbeat details");
                    }
                }
                if let Err(e) = self.store.retry_task(retry).await {
                    tracing::error!(error = %e, "could not record a failed attempt; retrying anyway");
                }
                let mut next = task;
                next.attempt += 1;
                next.due_ms = due;
                next.last_error = Some(error.to_string());
                next.details = details;
                self.schedule(next);
            }
            Some(_) if !ctx.is_cancelled_by_workflow() => {
                // A retry is due, but after the schedule_to_close deadline.
                let error = ActivityError::non_retryable(
                    SCHEDULE_TO_CLOSE_TIMEOUT,
                    format!(
                        "activity `{}` did not finish within its schedule_to_close timeout; last error: {error}",
                        task.name
                    ),
                );
                self.finish_activity(&task, Err(error.with_attempts(task.attempt)));
            }
            _ => {
                let attempts = task.attempt;
                self.finish_activity(&task, Err(error.with_attempts(attempts)));
            }
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
        self.send(WfMsg::Complete {
            run_id: task.run_id.clone(),
            seq: task.seq,
            resolution,
        });
    }

    /// Tells the attempts in flight of a run's call (or of all its calls)
    /// that they are cancelled.
    fn cancel_attempt(&self, run_id: &str, seq: Option<u32>) {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let range = match seq {
            Some(seq) => (run_id.to_owned(), seq)..=(run_id.to_owned(), seq),
            None => (run_id.to_owned(), 0)..=(run_id.to_owned(), u32::MAX),
        };
        for ctx in running.range(range).map(|(_, ctx)| ctx) {
            ctx.cancel_by_workflow();
        }
    }

    /// Registers a waiter woken when `workflow_id`'s current run finishes.
    pub(crate) fn wait_for(&self, workflow_id: &str) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(workflow_id.to_owned())
            .or_default()
            .push(tx);
        rx
    }

    fn wake_waiters(&self, workflow_id: &str) {
        let waiters = self
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(workflow_id);
        for tx in waiters.into_iter().flatten() {
            let _ = tx.send(());
        }
    }

    /// Stops the worker: the executor finishes its batch, attempts in flight
    /// are abandoned (their tasks stay in the store and run again on restart).
    pub(crate) async fn stop(&self, tasks: WorkerTasks) {
        let _ = self.shutdown.send(true);
        if let Some(executor) = tasks.executor {
            let (tx, rx) = oneshot::channel();
            self.send(WfMsg::Shutdown(tx));
            let _ = rx.await;
            let _ = executor.await;
        }
        for task in tasks.others {
            task.abort();
            let _ = task.await;
        }
        self.waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// Hands the worker the inbox messages other processes stored (the
/// executor drops the ones it has seen).
async fn watch_inbox(engine: Arc<Engine>) {
    let mut seen = HashSet::new();
    loop {
        tokio::time::sleep(WATCH_INTERVAL).await;
        match engine.store.inbox().await {
            Ok(records) => {
                let ids: HashSet<u64> = records.iter().map(|r| r.id).collect();
                for record in records {
                    if !seen.contains(&record.id) {
                        engine.send(WfMsg::Inbox(record));
                    }
                }
                seen = ids;
            }
            Err(e) => tracing::warn!(error = %e, "could not read the inbox"),
        }
    }
}

/// The heap of deadlines.
async fn run_timers(engine: Arc<Engine>, mut rx: mpsc::UnboundedReceiver<(u64, Due)>) {
    let mut heap: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
    let mut items: HashMap<u64, Due> = HashMap::new();
    let mut counter = 0u64;
    loop {
        let next = heap.peek().map(|Reverse((due, _))| *due);
        let sleep = async {
            match next {
                Some(due) => {
                    let wait = due.saturating_sub(now_ms());
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            msg = rx.recv() => {
                let Some((due, item)) = msg else { return };
                counter += 1;
                heap.push(Reverse((due, counter)));
                items.insert(counter, item);
                while let Ok((due, item)) = rx.try_recv() {
                    counter += 1;
                    heap.push(Reverse((due, counter)));
                    items.insert(counter, item);
                }
            }
            () = sleep => {
                let now = now_ms();
                while let Some(Reverse((due, id))) = heap.peek().copied() {
                    if due > now {
                        break;
                    }
                    heap.pop();
                    match items.remove(&id) {
                        Some(Due::Timer { run_id, seq }) => engine.send(WfMsg::Complete {
                            run_id,
                            seq,
                            resolution: Resolution::Timer,
                        }),
                        Some(Due::Attempt(task)) => engine.dispatch(*task),
                        None => {}
                    }
                }
            }
        }
    }
}

/// Live runs in memory, least recently used evicted first.
struct Cache {
    runs: HashMap<String, (LiveRun, u64)>,
    capacity: usize,
    clock: u64,
}

impl Cache {
    fn new(capacity: usize) -> Self {
        Self {
            runs: HashMap::new(),
            capacity: capacity.max(1),
            clock: 0,
        }
    }

    fn get_mut(&mut self, run_id: &str) -> Option<&mut LiveRun> {
        self.clock += 1;
        let clock = self.clock;
        self.runs.get_mut(run_id).map(|(run, used)| {
            *used = clock;
            run
        })
    }

    fn insert(&mut self, run_id: String, run: LiveRun) {
        self.clock += 1;
        self.runs.insert(run_id, (run, self.clock));
    }

    fn remove(&mut self, run_id: &str) {
        self.runs.remove(run_id);
    }

    /// Evicts the least recently used runs beyond the capacity.
    fn trim(&mut self) {
        if self.runs.len() <= self.capacity {
            return;
        }
        let excess = self.runs.len() - self.capacity;
        let mut by_age: Vec<(u64, String)> = self
            .runs
            .iter()
            .map(|(id, (_, used))| (*used, id.clone()))
            .collect();
        by_age.select_nth_unstable(excess - 1);
        for (_, id) in by_age.into_iter().take(excess) {
            self.runs.remove(&id);
        }
    }
}

/// What a batch does after its commit, per run.
struct AfterCommit {
    workflow_id: String,
    run_id: String,
    new_tasks: Vec<Task>,
    /// The run's status changed to one a result waiter must see.
    wake: bool,
    /// Activity calls cancelled by this step: their attempts are told.
    cancelled_calls: Vec<u32>,
    /// The run continued as this new run.
    next_run: Option<Box<StartedRun>>,
}

impl AfterCommit {
    fn status(workflow_id: &str, run_id: &str, wake: bool) -> Self {
        Self {
            workflow_id: workflow_id.to_owned(),
            run_id: run_id.to_owned(),
            new_tasks: Vec::new(),
            wake,
            cancelled_calls: Vec::new(),
            next_run: None,
        }
    }
}

/// What one batch holds for one run.
#[derive(Default)]
struct RunBatch {
    /// Activate the run even without input (first step, or retry of a blocked run).
    resume: bool,
    inputs: Vec<Input>,
    /// Ids of the inbox messages among `inputs`.
    inbox: Vec<u64>,
    /// A termination request and its inbox id.
    terminate: Option<(u64, String)>,
}

/// The workflow executor task.
struct Executor {
    engine: Arc<Engine>,
    cache: Cache,
    /// Runs stopped by a fault: completions for them are dropped (their tasks
    /// stay in the store and run again after a restart with fixed code).
    blocked: HashSet<String>,
    /// Inbox messages already delivered (a message can arrive twice: from
    /// the process that stored it and from the watcher).
    delivered: HashSet<u64>,
}

/// Messages taken per batch, at most.
const MAX_BATCH: usize = 4096;

/// What loading a run into the cache gave.
enum Load {
    /// The run is cached; `unblocked` when it was blocked and replays cleanly now.
    Ready { unblocked: bool },
    /// The run cannot go on; the step records why, if anything is to be recorded.
    Stopped(Option<Box<(StepCommit, AfterCommit)>>),
}

fn status_step(
    run_id: &str,
    workflow_id: &str,
    status: RunStatus,
    error: Option<String>,
    now: u64,
) -> (StepCommit, AfterCommit) {
    let step = StepCommit {
        run_id: run_id.to_owned(),
        status: Some(StatusChange {
            status,
            result: None,
            error,
        }),
        now_ms: now,
        ..StepCommit::default()
    };
    (
        step,
        AfterCommit::status(workflow_id, run_id, status != RunStatus::Running),
    )
}

impl Executor {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<WfMsg>) {
        let mut batch = Vec::new();
        loop {
            let Some(first) = rx.recv().await else { return };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(msg) => batch.push(msg),
                    Err(_) => break,
                }
            }
            let mut stop = None;
            let mut barriers = Vec::new();
            let mut per_run: Vec<(String, RunBatch)> = Vec::new();
            let mut index: HashMap<String, usize> = HashMap::new();
            let mut faults = Vec::new();
            for msg in batch.drain(..) {
                let run_id = match &msg {
                    WfMsg::Resume { run_id } | WfMsg::Complete { run_id, .. } => run_id.clone(),
                    WfMsg::Started(started) => {
                        self.prime(started);
                        started.run_id.clone()
                    }
                    WfMsg::Inbox(record) => {
                        if !self.delivered.insert(record.id) {
                            continue;
                        }
                        match self.current_run(&record.workflow_id).await {
                            Some(run_id) => run_id,
                            None => continue,
                        }
                    }
                    WfMsg::Fault { run_id, fault } => {
                        faults.push((run_id.clone(), fault.clone()));
                        continue;
                    }
                    WfMsg::Shutdown(_) | WfMsg::Barrier(_) => {
                        match msg {
                            WfMsg::Shutdown(tx) => stop = Some(tx),
                            WfMsg::Barrier(tx) => barriers.push(tx),
                            _ => {}
                        }
                        continue;
                    }
                };
                let i = *index.entry(run_id.clone()).or_insert_with(|| {
                    per_run.push((run_id, RunBatch::default()));
                    per_run.len() - 1
                });
                let entry = &mut per_run[i].1;
                match msg {
                    WfMsg::Resume { .. } | WfMsg::Started(_) => entry.resume = true,
                    WfMsg::Complete {
                        seq, resolution, ..
                    } => entry.inputs.push(Input::Resolve(seq, resolution)),
                    WfMsg::Inbox(record) => match record.item {
                        InboxItem::Signal(signal) => {
                            entry.inputs.push(Input::Signal(signal));
                            entry.inbox.push(record.id);
                        }
                        InboxItem::Cancel => {
                            entry.inputs.push(Input::Cancel);
                            entry.inbox.push(record.id);
                        }
                        InboxItem::Terminate { reason } => {
                            entry.terminate.get_or_insert((record.id, reason));
                        }
                        InboxItem::Wake => {
                            entry.resume = true;
                            entry.inbox.push(record.id);
                        }
                    },
                    WfMsg::Fault { .. } | WfMsg::Shutdown(_) | WfMsg::Barrier(_) => {
                        unreachable!("handled above")
                    }
                }
            }
            self.process(per_run, faults).await;
            for tx in barriers {
                let _ = tx.send(());
            }
            if let Some(tx) = stop {
                let _ = tx.send(());
                return;
            }
        }
    }

    /// Caches a run this process just created, so its first activation does
    /// not read it back from the store.
    fn prime(&mut self, started: &StartedRun) {
        if self.cache.get_mut(&started.run_id).is_some() {
            return;
        }
        let history = RecordedHistory {
            name: started.name.clone(),
            input: started.input.clone(),
            signals: started.signals.clone(),
            activations: Vec::new(),
            len: 1,
        };
        let replayed = LiveRun::replay(
            Arc::from(started.workflow_id.as_str()),
            Arc::from(started.run_id.as_str()),
            self.engine.registry.clone(),
            history,
        );
        // Anything unusual is left to `load`, which reports it.
        if let Ok((run, None)) = replayed {
            self.cache.insert(started.run_id.clone(), run);
        }
    }

    /// The latest run of a workflow, if it is not finished.
    async fn current_run(&mut self, workflow_id: &str) -> Option<String> {
        match self.engine.store.latest_run(workflow_id).await {
            Ok(Some(record)) => Some(record.run_id),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(workflow.id = %workflow_id, error = %e, "could not find the workflow's run");
                None
            }
        }
    }

    async fn process(&mut self, per_run: Vec<(String, RunBatch)>, faults: Vec<(String, RunFault)>) {
        let now = now_ms();
        let mut steps = Vec::new();
        let mut after = Vec::new();
        for (run_id, fault) in faults {
            if let Some((step, then)) = self.block(&run_id, &fault, now).await {
                steps.push(step);
                after.push(then);
            }
        }
        for (run_id, batch) in per_run {
            let stepped = match batch.terminate.clone() {
                Some((id, reason)) => self.terminate(&run_id, id, &reason, batch.inbox, now).await,
                None => self.step(&run_id, batch, now).await,
            };
            if let Some((step, then)) = stepped {
                steps.push(step);
                after.push(then);
            }
        }
        if steps.is_empty() {
            return;
        }
        let results = self.engine.store.commit_steps(steps).await;
        for (result, then) in results.into_iter().zip(after) {
            if let Err(e) = result {
                // The run's memory is ahead of the store: forget it. Its
                // tasks are still stored and run again after a restart.
                tracing::error!(run.id = %then.run_id, error = %e, "could not commit a workflow step");
                self.cache.remove(&then.run_id);
                self.blocked.insert(then.run_id);
                continue;
            }
            for task in then.new_tasks {
                self.engine.schedule(task);
            }
            for seq in then.cancelled_calls {
                self.engine.cancel_attempt(&then.run_id, Some(seq));
            }
            if then.wake {
                self.engine.cancel_attempt(&then.run_id, None);
                self.engine.wake_waiters(&then.workflow_id);
            }
            if let Some(next) = then.next_run {
                self.engine.send(WfMsg::Started(next));
            }
        }
        self.cache.trim();
    }

    /// Ends a run without running its code.
    async fn terminate(
        &mut self,
        run_id: &str,
        inbox_id: u64,
        reason: &str,
        mut inbox: Vec<u64>,
        now: u64,
    ) -> Option<(StepCommit, AfterCommit)> {
        self.cache.remove(run_id);
        self.blocked.remove(run_id);
        let (record, rows) = match self.engine.store.load_run(run_id).await {
            Ok(Some(loaded)) => loaded,
            _ => return None,
        };
        inbox.push(inbox_id);
        let mut step = StepCommit {
            run_id: run_id.to_owned(),
            done_inbox: inbox,
            now_ms: now,
            ..StepCommit::default()
        };
        if !record.status.is_finished() {
            let event = Event::WorkflowTerminated {
                reason: reason.to_owned(),
            };
            step.first_index = rows.len() as u64;
            step.events = vec![serde_json::to_string(&event).expect("events encode to JSON")];
            step.status = Some(StatusChange {
                status: RunStatus::Terminated,
                result: None,
                error: Some(reason.to_owned()),
            });
        }
        Some((step, AfterCommit::status(&record.workflow_id, run_id, true)))
    }

    /// Stops a run that faulted outside an activation.
    async fn block(
        &mut self,
        run_id: &str,
        fault: &RunFault,
        now: u64,
    ) -> Option<(StepCommit, AfterCommit)> {
        if !self.blocked.insert(run_id.to_owned()) {
            return None;
        }
        self.cache.remove(run_id);
        let workflow_id = match self.engine.store.load_run(run_id).await {
            Ok(Some((record, _))) if !record.status.is_finished() => record.workflow_id,
            _ => return None,
        };
        let message = format!("workflow `{workflow_id}` run `{run_id}`: {fault}");
        tracing::error!(error = %message, "workflow run stopped; it resumes after a restart with fixed code");
        Some(status_step(
            run_id,
            &workflow_id,
            RunStatus::Blocked,
            Some(message),
            now,
        ))
    }

    /// Loads a run into the cache, replaying its history, unless it is there.
    async fn load(&mut self, run_id: &str, now: u64) -> Load {
        if self.cache.get_mut(run_id).is_some() {
            return Load::Ready { unblocked: false };
        }
        let (record, rows) = match self.engine.store.load_run(run_id).await {
            Ok(Some(loaded)) => loaded,
            Ok(None) => {
                tracing::warn!(run.id = %run_id, "no such run; message dropped");
                return Load::Stopped(None);
            }
            Err(e) => {
                tracing::error!(run.id = %run_id, error = %e, "could not load run");
                return Load::Stopped(None);
            }
        };
        if record.status.is_finished() {
            return Load::Stopped(None);
        }
        let wf = record.workflow_id.as_str();
        let history = match RecordedHistory::decode(&rows) {
            Ok(h) => h,
            Err(e) => {
                let message = format!("workflow `{wf}` run `{run_id}`: {e}");
                tracing::error!(error = %message, "corrupt history; the run is marked failed");
                return Load::Stopped(Some(Box::new(status_step(
                    run_id,
                    wf,
                    RunStatus::Failed,
                    Some(message),
                    now,
                ))));
            }
        };
        let replayed = LiveRun::replay(
            Arc::from(wf),
            Arc::from(run_id),
            self.engine.registry.clone(),
            history,
        );
        let message = match replayed {
            Ok((run, None)) => {
                self.cache.insert(run_id.to_owned(), run);
                let unblocked = record.status == RunStatus::Blocked;
                if unblocked {
                    tracing::info!(workflow.id = %wf, run.id = %run_id, "blocked run replays cleanly; resumed");
                    self.blocked.remove(run_id);
                }
                return Load::Ready { unblocked };
            }
            Ok((_, Some(Outcome::Fault(fault)))) => {
                format!("workflow `{wf}` run `{run_id}`: {fault}")
            }
            // A replay that ends the run is a fault too (checked in `replay`).
            Ok((_, Some(_))) => return Load::Stopped(None),
            Err(e) => format!("workflow `{wf}` run `{run_id}`: {e}"),
        };
        tracing::error!(error = %message, "workflow run stopped; it resumes after a restart with fixed code");
        self.blocked.insert(run_id.to_owned());
        if record.status == RunStatus::Blocked && record.error.as_deref() == Some(message.as_str())
        {
            return Load::Stopped(None);
        }
        Load::Stopped(Some(Box::new(status_step(
            run_id,
            wf,
            RunStatus::Blocked,
            Some(message),
            now,
        ))))
    }

    /// One activation of one run.
    async fn step(
        &mut self,
        run_id: &str,
        batch: RunBatch,
        now: u64,
    ) -> Option<(StepCommit, AfterCommit)> {
        let RunBatch {
            resume,
            inputs,
            inbox: done_inbox,
            ..
        } = batch;
        if self.blocked.contains(run_id) && !resume {
            return None;
        }
        let unblocked = match self.load(run_id, now).await {
            Load::Ready { unblocked } => unblocked,
            Load::Stopped(step) => return step.map(|s| *s),
        };
        let run = self.cache.get_mut(run_id).expect("loaded above");
        let mut accepted = Vec::with_capacity(inputs.len());
        {
            let core = crate::replay::lock(&run.core);
            let mut seen = HashSet::new();
            for input in inputs {
                match &input {
                    Input::Resolve(seq, _) if !core.is_pending(*seq) || !seen.insert(*seq) => {}
                    _ => accepted.push(input),
                }
            }
        }
        if accepted.is_empty() && !run.is_fresh() {
            let workflow_id = crate::replay::lock(&run.core).workflow_id.to_string();
            if unblocked {
                let (mut step, after) =
                    status_step(run_id, &workflow_id, RunStatus::Running, None, now);
                step.done_inbox = done_inbox;
                return Some((step, after));
            }
            if !done_inbox.is_empty() {
                // Wake-ups for a run that had already started: just consume them.
                let step = StepCommit {
                    run_id: run_id.to_owned(),
                    done_inbox,
                    now_ms: now,
                    ..StepCommit::default()
                };
                return Some((step, AfterCommit::status(&workflow_id, run_id, false)));
            }
            return None;
        }
        let name = run.name.to_string();
        let workflow_id = crate::replay::lock(&run.core).workflow_id.to_string();
        let mut events = Vec::with_capacity(2 + accepted.len() + 2);
        let mut done_tasks = Vec::with_capacity(accepted.len());
        events.push(Event::Activation { time_ms: now });
        for input in &accepted {
            if let Input::Resolve(seq, _) = input {
                done_tasks.push(*seq);
            }
            events.push(input.to_event());
        }
        let span = tracing::debug_span!(
            "workflow",
            workflow.name = %run.name,
            workflow.id = %workflow_id,
            run.id = %run_id,
        );
        let activation = span.in_scope(|| run.activate(now, accepted));
        let mut new_tasks = Vec::new();
        for issued in activation.issued {
            match issued {
                Issued::Activity {
                    seq,
                    name,
                    input,
                    options,
                } => {
                    events.push(Event::ActivityScheduled {
                        seq,
                        name: name.clone(),
                    });
                    new_tasks.push(Task {
                        workflow_id: workflow_id.clone(),
                        run_id: run_id.to_owned(),
                        seq,
                        kind: TaskKind::Activity,
                        name,
                        input,
                        options,
                        attempt: 1,
                        scheduled_ms: now,
                        due_ms: now,
                        last_error: None,
                        details: None,
                    });
                }
                Issued::Timer { seq, fire_at_ms } => {
                    events.push(Event::TimerStarted { seq, fire_at_ms });
                    new_tasks.push(Task {
                        workflow_id: workflow_id.clone(),
                        run_id: run_id.to_owned(),
                        seq,
                        kind: TaskKind::Timer,
                        name: String::new(),
                        input: Value::Null,
                        options: Default::default(),
                        attempt: 0,
                        scheduled_ms: now,
                        due_ms: fire_at_ms,
                        last_error: None,
                        details: None,
                    });
                }
                Issued::Marker { seq, kind, value } => {
                    events.push(Event::Marker { seq, kind, value })
                }
            }
        }
        let mut status = unblocked.then_some(StatusChange {
            status: RunStatus::Running,
            result: None,
            error: None,
        });
        let mut wake = false;
        let mut new_run = None;
        let mut next = None;
        let finished = |status: RunStatus, result: Option<Value>| {
            Some(StatusChange {
                status,
                result,
                error: None,
            })
        };
        match activation.outcome {
            Outcome::Pending => {}
            Outcome::Finished(Ok(output)) => {
                events.push(Event::WorkflowCompleted {
                    output: output.clone(),
                });
                status = finished(RunStatus::Completed, Some(output));
                wake = true;
            }
            Outcome::Finished(Err(error)) => {
                let result = serde_json::to_value(&error).ok();
                events.push(Event::WorkflowFailed { error });
                status = finished(RunStatus::Failed, result);
                wake = true;
            }
            Outcome::Cancelled => {
                events.push(Event::WorkflowCancelled);
                status = finished(RunStatus::Cancelled, None);
                wake = true;
            }
            Outcome::ContinueAsNew(input) => {
                let next_run_id = uuid::Uuid::new_v4().to_string();
                let started = Event::WorkflowStarted {
                    name: name.clone(),
                    input: input.clone(),
                    signals: activation.unconsumed_signals.clone(),
                };
                events.push(Event::WorkflowContinuedAsNew {
                    run_id: next_run_id.clone(),
                    input: input.clone(),
                });
                status = finished(RunStatus::ContinuedAsNew, None);
                new_run = Some(NewRun {
                    run_id: next_run_id.clone(),
                    started_event: serde_json::to_string(&started).expect("events encode to JSON"),
                });
                next = Some(Box::new(StartedRun {
                    workflow_id: workflow_id.clone(),
                    run_id: next_run_id,
                    name,
                    input,
                    signals: activation.unconsumed_signals,
                }));
                wake = true;
            }
            Outcome::Fault(fault) => {
                // Nothing of this activation is kept: the history stays as it was.
                let message = format!("workflow `{workflow_id}` run `{run_id}`: {fault}");
                tracing::error!(error = %message, "workflow run stopped; it resumes after a restart with fixed code");
                self.cache.remove(run_id);
                self.blocked.insert(run_id.to_owned());
                return Some(status_step(
                    run_id,
                    &workflow_id,
                    RunStatus::Blocked,
                    Some(message),
                    now,
                ));
            }
        }
        done_tasks.extend(activation.cancelled_calls.iter().copied());
        let first_index = run.history_len;
        run.history_len += events.len() as u64;
        if wake {
            self.cache.remove(run_id);
        }
        let mut encoded = Vec::with_capacity(events.len());
        for event in &events {
            encoded.push(serde_json::to_string(event).expect("events encode to JSON"));
        }
        let next_run = next;
        let step = StepCommit {
            run_id: run_id.to_owned(),
            first_index,
            events: encoded,
            done_tasks,
            new_tasks: new_tasks.clone(),
            status,
            progress: activation.progress,
            now_ms: now,
            done_inbox,
            new_run,
        };
        let after = AfterCommit {
            workflow_id,
            run_id: run_id.to_owned(),
            new_tasks,
            wake,
            cancelled_calls: activation.cancelled_calls,
            next_run,
        };
        Some((step, after))
    }
}
