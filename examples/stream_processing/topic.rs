//! The stream example's activities and its topic (a SQLite file): windows
//! found, counted and written. Reads are pure and the write is an upsert,
//! so running any of them twice changes nothing.

use super::*;

/// Finds the next window after offset `after`: the run of events, in offset
/// order, stamped before the end of the window of the first one, `max_events`
/// at most. Returns only its offsets, or why it cannot close yet.
#[activity(
    start_to_close = "30s",
    retry(initial_interval = "100ms", max_interval = "2s", max_attempts = 20)
)]
pub(crate) async fn read_window(
    dir: String,
    after: i64,
    window_ms: u64,
    max_events: u64,
) -> Result<Read, ActivityError> {
    blocking(move || {
        let db = open_topic(&topic_path(&dir))?;
        let mut query = db.prepare(
            "SELECT offset, ts_ms FROM events WHERE offset > ?1 ORDER BY offset LIMIT ?2",
        )?;
        let rows = query
            .query_map(params![after, max_events.saturating_add(1)], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let Some(&(first, first_ts)) = rows.first() else {
            return Ok(Read::Empty);
        };
        // The topic's last offset, for the workflow's progress.
        let head: i64 = db.query_row("SELECT COALESCE(MAX(offset), 0) FROM events", [], |r| {
            r.get(0)
        })?;
        let width = i64::try_from(window_ms).unwrap_or(i64::MAX);
        let start_ms = first_ts.div_euclid(width) * width;
        let end_ms = start_ms.saturating_add(width);
        let in_window = rows.iter().take_while(|(_, ts)| *ts < end_ms).count();
        let count = in_window.min(usize::try_from(max_events.max(1)).unwrap_or(usize::MAX));
        let close_at_ms = u64::try_from(end_ms).unwrap_or(0) + GRACE_MS;
        let closed = if count as u64 >= max_events.max(1) {
            Closed::Full
        } else if count < rows.len() {
            Closed::NextEvent
        } else if millis(SystemTime::now()) >= close_at_ms {
            Closed::Time
        } else {
            return Ok(Read::Open {
                events: count as u64,
                close_at_ms,
                head,
            });
        };
        Ok(Read::Closed(WindowRange {
            start_offset: first,
            end_offset: rows[count - 1].0,
            count: count as u64,
            start_ms,
            end_ms,
            closed,
            head,
        }))
    })
    .await
}

/// Counts and sums the events at offsets `first ..= last`, per key.
#[activity(
    start_to_close = "1m",
    retry(initial_interval = "100ms", max_interval = "2s", max_attempts = 20)
)]
pub(crate) async fn aggregate_window(
    dir: String,
    first: i64,
    last: i64,
) -> Result<Aggregate, ActivityError> {
    blocking(move || {
        let db = open_topic(&topic_path(&dir))?;
        let mut query = db.prepare(
            "SELECT key, value FROM events WHERE offset BETWEEN ?1 AND ?2 ORDER BY offset",
        )?;
        let mut rows = query.query(params![first, last])?;
        let mut aggregate = Aggregate::default();
        while let Some(row) = rows.next()? {
            let (key, value): (String, f64) = (row.get(0)?, row.get(1)?);
            aggregate.count += 1;
            aggregate.sum += value;
            aggregate.keys.entry(key).or_default().add(value);
        }
        Ok(aggregate)
    })
    .await
}

/// Writes a window's result to the target topic, replacing any earlier
/// write of the same window: a rerun after a crash writes the same row.
#[activity(
    start_to_close = "1m",
    retry(initial_interval = "100ms", max_interval = "2s", max_attempts = 20)
)]
pub(crate) async fn write_window(
    dir: String,
    result: WindowResult,
    slow_ms: u64,
) -> Result<(), ActivityError> {
    blocking(move || {
        let db = open_topic(&topic_path(&dir))?;
        db.execute(
            "INSERT INTO window_results (window_no, start_offset, end_offset, json)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (window_no) DO UPDATE SET start_offset = excluded.start_offset,
                 end_offset = excluded.end_offset, json = excluded.json",
            params![
                result.window_no,
                result.start_offset,
                result.end_offset,
                serde_json::to_string(&result)?
            ],
        )?;
        Ok(())
    })
    .await?;
    // Committed, and not yet recorded: a kill now makes the write run again.
    tokio::time::sleep(Duration::from_millis(slow_ms)).await;
    Ok(())
}

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

/// Runs SQLite work off the async worker threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ActivityError> + Send + 'static,
) -> Result<T, ActivityError> {
    tokio::task::spawn_blocking(work).await?
}
