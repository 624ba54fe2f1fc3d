//! A durable ETL job: extract ~12 000 customer records from three real
//! sources in parallel, clean and validate them in batches, load them into
//! a warehouse (an embedded SQLite file, or PostgreSQL), and survive being
//! killed at any moment.
//!
//! ```sh
//! cargo run --example etl_pipeline                 # data in ./etl-data, store ./etl-data/reprise.db
//! cargo run --example etl_pipeline -- --target postgres://postgres@127.0.0.1:5432/warehouse
//! cargo run --example etl_pipeline -- --dir /tmp/etl-faults --fail-rate 0.2   # transient faults, retried
//! cargo run --example etl_pipeline -- --dir /tmp/etl-kill --slow-ms 300       # kill it (Ctrl-C, kill -9)...
//! cargo run --example etl_pipeline -- --dir /tmp/etl-kill --slow-ms 300       # ...the same command resumes
//! ```
//!
//! What it shows:
//!
//! - **Parallel extract** (`join_all` over three activity calls) from a SQLite
//!   database (`<dir>/source.db`), a paginated JSON API that this process
//!   serves on 127.0.0.1, and a CSV file (`<dir>/customers.csv`). The sources
//!   are generated on first run, deterministically, with dirt in them: see
//!   `etl_pipeline/sources.rs`.
//! - **Resources**: the source database's connection, the warehouse (its
//!   connection, or its PostgreSQL settings) and the HTTP client with the
//!   API's address are handed to the activities by the runtime
//!   (`Resource<T>` parameters, given with `Runtime::builder().resource(..)`),
//!   not sent through the history: a resumed run uses this process's
//!   connections and this process's port.
//! - **Blocking work on the blocking pool**: the activities that only use
//!   SQLite and files are plain `fn`s, which the runtime runs on tokio's
//!   blocking threads; the API extract and the activities that write to the
//!   warehouse (maybe PostgreSQL) are `async fn`s that move their SQLite
//!   work there with `spawn_blocking`.
//! - **A concurrency limit** on the load (`max_concurrent = 2`): at most two
//!   batches write to the warehouse at once, however many are in flight.
//! - **References, not records, in the history.** Extract writes into a
//!   staging database; the workflow only passes `BatchRef { index, offset,
//!   limit }` values into the plan table that the dedupe step builds there.
//! - **Validation with the shared rule set** (`examples/shared/validation.rs`,
//!   rules in `etl_pipeline/clean.rs`): invalid records are written to
//!   `<dir>/rejects.jsonl` and the warehouse's `customer_rejects` table with
//!   the rule they broke and why, and counted per rule; a batch that is
//!   mostly invalid is rejected whole with a `ValidationError`, which the
//!   retry policy (`non_retryable = ["ValidationError"]`) does not retry.
//! - **Idempotent load**: one transaction per batch, `UPSERT` by id
//!   (`INSERT .. ON CONFLICT (id) DO UPDATE`, in SQLite or PostgreSQL), so a
//!   retried or re-run batch never duplicates rows (`--fail-rate` even fails
//!   some loads *after* their commit to prove it).
//! - **Retries with backoff** of injected transient faults (`--fail-rate`),
//!   decided per (batch, attempt) so a run is reproducible.
//! - **Live progress**: the workflow publishes `done`/`total` records and
//!   its `phase` with `ctx.set_progress`; `main` draws them as a progress
//!   bar with `reprise_cli::watch::follow` (the bar of `reprise watch`),
//!   with the pending step's attempt, last error and heartbeat under it.
//!   Then a final check of the warehouse against the workflow's output,
//!   printed as a `RESULT {json}` line.
//!
//! Flags given at the first start are kept in the workflow's input: a rerun
//! of an existing `--id` resumes (or, if it finished, just reports) the
//! workflow with its original input. Use a fresh `--dir` or `--id` to try
//! other flags. The workflow store stays the SQLite file `<dir>/reprise.db`
//! whatever the target. `docs/ETL_EXAMPLE.md` explains the design.
//!
//! This file holds the workflow, its plan activity and `main`; the folder
//! `etl_pipeline/` holds the sources (`sources.rs`), the extract
//! (`extraction.rs`), the cleaning rules (`clean.rs`), the transform
//! (`transform.rs`), the prepare, load and export activities (`loading.rs`),
//! the two targets (`warehouse.rs`) and the activities' helpers
//! (`support.rs`).

use std::collections::BTreeMap;
use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use clap::Parser;
use reprise::prelude::*;
use reprise::WorkflowStatus;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;

#[path = "etl_pipeline/clean.rs"]
mod clean;
#[path = "etl_pipeline/extraction.rs"]
mod extraction;
#[path = "etl_pipeline/loading.rs"]
mod loading;
#[path = "etl_pipeline/sources.rs"]
mod sources;
#[path = "etl_pipeline/support.rs"]
mod support;
#[path = "etl_pipeline/transform.rs"]
mod transform;
#[path = "shared/validation.rs"]
mod validation;
#[path = "etl_pipeline/warehouse.rs"]
mod warehouse;

use clean::Customer;
use extraction::extract;
use loading::{export_rejects, load_batch, prepare};
use sources::RawRecord;
use support::{blocking, fault, inject_fault, open_staging, transient};
use transform::transform_batch;
use validation::Summary;
use warehouse::Warehouse;

/// The error kind of an invalid record or batch: never retried.
const VALIDATION: &str = "ValidationError";

// ---------------------------------------------------------------------------
// Resources: what the activities are handed by the runtime, not by the
// workflow (`Runtime::builder().resource(..)` in `main`).
// ---------------------------------------------------------------------------

/// The source database (`<dir>/source.db`), opened read-only.
struct SourceDb(Mutex<Connection>);

/// The customers API: a client (its connection pool) and the address of the
/// API this process serves.
struct Api {
    client: reqwest::Client,
    url: String,
}

/// A connection of a resource, also after a panic of another attempt.
fn lock(db: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    db.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

// ---------------------------------------------------------------------------
// The workflow's input and output, and the small values it passes around.
// ---------------------------------------------------------------------------

/// The workflow's input: where the data lives and how to run. It is stored in
/// the history, so every activity gets the same settings after a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EtlInput {
    /// The data folder (absolute): staging, rejects file (and the SQLite
    /// warehouse, the default target).
    dir: String,
    /// The warehouse: `Warehouse::name`, the SQLite file's path or the
    /// PostgreSQL URL without its password.
    target: String,
    /// Records per transform/load batch.
    batch_size: u64,
    /// Batches in flight at once.
    parallel: u64,
    /// Probability of an injected transient fault per activity attempt.
    fail_rate: f64,
    /// Milliseconds the load activity sleeps per batch (to give time to kill it).
    slow_ms: u64,
    /// A batch with more invalid records than this share is rejected whole.
    max_invalid_ratio: f64,
}

/// Where an extract reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Source {
    Database,
    Api,
    File,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Database => "database",
            Source::Api => "api",
            Source::File => "file",
        }
    }
}

/// A batch of the plan: positions `offset .. offset + limit` of the deduped
/// records in the staging database. This, not the records, is what the
/// history holds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct BatchRef {
    index: u64,
    offset: u64,
    limit: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Extracted {
    source: Source,
    records: u64,
    attempt: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct Plan {
    /// Raw records in staging, all sources.
    extracted: u64,
    /// Distinct records after dedupe: the workflow's `total_records`.
    total: u64,
}

/// What `transform_batch` made of a batch it did not reject whole.
#[derive(Debug, Serialize, Deserialize)]
struct Transformed {
    valid: u64,
    invalid: u64,
    attempt: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct Loaded {
    rows: u64,
    attempt: u32,
}

/// What the workflow returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EtlOutput {
    /// Distinct records after dedupe (by id, across sources):
    /// `successful_records + failed_records`.
    total_records: u64,
    /// Records loaded into the warehouse's `customers` table.
    successful_records: u64,
    /// Records rejected by validation, listed in the rejects file.
    failed_records: u64,
    /// Per rule of the validation: `passed` (= `successful_records`) and
    /// the records each rule rejected (summing to `failed_records`).
    validation: Summary,
    /// From the workflow's start to its end by `ctx.now()`, so a resumed run
    /// counts the time it was down too.
    duration_seconds: f64,
    /// Records read from the sources, duplicates included.
    extracted_records: u64,
    /// `extracted_records - total_records`.
    duplicates_removed: u64,
    per_source: BTreeMap<String, u64>,
    batches: u64,
    /// Batches rejected whole (too many invalid records).
    rejected_batches: u64,
    /// Activity attempts that failed and were retried.
    retries: u64,
    warehouse: String,
    rejects_file: String,
}

#[derive(Debug, Default)]
struct BatchOutcome {
    loaded: u64,
    rejected: u64,
    rejected_whole: bool,
    retries: u64,
}

// ---------------------------------------------------------------------------
// The workflow: deterministic orchestration only; every effect is an activity.
// ---------------------------------------------------------------------------

#[workflow(name = "ETLPipeline")]
async fn etl(ctx: WorkflowContext, input: EtlInput) -> Result<EtlOutput, WorkflowError> {
    let started = ctx.now();
    ctx.set_progress(&json!({ "phase": "prepare" }));
    ctx.activity(prepare, input.clone()).await?;

    // Extract: the three sources in parallel, each into the staging database.
    ctx.set_progress(&json!({ "phase": "extract" }));
    let sources = [Source::Database, Source::Api, Source::File];
    let extracts = join_all(sources.map(|s| ctx.activity(extract, (input.clone(), s)))).await;
    let mut per_source = BTreeMap::new();
    let mut retries = 0;
    for extracted in extracts {
        let extracted = extracted?;
        retries += u64::from(extracted.attempt - 1);
        per_source.insert(extracted.source.name().to_owned(), extracted.records);
    }

    // Dedupe and order the records into a plan; cut it into batch references.
    ctx.set_progress(&json!({ "phase": "dedupe", "extracted": per_source }));
    let plan = ctx.activity(plan_batches, input.clone()).await?;
    let size = input.batch_size.max(1);
    let batches: Vec<BatchRef> = (0..plan.total.div_ceil(size))
        .map(|index| BatchRef {
            index,
            offset: index * size,
            limit: size.min(plan.total - index * size),
        })
        .collect();

    // Transform and load, `parallel` batches at a time.
    let (mut loaded, mut rejected, mut rejected_batches, mut done) = (0, 0, 0, 0);
    // `done`/`total` (records) draw the bar of `reprise watch` and of `main`.
    let report = |batches_done: u64, loaded: u64, rejected: u64, retries: u64| {
        ctx.set_progress(&json!({
            "phase": "transform+load",
            "done": loaded + rejected,
            "total": plan.total,
            "batches_done": batches_done,
            "batches": batches.len(),
            "loaded": loaded,
            "rejected": rejected,
            "retries": retries,
        }));
    };
    report(0, 0, 0, retries);
    for window in batches.chunks(usize::try_from(input.parallel.max(1)).unwrap_or(1)) {
        let ctx = &ctx;
        let input = &input;
        let outcomes = join_all(window.iter().map(|&batch| async move {
            match ctx.activity(transform_batch, (input.clone(), batch)).await {
                Ok(t) => {
                    let l = ctx.activity(load_batch, (input.clone(), batch)).await?;
                    if l.rows != t.valid {
                        return Err(ActivityError::non_retryable(
                            "LoadMismatch",
                            format!(
                                "batch {}: {} valid records, {} loaded",
                                batch.index, t.valid, l.rows
                            ),
                        ));
                    }
                    Ok(BatchOutcome {
                        loaded: l.rows,
                        rejected: t.invalid,
                        rejected_whole: false,
                        retries: u64::from(t.attempt - 1 + l.attempt - 1),
                    })
                }
                // Not retried: `ValidationError` is non-retryable by the policy.
                // The activity has written the batch's records as rejects.
                Err(e) if e.kind() == VALIDATION => Ok(BatchOutcome {
                    rejected: batch.limit,
                    rejected_whole: true,
                    ..BatchOutcome::default()
                }),
                Err(e) => Err(e),
            }
        }))
        .await;
        for outcome in outcomes {
            let outcome = outcome?;
            loaded += outcome.loaded;
            rejected += outcome.rejected;
            rejected_batches += u64::from(outcome.rejected_whole);
            retries += outcome.retries;
            done += 1;
        }
        report(done, loaded, rejected, retries);
    }

    // The rejects, kept in staging by id, exported to the JSONL file.
    ctx.set_progress(&json!({
        "phase": "export rejects",
        "done": loaded + rejected,
        "total": plan.total,
        "loaded": loaded,
        "rejected": rejected,
    }));
    let mut validation = ctx.activity(export_rejects, input.clone()).await?;
    let exported = validation.total_rejected();
    if plan.total != loaded + rejected || exported != rejected {
        return Err(WorkflowError::new(format!(
            "counts do not add up: {} records, {loaded} loaded, {rejected} rejected, {exported} rejects exported",
            plan.total
        )));
    }
    validation.passed = loaded;
    let finished = ctx.now();
    let duration = finished.duration_since(started).unwrap_or_default();
    let dir = PathBuf::from(&input.dir);
    let output = EtlOutput {
        total_records: plan.total,
        successful_records: loaded,
        failed_records: rejected,
        validation,
        duration_seconds: duration.as_secs_f64(),
        extracted_records: plan.extracted,
        duplicates_removed: plan.extracted - plan.total,
        per_source,
        batches: batches.len() as u64,
        rejected_batches,
        retries,
        warehouse: input.target.clone(),
        rejects_file: dir.join("rejects.jsonl").display().to_string(),
    };
    ctx.set_progress(&json!({
        "phase": "done",
        "done": loaded + rejected,
        "total": plan.total,
        "loaded": loaded,
        "rejected": rejected,
        "retries": retries,
    }));
    Ok(output)
}

// ---------------------------------------------------------------------------
// Activities: the I/O. Each is idempotent, as activity code runs at least once.
// ---------------------------------------------------------------------------

/// Dedupes the staged records by id and numbers the survivors `0..total`
/// in id order, into the table `plan`. Of records sharing an id, the one
/// updated last wins; on a tie the database beats the API beats the file,
/// then the first one read. Records without an id are kept, each on its own
/// (validation rejects them).
#[activity(
    start_to_close = "2m",
    retry(initial_interval = "200ms", max_interval = "3s", max_attempts = 10)
)]
fn plan_batches(ctx: ActivityContext, job: EtlInput) -> Result<Plan, ActivityError> {
    inject_fault(&job, "plan", 0, ctx.attempt())?;
    {
        let mut db = open_staging(&job.dir, ctx.workflow_id())?;
        let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(
            "DELETE FROM plan;
             INSERT INTO plan (ord, source, seq)
             SELECT ROW_NUMBER() OVER (ORDER BY id IS NULL, id, source, seq) - 1, source, seq
             FROM (
                 SELECT source, seq, id, ROW_NUMBER() OVER (
                     PARTITION BY COALESCE(CAST(id AS TEXT), source || '#' || seq)
                     ORDER BY updated_at DESC,
                              CASE source WHEN 'database' THEN 0 WHEN 'api' THEN 1 ELSE 2 END,
                              seq
                 ) AS rank
                 FROM raw
             )
             WHERE rank = 1;",
        )?;
        let extracted: u64 = tx.query_row("SELECT COUNT(*) FROM raw", [], |r| r.get(0))?;
        let total: u64 = tx.query_row("SELECT COUNT(*) FROM plan", [], |r| r.get(0))?;
        tx.commit()?;
        Ok(Plan { extracted, total })
    }
}

// ---------------------------------------------------------------------------
// main: sources, runtime, progress, result, verification.
// ---------------------------------------------------------------------------

/// A durable ETL pipeline on reprise: kill it, run it again, it resumes.
#[derive(Debug, Parser)]
struct Args {
    /// Data folder: sources, staging, rejects file, workflow store, and the
    /// SQLite warehouse unless `--target` names another.
    #[arg(long, default_value = "etl-data")]
    dir: PathBuf,
    /// The warehouse: a PostgreSQL URL (postgres://user@host:5432/db);
    /// default: the SQLite file <dir>/warehouse.db. The workflow store stays
    /// <dir>/reprise.db.
    #[arg(long, value_name = "URL", value_parser = warehouse::parse_target)]
    target: Option<String>,
    /// Workflow id; the same id resumes (or reports) the same workflow.
    #[arg(long, default_value = "etl-customers")]
    id: String,
    /// Records per batch.
    #[arg(long, default_value_t = 500)]
    batch_size: u64,
    /// Batches transformed and loaded at once.
    #[arg(long, default_value_t = 4)]
    parallel: u64,
    /// Probability of a transient fault per activity attempt (0 to 0.9).
    #[arg(long, default_value_t = 0.0)]
    fail_rate: f64,
    /// Sleep this many ms per batch in the load activity (time to kill it).
    #[arg(long, default_value_t = 0)]
    slow_ms: u64,
    /// Reject a batch whole when more than this share of it is invalid.
    #[arg(long, default_value_t = 0.5)]
    max_invalid_ratio: f64,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("etl_pipeline: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs (or resumes, or reports) the workflow and checks its target.
async fn run(args: Args) -> Result<(), Box<dyn Error>> {
    fs::create_dir_all(&args.dir)?;
    let dir = fs::canonicalize(&args.dir)?;
    // The target first: another target than the workflow's, or one that
    // cannot be reached, fails before anything is written.
    let target = Warehouse::name_of(args.target.as_deref(), &dir)?;
    let recorded = recorded_target(&dir, &args.id)?;
    if let Some(recorded) = recorded.as_ref().filter(|r| **r != target) {
        return Err(format!(
            "workflow `{}` in {} loads into {recorded}, not {target}: \
             run it with the target it was started with, or use a fresh --id or --dir",
            args.id,
            dir.display()
        )
        .into());
    }
    let warehouse = Warehouse::open(args.target.as_deref(), &dir).await?;
    if recorded.is_none() {
        record_target(&dir, &args.id, &target)?;
    }

    // The sources: files written on first run, the API served from memory.
    let data = sources::generate();
    sources::ensure_files(&dir, &data)?;
    let listener = sources::bind_api().await?;
    let api_port = listener.local_addr()?.port();
    sources::serve_api(listener, &data.api);
    println!(
        "sources: {} (SQLite, {} rows), http://127.0.0.1:{api_port}/api/customers ({} records), {} ({} rows)",
        dir.join("source.db").display(),
        data.database.len(),
        data.api.len(),
        dir.join("customers.csv").display(),
        data.file.len(),
    );

    let source_db = Connection::open_with_flags(
        dir.join("source.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    println!("warehouse: {}", warehouse.name());
    let api = Api {
        client: reqwest::Client::new(),
        url: format!("http://127.0.0.1:{api_port}/api/customers"),
    };
    let rt = Runtime::builder()
        .sqlite(dir.join("reprise.db"))
        .resource(SourceDb(Mutex::new(source_db)))
        .resource(warehouse.clone())
        .resource(api)
        .workflow(etl)
        .activity(prepare)
        .activity(extract)
        .activity(plan_batches)
        .activity(transform_batch)
        .activity(load_batch)
        .activity(export_rejects)
        .build()
        .await?; // resumes every unfinished workflow in the store
    let rt = Arc::new(rt);

    match rt.describe(&args.id).await {
        Ok(info) if info.status == WorkflowStatus::Running => {
            println!(
                "workflow `{}` exists: resuming it with its original input",
                args.id
            );
        }
        Ok(info) => println!(
            "workflow `{}` exists ({:?}): its result",
            args.id, info.status
        ),
        Err(reprise::Error::NotFound { .. }) => println!("starting workflow `{}`", args.id),
        Err(e) => println!("starting or resuming workflow `{}` ({e})", args.id),
    }
    let input = EtlInput {
        dir: dir.display().to_string(),
        target: warehouse.name(),
        batch_size: args.batch_size,
        parallel: args.parallel,
        fail_rate: args.fail_rate,
        slow_ms: args.slow_ms,
        max_invalid_ratio: args.max_invalid_ratio,
    };
    let handle = rt.start(etl, input).id(&args.id).await?;

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
    let output = result?;

    println!("output: {}", serde_json::to_string_pretty(&output)?);
    println!(
        "validation: {} passed, {} rejected",
        output.validation.passed,
        output.validation.total_rejected()
    );
    for (rule, n) in &output.validation.rejected {
        println!("  {rule}: {n}");
    }
    let verified = verify(&output, &warehouse, &args.id).await;
    let rt = Arc::try_unwrap(rt).map_err(|_| "the runtime is still shared")?;
    rt.shutdown().await?;
    let checked = verified?;
    let mut result = serde_json::to_value(&output)?;
    result["workflow_id"] = json!(args.id);
    result["target_rows"] = json!(checked.target_rows);
    result["target_rejects"] = json!(checked.target_rejects);
    result["reject_lines"] = json!(checked.reject_lines);
    println!("RESULT {result}");
    Ok(())
}

/// Draws the workflow's progress until it ends: a bar on a terminal (the
/// one `reprise watch` draws, from the same `done`/`total`/`phase`), with
/// the pending step and each retry; a line per change otherwise.
async fn show_progress(rt: Arc<Runtime>, id: String) {
    let options = reprise_cli::watch::FollowOptions::new();
    if let Err(e) = reprise_cli::watch::follow(&rt, &id, options).await {
        eprintln!("(progress unavailable: {e})");
    }
}

/// The warehouse workflow `id` was started with, as its first run
/// recorded it in the workflow's staging database: `main` reads it before
/// the runtime (which resumes the workflow) starts, and refuses another.
fn recorded_target(dir: &Path, id: &str) -> Result<Option<String>, Box<dyn Error>> {
    let staging = open_staging(&dir.display().to_string(), id).map_err(|e| e.to_string())?;
    let target = staging
        .query_row("SELECT value FROM meta WHERE key = 'target'", [], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(target)
}

/// Records the target of workflow `id` (see [`recorded_target`]).
fn record_target(dir: &Path, id: &str, target: &str) -> Result<(), Box<dyn Error>> {
    let staging = open_staging(&dir.display().to_string(), id).map_err(|e| e.to_string())?;
    staging.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('target', ?1)",
        [target],
    )?;
    Ok(())
}

/// What `verify` counted.
struct Checked {
    target_rows: u64,
    target_rejects: u64,
    reject_lines: u64,
}

/// Checks the warehouse and the rejects file against the output.
async fn verify(
    output: &EtlOutput,
    warehouse: &Warehouse,
    workflow_id: &str,
) -> Result<Checked, Box<dyn Error>> {
    let (target_rows, target_rejects) = warehouse
        .counts(workflow_id)
        .await
        .map_err(|e| format!("cannot count the rows of {}: {e}", warehouse.name()))?;
    let reject_lines = fs::read_to_string(&output.rejects_file)?.lines().count() as u64;
    let checks = [
        (
            output.total_records == output.successful_records + output.failed_records,
            "total = successful + failed",
        ),
        (
            output.validation.passed == output.successful_records
                && output.validation.total_rejected() == output.failed_records,
            "validation summary = successful + failed",
        ),
        (
            target_rows == output.successful_records,
            "rows in `customers` = successful_records",
        ),
        (
            target_rejects == output.failed_records,
            "rows in `customer_rejects` = failed_records",
        ),
        (
            reject_lines == output.failed_records,
            "lines in the rejects file = failed_records",
        ),
    ];
    for (ok, what) in checks {
        println!("check: {what}: {}", if ok { "ok" } else { "FAILED" });
    }
    println!(
        "checked: {target_rows} rows in {} (table `customers`), {target_rejects} in `customer_rejects`, \
         {reject_lines} rejects in {}",
        output.warehouse, output.rejects_file
    );
    if checks.iter().all(|(ok, _)| *ok) {
        Ok(Checked {
            target_rows,
            target_rejects,
            reject_lines,
        })
    } else {
        Err("the warehouse does not match the workflow's output".into())
    }
}
