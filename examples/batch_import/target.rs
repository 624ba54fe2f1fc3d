//! The batch import's target: a SQLite file (the default) or a PostgreSQL
//! database (`--target postgres://...`), with the same three tables:
//! `people` (the valid rows), `import_rejects` (the rejected rows, with the
//! rule and the reason) and `import_chunks` (one row per chunk written). A
//! chunk is written in one transaction that first claims its row in
//! `import_chunks`: a chunk written before is never written again.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reprise::prelude::*;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::data::{ChunkRef, Validated};
use crate::validation::Summary;

/// Where the rows go, as given by `--target` and kept in the workflow's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum TargetSpec {
    /// A SQLite file (absolute path).
    Sqlite(String),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl TargetSpec {
    /// `postgres://...` / `postgresql://...`, or a SQLite file path.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            text.parse::<tokio_postgres::Config>()
                .map_err(|e| format!("--target {text:?} is not a PostgreSQL URL: {e}"))?;
            return Ok(Self::Postgres(text.to_owned()));
        }
        if text.contains("://") {
            return Err(format!(
                "--target {text:?}: only postgres://... URLs and SQLite file paths are supported"
            ));
        }
        let path = PathBuf::from(text);
        let path = if path.is_absolute() {
            path
        } else {
            std::env::current_dir()
                .map_err(|e| e.to_string())?
                .join(path)
        };
        Ok(Self::Sqlite(path.display().to_string()))
    }

    /// A short name of the kind: `sqlite` or `postgres`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// For people: the path, or the URL without its password.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("SQLite {path}"),
            Self::Postgres(url) => match url.parse::<tokio_postgres::Config>() {
                Ok(c) => format!(
                    "PostgreSQL {}@{}:{}/{}",
                    c.get_user().unwrap_or("?"),
                    match c.get_hosts().first() {
                        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
                        Some(tokio_postgres::config::Host::Unix(path)) =>
                            path.display().to_string(),
                        None => "localhost".to_owned(),
                    },
                    c.get_ports().first().copied().unwrap_or(5432),
                    c.get_dbname().unwrap_or("?")
                ),
                Err(_) => "PostgreSQL".to_owned(),
            },
        }
    }
}

/// An open target: the activities' resource. `prefix` is put before every
/// table name (`plain_` for `--compare`'s plain loop on PostgreSQL).
pub(crate) struct Target {
    pub(crate) spec: TargetSpec,
    prefix: String,
    /// SQLite: one connection the chunks share (SQLite has one writer at a
    /// time anyway); validation runs outside its lock.
    sqlite: Option<Arc<Mutex<Connection>>>,
}

/// What a chunk wrote (or had written before).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Written {
    pub(crate) imported: u64,
    pub(crate) rejected: u64,
    pub(crate) summary: Summary,
    /// The chunk was in `import_chunks` already: nothing was written now.
    pub(crate) already_done: bool,
}

/// The target's contents, counted: what the final check compares.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Counts {
    pub(crate) people: u64,
    pub(crate) rejects: u64,
    /// Row numbers in both `people` and `import_rejects` (must be 0).
    pub(crate) in_both: u64,
    /// The smallest and largest row number of the two tables together.
    pub(crate) first_row: u64,
    pub(crate) last_row: u64,
    pub(crate) chunks: u64,
}

/// The tables, their names prefixed with `p`, in either database's SQL.
fn schema(p: &str, postgres: bool) -> String {
    // In SQLite, `INTEGER PRIMARY KEY` is the table's own key (no second index).
    let (key, date) = if postgres {
        ("BIGINT", "DATE")
    } else {
        ("INTEGER", "TEXT")
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {p}people (
             row_no {key} PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL,
             country TEXT NOT NULL, age BIGINT NOT NULL, signup_date {date} NOT NULL,
             amount_cents BIGINT NOT NULL, chunk BIGINT NOT NULL);
         CREATE TABLE IF NOT EXISTS {p}import_rejects (
             row_no {key} PRIMARY KEY, rule TEXT NOT NULL, reason TEXT NOT NULL,
             record TEXT NOT NULL, chunk BIGINT NOT NULL);
         CREATE TABLE IF NOT EXISTS {p}import_chunks (
             chunk {key} PRIMARY KEY, first_row BIGINT NOT NULL, rows BIGINT NOT NULL,
             imported BIGINT NOT NULL, rejected BIGINT NOT NULL, summary TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS {p}import_job (job TEXT PRIMARY KEY);"
    )
}

/// The SQLite connection, also after a panic of another chunk's attempt.
fn sqlite_lock(db: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    db.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A PostgreSQL error with its causes (the driver's own message names
/// only the kind: "error connecting to server", "db error").
fn pg(e: tokio_postgres::Error) -> ActivityError {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    ActivityError::new("PostgresError", message)
}

/// A fresh PostgreSQL connection (its driver task runs until it is dropped).
async fn pg_connect(url: &str) -> Result<tokio_postgres::Client, ActivityError> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(pg)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("PostgreSQL connection: {e}");
        }
    });
    Ok(client)
}

impl Target {
    /// Opens the target and creates its tables if missing.
    pub(crate) async fn open(spec: TargetSpec, prefix: &str) -> Result<Self, ActivityError> {
        let sqlite = match &spec {
            TargetSpec::Sqlite(path) => {
                let db = Connection::open(path)?;
                db.busy_timeout(Duration::from_secs(30))?;
                db.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
                db.execute_batch(&schema(prefix, false))?;
                Some(Arc::new(Mutex::new(db)))
            }
            TargetSpec::Postgres(url) => {
                let client = pg_connect(url).await?;
                // Two first runs at once may race on CREATE TABLE IF NOT EXISTS.
                client
                    .batch_execute(&format!(
                        "SELECT pg_advisory_lock(4204); {} SELECT pg_advisory_unlock(4204);",
                        schema(prefix, true)
                    ))
                    .await
                    .map_err(pg)?;
                None
            }
        };
        Ok(Self {
            spec,
            prefix: prefix.to_owned(),
            sqlite,
        })
    }

    /// Runs SQLite work on the blocking pool.
    async fn on_sqlite<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, ActivityError> + Send + 'static,
    ) -> Result<T, ActivityError> {
        let db = self.sqlite.clone().expect("a SQLite target");
        tokio::task::spawn_blocking(move || work(&mut sqlite_lock(&db))).await?
    }

    /// Empties the tables unless they hold the rows of `job` (a rerun of
    /// the same import keeps them). Harmless to run twice.
    pub(crate) async fn claim_for(&self, job: &str) -> Result<(), ActivityError> {
        let p = self.prefix.clone();
        let clear = format!(
            "DELETE FROM {p}people; DELETE FROM {p}import_rejects; DELETE FROM {p}import_chunks;
             DELETE FROM {p}import_job;"
        );
        let select = format!("SELECT job FROM {p}import_job");
        let insert = format!("INSERT INTO {p}import_job (job) VALUES ($1)");
        match &self.spec {
            TargetSpec::Sqlite(_) => {
                let job = job.to_owned();
                self.on_sqlite(move |db| {
                    let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
                    let current: Option<String> =
                        tx.query_row(&select, [], |r| r.get(0)).optional()?;
                    if current.as_deref() != Some(job.as_str()) {
                        tx.execute_batch(&clear)?;
                        tx.execute(&insert.replace("$1", "?1"), [&job])?;
                    }
                    tx.commit()?;
                    Ok(())
                })
                .await
            }
            TargetSpec::Postgres(url) => {
                let mut client = pg_connect(url).await?;
                let tx = client.transaction().await.map_err(pg)?;
                tx.execute(&format!("LOCK TABLE {p}import_job"), &[])
                    .await
                    .map_err(pg)?;
                let current = tx.query_opt(&select, &[]).await.map_err(pg)?;
                if current.map(|r| r.get::<_, String>(0)).as_deref() != Some(job) {
                    tx.batch_execute(&clear).await.map_err(pg)?;
                    tx.execute(&insert, &[&job]).await.map_err(pg)?;
                }
                tx.commit().await.map_err(pg)?;
                Ok(())
            }
        }
    }

    /// Drops and recreates the tables: a fresh target (for `--compare`).
    pub(crate) async fn recreate(&self) -> Result<(), ActivityError> {
        let p = &self.prefix;
        let sql = format!(
            "DROP TABLE IF EXISTS {p}people; DROP TABLE IF EXISTS {p}import_rejects;
             DROP TABLE IF EXISTS {p}import_chunks; DROP TABLE IF EXISTS {p}import_job; {}",
            schema(p, matches!(self.spec, TargetSpec::Postgres(_)))
        );
        match &self.spec {
            TargetSpec::Sqlite(_) => {
                self.on_sqlite(move |db| {
                    db.execute_batch(&sql)?;
                    db.execute_batch("VACUUM")?;
                    Ok(())
                })
                .await
            }
            TargetSpec::Postgres(url) => Ok(pg_connect(url)
                .await?
                .batch_execute(&sql)
                .await
                .map_err(pg)?),
        }
    }

    /// What chunk `index` wrote, if it is done.
    pub(crate) async fn chunk_done(&self, index: u64) -> Result<Option<Written>, ActivityError> {
        let sql = format!(
            "SELECT imported, rejected, summary FROM {}import_chunks WHERE chunk = $1",
            self.prefix
        );
        let row: Option<(i64, i64, String)> = match &self.spec {
            TargetSpec::Sqlite(_) => {
                self.on_sqlite(move |db| {
                    Ok(db
                        .query_row(&sql.replace("$1", "?1"), [index as i64], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                        })
                        .optional()?)
                })
                .await?
            }
            TargetSpec::Postgres(url) => pg_connect(url)
                .await?
                .query_opt(&sql, &[&(index as i64)])
                .await
                .map_err(pg)?
                .map(|r| (r.get(0), r.get(1), r.get(2))),
        };
        row.map(|(imported, rejected, summary)| {
            Ok(Written {
                imported: imported as u64,
                rejected: rejected as u64,
                summary: serde_json::from_str(&summary)?,
                already_done: true,
            })
        })
        .transpose()
    }

    /// Writes a validated chunk in one transaction, which first claims the
    /// chunk's row in `import_chunks`; if another attempt wrote the chunk
    /// already, writes nothing and returns what that one wrote.
    pub(crate) async fn write_chunk(
        &self,
        chunk: ChunkRef,
        rows: Validated,
    ) -> Result<Written, ActivityError> {
        let written = Written {
            imported: rows.people.len() as u64,
            rejected: rows.rejects.len() as u64,
            summary: rows.summary.clone(),
            already_done: false,
        };
        let claimed = match &self.spec {
            TargetSpec::Sqlite(_) => {
                let (p, w) = (self.prefix.clone(), written.clone());
                self.on_sqlite(move |db| write_sqlite(db, &p, chunk, &rows, &w))
                    .await?
            }
            TargetSpec::Postgres(url) => {
                let mut client = pg_connect(url).await?;
                write_postgres(&mut client, &self.prefix, chunk, &rows, &written).await?
            }
        };
        if claimed {
            return Ok(written);
        }
        self.chunk_done(chunk.index).await?.ok_or_else(|| {
            ActivityError::new(
                "ChunkVanished",
                format!("chunk {} was claimed, then not found", chunk.index),
            )
        })
    }

    /// Counts the target's rows (the final check).
    pub(crate) async fn counts(&self) -> Result<Counts, ActivityError> {
        let p = &self.prefix;
        let sql = format!(
            "SELECT (SELECT COUNT(*) FROM {p}people),
                    (SELECT COUNT(*) FROM {p}import_rejects),
                    (SELECT COUNT(*) FROM {p}people JOIN {p}import_rejects USING (row_no)),
                    (SELECT COALESCE(MIN(row_no), 0) FROM (SELECT row_no FROM {p}people
                         UNION ALL SELECT row_no FROM {p}import_rejects) AS a),
                    (SELECT COALESCE(MAX(row_no), 0) FROM (SELECT row_no FROM {p}people
                         UNION ALL SELECT row_no FROM {p}import_rejects) AS b),
                    (SELECT COUNT(*) FROM {p}import_chunks)"
        );
        let v: [i64; 6] = match &self.spec {
            TargetSpec::Sqlite(_) => {
                self.on_sqlite(move |db| {
                    Ok(db.query_row(&sql, [], |r| {
                        Ok([
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                        ])
                    })?)
                })
                .await?
            }
            TargetSpec::Postgres(url) => {
                let row = pg_connect(url)
                    .await?
                    .query_one(&sql, &[])
                    .await
                    .map_err(pg)?;
                std::array::from_fn(|i| row.get(i))
            }
        };
        Ok(Counts {
            people: v[0] as u64,
            rejects: v[1] as u64,
            in_both: v[2] as u64,
            first_row: v[3] as u64,
            last_row: v[4] as u64,
            chunks: v[5] as u64,
        })
    }
}

/// A claimed chunk wrote exactly its rows: anything else means rows of
/// another import or chunk are in the way.
fn check_inserted(
    chunk: ChunkRef,
    what: &str,
    inserted: u64,
    expected: usize,
) -> Result<(), ActivityError> {
    if inserted == expected as u64 {
        return Ok(());
    }
    Err(ActivityError::non_retryable(
        "TargetConflict",
        format!(
            "chunk {}: {inserted} of its {expected} {what} inserted, the others were there already",
            chunk.index
        ),
    ))
}

/// The SQLite write of a chunk; false if the chunk was written before.
fn write_sqlite(
    db: &mut Connection,
    p: &str,
    chunk: ChunkRef,
    rows: &Validated,
    w: &Written,
) -> Result<bool, ActivityError> {
    let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let claimed = tx.execute(
        &format!(
            "INSERT INTO {p}import_chunks (chunk, first_row, rows, imported, rejected, summary)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (chunk) DO NOTHING"
        ),
        params![
            chunk.index as i64,
            chunk.first_row as i64,
            chunk.rows as i64,
            w.imported as i64,
            w.rejected as i64,
            serde_json::to_string(&w.summary)?
        ],
    )?;
    if claimed == 0 {
        return Ok(false); // dropping `tx` rolls back
    }
    let mut inserted = 0;
    {
        let mut insert = tx.prepare_cached(&format!(
            "INSERT INTO {p}people (row_no, name, email, country, age, signup_date, amount_cents, chunk)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (row_no) DO NOTHING"
        ))?;
        for r in &rows.people {
            inserted += insert.execute(params![
                r.row_no,
                r.name,
                r.email,
                r.country,
                r.age,
                r.signup_date,
                r.amount_cents,
                chunk.index as i64
            ])? as u64;
        }
    }
    check_inserted(chunk, "valid rows", inserted, rows.people.len())?;
    let mut inserted = 0;
    {
        let mut insert = tx.prepare_cached(&format!(
            "INSERT INTO {p}import_rejects (row_no, rule, reason, record, chunk)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (row_no) DO NOTHING"
        ))?;
        for r in &rows.rejects {
            inserted += insert.execute(params![
                r.row_no,
                r.rule,
                r.reason,
                r.record,
                chunk.index as i64
            ])? as u64;
        }
    }
    check_inserted(chunk, "rejected rows", inserted, rows.rejects.len())?;
    tx.commit()?;
    Ok(true)
}

/// The PostgreSQL write of a chunk, one statement per table (arrays
/// unnested); false if the chunk was written before. A concurrent attempt
/// of the same chunk waits on the claim, then sees it taken.
async fn write_postgres(
    client: &mut tokio_postgres::Client,
    p: &str,
    chunk: ChunkRef,
    rows: &Validated,
    w: &Written,
) -> Result<bool, ActivityError> {
    let tx = client.transaction().await.map_err(pg)?;
    let claimed = tx
        .execute(
            &format!(
                "INSERT INTO {p}import_chunks (chunk, first_row, rows, imported, rejected, summary)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (chunk) DO NOTHING"
            ),
            &[
                &(chunk.index as i64),
                &(chunk.first_row as i64),
                &(chunk.rows as i64),
                &(w.imported as i64),
                &(w.rejected as i64),
                &serde_json::to_string(&w.summary)?,
            ],
        )
        .await
        .map_err(pg)?;
    if claimed == 0 {
        tx.rollback().await.map_err(pg)?;
        return Ok(false);
    }
    let people = &rows.people;
    let col = |f: fn(&crate::data::Person) -> String| people.iter().map(f).collect::<Vec<_>>();
    let num = |f: fn(&crate::data::Person) -> i64| people.iter().map(f).collect::<Vec<_>>();
    let chunks = vec![chunk.index as i64; people.len()];
    let inserted = tx
        .execute(
            &format!(
                "INSERT INTO {p}people (row_no, name, email, country, age, signup_date, amount_cents, chunk)
                 SELECT r, n, e, c, a, d::date, m, k
                 FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[],
                             $7::int8[], $8::int8[]) AS t (r, n, e, c, a, d, m, k)
                 ON CONFLICT (row_no) DO NOTHING"
            ),
            &[
                &num(|r| r.row_no),
                &col(|r| r.name.clone()),
                &col(|r| r.email.clone()),
                &col(|r| r.country.clone()),
                &num(|r| r.age),
                &col(|r| r.signup_date.clone()),
                &num(|r| r.amount_cents),
                &chunks,
            ],
        )
        .await.map_err(pg)?;
    check_inserted(chunk, "valid rows", inserted, people.len())?;
    let rejects = &rows.rejects;
    let inserted = tx
        .execute(
            &format!(
                "INSERT INTO {p}import_rejects (row_no, rule, reason, record, chunk)
                 SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::int8[])
                 ON CONFLICT (row_no) DO NOTHING"
            ),
            &[
                &rejects.iter().map(|r| r.row_no).collect::<Vec<_>>(),
                &rejects.iter().map(|r| r.rule.clone()).collect::<Vec<_>>(),
                &rejects.iter().map(|r| r.reason.clone()).collect::<Vec<_>>(),
                &rejects.iter().map(|r| r.record.clone()).collect::<Vec<_>>(),
                &vec![chunk.index as i64; rejects.len()],
            ],
        )
        .await
        .map_err(pg)?;
    check_inserted(chunk, "rejected rows", inserted, rejects.len())?;
    tx.commit().await.map_err(pg)?;
    Ok(true)
}
