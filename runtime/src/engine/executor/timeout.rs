//! Workflow timeouts (`rt.start(..).timeout(d)`): a timer task at a
//! sequence number no call takes, created by the run's first step (and by
//! each next run's, across continue-as-new), which ends the run as timed
//! out when it fires.

use super::*;
use crate::command::Pending;
use crate::error::{WorkflowError, WorkflowErrorKind};

/// The sequence number of a workflow's timeout timer.
pub(super) const TIMEOUT_SEQ: u32 = u32::MAX;

/// [`WorkflowError::kind`] of a timed-out workflow's error.
const WORKFLOW_TIMED_OUT: &str = "WorkflowTimedOut";

/// The timeout's timer task, for a run's first step.
pub(super) fn timeout_task(workflow_id: &str, run_id: &str, deadline_ms: u64, now: u64) -> Task {
    Task {
        workflow_id: workflow_id.to_owned(),
        run_id: run_id.to_owned(),
        seq: TIMEOUT_SEQ,
        kind: TaskKind::Timer,
        name: String::new(),
        input: Value::Null,
        options: Default::default(),
        attempt: 0,
        scheduled_ms: now,
        due_ms: deadline_ms,
        last_error: None,
        details: None,
        heartbeat_ms: None,
        token: 0,
        slot_wait_ms: None,
    }
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
            let activities: Vec<u32> = core
                .pending
                .iter()
                .filter(|(_, p)| **p == Pending::Activity)
                .map(|(seq, _)| *seq)
                .collect();
            let children: Vec<_> = core.children.values().cloned().collect();
            (core.workflow_id.to_string(), activities, children)
        };
        tracing::info!("workflow run timed out");
        let error = WorkflowError::with_kind(
            WorkflowErrorKind::TimedOut,
            WORKFLOW_TIMED_OUT,
            "the workflow's timeout passed",
        );
        let mut messages = child::close_messages(&children, &workflow_id);
        if let Some(parent) = &run.parent {
            messages.push(child::failure_message(parent, &workflow_id, error.clone()));
        }
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
