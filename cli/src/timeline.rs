//! A run's steps, read from its history: each activity call, timer,
//! signal and recorded value with when it began and ended (the times of
//! the activations that recorded them), its outcome, attempts and error.
//! The web UI draws it; `reprise history` prints the events themselves.

use serde::Serialize;
use serde_json::Value;

use reprise::WorkflowHistory;

/// What a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StepKind {
    /// An activity call.
    Activity,
    /// A durable timer (`ctx.sleep`).
    Timer,
    /// A signal received.
    Signal,
    /// A value recorded once (`side_effect`, `uuid`, `random_u64`).
    Marker,
    /// A cancellation request received.
    Cancel,
    /// A child workflow, from its start to its result.
    Child,
    /// The run's end.
    End,
}

/// How a step ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// Scheduled or started, not ended yet.
    Pending,
    /// The activity returned `Ok`, or the run completed.
    Completed,
    /// The activity failed for good, or the run failed.
    Failed,
    /// The timer fired.
    Fired,
    /// The timer was dropped, or the run was cancelled.
    Cancelled,
    /// The run was terminated.
    Terminated,
    /// The run continued as a new run.
    ContinuedAsNew,
    /// A signal, a cancellation request or a marker: an instant.
    Recorded,
}

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Step {
    /// The call's sequence number (activities, timers, markers).
    pub(crate) seq: Option<u32>,
    pub(crate) kind: StepKind,
    /// The activity's or the signal's name, the marker's kind, or the end's.
    pub(crate) name: String,
    /// When it began (Unix ms): the time of the activation that recorded it.
    pub(crate) start_ms: u64,
    /// When it ended (Unix ms); `None` while pending.
    pub(crate) end_ms: Option<u64>,
    pub(crate) outcome: Outcome,
    /// Attempts made, where the history records them (failed activities).
    pub(crate) attempts: Option<u32>,
    /// The error of a failed activity or run, or a termination's reason.
    pub(crate) error: Option<String>,
    /// The output, payload or value, when there is one.
    pub(crate) value: Option<Value>,
    /// When a timer fires (Unix ms).
    pub(crate) fire_at_ms: Option<u64>,
}

/// The steps of `history`, in the order they began.
pub(crate) fn steps(history: &WorkflowHistory) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    // Index into `steps` of each call by sequence number.
    let mut by_seq: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    let mut now = 0u64;
    for event in &history.events {
        let field = |name: &str| event.get(name);
        let seq = field("seq")
            .and_then(Value::as_u64)
            .and_then(|s| u32::try_from(s).ok());
        let text = |name: &str| {
            field(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let instant = |kind, name: String, value: Option<Value>| Step {
            seq,
            kind,
            name,
            start_ms: now,
            end_ms: Some(now),
            outcome: Outcome::Recorded,
            attempts: None,
            error: None,
            value,
            fire_at_ms: None,
        };
        let mut end = |outcome, error: Option<String>, value: Option<Value>| {
            let step = seq
                .and_then(|seq| by_seq.get(&seq))
                .and_then(|&i| steps.get_mut(i));
            if let Some(step) = step {
                step.end_ms = Some(now);
                step.outcome = outcome;
                step.error = error;
                step.value = value.or(step.value.take());
            }
        };
        match field("type").and_then(Value::as_str).unwrap_or_default() {
            "Activation" => now = field("time_ms").and_then(Value::as_u64).unwrap_or(now),
            "ActivityScheduled" | "TimerStarted" => {
                let timer = field("type").and_then(Value::as_str) == Some("TimerStarted");
                if let Some(seq) = seq {
                    by_seq.insert(seq, steps.len());
                }
                steps.push(Step {
                    kind: if timer {
                        StepKind::Timer
                    } else {
                        StepKind::Activity
                    },
                    name: if timer {
                        "sleep".to_owned()
                    } else {
                        text("name")
                    },
                    end_ms: None,
                    outcome: Outcome::Pending,
                    fire_at_ms: field("fire_at_ms").and_then(Value::as_u64),
                    ..instant(StepKind::Activity, String::new(), None)
                });
            }
            "ChildStarted" => {
                if let Some(seq) = seq {
                    by_seq.insert(seq, steps.len());
                }
                steps.push(Step {
                    end_ms: None,
                    outcome: Outcome::Pending,
                    ..instant(
                        StepKind::Child,
                        format!("{} {}", text("name"), text("workflow_id")),
                        None,
                    )
                });
            }
            "ActivityCompleted" | "ChildCompleted" => {
                end(Outcome::Completed, None, field("output").cloned());
            }
            "ChildFailed" => {
                let error = field("failure").and_then(|f| f.get("error"));
                end(Outcome::Failed, error.map(describe_failure), None);
            }
            "Patched" => steps.push(instant(
                StepKind::Marker,
                format!("patch {}", text("id")),
                None,
            )),
            "WorkflowTimedOut" => steps.push(Step {
                outcome: Outcome::Failed,
                error: field("error").map(describe_failure),
                ..instant(StepKind::End, "timed out".to_owned(), None)
            }),
            "ActivityFailed" => {
                let failure = field("failure");
                end(Outcome::Failed, failure.map(describe_failure), None);
                let attempts = failure
                    .and_then(|f| f.get("attempts"))
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok());
                if let Some(step) = seq.and_then(|seq| by_seq.get(&seq)).map(|&i| &mut steps[i]) {
                    step.attempts = attempts;
                }
            }
            "TimerFired" => {
                end(Outcome::Fired, None, None);
            }
            "TimerCancelled" => {
                end(Outcome::Cancelled, None, None);
            }
            "SignalReceived" => {
                steps.push(instant(
                    StepKind::Signal,
                    text("name"),
                    field("payload").cloned(),
                ));
            }
            "CancelRequested" => {
                steps.push(instant(
                    StepKind::Cancel,
                    "cancel requested".to_owned(),
                    None,
                ));
            }
            "Marker" => steps.push(instant(
                StepKind::Marker,
                text("kind"),
                field("value").cloned(),
            )),
            "WorkflowCompleted" => steps.push(Step {
                outcome: Outcome::Completed,
                ..instant(
                    StepKind::End,
                    "completed".to_owned(),
                    field("output").cloned(),
                )
            }),
            "WorkflowFailed" => steps.push(Step {
                outcome: Outcome::Failed,
                error: field("error").map(describe_failure),
                ..instant(StepKind::End, "failed".to_owned(), None)
            }),
            "WorkflowCancelled" => steps.push(Step {
                outcome: Outcome::Cancelled,
                ..instant(StepKind::End, "cancelled".to_owned(), None)
            }),
            "WorkflowTerminated" => steps.push(Step {
                outcome: Outcome::Terminated,
                error: Some(text("reason")),
                ..instant(StepKind::End, "terminated".to_owned(), None)
            }),
            "WorkflowContinuedAsNew" => steps.push(Step {
                outcome: Outcome::ContinuedAsNew,
                ..instant(
                    StepKind::End,
                    format!("continued as new run {}", text("run_id")),
                    field("input").cloned(),
                )
            }),
            // `WorkflowStarted`, and kinds a newer version may add.
            _ => {}
        }
    }
    steps
}

/// The times of a run's first and last activations (Unix ms): the span
/// its timeline covers so far (a pending step runs on past the last).
pub(crate) fn span(history: &WorkflowHistory) -> (Option<u64>, Option<u64>) {
    let mut times =
        history
            .events
            .iter()
            .filter_map(|event| match event.get("type").and_then(Value::as_str) {
                Some("Activation") => event.get("time_ms").and_then(Value::as_u64),
                _ => None,
            });
    let first = times.next();
    (first, times.next_back().or(first))
}

/// `Kind: message` of a stored activity failure or `WorkflowError`.
pub(crate) fn describe_failure(failure: &Value) -> String {
    let text = |name: &str| {
        failure
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    match (text("kind"), text("message")) {
        ("", "") => failure.to_string(),
        ("", message) => message.to_owned(),
        (kind, message) => format!("{kind}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn history(events: Vec<Value>) -> WorkflowHistory {
        serde_json::from_value(json!({
            "workflow_id": "w", "workflow_type": "etl", "run_id": "r",
            "status": "running", "events": events,
        }))
        .unwrap()
    }

    #[test]
    fn steps_take_the_times_of_their_activations() {
        let h = history(vec![
            json!({ "type": "WorkflowStarted", "name": "etl", "input": 1 }),
            json!({ "type": "Activation", "time_ms": 1_000 }),
            json!({ "type": "ActivityScheduled", "seq": 1, "name": "extract" }),
            json!({ "type": "TimerStarted", "seq": 2, "fire_at_ms": 61_000 }),
            json!({ "type": "Activation", "time_ms": 1_500 }),
            json!({ "type": "ActivityCompleted", "seq": 1, "output": [1, 2] }),
            json!({ "type": "SignalReceived", "name": "stop", "payload": null }),
            json!({ "type": "ActivityScheduled", "seq": 3, "name": "load" }),
            json!({ "type": "Activation", "time_ms": 4_000 }),
            json!({ "type": "ActivityFailed", "seq": 3, "failure": {
                "kind": "Timeout", "message": "slow", "attempts": 3 } }),
            json!({ "type": "WorkflowFailed", "error": { "kind": "Load", "message": "gave up" } }),
        ]);
        let steps = steps(&h);
        let summary: Vec<_> = steps
            .iter()
            .map(|s| (s.kind, s.name.as_str(), s.start_ms, s.end_ms, s.outcome))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    StepKind::Activity,
                    "extract",
                    1_000,
                    Some(1_500),
                    Outcome::Completed
                ),
                (StepKind::Timer, "sleep", 1_000, None, Outcome::Pending),
                (
                    StepKind::Signal,
                    "stop",
                    1_500,
                    Some(1_500),
                    Outcome::Recorded
                ),
                (
                    StepKind::Activity,
                    "load",
                    1_500,
                    Some(4_000),
                    Outcome::Failed
                ),
                (StepKind::End, "failed", 4_000, Some(4_000), Outcome::Failed),
            ]
        );
        assert_eq!(steps[0].value, Some(json!([1, 2])));
        assert_eq!(steps[1].fire_at_ms, Some(61_000));
        assert_eq!(steps[3].attempts, Some(3));
        assert_eq!(steps[3].error.as_deref(), Some("Timeout: slow"));
        assert_eq!(steps[4].error.as_deref(), Some("Load: gave up"));
    }

    #[test]
    fn children_patches_and_timeouts_are_steps() {
        let h = history(vec![
            json!({ "type": "WorkflowStarted", "name": "nightly", "input": 1 }),
            json!({ "type": "Activation", "time_ms": 1_000 }),
            json!({ "type": "Patched", "id": "dedupe" }),
            json!({ "type": "ChildStarted", "seq": 0, "name": "import", "workflow_id": "n/0" }),
            json!({ "type": "ChildStarted", "seq": 1, "name": "import", "workflow_id": "n/1" }),
            json!({ "type": "Activation", "time_ms": 2_000 }),
            json!({ "type": "ChildCompleted", "seq": 0, "output": 7 }),
            json!({ "type": "ChildFailed", "seq": 1, "failure": { "workflow_id": "n/1",
                "error": { "kind": "Bad", "message": "no file" } } }),
            json!({ "type": "Activation", "time_ms": 3_000 }),
            json!({ "type": "WorkflowTimedOut", "error": {
                "kind": "WorkflowTimedOut", "message": "the workflow's timeout passed" } }),
        ]);
        let steps = steps(&h);
        let summary: Vec<_> = steps
            .iter()
            .map(|s| (s.kind, s.name.as_str(), s.end_ms, s.outcome))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    StepKind::Marker,
                    "patch dedupe",
                    Some(1_000),
                    Outcome::Recorded
                ),
                (
                    StepKind::Child,
                    "import n/0",
                    Some(2_000),
                    Outcome::Completed
                ),
                (StepKind::Child, "import n/1", Some(2_000), Outcome::Failed),
                (StepKind::End, "timed out", Some(3_000), Outcome::Failed),
            ]
        );
        assert_eq!(steps[1].value, Some(json!(7)));
        assert_eq!(steps[2].error.as_deref(), Some("Bad: no file"));
    }

    #[test]
    fn the_span_runs_from_the_first_activation_to_the_last() {
        let h = history(vec![
            json!({ "type": "WorkflowStarted", "name": "etl", "input": 1 }),
            json!({ "type": "Activation", "time_ms": 1_000 }),
            json!({ "type": "TimerStarted", "seq": 0, "fire_at_ms": 9_000 }),
            json!({ "type": "Activation", "time_ms": 9_000 }),
            json!({ "type": "TimerFired", "seq": 0 }),
        ]);
        assert_eq!(span(&h), (Some(1_000), Some(9_000)));
        assert_eq!(span(&history(vec![])), (None, None));
        let one = history(vec![json!({ "type": "Activation", "time_ms": 5 })]);
        assert_eq!(span(&one), (Some(5), Some(5)));
    }

    #[test]
    fn unknown_events_and_fields_are_skipped() {
        let h = history(vec![
            json!({ "type": "SomethingNew", "seq": 1 }),
            json!({ "type": "ActivityCompleted", "seq": 9, "output": 1 }),
            json!({ "no_type": true }),
        ]);
        assert!(steps(&h).is_empty());
    }
}
