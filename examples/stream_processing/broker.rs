//! The broker: where the processor's events come from and where its window
//! results go. Two implementations: the embedded topic (a SQLite file in
//! the data folder, the default) and a NATS JetStream server
//! (`--broker nats://HOST:PORT`). Both number events with offsets that
//! grow by one per event and never change (SQLite's row ids, JetStream's
//! stream sequences), which is all the workflow relies on.

use std::collections::HashMap;

use tokio::sync::Mutex;

use super::nats::JetStream;
use super::topic::Topic;
use super::*;

/// The error of a broker operation: one line saying what failed.
pub(crate) type BrokerError = Box<dyn Error + Send + Sync>;

/// Which broker a workflow reads and writes. It is part of the workflow's
/// input, so a resumed workflow keeps the broker it started on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum BrokerSpec {
    /// The embedded topic: `<dir>/topic.db`.
    Topic { dir: String },
    /// A JetStream server at `url`; streams and subjects are named after
    /// `stream` (see `nats.rs`).
    Nats { url: String, stream: String },
}

impl BrokerSpec {
    /// From the `--broker` and `--stream` flags: `embedded` or a `nats://`
    /// URL. The error names the flag and the bad value.
    pub(crate) fn from_flags(broker: &str, stream: &str, dir: &Path) -> Result<Self, String> {
        match broker {
            "embedded" => Ok(Self::Topic {
                dir: dir.display().to_string(),
            }),
            url if url.starts_with("nats://") || url.starts_with("tls://") => {
                super::nats::check_stream_name(stream)?;
                Ok(Self::Nats {
                    url: url.to_owned(),
                    stream: stream.to_owned(),
                })
            }
            other => Err(format!(
                "--broker: `{other}` is neither `embedded` nor a nats:// URL (e.g. nats://127.0.0.1:4222)"
            )),
        }
    }

    /// The broker in a word, as the progress shows it: `embedded`, or the
    /// server's URL and the stream's name as a path (`nats://h:4222/NAME`).
    pub(crate) fn short(&self) -> String {
        match self {
            Self::Topic { .. } => "embedded".to_owned(),
            Self::Nats { url, stream } => format!("{}/{stream}", url.trim_end_matches('/')),
        }
    }

    /// How the broker is shown: the topic's file or the server and stream.
    pub(crate) fn label(&self) -> String {
        match self {
            Self::Topic { dir } => topic::topic_path(dir).display().to_string(),
            Self::Nats { url, stream } => format!("{url} stream {stream}"),
        }
    }
}

/// An event as the producer writes it: a key (a region), a value (an
/// amount) and the producer's wall clock (epoch milliseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Event {
    pub(crate) key: String,
    pub(crate) value: f64,
    pub(crate) ts_ms: i64,
}

/// The source of events and the sink of window results.
#[derive(Debug)]
pub(crate) enum Broker {
    /// The embedded topic.
    Topic(Topic),
    /// A JetStream server.
    Nats(Box<JetStream>),
}

impl Broker {
    /// Opens the broker: the topic file, or a connection to the server
    /// (creating the streams if they do not exist).
    pub(crate) async fn open(spec: &BrokerSpec) -> Result<Self, BrokerError> {
        Ok(match spec {
            BrokerSpec::Topic { dir } => Self::Topic(Topic::open(&topic::topic_path(dir)).await?),
            BrokerSpec::Nats { url, stream } => {
                Self::Nats(Box::new(JetStream::connect(url, stream).await?))
            }
        })
    }

    /// The offset and timestamp of up to `limit` events after offset
    /// `after`, in offset order, and the last offset (the head).
    pub(crate) async fn stamps_after(
        &self,
        after: i64,
        limit: u64,
    ) -> Result<(Vec<(i64, i64)>, i64), BrokerError> {
        match self {
            Self::Topic(t) => t.stamps_after(after, limit).await,
            Self::Nats(n) => n.stamps_after(after, limit).await,
        }
    }

    /// The events at offsets `first ..= last`, in offset order.
    pub(crate) async fn events(&self, first: i64, last: i64) -> Result<Vec<Event>, BrokerError> {
        match self {
            Self::Topic(t) => t.events(first, last).await,
            Self::Nats(n) => n.events(first, last).await,
        }
    }

    /// Writes a window's result, once: writing the same window again
    /// changes nothing (an upsert by window number; a JetStream publish
    /// deduplicated by the window's id).
    pub(crate) async fn write(&self, result: &WindowResult) -> Result<(), BrokerError> {
        match self {
            Self::Topic(t) => t.write(result).await,
            Self::Nats(n) => n.write(result).await,
        }
    }

    /// Acknowledges every event up to offset `through` on the consumer of
    /// workflow `consumer`: the broker's record of what is done. The
    /// embedded topic has no consumer of its own (its consumer offset is
    /// the workflow's), so only JetStream has something to acknowledge.
    pub(crate) async fn acknowledge(
        &self,
        consumer: &str,
        through: i64,
    ) -> Result<(), BrokerError> {
        match self {
            Self::Topic(_) => {
                Err("the embedded topic has no broker-side consumer to acknowledge".into())
            }
            Self::Nats(n) => n.acknowledge(consumer, through).await,
        }
    }

    /// Every window result in the target, in window order.
    pub(crate) async fn results(&self) -> Result<Vec<WindowResult>, BrokerError> {
        let mut results = match self {
            Self::Topic(t) => t.results().await?,
            Self::Nats(n) => n.results().await?,
        };
        results.sort_by_key(|r| r.window_no);
        Ok(results)
    }

    /// The last window result in the target, if any.
    pub(crate) async fn last_result(&self) -> Result<Option<WindowResult>, BrokerError> {
        match self {
            Self::Topic(t) => t.last_result().await,
            Self::Nats(n) => n.last_result().await,
        }
    }

    /// The number of events at offsets `first ..= last`.
    pub(crate) async fn count_events(&self, first: i64, last: i64) -> Result<u64, BrokerError> {
        if last < first {
            return Ok(0);
        }
        match self {
            Self::Topic(t) => t.count_events(first, last).await,
            Self::Nats(n) => n.count_events(first, last).await,
        }
    }

    /// The last offset (0 when there is no event).
    pub(crate) async fn head(&self) -> Result<i64, BrokerError> {
        match self {
            Self::Topic(t) => t.head().await,
            Self::Nats(n) => n.head().await,
        }
    }

    /// Appends events in order; returns the offsets of the first and the
    /// last.
    pub(crate) async fn append(&self, events: Vec<Event>) -> Result<(i64, i64), BrokerError> {
        match self {
            Self::Topic(t) => t.append(events).await,
            Self::Nats(n) => n.append(events).await,
        }
    }
}

/// The brokers a process has opened, by spec: handed to the activities as
/// a resource, so they share one connection per broker. Clones share them.
#[derive(Debug, Default, Clone)]
pub(crate) struct Brokers {
    open: Arc<Mutex<HashMap<BrokerSpec, Arc<Broker>>>>,
}

impl Brokers {
    /// The broker of `spec`, opened on first use.
    pub(crate) async fn get(&self, spec: &BrokerSpec) -> Result<Arc<Broker>, BrokerError> {
        let mut open = self.open.lock().await;
        if let Some(broker) = open.get(spec) {
            return Ok(broker.clone());
        }
        let broker = Arc::new(Broker::open(spec).await?);
        open.insert(spec.clone(), broker.clone());
        Ok(broker)
    }
}
