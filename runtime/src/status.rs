//! [`WorkflowStatus`]: the status of a run, and of a workflow (the status
//! of its latest run), as the API shows it and the stores keep it.

/// The status of a workflow. It serializes as, and parses from, the
/// names [`as_str`](Self::as_str) gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WorkflowStatus {
    /// Running, or waiting for an activity, a timer or a signal.
    Running,
    /// Stopped by a non-determinism error or an unregistered activity; its
    /// history is intact and it resumes when a runtime with fixed code starts.
    Blocked,
    /// Returned `Ok`.
    Completed,
    /// Returned `Err`, or its history could not be read.
    Failed,
    /// Ended by [`Runtime::cancel`](crate::Runtime::cancel).
    Cancelled,
    /// Ended by [`Runtime::terminate`](crate::Runtime::terminate).
    Terminated,
    /// This run continued as a new run (only ever the status of an older run).
    ContinuedAsNew,
}

impl WorkflowStatus {
    /// Every status, for tests that check a list of them is complete.
    #[cfg(test)]
    pub(crate) const ALL: [WorkflowStatus; 7] = [
        WorkflowStatus::Running,
        WorkflowStatus::Blocked,
        WorkflowStatus::Completed,
        WorkflowStatus::Failed,
        WorkflowStatus::Cancelled,
        WorkflowStatus::Terminated,
        WorkflowStatus::ContinuedAsNew,
    ];

    /// Its name: `running`, `blocked`, `completed`, `failed`, `cancelled`,
    /// `terminated` or `continued_as_new` (what the stores keep).
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Running => "running",
            WorkflowStatus::Blocked => "blocked",
            WorkflowStatus::Completed => "completed",
            WorkflowStatus::Failed => "failed",
            WorkflowStatus::Cancelled => "cancelled",
            WorkflowStatus::Terminated => "terminated",
            WorkflowStatus::ContinuedAsNew => "continued_as_new",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => WorkflowStatus::Running,
            "blocked" => WorkflowStatus::Blocked,
            "completed" => WorkflowStatus::Completed,
            "failed" => WorkflowStatus::Failed,
            "cancelled" => WorkflowStatus::Cancelled,
            "terminated" => WorkflowStatus::Terminated,
            "continued_as_new" => WorkflowStatus::ContinuedAsNew,
            _ => return None,
        })
    }

    /// Whether the run has ended: anything but running or blocked.
    pub fn is_finished(self) -> bool {
        !matches!(self, WorkflowStatus::Running | WorkflowStatus::Blocked)
    }
}

/// A status name that is none of [`WorkflowStatus::as_str`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown workflow status `{0}`: expected running, blocked, completed, failed, cancelled, terminated or continued_as_new")]
pub struct ParseStatusError(String);

impl std::str::FromStr for WorkflowStatus {
    type Err = ParseStatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WorkflowStatus::parse(s).ok_or_else(|| ParseStatusError(s.chars().take(40).collect()))
    }
}

impl std::fmt::Display for WorkflowStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::WorkflowStatus::{self, *};

    #[test]
    fn all_lists_every_status_and_names_round_trip() {
        for status in WorkflowStatus::ALL {
            // A new status fails to compile here: add it to `ALL`, then
            // decide whether the stores' lists of unfinished statuses
            // (their tests check them against `ALL`) must name it.
            match status {
                Running | Blocked | Completed | Failed | Cancelled | Terminated
                | ContinuedAsNew => {}
            }
            assert_eq!(WorkflowStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(WorkflowStatus::parse("paused"), None);
        let err = "paused".parse::<WorkflowStatus>().unwrap_err().to_string();
        assert!(err.contains("`paused`") && err.contains("running"), "{err}");
        for status in WorkflowStatus::ALL {
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, serde_json::json!(status.as_str()));
        }
    }
}
