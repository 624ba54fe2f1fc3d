//! The extract step of the ETL example: each source (the SQLite database,
//! the paged HTTP API, the CSV file) copied as it is into the staging
//! table `raw`, resuming where an earlier attempt left off.

use super::*;

/// Copies one source into the staging table `raw`, as it is.
#[activity(
    start_to_close = "2m",
    retry(initial_interval = "200ms", max_interval = "3s", max_attempts = 10, non_retryable = ["ValidationError"])
)]
pub(crate) async fn extract(
    ctx: ActivityContext,
    source_db: Resource<SourceDb>,
    api: Resource<Api>,
    job: EtlInput,
    source: Source,
) -> Result<Extracted, ActivityError> {
    inject_fault(&job, source.name(), 0, ctx.attempt())?;
    let records = match source {
        Source::Database => {
            let (job, wf) = (job.clone(), ctx.workflow_id().to_owned());
            blocking(move || extract_database(&source_db, &job, &wf)).await?
        }
        Source::File => {
            let (job, wf) = (job.clone(), ctx.workflow_id().to_owned());
            blocking(move || extract_file(&job, &wf)).await?
        }
        Source::Api => extract_api(&ctx, &api, &job).await?,
    };
    Ok(Extracted {
        source,
        records,
        attempt: ctx.attempt(),
    })
}

/// Replaces the staged rows of `source` by `records` (seq = position).
fn stage(
    job: &EtlInput,
    workflow_id: &str,
    source: Source,
    records: &[RawRecord],
) -> Result<u64, ActivityError> {
    let mut db = open_staging(&job.dir, workflow_id)?;
    let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM raw WHERE source = ?1", [source.name()])?;
    insert_raw(&tx, source, 0, records)?;
    tx.commit()?;
    Ok(records.len() as u64)
}

fn insert_raw(
    db: &Connection,
    source: Source,
    first_seq: u64,
    records: &[RawRecord],
) -> Result<(), ActivityError> {
    let mut insert = db.prepare_cached(
        "INSERT OR REPLACE INTO raw (source, seq, id, updated_at, record) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (i, r) in records.iter().enumerate() {
        let id: Option<i64> = r.id.as_deref().and_then(|s| s.trim().parse().ok());
        let updated_at = r.updated_at.as_deref().map(str::trim);
        let seq = first_seq + i as u64;
        insert.execute(params![
            source.name(),
            seq,
            id,
            updated_at,
            serde_json::to_string(r)?
        ])?;
    }
    Ok(())
}

fn extract_database(
    source: &SourceDb,
    job: &EtlInput,
    workflow_id: &str,
) -> Result<u64, ActivityError> {
    let db = lock(&source.0);
    let mut query = db.prepare_cached(
        "SELECT customer_id, full_name, email, country, lifetime_value, signup_date, updated_at
         FROM crm_customers ORDER BY rowid",
    )?;
    let records = query
        .query_map([], |row| {
            Ok(RawRecord {
                id: row.get::<_, Option<i64>>(0)?.map(|id| id.to_string()),
                name: row.get(1)?,
                email: row.get(2)?,
                country: row.get(3)?,
                amount: row.get(4)?,
                signup_date: row.get(5)?,
                updated_at: row.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    drop(query);
    drop(db);
    stage(job, workflow_id, Source::Database, &records)
}

fn extract_file(job: &EtlInput, workflow_id: &str) -> Result<u64, ActivityError> {
    let mut reader = csv::Reader::from_path(Path::new(&job.dir).join("customers.csv"))?;
    let records = reader
        .deserialize()
        .collect::<Result<Vec<RawRecord>, _>>()?;
    stage(job, workflow_id, Source::File, &records)
}

/// Where a paginated extract stopped, kept in heartbeats for the next attempt.
#[derive(Debug, Serialize, Deserialize)]
struct ApiCursor {
    next_page: u64,
}

const PER_PAGE: u64 = 250;

/// Pages through the API; each page is staged in its own transaction and
/// then heartbeated, so a retry resumes at the page after the last one
/// staged instead of starting over.
async fn extract_api(
    ctx: &ActivityContext,
    api: &Api,
    job: &EtlInput,
) -> Result<u64, ActivityError> {
    let mut page = ctx
        .heartbeat_details::<ApiCursor>()
        .map_or(1, |c| c.next_page);
    if page == 1 {
        let (dir, wf) = (job.dir.clone(), ctx.workflow_id().to_owned());
        blocking(move || {
            open_staging(&dir, &wf)?.execute("DELETE FROM raw WHERE source = 'api'", [])?;
            Ok(())
        })
        .await?;
    }
    loop {
        let body: Value = api
            .client
            .get(&api.url)
            .query(&[("page", page), ("per_page", PER_PAGE)])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let items = body["items"].as_array().cloned().unwrap_or_default();
        let records: Vec<RawRecord> = items.iter().map(api_record).collect();
        let (dir, wf) = (job.dir.clone(), ctx.workflow_id().to_owned());
        blocking(move || {
            let mut db = open_staging(&dir, &wf)?;
            let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
            insert_raw(&tx, Source::Api, (page - 1) * PER_PAGE, &records)?;
            tx.commit()?;
            Ok(())
        })
        .await?;
        match body["next_page"].as_u64() {
            Some(next) => {
                page = next;
                ctx.heartbeat(&ApiCursor { next_page: page });
            }
            None => break,
        }
    }
    let (dir, wf) = (job.dir.clone(), ctx.workflow_id().to_owned());
    blocking(move || {
        let n: u64 = open_staging(&dir, &wf)?.query_row(
            "SELECT COUNT(*) FROM raw WHERE source = 'api'",
            [],
            |r| r.get(0),
        )?;
        Ok(n)
    })
    .await
}

/// The API's JSON record as a `RawRecord`: numbers become strings.
fn api_record(item: &Value) -> RawRecord {
    let text = |v: &Value| match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };
    RawRecord {
        id: text(&item["customer_id"]),
        name: text(&item["full_name"]),
        email: text(&item["contact"]["email"]),
        country: text(&item["country"]),
        amount: text(&item["total_spent"]),
        signup_date: text(&item["signed_up"]),
        updated_at: text(&item["last_modified"]),
    }
}
