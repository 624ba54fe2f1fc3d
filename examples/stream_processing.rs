//! A durable stream processor: it reads events from a topic in time
//! windows, aggregates each window per key, writes the results to a target
//! topic, sleeps durably when there is nothing to read, stops on a signal,
//! and continues as new every N windows so its history stays small. Kill it
//! at any moment and start it again: no window is lost, none is counted twice.
//!
//! ```sh
//! # terminal 1: the producer appends events to <dir>/topic.db (here 50 a second)
//! cargo run --example stream_processing -- --dir ./stream-data --produce 3000 --rate 50
//! # terminal 2: the processor (workflow `stream-1`, store <dir>/reprise.db)
//! cargo run --example stream_processing -- --dir ./stream-data --window-seconds 2 --windows-per-run 5
//! # terminal 3: stop it (a `stop_streaming` signal from a client process)
//! cargo run --example stream_processing -- --dir ./stream-data --stop stream-1
//! ```
//!
//! What it shows:
//!
//! - **A real topic**: `<dir>/topic.db`, a SQLite file (WAL) with an
//!   append-only table `events(offset, key, value, ts_ms)` written by the
//!   producer process, and the target topic `window_results(window_no,
//!   start_offset, end_offset, json)` written by the processor's activities.
//! - **Time windows** of `window_size_seconds` (fractions allowed) on the
//!   events' timestamps: a window closes when an event of a later window is
//!   in the topic, when it is full (`--max-window-events`), or when its end
//!   has passed on the clock; while it is open the workflow sleeps durably
//!   until it can close. When the topic is empty it sleeps durably too.
//! - **Offsets, not events, in the history.** The read activity returns an
//!   offset range; the aggregate activity reads that range and returns a
//!   small per-key summary (counts, sums, min, max in a `BTreeMap`); the
//!   write activity upserts it by window number. The consumer offset lives in
//!   the workflow, so it is as durable as the history.
//! - **Exactly-once effects** from at-least-once activities: a window's range
//!   is fixed once its read is recorded, its aggregate is a pure function of
//!   that range, and its write is idempotent. `--slow-ms` makes the write
//!   linger after its commit, the worst moment to be killed.
//! - **The `stop_streaming` signal**, checked with `try_recv` at every
//!   window and raced with `recv()` against the durable sleep in a `biased`
//!   `select!` when idle, so a stop is seen within a fraction of a second.
//! - **Continue-as-new** every `--windows-per-run` windows (default 1000),
//!   or after as many waits: the next run's input carries the offset and the
//!   running totals; `describe` lists the chain of runs.
//! - **Live progress**: the workflow publishes the consumer offset as
//!   `done` and the topic's last offset (as the read activity last saw it)
//!   as `total`, with its `phase` and `lag`; `main` draws them as a progress
//!   bar with `reprise_cli::watch::follow`, as `reprise watch stream-1` does
//!   from another terminal.
//!
//! A new workflow id starts where the target topic ends (after the last
//! window written), so `--id stream-2` after a stop goes on from there.
//! `docs/STREAM_EXAMPLE.md` explains the design.

use std::collections::BTreeMap;
use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use reprise::prelude::*;
use reprise::WorkflowStatus;
use rusqlite::{params, Connection};

#[path = "stream_processing/topic.rs"]
mod topic;

use topic::{aggregate_window, open_topic, read_window, topic_path, write_window};

/// A window is closed by the clock this long after its end, so that events
/// stamped just before the end and committed just after it are still in it.
const GRACE_MS: u64 = 100;

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

// ---------------------------------------------------------------------------
// The stop signal, the workflow's input and output, the values it passes.
// ---------------------------------------------------------------------------

/// Asks the processor to stop after the window it is working on.
#[derive(Debug, Serialize, Deserialize, Signal)]
#[signal(name = "stop_streaming")]
struct StopStreaming;

/// The workflow's input: settings, and the state a run hands to the next one
/// on continue-as-new (offset, window number, run number, totals).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StreamInput {
    /// The data folder (absolute), where `topic.db` lives.
    dir: String,
    /// The length of a window, in seconds; fractions allowed (0.1 = 100 ms).
    window_size_seconds: f64,
    /// A window with this many events closes early.
    max_window_events: u64,
    /// A run continues as new after this many windows (or this many waits).
    windows_per_run: u64,
    /// Milliseconds the write activity lingers after its commit.
    slow_ms: u64,
    /// The consumer offset: the last event consumed (0: none yet).
    offset: i64,
    /// The number of the next window.
    next_window: u64,
    /// The run's number in the chain of runs, from 1.
    run: u64,
    /// Totals over every window of every run so far.
    totals: Totals,
}

impl StreamInput {
    fn window_ms(&self) -> u64 {
        ((self.window_size_seconds * 1000.0).round() as u64).max(1)
    }
}

/// Counts and sums of the events of one key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct KeyStats {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl KeyStats {
    fn add(&mut self, value: f64) {
        self.merge(&KeyStats {
            count: 1,
            sum: value,
            min: value,
            max: value,
        });
    }

    fn merge(&mut self, other: &KeyStats) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = other.clone();
            return;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

/// Running totals: the windows written and what they counted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Totals {
    windows: u64,
    events: u64,
    sum: f64,
    keys: BTreeMap<String, KeyStats>,
}

/// Why a window closed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Closed {
    /// An event of a later window is in the topic.
    NextEvent,
    /// Its end (plus the grace period) has passed.
    Time,
    /// It reached `max_window_events`.
    Full,
}

/// A closed window of the topic: offsets `start_offset ..= end_offset`,
/// events stamped in `[start_ms, end_ms)`. This, not the events, is what the
/// history holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WindowRange {
    start_offset: i64,
    end_offset: i64,
    count: u64,
    start_ms: i64,
    end_ms: i64,
    closed: Closed,
    /// The topic's last offset when it was read, for the progress only
    /// (0 in histories recorded before it existed).
    #[serde(default)]
    head: i64,
}

/// What the read activity found after the consumer offset.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Read {
    /// No event after the offset.
    Empty,
    /// The next window has `events` events so far and can close at
    /// `close_at_ms` (epoch milliseconds) at the latest; `head` is the
    /// topic's last offset.
    Open {
        events: u64,
        close_at_ms: u64,
        #[serde(default)]
        head: i64,
    },
    /// The next window is complete.
    Closed(WindowRange),
}

/// The aggregate of a window: small, so it is fine in the history.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Aggregate {
    count: u64,
    sum: f64,
    keys: BTreeMap<String, KeyStats>,
}

/// One record of the target topic (its `json` column).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WindowResult {
    window_no: u64,
    consumer: String,
    start_offset: i64,
    end_offset: i64,
    start_ms: i64,
    end_ms: i64,
    closed: Closed,
    count: u64,
    sum: f64,
    keys: BTreeMap<String, KeyStats>,
}

/// What the workflow returns when it is stopped.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StreamSummary {
    /// Windows written by this workflow.
    windows: u64,
    /// Events counted in them.
    events: u64,
    /// The sum of their values.
    sum: f64,
    /// The consumer offset at the stop: every event up to it is in a window.
    offset: i64,
    /// The number of the last window written (0 if none).
    last_window: u64,
    /// The run that ended (the chain's length).
    run: u64,
    keys: BTreeMap<String, KeyStats>,
}

// ---------------------------------------------------------------------------
// The workflow: the consumer loop. Every effect is an activity.
// ---------------------------------------------------------------------------

#[workflow(name = "StreamProcessor")]
async fn stream_processor(
    ctx: WorkflowContext,
    input: StreamInput,
) -> Result<StreamSummary, WorkflowError> {
    let stops = ctx.signal::<StopStreaming>();
    let window_ms = input.window_ms();
    let budget = input.windows_per_run.max(1);
    let mut state = input;
    let (mut windows, mut waits) = (0, 0);
    // The topic's last offset, as the last read saw it: the consumer's
    // offset of it is the progress (`done`/`total` draw `reprise watch`'s bar).
    let mut head = state.offset;
    let report = |state: &StreamInput, head: i64, phase: &str| {
        let head = head.max(state.offset);
        ctx.set_progress(&json!({
            "phase": phase,
            "done": state.offset,
            "total": head,
            "lag": head - state.offset,
            "run": state.run,
            "windows": state.totals.windows,
            "events": state.totals.events,
        }));
    };
    report(&state, head, "reading");
    loop {
        if stops.try_recv().is_some() {
            break;
        }
        if windows >= budget || waits >= budget {
            // Bound the history: a fresh run goes on from the same offset.
            state.run += 1;
            return ctx.continue_as_new(state);
        }
        let read = ctx
            .activity(
                read_window,
                (
                    state.dir.clone(),
                    state.offset,
                    window_ms,
                    state.max_window_events,
                ),
            )
            .await?;
        head = match &read {
            Read::Closed(range) => range.head,
            Read::Open { head, .. } => *head,
            Read::Empty => state.offset,
        }
        .max(head);
        let range = match read {
            Read::Closed(range) => range,
            Read::Empty | Read::Open { .. } => {
                // Nothing to close yet: wait durably for the window's end (or
                // a window's length when the topic is empty), or for a stop.
                let wait_ms = match read {
                    Read::Open { close_at_ms, .. } => {
                        report(&state, head, "window open");
                        close_at_ms
                            .saturating_sub(millis(ctx.now()))
                            .clamp(1, window_ms + GRACE_MS)
                    }
                    _ => {
                        report(&state, head, "idle");
                        window_ms
                    }
                };
                waits += 1;
                tokio::select! {
                    biased;
                    _ = stops.recv() => break,
                    () = ctx.sleep(Duration::from_millis(wait_ms)) => continue,
                }
            }
        };
        let window_no = state.next_window;
        let aggregate = ctx
            .activity(
                aggregate_window,
                (state.dir.clone(), range.start_offset, range.end_offset),
            )
            .await?;
        if aggregate.count != range.count {
            return Err(WorkflowError::new(format!(
                "window {window_no}: the read saw {} events at offsets {}..={}, the aggregate {}; \
                 the topic is not append-only",
                range.count, range.start_offset, range.end_offset, aggregate.count
            )));
        }
        let result = WindowResult {
            window_no,
            consumer: ctx.workflow_id().to_owned(),
            start_offset: range.start_offset,
            end_offset: range.end_offset,
            start_ms: range.start_ms,
            end_ms: range.end_ms,
            closed: range.closed,
            count: aggregate.count,
            sum: aggregate.sum,
            keys: aggregate.keys,
        };
        ctx.activity(
            write_window,
            (state.dir.clone(), result.clone(), state.slow_ms),
        )
        .await?;
        // The window is written: commit the offset (in the history).
        state.offset = range.end_offset;
        state.next_window += 1;
        let totals = &mut state.totals;
        totals.windows += 1;
        totals.events += result.count;
        totals.sum += result.sum;
        for (key, stats) in &result.keys {
            totals.keys.entry(key.clone()).or_default().merge(stats);
        }
        windows += 1;
        report(&state, head, "reading");
    }
    report(&state, head, "stopped");
    Ok(StreamSummary {
        windows: state.totals.windows,
        events: state.totals.events,
        sum: state.totals.sum,
        offset: state.offset,
        last_window: state.next_window - 1,
        run: state.run,
        keys: state.totals.keys,
    })
}

/// Epoch milliseconds of a time.
fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

// ---------------------------------------------------------------------------
// main: processor, producer or stopper.
// ---------------------------------------------------------------------------

/// A durable stream processor on reprise, its producer, and its off switch.
#[derive(Debug, Parser)]
struct Args {
    /// Data folder: the topic (`topic.db`) and the workflow store (`reprise.db`).
    #[arg(long, default_value = "stream-data")]
    dir: PathBuf,
    /// Workflow id of the processor; the same id resumes the same workflow.
    #[arg(long, default_value = "stream-1")]
    id: String,
    /// Be the producer: append this many events to the topic, then exit.
    #[arg(long, value_name = "N", conflicts_with = "stop")]
    produce: Option<u64>,
    /// With `--produce`: events per second (default: as fast as possible).
    #[arg(long, value_name = "R", requires = "produce")]
    rate: Option<f64>,
    /// Send the `stop_streaming` signal to workflow ID, then exit.
    #[arg(long, value_name = "ID")]
    stop: Option<String>,
    /// Window length in seconds (fractions allowed).
    #[arg(long, default_value_t = 1.0, alias = "window-size-seconds")]
    window_seconds: f64,
    /// Window length in milliseconds (overrides `--window-seconds`).
    #[arg(long)]
    window_ms: Option<u64>,
    /// A window closes early when it holds this many events.
    #[arg(long, default_value_t = 1000)]
    max_window_events: u64,
    /// Continue as new after this many windows (or waits) in a run.
    #[arg(long, default_value_t = 1000)]
    windows_per_run: u64,
    /// The write activity lingers this many ms after its commit (time to kill it).
    #[arg(long, default_value_t = 0)]
    slow_ms: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    fs::create_dir_all(&args.dir)?;
    let dir = fs::canonicalize(&args.dir)?;
    if let Some(n) = args.produce {
        let rate = args.rate.filter(|r| *r > 0.0);
        let produced = tokio::task::spawn_blocking(move || produce(&dir, n, rate)).await?;
        return produced.map_err(|e| e as Box<dyn Error>);
    }
    if let Some(id) = &args.stop {
        return stop(&dir, id).await;
    }
    process(&args, &dir).await
}

/// The processor: runs the workflow until it is stopped.
async fn process(args: &Args, dir: &Path) -> Result<(), Box<dyn Error>> {
    let topic = topic_path(&dir.display().to_string());
    // Where a new consumer starts: after the last window of the target topic.
    let (offset, next_window) = {
        let db = open_topic(&topic)?;
        db.query_row(
            "SELECT COALESCE(MAX(end_offset), 0), COALESCE(MAX(window_no), 0) + 1 FROM window_results",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, u64>(1)?)),
        )?
    };

    let rt = Runtime::builder()
        .sqlite(dir.join("reprise.db"))
        .workflow(stream_processor)
        .activity(read_window)
        .activity(aggregate_window)
        .activity(write_window)
        .build()
        .await?; // resumes every unfinished workflow in the store
    let rt = Arc::new(rt);

    match rt.describe(&args.id).await {
        Ok(info) if info.status == WorkflowStatus::Running => println!(
            "workflow `{}` exists (run {}): resuming it with its own state",
            args.id,
            info.runs.len()
        ),
        Ok(info) => println!(
            "workflow `{}` has ended ({:?}): its result",
            args.id, info.status
        ),
        Err(reprise::Error::NotFound { .. }) => println!(
            "starting workflow `{}` at offset {offset}, window {next_window}",
            args.id
        ),
        Err(e) => return Err(e.into()),
    }
    let input = StreamInput {
        dir: dir.display().to_string(),
        window_size_seconds: args
            .window_ms
            .map_or(args.window_seconds, |ms| ms as f64 / 1000.0),
        max_window_events: args.max_window_events.max(1),
        windows_per_run: args.windows_per_run.max(1),
        slow_ms: args.slow_ms,
        offset,
        next_window,
        run: 1,
        totals: Totals::default(),
    };
    println!(
        "topic {}; stop with: cargo run --example stream_processing -- --dir {} --stop {}",
        topic.display(),
        dir.display(),
        args.id
    );
    let handle = rt.start(stream_processor, input).id(&args.id).await?;

    let mut progress = tokio::spawn(show_progress(rt.clone(), args.id.clone()));
    let result = handle.result().await;
    // The bar ends by itself once `describe` sees the end (one poll later).
    if tokio::time::timeout(Duration::from_secs(2), &mut progress)
        .await
        .is_err()
    {
        progress.abort();
        let _ = progress.await;
    }
    let summary = result?;
    let runs = rt.describe(&args.id).await?.runs.len();

    println!(
        "stopped after {} windows, {} events, offset {}, {runs} runs",
        summary.windows, summary.events, summary.offset
    );
    for (key, s) in &summary.keys {
        println!(
            "  {key:<12} count {:>7}  sum {:>14.2}  min {:>8.2}  max {:>8.2}",
            s.count, s.sum, s.min, s.max
        );
    }
    let verified = verify(&topic, &args.id, &summary);
    let rt = Arc::try_unwrap(rt).map_err(|_| "the runtime is still shared")?;
    rt.shutdown().await?;
    let lag = verified?;
    let mut result = serde_json::to_value(&summary)?;
    result["workflow_id"] = json!(args.id);
    result["runs"] = json!(runs);
    result["lag"] = json!(lag);
    result["topic"] = json!(topic.display().to_string());
    println!("RESULT {result}");
    Ok(())
}

/// Draws the workflow's progress until it ends: a bar on a terminal (the
/// one `reprise watch` draws, from the same `done`/`total`/`phase`), a line
/// per change otherwise.
async fn show_progress(rt: Arc<Runtime>, id: String) {
    let options = reprise_cli::watch::FollowOptions::new().poll(Duration::from_millis(500));
    if let Err(e) = reprise_cli::watch::follow(&rt, &id, options).await {
        eprintln!("(progress unavailable: {e})");
    }
}

/// Checks the target topic against the summary; returns the lag (events in
/// the topic after the consumer offset).
fn verify(topic: &Path, id: &str, summary: &StreamSummary) -> Result<i64, Box<dyn Error>> {
    let db = open_topic(topic)?;
    let (rows, counted): (u64, u64) = db.query_row(
        "SELECT COUNT(*), COALESCE(SUM(json_extract(json, '$.count')), 0)
         FROM window_results WHERE json_extract(json, '$.consumer') = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    // Every event up to the offset is in exactly one window: the windows'
    // ranges do not overlap, each holds as many events as it counted, and
    // together they count every event up to the offset (so no gap either).
    let mut ranges = db.prepare(
        "SELECT w.start_offset, w.end_offset, json_extract(w.json, '$.count'),
                (SELECT COUNT(*) FROM events e WHERE e.offset BETWEEN w.start_offset AND w.end_offset),
                json_extract(w.json, '$.consumer') = ?1
         FROM window_results w ORDER BY w.window_no",
    )?;
    let (mut tiled, mut previous_end, mut in_windows, mut own_end) = (true, 0, 0, None);
    let mut windows = ranges.query([id])?;
    while let Some(r) = windows.next()? {
        let (start, end, count, present, own): (i64, i64, u64, u64, bool) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
        tiled &= start > previous_end && end >= start && present == count;
        previous_end = end;
        if end <= summary.offset {
            in_windows += count;
        }
        if own {
            own_end = Some(end);
        }
    }
    let consumed: u64 = db.query_row(
        "SELECT COUNT(*) FROM events WHERE offset <= ?1",
        [summary.offset],
        |r| r.get(0),
    )?;
    let head: i64 = db.query_row("SELECT COALESCE(MAX(offset), 0) FROM events", [], |r| {
        r.get(0)
    })?;
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
            "windows tile the offsets: contiguous, no overlap, counts match the topic",
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
        Err("the target topic does not match the workflow's result".into())
    }
}

/// The producer: appends `n` events (deterministic keys and values) to the
/// topic, at `rate` events a second or as fast as it can.
fn produce(dir: &Path, n: u64, rate: Option<f64>) -> Result<(), Box<dyn Error + Send + Sync>> {
    const KEYS: [&str; 6] = [
        "ap-south",
        "eu-central",
        "eu-west",
        "sa-east",
        "us-east",
        "us-west",
    ];
    let topic = topic_path(&dir.display().to_string());
    let mut db = open_topic(&topic)?;
    let head: i64 = db.query_row("SELECT COALESCE(MAX(offset), 0) FROM events", [], |r| {
        r.get(0)
    })?;
    // A linear congruential generator seeded by the topic's length: the
    // same topic gets the same events, run after run.
    let mut state = (head as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    let started = Instant::now();
    let (mut first, mut last) = (None, 0);
    let mut append = |db: &Connection| -> Result<i64, rusqlite::Error> {
        let r = next();
        let key = KEYS[(r % KEYS.len() as u64) as usize];
        let cents = 100 + (next() % 50_000) * (1 + r % 3) / 3; // skewed towards small
        let ts = i64::try_from(millis(SystemTime::now())).unwrap_or(i64::MAX);
        db.execute(
            "INSERT INTO events (key, value, ts_ms) VALUES (?1, ?2, ?3)",
            params![key, cents as f64 / 100.0, ts],
        )?;
        Ok(db.last_insert_rowid())
    };
    match rate {
        None => {
            let mut left = n;
            while left > 0 {
                let batch = left.min(500);
                let tx = db.transaction()?;
                for _ in 0..batch {
                    last = append(&tx)?;
                    first.get_or_insert(last);
                }
                tx.commit()?;
                left -= batch;
            }
        }
        Some(rate) => {
            for i in 0..n {
                let due = Duration::from_secs_f64(i as f64 / rate);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
                last = append(&db)?;
                first.get_or_insert(last);
                if (i + 1) % (rate.ceil() as u64 * 5).max(1) == 0 {
                    println!("appended {} of {n} events (offset {last})", i + 1);
                }
            }
        }
    }
    match first {
        Some(first) => println!(
            "appended {n} events (offsets {first}..={last}) to {} in {:.2}s",
            topic.display(),
            started.elapsed().as_secs_f64()
        ),
        None => println!("appended no events to {}", topic.display()),
    }
    Ok(())
}

/// The stopper: a client runtime on the processor's store sends the signal.
async fn stop(dir: &Path, id: &str) -> Result<(), Box<dyn Error>> {
    let store = dir.join("reprise.db");
    if !store.exists() {
        return Err(format!(
            "no workflow store at {}: start the processor first",
            store.display()
        )
        .into());
    }
    let rt = Runtime::builder()
        .sqlite(&store)
        .worker(false)
        .build()
        .await?;
    let sent = rt.signal(id, StopStreaming).await;
    rt.shutdown().await?;
    match sent {
        Ok(()) => {
            println!(
                "sent `{}` to workflow `{id}`: it stops after its current window",
                <StopStreaming as reprise::Signal>::NAME,
            );
            Ok(())
        }
        Err(e) => Err(format!("could not stop `{id}`: {e}").into()),
    }
}
