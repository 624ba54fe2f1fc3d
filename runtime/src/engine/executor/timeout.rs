//! Workflow timeouts (`rt.start(..).timeout(d)`): a timer task at a
//! sequence number no call takes, created by the run's first step (and by
//! each next run's, across continue-as-new), which ends the run as timed
//! out when it fires.

use super::*;
use crate::command::timer::{self, TIMEOUT_SEQ};
use crate::error::{WorkflowError, WorkflowErrorKind};

/// [`WorkflowError::kind`] of a timed-out workflow's error.
const WORKFLOW_TIMED_OUT: &str = "WorkflowTimedOut";

/// The timeout's timer task, for a run's first step: a durable timer at a
/// sequence number no call takes.
pub(super) fn timeout_task(scope: &Scope<'_>, deadline_ms: u64) -> Task {
    timer::Start {
        seq: TIMEOUT_SEQ,
        fire_at_ms: deadline_ms,
    }
    .task(scope)
}

/// Whether a batch's inputs hold the firing of the run's timeout.
pub(super) fn fired(inputs: &[Input]) -> bool {
    inputs
        .iter()
        .any(|i| matches!(i, Input::Resolve(TIMEOUT_SEQ, Resolution::Timer)))
}

impl Executor {
    /// Ends a cached run as timed out: no more of its code runs; its
    /// pending activities are told, its parent gets the error, its children
    /// are closed by their policies.
    pub(super) fn time_out(
        &mut self,
        run_id: &str,
        done_inbox: Vec<u64>,
        now: u64,
    ) -> Option<(StepCommit, AfterCommit)> {
        let run = self.cache.get_mut(run_id)?;
        let (workflow_id, activities, children) = {
            let core = crate::run::lock(&run.core);
            let activities: Vec<u32> = core.open_activities().collect();
            let children: Vec<_> = core.open_children().cloned().collect();
            (core.workflow_id.to_string(), activities, children)
        };
        tracing::info!("workflow run timed out");
        let error = WorkflowError::with_kind(
            WorkflowErrorKind::TimedOut,
            WORKFLOW_TIMED_OUT,
            "the workflow's timeout passed",
        );
        let messages = child::end_messages(
            &workflow_id,
            run.parent.as_ref(),
            Some(Err(error.clone())),
            &children,
        );
        let events = [
            Event::Activation {
                time_ms: now,
                continue_as_new_suggested: false,
            },
            Event::WorkflowTimedOut {
                error: error.clone(),
            },
        ];
        let step = StepCommit {
            run_id: run_id.to_owned(),
            first_index: run.history_len,
            events: events
                .iter()
                .map(|e| serde_json::to_string(e).expect("events encode to JSON"))
                .collect(),
            status: Some(StatusChange {
                status: WorkflowStatus::Failed,
                result: serde_json::to_value(&error).ok(),
                error: None,
            }),
            now_ms: now,
            done_inbox: done_inbox.clone(),
            messages,
            ..StepCommit::default()
        };
        let metrics = run.metrics.clone();
        let workflow = run.name.clone();
        self.cache.remove(run_id);
        let mut after = AfterCommit::status(&workflow_id, run_id, true)
            .counting(metrics, WorkflowStatus::Failed);
        after.cancelled_calls = activities;
        after.inbox = done_inbox;
        after.workflow = Some(workflow);
        Some((step, after))
    }
}
