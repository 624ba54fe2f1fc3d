//! The runtime's metrics, recorded through the `metrics` facade: every
//! name is here, with its help text (`docs/OBSERVABILITY.md` documents
//! them). reprise installs no recorder: without one (an exporter such as
//! `metrics-exporter-prometheus`), recording is a thread-local read, an
//! atomic load and a call to the facade's no-op recorder.
//!
//! Keys are built once, not per call: the facade's macros build a
//! [`Key`] at every call, which allocates its labels and hashes it. Keys
//! without labels are `static`; those labelled with a workflow or activity
//! type are built when the type is registered ([`WorkflowMetrics`],
//! [`ActivityMetrics`]), their label values borrowed from the types'
//! `&'static str` names.

use std::sync::Arc;

use metrics::{Key, Label, Level, Metadata, SharedString, Unit};

use crate::status::WorkflowStatus;

/// Runs whose first activation committed here: a workflow started, or the
/// next run of a continue-as-new. Counter; label `workflow`.
pub(crate) const WORKFLOWS_STARTED: &str = "reprise_workflows_started_total";
/// Runs that completed. Counter; label `workflow`.
pub(crate) const WORKFLOWS_COMPLETED: &str = "reprise_workflows_completed_total";
/// Runs that failed. Counter; label `workflow`.
pub(crate) const WORKFLOWS_FAILED: &str = "reprise_workflows_failed_total";
/// Runs that were blocked. Counter; label `workflow`.
pub(crate) const WORKFLOWS_BLOCKED: &str = "reprise_workflows_blocked_total";
/// Runs that ended cancelled. Counter; label `workflow`.
pub(crate) const WORKFLOWS_CANCELLED: &str = "reprise_workflows_cancelled_total";
/// Runs that were terminated. Counter; label `workflow`.
pub(crate) const WORKFLOWS_TERMINATED: &str = "reprise_workflows_terminated_total";
/// Runs that continued as new. Counter; label `workflow`.
pub(crate) const WORKFLOWS_CONTINUED_AS_NEW: &str = "reprise_workflows_continued_as_new_total";
/// Activity attempts that ran. Counter; labels `activity`, `outcome`.
pub(crate) const ACTIVITY_ATTEMPTS: &str = "reprise_activity_attempts_total";
/// How long an attempt's body ran. Histogram, seconds; label `activity`.
pub(crate) const ACTIVITY_ATTEMPT_DURATION: &str = "reprise_activity_attempt_duration_seconds";
/// Attempts that ran as retries (attempt 2 and later). Counter; label `activity`.
pub(crate) const ACTIVITY_RETRIES: &str = "reprise_activity_retries_total";
/// Attempts that waited for a slot of their activity's limits. Counter;
/// label `activity`.
pub(crate) const ACTIVITY_SLOT_WAITS: &str = "reprise_activity_slot_waits_total";
/// How long those attempts waited. Histogram, seconds; label `activity`.
pub(crate) const ACTIVITY_SLOT_WAIT_DURATION: &str = "reprise_activity_slot_wait_duration_seconds";
/// How long a group commit of workflow steps took. Histogram, seconds.
pub(crate) const STORE_COMMIT_DURATION: &str = "reprise_store_commit_duration_seconds";
/// How many workflow steps a group commit wrote. Histogram.
pub(crate) const STORE_COMMIT_STEPS: &str = "reprise_store_commit_steps";
/// Activations of a run held in the executor's cache. Counter.
pub(crate) const CACHE_HITS: &str = "reprise_workflow_cache_hits_total";
/// Activations of a run replayed from the store first. Counter.
pub(crate) const CACHE_MISSES: &str = "reprise_workflow_cache_misses_total";

/// The label naming the workflow type.
const WORKFLOW: &str = "workflow";
/// The label naming the activity type.
const ACTIVITY: &str = "activity";
/// The label telling how an attempt ended.
const OUTCOME: &str = "outcome";

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

static COMMIT_DURATION_KEY: Key = Key::from_static_name(STORE_COMMIT_DURATION);
static COMMIT_STEPS_KEY: Key = Key::from_static_name(STORE_COMMIT_STEPS);
static CACHE_HITS_KEY: Key = Key::from_static_name(CACHE_HITS);
static CACHE_MISSES_KEY: Key = Key::from_static_name(CACHE_MISSES);

fn increment(key: &Key) {
    metrics::with_recorder(|recorder| recorder.register_counter(key, &METADATA).increment(1));
}

fn observe(key: &Key, value: f64) {
    metrics::with_recorder(|recorder| recorder.register_histogram(key, &METADATA).record(value));
}

fn labelled(name: &'static str, labels: &[(&'static str, &SharedString)]) -> Key {
    let labels: Vec<Label> = labels
        .iter()
        .map(|(key, value)| Label::new(*key, (*value).clone()))
        .collect();
    Key::from_parts(name, labels)
}

/// The keys of one workflow type's metrics.
#[derive(Debug)]
pub(crate) struct WorkflowMetrics {
    started: Key,
    completed: Key,
    failed: Key,
    blocked: Key,
    cancelled: Key,
    terminated: Key,
    continued_as_new: Key,
}

impl WorkflowMetrics {
    /// The keys of workflow type `name` (a `&'static str` for a registered
    /// type: nothing is copied).
    pub(crate) fn new(name: impl Into<SharedString>) -> Arc<Self> {
        let name = name.into();
        let key = |metric| labelled(metric, &[(WORKFLOW, &name)]);
        Arc::new(Self {
            started: key(WORKFLOWS_STARTED),
            completed: key(WORKFLOWS_COMPLETED),
            failed: key(WORKFLOWS_FAILED),
            blocked: key(WORKFLOWS_BLOCKED),
            cancelled: key(WORKFLOWS_CANCELLED),
            terminated: key(WORKFLOWS_TERMINATED),
            continued_as_new: key(WORKFLOWS_CONTINUED_AS_NEW),
        })
    }

    /// A run's first activation committed.
    pub(crate) fn started(&self) {
        increment(&self.started);
    }

    /// A run's status changed to `status` (committed).
    pub(crate) fn status(&self, status: WorkflowStatus) {
        let key = match status {
            WorkflowStatus::Completed => &self.completed,
            WorkflowStatus::Failed => &self.failed,
            WorkflowStatus::Blocked => &self.blocked,
            WorkflowStatus::Cancelled => &self.cancelled,
            WorkflowStatus::Terminated => &self.terminated,
            WorkflowStatus::ContinuedAsNew => &self.continued_as_new,
            WorkflowStatus::Running => return,
        };
        increment(key);
    }
}

/// How an activity attempt that ran ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttemptOutcome {
    /// It succeeded.
    Ok,
    /// It failed, and the call is retried.
    Retry,
    /// It failed, and so did the call.
    Failed,
}

/// The keys of one activity type's metrics.
#[derive(Debug)]
pub(crate) struct ActivityMetrics {
    ok: Key,
    retry: Key,
    failed: Key,
    duration: Key,
    retries: Key,
    slot_waits: Key,
    slot_wait_duration: Key,
}

impl ActivityMetrics {
    /// The keys of activity type `name`.
    pub(crate) fn new(name: impl Into<SharedString>) -> Arc<Self> {
        let name = name.into();
        let key = |metric| labelled(metric, &[(ACTIVITY, &name)]);
        let attempts = |outcome: &'static str| {
            labelled(
                ACTIVITY_ATTEMPTS,
                &[
                    (ACTIVITY, &name),
                    (OUTCOME, &SharedString::const_str(outcome)),
                ],
            )
        };
        Arc::new(Self {
            ok: attempts("ok"),
            retry: attempts("retry"),
            failed: attempts("failed"),
            duration: key(ACTIVITY_ATTEMPT_DURATION),
            retries: key(ACTIVITY_RETRIES),
            slot_waits: key(ACTIVITY_SLOT_WAITS),
            slot_wait_duration: key(ACTIVITY_SLOT_WAIT_DURATION),
        })
    }

    /// An attempt starts running; `attempt` is its number (1-based).
    pub(crate) fn attempt_started(&self, attempt: u32) {
        if attempt > 1 {
            increment(&self.retries);
        }
    }

    /// An attempt's body ran for `seconds`.
    pub(crate) fn attempt_ran(&self, seconds: f64) {
        observe(&self.duration, seconds);
    }

    /// An attempt ended so.
    pub(crate) fn attempt_ended(&self, outcome: AttemptOutcome) {
        increment(match outcome {
            AttemptOutcome::Ok => &self.ok,
            AttemptOutcome::Retry => &self.retry,
            AttemptOutcome::Failed => &self.failed,
        });
    }

    /// An attempt was refused a slot of its limits, and waits.
    pub(crate) fn slot_wait_began(&self) {
        increment(&self.slot_waits);
    }

    /// An attempt's wait for a slot ended after `seconds` (granted or not).
    pub(crate) fn slot_wait_ended(&self, seconds: f64) {
        observe(&self.slot_wait_duration, seconds);
    }
}

/// A group commit of `steps` workflow steps took `seconds`.
pub(crate) fn commit(steps: usize, seconds: f64) {
    observe(&COMMIT_DURATION_KEY, seconds);
    observe(&COMMIT_STEPS_KEY, steps as f64);
}

/// An activation found its run in the executor's cache.
pub(crate) fn cache_hit() {
    increment(&CACHE_HITS_KEY);
}

/// An activation replays its run from the store first.
pub(crate) fn cache_miss() {
    increment(&CACHE_MISSES_KEY);
}

/// Describes every metric of reprise (help text and unit) to the installed
/// `metrics` recorder, so that an exporter shows them.
///
/// [`RuntimeBuilder::build`](crate::RuntimeBuilder::build) calls it, so a
/// recorder installed before the runtime is built needs nothing more; call
/// it after installing one later. Recorders keep the first description of a
/// name, so calling it again is harmless.
///
/// The names, labels and meanings are listed in the repository's
/// `docs/OBSERVABILITY.md`.
pub fn describe_metrics() {
    use metrics::{describe_counter, describe_histogram};
    describe_counter!(
        WORKFLOWS_STARTED,
        Unit::Count,
        "Workflow runs whose first activation was committed by this worker (new workflows and the runs continue-as-new starts)"
    );
    describe_counter!(
        WORKFLOWS_COMPLETED,
        Unit::Count,
        "Workflow runs that completed"
    );
    describe_counter!(
        WORKFLOWS_FAILED,
        Unit::Count,
        "Workflow runs that failed (the body returned an error, or the history is corrupt)"
    );
    describe_counter!(
        WORKFLOWS_BLOCKED,
        Unit::Count,
        "Workflow runs that were blocked (non-determinism, a panic, an unregistered activity, a run that cannot be loaded); they resume when fixed code starts"
    );
    describe_counter!(
        WORKFLOWS_CANCELLED,
        Unit::Count,
        "Workflow runs that ended cancelled"
    );
    describe_counter!(
        WORKFLOWS_TERMINATED,
        Unit::Count,
        "Workflow runs that were terminated"
    );
    describe_counter!(
        WORKFLOWS_CONTINUED_AS_NEW,
        Unit::Count,
        "Workflow runs that ended by continuing as a new run"
    );
    describe_counter!(
        ACTIVITY_ATTEMPTS,
        Unit::Count,
        "Activity attempts that ran, by outcome: ok, retry (failed, retried), failed (failed, and so did the call)"
    );
    describe_histogram!(
        ACTIVITY_ATTEMPT_DURATION,
        Unit::Seconds,
        "How long an activity attempt's body ran, until its result, error or timeout"
    );
    describe_counter!(
        ACTIVITY_RETRIES,
        Unit::Count,
        "Activity attempts that ran as retries (attempt 2 and later)"
    );
    describe_counter!(
        ACTIVITY_SLOT_WAITS,
        Unit::Count,
        "Activity attempts refused a slot of their limits (max_concurrent, rate), which then waited"
    );
    describe_histogram!(
        ACTIVITY_SLOT_WAIT_DURATION,
        Unit::Seconds,
        "How long an attempt refused a slot waited, until it got one, its deadline passed or its call ended"
    );
    describe_histogram!(
        STORE_COMMIT_DURATION,
        Unit::Seconds,
        "How long the store took to commit a batch of workflow steps (one transaction)"
    );
    describe_histogram!(
        STORE_COMMIT_STEPS,
        Unit::Count,
        "How many workflow steps (activations of runs) one commit wrote"
    );
    describe_counter!(
        CACHE_HITS,
        Unit::Count,
        "Activations whose run was in the executor's cache"
    );
    describe_counter!(
        CACHE_MISSES,
        Unit::Count,
        "Activations whose run was not cached and was replayed from its stored history first"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prometheus_style() {
        let names = [
            WORKFLOWS_STARTED,
            WORKFLOWS_COMPLETED,
            WORKFLOWS_FAILED,
            WORKFLOWS_BLOCKED,
            WORKFLOWS_CANCELLED,
            WORKFLOWS_TERMINATED,
            WORKFLOWS_CONTINUED_AS_NEW,
            ACTIVITY_ATTEMPTS,
            ACTIVITY_ATTEMPT_DURATION,
            ACTIVITY_RETRIES,
            ACTIVITY_SLOT_WAITS,
            ACTIVITY_SLOT_WAIT_DURATION,
            STORE_COMMIT_DURATION,
            STORE_COMMIT_STEPS,
            CACHE_HITS,
            CACHE_MISSES,
        ];
        let mut seen = std::collections::HashSet::new();
        for name in names {
            assert!(name.starts_with("reprise_"), "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()),
                "{name}"
            );
            assert!(seen.insert(name), "{name} twice");
        }
    }

    #[test]
    fn keys_borrow_static_names() {
        let workflow = WorkflowMetrics::new("etl");
        let labels: Vec<_> = workflow.completed.labels().collect();
        assert_eq!(workflow.completed.name(), WORKFLOWS_COMPLETED);
        assert_eq!(labels.len(), 1);
        assert_eq!((labels[0].key(), labels[0].value()), ("workflow", "etl"));
        let activity = ActivityMetrics::new("load");
        let labels: Vec<_> = activity
            .retry
            .labels()
            .map(|l| (l.key(), l.value()))
            .collect();
        assert_eq!(labels, [("activity", "load"), ("outcome", "retry")]);
    }
}
