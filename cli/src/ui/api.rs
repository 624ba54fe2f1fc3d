//! The JSON API that reads: a page of the list, a workflow described, and
//! a window of a run's step timeline. Nothing here loads more than a page
//! of workflows or one run's history.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use reprise::{ListFilter, PageToken, WorkflowStatus};

use super::error::ApiError;
use super::Shared;
use crate::timeline::{self, Step};

/// The most workflows one page of `GET /api/workflows` holds.
const MAX_LIMIT: usize = reprise::MAX_PAGE;
/// The page size when none is asked for.
const DEFAULT_LIMIT: usize = 50;
/// The most steps one window of the timeline holds.
const MAX_STEPS: usize = 1000;
/// The window when none is asked for.
const DEFAULT_STEPS: usize = 200;

/// Which workflows: the list's filters, as the query string (and a bulk
/// action's body) gives them. Empty values mean "any".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FilterParams {
    /// A status name, or `all`.
    pub(crate) status: Option<String>,
    /// A workflow type name.
    pub(crate) name: Option<String>,
    /// Started within this long before now (`15m`, `1h`, `7d`).
    pub(crate) within: Option<String>,
}

impl FilterParams {
    /// The runtime's filter, or why these values are not one.
    pub(crate) fn to_filter(&self) -> Result<ListFilter, ApiError> {
        let mut filter = ListFilter::new();
        if let Some(status) = given(&self.status).filter(|s| *s != "all") {
            let status: WorkflowStatus = status
                .parse()
                .map_err(|e: reprise::ParseStatusError| ApiError::bad_request(e.to_string()))?;
            filter = filter.status(status);
        }
        if let Some(name) = given(&self.name) {
            filter = filter.name(name);
        }
        if let Some(within) = given(&self.within) {
            let span = humantime::parse_duration(within).map_err(|e| {
                ApiError::bad_request(format!(
                    "bad `within` value `{}`: {e} (write a duration: 15m, 1h, 7d)",
                    clip(within)
                ))
            })?;
            let since = SystemTime::now()
                .checked_sub(span)
                .unwrap_or(UNIX_EPOCH)
                .max(UNIX_EPOCH);
            filter = filter.started_after(since);
        }
        Ok(filter)
    }
}

/// A query parameter that was given and is not blank, trimmed.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// At most 40 characters of a value, to quote it in an error.
pub(crate) fn clip(value: &str) -> String {
    value.chars().take(40).collect()
}

/// A count from the query string, between 1 and `max`.
fn count(
    name: &str,
    value: &Option<String>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match given(value) {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "bad `{name}` value `{}`: expected a number from 1 to {max}",
                clip(text)
            ))),
        },
    }
}

/// `GET /api/workflows`'s query: the filters, the page size, the page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ListParams {
    status: Option<String>,
    name: Option<String>,
    within: Option<String>,
    /// 1 to 1000 workflows a page (default 50).
    limit: Option<String>,
    /// A `next_page` of an earlier answer.
    page: Option<String>,
}

/// A page of the list.
#[derive(Debug, Serialize)]
pub(crate) struct ListPage {
    workflows: Vec<reprise::WorkflowSummary>,
    /// The token of the next page (`?page=`), or `null` on the last one.
    next_page: Option<String>,
}

/// `GET /api/workflows?status=&name=&within=&limit=&page=`: one page of
/// the workflows that match, newest first.
pub(crate) async fn list(
    State(rt): State<Shared>,
    query: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<ListPage>, ApiError> {
    let Query(params) = query?;
    let filters = FilterParams {
        status: params.status,
        name: params.name,
        within: params.within,
    };
    let mut filter =
        filters
            .to_filter()?
            .limit(count("limit", &params.limit, DEFAULT_LIMIT, MAX_LIMIT)?);
    if let Some(page) = given(&params.page) {
        let token: PageToken = page.parse()?;
        filter = filter.page(&token);
    }
    let page = rt.list(filter).await?;
    Ok(Json(ListPage {
        workflows: page.workflows,
        next_page: page.next_page.map(|t| t.to_string()),
    }))
}

/// Unix ms of a time.
fn ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A workflow as its page shows it: `Runtime::describe` in JSON.
#[derive(Debug, Serialize)]
pub(crate) struct WorkflowView {
    workflow_id: String,
    workflow_type: String,
    status: WorkflowStatus,
    progress: Option<Value>,
    error: Option<String>,
    error_since_ms: Option<u64>,
    result: Option<Value>,
    /// Oldest first; the last is the current run.
    runs: Vec<RunView>,
    pending: Vec<PendingView>,
    /// The server's clock, so that the page can say "in 3 s" and "2 s ago".
    now_ms: u64,
}

/// One run of the chain.
#[derive(Debug, Serialize)]
struct RunView {
    run_id: String,
    status: WorkflowStatus,
    started_ms: u64,
    updated_ms: u64,
}

/// An activity call or timer the current run waits for.
#[derive(Debug, Serialize)]
struct PendingView {
    seq: u32,
    kind: &'static str,
    name: String,
    attempt: u32,
    max_attempts: Option<u32>,
    scheduled_ms: u64,
    due_ms: u64,
    last_error: Option<String>,
    heartbeat: Option<Value>,
    heartbeat_ms: Option<u64>,
    waiting_for_slot_since_ms: Option<u64>,
}

/// `GET /api/workflows/{id}`: status, result, run chain, pending steps.
pub(crate) async fn describe(
    State(rt): State<Shared>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<WorkflowView>, ApiError> {
    let Path(id) = id?;
    let info = rt.describe(&id).await?;
    Ok(Json(WorkflowView {
        workflow_id: info.workflow_id,
        workflow_type: info.workflow_type,
        status: info.status,
        progress: info.progress,
        error: info.error,
        error_since_ms: info.error_since.map(ms),
        result: info.result,
        runs: info
            .runs
            .into_iter()
            .map(|run| RunView {
                run_id: run.run_id,
                status: run.status,
                started_ms: ms(run.started_at),
                updated_ms: ms(run.updated_at),
            })
            .collect(),
        pending: info
            .pending
            .into_iter()
            .map(|step| PendingView {
                seq: step.seq,
                kind: step.kind,
                name: step.name,
                attempt: step.attempt,
                max_attempts: step.max_attempts,
                scheduled_ms: ms(step.scheduled_at),
                due_ms: ms(step.due_at),
                last_error: step.last_error,
                heartbeat: step.heartbeat,
                heartbeat_ms: step.heartbeat_at.map(ms),
                waiting_for_slot_since_ms: step.waiting_for_slot_since.map(ms),
            })
            .collect(),
        now_ms: ms(SystemTime::now()),
    }))
}

/// `GET /api/workflows/{id}/timeline`'s query.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TimelineParams {
    /// A run of the chain; the current run when absent.
    run: Option<String>,
    /// The first step of the window (from 0).
    offset: Option<String>,
    /// How many steps (1 to 1000, default 200).
    limit: Option<String>,
}

/// A window of a run's steps, and what the page shows above them.
#[derive(Debug, Serialize)]
pub(crate) struct TimelineWindow {
    workflow_id: String,
    workflow_type: String,
    run_id: String,
    status: WorkflowStatus,
    /// The run's input (its `WorkflowStarted` event).
    input: Value,
    /// Signals the previous run left unconsumed, handed to this one.
    carried_signals: Vec<Value>,
    /// Events in the run's history.
    events: usize,
    /// Steps in the whole timeline.
    total: usize,
    offset: usize,
    limit: usize,
    /// The run's first and last recorded times (Unix ms), to scale bars.
    first_ms: Option<u64>,
    last_ms: Option<u64>,
    steps: Vec<IndexedStep>,
}

/// A step and its place in the whole timeline.
#[derive(Debug, Serialize)]
struct IndexedStep {
    index: usize,
    #[serde(flatten)]
    step: Step,
}

/// `GET /api/workflows/{id}/timeline?run=&offset=&limit=`: the steps
/// `offset..offset+limit` of a run's timeline (the current run's by
/// default), with the run's input and the timeline's size.
pub(crate) async fn timeline(
    State(rt): State<Shared>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<TimelineParams>, QueryRejection>,
) -> Result<Json<TimelineWindow>, ApiError> {
    let Path(id) = id?;
    let Query(params) = query?;
    let limit = count("limit", &params.limit, DEFAULT_STEPS, MAX_STEPS)?;
    let offset = match given(&params.offset) {
        None => 0,
        Some(text) => text.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!(
                "bad `offset` value `{}`: expected a number from 0",
                clip(text)
            ))
        })?,
    };
    let mut history = match given(&params.run) {
        Some(run) => rt.run_history(&id, run).await?,
        None => rt.history(&id).await?,
    };
    let steps = timeline::steps(&history);
    let (first_ms, last_ms) = timeline::span(&history);
    let started = history.events.first_mut();
    let input = started
        .as_deref()
        .and_then(|e| e.get("input"))
        .cloned()
        .unwrap_or(Value::Null);
    let carried_signals = started
        .and_then(|e| e.get_mut("signals"))
        .and_then(|s| s.as_array_mut())
        .map(std::mem::take)
        .unwrap_or_default();
    let total = steps.len();
    let window = steps
        .into_iter()
        .enumerate()
        .skip(offset)
        .take(limit)
        .map(|(index, step)| IndexedStep { index, step })
        .collect();
    Ok(Json(TimelineWindow {
        events: history.events.len(),
        workflow_id: history.workflow_id,
        workflow_type: history.workflow_type,
        run_id: history.run_id,
        status: history.status,
        input,
        carried_signals,
        total,
        offset,
        limit,
        first_ms,
        last_ms,
        steps: window,
    }))
}
