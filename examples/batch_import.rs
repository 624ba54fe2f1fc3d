//! A durable bulk import: a large CSV file (1 000 000 generated rows by
//! default) validated and written into SQLite or PostgreSQL in parallel
//! chunks, with a concurrency limit; kill it at any moment and run the same
//! command again: it finishes with every row exactly once.
//!
//! ```sh
//! cargo run --release --example batch_import                          # SQLite: import-data/target.db
//! cargo run --release --example batch_import -- --target postgres://postgres@127.0.0.1:5432/test
//! cargo run --release --example batch_import -- --dir /tmp/import-cmp --compare   # durability overhead
//! cargo run --example batch_import -- --rows 20000 --chunk-size 1000 --slow-ms 300  # kill it, rerun it
//! ```
//!
//! What it shows:
//!
//! - **Chunks as activities.** A first activity cuts the file into chunks of
//!   whole lines (`--chunk-size` rows: a row range and its byte range); the
//!   workflow then calls `import_chunk` once per chunk, all at once, and
//!   the runtime runs at most `--concurrency` of them at a time
//!   (`.max_concurrent(n)` on the call: a limit the store keeps, across
//!   every workflow and worker process). Only chunk references and counts
//!   go through the history, never rows.
//! - **Validation** with the rules shared by the pipeline examples
//!   (`shared/validation.rs`): cleaning (trim, case), then checks (required,
//!   e-mail, date, integer ranges, allowed countries, length). A rejected
//!   row goes to the table `import_rejects` with its rule and reason; the
//!   workflow sums the rejects by rule.
//! - **Exactly once, without a gap.** A chunk is written in one transaction
//!   that first claims the chunk's row in `import_chunks`; an attempt that
//!   finds it claimed writes nothing and returns what was written. So an
//!   attempt that committed just before a SIGKILL, and runs again after the
//!   restart, adds no row twice; every row number of the file ends up in
//!   `people` or in `import_rejects`, once, which the last activity checks.
//! - **`--compare`**: the same chunks, validation and transactions run by a
//!   plain loop of tokio tasks (no runtime, no history) into a fresh target,
//!   and the durability overhead between the two (`docs/PERFORMANCE.md`).
//!
//! The output ends with a `RESULT {json}` line: rows imported and rejected
//! (by rule), chunks, seconds and rows per second, and the target's check.
//! Flags given at the first start are kept in the workflow's input: a rerun
//! of an existing `--id` resumes (or just reports) the workflow with them.
//! `docs/BATCH_IMPORT_EXAMPLE.md` explains the design.
//!
//! This file holds the workflow, its activities and `main`; the folder
//! `batch_import/` holds the file and its chunks (`data.rs`), the target
//! (`target.rs`) and the plain loop of `--compare` (`plain.rs`).

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use clap::Parser;
use reprise::prelude::*;
use reprise::WorkflowStatus;

#[path = "batch_import/data.rs"]
mod data;
#[path = "batch_import/plain.rs"]
mod plain;
#[path = "batch_import/target.rs"]
mod target;
#[path = "shared/validation.rs"]
mod validation;

use data::{ChunkRef, Plan};
use target::{Counts, Target, TargetSpec, Written};
use validation::Summary;

/// The workflow's input: the file, the target and how to run. Stored in the
/// history, so every attempt and every restart uses the same settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ImportJob {
    /// The CSV file (absolute path).
    file: String,
    /// Rows in the file, as generated.
    rows: u64,
    target: TargetSpec,
    /// Rows per chunk.
    chunk_size: u64,
    /// Chunks written at once, at most.
    concurrency: u32,
    /// Milliseconds a chunk waits after its commit before it reports (time to kill it there).
    slow_ms: u64,
}

/// What a chunk activity returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ChunkOutcome {
    index: u64,
    written: Written,
    attempt: u32,
}

/// What the workflow returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ImportOutput {
    rows: u64,
    imported: u64,
    rejected: u64,
    /// Rejected rows by rule, e.g. `"email(email)": 3012`.
    rejected_by_rule: std::collections::BTreeMap<String, u64>,
    chunks: u64,
    /// Chunks whose last attempt found them written by an earlier one (a
    /// commit whose report was lost, as in a kill just after it).
    chunks_already_done: u64,
    /// Chunk attempts that failed and were retried.
    retries: u64,
    /// From the workflow's start to its end by `ctx.now()`: a resumed run
    /// counts the time it was down too.
    workflow_seconds: f64,
    /// The target, counted at the end.
    target: Counts,
}

// ---------------------------------------------------------------------------
// The workflow: deterministic orchestration; every effect is an activity.
// ---------------------------------------------------------------------------

#[workflow(name = "BatchImport")]
async fn batch_import(ctx: WorkflowContext, job: ImportJob) -> Result<ImportOutput, WorkflowError> {
    let started = ctx.now();
    ctx.set_progress(&json!({ "phase": "prepare" }));
    ctx.activity(prepare_target, job.clone()).await?;
    ctx.set_progress(&json!({ "phase": "plan" }));
    let plan = ctx.activity(plan_chunks, job.clone()).await?;
    if plan.rows != job.rows {
        return Err(WorkflowError::new(format!(
            "{} has {} rows, {} expected",
            job.file, plan.rows, job.rows
        )));
    }

    // Every chunk at once; the runtime runs `concurrency` of them at a time.
    let done = Mutex::new((0u64, 0u64, 0u64)); // chunks, rows imported, rows rejected
    let report = |phase: &str| {
        let (chunks, imported, rejected) = *done.lock().unwrap_or_else(PoisonError::into_inner);
        ctx.set_progress(&json!({
            "phase": phase,
            "done": imported + rejected,
            "total": plan.rows,
            "chunks_done": chunks,
            "chunks": plan.chunks.len(),
            "imported": imported,
            "rejected": rejected,
        }));
    };
    report("import");
    let outcomes = join_all(plan.chunks.iter().map(|&chunk| {
        let (ctx, job, done, report) = (&ctx, &job, &done, &report);
        async move {
            let outcome = ctx
                .activity(import_chunk, (job.clone(), chunk))
                .max_concurrent(job.concurrency.max(1))
                .await?;
            {
                let mut done = done.lock().unwrap_or_else(PoisonError::into_inner);
                done.0 += 1;
                done.1 += outcome.written.imported;
                done.2 += outcome.written.rejected;
            }
            report("import");
            Ok::<_, ActivityError>(outcome)
        }
    }))
    .await;
    let mut summary = Summary::default();
    let (mut imported, mut rejected, mut already_done, mut retries) = (0, 0, 0, 0);
    for (outcome, chunk) in outcomes.into_iter().zip(&plan.chunks) {
        let outcome = outcome?;
        let w = &outcome.written;
        if outcome.index != chunk.index || w.imported + w.rejected != chunk.rows {
            return Err(WorkflowError::new(format!(
                "chunk {}: {} rows, {} imported and {} rejected",
                chunk.index, chunk.rows, w.imported, w.rejected
            )));
        }
        summary.merge(&w.summary);
        imported += w.imported;
        rejected += w.rejected;
        already_done += u64::from(w.already_done);
        retries += u64::from(outcome.attempt - 1);
    }

    // The target, counted: every row number once, in one of the two tables.
    report("check");
    let counts = ctx.activity(count_target, job.clone()).await?;
    let expected = Counts {
        people: imported,
        rejects: rejected,
        in_both: 0,
        first_row: u64::from(plan.rows > 0),
        last_row: plan.rows,
        chunks: plan.chunks.len() as u64,
    };
    if counts != expected || summary.total_rejected() != rejected {
        return Err(WorkflowError::new(format!(
            "the target does not match the chunks: {counts:?} in it, {expected:?} expected"
        )));
    }
    report("done");
    let seconds = ctx.now().duration_since(started).unwrap_or_default();
    Ok(ImportOutput {
        rows: plan.rows,
        imported,
        rejected,
        rejected_by_rule: summary.rejected,
        chunks: plan.chunks.len() as u64,
        chunks_already_done: already_done,
        retries,
        workflow_seconds: seconds.as_secs_f64(),
        target: counts,
    })
}

// ---------------------------------------------------------------------------
// Activities. Each is idempotent: activity code runs at least once.
// ---------------------------------------------------------------------------

/// The activities' target must be the one of the workflow's input: a rerun
/// with another `--target` than the first start is refused, not mixed.
fn same_target(target: &Target, job: &ImportJob) -> Result<(), ActivityError> {
    if target.spec == job.target {
        return Ok(());
    }
    Err(ActivityError::non_retryable(
        "OtherTarget",
        format!(
            "this import writes to {}, but this process opened {}: rerun it with its first --target",
            job.target.describe(),
            target.spec.describe()
        ),
    ))
}

/// Empties the target unless it holds this import's rows (a resumed import
/// keeps them).
#[activity(
    start_to_close = "5m",
    retry(initial_interval = "200ms", max_interval = "5s", max_attempts = 10, non_retryable = ["OtherTarget"])
)]
async fn prepare_target(
    ctx: ActivityContext,
    target: Resource<Target>,
    job: ImportJob,
) -> Result<(), ActivityError> {
    same_target(&target, &job)?;
    target.claim_for(ctx.workflow_id()).await
}

/// Cuts the file into chunks (one pass over it, on the blocking pool).
#[activity(
    start_to_close = "5m",
    retry(initial_interval = "200ms", max_interval = "5s", max_attempts = 10)
)]
fn plan_chunks(job: ImportJob) -> Result<Plan, ActivityError> {
    data::plan(Path::new(&job.file), job.chunk_size.max(1))
}

/// Reads, validates and writes one chunk, in one transaction; an attempt
/// after one that committed writes nothing (see `Target::write_chunk`).
#[activity(
    start_to_close = "10m",
    retry(initial_interval = "200ms", max_interval = "5s", max_attempts = 10, non_retryable = ["OtherTarget"])
)]
async fn import_chunk(
    ctx: ActivityContext,
    target: Resource<Target>,
    job: ImportJob,
    chunk: ChunkRef,
) -> Result<ChunkOutcome, ActivityError> {
    same_target(&target, &job)?;
    let written = process_chunk(&target, Path::new(&job.file), chunk).await?;
    if job.slow_ms > 0 && !written.already_done {
        // The window where a kill loses the report of a committed chunk.
        println!(
            "committed chunk {} (rows {}..={}); reporting it in {} ms",
            chunk.index,
            chunk.first_row,
            chunk.first_row + chunk.rows - 1,
            job.slow_ms
        );
        tokio::time::sleep(Duration::from_millis(job.slow_ms)).await;
    }
    Ok(ChunkOutcome {
        index: chunk.index,
        written,
        attempt: ctx.attempt(),
    })
}

/// Counts the target's rows for the workflow's final check.
#[activity(
    start_to_close = "5m",
    retry(initial_interval = "200ms", max_interval = "5s", max_attempts = 10, non_retryable = ["OtherTarget"])
)]
async fn count_target(target: Resource<Target>, job: ImportJob) -> Result<Counts, ActivityError> {
    same_target(&target, &job)?;
    target.counts().await
}

/// One chunk, as the activity and the plain loop of `--compare` both run
/// it: skipped if written, else read and validated on the blocking pool,
/// then written in one transaction.
async fn process_chunk(
    target: &Target,
    file: &Path,
    chunk: ChunkRef,
) -> Result<Written, ActivityError> {
    if let Some(written) = target.chunk_done(chunk.index).await? {
        return Ok(written);
    }
    let file = file.to_owned();
    let rows = tokio::task::spawn_blocking(move || data::read_chunk(&file, chunk)).await??;
    target.write_chunk(chunk, rows).await
}

// ---------------------------------------------------------------------------
// main: the file, the runtime, progress, the result, `--compare`.
// ---------------------------------------------------------------------------

/// A durable bulk import of a CSV file into SQLite or PostgreSQL.
#[derive(Debug, Parser)]
struct Args {
    /// Data folder: the CSV file, the SQLite target, the workflow store.
    #[arg(long, default_value = "import-data")]
    dir: PathBuf,
    /// Rows of the generated file (`<dir>/people-<rows>.csv`, written if missing).
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Target: `postgres://user@host:port/db`, or a SQLite file (default `<dir>/target.db`).
    #[arg(long)]
    target: Option<String>,
    /// Rows per chunk (one activity, one transaction).
    #[arg(long, default_value_t = 10_000)]
    chunk_size: u64,
    /// Chunks imported at once, at most.
    #[arg(long, default_value_t = 4)]
    concurrency: u32,
    /// Workflow id (default `import-<rows>-<sqlite|postgres>`); the same id resumes the same import.
    #[arg(long)]
    id: Option<String>,
    /// Wait this many ms after each chunk's commit (time to kill it there).
    #[arg(long, default_value_t = 0)]
    slow_ms: u64,
    /// Also run the same import as a plain loop into a fresh target, and
    /// print the durability overhead. Starts a fresh import.
    #[arg(long)]
    compare: bool,
}

/// Runs the import; an error is one `error:` line on stderr and exit code 1.
fn main() -> ExitCode {
    let args = Args::parse();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match tokio.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The file, the target, the runtime, the workflow, its result and, with
/// `--compare`, the plain loop.
async fn run(args: Args) -> Result<(), Box<dyn Error>> {
    if args.rows == 0 || args.chunk_size == 0 || args.concurrency == 0 {
        return Err("--rows, --chunk-size and --concurrency must be at least 1".into());
    }
    fs::create_dir_all(&args.dir)
        .map_err(|e| format!("cannot create --dir {}: {e}", args.dir.display()))?;
    let dir = fs::canonicalize(&args.dir)?;
    let spec = match &args.target {
        Some(t) => TargetSpec::parse(t)?,
        None => TargetSpec::Sqlite(dir.join("target.db").display().to_string()),
    };

    let file = dir.join(format!("people-{}.csv", args.rows));
    let t = Instant::now();
    if data::ensure_file(&file, args.rows)? {
        println!(
            "generated {} ({} rows) in {:.1}s",
            file.display(),
            args.rows,
            t.elapsed().as_secs_f64()
        );
    }
    let target = Target::open(spec.clone(), "")
        .await
        .map_err(|e| format!("cannot open the target {}: {e}", spec.describe()))?;
    let mut id = args
        .id
        .clone()
        .unwrap_or_else(|| format!("import-{}-{}", args.rows, spec.kind()));
    if args.compare {
        // A fresh import, timed from an empty target.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
        id = format!("{id}-compare-{}", now.as_millis());
        target.recreate().await.map_err(|e| e.to_string())?;
    }
    println!("target: {}", spec.describe());

    let rt = Runtime::builder()
        .sqlite(dir.join("reprise.db"))
        .resource(target)
        .workflow(batch_import)
        .activity(prepare_target)
        .activity(plan_chunks)
        .activity(import_chunk)
        .activity(count_target)
        .build()
        .await?; // resumes every unfinished workflow in the store
    let rt = Arc::new(rt);
    let resumed = match rt.describe(&id).await {
        Ok(info) if info.status == WorkflowStatus::Running => {
            println!("workflow `{id}` exists: resuming it with its original input");
            true
        }
        Ok(info) => {
            println!("workflow `{id}` exists ({:?}): its result", info.status);
            true
        }
        Err(reprise::Error::NotFound { .. }) => {
            println!("starting workflow `{id}`");
            false
        }
        Err(e) => return Err(e.into()),
    };
    let job = ImportJob {
        file: file.display().to_string(),
        rows: args.rows,
        target: spec.clone(),
        chunk_size: args.chunk_size,
        concurrency: args.concurrency,
        slow_ms: args.slow_ms,
    };

    let started = Instant::now();
    let cpu_started = plain::cpu_seconds();
    let handle = rt.start(batch_import, job).id(&id).await?;
    let progress = (!args.compare).then(|| tokio::spawn(show_progress(rt.clone(), id.clone())));
    let result = handle.result().await;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = plain::cpu_seconds()
        .zip(cpu_started)
        .map(|(end, start)| end - start);
    if let Some(mut progress) = progress {
        // The bar ends by itself once `describe` sees the end (one poll later).
        if tokio::time::timeout(Duration::from_secs(2), &mut progress)
            .await
            .is_err()
        {
            progress.abort();
        }
    }
    let output = result?;
    let rt = Arc::try_unwrap(rt).map_err(|_| "the runtime is still shared")?;
    rt.shutdown().await?;

    // A resumed import did part of its rows in an earlier process: its rate
    // is over the workflow's whole life, down time included.
    let (rate, over) = if resumed {
        let life = output.workflow_seconds.max(0.001);
        (
            output.rows as f64 / life,
            format!("{life:.2}s since the workflow started"),
        )
    } else {
        (output.rows as f64 / seconds, format!("{seconds:.2}s"))
    };
    println!(
        "imported {} rows, rejected {} ({} chunks, {} found already written, {} retries) in {over}: {rate:.0} rows/s",
        output.imported, output.rejected, output.chunks, output.chunks_already_done, output.retries
    );
    for (rule, n) in &output.rejected_by_rule {
        println!("  rejected by {rule}: {n}");
    }
    let c = &output.target;
    println!(
        "check: {} rows in people + {} in import_rejects = rows {}..={}, none in both: ok",
        c.people, c.rejects, c.first_row, c.last_row
    );
    let mut result = serde_json::to_value(&output)?;
    result["workflow_id"] = json!(id);
    result["target_kind"] = json!(spec.kind());
    result["file"] = json!(file.display().to_string());
    result["chunk_size"] = json!(args.chunk_size);
    result["concurrency"] = json!(args.concurrency);
    result["resumed"] = json!(resumed);
    result["seconds"] = json!(seconds);
    result["rows_per_second"] = json!(rate);
    result["cpu_seconds"] = json!(cpu);
    if args.compare {
        let plain = plain::run(&spec, &file, args.chunk_size, args.concurrency).await?;
        let plain_rate = plain.rows as f64 / plain.seconds;
        let overhead = (seconds / plain.seconds - 1.0) * 100.0;
        println!(
            "plain loop: {} rows in {:.2}s: {plain_rate:.0} rows/s ({})",
            plain.rows, plain.seconds, plain.target
        );
        println!(
            "durable: {rate:.0} rows/s, plain: {plain_rate:.0} rows/s: durability overhead {overhead:.1} %"
        );
        if plain.imported != output.imported || plain.summary.rejected != output.rejected_by_rule {
            return Err("the plain loop and the workflow imported different rows".into());
        }
        if let (Some(durable), Some(plain)) = (cpu, plain.cpu_seconds) {
            let cpu_overhead = (durable / plain - 1.0) * 100.0;
            println!(
                "CPU time of this process: durable {durable:.2}s, plain {plain:.2}s: {cpu_overhead:.1} % more"
            );
            result["cpu_overhead_percent"] = json!(cpu_overhead);
        }
        result["plain"] = json!({
            "seconds": plain.seconds,
            "cpu_seconds": plain.cpu_seconds,
            "rows_per_second": plain_rate,
            "target": plain.target,
        });
        result["overhead_percent"] = json!(overhead);
    }
    println!("RESULT {result}");
    Ok(())
}

/// Draws the workflow's progress until it ends: a bar on a terminal (the
/// one `reprise watch` draws), a line per change otherwise.
async fn show_progress(rt: Arc<Runtime>, id: String) {
    let options = reprise_cli::watch::FollowOptions::new();
    if let Err(e) = reprise_cli::watch::follow(&rt, &id, options).await {
        eprintln!("(progress unavailable: {e})");
    }
}
