//! The transform step of the ETL example: one batch of the plan cleaned and
//! checked with the rules of `clean.rs`, into the staging tables `clean`
//! and `rejects`.

use super::*;

use crate::clean::{rules, validate, WHOLE_BATCH_RULE};

/// A record of the batch: its place in the plan and in its source, and the
/// record itself.
struct Planned {
    ord: u64,
    source: String,
    seq: u64,
    raw: RawRecord,
}

/// Cleans and validates one batch of the plan: valid records go to the
/// staging table `clean`, invalid ones to `rejects` (with the rule they
/// broke and why), both replaced as a whole for the batch in one
/// transaction, so a retry rewrites the same rows. A batch with more than
/// `max_invalid_ratio` invalid records is rejected whole, with a
/// `ValidationError` the policy does not retry.
#[activity(
    start_to_close = "2m",
    retry(initial_interval = "200ms", max_interval = "3s", max_attempts = 10, non_retryable = ["ValidationError"])
)]
pub(crate) fn transform_batch(
    ctx: ActivityContext,
    job: EtlInput,
    batch: BatchRef,
) -> Result<Transformed, ActivityError> {
    inject_fault(&job, "transform", batch.index, ctx.attempt())?;
    let attempt = ctx.attempt();
    let mut db = open_staging(&job.dir, ctx.workflow_id())?;
    let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let records = {
        let mut query = tx.prepare(
            "SELECT p.ord, p.source, p.seq, r.record FROM plan p JOIN raw r USING (source, seq)
             WHERE p.ord >= ?1 AND p.ord < ?2 ORDER BY p.ord",
        )?;
        let rows = query.query_map(params![batch.offset, batch.offset + batch.limit], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?))
        })?;
        let mut records = Vec::new();
        for row in rows {
            let (ord, source, seq, record) = row?;
            let raw = serde_json::from_str(&record)?;
            records.push(Planned {
                ord,
                source,
                seq,
                raw,
            });
        }
        records
    };
    if records.len() as u64 != batch.limit {
        return Err(ActivityError::non_retryable(
            "StagingMismatch",
            format!(
                "batch {} refers to {} records, staging has {}",
                batch.index,
                batch.limit,
                records.len()
            ),
        ));
    }
    let rules = rules();
    let mut clean = Vec::new();
    // (record, rule, reason)
    let mut rejects = Vec::new();
    for record in records {
        match validate(&rules, &record.raw) {
            Ok(customer) => clean.push((record, customer)),
            Err(reject) => rejects.push((record, reject.rule, reject.reason)),
        }
    }
    let invalid = rejects.len() as u64;
    let whole = invalid as f64 > job.max_invalid_ratio * batch.limit as f64;
    if whole {
        let reason = format!(
            "batch {} rejected whole: {invalid} of {} records invalid",
            batch.index, batch.limit
        );
        rejects.extend(
            clean
                .drain(..)
                .map(|(record, _)| (record, WHOLE_BATCH_RULE.to_owned(), reason.clone())),
        );
    }
    tx.execute("DELETE FROM clean WHERE batch = ?1", [batch.index])?;
    tx.execute("DELETE FROM rejects WHERE batch = ?1", [batch.index])?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO clean (ord, batch, id, name, email, country, amount_cents, signup_date, updated_at, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for (record, c) in &clean {
            insert.execute(params![
                record.ord,
                batch.index,
                c.id,
                c.name,
                c.email,
                c.country,
                c.amount_cents,
                c.signup_date,
                c.updated_at,
                record.source
            ])?;
        }
        // Keyed by the record's id (or, without one, its place in its source).
        let mut upsert = tx.prepare(
            "INSERT INTO rejects (key, ord, batch, source, rule, reason, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (key) DO UPDATE SET ord = excluded.ord, batch = excluded.batch,
                 source = excluded.source, rule = excluded.rule, reason = excluded.reason,
                 record = excluded.record",
        )?;
        for (record, rule, reason) in &rejects {
            let key = record
                .raw
                .id
                .as_deref()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .map_or_else(
                    || format!("{}#{}", record.source, record.seq),
                    |id| id.to_string(),
                );
            upsert.execute(params![
                key,
                record.ord,
                batch.index,
                record.source,
                rule,
                reason,
                serde_json::to_string(&record.raw)?
            ])?;
        }
    }
    tx.commit()?;
    if whole {
        // `new`, not `non_retryable`: the policy's `non_retryable` list is
        // what stops the retries here.
        return Err(ActivityError::new(
            VALIDATION,
            format!(
                "batch {}: {invalid} of {} records invalid",
                batch.index, batch.limit
            ),
        ));
    }
    Ok(Transformed {
        valid: clean.len() as u64,
        invalid,
        attempt,
    })
}
