//! The JetStream broker (`--broker nats://HOST:PORT --stream NAME`).
//!
//! - Events: stream `NAME-events`, subject `NAME.events`, one JSON event
//!   per message; an event's offset is its stream sequence.
//! - Window results: stream `NAME-results`, subject `NAME.results`, one
//!   JSON result per window, published with the header `Nats-Msg-Id:
//!   window-N`. A write first looks at the last result and publishes
//!   nothing if the window is there (the rerun of a write killed after its
//!   publish); two publishes of a window in flight at once are dropped by
//!   the server, whose duplicate window is [`RESULTS_DUPLICATE_WINDOW`].
//! - The processor's consumer: the durable pull consumer `NAME-ID` (ID: the
//!   workflow id) on the events, explicit acks. It is acknowledged up to a
//!   window's last offset only after that window's result is recorded in the
//!   workflow's history, by an activity of its own.
//!
//! Which events a window holds is never decided by what a consumer happens
//! to deliver (after a restart a durable consumer delivers new messages
//! before the ones pending at the crash): windows are ranges of stream
//! sequences, read with short-lived consumers that start at a sequence, and
//! recorded in the history. The durable consumer is the broker's record of
//! what is done: its ack floor, pending count and redeliveries are what
//! `nats consumer info` shows.

use async_nats::jetstream::consumer::pull::Config as PullConfig;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::context::Publish;
use async_nats::jetstream::message::AckKind;
use async_nats::jetstream::stream::{Config as StreamConfig, LastRawMessageErrorKind, StorageType};
use async_nats::jetstream::{self, stream::Stream};
use futures_util::StreamExt;

use super::broker::{BrokerError, Event};
use super::*;

/// How long the results stream remembers a window's `Nats-Msg-Id`.
pub(crate) const RESULTS_DUPLICATE_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The processor's consumer redelivers a message not acknowledged within
/// this time (the messages fetched when a processor was killed).
const ACK_WAIT: Duration = Duration::from_secs(3);

/// Messages fetched in one pull.
const PULL_BATCH: usize = 500;

/// A JetStream server, with the streams of one `--stream` name.
#[derive(Debug)]
pub(crate) struct JetStream {
    js: jetstream::Context,
    name: String,
    events: Stream,
    results: Stream,
}

/// Checks a `--stream` name: it names streams, subjects and consumers.
pub(crate) fn check_stream_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--stream: `{name}` is not a valid name (1 to 64 letters, digits, `-` or `_`)"
        ))
    }
}

impl JetStream {
    /// Connects and creates the two streams if they do not exist.
    pub(crate) async fn connect(url: &str, name: &str) -> Result<Self, BrokerError> {
        check_stream_name(name)?;
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|e| format!("cannot connect to NATS at {url}: {e}"))?;
        let js = jetstream::new(client);
        let stream = |suffix: &str, duplicate_window| StreamConfig {
            name: format!("{name}-{suffix}"),
            subjects: vec![format!("{name}.{suffix}")],
            storage: StorageType::File,
            duplicate_window,
            ..Default::default()
        };
        let create = |config: StreamConfig| {
            let js = js.clone();
            async move {
                let stream = config.name.clone();
                js.get_or_create_stream(config).await.map_err(|e| {
                    format!("NATS at {url}: cannot open stream `{stream}` (is JetStream on? nats-server -js): {e}")
                })
            }
        };
        let events = create(stream("events", Duration::from_secs(120))).await?;
        let results = create(stream("results", RESULTS_DUPLICATE_WINDOW)).await?;
        Ok(Self {
            js,
            name: name.to_owned(),
            events,
            results,
        })
    }

    /// The subject `NAME.suffix`.
    fn subject(&self, suffix: &str) -> String {
        format!("{}.{suffix}", self.name)
    }

    /// The durable consumer of workflow `id`: `NAME-ID`, with the
    /// characters a consumer name cannot hold replaced by `_`.
    fn durable_name(&self, id: &str) -> String {
        let id: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{}-{id}", self.name)
    }

    /// Up to `limit` messages of `stream` from sequence `start` on, in
    /// sequence order, read by a short-lived consumer (no acks, deleted
    /// after use).
    async fn read_from(
        stream: &Stream,
        start: i64,
        limit: u64,
    ) -> Result<Vec<(i64, Vec<u8>)>, BrokerError> {
        let consumer: PullConsumer = stream
            .create_consumer(PullConfig {
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: u64::try_from(start.max(1))?,
                },
                ack_policy: AckPolicy::None,
                inactive_threshold: Duration::from_secs(30),
                memory_storage: true,
                ..Default::default()
            })
            .await?;
        let read = Self::pull(&consumer, limit).await;
        let name = consumer.cached_info().name.clone();
        let _ = stream.delete_consumer(&name).await;
        read
    }

    /// Pulls up to `limit` messages from `consumer`, until it has no more.
    async fn pull(consumer: &PullConsumer, limit: u64) -> Result<Vec<(i64, Vec<u8>)>, BrokerError> {
        let mut out = Vec::new();
        while (out.len() as u64) < limit {
            let want = (limit - out.len() as u64).min(PULL_BATCH as u64) as usize;
            let mut batch = consumer.fetch().max_messages(want).messages().await?;
            let before = out.len();
            while let Some(message) = batch.next().await {
                let message = message?;
                let seq = i64::try_from(message.info()?.stream_sequence)?;
                out.push((seq, message.payload.to_vec()));
            }
            if out.len() == before {
                break;
            }
        }
        Ok(out)
    }

    /// Sequence and timestamp of up to `limit` events after sequence
    /// `after`, and the stream's last sequence.
    pub(crate) async fn stamps_after(
        &self,
        after: i64,
        limit: u64,
    ) -> Result<(Vec<(i64, i64)>, i64), BrokerError> {
        let head = self.head().await?;
        if head <= after {
            return Ok((Vec::new(), head));
        }
        let limit = limit.min(u64::try_from(head - after)?);
        let rows = Self::read_from(&self.events, after + 1, limit)
            .await?
            .into_iter()
            .map(|(seq, payload)| Ok((seq, serde_json::from_slice::<Event>(&payload)?.ts_ms)))
            .collect::<Result<Vec<_>, BrokerError>>()?;
        Ok((rows, head))
    }

    /// The events at sequences `first ..= last`; an error if one is missing.
    pub(crate) async fn events(&self, first: i64, last: i64) -> Result<Vec<Event>, BrokerError> {
        let messages =
            Self::read_from(&self.events, first, u64::try_from(last - first + 1)?).await?;
        let mut events = Vec::with_capacity(messages.len());
        for (i, (seq, payload)) in messages.into_iter().enumerate() {
            if seq != first + i as i64 {
                return Err(format!(
                    "stream `{}-events`: sequence {} is missing (a deleted message)",
                    self.name,
                    first + i as i64
                )
                .into());
            }
            events.push(serde_json::from_slice(&payload)?);
        }
        Ok(events)
    }

    /// Publishes a window's result with `Nats-Msg-Id: window-N`, unless
    /// the last result is already this window or a later one.
    pub(crate) async fn write(&self, result: &WindowResult) -> Result<(), BrokerError> {
        if let Some(last) = self.last_result().await? {
            if last.window_no >= result.window_no {
                return Ok(());
            }
        }
        let publish = Publish::build()
            .payload(serde_json::to_vec(result)?.into())
            .message_id(format!("window-{}", result.window_no));
        self.js
            .send_publish(self.subject("results"), publish)
            .await?
            .await?;
        Ok(())
    }

    /// Acknowledges every event up to `through` on the durable consumer
    /// of workflow `id`: pulls what it delivers, acks what is at or before
    /// `through`, naks (redelivery now) what is after. Messages fetched by
    /// a killed process come back after [`ACK_WAIT`]; this waits for them,
    /// so that when it returns the consumer's ack floor is `through`.
    pub(crate) async fn acknowledge(&self, id: &str, through: i64) -> Result<(), BrokerError> {
        let name = self.durable_name(id);
        let mut consumer: PullConsumer = self
            .events
            .get_or_create_consumer(
                &name,
                PullConfig {
                    durable_name: Some(name.clone()),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: ACK_WAIT,
                    deliver_policy: DeliverPolicy::All,
                    ..Default::default()
                },
            )
            .await?;
        let through = u64::try_from(through)?;
        let (mut floor, mut since) = (0, Instant::now());
        loop {
            let now = consumer.info().await?.ack_floor.stream_sequence;
            if now >= through {
                return Ok(());
            }
            if now > floor {
                (floor, since) = (now, Instant::now());
            }
            if since.elapsed() > ACK_WAIT * 3 {
                return Err(format!(
                    "consumer `{name}`: acknowledged up to {floor}, not {through}"
                )
                .into());
            }
            let want = usize::try_from(through - now)?.min(PULL_BATCH);
            let mut batch = consumer.fetch().max_messages(want).messages().await?;
            let mut acked = 0;
            while let Some(message) = batch.next().await {
                let message = message?;
                if message.info()?.stream_sequence <= through {
                    message.ack().await?;
                    acked += 1;
                } else {
                    message.ack_with(AckKind::Nak(None)).await?;
                }
            }
            if acked == 0 {
                // Only later messages, or none: the ones in flight at a
                // crash are still waiting out their ack wait.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// Every message of the results stream, in stream order.
    pub(crate) async fn results(&self) -> Result<Vec<WindowResult>, BrokerError> {
        let count = self.results.get_info().await?.state.messages;
        Self::read_from(&self.results, 1, count)
            .await?
            .iter()
            .map(|(_, payload)| Ok(serde_json::from_slice(payload)?))
            .collect()
    }

    /// The last message on the results subject, if any.
    pub(crate) async fn last_result(&self) -> Result<Option<WindowResult>, BrokerError> {
        match self
            .results
            .get_last_raw_message_by_subject(&self.subject("results"))
            .await
        {
            Ok(message) => Ok(Some(serde_json::from_slice(&message.payload)?)),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Counted by the server: the messages pending for a consumer that
    /// starts at `first`, less those for one that starts after `last`.
    pub(crate) async fn count_events(&self, first: i64, last: i64) -> Result<u64, BrokerError> {
        let head = self.head().await?;
        let from = |start: i64| async move {
            if start > head {
                return Ok::<u64, BrokerError>(0);
            }
            let consumer: PullConsumer = self
                .events
                .create_consumer(PullConfig {
                    deliver_policy: DeliverPolicy::ByStartSequence {
                        start_sequence: u64::try_from(start.max(1))?,
                    },
                    ack_policy: AckPolicy::None,
                    inactive_threshold: Duration::from_secs(30),
                    memory_storage: true,
                    ..Default::default()
                })
                .await?;
            let info = consumer.cached_info();
            let _ = self.events.delete_consumer(&info.name).await;
            Ok(info.num_pending)
        };
        Ok(from(first).await? - from(last + 1).await?)
    }

    /// The events stream's last sequence (0 when it is empty).
    pub(crate) async fn head(&self) -> Result<i64, BrokerError> {
        Ok(i64::try_from(
            self.events.get_info().await?.state.last_sequence,
        )?)
    }

    /// Publishes the events in order, then waits for their acks.
    pub(crate) async fn append(&self, events: Vec<Event>) -> Result<(i64, i64), BrokerError> {
        let mut acks = Vec::with_capacity(events.len());
        for event in &events {
            let payload = serde_json::to_vec(event)?;
            acks.push(
                self.js
                    .publish(self.subject("events"), payload.into())
                    .await?,
            );
        }
        let (mut first, mut last) = (None, 0);
        for ack in acks {
            last = i64::try_from(ack.await?.sequence)?;
            first.get_or_insert(last);
        }
        Ok((first.unwrap_or(last + 1), last))
    }
}
