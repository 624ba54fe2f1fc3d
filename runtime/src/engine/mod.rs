//! The worker: one workflow executor task, a timer task, activity attempts
//! on the tokio runtime, and the tasks that claim work and renew leases.
//!
//! * The **claimer** takes work from the store under this worker's lease:
//!   runs that have something to do ([`Store::claim_runs`]) go to the
//!   executor with their new inbox messages, activity attempts nobody holds
//!   ([`Store::claim_tasks`]) are dispatched here. It looks when the store
//!   notifies it (another process wrote), when this process kicks it, and
//!   at a slow poll otherwise.
//! * The **renewer** extends this worker's leases while it lives, and reads
//!   the store's clock so due times agree across workers.
//! * The **scheduler** fires the due ticks of schedules, one run per tick
//!   across workers (`scheduler.rs`).
//! * The **workflow executor** owns the cache of live runs and the tokens of
//!   the runs this worker holds. It receives messages (a claimed run, a run
//!   this process created, an activity's or timer's completion, an inbox
//!   message), takes every message already queued as one batch, runs one
//!   activation per run touched, and commits all of the batch's steps in one
//!   store transaction (group commit). Only after that commit are the new
//!   activity tasks dispatched, the new timers armed and the waiters of
//!   finished workflows woken. A completion for a run this worker does not
//!   hold is stored as an input of that run instead, for its owner.
//! * The **timer task** keeps one heap of deadlines: durable timers of the
//!   runs held here, and activity attempts waiting out a retry backoff.
//! * **Activity attempts** run as tokio tasks, at most
//!   `max_concurrent_activities` at once. A final result goes to the
//!   executor; a retryable failure is recorded on the task with the time of
//!   the next attempt.

mod activity;
mod executor;
mod limits;
pub(crate) mod scheduler;
mod timer;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tracing::Instrument;

use self::executor::Executor;
use self::limits::SlotWaiters;
use self::timer::{run_timers, Due, TimerMsg};
use crate::clock::Clock;
use crate::command::Resolution;
use crate::context::{ActivityContext, AttemptInfo};
use crate::error::Chain;
use crate::history::SignalData;
use crate::registry::Registry;
use crate::run::RunFault;
use crate::store::{
    ClaimFilter, ClaimedRun, InboxRecord, Lease, Release, Store, Task, TaskKind, Token,
};

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A message to the workflow executor.
#[derive(Debug)]
enum WfMsg {
    /// The claimer took a run, or found new messages for a run held here.
    Claimed(Box<ClaimedRun>),
    /// A run this process just created: it needs its first activation, and
    /// its start is known without reading it back from the store.
    Started(Box<StartedRun>),
    /// A completion for a run.
    Complete(Box<Completion>),
    /// A message this process put in a workflow's inbox, for its run.
    Inbox { run_id: String, record: InboxRecord },
    /// A run cannot go on (e.g. an activity it calls is not registered).
    Fault { run_id: String, fault: RunFault },
    /// Answered once every message sent before it is processed.
    Barrier(oneshot::Sender<()>),
    /// Finish the current batch and stop.
    Shutdown(oneshot::Sender<()>),
}

/// An activity call or a timer that finished.
#[derive(Debug)]
struct Completion {
    workflow_id: String,
    run_id: String,
    seq: u32,
    /// The token of the attempt's task (0 for a timer).
    token: Token,
    resolution: Resolution,
}

/// What a newly created run starts with.
#[derive(Debug)]
pub(crate) struct StartedRun {
    pub(crate) workflow_id: String,
    pub(crate) run_id: String,
    pub(crate) name: String,
    pub(crate) input: Value,
    pub(crate) signals: Vec<SignalData>,
    /// The parent, for a child workflow's next run.
    pub(crate) parent: Option<crate::command::child::ParentRef>,
    /// The workflow's timeout (Unix ms).
    pub(crate) deadline_ms: Option<u64>,
    /// The token this worker holds the run with.
    pub(crate) token: Token,
}

/// Settings of the worker.
#[derive(Debug, Clone)]
pub(crate) struct WorkerConfig {
    pub(crate) max_concurrent_activities: usize,
    pub(crate) max_cached_runs: usize,
    /// False for a client: no executor, timers or activities in this process.
    pub(crate) worker: bool,
    /// This worker's id (`None`: host name, pid and a random suffix).
    pub(crate) worker_id: Option<String>,
    /// How long a claim lasts unrenewed.
    pub(crate) lease: Duration,
    /// How often the claimer looks without being woken (`None`: the store's
    /// default).
    pub(crate) poll_interval: Option<Duration>,
    /// Where the time is read.
    pub(crate) clock: Clock,
}

impl WorkerConfig {
    pub(crate) fn new() -> Self {
        Self {
            max_concurrent_activities: 100,
            max_cached_runs: 10_000,
            worker: true,
            worker_id: None,
            lease: Duration::from_secs(10),
            poll_interval: None,
            clock: Clock::System,
        }
    }
}

/// The default worker id: host name, process id and a random suffix.
fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &suffix[..8])
}

/// What the runtime, its handles and the worker tasks share.
pub(crate) struct Engine {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) registry: Arc<Registry>,
    wf_tx: mpsc::UnboundedSender<WfMsg>,
    due_tx: mpsc::UnboundedSender<TimerMsg>,
    slots: Arc<Semaphore>,
    /// Waiters for a workflow id's current run to finish.
    waiters: Mutex<HashMap<String, Vec<oneshot::Sender<()>>>>,
    /// Attempts in flight, by `(run_id, seq)`, to tell them of a cancellation.
    running: Mutex<BTreeMap<(String, u32), ActivityContext>>,
    /// Attempts waiting for a slot of their activity's limits.
    slot_waiters: SlotWaiters,
    /// Runs whose steps fail to commit (the store refuses writes): why, and
    /// since when (Unix ms), for `describe`; cleared at their next commit.
    stalled: Mutex<HashMap<String, (String, u64)>>,
    /// Store writes the executor left to finish in the background (runs
    /// given back, completions of others' runs): stopped with the worker,
    /// so that nothing holds the store once `shutdown` returns.
    detached: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    shutdown: tokio::sync::watch::Sender<bool>,
    /// Whether this process runs workflows (false for a client).
    pub(crate) worker: bool,
    /// This worker's lease: its id and how long its claims last.
    pub(crate) lease: Arc<Lease>,
    /// The store's clock minus this process's, in ms (0 for stores
    /// without a clock of their own).
    clock_offset: AtomicI64,
    /// The clock this runtime reads (virtual in a `TestEnv`).
    clock: Clock,
    /// Wakes the claimer: this process stored work for others to claim.
    kick: tokio::sync::Notify,
    /// Wakes the scheduler: a schedule changed in this process.
    schedule_wake: tokio::sync::Notify,
    poll_interval: Duration,
    /// Names for claims: the registered workflow and activity types.
    workflow_names: Vec<String>,
    activity_names: Vec<String>,
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
    /// The timer heap, the claimer and the renewer.
    others: Vec<tokio::task::JoinHandle<()>>,
}

/// Runs or tasks taken per claim, at most.
const CLAIM_LIMIT: usize = 256;
/// The longest wait between two claims after a store error.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl Engine {
    /// Starts the worker: gives back what a previous process of this
    /// worker id held, then claims every run and activity task that has
    /// something to do before returning, so that blocked runs that replay
    /// cleanly now are running again when `build` returns.
    pub(crate) async fn start(
        store: Arc<dyn Store>,
        registry: Arc<Registry>,
        config: WorkerConfig,
    ) -> Result<(Arc<Engine>, WorkerTasks), crate::Error> {
        let (wf_tx, wf_rx) = mpsc::unbounded_channel();
        let (due_tx, due_rx) = mpsc::unbounded_channel();
        let (shutdown, _) = tokio::sync::watch::channel(false);
        let lease = Arc::new(Lease {
            worker: config.worker_id.clone().unwrap_or_else(default_worker_id),
            duration: config.lease,
        });
        let poll_interval = config
            .poll_interval
            .unwrap_or_else(|| store.poll_interval());
        let engine = Arc::new(Engine {
            workflow_names: registry.workflow_names(),
            activity_names: registry.activity_names(),
            store,
            registry,
            wf_tx,
            due_tx,
            slots: Arc::new(Semaphore::new(config.max_concurrent_activities.max(1))),
            waiters: Mutex::new(HashMap::new()),
            running: Mutex::new(BTreeMap::new()),
            slot_waiters: SlotWaiters::default(),
            stalled: Mutex::new(HashMap::new()),
            detached: Mutex::new(Vec::new()),
            shutdown,
            worker: config.worker,
            lease,
            clock_offset: AtomicI64::new(0),
            clock: config.clock,
            kick: tokio::sync::Notify::new(),
            schedule_wake: tokio::sync::Notify::new(),
            poll_interval,
        });
        if !config.worker {
            return Ok((
                engine,
                WorkerTasks {
                    executor: None,
                    others: Vec::new(),
                },
            ));
        }
        engine
            .store
            .release(Release::Worker(engine.lease.worker.clone()))
            .await?;
        engine.renew().await?;
        let executor =
            tokio::spawn(Executor::new(engine.clone(), config.max_cached_runs).run(wf_rx));
        let timers = tokio::spawn(run_timers(engine.clone(), due_rx));
        // Runs first, all of them, then a barrier: the executor has
        // activated (or blocked again) every claimed run before tasks are
        // claimed, and before `build` returns.
        loop {
            let runs = engine.claim_runs().await?;
            if runs < CLAIM_LIMIT {
                break;
            }
        }
        let (tx, rx) = oneshot::channel();
        engine.send(WfMsg::Barrier(tx));
        let _ = rx.await;
        engine.claim_tasks().await?;
        let claimer = tokio::spawn(run_claimer(engine.clone()));
        let renewer = tokio::spawn(run_renewer(engine.clone()));
        let scheduler = tokio::spawn(scheduler::run_scheduler(engine.clone()));
        let mut others = vec![timers, claimer, renewer, scheduler];
        if let Some(notifications) = engine.store.notifications() {
            others.push(tokio::spawn(run_slot_wakeups(
                engine.clone(),
                notifications.slots,
            )));
        }
        Ok((
            engine,
            WorkerTasks {
                executor: Some(executor),
                others,
            },
        ))
    }

    /// Waits until the executor has handled every message sent before.
    #[cfg(feature = "testing")]
    pub(crate) async fn barrier(&self) {
        let (tx, rx) = oneshot::channel();
        self.send(WfMsg::Barrier(tx));
        let _ = rx.await;
    }

    /// The current time in Unix ms on the store's clock.
    pub(crate) fn now_ms(&self) -> u64 {
        let offset = self.clock_offset.load(Ordering::Relaxed);
        self.clock.now_ms().saturating_add_signed(offset)
    }

    /// Renews this worker's leases; adopts the store's clock if it has one.
    async fn renew(&self) -> Result<(), crate::error::StoreError> {
        let local = self.clock.now_ms();
        if let Some(store_now) = self.store.renew(&self.lease).await? {
            let offset = i64::try_from(store_now).unwrap_or(i64::MAX)
                - i64::try_from(local).unwrap_or(i64::MAX);
            self.clock_offset.store(offset, Ordering::Relaxed);
        }
        Ok(())
    }

    /// One claim of runs; returns how many were claimed.
    async fn claim_runs(&self) -> Result<usize, crate::error::StoreError> {
        let filter = ClaimFilter {
            names: &self.workflow_names,
            limit: CLAIM_LIMIT,
            horizon_ms: millis(self.poll_interval.saturating_mul(2)),
        };
        let runs = self.store.claim_runs(&self.lease, filter).await?;
        let count = runs.len();
        for run in runs {
            self.send(WfMsg::Claimed(Box::new(run)));
        }
        Ok(count)
    }

    /// One claim of activity tasks, as many as free slots; returns how many
    /// were claimed and whether that filled the free slots.
    async fn claim_tasks(self: &Arc<Self>) -> Result<bool, crate::error::StoreError> {
        let free = self.slots.available_permits().min(CLAIM_LIMIT);
        if free == 0 || self.activity_names.is_empty() {
            return Ok(false);
        }
        let filter = ClaimFilter {
            names: &self.activity_names,
            limit: free,
            horizon_ms: millis(self.poll_interval.saturating_mul(2)),
        };
        let tasks = self.store.claim_tasks(&self.lease, filter).await?;
        let full = tasks.len() == free;
        for task in tasks {
            // Claimed from the store: its workflow type is not known here.
            self.schedule(task, None);
        }
        Ok(full)
    }

    /// Wakes the claimer now.
    pub(crate) fn kick(&self) {
        self.kick.notify_one();
    }

    /// Hands a run this process just created to the executor.
    pub(crate) fn run_started(&self, run: StartedRun) {
        self.send(WfMsg::Started(Box::new(run)));
    }

    /// Hands a message this process just stored in a workflow's inbox to
    /// the executor, which delivers it at once if this worker holds the run.
    pub(crate) fn message_stored(&self, run_id: String, record: InboxRecord) {
        self.send(WfMsg::Inbox { run_id, record });
    }

    fn send(&self, msg: WfMsg) {
        // Fails only after shutdown, when nothing is to be done any more.
        let _ = self.wf_tx.send(msg);
    }

    /// Dispatches a task now or arms it for later; `workflow` is the type
    /// of the workflow that called it, when known (for the attempt's span).
    fn schedule(self: &Arc<Self>, task: Task, workflow: Option<Arc<str>>) {
        match task.kind {
            TaskKind::Timer => {
                let _ = self.due_tx.send(TimerMsg::Arm(
                    task.due_ms,
                    Due::Timer {
                        run_id: task.run_id,
                        seq: task.seq,
                    },
                ));
            }
            TaskKind::Activity if task.due_ms > self.now_ms() => {
                let _ = self.due_tx.send(TimerMsg::Arm(
                    task.due_ms,
                    Due::Attempt(Box::new(task), workflow),
                ));
            }
            TaskKind::Activity => self.dispatch(task, workflow),
        }
    }

    /// Forgets a timer's deadline (its run cancelled it).
    fn cancel_timer(&self, run_id: &str, seq: u32) {
        let _ = self.due_tx.send(TimerMsg::Cancel {
            run_id: run_id.to_owned(),
            seq,
        });
    }

    /// Forgets every deadline of a run that ended.
    fn forget_run_deadlines(&self, run_id: &str) {
        let _ = self.due_tx.send(TimerMsg::CancelRun(run_id.to_owned()));
    }

    /// Starts an activity attempt once a slot is free, in its span.
    fn dispatch(self: &Arc<Self>, task: Task, workflow: Option<Arc<str>>) {
        let engine = self.clone();
        // Registered before it waits for a slot, so that a cancellation or
        // the end of its workflow reaches an attempt that has not started.
        let ctx = ActivityContext::new(
            AttemptInfo {
                workflow_id: task.workflow_id.clone(),
                run_id: task.run_id.clone(),
                activity_name: task.name.clone(),
                seq: task.seq,
                attempt: task.attempt,
                details: task.details.clone(),
            },
            self.registry.resources.clone(),
        );
        let key = (task.run_id.clone(), task.seq);
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), ctx.clone());
        tokio::spawn(async move {
            let mut shutdown = engine.shutdown.subscribe();
            let span = tracing::info_span!(
                "activity_attempt",
                workflow.name = workflow.as_deref().map(tracing::field::display),
                workflow.id = %task.workflow_id,
                run.id = %task.run_id,
                activity.name = %task.name,
                seq = task.seq,
                attempt = task.attempt,
            );
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => {}
                () = engine.run_attempt(task, &ctx, workflow).instrument(span) => {}
            }
            let mut running = engine.running.lock().unwrap_or_else(|p| p.into_inner());
            // A retry of the same call may have registered itself meanwhile.
            if running.get(&key).is_some_and(|c| c.same(&ctx)) {
                running.remove(&key);
            }
        });
    }

    /// Drives a run again from what the store holds, after a step of it
    /// could not be committed: the run and its tasks are given back to the
    /// store (retrying until the store answers), then claimed again, by
    /// this worker or another, and replayed from their history. Its
    /// activities may run again: at-least-once.
    pub(crate) async fn redrive(self: &Arc<Self>, run_id: String, token: Token) {
        let mut wait = Duration::from_millis(100);
        let release = Release::Run { run_id, token };
        loop {
            match self.store.release(release.clone()).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %Chain(&e), "could not give a run back to the store; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_BACKOFF);
                }
            }
        }
        self.kick();
    }

    /// Why a run's steps do not commit here, and since when, if they do not.
    pub(crate) fn stalled(&self, run_id: &str) -> Option<(String, u64)> {
        let stalled = self.stalled.lock().unwrap_or_else(|p| p.into_inner());
        stalled.get(run_id).cloned()
    }

    /// Records that a step of `run_id` failed to commit (`Some`), or that
    /// one committed (`None`).
    fn set_stalled(&self, run_id: &str, error: Option<String>) {
        let mut stalled = self.stalled.lock().unwrap_or_else(|p| p.into_inner());
        match error {
            Some(error) => {
                let since = self.now_ms();
                let entry = stalled
                    .entry(run_id.to_owned())
                    .or_insert((String::new(), since));
                entry.0 = format!("its steps cannot be recorded: {error}");
            }
            None => {
                stalled.remove(run_id);
            }
        }
    }

    /// Registers a waiter woken when `workflow_id`'s current run finishes.
    pub(crate) fn wait_for(&self, workflow_id: &str) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let mut waiters = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        let list = waiters.entry(workflow_id.to_owned()).or_default();
        // Waiters that stopped waiting (a `result()` that looked again, or
        // was dropped) go, so a long wait does not pile them up.
        list.retain(|waiter| !waiter.is_closed());
        list.push(tx);
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
    /// Runs a store write in the background until the worker stops.
    pub(crate) fn spawn_detached(
        &self,
        work: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let mut detached = self.detached.lock().unwrap_or_else(|p| p.into_inner());
        detached.retain(|task| !task.is_finished());
        detached.push(tokio::spawn(work));
    }

    /// Stops the background writes: what they did not write is redone
    /// from the store (a run given back is given back with the worker's
    /// leases; an activity whose completion was not stored runs again).
    fn stop_detached(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let detached =
            std::mem::take(&mut *self.detached.lock().unwrap_or_else(|p| p.into_inner()));
        for task in &detached {
            task.abort();
        }
        detached
    }

    pub(crate) async fn stop(&self, tasks: WorkerTasks) {
        let _ = self.shutdown.send(true);
        if let Some(executor) = tasks.executor {
            let (tx, rx) = oneshot::channel();
            self.send(WfMsg::Shutdown(tx));
            let _ = rx.await;
            let _ = executor.await;
        }
        for task in tasks.others.into_iter().chain(self.stop_detached()) {
            task.abort();
            let _ = task.await;
        }
        if self.worker {
            // Other workers may take this worker's runs at once, without
            // waiting for its leases to expire.
            if let Err(e) = self
                .store
                .release(Release::Worker(self.lease.worker.clone()))
                .await
            {
                tracing::warn!(error = %Chain(&e), "could not give this worker's leases back; they expire");
            }
        }
        self.waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Stops the worker without waiting: the executor finishes its batch in
    /// the background, the other tasks are aborted. For a runtime dropped
    /// without `shutdown`.
    pub(crate) fn stop_in_background(&self, tasks: WorkerTasks) {
        let _ = self.shutdown.send(true);
        if tasks.executor.is_some() {
            let (tx, _) = oneshot::channel();
            self.send(WfMsg::Shutdown(tx));
        }
        for task in tasks.others.into_iter().chain(self.stop_detached()) {
            task.abort();
        }
        let handle = tokio::runtime::Handle::try_current();
        if let (true, Ok(handle)) = (self.worker, handle) {
            // Best effort: other workers may take this worker's runs at once
            // (else its leases expire).
            let store = self.store.clone();
            let release = Release::Worker(self.lease.worker.clone());
            handle.spawn(async move {
                let _ = store.release(release).await;
            });
        }
    }
}

/// Claims work whenever the store notifies, this process kicks, or the
/// poll interval passes; at once again while claims come back full.
async fn run_claimer(engine: Arc<Engine>) {
    let mut work = engine.store.notifications().map(|n| n.work);
    let mut backoff = Duration::from_millis(100);
    loop {
        let claimed = async {
            let runs = engine.claim_runs().await?;
            let full = engine.claim_tasks().await?;
            Ok::<bool, crate::error::StoreError>(runs == CLAIM_LIMIT || full)
        }
        .await;
        match claimed {
            Ok(true) => {
                tokio::task::yield_now().await;
                continue;
            }
            Ok(false) => backoff = Duration::from_millis(100),
            Err(e) => {
                tracing::warn!(error = %Chain(&e), "could not claim work; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        }
        let notified = async {
            match work.as_mut() {
                Some(rx) => {
                    if rx.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = engine.kick.notified() => {}
            () = notified => {}
            () = tokio::time::sleep(engine.poll_interval) => {}
        }
    }
}

/// Wakes the attempts waiting for a slot when another process gave one back.
async fn run_slot_wakeups(engine: Arc<Engine>, mut slots: tokio::sync::watch::Receiver<u64>) {
    while slots.changed().await.is_ok() {
        engine.slot_waiters.wake_every_pair();
    }
}

/// Renews this worker's leases three times per lease.
async fn run_renewer(engine: Arc<Engine>) {
    let every = (engine.lease.duration / 3).max(Duration::from_millis(10));
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = engine.renew().await {
            tracing::warn!(error = %Chain(&e), "could not renew this worker's leases");
        }
    }
}
