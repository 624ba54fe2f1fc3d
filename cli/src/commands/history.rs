//! `reprise history ID`: the events of a run, one line each, timed from
//! the run's first activation; or, with `--json`, the history exactly as
//! [`Runtime::history`] returns it.

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use reprise::{Runtime, WorkflowHistory};
use serde_json::Value;

use crate::error::CliError;
use crate::format::{error_value, json_clipped, one_line, rfc3339};

/// The longest payload shown in a line, in characters (`--json` has all).
const PAYLOAD: usize = 200;

pub(crate) async fn run(
    rt: &Runtime,
    id: &str,
    run_id: Option<&str>,
    as_json: bool,
) -> Result<(), CliError> {
    let history = match run_id {
        Some(run_id) => rt.run_history(id, run_id).await?,
        None => rt.history(id).await?,
    };
    if as_json {
        super::print_json(&history)
    } else {
        super::print(&text(&history))
    }
}

/// The timeline: a header, then `+1.250s  what happened` per event.
pub(crate) fn text(history: &WorkflowHistory) -> String {
    let mut out = format!(
        "workflow `{}` ({}), run {}, {}, {} events\n",
        one_line(&history.workflow_id),
        one_line(&history.workflow_type),
        one_line(&history.run_id),
        history.status,
        history.events.len()
    );
    let start = history.events.iter().find_map(|e| {
        (e["type"] == "Activation")
            .then(|| e["time_ms"].as_u64())
            .flatten()
    });
    let mut now = start.unwrap_or(0);
    // The activity names by sequence number, for the lines of their outcomes.
    let mut names: HashMap<u64, String> = HashMap::new();
    let mut lines = Vec::new();
    for event in &history.events {
        if event["type"] == "Activation" {
            now = event["time_ms"].as_u64().unwrap_or(now);
            continue;
        }
        if event["type"] == "ActivityScheduled" {
            if let (Some(seq), Some(name)) = (event["seq"].as_u64(), event["name"].as_str()) {
                names.insert(seq, one_line(name));
            }
        }
        let offset = now.saturating_sub(start.unwrap_or(now));
        let offset = format!("+{}.{:03}s", offset / 1000, offset % 1000);
        lines.push((offset, line(event, &names, start)));
    }
    // Times are aligned on the widest, the last.
    let width = lines.last().map_or(0, |(offset, _)| offset.len());
    for (offset, line) in lines {
        out.push_str(&format!("{offset:>width$}  {line}\n"));
    }
    out
}

/// What one event says.
fn line(event: &Value, names: &HashMap<u64, String>, start: Option<u64>) -> String {
    let seq = event["seq"].as_u64();
    let activity = || {
        let name = seq.and_then(|s| names.get(&s)).map_or("?", String::as_str);
        format!("activity {name} (seq {})", seq.unwrap_or(0))
    };
    let payload = |key: &str| json_clipped(&event[key], PAYLOAD);
    let text = |key: &str| one_line(event[key].as_str().unwrap_or_default());
    match event["type"].as_str().unwrap_or("?") {
        "WorkflowStarted" => {
            let mut line = format!("started {} with input {}", text("name"), payload("input"));
            if let Some(signals) = event["signals"].as_array().filter(|s| !s.is_empty()) {
                line.push_str(&format!(
                    ", {} signals carried over from the previous run",
                    signals.len()
                ));
            }
            line
        }
        "ActivityScheduled" => format!("{} scheduled", activity()),
        "ActivityCompleted" => format!("{} completed: {}", activity(), payload("output")),
        "ActivityFailed" => format!("{} failed: {}", activity(), error_value(&event["failure"])),
        "TimerStarted" => {
            let fire = event["fire_at_ms"].as_u64().unwrap_or(0);
            let at = rfc3339(UNIX_EPOCH + Duration::from_millis(fire));
            let offset = start.map_or(String::new(), |s| {
                let ms = fire.saturating_sub(s);
                format!(" (+{}.{:03}s)", ms / 1000, ms % 1000)
            });
            format!("timer (seq {}) fires at {at}{offset}", seq.unwrap_or(0))
        }
        "TimerFired" => format!("timer (seq {}) fired", seq.unwrap_or(0)),
        "TimerCancelled" => format!("timer (seq {}) cancelled", seq.unwrap_or(0)),
        "SignalReceived" => format!("signal {} {}", text("name"), payload("payload")),
        "CancelRequested" => "cancel requested".to_owned(),
        "Marker" => format!(
            "recorded {} (seq {}): {}",
            text("kind"),
            seq.unwrap_or(0),
            payload("value")
        ),
        "WorkflowCompleted" => format!("completed: {}", payload("output")),
        "WorkflowFailed" => format!("failed: {}", error_value(&event["error"])),
        "WorkflowCancelled" => "cancelled".to_owned(),
        "WorkflowContinuedAsNew" => format!(
            "continued as new run {} with input {}",
            text("run_id"),
            payload("input")
        ),
        "WorkflowTerminated" => format!("terminated: {}", text("reason")),
        "WorkflowTimedOut" => format!("timed out: {}", error_value(&event["error"])),
        "ChildStarted" => format!(
            "child workflow {} {} (seq {}) started",
            text("name"),
            text("workflow_id"),
            seq.unwrap_or(0)
        ),
        "ChildCompleted" => format!(
            "child workflow (seq {}) completed: {}",
            seq.unwrap_or(0),
            payload("output")
        ),
        "ChildFailed" => format!(
            "child workflow (seq {}) failed: {}",
            seq.unwrap_or(0),
            error_value(&event["failure"]["error"])
        ),
        "Patched" => format!("patch {} taken", text("id")),
        // An event this version does not know: shown as it is stored.
        other => format!("{} {}", one_line(other), json_clipped(event, PAYLOAD)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_read_as_a_timeline() {
        let history: WorkflowHistory = serde_json::from_value(json!({
            "workflow_id": "w",
            "workflow_type": "etl",
            "run_id": "r1",
            "status": "completed",
            "events": [
                {"type": "WorkflowStarted", "name": "etl", "input": [1]},
                {"type": "Activation", "time_ms": 1_000_000},
                {"type": "ActivityScheduled", "seq": 0, "name": "extract"},
                {"type": "Activation", "time_ms": 1_001_250},
                {"type": "ActivityCompleted", "seq": 0, "output": 12},
                {"type": "TimerStarted", "seq": 1, "fire_at_ms": 1_061_250},
                {"type": "Activation", "time_ms": 1_061_300},
                {"type": "TimerFired", "seq": 1},
                {"type": "SignalReceived", "name": "stop", "payload": {"now": true}},
                {"type": "ActivityFailed", "seq": 0,
                 "failure": {"kind": "Timeout", "message": "slow", "attempts": 3}},
                {"type": "Brand new", "x": 1},
                {"type": "WorkflowCompleted", "output": {"n": 12}},
            ],
        }))
        .unwrap();
        let text = text(&history);
        let expected = "\
workflow `w` (etl), run r1, completed, 12 events
 +0.000s  started etl with input [1]
 +0.000s  activity extract (seq 0) scheduled
 +1.250s  activity extract (seq 0) completed: 12
 +1.250s  timer (seq 1) fires at 1970-01-01T00:17:41Z (+61.250s)
+61.300s  timer (seq 1) fired
+61.300s  signal stop {\"now\":true}
+61.300s  activity extract (seq 0) failed: Timeout: slow (after 3 attempts)
+61.300s  Brand new {\"type\":\"Brand new\",\"x\":1}
+61.300s  completed: {\"n\":12}
";
        assert_eq!(text, expected);
    }
}
