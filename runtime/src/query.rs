//! Reading what a store holds beyond one workflow's status: workflows
//! listed by filters, page by page ([`Runtime::list`](crate::Runtime::list)),
//! and a run's event history ([`Runtime::history`](crate::Runtime::history)).
//! The `reprise` command and its web UI are built on these.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::{system_time, unix_ms};
use crate::engine::Engine;
use crate::error::{Error, StoreError};
use crate::store::operation::LOAD_RUN;
use crate::store::{ListQuery, RunRecord, WorkflowStatus};

/// The most workflows one page holds.
pub const MAX_PAGE: usize = 1000;
/// The page size of a [`ListFilter`] without [`limit`](ListFilter::limit).
const DEFAULT_PAGE: usize = 50;

/// Which workflows [`Runtime::list`](crate::Runtime::list) returns: those
/// whose latest run matches every filter given, newest run first.
///
/// ```
/// use reprise::{ListFilter, WorkflowStatus};
/// let filter = ListFilter::new()
///     .status(WorkflowStatus::Blocked)
///     .name("ETLPipeline")
///     .limit(20);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ListFilter {
    pub(crate) query: ListQuery,
}

impl Default for ListFilter {
    fn default() -> Self {
        Self::new()
    }
}

impl ListFilter {
    /// Every workflow, 50 a page.
    pub fn new() -> Self {
        Self {
            query: ListQuery {
                limit: DEFAULT_PAGE,
                ..ListQuery::default()
            },
        }
    }

    /// Only workflows with this status (that of their latest run).
    pub fn status(mut self, status: WorkflowStatus) -> Self {
        self.query.status = Some(status);
        self
    }

    /// Only workflows of this type (the `#[workflow]`'s name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.query.name = Some(name.into());
        self
    }

    /// Only workflows whose latest run started at or after `time`.
    pub fn started_after(mut self, time: SystemTime) -> Self {
        self.query.since_ms = Some(unix_ms(time));
        self
    }

    /// Only workflows whose latest run started before `time`.
    pub fn started_before(mut self, time: SystemTime) -> Self {
        self.query.until_ms = Some(unix_ms(time));
        self
    }

    /// At most `n` workflows a page (1 to [`MAX_PAGE`]; default 50).
    pub fn limit(mut self, n: usize) -> Self {
        self.query.limit = n.clamp(1, MAX_PAGE);
        self
    }

    /// The page after the one that returned `token` as its
    /// [`next_page`](WorkflowPage::next_page).
    pub fn page(mut self, token: &PageToken) -> Self {
        self.query.before = Some(token.0);
        self
    }
}

/// Where a listing goes on: a [`WorkflowPage::next_page`]. Its text form
/// (`Display`, `FromStr`) can travel through a command line or a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageToken(u64);

impl fmt::Display for PageToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for PageToken {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        s.parse()
            .map(PageToken)
            .map_err(|_| Error::InvalidPageToken {
                token: s.chars().take(40).collect(),
            })
    }
}

/// One page of [`Runtime::list`](crate::Runtime::list).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkflowPage {
    /// The workflows of this page, newest run first.
    pub workflows: Vec<WorkflowSummary>,
    /// The token of the next page; `None` on the last page.
    pub next_page: Option<PageToken>,
}

/// A workflow as a listing shows it: its latest run.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct WorkflowSummary {
    /// The workflow's id.
    pub workflow_id: String,
    /// The workflow type's name.
    pub workflow_type: String,
    /// The status of its latest run.
    pub status: WorkflowStatus,
    /// The latest run's id.
    pub run_id: String,
    /// When the latest run started.
    #[serde(serialize_with = "as_unix_ms")]
    pub started_at: SystemTime,
    /// When the latest run last changed.
    #[serde(serialize_with = "as_unix_ms")]
    pub updated_at: SystemTime,
    /// The last progress the workflow published with `ctx.set_progress`.
    pub progress: Option<Value>,
    /// Why the workflow is blocked or failed, when that is not its own error.
    pub error: Option<String>,
}

impl WorkflowSummary {
    fn of(record: RunRecord) -> Self {
        Self {
            workflow_id: record.workflow_id,
            workflow_type: record.name,
            status: record.status,
            run_id: record.run_id,
            started_at: system_time(record.created_ms),
            updated_at: system_time(record.updated_ms),
            progress: record.progress,
            error: record.error,
        }
    }
}

/// The event history of one run, as [`Runtime::history`](crate::Runtime::history)
/// returns it and `reprise history --json` prints it.
///
/// `events` are the stored events, oldest first, each a JSON object whose
/// `type` names it: `WorkflowStarted` (`name`, `input`), `Activation`
/// (`time_ms`: the time of the activation the events after it belong to),
/// `ActivityScheduled` (`seq`, `name`), `ActivityCompleted` (`seq`,
/// `output`), `ActivityFailed` (`seq`, `failure`), `TimerStarted` (`seq`,
/// `fire_at_ms`), `TimerFired` (`seq`), `TimerCancelled` (`seq`),
/// `SignalReceived` (`name`, `payload`), `CancelRequested`, `Marker`
/// (`seq`, `kind`, `value`), and the run's end: `WorkflowCompleted`
/// (`output`), `WorkflowFailed` (`error`), `WorkflowCancelled`,
/// `WorkflowContinuedAsNew` (`run_id`, `input`) or `WorkflowTerminated`
/// (`reason`). `docs/OPERATING.md` shows one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkflowHistory {
    /// The workflow's id.
    pub workflow_id: String,
    /// The workflow type's name.
    pub workflow_type: String,
    /// The run's id.
    pub run_id: String,
    /// The run's status when the history was read.
    pub status: WorkflowStatus,
    /// The events, oldest first.
    pub events: Vec<Value>,
}

/// Lists workflows by `filter`.
pub(crate) async fn list(engine: &Engine, filter: ListFilter) -> Result<WorkflowPage, Error> {
    let limit = filter.query.limit;
    // One more than a page tells whether another page follows.
    let mut query = filter.query;
    query.limit = limit + 1;
    let mut listed = engine.store.list_runs(query).await?;
    let next_page = if listed.len() > limit {
        listed.truncate(limit);
        listed.last().map(|run| PageToken(run.position))
    } else {
        None
    };
    Ok(WorkflowPage {
        workflows: listed
            .into_iter()
            .map(|run| WorkflowSummary::of(run.record))
            .collect(),
        next_page,
    })
}

/// The history of a workflow's latest run, or of `run_id`.
pub(crate) async fn history(
    engine: &Engine,
    workflow_id: &str,
    run_id: Option<&str>,
) -> Result<WorkflowHistory, Error> {
    let run_id = match run_id {
        Some(run_id) => run_id.to_owned(),
        None => {
            engine
                .store
                .latest_run(workflow_id)
                .await?
                .ok_or_else(|| Error::NotFound {
                    id: workflow_id.to_owned(),
                })?
                .run_id
        }
    };
    let not_found = || Error::RunNotFound {
        id: workflow_id.to_owned(),
        run_id: run_id.clone(),
    };
    let (record, rows) = engine
        .store
        .load_run(&run_id)
        .await?
        .ok_or_else(not_found)?;
    if record.workflow_id != workflow_id {
        return Err(not_found());
    }
    let events = rows
        .into_iter()
        .map(|(index, text)| {
            serde_json::from_str(&text).map_err(|e| {
                Error::Store(
                    StoreError::new(
                        LOAD_RUN,
                        format!("event {index} of run `{run_id}` is not JSON: {e}"),
                    )
                    .corrupt(),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(WorkflowHistory {
        workflow_id: record.workflow_id,
        workflow_type: record.name,
        run_id: record.run_id,
        status: record.status,
        events,
    })
}

fn as_unix_ms<S: serde::Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(unix_ms(*time))
}
