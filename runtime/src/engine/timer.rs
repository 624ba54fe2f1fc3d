//! The timer task: one heap of deadlines, for durable timers and for
//! activity attempts waiting out a retry backoff.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::history::Resolution;
use crate::store::Task;

use super::{Completion, Engine, WfMsg};

/// Something the timer task waits for.
#[derive(Debug)]
pub(super) enum Due {
    /// A durable timer fires.
    Timer { run_id: String, seq: u32 },
    /// An activity attempt may start.
    Attempt(Box<Task>),
}

/// The heap of deadlines.
pub(super) async fn run_timers(engine: Arc<Engine>, mut rx: mpsc::UnboundedReceiver<(u64, Due)>) {
    let mut heap: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
    let mut items: HashMap<u64, Due> = HashMap::new();
    let mut counter = 0u64;
    loop {
        let next = heap.peek().map(|Reverse((due, _))| *due);
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
                let Some((due, item)) = msg else { return };
                counter += 1;
                heap.push(Reverse((due, counter)));
                items.insert(counter, item);
                while let Ok((due, item)) = rx.try_recv() {
                    counter += 1;
                    heap.push(Reverse((due, counter)));
                    items.insert(counter, item);
                }
            }
            () = sleep => {
                let now = engine.now_ms();
                while let Some(Reverse((due, id))) = heap.peek().copied() {
                    if due > now {
                        break;
                    }
                    heap.pop();
                    match items.remove(&id) {
                        Some(Due::Timer { run_id, seq }) => {
                            engine.send(WfMsg::Complete(Box::new(Completion {
                                workflow_id: String::new(),
                                run_id,
                                seq,
                                token: 0,
                                resolution: Resolution::Timer,
                            })))
                        }
                        Some(Due::Attempt(task)) => engine.dispatch(*task),
                        None => {}
                    }
                }
            }
        }
    }
}
