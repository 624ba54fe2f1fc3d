//! The producer (`--produce N`) and the check the processor runs on the
//! target once it is stopped, on either broker.

use super::broker::{Broker, BrokerError, Event};
use super::*;

/// Checks the target against the summary, row by row; returns the lag
/// (events in the source after the consumer offset).
pub(crate) async fn verify(
    broker: &Broker,
    id: &str,
    summary: &StreamSummary,
) -> Result<i64, BrokerError> {
    let results = broker.results().await?;
    let own: Vec<&WindowResult> = results.iter().filter(|r| r.consumer == id).collect();
    let rows = own.len() as u64;
    let counted: u64 = own.iter().map(|r| r.count).sum();
    // Every event up to the offset is in exactly one window: the windows'
    // ranges do not overlap, each holds as many events as it counted, and
    // together they count every event up to the offset (so no gap either).
    let (mut tiled, mut previous_end, mut previous_no, mut in_windows) = (true, 0, 0, 0);
    for r in &results {
        let present = broker.count_events(r.start_offset, r.end_offset).await?;
        tiled &= r.window_no > previous_no
            && r.start_offset > previous_end
            && r.end_offset >= r.start_offset
            && present == r.count;
        (previous_end, previous_no) = (r.end_offset, r.window_no);
        if r.end_offset <= summary.offset {
            in_windows += r.count;
        }
    }
    let own_end = own.last().map(|r| r.end_offset);
    let consumed = broker.count_events(1, summary.offset).await?;
    let head = broker.head().await?;
    let checks = [
        (
            rows == summary.windows,
            "windows in the target = windows counted",
        ),
        (
            counted == summary.events,
            "events in this consumer's windows = events counted",
        ),
        (
            tiled,
            "windows tile the offsets: numbered in order, contiguous, no overlap, counts match the source",
        ),
        (
            own_end.is_none_or(|end| end == summary.offset) && in_windows == consumed,
            "every event up to the offset is in exactly one window",
        ),
    ];
    for (ok, what) in checks {
        println!("check: {what}: {}", if ok { "ok" } else { "FAILED" });
    }
    if checks.iter().all(|(ok, _)| *ok) {
        Ok(head - summary.offset)
    } else {
        Err("the target does not match the workflow's result".into())
    }
}

/// The producer: appends `n` events (deterministic keys and values) to the
/// source, at `rate` events a second or as fast as it can.
pub(crate) async fn produce(
    broker: &Broker,
    label: &str,
    n: u64,
    rate: Option<f64>,
) -> Result<(), BrokerError> {
    const KEYS: [&str; 6] = [
        "ap-south",
        "eu-central",
        "eu-west",
        "sa-east",
        "us-east",
        "us-west",
    ];
    let head = broker.head().await?;
    // A linear congruential generator seeded by the source's length: the
    // same source gets the same events, run after run.
    let mut state = (head as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    let mut event = move || {
        let r = next();
        let key = KEYS[(r % KEYS.len() as u64) as usize];
        let cents = 100 + (next() % 50_000) * (1 + r % 3) / 3; // skewed towards small
        Event {
            key: key.to_owned(),
            value: cents as f64 / 100.0,
            ts_ms: i64::try_from(millis(SystemTime::now())).unwrap_or(i64::MAX),
        }
    };
    let started = Instant::now();
    let (mut first, mut last) = (None, 0);
    match rate {
        None => {
            let mut left = n;
            while left > 0 {
                let batch = left.min(500);
                let (from, to) = broker.append((0..batch).map(|_| event()).collect()).await?;
                first.get_or_insert(from);
                last = to;
                left -= batch;
            }
        }
        Some(rate) => {
            for i in 0..n {
                let due = Duration::from_secs_f64(i as f64 / rate);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
                let (from, _) = broker.append(vec![event()]).await?;
                first.get_or_insert(from);
                last = from;
                if (i + 1) % (rate.ceil() as u64 * 5).max(1) == 0 {
                    println!("appended {} of {n} events (offset {last})", i + 1);
                }
            }
        }
    }
    match first {
        Some(first) => println!(
            "appended {n} events (offsets {first}..={last}) to {label} in {:.2}s",
            started.elapsed().as_secs_f64()
        ),
        None => println!("appended no events to {label}"),
    }
    Ok(())
}
