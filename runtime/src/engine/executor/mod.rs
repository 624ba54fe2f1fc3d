//! The workflow executor task: the runs this worker holds and the cache of
//! live runs, one activation per run touched by a batch of messages, one
//! commit per batch.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::command::{child, Effects, Resolution, Scope};
use crate::error::Chain;
use crate::history::{Event, Input, RecordedHistory};
use crate::metrics::WorkflowMetrics;
use crate::replay::{LiveRun, Outcome};
use crate::run::RunFault;
use crate::store::{
    InboxItem, InboxRecord, NewRun, StatusChange, StepCommit, Task, TaskDone, TaskKind, Token,
    WorkflowStatus,
};

use super::{Completion, Engine, StartedRun, WfMsg};

mod blocked;
mod cache;
mod commit;
mod timeout;

use blocked::{consume_wakes, Load};
use cache::Cache;

/// What a batch does after its commit, per run.
struct AfterCommit {
    workflow_id: String,
    run_id: String,
    new_tasks: Vec<Task>,
    /// The run's status changed to one a result waiter must see.
    wake: bool,
    /// Activity calls cancelled by this step: their attempts are told.
    cancelled_calls: Vec<u32>,
    /// Timers cancelled by this step: their deadlines are forgotten.
    cancelled_timers: Vec<u32>,
    /// The run continued as this new run.
    next_run: Option<Box<StartedRun>>,
    /// Inbox messages the step consumed.
    inbox: Vec<u64>,
    /// The token the step was written with.
    token: Token,
    /// The workflow type, when known (the spans of the step's attempts).
    workflow: Option<Arc<str>>,
    /// What the step counts, once committed: the run's first activation
    /// (`started`) and its new status.
    metrics: Option<Arc<WorkflowMetrics>>,
    started: bool,
    status: Option<WorkflowStatus>,
}

/// How long after a failed commit a run is driven again from the store.
const REDRIVE_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

impl AfterCommit {
    /// What a step that changes no status does after its commit.
    fn status(workflow_id: &str, run_id: &str, wake: bool) -> Self {
        Self {
            workflow_id: workflow_id.to_owned(),
            run_id: run_id.to_owned(),
            new_tasks: Vec::new(),
            wake,
            cancelled_calls: Vec::new(),
            cancelled_timers: Vec::new(),
            next_run: None,
            inbox: Vec::new(),
            token: 0,
            workflow: None,
            metrics: None,
            started: false,
            status: None,
        }
    }

    /// The step changes the run's status to `status`: counted once committed.
    fn counting(mut self, metrics: Arc<WorkflowMetrics>, status: WorkflowStatus) -> Self {
        self.metrics = Some(metrics);
        self.status = Some(status);
        self
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
    /// Ids of the resume requests (`InboxItem::Wake`) among `inbox`.
    wakes: Vec<u64>,
    /// The sequence numbers of the completions among `inputs` that came
    /// from the inbox (the others this process delivered from memory).
    from_inbox: Vec<u32>,
    /// A termination request and its inbox id.
    terminate: Option<(u64, String)>,
    /// The run's workflow id, when a message of the batch named it (to
    /// report a run that cannot be loaded).
    workflow_id: Option<String>,
}

/// The workflow executor task.
pub(super) struct Executor {
    engine: Arc<Engine>,
    /// The runs this worker holds, with the token of its claim: the only
    /// runs it steps. A run leaves when it ends or another worker takes it.
    owned: HashMap<String, Token>,
    cache: Cache,
    /// Runs stopped by a fault: completions for them are dropped (their tasks
    /// stay in the store and run again after a restart with fixed code).
    blocked: HashSet<String>,
    /// Inbox messages already delivered (a message can arrive twice: from
    /// this process, which stored it, and with a claim of its run that read
    /// it before its step deleted it). Kept for two generations of
    /// [`DELIVERED_MEMORY`]: a claim's copy arrives within one claim's time,
    /// and the set stays as large as the messages of seconds, not of the
    /// process's life.
    delivered: HashSet<u64>,
    delivered_before: HashSet<u64>,
    delivered_since: std::time::Instant,
    /// Timers that fired for blocked runs, by run: delivered when the run
    /// is resumed.
    parked: HashMap<String, Vec<u32>>,
    /// Runs whose last commit failed (reported to `Engine::stalled`).
    stalled: HashSet<String>,
}

/// How long a generation of delivered inbox ids is kept.
///
/// A claim's copy of a message comes within one claim (the claim reads it,
/// commits and hands it over at once), so seconds are plenty; at thousands
/// of messages a second a longer memory would be megabytes.
const DELIVERED_MEMORY: std::time::Duration = std::time::Duration::from_secs(10);

/// Messages taken per batch, at most.
const MAX_BATCH: usize = 4096;

/// A step's fencing token and lease, for a run held here.
fn fence(step: &mut StepCommit, engine: &Engine, token: Token) {
    step.token = token;
    step.lease = Some(engine.lease.clone());
}

/// A step that only changes a run's status; `metrics` are its workflow
/// type's, to count the change once committed.
fn status_step(
    run_id: &str,
    workflow_id: &str,
    metrics: Arc<WorkflowMetrics>,
    status: WorkflowStatus,
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
        AfterCommit::status(workflow_id, run_id, status != WorkflowStatus::Running)
            .counting(metrics, status),
    )
}

impl Executor {
    pub(super) fn new(engine: Arc<Engine>, max_cached_runs: usize) -> Self {
        Self {
            engine,
            owned: HashMap::new(),
            cache: Cache::new(max_cached_runs),
            blocked: HashSet::new(),
            delivered: HashSet::new(),
            delivered_before: HashSet::new(),
            delivered_since: std::time::Instant::now(),
            parked: HashMap::new(),
            stalled: HashSet::new(),
        }
    }

    pub(super) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<WfMsg>) {
        let mut batch = Vec::new();
        loop {
            let Some(first) = rx.recv().await else { return };
            if self.delivered_since.elapsed() >= DELIVERED_MEMORY {
                self.delivered_before = std::mem::take(&mut self.delivered);
                self.delivered_since = std::time::Instant::now();
            }
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
            let mut foreign = Vec::new();
            for msg in batch.drain(..) {
                let (run_id, records) = match msg {
                    WfMsg::Claimed(claimed) => {
                        let claimed = *claimed;
                        let run_id = claimed.record.run_id.clone();
                        if !claimed.taken && !self.owned.contains_key(&run_id) {
                            // Held under this worker's id, but not known
                            // here (a claim whose answer was lost, or a run
                            // being given back): give it back, so that it
                            // is claimed whole, timers and all.
                            let engine = self.engine.clone();
                            self.engine.spawn_detached(async move {
                                engine.redrive(run_id, claimed.token).await
                            });
                            continue;
                        }
                        if claimed.taken {
                            // Whatever this process remembers of the run
                            // predates the other worker's steps.
                            self.cache.remove(&run_id);
                            self.blocked.remove(&run_id);
                            self.parked.remove(&run_id);
                            for task in claimed.tasks {
                                if task.kind == TaskKind::Timer {
                                    self.engine.schedule(task, None);
                                }
                            }
                        }
                        self.owned.insert(run_id.clone(), claimed.token);
                        let entry = entry(&mut per_run, &mut index, &run_id);
                        entry.resume |= claimed.taken;
                        entry.workflow_id = Some(claimed.record.workflow_id.clone());
                        (run_id, claimed.inbox)
                    }
                    WfMsg::Started(started) => {
                        self.owned.insert(started.run_id.clone(), started.token);
                        self.prime(&started);
                        let entry = entry(&mut per_run, &mut index, &started.run_id);
                        entry.resume = true;
                        entry.workflow_id = Some(started.workflow_id.clone());
                        continue;
                    }
                    WfMsg::Complete(done) => {
                        let done = *done;
                        if self.owned.contains_key(&done.run_id) {
                            entry(&mut per_run, &mut index, &done.run_id)
                                .inputs
                                .push(Input::Resolve(done.seq, done.resolution));
                        } else {
                            foreign.push(done);
                        }
                        continue;
                    }
                    WfMsg::Inbox { run_id, record } => {
                        let run_id = if self.owned.contains_key(&run_id) {
                            run_id
                        } else {
                            // The run may have continued as new: its
                            // successor takes the message, if held here.
                            match self.current_run(&record.workflow_id).await {
                                Some(current) if self.owned.contains_key(&current) => current,
                                // Its holder claims it from the store: if
                                // nobody holds it, this worker, at once.
                                _ => {
                                    self.engine.kick();
                                    continue;
                                }
                            }
                        };
                        (run_id, vec![record])
                    }
                    WfMsg::Fault { run_id, fault } => {
                        faults.push((run_id, fault));
                        continue;
                    }
                    WfMsg::Shutdown(tx) => {
                        stop = Some(tx);
                        continue;
                    }
                    WfMsg::Barrier(tx) => {
                        barriers.push(tx);
                        continue;
                    }
                };
                for record in records {
                    if self.delivered_before.contains(&record.id)
                        || !self.delivered.insert(record.id)
                    {
                        continue;
                    }
                    let entry = entry(&mut per_run, &mut index, &run_id);
                    entry
                        .workflow_id
                        .get_or_insert_with(|| record.workflow_id.clone());
                    add_inbox(entry, &run_id, record);
                }
            }
            self.store_foreign(foreign);
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

    /// Stores completions of runs this worker does not hold as inputs of
    /// those runs, for their owners (a timer's is dropped: the run's owner
    /// fires its own timers).
    fn store_foreign(&self, foreign: Vec<Completion>) {
        for done in foreign {
            let Resolution::Activity(result) = done.resolution else {
                continue;
            };
            let engine = self.engine.clone();
            let done = TaskDone {
                workflow_id: done.workflow_id,
                run_id: done.run_id,
                seq: done.seq,
                token: done.token,
                result,
                now_ms: engine.now_ms(),
            };
            self.engine.spawn_detached(async move {
                // Retried until the store answers: the token makes a repeat
                // harmless, and until then nobody else may run the task.
                let mut wait = std::time::Duration::from_millis(100);
                loop {
                    match engine.store.complete_task(done.clone()).await {
                        Ok(()) => return engine.kick(),
                        Err(e) if e.is_fenced() => {
                            tracing::warn!(error = %e, "an activity finished after its lease was lost; its result is dropped");
                            return;
                        }
                        // After shutdown the task runs again elsewhere (its
                        // lease is given back or expires).
                        Err(_) if *engine.shutdown.borrow() => return,
                        Err(e) => {
                            tracing::warn!(error = %e, "could not store an activity's completion; retrying");
                            tokio::time::sleep(wait).await;
                            wait = (wait * 2).min(std::time::Duration::from_secs(5));
                        }
                    }
                }
            });
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
            parent: started.parent.clone(),
            deadline_ms: started.deadline_ms,
            activations: Vec::new(),
            open_children: Default::default(),
            len: 1,
            bytes: 0,
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

    /// The latest run of a workflow, unless it has ended.
    async fn current_run(&mut self, workflow_id: &str) -> Option<String> {
        match self.engine.store.latest_run(workflow_id).await {
            Ok(Some(record)) if !record.status.is_finished() => Some(record.run_id),
            Ok(Some(_)) => None,
            Ok(None) => None,
            Err(e) => {
                tracing::error!(workflow.id = %workflow_id, error = %e, "could not find the workflow's run");
                None
            }
        }
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
            mut inputs,
            inbox: done_inbox,
            workflow_id,
            wakes,
            from_inbox,
            ..
        } = batch;
        if self.blocked.contains(run_id) && !resume {
            // Kept for the run's resumption: inbox messages stay in the
            // store (delivered again then), completions are kept.
            self.forget_delivered(&done_inbox);
            let kept = inputs.into_iter().filter_map(|input| match input {
                Input::Resolve(seq, resolution) => Some((seq, resolution)),
                _ => None,
            });
            self.keep_completions(run_id, &from_inbox, kept).await;
            return None;
        }
        let unblocked = match self.load(run_id, workflow_id.as_deref(), now).await {
            Load::Ready { unblocked } => {
                if unblocked {
                    // Timers that fired while it was blocked.
                    let fired = self.parked.remove(run_id).unwrap_or_default();
                    let fired = fired
                        .into_iter()
                        .map(|seq| Input::Resolve(seq, Resolution::Timer));
                    inputs.splice(0..0, fired);
                }
                unblocked
            }
            Load::Stopped(step) => {
                let step = step.map(|s| *s);
                if !self.blocked.contains(run_id) {
                    return step;
                }
                self.forget_delivered(&done_inbox);
                let kept = inputs.into_iter().filter_map(|input| match input {
                    Input::Resolve(seq, resolution) => Some((seq, resolution)),
                    _ => None,
                });
                self.keep_completions(run_id, &from_inbox, kept).await;
                if wakes.is_empty() {
                    return step;
                }
                return Some(consume_wakes(
                    run_id,
                    workflow_id.as_deref(),
                    step,
                    wakes,
                    now,
                ));
            }
        };
        if timeout::fired(&inputs) {
            return self.time_out(run_id, done_inbox, now);
        }
        let run = self.cache.get_mut(run_id).expect("loaded above");
        let metrics = run.metrics.clone();
        let mut accepted = Vec::with_capacity(inputs.len());
        {
            let core = crate::run::lock(&run.core);
            let mut seen = HashSet::new();
            for input in inputs {
                match &input {
                    Input::Resolve(seq, _) if !core.is_pending(*seq) || !seen.insert(*seq) => {}
                    _ => accepted.push(input),
                }
            }
        }
        if accepted.is_empty() && !run.is_fresh() {
            let workflow_id = crate::run::lock(&run.core).workflow_id.to_string();
            if unblocked {
                let (mut step, after) = status_step(
                    run_id,
                    &workflow_id,
                    metrics,
                    WorkflowStatus::Running,
                    None,
                    now,
                );
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
        let workflow_id = crate::run::lock(&run.core).workflow_id.to_string();
        record_run(&name, &workflow_id);
        let workflow = run.name.clone();
        // Its first activation: the workflow's body starts.
        let started = run.history_len <= 1;
        let suggested = run.history_len >= crate::context::CONTINUE_AS_NEW_EVENTS
            || run.history_bytes >= crate::context::CONTINUE_AS_NEW_BYTES;
        let mut effects = Effects::default();
        effects.events.reserve(2 + accepted.len() + 2);
        effects.done_tasks.reserve(accepted.len());
        effects.events.push(Event::Activation {
            time_ms: now,
            continue_as_new_suggested: suggested,
        });
        for input in &accepted {
            if let Input::Resolve(seq, _) = input {
                effects.done_tasks.push(*seq);
            }
            effects.events.push(input.to_event());
        }
        // In the activation's span, which the caller entered.
        let activation = run.activate(now, accepted, suggested);
        let scope = Scope {
            workflow_id: &workflow_id,
            run_id,
            now_ms: now,
        };
        for issued in activation.issued {
            issued.record(&scope, &mut effects);
        }
        if let Some(deadline) = run.deadline_ms.filter(|_| started) {
            effects
                .new_tasks
                .push(timeout::timeout_task(&scope, deadline));
        }
        effects.messages.extend(activation.messages);
        let mut status = unblocked.then_some(StatusChange {
            status: WorkflowStatus::Running,
            result: None,
            error: None,
        });
        let mut wake = false;
        let mut new_run = None;
        let mut next = None;
        let finished = |status: WorkflowStatus, result: Option<Value>| {
            Some(StatusChange {
                status,
                result,
                error: None,
            })
        };
        // What the parent is told, when the workflow ends here.
        let mut reported = None;
        match activation.outcome {
            Outcome::Pending => {}
            Outcome::Finished(Ok(output)) => {
                reported = Some(Ok(output.clone()));
                effects.events.push(Event::WorkflowCompleted {
                    output: output.clone(),
                });
                status = finished(WorkflowStatus::Completed, Some(output));
                wake = true;
            }
            Outcome::Finished(Err(error)) => {
                tracing::error!(error = %Chain(&error), "workflow run failed");
                let result = serde_json::to_value(&error).ok();
                reported = Some(Err(error.clone()));
                effects.events.push(Event::WorkflowFailed { error });
                status = finished(WorkflowStatus::Failed, result);
                wake = true;
            }
            Outcome::Cancelled => {
                reported = Some(Err(crate::error::WorkflowError::cancelled_error()));
                effects.events.push(Event::WorkflowCancelled);
                status = finished(WorkflowStatus::Cancelled, None);
                wake = true;
            }
            Outcome::ContinueAsNew(input) => {
                let next_run_id = uuid::Uuid::new_v4().to_string();
                let started = Event::WorkflowStarted {
                    name: name.clone(),
                    input: input.clone(),
                    signals: activation.unconsumed_signals.clone(),
                    parent: run.parent.clone().map(Box::new),
                    deadline_ms: run.deadline_ms,
                };
                effects.events.push(Event::WorkflowContinuedAsNew {
                    run_id: next_run_id.clone(),
                    input: input.clone(),
                });
                status = finished(WorkflowStatus::ContinuedAsNew, None);
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
                    parent: run.parent.clone(),
                    deadline_ms: run.deadline_ms,
                    token: 0,
                }));
                wake = true;
            }
            Outcome::Fault(fault) => {
                // Nothing of this activation is kept: the history stays as it was.
                let message = format!("workflow `{workflow_id}` run `{run_id}`: {fault}");
                tracing::error!(error = %message, "workflow run stopped; it resumes with fixed code (at a restart, or `reprise resume`)");
                self.cache.remove(run_id);
                self.blocked.insert(run_id.to_owned());
                self.forget_delivered(&done_inbox);
                let kept = effects
                    .events
                    .iter()
                    .filter_map(|event| match event.as_input() {
                        Some(Input::Resolve(seq, resolution)) => Some((seq, resolution)),
                        _ => None,
                    });
                self.keep_completions(run_id, &from_inbox, kept).await;
                // Its resume requests are answered: it stays blocked.
                let step = status_step(
                    run_id,
                    &workflow_id,
                    metrics,
                    WorkflowStatus::Blocked,
                    Some(message),
                    now,
                );
                return Some(consume_wakes(run_id, None, Some(step), wakes, now));
            }
        }
        effects.messages.extend(child::end_messages(
            &workflow_id,
            run.parent.as_ref(),
            reported,
            &activation.open_children,
        ));
        let Effects {
            events,
            new_tasks,
            mut done_tasks,
            cancelled_timers,
            children,
            messages,
        } = effects;
        done_tasks.extend(activation.cancelled_calls.iter().copied());
        let first_index = run.history_len;
        run.history_len += events.len() as u64;
        let mut encoded = Vec::with_capacity(events.len());
        for event in &events {
            let row = serde_json::to_string(event).expect("events encode to JSON");
            run.history_bytes += row.len() as u64;
            encoded.push(row);
        }
        if wake {
            self.cache.remove(run_id);
        }
        let next_run = next;
        let status_change = status.as_ref().map(|change| change.status);
        let step = StepCommit {
            run_id: run_id.to_owned(),
            first_index,
            events: encoded,
            done_tasks,
            new_tasks: new_tasks.clone(),
            status,
            progress: activation.progress,
            now_ms: now,
            done_inbox: done_inbox.clone(),
            new_run,
            children,
            messages,
            // Set with the other steps' in `process`.
            token: 0,
            lease: None,
        };
        let after = AfterCommit {
            workflow_id,
            run_id: run_id.to_owned(),
            new_tasks,
            wake,
            cancelled_calls: activation.cancelled_calls,
            cancelled_timers,
            next_run,
            inbox: done_inbox,
            token: 0,
            workflow: Some(workflow),
            metrics: Some(metrics),
            started,
            status: status_change,
        };
        Some((step, after))
    }
}

/// The batch entry of a run, created on first use.
fn entry<'a>(
    per_run: &'a mut Vec<(String, RunBatch)>,
    index: &mut HashMap<String, usize>,
    run_id: &str,
) -> &'a mut RunBatch {
    let i = *index.entry(run_id.to_owned()).or_insert_with(|| {
        per_run.push((run_id.to_owned(), RunBatch::default()));
        per_run.len() - 1
    });
    &mut per_run[i].1
}

/// Adds an inbox message to a run's batch.
fn add_inbox(entry: &mut RunBatch, run_id: &str, record: InboxRecord) {
    match record.item {
        InboxItem::Signal(signal) => entry.inputs.push(Input::Signal(signal)),
        InboxItem::Cancel => entry.inputs.push(Input::Cancel),
        InboxItem::Terminate { reason } => {
            entry.terminate.get_or_insert((record.id, reason));
            return;
        }
        InboxItem::Wake => {
            entry.resume = true;
            entry.wakes.push(record.id);
        }
        InboxItem::Completed { seq, result } => {
            entry.from_inbox.push(seq);
            entry
                .inputs
                .push(Input::Resolve(seq, Resolution::Activity(result)));
        }
        // A child's result for an earlier run of the workflow (one that
        // continued as new) is only consumed.
        InboxItem::Child {
            run_id: parent_run,
            seq,
            result,
        } if parent_run == run_id => {
            entry.from_inbox.push(seq);
            entry.inputs.push(Input::Resolve(
                seq,
                Resolution::Child(result.map_err(Box::new)),
            ));
        }
        InboxItem::Child { .. } => {}
    }
    entry.inbox.push(record.id);
}

/// The span of one activation of a run: `workflow.name` and `workflow.id`
/// are recorded once the run is known ([`record_run`]).
fn activation_span(run_id: &str) -> tracing::Span {
    tracing::info_span!(
        "workflow_activation",
        workflow.name = tracing::field::Empty,
        workflow.id = tracing::field::Empty,
        run.id = %run_id,
    )
}

/// Records the run's workflow type and id on the current activation span.
fn record_run(name: &str, workflow_id: &str) {
    // An atomic load when nothing listens at INFO: no look-up of the span.
    if !tracing::level_enabled!(tracing::Level::INFO) {
        return;
    }
    let span = tracing::Span::current();
    if !span.is_disabled() {
        span.record("workflow.name", tracing::field::display(name));
        span.record("workflow.id", tracing::field::display(workflow_id));
    }
}
