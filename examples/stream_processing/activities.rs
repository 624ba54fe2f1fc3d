//! The stream example's activities: windows found, counted, written and
//! acknowledged, on whichever broker the workflow's input names. Reads are
//! pure, the write is idempotent and so is the acknowledgement, so running
//! any of them twice changes nothing.

use super::broker::{BrokerError, BrokerSpec, Brokers};
use super::*;

/// A broker's error as the activity's (retried: brokers restart).
fn failed(e: BrokerError) -> ActivityError {
    ActivityError::new("broker", e.to_string())
}

/// Finds the next window after offset `after`: the run of events, in offset
/// order, stamped before the end of the window of the first one, `max_events`
/// at most. Returns only its offsets, or why it cannot close yet.
#[activity(
    start_to_close = "30s",
    retry(initial_interval = "100ms", max_interval = "2s", max_attempts = 20)
)]
pub(crate) async fn read_window(
    brokers: Resource<Brokers>,
    broker: BrokerSpec,
    after: i64,
    window_ms: u64,
    max_events: u64,
) -> Result<Read, ActivityError> {
    let broker = brokers.get(&broker).await.map_err(failed)?;
    let (rows, head) = broker
        .stamps_after(after, max_events.saturating_add(1))
        .await
        .map_err(failed)?;
    Ok(cut_window(
        &rows,
        head,
        window_ms,
        max_events,
        millis(SystemTime::now()),
    ))
}

/// The window at the start of `rows` (offset and timestamp of the events
/// after the consumer offset, in offset order): closed, open until a time,
/// or none at all. `head` is the last offset, for the progress.
pub(crate) fn cut_window(
    rows: &[(i64, i64)],
    head: i64,
    window_ms: u64,
    max_events: u64,
    now_ms: u64,
) -> Read {
    let Some(&(first, first_ts)) = rows.first() else {
        return Read::Empty;
    };
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
    } else if now_ms >= close_at_ms {
        Closed::Time
    } else {
        return Read::Open {
            events: count as u64,
            close_at_ms,
            head,
        };
    };
    Read::Closed(WindowRange {
        start_offset: first,
        end_offset: rows[count - 1].0,
        count: count as u64,
        start_ms,
        end_ms,
        closed,
        head,
    })
}

/// Counts and sums the events at offsets `first ..= last`, per key.
#[activity(
    start_to_close = "1m",
    retry(initial_interval = "100ms", max_interval = "2s", max_attempts = 20)
)]
pub(crate) async fn aggregate_window(
    brokers: Resource<Brokers>,
    broker: BrokerSpec,
    first: i64,
    last: i64,
) -> Result<Aggregate, ActivityError> {
    let broker = brokers.get(&broker).await.map_err(failed)?;
    let events = broker.events(first, last).await.map_err(failed)?;
    let mut aggregate = Aggregate::default();
    for event in events {
        aggregate.count += 1;
        aggregate.sum += event.value;
        aggregate
            .keys
            .entry(event.key)
            .or_default()
            .add(event.value);
    }
    Ok(aggregate)
}

/// Writes a window's result to the target, once: a rerun after a crash
/// writes the same window again, which the broker turns into nothing (an
/// upsert of the same row; a deduplicated publish).
#[activity(
    start_to_close = "1m",
    retry(initial_interval = "100ms", max_interval = "2s", max_attempts = 20)
)]
pub(crate) async fn write_window(
    brokers: Resource<Brokers>,
    broker: BrokerSpec,
    result: WindowResult,
    slow_ms: u64,
) -> Result<(), ActivityError> {
    let broker = brokers.get(&broker).await.map_err(failed)?;
    broker.write(&result).await.map_err(failed)?;
    // Written, and not yet recorded: a kill now makes the write run again.
    tokio::time::sleep(Duration::from_millis(slow_ms)).await;
    Ok(())
}

/// Acknowledges the events up to offset `through` on the broker's consumer
/// of workflow `consumer`. The workflow calls it once the window ending at
/// `through` is written and recorded, so a crash before that leaves the
/// events unacknowledged on the broker.
#[activity(
    start_to_close = "30s",
    retry(initial_interval = "100ms", max_interval = "2s", max_attempts = 20)
)]
pub(crate) async fn acknowledge_window(
    brokers: Resource<Brokers>,
    broker: BrokerSpec,
    consumer: String,
    through: i64,
) -> Result<(), ActivityError> {
    let broker = brokers.get(&broker).await.map_err(failed)?;
    broker.acknowledge(&consumer, through).await.map_err(failed)
}
