//! `reprise signal`, `cancel`, `terminate`, `resume`: a message to a
//! workflow, stored at once and delivered by the worker that runs it.

use reprise::{Runtime, WorkflowStatus};
use serde_json::Value;

use crate::error::CliError;
use crate::format::{clip, json_clipped, one_line};

/// Parses a signal's payload argument: JSON, `null` when absent.
pub(crate) fn payload(arg: Option<&str>) -> Result<Value, CliError> {
    match arg {
        None => Ok(Value::Null),
        Some(text) => serde_json::from_str(text).map_err(|source| CliError::BadJson {
            argument: "JSON (the signal's payload)",
            source,
        }),
    }
}

pub(crate) async fn signal(
    rt: &Runtime,
    id: &str,
    name: &str,
    payload: Value,
) -> Result<(), CliError> {
    let shown = json_clipped(&payload, 80);
    rt.signal_by_name(id, name, payload).await?;
    super::print(&format!(
        "sent signal `{}` {shown} to workflow `{}`\n",
        one_line(name),
        one_line(id)
    ))
}

pub(crate) async fn cancel(rt: &Runtime, id: &str) -> Result<(), CliError> {
    rt.cancel(id).await?;
    super::print(&format!(
        "asked workflow `{}` to cancel: its pending activity calls fail as cancelled\n",
        one_line(id)
    ))
}

pub(crate) async fn terminate(rt: &Runtime, id: &str, reason: &str) -> Result<(), CliError> {
    rt.terminate(id, reason).await?;
    super::print(&format!(
        "asked to terminate workflow `{}` ({})\n",
        one_line(id),
        clip(&one_line(reason), 80)
    ))
}

pub(crate) async fn resume(rt: &Runtime, id: &str) -> Result<(), CliError> {
    let status = rt.describe(id).await?.status;
    if status == WorkflowStatus::Running {
        return super::print(&format!(
            "workflow `{}` is running, not blocked: nothing to resume\n",
            one_line(id)
        ));
    }
    rt.resume(id).await?;
    super::print(&format!(
        "asked a worker to retry blocked workflow `{}` now (`reprise describe {}` tells if it runs on)\n",
        one_line(id),
        one_line(id)
    ))
}
