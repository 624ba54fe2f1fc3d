//! The load step of the ETL example: transformed batches upserted into the
//! warehouse (idempotent, at most two at once), and the rejects exported to
//! the rejects file and the warehouse's `customer_rejects` table.

use super::*;

use crate::validation::{write_rejects_jsonl, Reject};
use crate::warehouse::{LoadRow, RejectRow};

/// Fails, without retries, when this process's warehouse is not the one
/// the workflow was started with (`main` refuses that case before it starts
/// the runtime; this keeps an activity from ever writing elsewhere).
fn check_target(warehouse: &Warehouse, job: &EtlInput) -> Result<(), ActivityError> {
    let name = warehouse.name();
    if name == job.target {
        Ok(())
    } else {
        Err(ActivityError::non_retryable(
            "TargetMismatch",
            format!(
                "the workflow loads into {}, this process into {name}",
                job.target
            ),
        ))
    }
}

/// Empties the staging tables and deletes the warehouse rows of other
/// workflow ids (a full refresh: the warehouse keeps only the rows of this
/// workflow id). Running it twice is harmless: nothing after it has started
/// when it runs.
#[activity(
    start_to_close = "1m",
    retry(initial_interval = "200ms", max_interval = "3s", max_attempts = 10)
)]
pub(crate) async fn prepare(
    ctx: ActivityContext,
    warehouse: Resource<Warehouse>,
    job: EtlInput,
) -> Result<(), ActivityError> {
    check_target(&warehouse, &job)?;
    let workflow_id = ctx.workflow_id().to_owned();
    {
        let (dir, wf) = (job.dir.clone(), workflow_id.clone());
        blocking(move || {
            let staging = open_staging(&dir, &wf)?;
            staging.execute_batch("DELETE FROM plan; DELETE FROM clean; DELETE FROM rejects;")?;
            Ok(())
        })
        .await?;
    }
    warehouse.keep_only(&workflow_id).await
}

/// Loads a transformed batch into the warehouse: one transaction, `UPSERT`
/// by id, so loading a batch twice leaves the same rows. At most two loads
/// run at once (`max_concurrent`), however many batches are in flight.
#[activity(
    start_to_close = "2m",
    max_concurrent = 2,
    retry(initial_interval = "200ms", max_interval = "3s", max_attempts = 10)
)]
pub(crate) async fn load_batch(
    ctx: ActivityContext,
    warehouse: Resource<Warehouse>,
    job: EtlInput,
    batch: BatchRef,
) -> Result<Loaded, ActivityError> {
    check_target(&warehouse, &job)?;
    let fault = fault(&job, "load", batch.index, ctx.attempt());
    if fault.is_some_and(|x| x % 2 == 0) {
        return Err(transient(
            "load",
            batch.index,
            ctx.attempt(),
            "before the commit",
        ));
    }
    if job.slow_ms > 0 {
        tokio::time::sleep(Duration::from_millis(job.slow_ms)).await;
    }
    let workflow_id = ctx.workflow_id().to_owned();
    let (dir, wf) = (job.dir.clone(), workflow_id.clone());
    let rows = blocking(move || {
        let staging = open_staging(&dir, &wf)?;
        let mut query = staging.prepare(
            "SELECT id, name, email, country, amount_cents, signup_date, updated_at, source
             FROM clean WHERE batch = ?1 ORDER BY ord",
        )?;
        let rows = query
            .query_map([batch.index], |r| {
                Ok(LoadRow {
                    customer: Customer {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        email: r.get(2)?,
                        country: r.get(3)?,
                        amount_cents: r.get(4)?,
                        signup_date: r.get(5)?,
                        updated_at: r.get(6)?,
                    },
                    source: r.get(7)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
    .await?;
    let rows = warehouse.upsert(&workflow_id, batch.index, rows).await?;
    if fault.is_some() {
        // The rows are committed, and the attempt fails anyway (as when the
        // connection drops before the reply): the retry upserts them again.
        return Err(transient(
            "load",
            batch.index,
            ctx.attempt(),
            "after the commit",
        ));
    }
    Ok(Loaded {
        rows,
        attempt: ctx.attempt(),
    })
}

/// Exports the rejects of this workflow: to `<dir>/rejects.jsonl`, one
/// `{"row", "rule", "reason"}` object a line (written to a temporary file
/// renamed over the old one), and to the warehouse's `customer_rejects`
/// (replaced in one transaction). Rerunning it rewrites the same rows.
/// Returns the rejects counted by rule.
#[activity(
    start_to_close = "1m",
    retry(initial_interval = "200ms", max_interval = "3s", max_attempts = 10)
)]
pub(crate) async fn export_rejects(
    ctx: ActivityContext,
    warehouse: Resource<Warehouse>,
    job: EtlInput,
) -> Result<Summary, ActivityError> {
    check_target(&warehouse, &job)?;
    let workflow_id = ctx.workflow_id().to_owned();
    let (dir, wf) = (job.dir.clone(), workflow_id.clone());
    let (rows, summary) = blocking(move || {
        let staging = open_staging(&dir, &wf)?;
        let mut query = staging
            .prepare("SELECT key, source, rule, reason, record FROM rejects ORDER BY ord")?;
        let rows = query
            .query_map([], |r| {
                Ok(RejectRow {
                    key: r.get(0)?,
                    source: r.get(1)?,
                    rule: r.get(2)?,
                    reason: r.get(3)?,
                    record: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut rejects = Vec::with_capacity(rows.len());
        let mut summary = Summary::default();
        for r in &rows {
            let raw: RawRecord = serde_json::from_str(&r.record)?;
            summary.reject(&r.rule);
            rejects.push(Reject {
                row: clean::to_row(&raw),
                rule: r.rule.clone(),
                reason: r.reason.clone(),
            });
        }
        let path = Path::new(&dir).join("rejects.jsonl");
        let tmp = path.with_extension("jsonl.tmp");
        // A killed attempt may have left a part of the file: start afresh.
        match fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        write_rejects_jsonl(&tmp, &rejects)?;
        fs::rename(&tmp, &path)?;
        Ok((rows, summary))
    })
    .await?;
    warehouse.replace_rejects(&workflow_id, rows).await?;
    Ok(summary)
}
