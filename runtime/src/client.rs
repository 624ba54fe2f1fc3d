//! The client side of the runtime: starting workflows, awaiting their
//! results, describing them.

use std::future::IntoFuture;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::clock::system_time;
use crate::definition::{BoxFuture, Workflow};
use crate::engine::{Engine, StartedRun};
use crate::error::{Error, StoreError, WorkflowError, WorkflowErrorKind};
use crate::history::Event;
use crate::store::{
    Created, Enqueued, InboxItem, InboxRecord, NewWorkflow, RunRecord, TaskKind, WorkflowStatus,
};

/// What [`Runtime::describe`](crate::Runtime::describe) tells about a workflow.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkflowInfo {
    /// The workflow's id.
    pub workflow_id: String,
    /// The workflow type's name.
    pub workflow_type: String,
    /// The status of its latest run.
    pub status: WorkflowStatus,
    /// The last progress the workflow published with `ctx.set_progress`.
    pub progress: Option<Value>,
    /// The runs of the workflow, oldest first (one, until continue-as-new).
    pub runs: Vec<RunInfo>,
    /// Activity calls and timers the latest run waits for.
    pub pending: Vec<PendingStep>,
    /// Why the workflow is blocked or failed, when that is not its own
    /// error; or why this process cannot record its progress (its steps do
    /// not commit: a full disk, a store that fails), while it is `Running`.
    pub error: Option<String>,
    /// Since when `error` holds: when the run was blocked or failed, or
    /// when its first step failed to commit.
    pub error_since: Option<SystemTime>,
    /// The output (completed) or the `WorkflowError` (failed), as JSON.
    pub result: Option<Value>,
}

/// One run of a workflow.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunInfo {
    /// The run's id.
    pub run_id: String,
    /// Its status.
    pub status: WorkflowStatus,
    /// When it started.
    pub started_at: SystemTime,
    /// When it last changed.
    pub updated_at: SystemTime,
}

/// An activity call or timer a workflow waits for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PendingStep {
    /// The call's sequence number in the run.
    pub seq: u32,
    /// `"activity"`, `"timer"`, or `"timeout"` (the workflow's own timeout,
    /// `StartWorkflow::timeout`, at sequence number `u32::MAX`).
    pub kind: &'static str,
    /// The activity type's name (empty for a timer).
    pub name: String,
    /// The attempt to run next (0 for a timer).
    pub attempt: u32,
    /// The most attempts its retry policy allows (`None`: unlimited, or a timer).
    pub max_attempts: Option<u32>,
    /// When the call was scheduled, or the timer started.
    pub scheduled_at: SystemTime,
    /// When the next attempt runs, or when the timer fires.
    pub due_at: SystemTime,
    /// The error of the previous attempt, if any.
    pub last_error: Option<String>,
    /// The details of the activity's last heartbeat (kept across attempts).
    pub heartbeat: Option<Value>,
    /// When the last heartbeat was recorded.
    pub heartbeat_at: Option<SystemTime>,
    /// Since when the next attempt waits for a slot of the activity's
    /// limits (`max_concurrent`, `rate`); `None` when it does not wait.
    pub waiting_for_slot_since: Option<SystemTime>,
}

/// How often a result waiter looks at a workflow that may end in another
/// process, when the store sends no notifications.
const RESULT_POLL: Duration = Duration::from_millis(100);
/// The same, as a safety net, when it does.
const RESULT_POLL_NOTIFIED: Duration = Duration::from_secs(2);

/// A request to start a workflow, made by [`Runtime::start`](crate::Runtime::start);
/// await it to get a [`WorkflowHandle`].
#[must_use = "a start request does nothing until it is awaited"]
pub struct StartWorkflow<W: Workflow> {
    engine: Arc<Engine>,
    workflow: W,
    input: W::Input,
    id: Option<String>,
    timeout: Option<std::time::Duration>,
}

impl<W: Workflow> std::fmt::Debug for StartWorkflow<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartWorkflow")
            .field("workflow", &W::NAME)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<W: Workflow> StartWorkflow<W> {
    pub(crate) fn new(engine: Arc<Engine>, workflow: W, input: W::Input) -> Self {
        Self {
            engine,
            workflow,
            input,
            id: None,
            timeout: None,
        }
    }

    /// The workflow's timeout, from its start, across continue-as-new: when
    /// it passes, the run ends as failed with an error whose
    /// [`error_kind`](crate::WorkflowError::error_kind) is
    /// [`TimedOut`](crate::WorkflowErrorKind::TimedOut); its pending
    /// activities are told (as when cancelled), its parent gets the error,
    /// its children are closed by their policies. Ignored when the id
    /// exists already.
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The workflow id. Starting with an id that exists returns the existing
    /// workflow (whatever its status, and ignoring the new input), so running
    /// the same command again resumes rather than duplicates. Default: a
    /// random UUID.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
}

impl<W: Workflow> IntoFuture for StartWorkflow<W> {
    type Output = Result<WorkflowHandle<W::Output>, Error>;
    type IntoFuture = BoxFuture<'static, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        let _ = self.workflow;
        Box::pin(async move {
            let input = serde_json::to_value(&self.input).map_err(|source| Error::Payload {
                what: format!("the input of workflow `{}`", W::NAME),
                source,
            })?;
            start(self.engine, W::NAME, input, self.id, self.timeout)
                .await
                .map(WorkflowHandle::typed)
        })
    }
}

/// Starts a workflow by name with a JSON input (for tools), with a
/// workflow timeout if any.
pub(crate) async fn start(
    engine: Arc<Engine>,
    name: &str,
    input: Value,
    id: Option<String>,
    timeout: Option<std::time::Duration>,
) -> Result<WorkflowHandle<Value>, Error> {
    let entry = engine
        .registry
        .workflow(name)
        .ok_or_else(|| Error::UnknownWorkflowType {
            name: name.to_owned(),
        })?;
    (entry.check_input)(&input).map_err(|source| Error::Payload {
        what: format!("the input of workflow `{name}`"),
        source,
    })?;
    let workflow_id = match id {
        Some(id) => check_id(id)?,
        None => uuid::Uuid::new_v4().to_string(),
    };
    let run_id = uuid::Uuid::new_v4().to_string();
    let started_input = input.clone();
    let deadline_ms = timeout.map(|d| {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        engine.now_ms().saturating_add(ms)
    });
    let started = Event::WorkflowStarted {
        name: name.to_owned(),
        input,
        signals: Vec::new(),
        parent: None,
        deadline_ms,
    };
    let new = NewWorkflow {
        workflow_id: workflow_id.clone(),
        run_id: run_id.clone(),
        name: name.to_owned(),
        started_event: serde_json::to_string(&started).expect("events encode to JSON"),
        now_ms: engine.now_ms(),
        // A worker runs what it starts; a client's runs are claimed by workers.
        owner: engine.worker.then(|| engine.lease.clone()),
    };
    // Created and announced in a task of its own: a caller that drops this
    // future half-way (a timeout, a lost `select!` branch) cannot leave a
    // workflow stored but never started.
    let created = {
        let engine = engine.clone();
        let workflow_id = workflow_id.clone();
        let name = name.to_owned();
        tokio::spawn(async move {
            create(&engine, new, workflow_id, name, started_input, deadline_ms).await
        })
    };
    let run_id = created
        .await
        .map_err(|e| Error::Store(StoreError::with_source("starting a workflow", false, e)))??;
    Ok(WorkflowHandle {
        engine,
        workflow_id,
        run_id,
        _output: PhantomData,
    })
}

/// Stores a new workflow and hands its first step to the worker; returns
/// the run id (the existing one for an existing id).
async fn create(
    engine: &Engine,
    new: NewWorkflow,
    workflow_id: String,
    name: String,
    input: Value,
    deadline_ms: Option<u64>,
) -> Result<String, Error> {
    let run_id = new.run_id.clone();
    Ok(match engine.store.create_workflow(new).await? {
        // A worker claims it from the store.
        Created::New { .. } if !engine.worker => run_id,
        Created::New { token } => {
            engine.run_started(StartedRun {
                workflow_id,
                run_id: run_id.clone(),
                name,
                input,
                signals: Vec::new(),
                parent: None,
                deadline_ms,
                token,
            });
            run_id
        }
        Created::Existing(record) if record.name != name => {
            return Err(Error::IdConflict {
                id: workflow_id,
                existing: record.name,
                requested: name,
            })
        }
        Created::Existing(record) => record.run_id,
    })
}

/// A started workflow: await its result.
pub struct WorkflowHandle<O> {
    engine: Arc<Engine>,
    workflow_id: String,
    run_id: String,
    _output: PhantomData<fn() -> O>,
}

impl<O> std::fmt::Debug for WorkflowHandle<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowHandle")
            .field("workflow_id", &self.workflow_id)
            .field("run_id", &self.run_id)
            .finish()
    }
}

impl<O> Clone for WorkflowHandle<O> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
            workflow_id: self.workflow_id.clone(),
            run_id: self.run_id.clone(),
            _output: PhantomData,
        }
    }
}

/// A handle to an existing run.
pub(crate) fn handle<O>(
    engine: Arc<Engine>,
    workflow_id: String,
    run_id: String,
) -> WorkflowHandle<O> {
    WorkflowHandle {
        engine,
        workflow_id,
        run_id,
        _output: PhantomData,
    }
}

impl WorkflowHandle<Value> {
    fn typed<O>(self) -> WorkflowHandle<O> {
        WorkflowHandle {
            engine: self.engine,
            workflow_id: self.workflow_id,
            run_id: self.run_id,
            _output: PhantomData,
        }
    }
}

impl<O: DeserializeOwned> WorkflowHandle<O> {
    /// The workflow's id.
    pub fn id(&self) -> &str {
        &self.workflow_id
    }

    /// The id of the run this handle was made for.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Waits for the workflow to end and returns its result.
    ///
    /// # Errors
    ///
    /// The workflow's own error; an error of kind `Blocked` when the run
    /// stopped on a non-determinism error (it stays resumable); an error of
    /// kind `Runtime` when the store fails or the runtime shuts down first.
    pub async fn result(&self) -> Result<O, WorkflowError> {
        // A run may end in another process: a client's always does, a
        // worker's may when the store is shared with other workers.
        let mut done = self.engine.store.notifications().map(|n| n.done);
        let elsewhere = !self.engine.worker || done.is_some();
        let poll = if done.is_some() {
            RESULT_POLL_NOTIFIED
        } else {
            RESULT_POLL
        };
        loop {
            if let Some(done) = done.as_mut() {
                done.mark_unchanged();
            }
            // A client's runs end in other processes: nothing here wakes it.
            let waiter = self
                .engine
                .worker
                .then(|| self.engine.wait_for(&self.workflow_id));
            let record = self
                .engine
                .store
                .latest_run(&self.workflow_id)
                .await
                .map_err(|e| {
                    WorkflowError::with_kind(WorkflowErrorKind::Runtime, "Runtime", e.to_string())
                })?
                .ok_or_else(|| {
                    WorkflowError::with_kind(
                        WorkflowErrorKind::Runtime,
                        "Runtime",
                        format!("no workflow with id `{}`", self.workflow_id),
                    )
                })?;
            if let Some(result) = ended(&record) {
                return result;
            }
            if !self.engine.worker {
                // Another process runs the workflow: look again when told,
                // or shortly.
                wait_elsewhere(done.as_mut(), poll).await;
                continue;
            }
            let Some(waiter) = waiter else { continue };
            let local = async {
                if elsewhere {
                    tokio::select! {
                        r = waiter => r.is_ok(),
                        () = wait_elsewhere(done.as_mut(), poll) => true,
                    }
                } else {
                    waiter.await.is_ok()
                }
            };
            if !local.await {
                return Err(WorkflowError::with_kind(
                    WorkflowErrorKind::Runtime,
                    "Runtime",
                    "the runtime shut down before the workflow ended",
                ));
            }
        }
    }
}

/// Waits for a notification that some run ended, or `poll`.
async fn wait_elsewhere(done: Option<&mut tokio::sync::watch::Receiver<u64>>, poll: Duration) {
    match done {
        Some(done) => {
            let _ = tokio::time::timeout(poll, done.changed()).await;
        }
        None => tokio::time::sleep(poll).await,
    }
}

/// The result of a run that ended (or is blocked), decoded.
fn ended<O: DeserializeOwned>(record: &RunRecord) -> Option<Result<O, WorkflowError>> {
    let decode_error = |e: serde_json::Error| {
        WorkflowError::with_kind(
            WorkflowErrorKind::Payload,
            "PayloadError",
            format!(
                "the result of workflow `{}` does not decode: {e}",
                record.workflow_id
            ),
        )
    };
    match record.status {
        // The latest run never has this status; a waiter looks again.
        WorkflowStatus::Running | WorkflowStatus::ContinuedAsNew => None,
        WorkflowStatus::Cancelled => Some(Err(WorkflowError::cancelled_error())),
        WorkflowStatus::Terminated => Some(Err(WorkflowError::terminated(
            record
                .error
                .clone()
                .unwrap_or_else(|| "the workflow was terminated".to_owned()),
        ))),
        WorkflowStatus::Blocked => Some(Err(WorkflowError::with_kind(
            WorkflowErrorKind::Blocked,
            "Blocked",
            record
                .error
                .clone()
                .unwrap_or_else(|| "the run is blocked".to_owned()),
        ))),
        WorkflowStatus::Completed => {
            let value = record.result.clone().unwrap_or(Value::Null);
            Some(serde_json::from_value(value).map_err(decode_error))
        }
        WorkflowStatus::Failed => Some(Err(match (&record.result, &record.error) {
            (Some(value), _) => {
                serde_json::from_value::<WorkflowError>(value.clone()).unwrap_or_else(decode_error)
            }
            (None, Some(error)) => {
                WorkflowError::with_kind(WorkflowErrorKind::Runtime, "Failed", error.clone())
            }
            (None, None) => WorkflowError::new("the workflow failed"),
        })),
    }
}

/// The longest workflow id, in bytes.
pub(crate) const MAX_ID_BYTES: usize = 1024;

/// A workflow id as given to `start`: not empty, at most [`MAX_ID_BYTES`].
fn check_id(id: String) -> Result<String, Error> {
    if id.is_empty() {
        return Err(Error::InvalidId {
            id,
            why: "it is empty".to_owned(),
        });
    }
    if id.len() > MAX_ID_BYTES {
        let why = format!("it is {} bytes long, more than {MAX_ID_BYTES}", id.len());
        let shown: String = id.chars().take(40).collect();
        return Err(Error::InvalidId {
            id: format!("{shown}…"),
            why,
        });
    }
    Ok(id)
}

/// Refuses a signal the workflow's code never receives, or whose payload
/// does not decode as the type it receives under that name, when this
/// runtime has the workflow's type registered (with its signals known).
pub(crate) async fn check_signal(
    engine: &Engine,
    workflow_id: &str,
    name: &str,
    payload: &Value,
) -> Result<(), Error> {
    // Nothing to check against: no read of the store.
    if !engine.registry.knows_signals() {
        return Ok(());
    }
    let Some(record) = engine.store.latest_run(workflow_id).await? else {
        return Err(Error::NotFound {
            id: workflow_id.to_owned(),
        });
    };
    let Some(specs) = engine
        .registry
        .workflow(&record.name)
        .and_then(|entry| entry.signals.as_ref())
    else {
        return Ok(());
    };
    match specs.iter().find(|spec| spec.name == name) {
        Some(spec) => (spec.check)(payload).map_err(|source| Error::Payload {
            what: format!("signal `{name}` to workflow `{workflow_id}`"),
            source,
        }),
        None => {
            let known = if specs.is_empty() {
                "none".to_owned()
            } else {
                let names: Vec<String> = specs.iter().map(|s| format!("`{}`", s.name)).collect();
                names.join(", ")
            };
            Err(Error::UnknownSignal {
                id: workflow_id.to_owned(),
                workflow: record.name,
                name: name.to_owned(),
                known,
            })
        }
    }
}

/// Describes a workflow from the store.
pub(crate) async fn describe(engine: &Engine, workflow_id: &str) -> Result<WorkflowInfo, Error> {
    let record = engine
        .store
        .latest_run(workflow_id)
        .await?
        .ok_or_else(|| Error::NotFound {
            id: workflow_id.to_owned(),
        })?;
    let tasks = engine.store.tasks(Some(&record.run_id)).await?;
    let runs = engine.store.runs(workflow_id).await?;
    let pending = tasks
        .into_iter()
        .map(|t| PendingStep {
            seq: t.seq,
            kind: match t.kind {
                TaskKind::Activity => "activity",
                TaskKind::Timer if t.seq == crate::command::timer::TIMEOUT_SEQ => "timeout",
                TaskKind::Timer => "timer",
            },
            name: t.name,
            attempt: t.attempt,
            max_attempts: match t.kind {
                TaskKind::Activity => t.options.retry.max_attempts,
                TaskKind::Timer => None,
            },
            scheduled_at: system_time(t.scheduled_ms),
            due_at: system_time(t.due_ms),
            last_error: t.last_error,
            heartbeat: t.details,
            heartbeat_at: t.heartbeat_ms.map(system_time),
            waiting_for_slot_since: t.slot_wait_ms.map(system_time),
        })
        .collect();
    let (error, error_since) = match (engine.stalled(&record.run_id), record.error) {
        // The run's steps do not commit: the store says nothing of it.
        (Some((why, since)), None) if !record.status.is_finished() => {
            (Some(why), Some(system_time(since)))
        }
        (_, Some(error)) => (Some(error), Some(system_time(record.updated_ms))),
        (_, None) => (None, None),
    };
    Ok(WorkflowInfo {
        workflow_id: record.workflow_id.clone(),
        workflow_type: record.name.clone(),
        status: record.status,
        progress: record.progress.clone(),
        runs: runs
            .iter()
            .map(|r| RunInfo {
                run_id: r.run_id.clone(),
                status: r.status,
                started_at: system_time(r.created_ms),
                updated_at: system_time(r.updated_ms),
            })
            .collect(),
        pending,
        error,
        error_since,
        result: record.result,
    })
}

/// Puts a message in a workflow's inbox and hands it to the worker.
pub(crate) async fn send(engine: &Engine, workflow_id: &str, item: InboxItem) -> Result<(), Error> {
    match engine
        .store
        .enqueue(workflow_id, item.clone(), engine.now_ms())
        .await?
    {
        Enqueued::Accepted { id, run_id } => {
            if engine.worker {
                // If this worker holds the run, it need not wait for a claim.
                engine.message_stored(
                    run_id,
                    InboxRecord {
                        id,
                        workflow_id: workflow_id.to_owned(),
                        item,
                    },
                );
            } else {
                engine.kick();
            }
            Ok(())
        }
        Enqueued::NotFound => Err(Error::NotFound {
            id: workflow_id.to_owned(),
        }),
        Enqueued::Finished(status) => Err(Error::Finished {
            id: workflow_id.to_owned(),
            status: status.as_str(),
        }),
    }
}
