//! The load step of the ETL example: transformed batches upserted into the
//! warehouse (idempotent, at most two at once), and the rejects exported.

use super::*;

/// Loads a transformed batch into the warehouse: one transaction, `UPSERT`
/// by id, so loading a batch twice leaves the same rows. At most two loads
/// run at once (`max_concurrent`), however many batches are in flight.
#[activity(
    start_to_close = "2m",
    max_concurrent = 2,
    retry(initial_interval = "200ms", max_interval = "3s", max_attempts = 10)
)]
pub(crate) fn load_batch(
    ctx: ActivityContext,
    warehouse: Resource<Warehouse>,
    job: EtlInput,
    batch: BatchRef,
) -> Result<Loaded, ActivityError> {
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
        // A blocking sleep is fine here: a `fn` activity has a thread of its own.
        std::thread::sleep(Duration::from_millis(job.slow_ms));
    }
    let workflow_id = ctx.workflow_id();
    let rows = {
        let staging = open_staging(&job.dir, workflow_id)?;
        let mut query = staging.prepare(
            "SELECT id, name, email, country, amount_cents, signup_date, updated_at, source
             FROM clean WHERE batch = ?1 ORDER BY ord",
        )?;
        let rows = query
            .query_map([batch.index], |r| {
                Ok((
                    Customer {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        email: r.get(2)?,
                        country: r.get(3)?,
                        amount_cents: r.get(4)?,
                        signup_date: r.get(5)?,
                        updated_at: r.get(6)?,
                    },
                    r.get::<_, String>(7)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut warehouse = lock(&warehouse.0);
        let tx = warehouse.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO customers (id, name, email, country, amount_cents, signup_date, updated_at, source, loaded_by, batch)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email,
                     country = excluded.country, amount_cents = excluded.amount_cents,
                     signup_date = excluded.signup_date, updated_at = excluded.updated_at,
                     source = excluded.source, loaded_by = excluded.loaded_by, batch = excluded.batch",
            )?;
            for (c, source) in &rows {
                upsert.execute(params![
                    c.id,
                    c.name,
                    c.email,
                    c.country,
                    c.amount_cents,
                    c.signup_date,
                    c.updated_at,
                    source,
                    workflow_id,
                    batch.index
                ])?;
            }
        }
        tx.commit()?;
        rows.len() as u64
    };
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

/// Writes the rejects of this workflow to `<dir>/rejects.jsonl`, one JSON
/// object a line, through a temporary file and a rename: rerunning it
/// rewrites the same file.
#[activity(
    start_to_close = "1m",
    retry(initial_interval = "200ms", max_interval = "3s", max_attempts = 10)
)]
pub(crate) fn export_rejects(ctx: ActivityContext, job: EtlInput) -> Result<u64, ActivityError> {
    {
        use std::io::Write as _;
        let staging = open_staging(&job.dir, ctx.workflow_id())?;
        let path = Path::new(&job.dir).join("rejects.jsonl");
        let tmp = path.with_extension("jsonl.tmp");
        let mut out = std::io::BufWriter::new(fs::File::create(&tmp)?);
        let mut query =
            staging.prepare("SELECT key, source, reason, record FROM rejects ORDER BY ord")?;
        let mut rows = query.query([])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            let record: Value = serde_json::from_str(&row.get::<_, String>(3)?)?;
            let line = json!({
                "key": row.get::<_, String>(0)?,
                "source": row.get::<_, String>(1)?,
                "reason": row.get::<_, String>(2)?,
                "record": record,
            });
            writeln!(out, "{line}")?;
            n += 1;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        fs::rename(&tmp, &path)?;
        Ok(n)
    }
}
