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
//! The same on a NATS JetStream server instead of the embedded topic: add
//! `--broker nats://127.0.0.1:4222` to the producer and the processor
//! (`--stream NAME` names its streams; default `reprise-stream`).
//!
//! What it shows:
//!
//! - **A real topic**: `<dir>/topic.db`, a SQLite file (WAL) with an
//!   append-only table `events(offset, key, value, ts_ms)` written by the
//!   producer process, and the target topic `window_results(window_no,
//!   start_offset, end_offset, json)` written by the processor's activities.
//!   Or a real broker: JetStream streams `NAME-events` and `NAME-results`,
//!   offsets being stream sequences, results published with `Nats-Msg-Id`
//!   set to the window's id, events acknowledged on the durable consumer
//!   `NAME-ID` once their window is recorded (`stream_processing/nats.rs`).
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

#[path = "stream_processing/activities.rs"]
mod activities;
#[path = "stream_processing/broker.rs"]
mod broker;
#[path = "stream_processing/nats.rs"]
mod nats;
#[path = "stream_processing/topic.rs"]
mod topic;
#[path = "stream_processing/verify.rs"]
mod verify;

use activities::{acknowledge_window, aggregate_window, read_window, write_window};
use broker::{BrokerSpec, Brokers};

/// A window is closed by the clock this long after its end, so that events
/// stamped just before the end and committed just after it are still in it.
const GRACE_MS: u64 = 100;

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
    /// The broker; none: the embedded topic in `dir` (the only one there
    /// was before this field).
    #[serde(default)]
    broker: Option<BrokerSpec>,
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

    /// The broker the workflow reads and writes.
    fn broker(&self) -> BrokerSpec {
        self.broker.clone().unwrap_or_else(|| BrokerSpec::Topic {
            dir: self.dir.clone(),
        })
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
    let broker = input.broker();
    let label = broker.short();
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
            "broker": label,
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
                    broker.clone(),
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
                (broker.clone(), range.start_offset, range.end_offset),
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
            (broker.clone(), result.clone(), state.slow_ms),
        )
        .await?;
        if let BrokerSpec::Nats { .. } = broker {
            // Written and recorded: now the broker may forget its events.
            ctx.activity(
                acknowledge_window,
                (broker.clone(), result.consumer.clone(), range.end_offset),
            )
            .await?;
        }
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
    /// Data folder: the workflow store (`reprise.db`) and the embedded topic (`topic.db`).
    #[arg(long, default_value = "stream-data")]
    dir: PathBuf,
    /// The broker: `embedded` (the topic in `--dir`) or a NATS JetStream server, nats://HOST:PORT.
    #[arg(long, default_value = "embedded", value_name = "URL")]
    broker: String,
    /// With a NATS broker: the name of its streams (NAME-events, NAME-results) and subjects.
    #[arg(long, default_value = "reprise-stream", value_name = "NAME")]
    stream: String,
    /// Workflow id of the processor; the same id resumes the same workflow.
    #[arg(long, default_value = "stream-1")]
    id: String,
    /// Be the producer: append this many events to the source, then exit.
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
    if let Some(id) = &args.stop {
        return stop(&dir, id).await;
    }
    let spec = BrokerSpec::from_flags(&args.broker, &args.stream, &dir)?;
    let brokers = Brokers::default();
    let broker = brokers.get(&spec).await.map_err(|e| e as Box<dyn Error>)?;
    if let Some(n) = args.produce {
        let rate = args.rate.filter(|r| *r > 0.0);
        let produced = verify::produce(&broker, &spec.label(), n, rate).await;
        return produced.map_err(|e| e as Box<dyn Error>);
    }
    process(&args, &dir, spec, brokers).await
}

/// The processor: runs the workflow until it is stopped.
async fn process(
    args: &Args,
    dir: &Path,
    spec: BrokerSpec,
    brokers: Brokers,
) -> Result<(), Box<dyn Error>> {
    let broker = brokers.get(&spec).await.map_err(|e| e as Box<dyn Error>)?;
    // Where a new consumer starts: after the last window of the target.
    let (offset, next_window) = match broker
        .last_result()
        .await
        .map_err(|e| e as Box<dyn Error>)?
    {
        Some(last) => (last.end_offset, last.window_no + 1),
        None => (0, 1),
    };

    let rt = Runtime::builder()
        .sqlite(dir.join("reprise.db"))
        .resource(brokers.clone())
        .workflow(stream_processor)
        .activity(read_window)
        .activity(aggregate_window)
        .activity(write_window)
        .activity(acknowledge_window)
        .build()
        .await?; // resumes every unfinished workflow in the store
    let rt = Arc::new(rt);

    let label = spec.label();
    let existing = rt.describe(&args.id).await;
    // A workflow's broker is in its input; its progress shows it.
    if let Ok(info) = &existing {
        let recorded = info.progress.as_ref().and_then(|p| p["broker"].as_str());
        let short = spec.short();
        if let Some(recorded) = recorded.filter(|r| *r != short) {
            return Err(format!(
                "workflow `{}` uses the broker {recorded}, not {short}: give the flags it was started with, or a new --id",
                args.id
            )
            .into());
        }
    }
    match existing {
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
        broker: Some(spec.clone()),
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
        "broker {label}; stop with: cargo run --example stream_processing -- --dir {} --stop {}",
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
    let verified = verify::verify(&broker, &args.id, &summary).await;
    let rt = Arc::try_unwrap(rt).map_err(|_| "the runtime is still shared")?;
    rt.shutdown().await?;
    let lag = verified.map_err(|e| e as Box<dyn Error>)?;
    let mut result = serde_json::to_value(&summary)?;
    result["workflow_id"] = json!(args.id);
    result["runs"] = json!(runs);
    result["lag"] = json!(lag);
    result["broker"] = json!(label);
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
