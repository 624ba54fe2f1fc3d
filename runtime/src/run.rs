//! The state of a run shared by its [`WorkflowContext`](crate::WorkflowContext)
//! and the executor ([`RunCore`]), the commands a live activation issues
//! ([`Issued`](crate::command::Issued)), and why a run cannot go on ([`RunFault`]).
//!
//! Each durable call the workflow makes takes the next sequence number from
//! the core. While replaying, a call is matched against the commands the
//! history recorded for the activation being replayed; a different call at a
//! sequence number is a [`RunFault::Nondeterminism`] that stops the run
//! without touching its history. While live, the call is recorded as a new
//! command, which the executor turns into history events and tasks,
//! committed together.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

use serde_json::Value;

use crate::command::child::{close_messages, OpenChild, ParentClose};
use crate::command::{CommandKey, Issued, MarkerKind, Pending, Resolution};
use crate::history::{Input, SignalData};
use crate::registry::Registry;
use crate::store::Message;

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
    #[error("the workflow code panicked: {message}")]
    Panic { message: String },
}

/// The state of a run shared by its context and its executor.
#[derive(Debug)]
pub(crate) struct RunCore {
    pub(crate) workflow_id: Arc<str>,
    pub(crate) run_id: Arc<str>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) next_seq: u32,
    pub(crate) now_ms: u64,
    pub(crate) replaying: bool,
    /// A replay check (`reprise::testing::replay`, `Runtime::check_replay`):
    /// no activity is run, so the activities the code calls need not be
    /// registered. Never set for a run the engine executes.
    pub(crate) check_only: bool,
    /// While replaying: the commands the activation being replayed recorded,
    /// not yet asked for again.
    pub(crate) expected: BTreeMap<u32, CommandKey>,
    /// While replaying: the marker values of that activation.
    pub(crate) markers: BTreeMap<u32, Value>,
    /// While replaying: the timers that activation cancelled.
    pub(crate) expected_cancels: std::collections::BTreeSet<u32>,
    /// Calls whose future was dropped while they were pending: their
    /// completion, when it comes, is recorded but kept nowhere.
    pub(crate) abandoned: std::collections::HashSet<u32>,
    /// Whether the body is being polled (a future dropped outside a poll is
    /// the whole run's future going away, not the body's doing).
    pub(crate) polling: bool,
    /// Completions delivered and not yet taken by their call.
    pub(crate) resolutions: HashMap<u32, Resolution>,
    pub(crate) wakers: HashMap<u32, Waker>,
    /// Calls scheduled and not yet resolved.
    pub(crate) pending: BTreeMap<u32, Pending>,
    /// Messages to other workflows issued in the current activation (the
    /// cancellation of children).
    pub(crate) messages: Vec<Message>,
    /// The answers `ctx.patched` gave in this run, by patch id.
    pub(crate) patches: HashMap<String, bool>,
    /// While replaying: the patches the activation being replayed recorded.
    pub(crate) expected_patches: std::collections::BTreeSet<String>,
    /// What `ctx.continue_as_new_suggested()` answers in this activation.
    pub(crate) continue_as_new_suggested: bool,
    /// Signals received and not yet consumed, in arrival order.
    pub(crate) signals: VecDeque<SignalData>,
    pub(crate) signal_wakers: Vec<Waker>,
    /// Whether cancellation was requested.
    pub(crate) cancelled: bool,
    /// Whether the body has learned of the cancellation.
    pub(crate) cancel_seen: bool,
    pub(crate) cancel_wakers: Vec<Waker>,
    /// Set when the body awaits a timer or a signal after cancellation: the
    /// run ends as cancelled there.
    pub(crate) exit_cancelled: bool,
    /// Activity calls resolved as cancelled in this activation.
    pub(crate) cancelled_calls: Vec<u32>,
    /// The input of the next run, once the body called `continue_as_new`.
    pub(crate) continue_as_new: Option<Value>,
    /// Commands issued in the current live activation.
    pub(crate) issued: Vec<Issued>,
    /// Progress set in the current activation.
    pub(crate) progress: Option<Value>,
    pub(crate) fault: Option<RunFault>,
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
            check_only: false,
            expected: BTreeMap::new(),
            markers: BTreeMap::new(),
            expected_cancels: Default::default(),
            abandoned: Default::default(),
            polling: false,
            resolutions: HashMap::new(),
            wakers: HashMap::new(),
            pending: BTreeMap::new(),
            messages: Vec::new(),
            patches: HashMap::new(),
            expected_patches: Default::default(),
            continue_as_new_suggested: false,
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

    /// Records a call that waits for a completion (an activity, a timer, a
    /// child workflow). Returns false when the run is now faulted.
    pub(crate) fn issue(&mut self, seq: u32, command: Issued) -> bool {
        let (Some((_, key)), Some(pending)) = (command.key(), command.pending()) else {
            unreachable!("only calls that wait for a completion are issued here")
        };
        if self.replaying {
            if !self.check_replayed(seq, &key) {
                return false;
            }
        } else {
            self.issued.push(command);
        }
        self.pending.insert(seq, pending);
        true
    }

    /// While replaying, the value recorded for the marker at `seq`.
    pub(crate) fn replay_marker(&mut self, seq: u32, kind: MarkerKind) -> Option<Value> {
        if !self.check_replayed(seq, &CommandKey::Marker(kind)) {
            return None;
        }
        self.markers.remove(&seq)
    }

    /// A call's future was dropped while it waited for `seq`: its waker and
    /// any resolution already delivered go, a later one will be dropped. A
    /// timer dropped by the body (not with the whole run) is cancelled: a
    /// `TimerCancelled` command live, matched against the history on replay
    /// (a history recorded before timers were cancelled has none, and is
    /// not a divergence).
    pub(crate) fn drop_call(&mut self, seq: u32) {
        self.wakers.remove(&seq);
        if self.resolutions.remove(&seq).is_some() {
            return;
        }
        let Some(pending) = self.pending.get(&seq) else {
            return;
        };
        if *pending != Pending::Timer || !self.polling || self.has_fault() {
            self.abandoned.insert(seq);
            return;
        }
        self.pending.remove(&seq);
        if self.replaying {
            self.expected_cancels.remove(&seq);
            return;
        }
        // Recorded even when the timer started in this very activation, so
        // that replay sees the same start and cancellation.
        self.issued.push(Issued::CancelTimer(seq));
    }

    /// The child workflows started and not yet resolved.
    pub(crate) fn open_children(&self) -> impl Iterator<Item = &OpenChild> {
        self.pending.values().filter_map(|pending| match pending {
            Pending::Child(child) => Some(child),
            _ => None,
        })
    }

    /// The activity calls scheduled and not yet resolved.
    pub(crate) fn open_activities(&self) -> impl Iterator<Item = u32> + '_ {
        self.pending
            .iter()
            .filter(|(_, pending)| **pending == Pending::Activity)
            .map(|(seq, _)| *seq)
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
                if self.pending.remove(&seq).is_some() && !self.abandoned.remove(&seq) {
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
                let calls: Vec<u32> = self.open_activities().collect();
                // Children are asked to cancel too (not abandoned ones);
                // their calls wait for their results.
                let children = self
                    .open_children()
                    .filter(|c| c.parent_close != ParentClose::Abandon)
                    .map(|c| OpenChild {
                        workflow_id: c.workflow_id.clone(),
                        parent_close: ParentClose::Cancel,
                    })
                    .collect::<Vec<_>>();
                if !self.replaying {
                    self.messages
                        .extend(close_messages(&children, &self.workflow_id));
                }
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
}

/// Locks a run's core; a panic in workflow code never leaves it inconsistent
/// in a way that matters (the run is failed), so poisoning is ignored.
pub(crate) fn lock(core: &Mutex<RunCore>) -> MutexGuard<'_, RunCore> {
    core.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
