//! Sending wake-ups: `pg_notify` after a write commits, coalesced.
//!
//! PostgreSQL holds one database-wide lock across the commit of every
//! transaction that notified, so transactions that notify commit one at a
//! time. A write therefore never notifies in its own transaction: it asks
//! this module, after its commit, and one background task sends
//! `pg_notify` in a transaction of its own, once for every request that
//! arrived while the previous one was on its way. A process that dies
//! between a commit and its notification leaves the wake-up to the other
//! workers' poll.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The requests waiting to be sent.
#[derive(Debug, Default)]
struct Pending {
    work: AtomicBool,
    done: AtomicBool,
    slot: AtomicBool,
    wake: Notify,
}

/// The notifying task of a store.
#[derive(Debug)]
pub(super) struct Notifier {
    pending: Arc<Pending>,
    task: JoinHandle<()>,
}

impl Notifier {
    /// Starts the task, which takes connections from `pool`.
    pub(super) fn start(pool: Pool) -> Self {
        let pending = Arc::new(Pending::default());
        let task = tokio::spawn(run(pool, pending.clone()));
        Self { pending, task }
    }

    /// Work may be claimable (`reprise_work`).
    pub(super) fn work(&self) {
        self.pending.work.store(true, Ordering::Release);
        self.pending.wake.notify_one();
    }

    /// A workflow's run ended (`reprise_done`).
    pub(super) fn done(&self) {
        self.pending.done.store(true, Ordering::Release);
        self.pending.wake.notify_one();
    }

    /// A slot of an activity's limits was given back (`reprise_slot`).
    pub(super) fn slot(&self) {
        self.pending.slot.store(true, Ordering::Release);
        self.pending.wake.notify_one();
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(pool: Pool, pending: Arc<Pending>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        pending.wake.notified().await;
        let work = pending.work.swap(false, Ordering::AcqRel);
        let done = pending.done.swap(false, Ordering::AcqRel);
        let slot = pending.slot.swap(false, Ordering::AcqRel);
        let channels: Vec<String> = [
            (work, "reprise_work"),
            (done, "reprise_done"),
            (slot, "reprise_slot"),
        ]
        .into_iter()
        .filter(|(pending, _)| *pending)
        .map(|(_, channel)| format!("pg_notify('{channel}', '')"))
        .collect();
        if channels.is_empty() {
            continue;
        }
        let sql = format!("SELECT {}", channels.join(", "));
        let sent = match pool.get().await {
            Ok(client) => client.batch_execute(&sql).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match sent {
            Ok(()) => backoff = Duration::from_millis(50),
            Err(e) => {
                // Sent again shortly; meanwhile the workers' poll is the
                // safety net.
                tracing::debug!(error = %e, "could not send a notification; retrying");
                pending.work.fetch_or(work, Ordering::AcqRel);
                pending.done.fetch_or(done, Ordering::AcqRel);
                pending.slot.fetch_or(slot, Ordering::AcqRel);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                pending.wake.notify_one();
            }
        }
    }
}
