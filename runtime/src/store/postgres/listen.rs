//! Wake-ups by `LISTEN`/`NOTIFY`.
//!
//! Writes that make work claimable notify channel `reprise_work`, steps that
//! end a run notify `reprise_done` (after their commit, `notify.rs`). One
//! background task per store holds a dedicated connection (not one of the
//! pool's) that listens to the three channels and counts the notifications in
//! three `watch` channels, which is all a waiting worker needs: a changed value.
//!
//! When the connection is lost the task reconnects, waiting 100 ms, then
//! twice as long after each failure, up to 5 s; once listening again it bumps
//! both counters, since notifications sent meanwhile are lost. The task ends
//! when the store is dropped (the store aborts it).

use std::time::Duration;

use futures_util::future::poll_fn;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{AsyncMessage, Client, Connection, NoTls, Socket};

use super::errors::describe;
use super::secrets::scrub;
use super::Target;

/// The channel of "work may be claimable".
pub(super) const WORK: &str = "reprise_work";
/// The channel of "a workflow's run ended".
pub(super) const DONE: &str = "reprise_done";
/// The channel of "a slot of an activity's limits was given back".
pub(super) const SLOT: &str = "reprise_slot";

/// First wait before reconnecting.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between two reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// TCP keepalive of the listening connection, so that a connection that died
/// silently (a cable, a NAT table) is noticed within a minute or so.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
/// Interval between the keepalive probes of the listening connection.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered probes after which the listening connection is dead.
const KEEPALIVE_RETRIES: u32 = 3;

/// A connected, listening connection.
type Listening = (Client, Connection<Socket, NoTlsStream>);

/// The running listener of a store.
#[derive(Debug)]
pub(super) struct Listener {
    /// Bumped at every `reprise_work` notification.
    pub(super) work: watch::Receiver<u64>,
    /// Bumped at every `reprise_done` notification.
    pub(super) done: watch::Receiver<u64>,
    /// Bumped at every `reprise_slot` notification.
    pub(super) slots: watch::Receiver<u64>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Connects and listens (so that nothing notified after this returns is
    /// missed), then hands the connection to a background task.
    pub(super) async fn start(
        mut config: tokio_postgres::Config,
        target: Target,
    ) -> Result<Listener, ListenError> {
        if config.get_keepalives_idle() > KEEPALIVE_IDLE {
            config
                .keepalives_idle(KEEPALIVE_IDLE)
                .keepalives_interval(KEEPALIVE_INTERVAL)
                .keepalives_retries(KEEPALIVE_RETRIES);
        }
        let (work_tx, work) = watch::channel(0);
        let (done_tx, done) = watch::channel(0);
        let (slots_tx, slots) = watch::channel(0);
        let first = connect(&config).await?;
        let counters = Counters {
            work: work_tx,
            done: done_tx,
            slots: slots_tx,
        };
        let task = tokio::spawn(run(config, target, first, counters));
        Ok(Listener {
            work,
            done,
            slots,
            task,
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Why listening failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum ListenError {
    /// The server or the connection failed.
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
}

impl ListenError {
    /// The error as a message without secrets.
    pub(super) fn describe(&self, target: &Target) -> String {
        match self {
            ListenError::Postgres(e) => scrub(&describe(e), target.secrets()),
            ListenError::Closed => self.to_string(),
        }
    }
}

/// The counters the listener bumps, one per channel.
struct Counters {
    work: watch::Sender<u64>,
    done: watch::Sender<u64>,
    slots: watch::Sender<u64>,
}

/// Tells the receivers of `counter` that something happened.
fn bump(counter: &watch::Sender<u64>) {
    counter.send_modify(|n| *n = n.wrapping_add(1));
}

/// Opens a connection and runs `LISTEN` on it.
async fn connect(config: &tokio_postgres::Config) -> Result<Listening, ListenError> {
    let (client, mut connection) = config.connect(NoTls).await?;
    {
        // The connection must be driven for the `LISTEN` to be sent and
        // answered; notifications cannot arrive before it is.
        let listen =
            client.batch_execute("LISTEN reprise_work; LISTEN reprise_done; LISTEN reprise_slot");
        tokio::pin!(listen);
        loop {
            tokio::select! {
                result = &mut listen => {
                    result?;
                    break;
                }
                message = poll_fn(|cx| connection.poll_message(cx)) => match message {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.into()),
                    None => return Err(ListenError::Closed),
                },
            }
        }
    }
    Ok((client, connection))
}

/// Drives the listening connection, reconnecting when it is lost.
async fn run(config: tokio_postgres::Config, target: Target, first: Listening, counters: Counters) {
    let mut current = Some(first);
    let mut backoff = FIRST_BACKOFF;
    loop {
        let (client, mut connection) = match current.take() {
            Some(listening) => listening,
            None => {
                tokio::time::sleep(backoff).await;
                match connect(&config).await {
                    Ok(listening) => {
                        tracing::info!(database = %target, "listening for PostgreSQL notifications again");
                        backoff = FIRST_BACKOFF;
                        // Whatever was notified while disconnected is lost.
                        bump(&counters.work);
                        bump(&counters.done);
                        bump(&counters.slots);
                        listening
                    }
                    Err(e) => {
                        tracing::warn!(
                            database = %target,
                            error = %e.describe(&target),
                            retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                            "cannot listen for PostgreSQL notifications"
                        );
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                }
            }
        };
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => match n.channel() {
                    WORK => bump(&counters.work),
                    DONE => bump(&counters.done),
                    SLOT => bump(&counters.slots),
                    _ => {}
                },
                Some(Ok(_)) => {} // a notice
                Some(Err(e)) => {
                    tracing::warn!(
                        database = %target,
                        error = %scrub(&describe(&e), target.secrets()),
                        "lost the PostgreSQL connection that listens for notifications"
                    );
                    break;
                }
                None => {
                    tracing::warn!(
                        database = %target,
                        "the PostgreSQL connection that listens for notifications was closed"
                    );
                    break;
                }
            }
        }
        drop(client);
    }
}
