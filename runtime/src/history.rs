//! The event history of a run: what is stored, and how it is grouped into
//! activations for replay.
//!
//! A run's history is an append-only list of [`Event`]s, stored one JSON row
//! per event. Index 0 is always [`Event::WorkflowStarted`]. Every later commit
//! of the run appends one *activation*: an [`Event::Activation`] marker with
//! the activation's time, the inputs delivered to the workflow in that
//! activation (completions, timer firings), then the commands the workflow
//! issued when polled with them (activities scheduled, timers started,
//! markers, and possibly its end). Replay hands the workflow the same inputs
//! per poll as the live run did, so `join_all` and biased `select!` take the
//! same branches.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::command::child::{ChildFailure, OpenChild, ParentClose, ParentRef};
use crate::command::{CommandKey, MarkerKind, Resolution};
use crate::error::{FailureData, WorkflowError};

/// One row of a run's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub(crate) enum Event {
    /// The run started (index 0).
    WorkflowStarted {
        /// Workflow type name.
        name: String,
        /// The input, as JSON.
        input: Value,
        /// Signals received by the previous run and not consumed by it
        /// (continue-as-new), in arrival order.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        signals: Vec<SignalData>,
        /// The parent, when the workflow is a child workflow.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent: Option<Box<ParentRef>>,
        /// The workflow's timeout (Unix ms), kept across continue-as-new.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline_ms: Option<u64>,
    },
    /// An activation begins: inputs delivered, then the workflow polled.
    Activation {
        /// The activation's time, `ctx.now()` while it runs (Unix ms).
        time_ms: u64,
        /// What `ctx.continue_as_new_suggested()` answers in it.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        continue_as_new_suggested: bool,
    },
    /// Input: an activity call finished successfully.
    ActivityCompleted {
        /// Sequence number of the call.
        seq: u32,
        /// Its output.
        output: Value,
    },
    /// Input: an activity call failed for good (retries exhausted, non-retryable,
    /// timed out or cancelled).
    ActivityFailed {
        /// Sequence number of the call.
        seq: u32,
        /// The error.
        failure: FailureData,
    },
    /// Input: a durable timer fired.
    TimerFired {
        /// Sequence number of the timer.
        seq: u32,
    },
    /// Input: a child workflow completed.
    ChildCompleted {
        /// Sequence number of the call.
        seq: u32,
        /// Its output.
        output: Value,
    },
    /// Input: a child workflow failed, was cancelled, terminated or timed
    /// out, or could not start.
    ChildFailed {
        /// Sequence number of the call.
        seq: u32,
        /// How.
        failure: Box<ChildFailure>,
    },
    /// Input: a signal arrived.
    SignalReceived {
        /// The signal.
        #[serde(flatten)]
        signal: SignalData,
    },
    /// Input: the workflow was asked to cancel.
    CancelRequested,
    /// Command: an activity call was scheduled.
    ActivityScheduled {
        /// Sequence number of the call.
        seq: u32,
        /// Activity type name.
        name: String,
    },
    /// Command: a durable timer was started.
    TimerStarted {
        /// Sequence number of the timer.
        seq: u32,
        /// When it fires (Unix ms).
        fire_at_ms: u64,
    },
    /// Command: a durable timer whose `Sleep` future was dropped before it
    /// fired (a `select!` branch that lost): its task is deleted.
    TimerCancelled {
        /// Sequence number of the timer.
        seq: u32,
    },
    /// Command: a value recorded once and returned on replay
    /// (`side_effect`, `uuid`, `random_u64`).
    Marker {
        /// Sequence number of the call.
        seq: u32,
        /// What produced it.
        kind: MarkerKind,
        /// The recorded value.
        value: Value,
    },
    /// Command: a child workflow was started.
    ChildStarted {
        /// Sequence number of the call.
        seq: u32,
        /// Workflow type name.
        name: String,
        /// The child's workflow id.
        workflow_id: String,
        /// What happens to the child if this run ends first.
        #[serde(default)]
        parent_close: ParentClose,
    },
    /// Command: the run checked patch `id` live (`ctx.patched`,
    /// `ctx.deprecate_patch`). No sequence number: see `command::patch`.
    Patched {
        /// The patch's id.
        id: String,
    },
    /// Command: the workflow returned `Ok`.
    WorkflowCompleted {
        /// The output.
        output: Value,
    },
    /// Command: the workflow returned `Err`.
    WorkflowFailed {
        /// The error.
        error: WorkflowError,
    },
    /// Command: the workflow ended as cancelled.
    WorkflowCancelled,
    /// Command: the workflow continued as a new run with this input.
    WorkflowContinuedAsNew {
        /// The new run's id.
        run_id: String,
        /// The new run's input.
        input: Value,
    },
    /// The run was terminated; no more of its code ran.
    WorkflowTerminated {
        /// Why.
        reason: String,
    },
    /// The workflow's timeout passed; no more of its code ran.
    WorkflowTimedOut {
        /// The run's error (kind `TimedOut`).
        error: WorkflowError,
    },
}

/// A signal as stored: its name and JSON payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SignalData {
    pub(crate) name: String,
    pub(crate) payload: Value,
}

/// Something delivered to a workflow in an activation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Input {
    /// A completion of the call at a sequence number.
    Resolve(u32, Resolution),
    /// A signal.
    Signal(SignalData),
    /// A cancellation request.
    Cancel,
}

impl Input {
    /// The history event recording this input.
    pub(crate) fn to_event(&self) -> Event {
        match self {
            Input::Resolve(seq, resolution) => resolution.to_event(*seq),
            Input::Signal(signal) => Event::SignalReceived {
                signal: signal.clone(),
            },
            Input::Cancel => Event::CancelRequested,
        }
    }
}

impl Event {
    /// The input this event delivers to the workflow, if it is one.
    pub(crate) fn as_input(&self) -> Option<Input> {
        crate::command::input_of(self)
    }

    /// The command this event records, if it is one that carries a sequence number.
    pub(crate) fn as_command(&self) -> Option<(u32, CommandKey)> {
        match self {
            Event::ActivityScheduled { seq, name } => {
                Some((*seq, CommandKey::Activity(name.clone())))
            }
            Event::TimerStarted { seq, .. } => Some((*seq, CommandKey::Timer)),
            Event::Marker { seq, kind, .. } => Some((*seq, CommandKey::Marker(*kind))),
            Event::ChildStarted { seq, name, .. } => Some((*seq, CommandKey::Child(name.clone()))),
            _ => None,
        }
    }
}

/// One recorded activation, as replay consumes it.
#[derive(Debug, Default)]
pub(crate) struct RecordedActivation {
    pub(crate) time_ms: u64,
    pub(crate) inputs: Vec<Input>,
    /// Commands issued, by sequence number.
    pub(crate) commands: BTreeMap<u32, CommandKey>,
    /// Marker values, by sequence number.
    pub(crate) markers: BTreeMap<u32, Value>,
    /// Timers cancelled (their `Sleep` dropped), by sequence number.
    pub(crate) cancelled_timers: std::collections::BTreeSet<u32>,
    /// Patches checked live in it (`Event::Patched`).
    pub(crate) patches: std::collections::BTreeSet<String>,
    /// What `ctx.continue_as_new_suggested()` answered in it.
    pub(crate) continue_as_new_suggested: bool,
    /// Whether the workflow ended in this activation.
    pub(crate) ended: bool,
}

/// A run's history split into its start and its activations.
#[derive(Debug)]
pub(crate) struct RecordedHistory {
    pub(crate) name: String,
    pub(crate) input: Value,
    pub(crate) signals: Vec<SignalData>,
    pub(crate) parent: Option<ParentRef>,
    pub(crate) deadline_ms: Option<u64>,
    pub(crate) activations: Vec<RecordedActivation>,
    /// Child workflows started and not resolved, by sequence number.
    pub(crate) open_children: BTreeMap<u32, OpenChild>,

    /// Number of events, i.e. the index the next event gets.
    pub(crate) len: u64,
    /// Bytes of stored JSON (0 when decoded from events, not rows).
    pub(crate) bytes: u64,
}

/// Why a stored history cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HistoryError {
    // Clipped: a stored value quoted by the error (an unknown `type`) or by
    // an event's `Debug` may be megabytes long, and the message is logged
    // and stored as the failed run's error.
    #[error("history row {index} is not a valid event ({}): {row}", truncate(&.source.to_string()))]
    Corrupt {
        index: u64,
        row: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("history row {index} is out of place: {}", truncate(.what))]
    OutOfPlace { index: u64, what: String },
    #[error("history is missing row {index}")]
    Gap { index: u64 },
}

impl RecordedHistory {
    /// Decodes and groups stored rows `(index, json)`, in index order.
    pub(crate) fn decode(rows: &[(u64, String)]) -> Result<Self, HistoryError> {
        let mut events = Vec::with_capacity(rows.len());
        for (expected, (index, row)) in rows.iter().enumerate() {
            if *index != expected as u64 {
                return Err(HistoryError::Gap {
                    index: expected as u64,
                });
            }
            let event: Event =
                serde_json::from_str(row).map_err(|source| HistoryError::Corrupt {
                    index: *index,
                    row: truncate(row),
                    source,
                })?;
            events.push(event);
        }
        let mut history = Self::from_events(events)?;
        history.bytes = rows.iter().map(|(_, row)| row.len() as u64).sum();
        Ok(history)
    }

    pub(crate) fn from_events(events: Vec<Event>) -> Result<Self, HistoryError> {
        let len = events.len() as u64;
        let mut iter = events.into_iter().enumerate();
        let (name, input, signals, parent, deadline_ms) = match iter.next() {
            Some((
                _,
                Event::WorkflowStarted {
                    name,
                    input,
                    signals,
                    parent,
                    deadline_ms,
                },
            )) => (name, input, signals, parent.map(|p| *p), deadline_ms),
            Some((_, other)) => {
                return Err(HistoryError::OutOfPlace {
                    index: 0,
                    what: format!("expected `WorkflowStarted`, found {other:?}"),
                })
            }
            None => return Err(HistoryError::Gap { index: 0 }),
        };
        let mut activations: Vec<RecordedActivation> = Vec::new();
        let mut open_children = BTreeMap::new();
        for (index, event) in iter {
            let index = index as u64;
            if let Event::Activation {
                time_ms,
                continue_as_new_suggested,
            } = event
            {
                activations.push(RecordedActivation {
                    time_ms,
                    continue_as_new_suggested,
                    ..Default::default()
                });
                continue;
            }
            let Some(current) = activations.last_mut() else {
                return Err(HistoryError::OutOfPlace {
                    index,
                    what: format!("{event:?} before any activation"),
                });
            };
            if let Some(input) = event.as_input() {
                if !current.commands.is_empty() || current.ended {
                    return Err(HistoryError::OutOfPlace {
                        index,
                        what: format!("input {event:?} after the activation's commands"),
                    });
                }
                if let Input::Resolve(seq, _) = &input {
                    open_children.remove(seq);
                }
                current.inputs.push(input);
            } else if let Event::TimerCancelled { seq } = event {
                current.cancelled_timers.insert(seq);
            } else if let Event::Patched { id } = event {
                current.patches.insert(id);
            } else if let Some((seq, key)) = event.as_command() {
                match event {
                    Event::Marker { value, .. } => {
                        current.markers.insert(seq, value);
                    }
                    Event::ChildStarted {
                        workflow_id,
                        parent_close,
                        ..
                    } => {
                        open_children.insert(
                            seq,
                            OpenChild {
                                workflow_id,
                                parent_close,
                            },
                        );
                    }
                    _ => {}
                }
                current.commands.insert(seq, key);
            } else {
                // WorkflowCompleted / WorkflowFailed (WorkflowStarted twice is out of place).
                match event {
                    Event::WorkflowCompleted { .. }
                    | Event::WorkflowFailed { .. }
                    | Event::WorkflowCancelled
                    | Event::WorkflowContinuedAsNew { .. }
                    | Event::WorkflowTerminated { .. }
                    | Event::WorkflowTimedOut { .. } => current.ended = true,
                    other => {
                        return Err(HistoryError::OutOfPlace {
                            index,
                            what: format!("unexpected {other:?}"),
                        })
                    }
                }
            }
        }
        Ok(Self {
            name,
            input,
            signals,
            parent,
            deadline_ms,
            activations,
            open_children,
            len,
            bytes: 0,
        })
    }
}

fn truncate(row: &str) -> String {
    const MAX: usize = 200;
    if row.len() <= MAX {
        return row.to_owned();
    }
    let mut end = MAX;
    while !row.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &row[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows(events: &[Event]) -> Vec<(u64, String)> {
        events
            .iter()
            .enumerate()
            .map(|(i, e)| (i as u64, serde_json::to_string(e).unwrap()))
            .collect()
    }

    /// start; activation 1 schedules activities 0 and 1; activation 2 delivers
    /// both completions together and starts timer 2.
    #[test]
    fn groups_events_into_activations() {
        let events = [
            Event::WorkflowStarted {
                name: "wf".into(),
                input: json!(3),
                signals: vec![],
                parent: None,
                deadline_ms: None,
            },
            Event::Activation {
                time_ms: 10,
                continue_as_new_suggested: false,
            },
            Event::ActivityScheduled {
                seq: 0,
                name: "a".into(),
            },
            Event::ActivityScheduled {
                seq: 1,
                name: "b".into(),
            },
            Event::Activation {
                time_ms: 20,
                continue_as_new_suggested: false,
            },
            Event::ActivityCompleted {
                seq: 1,
                output: json!("x"),
            },
            Event::ActivityCompleted {
                seq: 0,
                output: json!("y"),
            },
            Event::TimerStarted {
                seq: 2,
                fire_at_ms: 1020,
            },
        ];
        let h = RecordedHistory::decode(&rows(&events)).unwrap();
        assert_eq!(h.name, "wf");
        assert_eq!(h.len, 8);
        assert_eq!(h.activations.len(), 2);
        assert_eq!(h.activations[0].commands.len(), 2);
        assert_eq!(h.activations[1].inputs.len(), 2);
        assert!(
            matches!(h.activations[1].inputs[0], Input::Resolve(1, _)),
            "arrival order is kept"
        );
        assert_eq!(h.activations[1].commands.get(&2), Some(&CommandKey::Timer));
    }

    #[test]
    fn a_corrupt_row_is_named() {
        let mut r = rows(&[
            Event::WorkflowStarted {
                name: "wf".into(),
                input: json!(null),
                signals: vec![],
                parent: None,
                deadline_ms: None,
            },
            Event::Activation {
                time_ms: 1,
                continue_as_new_suggested: false,
            },
        ]);
        r.push((2, "{\"type\":\"Bogus\"}".into()));
        let err = RecordedHistory::decode(&r).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("history row 2 is not a valid event"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_row_is_named() {
        let mut r = rows(&[
            Event::WorkflowStarted {
                name: "wf".into(),
                input: json!(null),
                signals: vec![],
                parent: None,
                deadline_ms: None,
            },
            Event::Activation {
                time_ms: 1,
                continue_as_new_suggested: false,
            },
        ]);
        r.remove(1);
        r.push((
            2,
            serde_json::to_string(&Event::TimerFired { seq: 0 }).unwrap(),
        ));
        assert_eq!(
            RecordedHistory::decode(&r).unwrap_err().to_string(),
            "history is missing row 1"
        );
    }
}
