//! The embedded topic, the default broker: a SQLite file (WAL) in the data
//! folder with the source topic `events` (append-only, offsets are row
//! ids) and the target topic `window_results` (one row per window, written
//! with an upsert, so writing a window twice leaves one row).

use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use super::broker::{BrokerError, Event};
use super::*;

/// The topic's schema: the source topic `events`, the target topic
/// `window_results`.
const TOPIC_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS events (
        offset INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL,
        value REAL NOT NULL,
        ts_ms INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS window_results (
        window_no INTEGER PRIMARY KEY,
        start_offset INTEGER NOT NULL,
        end_offset INTEGER NOT NULL,
        json TEXT NOT NULL);";

/// The embedded topic: one connection, used off the async threads.
#[derive(Debug)]
pub(crate) struct Topic {
    db: Arc<Mutex<Connection>>,
}

impl Topic {
    /// Opens (and creates) the topic file.
    pub(crate) async fn open(path: &Path) -> Result<Self, BrokerError> {
        let path = path.to_owned();
        let db = tokio::task::spawn_blocking(move || open_topic(&path)).await??;
        Ok(Self {
            db: Arc::new(Mutex::new(db)),
        })
    }

    /// Runs `work` on the connection, on a blocking thread.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    ) -> Result<T, BrokerError> {
        let db = self.db.clone();
        let result = tokio::task::spawn_blocking(move || {
            let mut db = db
                .lock()
                .map_err(|_| "the topic's connection is poisoned")?;
            work(&mut db).map_err(BrokerError::from)
        })
        .await?;
        result
    }

    /// Offset and timestamp of up to `limit` events after offset `after`,
    /// and the last offset.
    pub(crate) async fn stamps_after(
        &self,
        after: i64,
        limit: u64,
    ) -> Result<(Vec<(i64, i64)>, i64), BrokerError> {
        self.run(move |db| {
            let rows = db
                .prepare_cached(
                    "SELECT offset, ts_ms FROM events WHERE offset > ?1 ORDER BY offset LIMIT ?2",
                )?
                .query_map(params![after, limit.min(i64::MAX as u64)], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok((rows, head(db)?))
        })
        .await
    }

    /// The events at offsets `first ..= last`, in offset order.
    pub(crate) async fn events(&self, first: i64, last: i64) -> Result<Vec<Event>, BrokerError> {
        self.run(move |db| {
            db.prepare_cached(
                "SELECT key, value, ts_ms FROM events WHERE offset BETWEEN ?1 AND ?2 ORDER BY offset",
            )?
            .query_map(params![first, last], |r| {
                Ok(Event {
                    key: r.get(0)?,
                    value: r.get(1)?,
                    ts_ms: r.get(2)?,
                })
            })?
            .collect()
        })
        .await
    }

    /// Upserts the window's row: a second write of a window replaces it.
    pub(crate) async fn write(&self, result: &WindowResult) -> Result<(), BrokerError> {
        let json = serde_json::to_string(result)?;
        let (window_no, start, end) = (result.window_no, result.start_offset, result.end_offset);
        self.run(move |db| {
            db.execute(
                "INSERT INTO window_results (window_no, start_offset, end_offset, json)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (window_no) DO UPDATE SET start_offset = excluded.start_offset,
                     end_offset = excluded.end_offset, json = excluded.json",
                params![window_no, start, end, json],
            )?;
            Ok(())
        })
        .await
    }

    /// Every row of `window_results`, in window order.
    pub(crate) async fn results(&self) -> Result<Vec<WindowResult>, BrokerError> {
        let rows: Vec<String> = self
            .run(|db| {
                db.prepare("SELECT json FROM window_results ORDER BY window_no")?
                    .query_map([], |r| r.get(0))?
                    .collect()
            })
            .await?;
        rows.iter()
            .map(|json| serde_json::from_str(json).map_err(BrokerError::from))
            .collect()
    }

    /// The row of the highest window number, if any.
    pub(crate) async fn last_result(&self) -> Result<Option<WindowResult>, BrokerError> {
        let row: Option<String> = self
            .run(|db| {
                db.query_row(
                    "SELECT json FROM window_results ORDER BY window_no DESC LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()
            })
            .await?;
        Ok(row.map(|json| serde_json::from_str(&json)).transpose()?)
    }

    /// The number of events at offsets `first ..= last`.
    pub(crate) async fn count_events(&self, first: i64, last: i64) -> Result<u64, BrokerError> {
        self.run(move |db| {
            db.query_row(
                "SELECT COUNT(*) FROM events WHERE offset BETWEEN ?1 AND ?2",
                [first, last],
                |r| r.get(0),
            )
        })
        .await
    }

    /// The last offset (0 when the topic is empty).
    pub(crate) async fn head(&self) -> Result<i64, BrokerError> {
        self.run(|db| head(db)).await
    }

    /// Appends in one transaction: the events get consecutive offsets.
    pub(crate) async fn append(&self, events: Vec<Event>) -> Result<(i64, i64), BrokerError> {
        self.run(move |db| {
            let tx = db.transaction()?;
            let (mut first, mut last) = (None, 0);
            for e in &events {
                tx.execute(
                    "INSERT INTO events (key, value, ts_ms) VALUES (?1, ?2, ?3)",
                    params![e.key, e.value, e.ts_ms],
                )?;
                last = tx.last_insert_rowid();
                first.get_or_insert(last);
            }
            tx.commit()?;
            Ok((first.unwrap_or(last + 1), last))
        })
        .await
    }
}

/// The topic's last offset (0 when it is empty).
fn head(db: &Connection) -> Result<i64, rusqlite::Error> {
    db.query_row("SELECT COALESCE(MAX(offset), 0) FROM events", [], |r| {
        r.get(0)
    })
}

/// The topic's file in data folder `dir`.
pub(crate) fn topic_path(dir: &str) -> PathBuf {
    Path::new(dir).join("topic.db")
}

/// Opens (and creates) the topic: WAL, so the producer appends while the
/// processor reads; a busy timeout, so writers wait for each other.
pub(crate) fn open_topic(path: &Path) -> Result<Connection, rusqlite::Error> {
    let db = Connection::open(path)?;
    db.busy_timeout(Duration::from_secs(10))?;
    db.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    db.execute_batch("PRAGMA synchronous = NORMAL;")?;
    db.execute_batch(TOPIC_SCHEMA)?;
    Ok(db)
}
