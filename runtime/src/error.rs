//! Errors: of activities ([`ActivityError`]), of workflows ([`WorkflowError`]),
//! of the runtime API ([`Error`]) and of the store ([`StoreError`]).

use std::error::Error as StdError;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The error of an activity attempt, and of an activity call as a workflow sees it.
///
/// An activity returns `Err(ActivityError)` to fail its attempt. Whether the
/// attempt is retried depends on the activity's [`RetryPolicy`](crate::RetryPolicy):
/// errors made with [`ActivityError::new`] are retried unless their `kind` is
/// listed in `non_retryable_error_types`; errors made with
/// [`ActivityError::non_retryable`] never are. Any [`std::error::Error`]
/// converts with `?`, as a retryable error whose kind is the error's type name
/// (a name for people to read, not stable across compilers or versions: see
/// the `From<E>` conversion below).
///
/// Like `anyhow::Error`, `ActivityError` is not itself a `std::error::Error`
/// (the blanket conversion forbids it); it implements [`Display`](fmt::Display)
/// and `AsRef<dyn std::error::Error>`.
///
/// # Examples
///
/// ```
/// use reprise::ActivityError;
///
/// fn parse(line: &str) -> Result<u64, ActivityError> {
///     if line.is_empty() {
///         return Err(ActivityError::non_retryable("ValidationError", "empty line"));
///     }
///     Ok(line.parse::<u64>()?) // ParseIntError converts, retryable
/// }
/// assert_eq!(parse("").unwrap_err().kind(), "ValidationError");
/// assert!(parse("x").unwrap_err().kind().ends_with("ParseIntError"));
/// ```
pub struct ActivityError {
    inner: Box<ActivityFailure>,
}

/// The serializable part of an [`ActivityError`], as stored in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FailureData {
    pub(crate) kind: String,
    pub(crate) message: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) non_retryable: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) attempts: u32,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) cancelled: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The `dyn Error` behind an [`ActivityError`].
#[derive(Debug)]
struct ActivityFailure {
    data: FailureData,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl fmt::Display for ActivityFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.data.kind, self.data.message)
    }
}

impl StdError for ActivityFailure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// Error kind of an attempt that exceeded `start_to_close`.
pub(crate) const START_TO_CLOSE_TIMEOUT: &str = "StartToCloseTimeout";
/// Error kind of a call that exceeded `schedule_to_close`.
pub(crate) const SCHEDULE_TO_CLOSE_TIMEOUT: &str = "ScheduleToCloseTimeout";
/// Error kind of an attempt whose heartbeats stopped.
pub(crate) const HEARTBEAT_TIMEOUT: &str = "HeartbeatTimeout";
/// Error kind of an activity call ended by the workflow's cancellation.
pub(crate) const CANCELLED: &str = "Cancelled";
/// The failure of an activity call ended by its workflow's cancellation.
pub(crate) fn cancelled_failure() -> FailureData {
    FailureData {
        kind: CANCELLED.to_owned(),
        message: "the workflow was cancelled".to_owned(),
        non_retryable: true,
        attempts: 0,
        cancelled: true,
    }
}

/// Error kind of an attempt whose activity takes a resource the runtime
/// lacks (only outside a runtime: `build()` checks resources).
pub(crate) const MISSING_RESOURCE: &str = "MissingResource";
/// Error kind of an activity that panicked.
pub(crate) const PANIC: &str = "Panic";

impl ActivityError {
    /// A retryable error of the given kind; it is not retried if `kind` is in
    /// the policy's `non_retryable_error_types`.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self::from_data(FailureData {
            kind: kind.into(),
            message: message.into(),
            non_retryable: false,
            attempts: 0,
            cancelled: false,
        })
    }

    /// An error that is never retried, whatever the retry policy says.
    pub fn non_retryable(kind: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(kind, message);
        e.inner.data.non_retryable = true;
        e
    }

    pub(crate) fn from_data(data: FailureData) -> Self {
        Self {
            inner: Box::new(ActivityFailure { data, source: None }),
        }
    }

    /// The error of an activity call ended by its workflow's cancellation.
    pub(crate) fn cancelled_call() -> Self {
        Self::from_data(cancelled_failure())
    }

    pub(crate) fn data(&self) -> &FailureData {
        &self.inner.data
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.inner.data.attempts = attempts;
        self
    }

    /// The error's kind: the first argument of [`ActivityError::new`], or the
    /// type name of a converted `std::error::Error`. Timeouts have kind
    /// `StartToCloseTimeout`, `ScheduleToCloseTimeout` or `HeartbeatTimeout`.
    pub fn kind(&self) -> &str {
        &self.inner.data.kind
    }

    /// The error's message.
    pub fn message(&self) -> &str {
        &self.inner.data.message
    }

    /// Whether the error was raised as non-retryable.
    pub fn is_non_retryable(&self) -> bool {
        self.inner.data.non_retryable
    }

    /// How many attempts were made before the activity call failed (0 when
    /// the error did not come from a finished activity call).
    pub fn attempts(&self) -> u32 {
        self.inner.data.attempts
    }

    /// Whether the activity call failed because its workflow was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.inner.data.cancelled
    }

    /// Whether the call failed on one of its timeouts.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self.kind(),
            START_TO_CLOSE_TIMEOUT | SCHEDULE_TO_CLOSE_TIMEOUT | HEARTBEAT_TIMEOUT
        )
    }
}

/// A retryable error whose kind is [`std::any::type_name`] of `E`
/// (`core::num::error::ParseIntError`), its message the error's `Display`,
/// its source the error.
///
/// That kind is a name for people to read, not a stable identifier: the
/// standard library does not promise its form, and it may change with the
/// compiler, with the version of the crate that defines the type, or when the
/// type moves to another module. A kind that code compares
/// ([`RetryPolicy`](crate::RetryPolicy)'s `non_retryable_error_types`, a
/// workflow matching on [`kind`](ActivityError::kind)) or that must mean the
/// same in histories written before an upgrade should be given explicitly:
/// `ActivityError::new(kind, message)` (or
/// [`ActivityError::non_retryable`]), with `map_err` instead of `?`.
impl<E> From<E> for ActivityError
where
    E: StdError + Send + Sync + 'static,
{
    fn from(error: E) -> Self {
        Self {
            inner: Box::new(ActivityFailure {
                data: FailureData {
                    kind: std::any::type_name::<E>().to_owned(),
                    message: error.to_string(),
                    non_retryable: false,
                    attempts: 0,
                    cancelled: false,
                },
                source: Some(Box::new(error)),
            }),
        }
    }
}

impl fmt::Display for ActivityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)?;
        if self.inner.data.attempts > 1 {
            write!(f, " (after {} attempts)", self.inner.data.attempts)?;
        }
        Ok(())
    }
}

impl fmt::Debug for ActivityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActivityError")
            .field("kind", &self.inner.data.kind)
            .field("message", &self.inner.data.message)
            .field("non_retryable", &self.inner.data.non_retryable)
            .field("attempts", &self.inner.data.attempts)
            .finish()
    }
}

impl AsRef<dyn StdError + Send + Sync + 'static> for ActivityError {
    fn as_ref(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.inner
    }
}

impl AsRef<dyn StdError + 'static> for ActivityError {
    fn as_ref(&self) -> &(dyn StdError + 'static) {
        &*self.inner
    }
}

/// The error a workflow ends with.
///
/// Workflow code builds one with [`WorkflowError::new`], or converts an
/// [`ActivityError`] with `?` (its kind, message and attempt count are kept).
/// A cancelled workflow's result is a `WorkflowError` whose
/// [`is_cancelled`](WorkflowError::is_cancelled) is true, whatever its body returned.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    message: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    attempts: u32,
    #[serde(default, skip_serializing_if = "is_false")]
    cancelled: bool,
    /// Set by the runtime; `None` for the body's own errors (and for errors
    /// stored by versions without it, see [`WorkflowError::error_kind`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<WorkflowErrorKind>,
}

/// What a [`WorkflowError`] is, as the runtime sets it: match on it rather
/// than on [`WorkflowError::kind`]'s string.
///
/// ```
/// # use reprise::{WorkflowError, WorkflowErrorKind};
/// fn retry_later(e: &WorkflowError) -> bool {
///     matches!(e.error_kind(), WorkflowErrorKind::Blocked | WorkflowErrorKind::Runtime)
/// }
/// assert!(!retry_later(&WorkflowError::new("bad input")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum WorkflowErrorKind {
    /// The body's own error, made with [`WorkflowError::new`].
    Workflow,
    /// An activity call's error that the body returned (with `?`):
    /// [`WorkflowError::kind`] is the activity error's kind.
    Activity,
    /// An activity call that timed out (`start_to_close`,
    /// `schedule_to_close` or `heartbeat_timeout`), returned by the body;
    /// [`WorkflowError::kind`] says which.
    Timeout,
    /// The workflow was cancelled (`Runtime::cancel`).
    Cancelled,
    /// The workflow was terminated (`Runtime::terminate`).
    Terminated,
    /// The workflow ran out of its timeout (`rt.start(..).timeout(d)`).
    TimedOut,
    /// A child workflow's error that the body returned (with `?` on a
    /// [`ChildError`](crate::ChildError)).
    Child,
    /// The run is stopped, not ended: its code diverged from its history
    /// (non-determinism), panicked, or calls an activity this runtime does
    /// not have. It resumes when a runtime with fixed code starts.
    Blocked,
    /// An input, an output or a stored result did not encode or decode.
    Payload,
    /// The runtime could not run or follow the workflow: its store failed,
    /// it shut down first, the workflow type is not registered, or the
    /// run's history is corrupt.
    Runtime,
    /// What [`WorkflowContext::continue_as_new`](crate::WorkflowContext::continue_as_new)
    /// returns, to be returned from the body.
    ContinuedAsNew,
}

/// Kinds of activity errors that are timeouts.
const TIMEOUT_KINDS: [&str; 3] = [
    START_TO_CLOSE_TIMEOUT,
    SCHEDULE_TO_CLOSE_TIMEOUT,
    HEARTBEAT_TIMEOUT,
];

impl WorkflowError {
    /// A workflow error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            kind: None,
            message: message.into(),
            attempts: 0,
            cancelled: false,
            reason: None,
        }
    }

    /// An error the runtime sets: its kind as a string (shown, stored) and
    /// as a [`WorkflowErrorKind`].
    pub(crate) fn with_kind(
        reason: WorkflowErrorKind,
        kind: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind: Some(kind.into()),
            reason: Some(reason),
            ..Self::new(message)
        }
    }

    /// The error of a terminated workflow: its kind says so, its message is
    /// the reason given.
    pub(crate) fn terminated(reason: impl Into<String>) -> Self {
        Self::with_kind(WorkflowErrorKind::Terminated, "Terminated", reason)
    }

    pub(crate) fn cancelled_error() -> Self {
        Self {
            cancelled: true,
            ..Self::with_kind(
                WorkflowErrorKind::Cancelled,
                CANCELLED,
                "workflow cancelled",
            )
        }
    }

    /// What the error is. Errors stored by earlier versions, which did not
    /// record it, are classified by their kind string.
    pub fn error_kind(&self) -> WorkflowErrorKind {
        if let Some(reason) = self.reason {
            return reason;
        }
        match self.kind.as_deref() {
            None => WorkflowErrorKind::Workflow,
            Some(_) if self.cancelled => WorkflowErrorKind::Cancelled,
            Some(kind) if TIMEOUT_KINDS.contains(&kind) => WorkflowErrorKind::Timeout,
            Some("Terminated") => WorkflowErrorKind::Terminated,
            Some("Blocked") => WorkflowErrorKind::Blocked,
            Some("PayloadError") => WorkflowErrorKind::Payload,
            Some("Runtime" | "Failed" | "UnknownWorkflowType") => WorkflowErrorKind::Runtime,
            Some(_) => WorkflowErrorKind::Activity,
        }
    }

    /// Whether this is the error `continue_as_new` returned.
    pub(crate) fn is_continue_as_new(&self) -> bool {
        self.reason == Some(WorkflowErrorKind::ContinuedAsNew)
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The kind as a string: the activity error's kind for an error that
    /// came from an activity call, the runtime's name for an error it set
    /// (`Cancelled`, `Blocked`, `Terminated`, ...), `None` for
    /// [`WorkflowError::new`]. To match, prefer [`error_kind`](Self::error_kind).
    pub fn kind(&self) -> Option<&str> {
        self.kind.as_deref()
    }

    /// Attempts made by the activity call this error came from (0 otherwise).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether the workflow ended because it was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }
}

impl From<ActivityError> for WorkflowError {
    fn from(e: ActivityError) -> Self {
        let data = e.inner.data;
        let reason = if data.cancelled {
            WorkflowErrorKind::Cancelled
        } else if TIMEOUT_KINDS.contains(&data.kind.as_str()) {
            WorkflowErrorKind::Timeout
        } else {
            WorkflowErrorKind::Activity
        };
        Self {
            kind: Some(data.kind),
            message: data.message,
            attempts: data.attempts,
            cancelled: data.cancelled,
            reason: Some(reason),
        }
    }
}

impl fmt::Display for WorkflowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Some(kind) => write!(f, "{kind}: {}", self.message)?,
            None => f.write_str(&self.message)?,
        }
        if self.attempts > 1 {
            write!(f, " (after {} attempts)", self.attempts)?;
        }
        Ok(())
    }
}

impl fmt::Debug for WorkflowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkflowError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("attempts", &self.attempts)
            .field("cancelled", &self.cancelled)
            .field("error_kind", &self.error_kind())
            .finish()
    }
}

impl StdError for WorkflowError {}

/// The error of the runtime API: starting, signalling, describing workflows,
/// opening the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No workflow of that name is registered with this runtime.
    #[error("unknown workflow type `{name}`: register it with `Runtime::builder().workflow(..)`")]
    UnknownWorkflowType {
        /// The name asked for.
        name: String,
    },
    /// A workflow id that cannot be used: empty, or longer than 1,024 bytes.
    #[error("invalid workflow id `{id}`: {why}")]
    InvalidId {
        /// The id (its start, when it is too long).
        id: String,
        /// What is wrong with it.
        why: String,
    },
    /// A signal the workflow's code never receives (no `ctx.signal::<S>()`
    /// of that name, and none declared with `#[workflow(signals = [..])]`).
    #[error("workflow `{id}` ({workflow}) receives no signal named `{name}`; it receives {known}")]
    UnknownSignal {
        /// The workflow id.
        id: String,
        /// Its workflow type.
        workflow: String,
        /// The signal name sent.
        name: String,
        /// The names it receives, as a phrase (`` `a`, `b` `` or "none").
        known: String,
    },
    /// A page token that no listing gave out.
    #[error("invalid page token `{token}`: pass a `next_page` of an earlier listing")]
    InvalidPageToken {
        /// The token (clipped).
        token: String,
    },
    /// [`Runtime::run_history`](crate::Runtime::run_history) of a run the
    /// workflow does not have.
    #[error("workflow `{id}` has no run `{run_id}`")]
    RunNotFound {
        /// The workflow id.
        id: String,
        /// The run id asked for.
        run_id: String,
    },
    /// A schedule's id or cron expression is not valid.
    #[error("invalid schedule `{id}`: {why}")]
    InvalidSchedule {
        /// The schedule's id (its first 40 characters when too long).
        id: String,
        /// What is wrong.
        why: String,
    },
    /// No schedule has that id.
    #[error("no schedule with id `{id}`")]
    ScheduleNotFound {
        /// The id asked for.
        id: String,
    },
    /// No workflow with that id exists in the store.
    #[error("no workflow with id `{id}`")]
    NotFound {
        /// The workflow id asked for.
        id: String,
    },
    /// The workflow has ended: it takes no more signals or requests.
    #[error("workflow `{id}` has ended ({status}); it takes no more signals or requests")]
    Finished {
        /// The workflow id.
        id: String,
        /// How it ended: `completed`, `failed`, `cancelled` or `terminated`.
        status: &'static str,
    },
    /// A workflow with that id exists, but it is of another workflow type.
    #[error("workflow `{id}` already exists as a `{existing}`, not a `{requested}`")]
    IdConflict {
        /// The workflow id.
        id: String,
        /// The type the existing workflow has.
        existing: String,
        /// The type that was asked for.
        requested: String,
    },
    /// A payload could not be encoded or decoded.
    #[error("bad payload for {what}: {source}")]
    Payload {
        /// What the payload was for (`input of workflow `etl``, ...).
        what: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// The workflow ended with an error.
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    /// The runtime was shut down.
    #[error("the runtime is shut down")]
    ShutDown,
    /// A setting of the builder is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Another worker holds the SQLite file: another process (or another
    /// runtime of this process) opened it with `.worker(true)`, the default.
    /// The file is known by its canonical path: opening it through a
    /// symbolic link, a relative path or (on Linux) a hard link is the same
    /// file. A process that only starts, signals and awaits workflows opens
    /// it with `.worker(false)`, which takes no lock.
    #[error(
        "`{}` is in use by another process (a reprise worker holds it; \
         open it with `.worker(false)` to start, signal and await workflows beside that worker)",
        .path.display()
    )]
    InUse {
        /// The database file's canonical path.
        path: std::path::PathBuf,
    },
    /// The file or database holds something else than a reprise store:
    /// another application's tables, or a file that is not a SQLite database
    /// at all. Nothing in it was changed.
    #[error("{what} is not a reprise database ({why})")]
    NotADatabase {
        /// The file (its canonical path in backquotes) or the PostgreSQL
        /// database (`` PostgreSQL database `name` at host:port ``).
        what: String,
        /// What was found: that it is not a SQLite database, that it has
        /// tables but no `reprise_meta` table, ...
        why: String,
    },
    /// The database was written by a newer version of reprise: its schema
    /// version is above the versions this one knows. Nothing in it was
    /// changed; a newer reprise opens it.
    #[error(
        "{what} has schema version {version}, but this version of reprise knows versions up to \
         {supported}: it was written by a newer reprise; upgrade reprise to open it"
    )]
    NewerSchema {
        /// The file or database, as in [`Error::NotADatabase`].
        what: String,
        /// Its schema version.
        version: usize,
        /// The highest schema version this reprise knows.
        supported: usize,
    },
}

/// An error of the store: names the operation that failed and whether
/// retrying it can help.
#[derive(Debug, thiserror::Error)]
#[error("store error while {operation}: {message}")]
pub struct StoreError {
    operation: &'static str,
    message: String,
    retryable: bool,
    fenced: bool,
    corrupt: bool,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl StoreError {
    pub(crate) fn new(operation: &'static str, message: impl Into<String>) -> Self {
        Self {
            operation,
            message: message.into(),
            retryable: false,
            fenced: false,
            corrupt: false,
            source: None,
        }
    }

    /// The same error, marked as one of a damaged database.
    pub(crate) fn corrupt(mut self) -> Self {
        self.corrupt = true;
        self
    }

    /// A write refused because the work it is about is no longer this
    /// worker's: another worker claimed it since (or it is gone).
    pub(crate) fn fenced(operation: &'static str, message: impl Into<String>) -> Self {
        Self {
            fenced: true,
            ..Self::new(operation, message)
        }
    }

    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    /// The same error, marked as worth retrying (a lost connection, a
    /// serialization failure) or not.
    pub(crate) fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    pub(crate) fn with_source(
        operation: &'static str,
        retryable: bool,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self {
            operation,
            message: source.to_string(),
            retryable,
            fenced: false,
            corrupt: false,
            source: Some(Box::new(source)),
        }
    }

    /// The operation that failed (`committing a workflow step`, ...).
    pub fn operation(&self) -> &str {
        self.operation
    }

    /// Whether the same operation may succeed if tried again (a busy
    /// database yes, a corrupt row no).
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// Whether the write was refused because another worker holds the work
    /// now (its lease expired and was claimed): this worker must drop it.
    pub fn is_fenced(&self) -> bool {
        self.fenced
    }

    /// Whether the store's data is damaged (SQLite reported a corrupt
    /// file): the runtime stops using the store, and every later call fails
    /// with this error until the file is restored.
    pub fn is_corrupt(&self) -> bool {
        self.corrupt
    }
}

/// An error with its causes, for logs: `error: cause: root cause`. A cause
/// whose text the line already ends with is left out (most errors repeat
/// their source's message). Formatted only when a subscriber records it.
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn StdError + Send + Sync + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = self.0.to_string();
        let mut source = self.0.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !line.ends_with(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            source = cause.source();
        }
        f.write_str(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_name_each_cause_once() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("could not read the source")
            }
        }
        impl StdError for Outer {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e: ActivityError = Outer(io).into();
        assert_eq!(
            Chain(e.as_ref()).to_string(),
            format!(
                "{}: could not read the source: no such file",
                std::any::type_name::<Outer>()
            )
        );
        let store = StoreError::with_source(
            "committing a workflow step",
            false,
            std::io::Error::other("disk full"),
        );
        assert_eq!(
            Chain(&store).to_string(),
            "store error while committing a workflow step: disk full"
        );
    }

    #[test]
    fn std_errors_convert_with_their_type_name() {
        let e: ActivityError = "x".parse::<u32>().unwrap_err().into();
        assert_eq!(e.kind(), "core::num::error::ParseIntError");
        assert!(!e.is_non_retryable());
        let dyn_err: &(dyn StdError + 'static) = e.as_ref();
        assert!(dyn_err.source().is_some());
    }

    #[test]
    fn workflow_error_keeps_activity_details() {
        let a = ActivityError::new("Http", "503").with_attempts(3);
        let w = WorkflowError::from(a);
        assert_eq!(w.kind(), Some("Http"));
        assert_eq!(w.attempts(), 3);
        assert_eq!(w.to_string(), "Http: 503 (after 3 attempts)");
        assert!(!w.is_cancelled());
    }
}
