//! Helpers of the ETL example's activities: its SQLite databases, blocking
//! work off the async threads, and deterministic fault injection.

use std::path::Path;
use std::time::Duration;

use reprise::ActivityError;
use rusqlite::Connection;

use crate::EtlInput;

/// Opens (or creates) a SQLite database in WAL mode and applies `schema`.
pub(crate) fn open_db(path: &Path, schema: &str) -> Result<Connection, ActivityError> {
    let db = Connection::open(path)?;
    db.busy_timeout(Duration::from_secs(30))?;
    db.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    db.execute_batch(schema)?;
    Ok(db)
}

/// The staging database of one workflow: raw records, the plan, clean
/// records, rejects, and `meta` (the workflow's target).
pub(crate) fn open_staging(dir: &str, workflow_id: &str) -> Result<Connection, ActivityError> {
    let file: String = workflow_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    open_db(
        &Path::new(dir).join(format!("staging-{file}.db")),
        "CREATE TABLE IF NOT EXISTS raw (
             source TEXT NOT NULL, seq INTEGER NOT NULL, id INTEGER, updated_at TEXT,
             record TEXT NOT NULL, PRIMARY KEY (source, seq));
         CREATE TABLE IF NOT EXISTS plan (ord INTEGER PRIMARY KEY, source TEXT NOT NULL, seq INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS clean (
             ord INTEGER PRIMARY KEY, batch INTEGER NOT NULL, id INTEGER NOT NULL, name TEXT NOT NULL,
             email TEXT NOT NULL, country TEXT, amount_cents INTEGER NOT NULL, signup_date TEXT NOT NULL,
             updated_at TEXT NOT NULL, source TEXT NOT NULL);
         CREATE INDEX IF NOT EXISTS clean_batch ON clean (batch);
         CREATE TABLE IF NOT EXISTS rejects (
             key TEXT PRIMARY KEY, ord INTEGER NOT NULL, batch INTEGER NOT NULL,
             source TEXT NOT NULL, rule TEXT NOT NULL, reason TEXT NOT NULL, record TEXT NOT NULL);
         CREATE INDEX IF NOT EXISTS rejects_batch ON rejects (batch);
         CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    )
}

/// Runs SQLite and file work off the async worker threads, inside the
/// `async fn` activities (`extract`, which also calls the API, and those
/// that write to the warehouse, which may be PostgreSQL); the other
/// activities are plain `fn`s, which the runtime runs on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ActivityError> + Send + 'static,
) -> Result<T, ActivityError> {
    tokio::task::spawn_blocking(work).await?
}

/// Whether attempt `attempt` of `step` on `unit` gets an injected fault:
/// a hash of the four, compared with `fail_rate`. The same run of the same
/// command fails at the same places. Returns the hash when it does.
pub(crate) fn fault(job: &EtlInput, step: &str, unit: u64, attempt: u32) -> Option<u64> {
    if job.fail_rate <= 0.0 {
        return None;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in step.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut x = h ^ unit.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (u64::from(attempt) << 48);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    let uniform = (x >> 11) as f64 / (1u64 << 53) as f64;
    (uniform < job.fail_rate.min(0.9)).then_some(x)
}

pub(crate) fn transient(step: &str, unit: u64, attempt: u32, when: &str) -> ActivityError {
    ActivityError::new(
        "TransientError",
        format!("injected fault in {step} {unit}, attempt {attempt}, {when}"),
    )
}

pub(crate) fn inject_fault(
    job: &EtlInput,
    step: &str,
    unit: u64,
    attempt: u32,
) -> Result<(), ActivityError> {
    match fault(job, step, unit, attempt) {
        Some(_) => Err(transient(step, unit, attempt, "at the start")),
        None => Ok(()),
    }
}
