//! `--compare`: the same import without the runtime. The same plan, the
//! same chunk code (`process_chunk`: read, validate, one transaction per
//! chunk) and `--concurrency` tokio tasks taking chunks from a shared
//! counter, into a fresh target next to the workflow's: `<target>-plain.db`
//! for SQLite, tables prefixed `plain_` in the same PostgreSQL database.
//! No history, no limits kept in a store, nothing survives a crash.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::data::{self, ChunkRef};
use crate::process_chunk;
use crate::target::{Target, TargetSpec};
use crate::validation::Summary;

/// What the plain loop did.
#[derive(Debug)]
pub(crate) struct PlainRun {
    pub(crate) rows: u64,
    pub(crate) imported: u64,
    pub(crate) summary: Summary,
    pub(crate) seconds: f64,
    /// CPU seconds of this process over the same span (Linux), see `cpu_seconds`.
    pub(crate) cpu_seconds: Option<f64>,
    /// Where it wrote.
    pub(crate) target: String,
}

/// The plain loop's target beside `spec`.
fn beside(spec: &TargetSpec) -> (TargetSpec, &'static str) {
    match spec {
        TargetSpec::Sqlite(path) => {
            let path = Path::new(path);
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            let plain = path.with_file_name(format!("{stem}-plain.db"));
            (TargetSpec::Sqlite(plain.display().to_string()), "")
        }
        TargetSpec::Postgres(url) => (TargetSpec::Postgres(url.clone()), "plain_"),
    }
}

/// Imports `file` into a fresh target beside `spec` and counts the target
/// as the workflow does, timed from the plan to the count.
pub(crate) async fn run(
    spec: &TargetSpec,
    file: &Path,
    chunk_size: u64,
    concurrency: u32,
) -> Result<PlainRun, Box<dyn std::error::Error>> {
    let (spec, prefix) = beside(spec);
    let target = Arc::new(
        Target::open(spec.clone(), prefix)
            .await
            .map_err(|e| e.to_string())?,
    );
    target.recreate().await.map_err(|e| e.to_string())?;
    let described = format!("{}, tables `{prefix}people`, ...", spec.describe());

    let started = Instant::now();
    let cpu_started = cpu_seconds();
    let path = file.to_owned();
    let plan = tokio::task::spawn_blocking(move || data::plan(&path, chunk_size))
        .await?
        .map_err(|e| e.to_string())?;
    let chunks: Arc<Vec<ChunkRef>> = Arc::new(plan.chunks);
    let next = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(Mutex::new((0u64, Summary::default())));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (target, chunks, next, total) =
            (target.clone(), chunks.clone(), next.clone(), total.clone());
        let file = file.to_owned();
        tasks.push(tokio::spawn(async move {
            while let Some(&chunk) = chunks.get(next.fetch_add(1, Ordering::Relaxed)) {
                let written = process_chunk(&target, &file, chunk).await?;
                let mut total = total
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                total.0 += written.imported;
                total.1.merge(&written.summary);
            }
            Ok::<_, reprise::ActivityError>(())
        }));
    }
    for task in tasks {
        task.await?.map_err(|e| e.to_string())?;
    }
    // The workflow's last activity counts its target: so does the loop.
    let counts = target.counts().await.map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds()
        .zip(cpu_started)
        .map(|(end, start)| end - start);

    let (imported, summary) = std::mem::take(
        &mut *total
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    if counts.people != imported
        || counts.people + counts.rejects != plan.rows
        || counts.in_both != 0
        || counts.last_row != plan.rows
    {
        return Err(format!("the plain loop's target does not add up: {counts:?}").into());
    }
    Ok(PlainRun {
        rows: plan.rows,
        imported,
        summary,
        seconds,
        cpu_seconds: cpu,
        target: described,
    })
}

/// The CPU time this process has used, user and system, in seconds: from
/// `/proc/self/stat` (fields 14 and 15, in clock ticks of 1/100 s, Linux's
/// `USER_HZ`). `None` where there is no such file. Unlike wall time, it is
/// barely moved by other processes competing for the machine.
pub(crate) fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // `after_name` starts at field 3; utime and stime are fields 14 and 15.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}
