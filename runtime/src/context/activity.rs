//! [`ActivityContext`]: what an activity attempt knows about itself.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::ActivityError;
use crate::resource::{Resource, Resources};

/// Identity of an attempt.
#[derive(Debug, Clone)]
pub(crate) struct AttemptInfo {
    pub(crate) workflow_id: String,
    pub(crate) run_id: String,
    pub(crate) activity_name: String,
    pub(crate) seq: u32,
    pub(crate) attempt: u32,
    /// Heartbeat details left by the previous attempts.
    pub(crate) details: Option<Value>,
}

/// The context of one attempt of an activity: which attempt it is, whether
/// it should stop, and heartbeats.
///
/// Take it as the activity's first parameter (`ctx: ActivityContext`) when
/// the body needs it; it is optional.
#[derive(Clone)]
pub struct ActivityContext {
    inner: Arc<Inner>,
}

struct Inner {
    info: AttemptInfo,
    resources: Arc<Resources>,
    cancelled: AtomicBool,
    /// The workflow cancelled the call (as opposed to a timeout of the attempt).
    cancelled_by_workflow: AtomicBool,
    heartbeat: Mutex<Heartbeat>,
}

#[derive(Debug)]
struct Heartbeat {
    details: Option<Value>,
    /// tokio's clock, as the heartbeat timeout's (virtual in a `TestEnv`).
    last: Instant,
    /// Heartbeats sent by this attempt: which details are new is told by
    /// this, not by `last` (two heartbeats may share an instant, always on
    /// a paused clock).
    count: u64,
}

/// The clock of heartbeats: tokio's, which the engine's timeouts wait on.
/// This process's monotonic clock, except while tokio's is paused (a
/// `TestEnv`), where it is the virtual one.
type Instant = tokio::time::Instant;

impl fmt::Debug for ActivityContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActivityContext")
            .field("workflow_id", &self.inner.info.workflow_id)
            .field("activity", &self.inner.info.activity_name)
            .field("seq", &self.inner.info.seq)
            .field("attempt", &self.inner.info.attempt)
            .finish_non_exhaustive()
    }
}

impl ActivityContext {
    pub(crate) fn new(info: AttemptInfo, resources: Arc<Resources>) -> Self {
        let details = info.details.clone();
        Self {
            inner: Arc::new(Inner {
                info,
                resources,
                cancelled: AtomicBool::new(false),
                cancelled_by_workflow: AtomicBool::new(false),
                heartbeat: Mutex::new(Heartbeat {
                    details,
                    last: Instant::now(),
                    count: 0,
                }),
            }),
        }
    }

    /// The attempt number, 1 for the first attempt.
    pub fn attempt(&self) -> u32 {
        self.inner.info.attempt
    }

    /// The id of the workflow that called the activity.
    pub fn workflow_id(&self) -> &str {
        &self.inner.info.workflow_id
    }

    /// The id of the workflow run that called the activity.
    pub fn run_id(&self) -> &str {
        &self.inner.info.run_id
    }

    /// The activity type's name.
    pub fn activity_name(&self) -> &str {
        &self.inner.info.activity_name
    }

    /// Whether the attempt should stop: its workflow was cancelled or the
    /// attempt timed out. A long activity checks it between units of work.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::Acquire)
    }

    pub(crate) fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::Release);
    }

    pub(crate) fn cancel_by_workflow(&self) {
        self.inner
            .cancelled_by_workflow
            .store(true, Ordering::Release);
        self.cancel();
    }

    pub(crate) fn is_cancelled_by_workflow(&self) -> bool {
        self.inner.cancelled_by_workflow.load(Ordering::Acquire)
    }

    /// Records progress of the attempt. The last details are handed to the
    /// next attempt, if there is one, through
    /// [`heartbeat_details`](Self::heartbeat_details); with a
    /// `heartbeat_timeout`, an attempt that stops heartbeating fails and is
    /// retried. Cheap enough to call in a hot loop.
    pub fn heartbeat<T: Serialize + ?Sized>(&self, details: &T) {
        let value = match serde_json::to_value(details) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %crate::error::Chain(&e), "heartbeat details do not serialize to JSON; ignored");
                return;
            }
        };
        let mut hb = self
            .inner
            .heartbeat
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        hb.details = Some(value);
        hb.last = Instant::now();
        hb.count += 1;
    }

    /// The details of the last heartbeat of this call, from this attempt or
    /// an earlier one; `None` if there is none, or (with a warning) if they
    /// do not decode as `T`.
    pub fn heartbeat_details<T: DeserializeOwned>(&self) -> Option<T> {
        let details = self
            .inner
            .heartbeat
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .details
            .clone()?;
        match serde_json::from_value(details) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(
                    error = %crate::error::Chain(&e),
                    activity = %self.inner.info.activity_name,
                    "heartbeat details do not decode as `{}`; ignored",
                    std::any::type_name::<T>()
                );
                None
            }
        }
    }

    /// Starts the heartbeat clock when the attempt starts running.
    pub(crate) fn restart_heartbeat_clock(&self) {
        self.inner
            .heartbeat
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .last = Instant::now();
    }

    /// Whether two contexts are the same attempt's.
    pub(crate) fn same(&self, other: &ActivityContext) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The last heartbeat details, when they were recorded, and how many
    /// heartbeats this attempt sent so far.
    pub(crate) fn last_heartbeat(&self) -> (Option<Value>, Instant, u64) {
        let hb = self
            .inner
            .heartbeat
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        (hb.details.clone(), hb.last, hb.count)
    }

    /// The runtime's resource of type `T`, for a `Resource<T>` parameter.
    pub(crate) fn resource<T: Send + Sync + 'static>(&self) -> Result<Resource<T>, ActivityError> {
        self.inner.resources.get::<T>().ok_or_else(|| {
            ActivityError::non_retryable(
                crate::error::MISSING_RESOURCE,
                format!(
                    "activity `{}` takes a `Resource<{}>`, which the runtime was not given: \
                     add `.resource(value)` to `Runtime::builder()`",
                    self.inner.info.activity_name,
                    std::any::type_name::<T>()
                ),
            )
        })
    }
}
