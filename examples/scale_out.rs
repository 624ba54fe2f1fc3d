//! Scaling out: many worker processes share one PostgreSQL database, a
//! client process starts hundreds of workflows, and any worker may die at
//! any moment — its runs and activity attempts move to the others once its
//! lease expires, and every workflow still completes, once.
//!
//! ```sh
//! # a database for it (any PostgreSQL; the schema is created by the first process)
//! psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE reprise_scale_out"
//! URL=postgres://postgres@127.0.0.1:5432/reprise_scale_out
//! # terminals 1, 2, 3: three workers (Ctrl-D stops one cleanly, Ctrl-C or kill -9 crashes it)
//! cargo run --example scale_out -- worker --postgres $URL --id w1 --lease-ms 2000 --dir ./scale-out-data
//! cargo run --example scale_out -- worker --postgres $URL --id w2 --lease-ms 2000 --dir ./scale-out-data
//! cargo run --example scale_out -- worker --postgres $URL --id w3 --lease-ms 2000 --dir ./scale-out-data
//! # terminal 4: a client starts 300 workflows and waits for all their results
//! cargo run --example scale_out -- start --postgres $URL --count 300 --prefix batch-1
//! ```
//!
//! What it shows:
//!
//! - **One store, many workers.** Each worker (`worker --id ID`) claims
//!   runs, timers and activity attempts from the database under a lease
//!   (`--lease-ms`, default 2000 here, 10 s in the library); it renews its
//!   leases while it lives. Kill one with SIGKILL mid-run: once its lease
//!   has expired, the other workers claim its runs (replaying them from
//!   their histories) and its attempts, and the workflows go on.
//! - **A client on another process** (`start`, a runtime built with
//!   `.worker(false)`): it only writes new workflows to the database and
//!   reads their results; it never runs workflow code.
//! - **A small data pipeline per record** `i`: activity `fetch(i)` reads
//!   the record's value, a durable sleep, `transform(i, value)`, another
//!   sleep, `record(i, value)` stores the result. The pauses (50–200 ms,
//!   varying with `i`) make a kill land in the middle of many workflows.
//! - **At-least-once activities, exactly-once results.** Every activity
//!   execution appends a line `workflow_id step worker_id activity value
//!   attempt` to the executing worker's journal, `<dir>/<worker_id>.log`
//!   (`O_APPEND`, fsynced before the activity returns). After a crash some
//!   lines appear twice — the dead worker ran the attempt but its result was
//!   never recorded, so another worker ran it again — while each workflow's
//!   history records each step's result, and the workflow's completion,
//!   exactly once. The workflow's output names the worker whose execution of
//!   each step was recorded.
//!
//! The worker prints on stderr which workflow it completed (its `record`
//! step) and a line a second with its counts; the client prints progress on
//! stderr and, at the end, one line `RESULT {json}` on stdout with the
//! counts: workflows started, completed, failed, results per recording
//! worker, wrong values. `tests/scale_out.rs` drives this binary (three
//! workers, a SIGKILL, dropped database connections);
//! `docs/SCALE_OUT_EXAMPLE.md` explains what to look at.
//!
//! A worker stops cleanly (giving its leases back at once) when its standard
//! input ends (Ctrl-D) or reads a line `stop`; `--ignore-stdin` makes it run
//! until it is killed. Ctrl-C and SIGTERM end the process at once, which the
//! store treats like any crash: the lease expires and the others take over.

use std::collections::BTreeMap;
use std::error::Error;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use clap::{Parser, Subcommand};
use reprise::prelude::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

// ---------------------------------------------------------------------------
// The workflow: one record through fetch, transform, record.
// ---------------------------------------------------------------------------

/// The workflow's input: which record, and how long to pause between steps.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RecordInput {
    index: u64,
    pause_ms: u64,
}

/// What one step returned: its value and the worker whose execution of it
/// was recorded in the history.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StepOutput {
    value: u64,
    worker: String,
}

/// The workflow's output: the final value, and who ran each step.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RecordOutput {
    index: u64,
    /// The fetched value.
    fetched: u64,
    /// The transformed value, the one stored by `record`.
    value: u64,
    fetched_by: String,
    transformed_by: String,
    recorded_by: String,
}

#[workflow(name = "ScaleOutPipeline")]
async fn pipeline(ctx: WorkflowContext, input: RecordInput) -> Result<RecordOutput, WorkflowError> {
    let pause = Duration::from_millis(input.pause_ms);
    ctx.set_progress(&json!({ "step": "fetch" }));
    let fetched = ctx.activity(fetch, input.index).await?;
    ctx.sleep(pause).await;
    ctx.set_progress(&json!({ "step": "transform" }));
    let transformed = ctx
        .activity(transform, (input.index, fetched.value))
        .await?;
    ctx.sleep(pause).await;
    ctx.set_progress(&json!({ "step": "record" }));
    let recorded = ctx
        .activity(record, (input.index, transformed.value))
        .await?;
    Ok(RecordOutput {
        index: input.index,
        fetched: fetched.value,
        value: recorded.value,
        fetched_by: fetched.worker,
        transformed_by: transformed.worker,
        recorded_by: recorded.worker,
    })
}

/// The value `fetch` reads for record `i` (a stand-in for a lookup).
fn source_value(index: u64) -> u64 {
    index.wrapping_mul(2_654_435_761) % 1_000_003
}

/// What `transform` makes of it.
fn transformed_value(index: u64, value: u64) -> u64 {
    value * 3 + index
}

/// The value a workflow for record `i` must end with: what the test and the
/// client check the outputs against.
fn expected_value(index: u64) -> u64 {
    transformed_value(index, source_value(index))
}

/// The pause between steps for record `i`: 50 to 200 ms.
fn pause_for(index: u64) -> u64 {
    50 + (index * 37) % 151
}

// ---------------------------------------------------------------------------
// Activities. Each appends one line to the worker's journal: that is its
// effect on the world, and what shows where (and how often) it ran.
// ---------------------------------------------------------------------------

#[activity(
    start_to_close = "10s",
    retry(initial_interval = "100ms", max_interval = "1s", max_attempts = 20)
)]
async fn fetch(ctx: ActivityContext, index: u64) -> Result<StepOutput, ActivityError> {
    let value = source_value(index);
    let worker = journal(&ctx, 1, value).await?;
    Ok(StepOutput { value, worker })
}

#[activity(
    start_to_close = "10s",
    retry(initial_interval = "100ms", max_interval = "1s", max_attempts = 20)
)]
async fn transform(
    ctx: ActivityContext,
    index: u64,
    value: u64,
) -> Result<StepOutput, ActivityError> {
    let value = transformed_value(index, value);
    let worker = journal(&ctx, 2, value).await?;
    Ok(StepOutput { value, worker })
}

#[activity(
    start_to_close = "10s",
    retry(initial_interval = "100ms", max_interval = "1s", max_attempts = 20)
)]
async fn record(ctx: ActivityContext, index: u64, value: u64) -> Result<StepOutput, ActivityError> {
    let worker = journal(&ctx, 3, value).await?;
    let done = JOURNAL
        .get()
        .map_or(0, |j| j.recorded.fetch_add(1, Ordering::Relaxed) + 1);
    eprintln!(
        "[{worker}] completed {} (record {index}, value {value}, attempt {}; {done} recorded here)",
        ctx.workflow_id(),
        ctx.attempt()
    );
    Ok(StepOutput { value, worker })
}

/// This worker's journal: `<dir>/<worker_id>.log`.
struct Journal {
    worker: String,
    file: Mutex<File>,
    executions: AtomicU64,
    recorded: AtomicU64,
}

static JOURNAL: OnceLock<Arc<Journal>> = OnceLock::new();

/// Appends `workflow_id step worker_id activity value attempt` to the
/// journal and fsyncs it; returns the worker's id.
async fn journal(ctx: &ActivityContext, step: u32, value: u64) -> Result<String, ActivityError> {
    let journal = JOURNAL
        .get()
        .cloned()
        .ok_or_else(|| ActivityError::non_retryable("Config", "this process is not a worker"))?;
    let line = format!(
        "{} {step} {} {} {value} {}\n",
        ctx.workflow_id(),
        journal.worker,
        ctx.activity_name(),
        ctx.attempt()
    );
    let worker = journal.worker.clone();
    tokio::task::spawn_blocking(move || -> Result<(), ActivityError> {
        let mut file = journal.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(line.as_bytes())?;
        file.sync_data()?;
        journal.executions.fetch_add(1, Ordering::Relaxed);
        Ok(())
    })
    .await??;
    Ok(worker)
}

// ---------------------------------------------------------------------------
// The runtime's own log (`tracing` events: a lost lease, a failed commit, a
// dropped connection), printed on stderr. A tiny subscriber, so the example
// needs no logging crate; `--log debug` shows more.
// ---------------------------------------------------------------------------

struct StderrLog {
    who: String,
    max: Level,
}

/// The fields of an event, as `message key=value ...`.
struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl Subscriber for StderrLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.max
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let meta = event.metadata();
        eprintln!(
            "[{}] {} {}: {}",
            self.who,
            meta.level(),
            meta.target(),
            fields.0
        );
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn init_log(who: &str, level: &str) -> Result<(), Box<dyn Error>> {
    let max: Level = level
        .parse()
        .map_err(|_| format!("--log {level}: not one of error, warn, info, debug, trace"))?;
    tracing::subscriber::set_global_default(StderrLog {
        who: who.to_owned(),
        max,
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------
// main: a worker or a client.
// ---------------------------------------------------------------------------

/// Many reprise workers on one PostgreSQL database, and a client.
#[derive(Debug, Parser)]
struct Args {
    /// The runtime's log level on stderr: error, warn, info, debug, trace.
    #[arg(long, global = true, default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a worker until its standard input ends (or reads `stop`).
    Worker {
        /// The database: `postgres://user@host:port/dbname`.
        #[arg(long)]
        postgres: String,
        /// This worker's id, unique among the live workers.
        #[arg(long)]
        id: String,
        /// How long the worker's claims last unrenewed, in milliseconds.
        #[arg(long, default_value_t = 2000)]
        lease_ms: u64,
        /// How often it looks for expired leases and unclaimed work (ms;
        /// default: the store's, 1 s on PostgreSQL).
        #[arg(long)]
        poll_ms: Option<u64>,
        /// Where the journal `<id>.log` goes.
        #[arg(long, default_value = "scale-out-data")]
        dir: PathBuf,
        /// Run until killed: do not read standard input.
        #[arg(long)]
        ignore_stdin: bool,
        /// The most connections this process opens to PostgreSQL (default 16).
        #[arg(long)]
        pool_size: Option<usize>,
    },
    /// Start workflows (as a client process) and wait for all their results.
    Start {
        /// The database: `postgres://user@host:port/dbname`.
        #[arg(long)]
        postgres: String,
        /// How many workflows: records 0 to N-1.
        #[arg(long)]
        count: u64,
        /// Workflow ids are `<prefix>-<i>`; the same ids again return the
        /// same workflows (and their results, if they ended).
        #[arg(long, default_value = "record")]
        prefix: String,
        /// Pause between steps, in ms (default: 50 to 200, varying by record).
        #[arg(long)]
        pause_ms: Option<u64>,
        /// The most connections this process opens to PostgreSQL (default 16).
        #[arg(long)]
        pool_size: Option<usize>,
    },
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let who = match &args.command {
        Command::Worker { id, .. } => id.clone(),
        Command::Start { .. } => "client".to_owned(),
    };
    init_log(&who, &args.log)?;
    match args.command {
        Command::Worker {
            postgres,
            id,
            lease_ms,
            poll_ms,
            dir,
            ignore_stdin,
            pool_size,
        } => {
            let settings = WorkerSettings {
                lease_ms,
                poll_ms,
                pool_size,
                ignore_stdin,
            };
            worker(&postgres, &id, &dir, settings).await
        }
        Command::Start {
            postgres,
            count,
            prefix,
            pause_ms,
            pool_size,
        } => start(&postgres, count, &prefix, pause_ms, pool_size).await,
    }
}

/// A worker's flags besides its database, id and folder.
#[derive(Debug, Clone, Copy)]
struct WorkerSettings {
    lease_ms: u64,
    poll_ms: Option<u64>,
    pool_size: Option<usize>,
    ignore_stdin: bool,
}

/// A worker: runs workflows and activities from the database until told to stop.
async fn worker(
    url: &str,
    id: &str,
    dir: &std::path::Path,
    settings: WorkerSettings,
) -> Result<(), Box<dyn Error>> {
    let WorkerSettings {
        lease_ms,
        poll_ms,
        pool_size,
        ignore_stdin,
    } = settings;
    fs::create_dir_all(dir)?;
    let path = dir.join(format!("{id}.log"));
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    let journal = Arc::new(Journal {
        worker: id.to_owned(),
        file: Mutex::new(file),
        executions: AtomicU64::new(0),
        recorded: AtomicU64::new(0),
    });
    JOURNAL
        .set(journal.clone())
        .map_err(|_| "the journal is set once")?;

    let mut builder = Runtime::builder()
        .postgres(url)
        .worker_id(id)
        .lease(Duration::from_millis(lease_ms))
        .workflow(pipeline)
        .activity(fetch)
        .activity(transform)
        .activity(record);
    if let Some(ms) = poll_ms {
        builder = builder.poll_interval(Duration::from_millis(ms));
    }
    if let Some(size) = pool_size {
        builder = builder.postgres_pool_size(size);
    }
    let rt = builder.build().await?;
    eprintln!(
        "[{id}] worker running: lease {lease_ms} ms, journal {}; Ctrl-D stops it cleanly",
        path.display()
    );
    // Ready: the test waits for this line.
    println!("READY {id}");
    std::io::stdout().flush()?;

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    if !ignore_stdin {
        // tokio's `io-std` is not enabled here: a plain thread reads stdin.
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                match line {
                    Ok(l) if l.trim() == "stop" => break,
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            let _ = stop_tx.send(true);
        });
    } else {
        std::mem::forget(stop_tx);
    }

    let clock = Instant::now();
    let mut last = (u64::MAX, u64::MAX);
    loop {
        tokio::select! {
            _ = stop_rx.changed() => break,
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                let now = (
                    journal.executions.load(Ordering::Relaxed),
                    journal.recorded.load(Ordering::Relaxed),
                );
                if now != last {
                    eprintln!(
                        "[{id}] {:6.1}s: {} activity executions, {} workflows recorded",
                        clock.elapsed().as_secs_f64(),
                        now.0,
                        now.1
                    );
                    last = now;
                }
            }
        }
    }
    eprintln!("[{id}] stopping: giving its leases back");
    rt.shutdown().await?;
    eprintln!(
        "[{id}] stopped after {} activity executions",
        journal.executions.load(Ordering::Relaxed)
    );
    Ok(())
}

/// How often the client retries a start or a result wait that failed on
/// the store (a dropped connection, say) before it counts a failure.
const CLIENT_RETRIES: u32 = 50;

/// The client: starts `count` workflows, then waits for every result.
async fn start(
    url: &str,
    count: u64,
    prefix: &str,
    pause_ms: Option<u64>,
    pool_size: Option<usize>,
) -> Result<(), Box<dyn Error>> {
    let clock = Instant::now();
    let mut builder = Runtime::builder()
        .postgres(url)
        .worker(false)
        .workflow(pipeline);
    if let Some(size) = pool_size {
        builder = builder.postgres_pool_size(size);
    }
    let rt = builder.build().await?;
    let mut retries = 0u32;
    let mut handles = Vec::new();
    for index in 0..count {
        let id = format!("{prefix}-{index}");
        let input = RecordInput {
            index,
            pause_ms: pause_ms.unwrap_or_else(|| pause_for(index)),
        };
        let mut tries = 0;
        let handle = loop {
            // Starting an id that exists returns that workflow: a retry
            // never starts it twice.
            match rt.start(pipeline, input.clone()).id(&id).await {
                Ok(handle) => break handle,
                Err(e) if tries < CLIENT_RETRIES => {
                    tries += 1;
                    retries += 1;
                    eprintln!("[client] start `{id}` failed ({e}); again");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(format!("could not start `{id}`: {e}").into()),
            }
        };
        handles.push(handle);
    }
    let started_ms = clock.elapsed().as_millis();
    eprintln!("[client] started {count} workflows in {started_ms} ms; waiting for their results");

    let (mut completed, mut failed, mut wrong) = (0u64, 0u64, 0u64);
    let mut by_worker = BTreeMap::<String, u64>::new();
    let mut moved = 0u64;
    let mut errors = Vec::new();
    let step = (count / 10).max(1);
    for handle in &handles {
        let mut tries = 0;
        let outcome = loop {
            match handle.result().await {
                // The store failed under the wait (not the workflow): wait again.
                Err(e) if e.kind() == Some("Runtime") && tries < CLIENT_RETRIES => {
                    tries += 1;
                    retries += 1;
                    eprintln!("[client] waiting for `{}` failed ({e}); again", handle.id());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => break other,
            }
        };
        match outcome {
            Ok(out) => {
                completed += 1;
                if out.value != expected_value(out.index) || out.fetched != source_value(out.index)
                {
                    wrong += 1;
                    errors.push(format!("{}: wrong value {out:?}", handle.id()));
                }
                if out.fetched_by != out.recorded_by || out.transformed_by != out.recorded_by {
                    moved += 1;
                }
                *by_worker.entry(out.recorded_by).or_default() += 1;
            }
            Err(e) => {
                failed += 1;
                errors.push(format!("{}: {e}", handle.id()));
            }
        }
        let done = completed + failed;
        if done % step == 0 || done == count {
            eprintln!(
                "[client] {:6.1}s: {done} of {count} ended ({failed} failed)",
                clock.elapsed().as_secs_f64()
            );
        }
    }
    let elapsed_ms = clock.elapsed().as_millis();
    drop(handles);
    rt.shutdown().await?;
    errors.truncate(20);
    let result = json!({
        "count": count,
        "completed": completed,
        "failed": failed,
        "wrong_values": wrong,
        "recorded_by": by_worker,
        "steps_on_several_workers": moved,
        "client_retries": retries,
        "started_ms": started_ms,
        "elapsed_ms": elapsed_ms,
        "errors": errors,
    });
    println!("RESULT {result}");
    if completed == count && wrong == 0 {
        Ok(())
    } else {
        Err(format!("{failed} of {count} workflows failed, {wrong} wrong values").into())
    }
}
