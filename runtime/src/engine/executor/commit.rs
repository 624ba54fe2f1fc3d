//! One batch: each run's step (or its stop), committed together, then
//! what the commit lets happen (tasks scheduled, waiters woken, the next
//! run of a chain started).

use super::*;

impl Executor {
    pub(super) async fn process(
        &mut self,
        per_run: Vec<(String, RunBatch)>,
        faults: Vec<(String, RunFault)>,
    ) {
        let now = self.engine.now_ms();
        let mut steps = Vec::new();
        let mut after = Vec::new();
        for (run_id, fault) in faults {
            if !self.owned.contains_key(&run_id) {
                tracing::warn!(run.id = %run_id, %fault, "a run held by another worker cannot go on here");
                continue;
            }
            let blocked = self
                .block(&run_id, &fault, now)
                .instrument(activation_span(&run_id))
                .await;
            if let Some((step, then)) = blocked {
                steps.push(step);
                after.push(then);
            }
        }
        for (run_id, batch) in per_run {
            // One span per activation: the run's fields are recorded once
            // it is loaded (`record_run`).
            let span = activation_span(&run_id);
            let stepped = match batch.terminate.clone() {
                Some((id, reason)) => {
                    self.terminate(&run_id, id, &reason, batch.inbox, now)
                        .instrument(span)
                        .await
                }
                None => self.step(&run_id, batch, now).instrument(span).await,
            };
            if let Some((step, then)) = stepped {
                steps.push(step);
                after.push(then);
            }
        }
        for (step, then) in steps.iter_mut().zip(after.iter_mut()) {
            let token = self.owned.get(&step.run_id).copied().unwrap_or_default();
            fence(step, &self.engine, token);
            then.token = token;
            // The store holds the step's tasks under the run's token.
            for task in &mut then.new_tasks {
                task.token = token;
            }
        }
        if steps.is_empty() {
            return;
        }
        let count = steps.len();
        // Children created and messages sent are claimed from the store
        // (here, or by any worker of a shared store).
        let kick = steps
            .iter()
            .any(|s| !s.children.is_empty() || !s.messages.is_empty());
        let started = std::time::Instant::now();
        let results = self.engine.store.commit_steps(steps).await;
        crate::metrics::commit(count, started.elapsed().as_secs_f64());
        if kick {
            self.engine.kick();
        }
        for (result, then) in results.into_iter().zip(after) {
            if let Err(e) = result {
                self.cache.remove(&then.run_id);
                self.blocked.remove(&then.run_id);
                if self.owned.get(&then.run_id) == Some(&then.token) {
                    self.owned.remove(&then.run_id);
                }
                if e.is_fenced() {
                    // Another worker took the run (this worker's lease had
                    // expired): it is theirs now.
                    tracing::warn!(run.id = %then.run_id, error = %Chain(&e), "a run moved to another worker; dropped here");
                    continue;
                }
                // The run's memory is ahead of the store: forget it, and
                // have it claimed again from what is stored in a moment.
                tracing::error!(run.id = %then.run_id, error = %Chain(&e), "could not commit a workflow step; retrying");
                self.engine.set_stalled(&then.run_id, Some(e.to_string()));
                self.stalled.insert(then.run_id.clone());
                self.forget_delivered(&then.inbox);
                let engine = self.engine.clone();
                self.engine.spawn_detached(async move {
                    tokio::time::sleep(REDRIVE_DELAY).await;
                    engine.redrive(then.run_id, then.token).await;
                });
                continue;
            }
            // Only a run whose commit failed before: the common step takes
            // no lock here.
            if self.stalled.remove(&then.run_id) {
                self.engine.set_stalled(&then.run_id, None);
            }
            if let Some(metrics) = &then.metrics {
                if then.started {
                    metrics.started();
                }
                if let Some(status) = then.status {
                    metrics.status(status);
                }
            }
            for task in then.new_tasks {
                self.engine.schedule(task, then.workflow.clone());
            }
            for seq in then.cancelled_calls {
                self.engine.cancel_attempt(&then.run_id, Some(seq));
            }
            for seq in then.cancelled_timers {
                self.engine.cancel_timer(&then.run_id, seq);
            }
            if then.wake {
                self.owned.remove(&then.run_id);
                self.engine.cancel_attempt(&then.run_id, None);
                self.engine.forget_run_deadlines(&then.run_id);
                self.engine.wake_waiters(&then.workflow_id);
            }
            if let Some(mut next) = then.next_run {
                // The same worker holds the next run, under the same token.
                next.token = then.token;
                self.engine.send(WfMsg::Started(next));
            }
        }
        self.cache.trim();
    }
}
