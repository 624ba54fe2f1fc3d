//! Limits of activities: an attempt of an activity with `max_concurrent` or
//! `rate` takes a slot from the store before it runs, and gives it back
//! when its body ends.
//!
//! The store decides (`Store::acquire_slot`), over every worker of the
//! store, so a limit holds cluster-wide. An attempt that finds the limits
//! reached waits without holding one of this process's
//! `max_concurrent_activities` permits, and asks again when:
//!
//! * an attempt of the same `(activity, key)` gives its slot back in this
//!   process (one waiter of that pair is woken);
//! * another process gives a slot back (stores with notifications: one
//!   waiter of every pair waiting here is woken);
//! * the rate window frees a start (the store says when);
//! * at the latest after half a lease, the safety net for the rest: a
//!   dead worker's slots free themselves only when its lease expires, so
//!   looking more often would only load the store (every waiter's look
//!   takes the pair's lock).
//!
//! Its `schedule_to_close` deadline keeps running while it waits; the task
//! shows the wait (`PendingStep::waiting_for_slot_since`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::{Engine, MAX_BACKOFF};
use crate::context::ActivityContext;
use crate::error::Chain;
use crate::metrics::ActivityMetrics;
use crate::store::{SlotGrant, SlotRequest, Task};

/// How a wait for a slot ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SlotWait {
    /// The attempt holds a slot: run it, then give the slot back.
    Granted,
    /// The call's `schedule_to_close` deadline passed while it waited.
    TimedOut,
    /// The call ended meanwhile (cancelled, its workflow ended, another
    /// worker holds its task now): do not run it.
    Gone,
}

/// The attempts of this process waiting for a slot, one wake-up per
/// `(activity, key)` pair.
#[derive(Debug, Default)]
pub(super) struct SlotWaiters {
    pairs: Mutex<HashMap<String, Arc<Notify>>>,
}

impl SlotWaiters {
    fn waiter(&self, pair: &str) -> Arc<Notify> {
        let mut pairs = self.pairs.lock().unwrap_or_else(|p| p.into_inner());
        pairs.entry(pair.to_owned()).or_default().clone()
    }

    /// Forgets a pair's wake-up once nobody waits on it any more.
    fn done(&self, pair: &str, waiter: Arc<Notify>) {
        let mut pairs = self.pairs.lock().unwrap_or_else(|p| p.into_inner());
        drop(waiter);
        if pairs.get(pair).is_some_and(|w| Arc::strong_count(w) == 1) {
            pairs.remove(pair);
        }
    }

    /// A slot of `pair` was given back here: one of its waiters asks again.
    fn wake_one(&self, pair: &str) {
        let pairs = self.pairs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(waiter) = pairs.get(pair) {
            waiter.notify_one();
        }
    }

    /// A slot was given back somewhere else: one waiter of each pair asks again.
    pub(super) fn wake_every_pair(&self) {
        let pairs = self.pairs.lock().unwrap_or_else(|p| p.into_inner());
        for waiter in pairs.values() {
            waiter.notify_one();
        }
    }
}

/// The `(activity, key)` pair of a task, as one string.
fn pair(task: &Task) -> String {
    let key = task.options.limit_key.as_deref().unwrap_or_default();
    format!("{}\u{0}{key}", task.name)
}

impl Engine {
    /// Waits until the store grants the attempt a slot of its activity's
    /// limits, the call's deadline passes, or the call ends. A wait (a
    /// refusal, then asking again) is counted and timed in `metrics`.
    pub(super) async fn wait_for_slot(
        &self,
        task: &Task,
        ctx: &ActivityContext,
        deadline: Option<u64>,
        metrics: &ActivityMetrics,
    ) -> SlotWait {
        let pair = pair(task);
        let waiter = self.slot_waiters.waiter(&pair);
        let mut waiting = None;
        let outcome = self
            .slot_loop(task, ctx, deadline, &waiter, metrics, &mut waiting)
            .await;
        self.slot_waiters.done(&pair, waiter);
        if let Some(since) = waiting {
            metrics.slot_wait_ended(since.elapsed().as_secs_f64());
        }
        outcome
    }

    /// Asks for a slot until one is granted; `waiting` is set at the first
    /// refusal, to when it came.
    async fn slot_loop(
        &self,
        task: &Task,
        ctx: &ActivityContext,
        deadline: Option<u64>,
        waiter: &Notify,
        metrics: &ActivityMetrics,
        waiting: &mut Option<Instant>,
    ) -> SlotWait {
        let mut backoff = Duration::from_millis(100);
        loop {
            if ctx.is_cancelled_by_workflow() {
                return SlotWait::Gone;
            }
            let now = self.now_ms();
            if deadline.is_some_and(|deadline| now >= deadline) {
                return SlotWait::TimedOut;
            }
            // Registered before asking, so that a slot given back while the
            // store answers is not missed.
            let notified = waiter.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let request = SlotRequest {
                run_id: task.run_id.clone(),
                seq: task.seq,
                token: task.token,
                activity: task.name.clone(),
                key: task.options.limit_key.clone().unwrap_or_default(),
                max_concurrent: task.options.max_concurrent,
                rate: task.options.rate,
                lease: self.lease.clone(),
                now_ms: now,
            };
            let mut wait = self.lease.duration / 2;
            match self.store.acquire_slot(request).await {
                Ok(SlotGrant::Granted) => return SlotWait::Granted,
                Ok(SlotGrant::Busy { retry_at_ms }) => {
                    if waiting.is_none() {
                        *waiting = Some(Instant::now());
                        metrics.slot_wait_began();
                        tracing::debug!("waiting for a slot of the activity's limits");
                    }
                    backoff = Duration::from_millis(100);
                    if let Some(at) = retry_at_ms {
                        wait = wait.min(Duration::from_millis(at.saturating_sub(now)));
                    }
                }
                Err(e) if e.is_fenced() => return SlotWait::Gone,
                Err(e) => {
                    tracing::warn!(error = %Chain(&e), "could not ask for a slot of the activity's limits; retrying");
                    wait = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            if let Some(deadline) = deadline {
                let left = deadline.saturating_sub(self.now_ms());
                wait = wait.min(Duration::from_millis(left));
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Gives an attempt's slot back and wakes a waiter of its pair here.
    pub(super) async fn release_slot(&self, task: &Task) {
        if let Err(e) = self.store.release_slot(&task.run_id, task.seq).await {
            // Its lease expires, or the attempt's next acquire replaces it.
            tracing::warn!(error = %Chain(&e), "could not give back a slot of the activity's limits");
        }
        self.slot_waiters.wake_one(&pair(task));
    }
}
