//! The deterministic executor: one [`LiveRun`] per cached run, fed
//! activations, and replayed from its history on a cache miss.
//!
//! A run's state lives in a [`RunCore`] (module `run`) shared by the
//! executor and the run's [`WorkflowContext`]; this module polls the
//! workflow future with it, feeding recorded activations on replay and new
//! ones live.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use serde_json::Value;

use crate::command::child::{OpenChild, ParentRef};
use crate::command::Issued;
use crate::context::WorkflowContext;
use crate::error::{WorkflowError, WorkflowErrorKind};
use crate::history::{Input, RecordedHistory, SignalData};
use crate::metrics::WorkflowMetrics;
use crate::registry::{Registry, WorkflowFuture};
use crate::run::{lock, RunCore, RunFault};
use crate::store::Message;

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
    /// Messages to other workflows (children asked to cancel).
    pub(crate) messages: Vec<Message>,
    /// Child workflows still open, when the run ended in this activation.
    pub(crate) open_children: Vec<OpenChild>,
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
    /// The size of the stored history (bytes of JSON), about.
    pub(crate) history_bytes: u64,
    /// The parent, for a child workflow.
    pub(crate) parent: Option<ParentRef>,
    /// The workflow's timeout (Unix ms), if it has one.
    pub(crate) deadline_ms: Option<u64>,
    /// The workflow type's name.
    pub(crate) name: Arc<str>,
    /// The keys of the workflow type's metrics.
    pub(crate) metrics: Arc<WorkflowMetrics>,
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
                WorkflowErrorKind::Runtime,
                "UnknownWorkflowType",
                format!("workflow type `{name}` is not registered with this runtime"),
            )
        })?;
        let future = (entry.run)(ctx, input).map_err(|e| {
            WorkflowError::with_kind(
                WorkflowErrorKind::Payload,
                "PayloadError",
                format!("input of workflow `{name}` does not decode: {e}"),
            )
        })?;
        // Out of tokio's cooperative budget: a body is polled inside the
        // executor task, by `poll_body`, which decides from its own waker
        // whether to poll again. A `select!` or `join!` in the body returns
        // `Pending` when the executor task has spent its budget, and defers
        // its wake-up until that task yields, after `poll_body` has looked:
        // the activation would end with nothing done, and the run would wait
        // for an input that may never come.
        let metrics = entry.metrics.clone();
        let future: WorkflowFuture = Box::pin(tokio::task::unconstrained(future));
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(flag.clone());
        Ok(Self {
            core,
            future: Some(future),
            flag,
            waker,
            history_len,
            history_bytes: 0,
            parent: None,
            deadline_ms: None,
            name: Arc::from(name),
            metrics,
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
        Self::replay_as(workflow_id, run_id, registry, history, false)
    }

    /// [`replay`](Self::replay), for a replay check when `check_only`: the
    /// run is never executed, so the activities its code calls need not be
    /// registered (see `RunCore::check_only`).
    pub(crate) fn replay_as(
        workflow_id: Arc<str>,
        run_id: Arc<str>,
        registry: Arc<Registry>,
        history: RecordedHistory,
        check_only: bool,
    ) -> Result<(Self, Option<Outcome>), WorkflowError> {
        let mut run = Self::new(
            workflow_id,
            run_id,
            registry,
            &history.name,
            history.input,
            history.len,
        )?;
        run.history_bytes = history.bytes;
        run.parent = history.parent;
        run.deadline_ms = history.deadline_ms;
        {
            let mut core = lock(&run.core);
            core.check_only = check_only;
            core.signals.extend(history.signals);
        }
        let count = history.activations.len();
        for (i, activation) in history.activations.into_iter().enumerate() {
            {
                let mut core = lock(&run.core);
                core.replaying = true;
                core.expected = activation.commands;
                core.markers = activation.markers;
                core.expected_cancels = activation.cancelled_timers;
                core.expected_patches = activation.patches;
                core.continue_as_new_suggested = activation.continue_as_new_suggested;
            }
            let outcome = run.poll_activation(activation.time_ms, activation.inputs);
            let (fault, leftover) = {
                let mut core = lock(&run.core);
                core.replaying = false;
                let leftover = core
                    .expected
                    .iter()
                    .next()
                    .map(|(s, r)| (*s, r.to_string()))
                    .or_else(|| {
                        let seq = core.expected_cancels.pop_first()?;
                        Some((
                            seq,
                            "the cancellation of timer (`ctx.sleep(..)`)".to_owned(),
                        ))
                    });
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
        core.messages.clear();
        core.progress = None;
        core.cancelled_calls.clear();
        drop(core);
        Ok((run, None))
    }

    /// Whether the body has never been polled (no activation recorded).
    pub(crate) fn is_fresh(&self) -> bool {
        lock(&self.core).next_seq == 0 && self.history_len <= 1
    }

    /// Runs one live activation; `continue_as_new_suggested` is what
    /// `ctx.continue_as_new_suggested()` answers in it.
    pub(crate) fn activate(
        &mut self,
        now_ms: u64,
        inputs: Vec<Input>,
        continue_as_new_suggested: bool,
    ) -> Activation {
        lock(&self.core).continue_as_new_suggested = continue_as_new_suggested;
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
        let open_children = match outcome {
            Outcome::Finished(_) | Outcome::Cancelled | Outcome::ContinueAsNew(_) => {
                core.open_children().cloned().collect()
            }
            Outcome::Pending | Outcome::Fault(_) => Vec::new(),
        };
        Activation {
            outcome,
            issued: std::mem::take(&mut core.issued),
            progress: core.progress.take(),
            cancelled_calls: std::mem::take(&mut core.cancelled_calls),
            unconsumed_signals,
            messages: std::mem::take(&mut core.messages),
            open_children,
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
            lock(&self.core).polling = true;
            let polled =
                std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx)));
            lock(&self.core).polling = false;
            match polled {
                Ok(Poll::Ready(result)) => {
                    self.future = None;
                    let mut core = lock(&self.core);
                    let continued = core.continue_as_new.take();
                    return match (continued, result) {
                        _ if core.cancelled => Outcome::Cancelled,
                        // Only the error `continue_as_new` returned, returned
                        // from the body, continues the run: a body that
                        // dropped it and returned something else ends with that.
                        (Some(input), Err(e)) if e.is_continue_as_new() => {
                            Outcome::ContinueAsNew(input)
                        }
                        (_, result) => Outcome::Finished(result),
                    };
                }
                Err(panic) => {
                    // Like a non-determinism error: the run stops, its
                    // history untouched, until fixed code replays it.
                    self.future = None;
                    return Outcome::Fault(RunFault::Panic {
                        message: panic_message(&*panic),
                    });
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
            WorkflowErrorKind::Workflow,
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
