//! The timer task: the deadlines of durable timers and of activity attempts
//! waiting out a retry backoff, in order, with the ones that no longer
//! matter taken out: a timer cancelled by its run (its `Sleep` dropped), and
//! everything of a run that ended. So the task holds what is still due,
//! whatever the runs did before.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::command::Resolution;
use crate::store::Task;

use super::{Completion, Engine, WfMsg};

/// Something the timer task waits for.
#[derive(Debug)]
pub(super) enum Due {
    /// A durable timer fires.
    Timer { run_id: String, seq: u32 },
    /// An activity attempt may start; the workflow type that called it, when known.
    Attempt(Box<Task>, Option<Arc<str>>),
}

impl Due {
    fn key(&self) -> (String, u32) {
        match self {
            Due::Timer { run_id, seq } => (run_id.clone(), *seq),
            Due::Attempt(task, _) => (task.run_id.clone(), task.seq),
        }
    }
}

/// A message to the timer task.
#[derive(Debug)]
pub(super) enum TimerMsg {
    /// Wait for this deadline (Unix ms, store clock).
    Arm(u64, Due),
    /// Forget the deadline of one call of a run.
    Cancel { run_id: String, seq: u32 },
    /// Forget every deadline of a run (it ended).
    CancelRun(String),
}

/// The deadlines, by time and by call.
#[derive(Debug, Default)]
struct Deadlines {
    /// `(due, id)` → what is due; `id` orders equal deadlines by arrival.
    by_time: BTreeMap<(u64, u64), Due>,
    /// `(run, seq)` → its entry in `by_time`.
    by_call: BTreeMap<(String, u32), (u64, u64)>,
    next_id: u64,
}

impl Deadlines {
    fn apply(&mut self, msg: TimerMsg) {
        match msg {
            TimerMsg::Arm(due, item) => {
                let key = item.key();
                if let Some(old) = self.by_call.remove(&key) {
                    self.by_time.remove(&old);
                }
                self.next_id += 1;
                let at = (due, self.next_id);
                self.by_time.insert(at, item);
                self.by_call.insert(key, at);
            }
            TimerMsg::Cancel { run_id, seq } => {
                if let Some(at) = self.by_call.remove(&(run_id, seq)) {
                    self.by_time.remove(&at);
                }
            }
            TimerMsg::CancelRun(run_id) => {
                let calls: Vec<(String, u32)> = self
                    .by_call
                    .range((run_id.clone(), 0)..=(run_id, u32::MAX))
                    .map(|(key, _)| key.clone())
                    .collect();
                for key in calls {
                    if let Some(at) = self.by_call.remove(&key) {
                        self.by_time.remove(&at);
                    }
                }
            }
        }
    }

    fn next(&self) -> Option<u64> {
        self.by_time.keys().next().map(|(due, _)| *due)
    }

    /// Takes the first entry due at `now`, if any.
    fn pop_due(&mut self, now: u64) -> Option<Due> {
        let (&at, _) = self
            .by_time
            .iter()
            .next()
            .filter(|((due, _), _)| *due <= now)?;
        let item = self.by_time.remove(&at)?;
        self.by_call.remove(&item.key());
        Some(item)
    }
}

/// Runs the deadlines until the channel closes.
pub(super) async fn run_timers(engine: Arc<Engine>, mut rx: mpsc::UnboundedReceiver<TimerMsg>) {
    let mut deadlines = Deadlines::default();
    loop {
        let next = deadlines.next();
        let sleep = async {
            match next {
                Some(due) => {
                    let wait = due.saturating_sub(engine.now_ms());
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            msg = rx.recv() => {
                let Some(msg) = msg else { return };
                deadlines.apply(msg);
                while let Ok(msg) = rx.try_recv() {
                    deadlines.apply(msg);
                }
            }
            () = sleep => {
                let now = engine.now_ms();
                while let Some(item) = deadlines.pop_due(now) {
                    match item {
                        Due::Timer { run_id, seq } => {
                            engine.send(WfMsg::Complete(Box::new(Completion {
                                workflow_id: String::new(),
                                run_id,
                                seq,
                                token: 0,
                                resolution: Resolution::Timer,
                            })))
                        }
                        Due::Attempt(task, workflow) => engine.dispatch(*task, workflow),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timer(run: &str, seq: u32) -> Due {
        Due::Timer {
            run_id: run.to_owned(),
            seq,
        }
    }

    #[test]
    fn cancelled_and_ended_deadlines_are_forgotten() {
        let mut d = Deadlines::default();
        d.apply(TimerMsg::Arm(30, timer("a", 1)));
        d.apply(TimerMsg::Arm(10, timer("a", 2)));
        d.apply(TimerMsg::Arm(20, timer("b", 1)));
        // Armed again (a claim after a restart): one entry.
        d.apply(TimerMsg::Arm(10, timer("a", 2)));
        assert_eq!(d.by_time.len(), 3);
        d.apply(TimerMsg::Cancel {
            run_id: "b".into(),
            seq: 1,
        });
        assert_eq!(d.next(), Some(10));
        assert!(matches!(d.pop_due(15), Some(Due::Timer { seq: 2, .. })));
        assert!(d.pop_due(15).is_none());
        d.apply(TimerMsg::CancelRun("a".into()));
        assert!(d.by_time.is_empty() && d.by_call.is_empty());
    }
}
