//! Runs that do not go on: terminated, blocked (their code faults, or their
//! history cannot be loaded), and resumed. A blocked run keeps what it was
//! sent for its resumption.

use super::*;

/// What loading a run into the cache gave.
pub(super) enum Load {
    /// The run is cached; `unblocked` when it was blocked and replays cleanly now.
    Ready { unblocked: bool },
    /// The run cannot go on; the step records why, if anything is to be recorded.
    Stopped(Option<Box<(StepCommit, AfterCommit)>>),
}

impl Executor {
    /// Ends a run without running its code.
    pub(super) async fn terminate(
        &mut self,
        run_id: &str,
        inbox_id: u64,
        reason: &str,
        mut inbox: Vec<u64>,
        now: u64,
    ) -> Option<(StepCommit, AfterCommit)> {
        self.cache.remove(run_id);
        self.blocked.remove(run_id);
        self.parked.remove(run_id);
        let (record, rows) = match self.engine.store.load_run(run_id).await {
            Ok(Some(loaded)) => loaded,
            _ => return None,
        };
        record_run(&record.name, &record.workflow_id);
        inbox.push(inbox_id);
        let mut step = StepCommit {
            run_id: run_id.to_owned(),
            done_inbox: inbox,
            now_ms: now,
            ..StepCommit::default()
        };
        let mut after = AfterCommit::status(&record.workflow_id, run_id, true);
        if !record.status.is_finished() {
            tracing::info!(reason, "workflow run terminated");
            after = after.counting(
                self.engine.registry.workflow_metrics(&record.name),
                WorkflowStatus::Terminated,
            );
            // Its parent learns of it, its children are closed by their
            // policies (what an unreadable history names is not known).
            if let Ok(history) = RecordedHistory::decode(&rows) {
                let error = crate::error::WorkflowError::terminated(reason);
                step.messages = child::end_messages(
                    &record.workflow_id,
                    history.parent.as_ref(),
                    Some(Err(error)),
                    history.open_children.values(),
                );
            }
            let event = Event::WorkflowTerminated {
                reason: reason.to_owned(),
            };
            step.first_index = rows.len() as u64;
            step.events = vec![serde_json::to_string(&event).expect("events encode to JSON")];
            step.status = Some(StatusChange {
                status: WorkflowStatus::Terminated,
                result: None,
                error: Some(reason.to_owned()),
            });
        }
        Some((step, after))
    }

    /// Keeps the completions this process delivered from memory to a run
    /// that did not record them (it is blocked), for its resumption: an
    /// activity's result goes to the store (as a completion in the run's
    /// inbox: not run again, even after a restart), a fired timer stays in
    /// memory (after a restart its task fires again from the store).
    /// Completions that came from the inbox stay there.
    pub(super) async fn keep_completions(
        &mut self,
        run_id: &str,
        from_inbox: &[u32],
        completions: impl Iterator<Item = (u32, Resolution)>,
    ) {
        let mut activities = Vec::new();
        for (seq, resolution) in completions.filter(|(seq, _)| !from_inbox.contains(seq)) {
            match resolution {
                Resolution::Timer => self.parked.entry(run_id.to_owned()).or_default().push(seq),
                Resolution::Activity(result) => activities.push((seq, result)),
                // Always delivered from the inbox, where it stays.
                Resolution::Child(_) => {}
            }
        }
        if activities.is_empty() {
            return;
        }
        // Written before the executor goes on (blocked runs are rare), so
        // nothing outlives a shutdown; a task that cannot be read or
        // written runs again when the run is next claimed.
        let tasks = match self.engine.store.tasks(Some(run_id)).await {
            Ok(tasks) => tasks,
            Err(e) => {
                tracing::warn!(run.id = %run_id, error = %e, "could not keep a blocked run's activity results; the activities run again");
                return;
            }
        };
        for (seq, result) in activities {
            let Some(task) = tasks.iter().find(|t| t.seq == seq) else {
                continue;
            };
            let done = TaskDone {
                workflow_id: task.workflow_id.clone(),
                run_id: run_id.to_owned(),
                seq,
                token: task.token,
                result,
                now_ms: self.engine.now_ms(),
            };
            if let Err(e) = self.engine.store.complete_task(done).await {
                tracing::warn!(run.id = %run_id, error = %e, "could not keep a blocked run's activity result; the activity runs again");
            }
        }
    }

    /// Inbox messages that stay in the store unconsumed (a commit failed,
    /// the run is blocked): a later claim of the run delivers them again.
    pub(super) fn forget_delivered(&mut self, ids: &[u64]) {
        for id in ids {
            self.delivered.remove(id);
            self.delivered_before.remove(id);
        }
    }

    /// Stops a run that faulted outside an activation.
    pub(super) async fn block(
        &mut self,
        run_id: &str,
        fault: &RunFault,
        now: u64,
    ) -> Option<(StepCommit, AfterCommit)> {
        if !self.blocked.insert(run_id.to_owned()) {
            return None;
        }
        self.cache.remove(run_id);
        let record = match self.engine.store.load_run(run_id).await {
            Ok(Some((record, _))) if !record.status.is_finished() => record,
            _ => return None,
        };
        let workflow_id = &record.workflow_id;
        record_run(&record.name, workflow_id);
        let message = format!("workflow `{workflow_id}` run `{run_id}`: {fault}");
        tracing::error!(error = %message, "workflow run stopped; it resumes with fixed code (at a restart, or `reprise resume`)");
        Some(status_step(
            run_id,
            workflow_id,
            self.engine.registry.workflow_metrics(&record.name),
            WorkflowStatus::Blocked,
            Some(message),
            now,
        ))
    }

    /// Loads a run into the cache, replaying its history, unless it is there.
    pub(super) async fn load(&mut self, run_id: &str, workflow_id: Option<&str>, now: u64) -> Load {
        if self.cache.get_mut(run_id).is_some() {
            crate::metrics::cache_hit();
            return Load::Ready { unblocked: false };
        }
        let (record, rows) = match self.engine.store.load_run(run_id).await {
            Ok(Some(loaded)) => loaded,
            Ok(None) => {
                tracing::warn!("no such run; message dropped");
                return Load::Stopped(None);
            }
            Err(e) => {
                // A damaged page, a store that fails: the run is blocked
                // with the cause where the store still takes the write.
                let workflow_id = workflow_id.unwrap_or_default();
                tracing::error!(workflow.id = %workflow_id, error = %Chain(&e), "could not load the run; it is blocked");
                let message =
                    format!("workflow `{workflow_id}` run `{run_id}` cannot be loaded: {e}");
                if !self.blocked.insert(run_id.to_owned()) {
                    return Load::Stopped(None);
                }
                // The workflow type is unknown: counted under an empty name.
                return Load::Stopped(Some(Box::new(status_step(
                    run_id,
                    workflow_id,
                    self.engine.registry.workflow_metrics(""),
                    WorkflowStatus::Blocked,
                    Some(message),
                    now,
                ))));
            }
        };
        if record.status.is_finished() {
            return Load::Stopped(None);
        }
        let wf = record.workflow_id.as_str();
        record_run(&record.name, wf);
        let history = match RecordedHistory::decode(&rows) {
            Ok(h) => h,
            Err(e) => {
                let message = format!("workflow `{wf}` run `{run_id}`: {e}");
                tracing::error!(error = %message, "corrupt history; the run is marked failed");
                return Load::Stopped(Some(Box::new(status_step(
                    run_id,
                    wf,
                    self.engine.registry.workflow_metrics(&record.name),
                    WorkflowStatus::Failed,
                    Some(message),
                    now,
                ))));
            }
        };
        crate::metrics::cache_miss();
        let replayed = LiveRun::replay(
            Arc::from(wf),
            Arc::from(run_id),
            self.engine.registry.clone(),
            history,
        );
        let message = match replayed {
            Ok((run, None)) => {
                self.cache.insert(run_id.to_owned(), run);
                let unblocked = record.status == WorkflowStatus::Blocked;
                if unblocked {
                    tracing::info!("blocked run replays cleanly; resumed");
                    self.blocked.remove(run_id);
                }
                return Load::Ready { unblocked };
            }
            Ok((_, Some(Outcome::Fault(fault)))) => {
                format!("workflow `{wf}` run `{run_id}`: {fault}")
            }
            // A replay that ends the run is a fault too (checked in `replay`).
            Ok((_, Some(_))) => return Load::Stopped(None),
            Err(e) => format!("workflow `{wf}` run `{run_id}`: {e}"),
        };
        self.blocked.insert(run_id.to_owned());
        if record.status == WorkflowStatus::Blocked
            && record.error.as_deref() == Some(message.as_str())
        {
            // Blocked already, for this reason: logged when it was.
            tracing::debug!(error = %message, "workflow run still blocked");
            return Load::Stopped(None);
        }
        tracing::error!(error = %message, "workflow run stopped; it resumes with fixed code (at a restart, or `reprise resume`)");
        Load::Stopped(Some(Box::new(status_step(
            run_id,
            wf,
            self.engine.registry.workflow_metrics(&record.name),
            WorkflowStatus::Blocked,
            Some(message),
            now,
        ))))
    }
}

/// A run that stays blocked consumes the resume requests it was sent (so
/// they do not bring it back at every claim), and nothing else: its signals
/// wait for code that replays it.
pub(super) fn consume_wakes(
    run_id: &str,
    workflow_id: Option<&str>,
    step: Option<(StepCommit, AfterCommit)>,
    wakes: Vec<u64>,
    now: u64,
) -> (StepCommit, AfterCommit) {
    match step {
        Some((mut step, after)) => {
            step.done_inbox.extend(wakes);
            (step, after)
        }
        None => (
            StepCommit {
                run_id: run_id.to_owned(),
                done_inbox: wakes,
                now_ms: now,
                ..StepCommit::default()
            },
            AfterCommit::status(workflow_id.unwrap_or_default(), run_id, false),
        ),
    }
}
