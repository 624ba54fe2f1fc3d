//! A durable incremental sync: it copies a source table into a target table
//! by a `(updated_at, id)` watermark, in batches, for ever. A round is one
//! activity; when a round finds the target caught up, the workflow sleeps
//! durably until the next interval, a `sync_now` signal or a `stop` signal.
//! Deletes travel as tombstones, rows that fail the validation rules are
//! kept in a rejects table instead of being copied, and the workflow
//! continues as new every N rounds. Kill it at any moment and start it
//! again: no row is skipped, none is copied twice.
//!
//! ```sh
//! # SQLite files in ./sync-data (source.db, target.db, reprise.db); writers
//! # keep changing the source for 10 s, then `stop`, then the verify step
//! cargo run --example data_sync -- --churn --stop-after 10
//! # the same against PostgreSQL (source and target tables in one database)
//! cargo run --example data_sync -- --postgres postgres://postgres@127.0.0.1/test --churn --stop-after 10
//! # a sync that runs until stopped, and its signals from another terminal
//! cargo run --example data_sync -- --dir ./sync-data
//! cargo run --example data_sync -- --dir ./sync-data --sync-now     # or: reprise --db sync-data/reprise.db signal sync-1 sync_now
//! cargo run --example data_sync -- --dir ./sync-data --stop         # or: reprise --db sync-data/reprise.db signal sync-1 stop
//! cargo run --example data_sync -- --dir ./sync-data --verify       # compare the tables row by row
//! # from a cron schedule: a pass that catches up every 10 seconds
//! cargo run --example data_sync -- --schedule "*/10 * * * * *" --churn --stop-after 30
//! ```
//!
//! What it shows:
//!
//! - **A watermark that skips nothing under concurrent writers.** Writers
//!   stamp `updated_at` from a one-row clock table inside their transaction,
//!   which serialises stamps in commit order; rows are read after
//!   `(updated_at, id)` in that order, so ties on `updated_at` (every row of
//!   a transaction shares its stamp) are cut by id and never skipped.
//! - **A round is one activity** (`sync_round`): read a batch after the
//!   watermark, validate it with the shared rules, and write it into the
//!   target in one transaction together with the round's outcome and the new
//!   watermark. A round that committed but whose completion was lost (a kill
//!   at the worst moment: `--slow-ms`) is found in the target on its retry,
//!   and its stored outcome is returned: the rows, the rejects and the counts
//!   are written exactly once.
//! - **Durable sleep, signals**: caught up, the workflow races a
//!   `ctx.sleep(interval)` against `stop` and `sync_now` in a `biased`
//!   `select!`. `stop` ends it once a round finds nothing left to copy.
//! - **Continue-as-new** every `--rounds-per-run` rounds, carrying the
//!   watermark and the totals.
//! - **Progress**: rows copied, deleted and rejected, and the lag behind the
//!   source (rows and milliseconds) with `ctx.set_progress`, drawn as a bar.
//! - **A verify step** comparing the two tables row by row, and a `RESULT
//!   {json}` line.
//!
//! `docs/DATA_SYNC_EXAMPLE.md` explains the design.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use reprise::prelude::*;
use reprise::WorkflowStatus;

#[path = "data_sync/churn.rs"]
mod churn;
#[path = "data_sync/db.rs"]
mod db;
#[path = "data_sync/scheduled.rs"]
mod scheduled;
#[path = "data_sync/target.rs"]
mod target;
#[cfg(test)]
#[path = "data_sync/tests.rs"]
mod tests;
#[path = "shared/validation.rs"]
mod validation;
#[path = "data_sync/verify.rs"]
mod verify;

use churn::{ChurnStats, COUNTRIES};
use db::{Apply, Endpoint, TargetRow, Watermark};
use validation::{Rules, Summary};

// ---------------------------------------------------------------------------
// Signals, the workflow's input and output, the round's request and outcome.
// ---------------------------------------------------------------------------

/// Ends the sync once a round finds the target caught up.
#[derive(Debug, Serialize, Deserialize, Signal)]
#[signal(name = "stop")]
struct Stop;

/// Runs a round now instead of at the end of the interval.
#[derive(Debug, Serialize, Deserialize, Signal)]
#[signal(name = "sync_now")]
struct SyncNow;

/// The workflow's input: settings, and the state a run hands the next one
/// on continue-as-new (watermark, round number, run number, totals).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SyncInput {
    /// The source and the target as given at the start (for messages; the
    /// connections come from the process, not from the history).
    source: String,
    target: String,
    /// Rows read per round.
    batch_size: u64,
    /// The sleep between rounds once caught up, in milliseconds.
    interval_ms: u64,
    /// A run continues as new after this many rounds.
    rounds_per_run: u64,
    /// Milliseconds a round lingers after its commit.
    slow_ms: u64,
    /// Every source row up to here is in the target (or rejected).
    watermark: Watermark,
    /// The number of the next round, from 1, across runs.
    round: u64,
    /// The run's number in the chain of runs, from 1.
    run: u64,
    /// A `stop` was received: end at the next caught-up round.
    stopping: bool,
    totals: Totals,
}

/// Counts over every round of every run so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Totals {
    rounds: u64,
    /// Rows upserted into the target.
    copied: u64,
    /// Tombstones carried to the target.
    deleted: u64,
    /// Validation: `passed` (= copied) and rejects per rule.
    validation: Summary,
    /// Rounds run early on `sync_now`.
    nudges: u64,
}

/// What the round activity is asked to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RoundRequest {
    /// Names the sync in the target's state and rejects.
    sync_id: String,
    round: u64,
    from: Watermark,
    batch_size: u64,
    slow_ms: u64,
}

/// What a round did (stored in the target with its rows, and in the history).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RoundOutcome {
    round: u64,
    from: Watermark,
    to: Watermark,
    /// Source rows read.
    read: u64,
    copied: u64,
    deleted: u64,
    validation: Summary,
    /// Source rows after `to` when the batch was read.
    behind: u64,
    /// How far `to` is behind the source's last stamp, in milliseconds.
    lag_ms: u64,
}

/// What the workflow returns when it is stopped.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SyncSummary {
    watermark: Watermark,
    rounds: u64,
    run: u64,
    copied: u64,
    deleted: u64,
    rejected: u64,
    validation: Summary,
    nudges: u64,
}

/// The source and the target of this process.
#[derive(Debug)]
struct Endpoints {
    source: Endpoint,
    target: Endpoint,
}

/// The rules a source row must pass to be copied (the shared validation
/// module): names and emails are cleaned, then checked.
fn rules() -> Rules {
    Rules::new()
        .trim("name")
        .title_case("name")
        .required("name")
        .max_len("name", 80)
        .trim("email")
        .lowercase("email")
        .required("email")
        .email("email")
        .trim("country")
        .uppercase("country")
        .required("country")
        .one_of("country", &COUNTRIES)
        .required("amount")
        .integer("amount", 0..=10_000_000)
}

// ---------------------------------------------------------------------------
// The workflow: rounds, sleeps, signals, continue-as-new.
// ---------------------------------------------------------------------------

#[workflow(name = "DataSync")]
async fn data_sync(ctx: WorkflowContext, input: SyncInput) -> Result<SyncSummary, WorkflowError> {
    let stops = ctx.signal::<Stop>();
    let nudges = ctx.signal::<SyncNow>();
    let budget = input.rounds_per_run.max(1);
    let interval = Duration::from_millis(input.interval_ms.max(1));
    let mut state = input;
    let mut rounds = 0;
    let (mut behind, mut lag_ms) = (0, 0);
    // `done`/`total` draw the bar of `reprise watch`: rows applied so far,
    // and those plus the rows still behind in the source.
    let report = |state: &SyncInput, behind: u64, lag_ms: u64, phase: &str| {
        let t = &state.totals;
        let done = t.copied + t.deleted + t.validation.total_rejected();
        ctx.set_progress(&json!({
            "phase": phase,
            "done": done,
            "total": done + behind,
            "copied": t.copied,
            "deleted": t.deleted,
            "rejected": t.validation.total_rejected(),
            "lag_rows": behind,
            "lag_ms": lag_ms,
            "round": state.round - 1,
            "run": state.run,
            "source": state.source,
            "target": state.target,
        }));
    };
    report(&state, behind, lag_ms, "syncing");
    loop {
        if !state.stopping && stops.try_recv().is_some() {
            state.stopping = true;
        }
        if rounds >= budget {
            // Bound the history: a fresh run goes on from the same watermark.
            state.run += 1;
            return ctx.continue_as_new(state);
        }
        let request = RoundRequest {
            sync_id: ctx.workflow_id().to_owned(),
            round: state.round,
            from: state.watermark,
            batch_size: state.batch_size,
            slow_ms: state.slow_ms,
        };
        let outcome = ctx.activity(sync_round, request).await?;
        rounds += 1;
        state.round += 1;
        state.watermark = outcome.to;
        let totals = &mut state.totals;
        totals.rounds += 1;
        totals.copied += outcome.copied;
        totals.deleted += outcome.deleted;
        totals.validation.merge(&outcome.validation);
        (behind, lag_ms) = (outcome.behind, outcome.lag_ms);
        if behind > 0 {
            report(&state, behind, lag_ms, "catching up");
            continue;
        }
        if state.stopping {
            break;
        }
        // Caught up: sleep durably until the next round, unless a signal
        // comes first (the biased select polls them in this order).
        report(&state, behind, lag_ms, "caught up");
        tokio::select! {
            biased;
            _ = stops.recv() => state.stopping = true,
            _ = nudges.recv() => {
                state.totals.nudges += 1;
                // Several `sync_now` in a row make one early round.
                while nudges.try_recv().is_some() {}
            }
            () = ctx.sleep(interval) => {}
        }
    }
    report(&state, behind, lag_ms, "stopped");
    let t = state.totals;
    Ok(SyncSummary {
        watermark: state.watermark,
        rounds: t.rounds,
        run: state.run,
        copied: t.copied,
        deleted: t.deleted,
        rejected: t.validation.total_rejected(),
        validation: t.validation,
        nudges: t.nudges,
    })
}

// ---------------------------------------------------------------------------
// The round: the only activity. It knows nothing of the loop around it, so a
// scheduled job can run rounds too.
// ---------------------------------------------------------------------------

/// Reads a batch after the watermark from the source, validates it, and
/// writes it into the target in one transaction with the new watermark and
/// this outcome. If the target already holds this round, returns the stored
/// outcome: the round's effects happen once however often it runs.
#[activity(
    start_to_close = "2m",
    retry(
        initial_interval = "200ms",
        max_interval = "5s",
        non_retryable = ["WatermarkMismatch"]
    )
)]
async fn sync_round(
    endpoints: Resource<Endpoints>,
    request: RoundRequest,
) -> Result<RoundOutcome, ActivityError> {
    let batch = db::read_batch(&endpoints.source, request.from, request.batch_size).await?;
    let rules = rules();
    let to = batch
        .rows
        .last()
        .map_or(request.from, db::SourceRow::watermark);
    let (mut upserts, mut removals, mut rejects) = (Vec::new(), Vec::new(), Vec::new());
    let (mut deleted, mut validation) = (0, Summary::default());
    for row in &batch.rows {
        if row.deleted {
            deleted += 1;
            removals.push(row.id);
            continue;
        }
        match rules.check(row.fields()) {
            Ok(clean) => {
                validation.passed += 1;
                let target = TargetRow::from_clean(row, &clean)
                    .map_err(|e| ActivityError::non_retryable("ValidationError", e))?;
                upserts.push(target);
            }
            Err(reject) => {
                // Not copied; an earlier copy of the row leaves the target,
                // which never holds a version the source has replaced.
                *validation.rejected.entry(reject.rule.clone()).or_default() += 1;
                removals.push(row.id);
                rejects.push((row.id, row.updated_at, reject));
            }
        }
    }
    let outcome = RoundOutcome {
        round: request.round,
        from: request.from,
        to,
        read: batch.rows.len() as u64,
        copied: validation.passed,
        deleted,
        validation,
        behind: batch.behind,
        lag_ms: if batch.behind == 0 {
            0
        } else {
            u64::try_from(batch.head.saturating_sub(to.updated_at) / 1000).unwrap_or(0)
        },
    };
    let apply = Apply {
        sync_id: request.sync_id,
        round: request.round,
        from: request.from,
        to,
        upserts,
        removals,
        rejects,
        outcome,
    };
    let stored = target::apply_round(&endpoints.target, apply).await?;
    // Committed, and not yet recorded: a kill now makes the round run again.
    tokio::time::sleep(Duration::from_millis(request.slow_ms)).await;
    Ok(serde_json::from_str(&stored)?)
}

/// Microseconds since the epoch, by this process's clock (SQLite writers'
/// stamps; PostgreSQL uses the server's clock).
pub(crate) fn micros_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

// ---------------------------------------------------------------------------
// main: the sync (with its writers), a signal sender, or the verify step.
// ---------------------------------------------------------------------------

/// A durable incremental sync on reprise: SQLite files by default,
/// PostgreSQL with `--source`/`--target`/`--postgres`.
#[derive(Debug, Parser)]
struct Args {
    /// Data folder: the workflow store (`reprise.db`) and the default source
    /// (`source.db`) and target (`target.db`) [default: sync-data, or
    /// sync-data-pg when the source or the target is PostgreSQL].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Workflow id; the same id resumes (or reports) the same sync.
    #[arg(long, default_value = "sync-1")]
    id: String,
    /// The source: a SQLite file or a postgres:// URL [default: <dir>/source.db].
    #[arg(long, value_name = "PATH|URL")]
    source: Option<String>,
    /// The target: a SQLite file or a postgres:// URL [default: <dir>/target.db].
    #[arg(long, value_name = "PATH|URL")]
    target: Option<String>,
    /// One PostgreSQL database for both the source and the target tables.
    #[arg(long, value_name = "URL", conflicts_with_all = ["source", "target"])]
    postgres: Option<String>,
    /// Rows written into an empty source before the sync starts.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    seed_rows: u64,
    /// Source rows read per round.
    #[arg(long, default_value_t = 500)]
    batch_size: u64,
    /// Milliseconds between rounds once caught up.
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// Continue as new after this many rounds in a run.
    #[arg(long, default_value_t = 100)]
    rounds_per_run: u64,
    /// A round lingers this many ms after its commit (time to kill it).
    #[arg(long, default_value_t = 0)]
    slow_ms: u64,
    /// Keep inserting, updating and deleting source rows while the sync runs.
    #[arg(long)]
    churn: bool,
    /// With `--churn`: source transactions a second, all writers together.
    #[arg(long, default_value_t = 40.0)]
    churn_rate: f64,
    /// With `--churn`: concurrent writers.
    #[arg(long, default_value_t = 2)]
    churn_writers: u64,
    /// After this many seconds, end the churn and send `stop` to the sync.
    #[arg(long, value_name = "SECS")]
    stop_after: Option<f64>,
    /// Send `stop` to the sync `--id`, then exit.
    #[arg(long, conflicts_with_all = ["sync_now", "verify"])]
    stop: bool,
    /// Send `sync_now` to the sync `--id`, then exit.
    #[arg(long, conflicts_with = "verify")]
    sync_now: bool,
    /// Compare the target with the source row by row, then exit.
    #[arg(long)]
    verify: bool,
    /// Run the sync from a cron schedule (UTC; 5 fields, or 6 with seconds):
    /// a pass that catches up at every tick, instead of one workflow that
    /// loops (`--interval-ms`, `--rounds-per-run`, `sync_now` and `stop`
    /// do not apply). The schedule's id is `--id`.
    #[arg(long, value_name = "CRON", conflicts_with_all = ["stop", "sync_now", "verify"])]
    schedule: Option<String>,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Args::parse()).await {
        eprintln!("data_sync: {e}");
        std::process::exit(1);
    }
}

/// Sends a signal, verifies, or runs the sync, as the flags say.
async fn run(args: Args) -> Result<(), Box<dyn Error>> {
    // The PostgreSQL demo keeps its workflow store apart from the SQLite one.
    let on_postgres = [&args.source, &args.target, &args.postgres]
        .iter()
        .any(|given| given.as_deref().is_some_and(|text| text.contains("://")));
    let dir = args.dir.clone().unwrap_or_else(|| {
        PathBuf::from(if on_postgres {
            "sync-data-pg"
        } else {
            "sync-data"
        })
    });
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create --dir {}: {e}", dir.display()))?;
    let dir = fs::canonicalize(&dir)?;
    if args.stop || args.sync_now {
        return send(&dir, &args.id, args.stop).await;
    }
    let endpoint = |given: &Option<String>, what: &str, file: &str| match given
        .as_ref()
        .or(args.postgres.as_ref())
    {
        Some(text) => Endpoint::parse(text).map_err(|e| format!("--{what}: {e}")),
        None => Ok(Endpoint::Sqlite(dir.join(file))),
    };
    let source = endpoint(&args.source, "source", "source.db")?;
    let target = endpoint(&args.target, "target", "target.db")?;
    db::ensure_source(&source)
        .await
        .map_err(|e| format!("source {}: {}", source.describe(), e.message()))?;
    target::ensure(&target)
        .await
        .map_err(|e| format!("target {}: {}", target.describe(), e.message()))?;
    if args.verify {
        let report = verify::compare(&source, &target, &rules(), &args.id)
            .await
            .map_err(|e| format!("verify: {}", e.message()))?;
        verify::print(&report);
        println!("RESULT {}", json!({ "verify": report }));
        return match report.mismatches {
            0 => Ok(()),
            n => Err(format!("the target does not match the source: {n} mismatches").into()),
        };
    }
    if let Some(cron) = &args.schedule {
        return scheduled::run(&args, cron, &dir, source, target).await;
    }
    sync(&args, &dir, source, target).await
}

/// The sync: seed, start or resume the workflow, run the writers, stop,
/// verify.
async fn sync(
    args: &Args,
    dir: &Path,
    source: Endpoint,
    target: Endpoint,
) -> Result<(), Box<dyn Error>> {
    let seed = u64::try_from(micros_now()).unwrap_or(1);
    let seeded = churn::seed(&source, args.seed_rows, seed)
        .await
        .map_err(|e| format!("seeding the source {}: {}", source.describe(), e.message()))?;
    if seeded > 0 {
        println!("seeded the source with {seeded} rows");
    }
    // A new sync starts where the target stands.
    let start = target::state(&target)
        .await
        .map_err(|e| format!("reading the target {}: {}", target.describe(), e.message()))?;
    let rt = Runtime::builder()
        .sqlite(dir.join("reprise.db"))
        .resource(Endpoints {
            source: source.clone(),
            target: target.clone(),
        })
        .workflow(data_sync)
        .activity(sync_round)
        .build()
        .await?; // resumes every unfinished workflow in the store
    let rt = Arc::new(rt);
    let existing = rt.describe(&args.id).await;
    if let Ok(info) = &existing {
        // The connections come from this process: they must be the ones
        // the sync started with (its progress names them).
        let progress = info.progress.clone().unwrap_or_default();
        for (what, given) in [("source", &source), ("target", &target)] {
            if let Some(started) = progress[what].as_str() {
                if started != given.describe() {
                    return Err(format!(
                        "workflow `{}` syncs with the {what} {started}, not {}: \
                         give the same --{what}, or another --id or --dir",
                        args.id,
                        given.describe()
                    )
                    .into());
                }
            }
        }
    }
    match existing {
        Ok(info) if info.status == WorkflowStatus::Running => {
            println!(
                "workflow `{}` exists (run {}): resuming it with its own state",
                args.id,
                info.runs.len()
            )
        }
        Ok(info) => println!(
            "workflow `{}` has ended ({:?}): its result",
            args.id, info.status
        ),
        Err(reprise::Error::NotFound { .. }) => println!(
            "starting workflow `{}` from {}",
            args.id,
            match &start {
                Some(s) => format!(
                    "the target's watermark {} (set by `{}`)",
                    s.watermark, s.sync_id
                ),
                None => "the beginning".to_owned(),
            }
        ),
        Err(e) => return Err(e.into()),
    }
    println!("source {}, target {}", source.describe(), target.describe());
    let input = SyncInput {
        source: source.describe(),
        target: target.describe(),
        batch_size: args.batch_size.max(1),
        interval_ms: args.interval_ms.max(1),
        rounds_per_run: args.rounds_per_run.max(1),
        slow_ms: args.slow_ms,
        watermark: start.as_ref().map(|s| s.watermark).unwrap_or_default(),
        round: 1,
        run: 1,
        stopping: false,
        totals: Totals::default(),
    };
    let handle = rt.start(data_sync, input).id(&args.id).await?;

    // The writers, and the stop after `--stop-after` seconds: the writers
    // are told to end, their last transactions commit, then `stop` goes out
    // (so the sync's last round sees every write).
    let churn_stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(ChurnStats::default());
    let (churn_done, mut churn_finished) = tokio::sync::watch::channel(!args.churn);
    let churn = args.churn.then(|| {
        let writers = churn::churn(
            source.clone(),
            args.churn_writers,
            args.churn_rate,
            seed,
            churn_stop.clone(),
            stats.clone(),
        );
        tokio::spawn(async move {
            let written = writers.await;
            let _ = churn_done.send(true);
            written
        })
    });
    let stopper = args.stop_after.map(|secs| {
        let (rt, id, churn_stop) = (rt.clone(), args.id.clone(), churn_stop.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(secs.max(0.0))).await;
            churn_stop.store(true, Ordering::Relaxed);
            let _ = churn_finished.wait_for(|done| *done).await;
            if let Err(e) = rt.signal(&id, Stop).await {
                eprintln!("(could not send `stop` to `{id}`: {e})");
            }
        })
    });
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
    churn_stop.store(true, Ordering::Relaxed);
    if let Some(stopper) = stopper {
        stopper.abort();
        let _ = stopper.await;
    }
    if let Some(churn) = churn {
        churn
            .await?
            .map_err(|e| format!("the source's writers failed: {e}"))?;
    }
    let summary = result?;
    let runs = rt.describe(&args.id).await?.runs.len();
    let rt = Arc::try_unwrap(rt).map_err(|_| "the runtime is still shared")?;
    rt.shutdown().await?;
    println!(
        "stopped after {} rounds in {runs} runs: {} rows copied, {} deleted, {} rejected; watermark {}",
        summary.rounds, summary.copied, summary.deleted, summary.rejected, summary.watermark
    );
    for (rule, n) in &summary.validation.rejected {
        println!("  rejected by {rule:<24} {n:>6}");
    }
    if args.churn {
        println!(
            "writers: {} transactions ({} inserts, {} updates, {} deletes)",
            stats.transactions.load(Ordering::Relaxed),
            stats.inserts.load(Ordering::Relaxed),
            stats.updates.load(Ordering::Relaxed),
            stats.deletes.load(Ordering::Relaxed)
        );
    }
    let report = verify::compare(&source, &target, &rules(), &args.id)
        .await
        .map_err(|e| format!("verify: {}", e.message()))?;
    verify::print(&report);
    let mut result = serde_json::to_value(&summary)?;
    result["workflow_id"] = json!(args.id);
    result["runs"] = json!(runs);
    result["source"] = json!(source.describe());
    result["target"] = json!(target.describe());
    result["churn_transactions"] = json!(stats.transactions.load(Ordering::Relaxed));
    result["verify"] = serde_json::to_value(&report)?;
    println!("RESULT {result}");
    match report.mismatches {
        0 => Ok(()),
        n => Err(format!("the target does not match the source: {n} mismatches").into()),
    }
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

/// Sends `stop` or `sync_now` from a client runtime on the sync's store.
async fn send(dir: &Path, id: &str, stop: bool) -> Result<(), Box<dyn Error>> {
    let store = dir.join("reprise.db");
    if !store.exists() {
        return Err(format!(
            "no workflow store at {}: start the sync first",
            store.display()
        )
        .into());
    }
    let rt = Runtime::builder()
        .sqlite(&store)
        .worker(false)
        .build()
        .await?;
    let (sent, name) = if stop {
        (rt.signal(id, Stop).await, <Stop as reprise::Signal>::NAME)
    } else {
        (
            rt.signal(id, SyncNow).await,
            <SyncNow as reprise::Signal>::NAME,
        )
    };
    rt.shutdown().await?;
    sent.map_err(|e| format!("could not send `{name}` to `{id}`: {e}"))?;
    println!("sent `{name}` to workflow `{id}`");
    Ok(())
}
