//! `reprise describe ID`: a workflow's status, error, progress, runs,
//! pending steps and result, as text or one JSON object.

use std::time::SystemTime;

use reprise::{PendingStep, RunInfo, Runtime, WorkflowInfo, WorkflowStatus};
use serde_json::{json, Value};

use crate::error::CliError;
use crate::format::{error_value, json as compact, one_line, rfc3339, unix_ms, when};
use crate::pending;
use crate::progress::Progress;

pub(crate) async fn run(rt: &Runtime, id: &str, as_json: bool) -> Result<(), CliError> {
    let info = rt.describe(id).await?;
    if as_json {
        super::print_json(&to_json(&info))
    } else {
        super::print(&text(&info, SystemTime::now()))
    }
}

/// The description as people read it.
pub(crate) fn text(info: &WorkflowInfo, now: SystemTime) -> String {
    let mut out = String::new();
    let mut field = |label: &str, value: String| {
        out.push_str(&format!("{label:<10}{value}\n"));
    };
    field("workflow", one_line(&info.workflow_id));
    field("type", one_line(&info.workflow_type));
    field("status", info.status.to_string());
    if let Some(error) = &info.error {
        field("error", one_line(error));
        if let Some(since) = info.error_since {
            field("since", when(since, now));
        }
    }
    if info.status == WorkflowStatus::Blocked {
        field(
            "fix",
            format!(
                "deploy fixed code and restart its workers, or run `reprise resume {}`",
                one_line(&info.workflow_id)
            ),
        );
    }
    if let Some(progress) = &info.progress {
        field("progress", Progress::of(progress).line());
    }
    match (&info.result, info.status) {
        (Some(result), WorkflowStatus::Completed) => field("result", compact(result)),
        (Some(result), _) => field("failure", error_value(result)),
        (None, _) => {}
    }
    out.push_str(&format!("runs      {} (oldest first)\n", info.runs.len()));
    let width = info.runs.iter().map(|r| r.run_id.len()).max().unwrap_or(0);
    let status_width = info
        .runs
        .iter()
        .map(|r| r.status.as_str().len())
        .max()
        .unwrap_or(0);
    for run in &info.runs {
        out.push_str(&format!(
            "  {:<width$}  {:<status_width$}  started {}, updated {}\n",
            run.run_id,
            run.status.as_str(),
            rfc3339(run.started_at),
            when(run.updated_at, now)
        ));
    }
    if info.pending.is_empty() {
        if info.status == WorkflowStatus::Running {
            out.push_str("pending   none (waiting for a signal, or for a worker)\n");
        }
    } else {
        out.push_str(&format!("pending   {}\n", info.pending.len()));
        for step in &info.pending {
            out.push_str(&format!("  {}\n", pending::line(step, now, false)));
        }
    }
    out
}

/// The description as one JSON object; times are Unix milliseconds.
pub(crate) fn to_json(info: &WorkflowInfo) -> Value {
    json!({
        "workflow_id": info.workflow_id,
        "workflow_type": info.workflow_type,
        "status": info.status,
        "progress": info.progress,
        "error": info.error,
        "error_since": info.error_since.map(unix_ms),
        "result": info.result,
        "runs": info.runs.iter().map(run_json).collect::<Vec<_>>(),
        "pending": info.pending.iter().map(step_json).collect::<Vec<_>>(),
    })
}

fn run_json(run: &RunInfo) -> Value {
    json!({
        "run_id": run.run_id,
        "status": run.status,
        "started_at": unix_ms(run.started_at),
        "updated_at": unix_ms(run.updated_at),
    })
}

fn step_json(step: &PendingStep) -> Value {
    json!({
        "seq": step.seq,
        "kind": step.kind,
        "name": step.name,
        "attempt": step.attempt,
        "max_attempts": step.max_attempts,
        "scheduled_at": unix_ms(step.scheduled_at),
        "due_at": unix_ms(step.due_at),
        "last_error": step.last_error,
        "heartbeat": step.heartbeat,
        "heartbeat_at": step.heartbeat_at.map(unix_ms),
        "waiting_for_slot_since": step.waiting_for_slot_since.map(unix_ms),
    })
}
