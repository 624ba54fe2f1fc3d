//! The actions: signal, cancel, terminate and resume, for one workflow
//! (`POST /api/workflows/{id}/{action}`) or for every workflow that matches
//! a filter (`POST /api/bulk/{action}`, which walks the pages here, on the
//! server). Each answers `{"message": ...}`, or an error.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use reprise::prelude::join_all;
use reprise::{Runtime, WorkflowStatus, MAX_PAGE};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::api::{clip, FilterParams};
use super::error::ApiError;
use super::Shared;

/// The most failures a bulk answer lists one by one (it counts them all).
const MAX_LISTED_FAILURES: usize = 50;
/// How many workflows of a page a bulk action sends requests to at once.
const BULK_CONCURRENCY: usize = 64;
/// The reason of a termination that gave none.
const DEFAULT_REASON: &str = "terminated from the web UI";

/// An action's body: what the action needs, by name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ActionBody {
    /// The signal's name (signal).
    name: Option<String>,
    /// The signal's payload, any JSON (signal; `null` when absent).
    payload: Value,
    /// Why (terminate).
    reason: Option<String>,
}

/// An action, checked.
#[derive(Debug, Clone)]
enum Action {
    Signal { name: String, payload: Value },
    Cancel,
    Terminate { reason: String },
    Resume,
}

impl Action {
    fn parse(action: &str, body: ActionBody) -> Result<Self, ApiError> {
        Ok(match action {
            "signal" => {
                let name = body
                    .name
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| ApiError::bad_request("a signal needs a name"))?;
                Action::Signal {
                    name,
                    payload: body.payload,
                }
            }
            "cancel" => Action::Cancel,
            "terminate" => Action::Terminate {
                reason: body
                    .reason
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| DEFAULT_REASON.to_owned()),
            },
            "resume" => Action::Resume,
            other => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!(
                        "no action `{}`: signal, cancel, terminate or resume",
                        clip(other)
                    ),
                ))
            }
        })
    }

    /// Whether a workflow in `status` can take it: none that has ended, and
    /// only a blocked one is resumed.
    fn applies_to(&self, status: WorkflowStatus) -> bool {
        match self {
            Action::Resume => status == WorkflowStatus::Blocked,
            _ => !status.is_finished(),
        }
    }

    async fn apply(&self, rt: &Runtime, id: &str) -> Result<(), reprise::Error> {
        match self {
            Action::Signal { name, payload } => rt.signal_by_name(id, name, payload.clone()).await,
            Action::Cancel => rt.cancel(id).await,
            Action::Terminate { reason } => rt.terminate(id, reason).await,
            Action::Resume => rt.resume(id).await,
        }
    }

    /// What was done to `id`, said in a sentence.
    fn done(&self, id: &str) -> String {
        match self {
            Action::Signal { name, .. } => format!("signal `{name}` sent to `{id}`"),
            Action::Cancel => format!("cancellation of `{id}` requested"),
            Action::Terminate { .. } => format!("termination of `{id}` requested"),
            Action::Resume => format!("`{id}` will be retried now (if it is blocked)"),
        }
    }

    fn verb(&self) -> String {
        match self {
            Action::Signal { name, .. } => format!("signal `{name}`"),
            Action::Cancel => "cancel".to_owned(),
            Action::Terminate { .. } => "terminate".to_owned(),
            Action::Resume => "resume".to_owned(),
        }
    }
}

/// `POST /api/workflows/{id}/{signal|cancel|terminate|resume}` with a JSON
/// body (`{"name", "payload"}` for a signal, `{"reason"}` to terminate).
pub(crate) async fn one(
    State(rt): State<Shared>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<ActionBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path((id, action)) = path?;
    let Json(body) = body?;
    let action = Action::parse(&action, body)?;
    action.apply(&rt, &id).await?;
    Ok(Json(json!({ "message": action.done(&id) })))
}

/// A bulk action's body: the list's filter and the action's fields.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct BulkBody {
    filter: FilterParams,
    #[serde(flatten)]
    action: ActionBody,
}

/// What a bulk action did.
#[derive(Debug, Default, Serialize)]
pub(crate) struct BulkReport {
    /// One sentence for the page.
    message: String,
    /// Workflows that matched the filter.
    matched: usize,
    /// Workflows the action was sent to.
    acted: usize,
    /// Workflows that could not take it (ended; not blocked, for resume).
    skipped: usize,
    /// Workflows whose request failed.
    failed_count: usize,
    /// The first failures, with their errors.
    failed: Vec<Failure>,
}

/// A workflow a bulk action failed on.
#[derive(Debug, Serialize)]
struct Failure {
    workflow_id: String,
    error: String,
}

/// `POST /api/bulk/{action}` with `{"filter": {"status", "name", "within"},
/// ...the action's fields}`: the action for every workflow that matches,
/// page by page, and how many were acted on, skipped and failed.
pub(crate) async fn bulk(
    State(rt): State<Shared>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<BulkBody>, JsonRejection>,
) -> Result<Json<BulkReport>, ApiError> {
    let Path(action) = path?;
    let Json(body) = body?;
    let action = Action::parse(&action, body.action)?;
    let mut filter = body.filter.to_filter()?.limit(MAX_PAGE);
    let mut report = BulkReport::default();
    loop {
        let page = rt.list(filter.clone()).await?;
        report.matched += page.workflows.len();
        let targets: Vec<&str> = page
            .workflows
            .iter()
            .filter(|wf| action.applies_to(wf.status))
            .map(|wf| wf.workflow_id.as_str())
            .collect();
        report.skipped += page.workflows.len() - targets.len();
        for chunk in targets.chunks(BULK_CONCURRENCY) {
            let results = join_all(chunk.iter().map(|id| action.apply(&rt, id))).await;
            for (id, result) in chunk.iter().zip(results) {
                match result {
                    Ok(()) => report.acted += 1,
                    // It ended between the listing and the request.
                    Err(reprise::Error::Finished { .. }) => report.skipped += 1,
                    Err(e) => {
                        report.failed_count += 1;
                        if report.failed.len() < MAX_LISTED_FAILURES {
                            report.failed.push(Failure {
                                workflow_id: (*id).to_owned(),
                                error: e.to_string(),
                            });
                        }
                    }
                }
            }
        }
        match page.next_page {
            Some(token) => filter = filter.page(&token),
            None => break,
        }
    }
    report.message = format!(
        "{}: {} of {} matching workflow{} acted on, {} skipped ({}), {} failed",
        action.verb(),
        report.acted,
        report.matched,
        if report.matched == 1 { "" } else { "s" },
        report.skipped,
        if matches!(action, Action::Resume) {
            "not blocked"
        } else {
            "already ended"
        },
        report.failed_count,
    );
    Ok(Json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_checked_before_anything_is_sent() {
        let body = |v: Value| serde_json::from_value::<ActionBody>(v).unwrap();
        let err = Action::parse("signal", body(json!({ "name": "  " }))).unwrap_err();
        assert_eq!(err.message, "a signal needs a name");
        let err = Action::parse("explode", body(json!({}))).unwrap_err();
        assert_eq!(err.status, StatusCode::NOT_FOUND);
        match Action::parse("terminate", body(json!({}))).unwrap() {
            Action::Terminate { reason } => assert_eq!(reason, DEFAULT_REASON),
            other => panic!("{other:?}"),
        }
        match Action::parse("signal", body(json!({ "name": "stop", "payload": [1] }))).unwrap() {
            Action::Signal { name, payload } => {
                assert_eq!((name.as_str(), payload), ("stop", json!([1])))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn resume_is_for_blocked_runs_and_nothing_is_for_ended_ones() {
        assert!(Action::Resume.applies_to(WorkflowStatus::Blocked));
        assert!(!Action::Resume.applies_to(WorkflowStatus::Running));
        assert!(Action::Cancel.applies_to(WorkflowStatus::Running));
        assert!(Action::Cancel.applies_to(WorkflowStatus::Blocked));
        assert!(!Action::Cancel.applies_to(WorkflowStatus::Completed));
    }
}
