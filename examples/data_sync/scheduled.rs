//! The sync on a cron schedule (`--schedule CRON`): instead of one workflow
//! that loops for ever, a schedule starts a short `DataSyncPass` workflow
//! at every tick. A pass reads where the target stands, runs the same round
//! activity (`sync_round`) until it is caught up, and ends. A tick that
//! comes while the previous pass still runs is skipped (the schedule's
//! default overlap policy), so passes never overlap; the schedule lives in
//! the workflow store, so it survives a kill and a restart, and on
//! PostgreSQL one pass per tick runs across every worker.
//!
//! With `--stop-after SECS` the writers stop after that long, one last pass
//! is triggered once no pass runs, the schedule is deleted, and the verify
//! step runs; without it the process runs until it is stopped.

use std::error::Error;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use reprise::prelude::*;
use reprise::{ListFilter, WorkflowStatus};

use crate::churn::{self, ChurnStats};
use crate::db::{Endpoint, Watermark};
use crate::validation::Summary;
use crate::{micros_now, rules, sync_round, target, verify, Args, Endpoints, RoundRequest};

/// What every pass of a schedule is started with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PassInput {
    /// Names the sync in the target's state: every pass of the schedule
    /// continues the same numbering of rounds.
    sync_id: String,
    batch_size: u64,
    slow_ms: u64,
}

/// Where a pass starts: the target's last round and watermark.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct PassStart {
    round: u64,
    watermark: Watermark,
}

/// What a pass did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct PassSummary {
    rounds: u64,
    copied: u64,
    deleted: u64,
    validation: Summary,
    watermark: Watermark,
}

/// Reads where the target stands: the last round written into it and its
/// watermark (a pass goes on from there, as a new sync does).
#[activity(start_to_close = "1m")]
pub(crate) async fn pass_start(endpoints: Resource<Endpoints>) -> Result<PassStart, ActivityError> {
    Ok(match target::state(&endpoints.target).await? {
        Some(state) => PassStart {
            round: state.round,
            watermark: state.watermark,
        },
        None => PassStart::default(),
    })
}

/// One scheduled pass: rounds from where the target stands until a round
/// finds nothing behind it.
#[workflow(name = "DataSyncPass")]
pub(crate) async fn sync_pass(
    ctx: WorkflowContext,
    input: PassInput,
) -> Result<PassSummary, WorkflowError> {
    let start = ctx.activity(pass_start, ()).await?;
    let mut round = start.round + 1;
    let mut summary = PassSummary {
        watermark: start.watermark,
        ..PassSummary::default()
    };
    loop {
        let request = RoundRequest {
            sync_id: input.sync_id.clone(),
            round,
            from: summary.watermark,
            batch_size: input.batch_size,
            slow_ms: input.slow_ms,
        };
        let outcome = ctx.activity(sync_round, request).await?;
        round += 1;
        summary.rounds += 1;
        summary.copied += outcome.copied;
        summary.deleted += outcome.deleted;
        summary.validation.merge(&outcome.validation);
        summary.watermark = outcome.to;
        ctx.set_progress(&json!({
            "phase": if outcome.behind == 0 { "caught up" } else { "catching up" },
            "done": summary.copied + summary.deleted,
            "total": summary.copied + summary.deleted + outcome.behind,
            "lag_rows": outcome.behind,
            "lag_ms": outcome.lag_ms,
        }));
        if outcome.behind == 0 {
            return Ok(summary);
        }
    }
}

/// Waits until no pass of schedule `id` runs.
async fn idle(rt: &Runtime, id: &str) -> Result<(), Box<dyn Error>> {
    loop {
        let schedules = rt.schedules().await?;
        let Some(info) = schedules.iter().find(|s| s.id == id) else {
            return Ok(());
        };
        if !info.recent_runs.iter().any(|r| r.is_running()) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Runs the sync from a schedule (see the module's documentation).
pub(crate) async fn run(
    args: &Args,
    cron: &str,
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
    let rt = Runtime::builder()
        .sqlite(dir.join("reprise.db"))
        .resource(Endpoints {
            source: source.clone(),
            target: target.clone(),
        })
        .workflow(sync_pass)
        .activity(pass_start)
        .activity(sync_round)
        .build()
        .await?;
    let input = PassInput {
        sync_id: args.id.clone(),
        batch_size: args.batch_size.max(1),
        slow_ms: args.slow_ms,
    };
    // Written at every start: a restart keeps the schedule's next tick and
    // its counters (and a changed cron or input takes effect).
    rt.schedule(&args.id, cron, sync_pass, input).await?;
    println!(
        "schedule `{}` runs a pass at `{cron}` (UTC); source {}, target {}",
        args.id,
        source.describe(),
        target.describe()
    );
    let churn_stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(ChurnStats::default());
    let writers = args.churn.then(|| {
        tokio::spawn(churn::churn(
            source.clone(),
            args.churn_writers,
            args.churn_rate,
            seed,
            churn_stop.clone(),
            stats.clone(),
        ))
    });
    let Some(secs) = args.stop_after else {
        // Runs until the process is stopped; the schedule stays in the store.
        std::future::pending::<()>().await;
        return Ok(());
    };
    tokio::time::sleep(std::time::Duration::from_secs_f64(secs.max(0.0))).await;
    churn_stop.store(true, Ordering::Relaxed);
    if let Some(writers) = writers {
        writers
            .await?
            .map_err(|e| format!("the source's writers failed: {e}"))?;
    }
    // The last pass sees every write: triggered once no pass runs (a
    // trigger while one runs would be skipped, as a tick is).
    let last = loop {
        idle(&rt, &args.id).await?;
        if let Some(id) = rt.trigger_schedule(&args.id).await? {
            break id;
        }
    };
    let last: PassSummary = rt.handle(&last).await?.result().await?;
    rt.delete_schedule(&args.id).await?;
    let passes = rt
        .list(
            ListFilter::new()
                .name("DataSyncPass")
                .status(WorkflowStatus::Completed),
        )
        .await?
        .workflows
        .len();
    rt.shutdown().await?;
    println!(
        "{passes} passes; the last one ended at watermark {}",
        last.watermark
    );
    let report = verify::compare(&source, &target, &rules(), &args.id)
        .await
        .map_err(|e| format!("verify: {}", e.message()))?;
    verify::print(&report);
    let result = json!({
        "schedule": args.id,
        "passes": passes,
        "watermark": last.watermark,
        "churn_transactions": stats.transactions.load(Ordering::Relaxed),
        "verify": report,
    });
    println!("RESULT {result}");
    match report.mismatches {
        0 => Ok(()),
        n => Err(format!("the target does not match the source: {n} mismatches").into()),
    }
}
