//! A scheduled job: a report workflow started by a cron schedule, one run
//! per tick, that appends one line per run to a CSV report file. Kill it
//! at any moment and start it again: the schedule is in the store, the
//! ticks missed meanwhile are fired when it is back (within the catch-up
//! window), and no tick starts two runs.
//!
//! ```sh
//! # every second (six fields: seconds first), for 10 s
//! cargo run --example scheduled_report -- --dir ./schedule-data --seconds 10
//! # from another terminal, while it runs
//! reprise --db schedule-data/reprise.db schedule list
//! reprise --db schedule-data/reprise.db schedule trigger report
//! # a nightly report at 02:00 UTC, with a six-hour catch-up window
//! cargo run --example scheduled_report -- --cron "0 2 * * *" --catchup-seconds 21600 --seconds 86400
//! ```
//!
//! What it shows:
//!
//! - **`rt.schedule(..)` at every start.** The program writes its schedule
//!   each time it starts; the same cron keeps the next tick, so a restart
//!   neither fires a tick twice nor loses one. `--cron` changes it.
//! - **One run per tick, named by its tick**: `report@2026-12-06T09:14:03Z`.
//! - **The report file** `<dir>/reports.csv`: one line per run,
//!   `workflow_id,rows,written_at_ms`, appended by an activity (at least
//!   once: a run killed after the append and before its record appends
//!   again; the reader keys lines by workflow id). `rows` counts the lines
//!   already in the file, the "data" this report summarises.
//! - **Overlap and catch-up**: `--overlap skip|buffer_one|allow_all|cancel_other`
//!   and `--catchup-seconds`; at the end it prints the schedule as
//!   `rt.schedules()` reports it (skipped and missed ticks, latest runs).
//!
//! `docs/SCHEDULES.md` explains schedules.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use reprise::prelude::*;
use reprise::Overlap;

/// Command line.
#[derive(Debug, Parser)]
#[command(about = "A report workflow started by a cron schedule")]
struct Args {
    /// The folder of the store (`reprise.db`) and the report (`reports.csv`).
    #[arg(long, default_value = "schedule-data")]
    dir: PathBuf,
    /// The schedule's cron expression, UTC: five fields, or six with seconds first.
    #[arg(long, default_value = "* * * * * *")]
    cron: String,
    /// What a tick does while the previous run still runs.
    #[arg(long, default_value = "skip", value_parser = parse_overlap)]
    overlap: Overlap,
    /// How late a tick missed while the program was down is still fired.
    #[arg(long, default_value_t = 3600)]
    catchup_seconds: u64,
    /// How long the program runs its worker before it stops.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

fn parse_overlap(s: &str) -> Result<Overlap, String> {
    Ok(match s {
        "skip" => Overlap::Skip,
        "buffer_one" => Overlap::BufferOne,
        "allow_all" => Overlap::AllowAll,
        "cancel_other" => Overlap::CancelOther,
        _ => {
            return Err(format!(
                "unknown overlap policy `{s}`: expected skip, buffer_one, allow_all or cancel_other"
            ))
        }
    })
}

/// Where the report lines go.
struct ReportFile(PathBuf);

/// Appends this run's line to the report: its workflow id, how many lines
/// the file had, the time. Returns that count.
#[activity(
    start_to_close = "10s",
    retry(max_attempts = 5, initial_interval = "200ms")
)]
fn append_report(ctx: ActivityContext, file: Resource<ReportFile>) -> Result<u64, ActivityError> {
    let io = |what: &str, e: std::io::Error| {
        ActivityError::new("ReportIo", format!("{what} {}: {e}", file.0.display()))
    };
    let rows = match std::fs::File::open(&file.0) {
        Ok(f) => BufReader::new(f).lines().count() as u64,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(io("cannot read", e)),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file.0)
        .map_err(|e| io("cannot open", e))?;
    writeln!(out, "{},{rows},{now}", ctx.workflow_id())
        .and_then(|()| out.sync_data())
        .map_err(|e| io("cannot write", e))?;
    Ok(rows)
}

/// One report: the line appended, and the count it saw.
#[workflow]
async fn report(ctx: WorkflowContext) -> Result<u64, WorkflowError> {
    Ok(ctx.activity(append_report, ()).await?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| format!("cannot create {}: {e}", args.dir.display()))?;
    let rt = Runtime::builder()
        .sqlite(args.dir.join("reprise.db"))
        // A fixed id: a restarted program takes back what it held at once.
        .worker_id("scheduled-report")
        .resource(ReportFile(args.dir.join("reports.csv")))
        .workflow(report)
        .activity(append_report)
        .build()
        .await?;
    rt.schedule("report", args.cron.as_str(), report, ())
        .overlap(args.overlap)
        .catchup_window(Duration::from_secs(args.catchup_seconds))
        .await?;
    println!(
        "schedule `report` ({} UTC, overlap {}): running for {} s",
        args.cron, args.overlap, args.seconds
    );
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    for s in rt.schedules().await? {
        println!(
            "{}: {} runs listed, {} skipped, {} missed, paused {}",
            s.id,
            s.recent_runs.len(),
            s.skipped,
            s.missed,
            s.paused
        );
        for run in &s.recent_runs {
            let status = run.status.map_or("gone", |st| st.as_str());
            println!("  {} {status}", run.workflow_id);
        }
    }
    rt.shutdown().await?;
    Ok(())
}
