//! The deterministic executor: one [`LiveRun`] per cached run, fed
//! activations, and replayed from its history on a cache miss.
//!
//! A run's state lives in a [`RunCore`] shared by the executor and the
//! run's [`WorkflowContext`]. Each durable call the workflow makes takes the
//! next sequence number from it. While replaying, a call is matched against
//! the commands the history recorded for the activation being replayed; a
//! different call at a sequence number is a [`RunFault::Nondeterminism`] that
//! stops the run without touching its history. While live, the call is
//! recorded as a new command, which the worker turns into history events and
//! tasks, committed together.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use serde_json::Value;

use crate::context::WorkflowContext;
use crate::definition::ActivityOptions;
use crate::error::WorkflowError;
use crate::history::{CommandKey, Input, MarkerKind, RecordedHistory, Resolution, SignalData};
use crate::registry::{Registry, WorkflowFuture};

/// A command issued by the workflow during a live activation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Issued {
    Activity {
        seq: u32,
        name: String,
        input: Value,
        options: ActivityOptions,
    },
    Timer {
        seq: u32,
        fire_at_ms: u64,
    },
    Marker {
        seq: u32,
        kind: MarkerKind,
        value: Value,
    },
}

/// Why a run cannot go on until its code (or its registration) is fixed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum RunFault {
    #[error(
        "non-determinism at sequence number {seq}: the history recorded {recorded}, \
         but the code asked for {asked}"
    )]
    Nondeterminism {
        seq: u32,
        recorded: String,
        asked: String,
    },
    #[error("cannot decode the recorded result of {what} at sequence number {seq}: {error}")]
    Decode {
        seq: u32,
        what: String,
        error: String,
    },
    #[error("activity `{name}` is not registered with this runtime: add `.activity({name})` to `Runtime::builder()`")]
    UnregisteredActivity { name: String },
}

/// The state of a run shared by its context and its executor.
#[derive(Debug)]
pub(crate) struct RunCore {
    pub(crate) workflow_id: Arc<str>,
    pub(crate) run_id: Arc<str>,
    pub(crate) registry: Arc<Registry>,
    next_seq: u32,
    pub(crate) now_ms: u64,
    replaying: bool,
    /// While replaying: the commands the activation being replayed recorded,
    /// not yet asked for again.
    expected: BTreeMap<u32, CommandKey>,
    /// While replaying: the marker values of that activation.
    markers: BTreeMap<u32, Value>,
    /// Completions delivered and not yet taken by their call.
    resolutions: HashMap<u32, Resolution>,
    wakers: HashMap<u32, Waker>,
    /// Activity calls (true) and timers (false) scheduled and not yet resolved.
    pending: BTreeMap<u32, bool>,
    /// Signals received and not yet consumed, in arrival order.
    signals: VecDeque<SignalData>,
    signal_wakers: Vec<Waker>,
    /// Whether cancellation was requested.
    cancelled: bool,
    /// Whether the body has learned of the cancellation.
    cancel_seen: bool,
    cancel_wakers: Vec<Waker>,
    /// Set when the body awaits a timer or a signal after cancellation: the
    /// run ends as cancelled there.
    exit_cancelled: bool,
    /// Activity calls resolved as cancelled in this activation.
    cancelled_calls: Vec<u32>,
    /// The input of the next run, once the body called `continue_as_new`.
    continue_as_new: Option<Value>,
    /// Commands issued in the current live activation.
    issued: Vec<Issued>,
    /// Progress set in the current activation.
    progress: Option<Value>,
    fault: Option<RunFault>,
}

impl RunCore {
    pub(crate) fn new(workflow_id: Arc<str>, run_id: Arc<str>, registry: Arc<Registry>) -> Self {
        Self {
            workflow_id,
            run_id,
            registry,
            next_seq: 0,
            now_ms: 0,
            replaying: false,
            expected: BTreeMap::new(),
            markers: BTreeMap::new(),
            resolutions: HashMap::new(),
            wakers: HashMap::new(),
            pending: BTreeMap::new(),
            signals: VecDeque::new(),
            signal_wakers: Vec::new(),
            cancelled: false,
            cancel_seen: false,
            cancel_wakers: Vec::new(),
            exit_cancelled: false,
            cancelled_calls: Vec::new(),
            continue_as_new: None,
            issued: Vec::new(),
            progress: None,
            fault: None,
        }
    }

    pub(crate) fn next_seq(&mut self) -> u32 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    pub(crate) fn is_replaying(&self) -> bool {
        self.replaying
    }

    pub(crate) fn has_fault(&self) -> bool {
        self.fault.is_some()
    }

    /// Stops the run; the first fault wins.
    pub(crate) fn set_fault(&mut self, fault: RunFault) {
        if self.fault.is_none() {
            self.fault = Some(fault);
        }
    }

    /// Matches a call against the history (replay) or records it (live).
    /// Returns false when the run is now faulted.
    fn check_replayed(&mut self, seq: u32, asked: &CommandKey) -> bool {
        match self.expected.remove(&seq) {
            Some(recorded) if &recorded == asked => true,
            Some(recorded) => {
                self.set_fault(RunFault::Nondeterminism {
                    seq,
                    recorded: recorded.to_string(),
                    asked: asked.to_string(),
                });
                false
            }
            None => {
                self.set_fault(RunFault::Nondeterminism {
                    seq,
                    recorded: "nothing at this point".to_owned(),
                    asked: asked.to_string(),
                });
                false
            }
        }
    }

    /// Records an activity call or a timer. Returns false when the run is now faulted.
    pub(crate) fn issue(&mut self, seq: u32, command: Issued) -> bool {
        let key = match &command {
            Issued::Activity { name, .. } => CommandKey::Activity(name.clone()),
            Issued::Timer { .. } => CommandKey::Timer,
            Issued::Marker { kind, .. } => CommandKey::Marker(*kind),
        };
        if self.replaying {
            if !self.check_replayed(seq, &key) {
                return false;
            }
        } else {
            self.issued.push(command);
        }
        match key {
            CommandKey::Activity(_) => self.pending.insert(seq, true),
            CommandKey::Timer => self.pending.insert(seq, false),
            CommandKey::Marker(_) => None,
        };
        true
    }

    /// While replaying, the value recorded for the marker at `seq`.
    pub(crate) fn replay_marker(&mut self, seq: u32, kind: MarkerKind) -> Option<Value> {
        if !self.check_replayed(seq, &CommandKey::Marker(kind)) {
            return None;
        }
        self.markers.remove(&seq)
    }

    pub(crate) fn take_resolution(&mut self, seq: u32) -> Option<Resolution> {
        self.resolutions.remove(&seq)
    }

    pub(crate) fn wait(&mut self, seq: u32, waker: &Waker) {
        match self.wakers.get_mut(&seq) {
            Some(w) if w.will_wake(waker) => {}
            Some(w) => w.clone_from(waker),
            None => {
                self.wakers.insert(seq, waker.clone());
            }
        }
    }

    /// Delivers an input; a completion for a call that is not pending (a
    /// duplicate, or a call already cancelled) is dropped.
    pub(crate) fn deliver(&mut self, input: Input) {
        match input {
            Input::Resolve(seq, resolution) => {
                if self.pending.remove(&seq).is_some() {
                    self.resolve(seq, resolution);
                }
            }
            Input::Signal(signal) => {
                self.signals.push_back(signal);
                for waker in self.signal_wakers.drain(..) {
                    waker.wake();
                }
            }
            Input::Cancel => {
                if self.cancelled {
                    return;
                }
                self.cancelled = true;
                let calls: Vec<u32> = self
                    .pending
                    .iter()
                    .filter(|(_, activity)| **activity)
                    .map(|(seq, _)| *seq)
                    .collect();
                for seq in calls {
                    self.pending.remove(&seq);
                    self.cancelled_calls.push(seq);
                    self.resolve(
                        seq,
                        Resolution::Activity(Err(crate::error::cancelled_failure())),
                    );
                }
                for waker in self
                    .cancel_wakers
                    .drain(..)
                    .chain(self.signal_wakers.drain(..))
                {
                    waker.wake();
                }
                for waker in self.wakers.drain().map(|(_, w)| w) {
                    waker.wake();
                }
            }
        }
    }

    fn resolve(&mut self, seq: u32, resolution: Resolution) {
        self.resolutions.insert(seq, resolution);
        if let Some(waker) = self.wakers.remove(&seq) {
            waker.wake();
        }
    }

    /// Whether a completion for `seq` would be accepted.
    pub(crate) fn is_pending(&self, seq: u32) -> bool {
        self.pending.contains_key(&seq)
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// Whether a new activity call fails at once as cancelled: the workflow
    /// was cancelled and its body has not seen it yet. Calls made after the
    /// body saw it (cleanup) run normally.
    pub(crate) fn cancels_new_calls(&self) -> bool {
        self.cancelled && !self.cancel_seen
    }

    /// The body learned of the cancellation (a cancelled call's error,
    /// `ctx.cancelled()`, `ctx.is_cancelled()`).
    pub(crate) fn see_cancel(&mut self) {
        if self.cancelled {
            self.cancel_seen = true;
        }
    }

    /// Called by a timer or signal wait polled after cancellation.
    pub(crate) fn exit_cancelled(&mut self) {
        self.exit_cancelled = true;
    }

    pub(crate) fn wait_cancel(&mut self, waker: &Waker) {
        if !self.cancel_wakers.iter().any(|w| w.will_wake(waker)) {
            self.cancel_wakers.push(waker.clone());
        }
    }

    /// Takes the first buffered signal named `name`.
    pub(crate) fn take_signal(&mut self, name: &str) -> Option<Value> {
        let i = self.signals.iter().position(|s| s.name == name)?;
        self.signals.remove(i).map(|s| s.payload)
    }

    pub(crate) fn wait_signal(&mut self, waker: &Waker) {
        if !self.signal_wakers.iter().any(|w| w.will_wake(waker)) {
            self.signal_wakers.push(waker.clone());
        }
    }

    pub(crate) fn set_continue_as_new(&mut self, input: Value) {
        self.continue_as_new = Some(input);
    }

    pub(crate) fn set_progress(&mut self, progress: Value) {
        if !self.replaying {
            self.progress = Some(progress);
        }
    }

    pub(crate) fn push_marker(&mut self, seq: u32, kind: MarkerKind, value: Value) {
        self.issued.push(Issued::Marker { seq, kind, value });
    }
}

/// Locks a run's core; a panic in workflow code never leaves it inconsistent
/// in a way that matters (the run is failed), so poisoning is ignored.
pub(crate) fn lock(core: &Mutex<RunCore>) -> MutexGuard<'_, RunCore> {
    core.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What an activation ended with.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The workflow waits for more completions.
    Pending,
    /// The workflow returned.
    Finished(Result<Value, WorkflowError>),
    /// The workflow was cancelled and returned, or awaited a timer or a
    /// signal after its cancellation.
    Cancelled,
    /// The workflow continues as a new run with this input.
    ContinueAsNew(Value),
    /// The run must stop until its code is fixed.
    Fault(RunFault),
}

/// The output of a live activation.
#[derive(Debug)]
pub(crate) struct Activation {
    pub(crate) outcome: Outcome,
    pub(crate) issued: Vec<Issued>,
    pub(crate) progress: Option<Value>,
    /// Activity calls cancelled in this activation: their tasks are dropped.
    pub(crate) cancelled_calls: Vec<u32>,
    /// Signals received and not consumed, for a continue-as-new.
    pub(crate) unconsumed_signals: Vec<SignalData>,
}

/// Sets a flag when the workflow future asks to be polled again.
#[derive(Debug, Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
}

/// Polls of one activation, at most: a workflow that keeps waking itself
/// without waiting on anything durable is failed rather than spinning forever.
const MAX_POLLS_PER_ACTIVATION: usize = 100_000;

/// A run held in memory with its workflow future.
pub(crate) struct LiveRun {
    pub(crate) core: Arc<Mutex<RunCore>>,
    future: Option<WorkflowFuture>,
    flag: Arc<Flag>,
    waker: Waker,
    /// The index the next history event gets.
    pub(crate) history_len: u64,
    /// The workflow type's name.
    pub(crate) name: Arc<str>,
}

impl std::fmt::Debug for LiveRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveRun")
            .field("run_id", &lock(&self.core).run_id)
            .field("history_len", &self.history_len)
            .finish_non_exhaustive()
    }
}

impl LiveRun {
    /// A run whose body has not been polled yet.
    pub(crate) fn new(
        workflow_id: Arc<str>,
        run_id: Arc<str>,
        registry: Arc<Registry>,
        name: &str,
        input: Value,
        history_len: u64,
    ) -> Result<Self, WorkflowError> {
        let core = Arc::new(Mutex::new(RunCore::new(
            workflow_id,
            run_id,
            registry.clone(),
        )));
        let ctx = WorkflowContext::new(core.clone());
        let entry = registry.workflow(name).ok_or_else(|| {
            WorkflowError::with_kind(
                "UnknownWorkflowType",
                format!("workflow type `{name}` is not registered with this runtime"),
            )
        })?;
        let future = (entry.run)(ctx, input).map_err(|e| {
            WorkflowError::with_kind(
                "PayloadError",
                format!("input of workflow `{name}` does not decode: {e}"),
            )
        })?;
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(flag.clone());
        Ok(Self {
            core,
            future: Some(future),
            flag,
            waker,
            history_len,
            name: Arc::from(name),
        })
    }

    /// Rebuilds a run from its history: every recorded activation is fed
    /// again, and the commands the code asks for are matched against the
    /// recorded ones.
    pub(crate) fn replay(
        workflow_id: Arc<str>,
        run_id: Arc<str>,
        registry: Arc<Registry>,
        history: RecordedHistory,
    ) -> Result<(Self, Option<Outcome>), WorkflowError> {
        let mut run = Self::new(
            workflow_id,
            run_id,
            registry,
            &history.name,
            history.input,
            history.len,
        )?;
        {
            let mut core = lock(&run.core);
            core.signals.extend(history.signals);
        }
        let count = history.activations.len();
        for (i, activation) in history.activations.into_iter().enumerate() {
            {
                let mut core = lock(&run.core);
                core.replaying = true;
                core.expected = activation.commands;
                core.markers = activation.markers;
            }
            let outcome = run.poll_activation(activation.time_ms, activation.inputs);
            let (fault, leftover) = {
                let mut core = lock(&run.core);
                core.replaying = false;
                let leftover = core
                    .expected
                    .iter()
                    .next()
                    .map(|(s, r)| (*s, r.to_string()));
                (core.fault.take(), leftover)
            };
            if let Some(fault) = fault {
                return Ok((run, Some(Outcome::Fault(fault))));
            }
            if let Some((seq, recorded)) = leftover {
                let fault = RunFault::Nondeterminism {
                    seq,
                    recorded,
                    asked: "nothing (the code no longer makes this call)".to_owned(),
                };
                return Ok((run, Some(Outcome::Fault(fault))));
            }
            let ended = activation.ended;
            match outcome {
                Outcome::Pending if ended => {
                    let seq = lock_seq(&run);
                    return Ok((
                        run,
                        Some(Outcome::Fault(RunFault::Nondeterminism {
                            seq,
                            recorded: "the workflow's end".to_owned(),
                            asked: "more work (the code did not return)".to_owned(),
                        })),
                    ));
                }
                Outcome::Pending => {}
                finished @ (Outcome::Finished(_)
                | Outcome::Cancelled
                | Outcome::ContinueAsNew(_))
                    if i + 1 == count && ended =>
                {
                    return Ok((run, Some(finished)))
                }
                Outcome::Finished(_) | Outcome::Cancelled | Outcome::ContinueAsNew(_) => {
                    let seq = lock_seq(&run);
                    return Ok((
                        run,
                        Some(Outcome::Fault(RunFault::Nondeterminism {
                            seq,
                            recorded: "more work".to_owned(),
                            asked: "the workflow's end (the code returned early)".to_owned(),
                        })),
                    ));
                }
                Outcome::Fault(fault) => return Ok((run, Some(Outcome::Fault(fault)))),
            }
        }
        let mut core = lock(&run.core);
        core.issued.clear();
        core.progress = None;
        core.cancelled_calls.clear();
        drop(core);
        Ok((run, None))
    }

    /// Whether the body has never been polled (no activation recorded).
    pub(crate) fn is_fresh(&self) -> bool {
        lock(&self.core).next_seq == 0 && self.history_len <= 1
    }

    /// Runs one live activation.
    pub(crate) fn activate(&mut self, now_ms: u64, inputs: Vec<Input>) -> Activation {
        let outcome = self.poll_activation(now_ms, inputs);
        let mut core = lock(&self.core);
        let outcome = match core.fault.take() {
            Some(fault) => Outcome::Fault(fault),
            None => outcome,
        };
        let unconsumed_signals = if matches!(outcome, Outcome::ContinueAsNew(_)) {
            core.signals.drain(..).collect()
        } else {
            Vec::new()
        };
        Activation {
            outcome,
            issued: std::mem::take(&mut core.issued),
            progress: core.progress.take(),
            cancelled_calls: std::mem::take(&mut core.cancelled_calls),
            unconsumed_signals,
        }
    }

    fn poll_activation(&mut self, now_ms: u64, inputs: Vec<Input>) -> Outcome {
        let replaying = {
            let mut core = lock(&self.core);
            core.now_ms = core.now_ms.max(now_ms);
            for input in inputs {
                core.deliver(input);
            }
            core.replaying
        };
        if replaying {
            // Replay-aware logging: what the body logs was logged when it
            // ran live, so while it replays its `tracing` events go nowhere.
            let silent = tracing::Dispatch::none();
            return tracing::dispatcher::with_default(&silent, || self.poll_body());
        }
        self.poll_body()
    }

    /// Polls the body until it stops waking itself.
    fn poll_body(&mut self) -> Outcome {
        let Some(future) = self.future.as_mut() else {
            return Outcome::Pending;
        };
        let mut cx = Context::from_waker(&self.waker);
        for _ in 0..MAX_POLLS_PER_ACTIVATION {
            self.flag.0.store(false, Ordering::Release);
            let polled =
                std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx)));
            match polled {
                Ok(Poll::Ready(result)) => {
                    self.future = None;
                    let mut core = lock(&self.core);
                    return match core.continue_as_new.take() {
                        Some(input) if !core.cancelled => Outcome::ContinueAsNew(input),
                        _ if core.cancelled => Outcome::Cancelled,
                        _ => Outcome::Finished(result),
                    };
                }
                Err(panic) => {
                    self.future = None;
                    return Outcome::Finished(Err(WorkflowError::with_kind(
                        "Panic",
                        format!("workflow code panicked: {}", panic_message(&*panic)),
                    )));
                }
                Ok(Poll::Pending) => {
                    let core = lock(&self.core);
                    if core.exit_cancelled {
                        drop(core);
                        self.future = None;
                        return Outcome::Cancelled;
                    }
                    if core.has_fault() || !self.flag.0.load(Ordering::Acquire) {
                        return Outcome::Pending;
                    }
                }
            }
        }
        self.future = None;
        Outcome::Finished(Err(WorkflowError::with_kind(
            "Livelock",
            "workflow code kept waking itself without waiting on a durable call",
        )))
    }
}

fn lock_seq(run: &LiveRun) -> u32 {
    lock(&run.core).next_seq
}

pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_owned()
    }
}
