//! `reprise watch ID`: the live progress bar of [`crate::watch::follow`],
//! then the workflow's final status. Exit code 0 when it completed, 1
//! otherwise (failed, cancelled, terminated, blocked).

use std::process::ExitCode;

use reprise::{Runtime, WorkflowStatus};

use crate::error::CliError;
use crate::format::{error_value, json_clipped, one_line};
use crate::watch::{follow, FollowOptions};

pub(crate) async fn run(rt: &Runtime, id: &str) -> Result<ExitCode, CliError> {
    let info = follow(rt, id, FollowOptions::new()).await?;
    let id = one_line(&info.workflow_id);
    let why = || match (&info.error, &info.result) {
        (Some(error), _) => one_line(error),
        (None, Some(result)) => error_value(result),
        (None, None) => "no reason recorded".to_owned(),
    };
    let line = match info.status {
        WorkflowStatus::Completed => {
            let result = info.result.clone().unwrap_or_default();
            format!("workflow `{id}` completed: {}", json_clipped(&result, 2000))
        }
        WorkflowStatus::Blocked => format!(
            "workflow `{id}` is blocked: {}; fix the code, then `reprise resume {id}`",
            why()
        ),
        WorkflowStatus::Cancelled => format!("workflow `{id}` was cancelled"),
        WorkflowStatus::Terminated => format!("workflow `{id}` was terminated: {}", why()),
        status => format!("workflow `{id}` {status}: {}", why()),
    };
    super::print(&format!("{line}\n"))?;
    Ok(if info.status == WorkflowStatus::Completed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
