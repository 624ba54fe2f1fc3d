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

mod activity;
mod executor;
mod timer;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tracing::Instrument;

use self::executor::Executor;
use self::timer::{run_timers, Due};
use crate::context::{ActivityContext, AttemptInfo};
use crate::history::{Resolution, SignalData};
use crate::registry::Registry;
use crate::replay::RunFault;
use crate::store::{InboxRecord, RunStatus, Store, Task, TaskKind};

/// The current wall-clock time in Unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

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
        let executor =
            tokio::spawn(Executor::new(engine.clone(), config.max_cached_runs).run(wf_rx));
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
        for record in engine.store.inbox().await? {
            engine.send(WfMsg::Inbox(record));
        }
        // Blocked runs that replay cleanly now are running again before
        // `build` returns, so a caller never sees their stale status.
        let (tx, rx) = oneshot::channel();
        engine.send(WfMsg::Barrier(tx));
        let _ = rx.await;
        // Tasks of runs still blocked wait for a runtime with fixed code:
        // running them now would only spend their retries.
        let blocked: HashSet<String> = engine
            .store
            .unfinished_runs()
            .await?
            .into_iter()
            .filter(|r| r.status == RunStatus::Blocked)
            .map(|r| r.run_id)
            .collect();
        for task in tasks {
            if !blocked.contains(&task.run_id) {
                engine.schedule(task);
            }
        }
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
        // Registered before it waits for a slot, so that a cancellation or
        // the end of its workflow reaches an attempt that has not started.
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
                () = engine.run_attempt(task, &ctx).instrument(span) => {}
            }
            drop(permit);
            let mut running = engine.running.lock().unwrap_or_else(|p| p.into_inner());
            // A retry of the same call may have registered itself meanwhile.
            if running.get(&key).is_some_and(|c| c.same(&ctx)) {
                running.remove(&key);
            }
        });
    }

    /// Drives a run again from what the store holds, after a step of it
    /// could not be committed: its stored tasks are scheduled again (an
    /// activity may run twice: at-least-once), its inbox messages delivered
    /// again, and it is activated if it needs to be.
    pub(crate) async fn redrive(self: &Arc<Self>, workflow_id: &str, run_id: &str) {
        match self.store.tasks(Some(run_id)).await {
            Ok(tasks) => tasks.into_iter().for_each(|task| self.schedule(task)),
            Err(e) => {
                tracing::error!(run.id = %run_id, error = %e, "could not read the run's tasks")
            }
        }
        match self.store.inbox().await {
            Ok(records) => records
                .into_iter()
                .filter(|r| r.workflow_id == workflow_id)
                .for_each(|r| self.send(WfMsg::Inbox(r))),
            Err(e) => tracing::error!(run.id = %run_id, error = %e, "could not read the inbox"),
        }
        self.send(WfMsg::Resume {
            run_id: run_id.to_owned(),
        });
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

    /// Stops the worker without waiting: the executor finishes its batch in
    /// the background, the other tasks are aborted. For a runtime dropped
    /// without `shutdown`.
    pub(crate) fn stop_in_background(&self, tasks: WorkerTasks) {
        let _ = self.shutdown.send(true);
        if tasks.executor.is_some() {
            let (tx, _) = oneshot::channel();
            self.send(WfMsg::Shutdown(tx));
        }
        for task in tasks.others {
            task.abort();
        }
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
