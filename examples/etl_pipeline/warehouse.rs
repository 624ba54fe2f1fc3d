//! The ETL example's target: the embedded SQLite file `<dir>/warehouse.db`
//! (the default) or a PostgreSQL database (`--target postgres://...`).
//! Either holds two tables, created if missing: `customers`, one row per
//! id, upserted by the loads, and `customer_rejects`, the rejected records
//! with the rule they broke and why. Each row names the workflow that wrote
//! it (`loaded_by`).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reprise::ActivityError;
use rusqlite::{params, Connection, TransactionBehavior};
use tokio_postgres::config::Host;
use tokio_postgres::NoTls;

use crate::clean::Customer;
use crate::lock;
use crate::support::{blocking, open_db};

/// The tables of the SQLite warehouse.
const SQLITE_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS customers (
        id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, country TEXT,
        amount_cents INTEGER NOT NULL, signup_date TEXT NOT NULL, updated_at TEXT NOT NULL,
        source TEXT NOT NULL, loaded_by TEXT NOT NULL, batch INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS customer_rejects (
        key TEXT PRIMARY KEY, source TEXT NOT NULL, rule TEXT NOT NULL, reason TEXT NOT NULL,
        record TEXT NOT NULL, loaded_by TEXT NOT NULL);";

/// The tables of the PostgreSQL warehouse.
const POSTGRES_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS customers (
        id BIGINT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, country TEXT,
        amount_cents BIGINT NOT NULL, signup_date DATE NOT NULL, updated_at TEXT NOT NULL,
        source TEXT NOT NULL, loaded_by TEXT NOT NULL, batch BIGINT NOT NULL);
    CREATE TABLE IF NOT EXISTS customer_rejects (
        key TEXT PRIMARY KEY, source TEXT NOT NULL, rule TEXT NOT NULL, reason TEXT NOT NULL,
        record JSONB NOT NULL, loaded_by TEXT NOT NULL);";

/// A cleaned record to load, and the source it was taken from.
#[derive(Debug, Clone)]
pub(crate) struct LoadRow {
    pub(crate) customer: Customer,
    pub(crate) source: String,
}

/// A rejected record as the warehouse keeps it.
#[derive(Debug, Clone)]
pub(crate) struct RejectRow {
    /// The record's id, or (without one) `source#position`.
    pub(crate) key: String,
    pub(crate) source: String,
    pub(crate) rule: String,
    pub(crate) reason: String,
    /// The record as the source had it, as JSON.
    pub(crate) record: String,
}

/// Where the loads go. A clone shares the same connection (SQLite) or
/// settings (PostgreSQL).
#[derive(Clone)]
pub(crate) enum Warehouse {
    /// One connection the loads share (SQLite has one writer at a time).
    Sqlite {
        path: PathBuf,
        db: Arc<Mutex<Connection>>,
    },
    /// A connection per activity attempt: a server restarted in the middle
    /// of the job costs a retry, not the job.
    Postgres {
        config: Arc<tokio_postgres::Config>,
        name: String,
    },
}

/// Checks a `--target` value: a PostgreSQL URL.
pub(crate) fn parse_target(text: &str) -> Result<String, String> {
    if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
        return Err(
            "expected a PostgreSQL URL such as postgres://user@host:5432/db \
             (without --target, the warehouse is the SQLite file <dir>/warehouse.db)"
                .to_owned(),
        );
    }
    tokio_postgres::Config::from_str(text)
        .map(|_| text.to_owned())
        .map_err(|e| format!("not a PostgreSQL URL: {e}"))
}

impl Warehouse {
    /// Opens the target, creating its tables if missing: PostgreSQL at
    /// `url`, or else `<dir>/warehouse.db`. Fails with one line naming the
    /// target if it cannot be reached.
    pub(crate) async fn open(url: Option<&str>, dir: &Path) -> Result<Warehouse, String> {
        let Some(url) = url else {
            let path = dir.join("warehouse.db");
            let db = open_db(&path, SQLITE_SCHEMA)
                .map_err(|e| format!("cannot open the warehouse {}: {e}", path.display()))?;
            return Ok(Warehouse::Sqlite {
                path,
                db: Arc::new(Mutex::new(db)),
            });
        };
        let mut config = tokio_postgres::Config::from_str(url).map_err(|e| e.to_string())?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let name = display_name(&config);
        let client = connect(&config)
            .await
            .map_err(|e| format!("cannot connect to the warehouse {name}: {}", chain(&e)))?;
        client.batch_execute(POSTGRES_SCHEMA).await.map_err(|e| {
            format!(
                "cannot create the tables of the warehouse {name}: {}",
                chain(&e)
            )
        })?;
        Ok(Warehouse::Postgres {
            config: Arc::new(config),
            name,
        })
    }

    /// The name [`Warehouse::name`] gives the target `url` (or, without
    /// one, `<dir>/warehouse.db`), before it is opened.
    pub(crate) fn name_of(url: Option<&str>, dir: &Path) -> Result<String, String> {
        match url {
            None => Ok(dir.join("warehouse.db").display().to_string()),
            Some(url) => tokio_postgres::Config::from_str(url)
                .map(|config| display_name(&config))
                .map_err(|e| format!("--target: {e}")),
        }
    }

    /// The target, for messages and the workflow's input: the SQLite file's
    /// path, or the PostgreSQL URL without its password.
    pub(crate) fn name(&self) -> String {
        match self {
            Warehouse::Sqlite { path, .. } => path.display().to_string(),
            Warehouse::Postgres { name, .. } => name.clone(),
        }
    }

    /// A full refresh: deletes the rows other workflows wrote.
    pub(crate) async fn keep_only(&self, workflow_id: &str) -> Result<(), ActivityError> {
        let wf = workflow_id.to_owned();
        match self {
            Warehouse::Sqlite { db, .. } => {
                let db = db.clone();
                blocking(move || {
                    let db = lock(&db);
                    db.execute("DELETE FROM customers WHERE loaded_by <> ?1", [&wf])?;
                    db.execute("DELETE FROM customer_rejects WHERE loaded_by <> ?1", [&wf])?;
                    Ok(())
                })
                .await
            }
            Warehouse::Postgres { config, .. } => {
                let mut client = connect(config).await.map_err(pg)?;
                let tx = client.transaction().await.map_err(pg)?;
                tx.execute("DELETE FROM customers WHERE loaded_by <> $1", &[&wf])
                    .await
                    .map_err(pg)?;
                tx.execute("DELETE FROM customer_rejects WHERE loaded_by <> $1", &[&wf])
                    .await
                    .map_err(pg)?;
                tx.commit().await.map_err(pg)?;
                Ok(())
            }
        }
    }

    /// Upserts `rows` by id, in one transaction: loading the same rows twice
    /// leaves the same table. Returns the number of rows.
    pub(crate) async fn upsert(
        &self,
        workflow_id: &str,
        batch: u64,
        rows: Vec<LoadRow>,
    ) -> Result<u64, ActivityError> {
        let n = rows.len() as u64;
        let wf = workflow_id.to_owned();
        let batch = i64::try_from(batch)?;
        match self {
            Warehouse::Sqlite { db, .. } => {
                let db = db.clone();
                blocking(move || {
                    let mut db = lock(&db);
                    let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
                    {
                        let mut upsert = tx.prepare_cached(
                            "INSERT INTO customers (id, name, email, country, amount_cents, signup_date, updated_at, source, loaded_by, batch)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                             ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email,
                                 country = excluded.country, amount_cents = excluded.amount_cents,
                                 signup_date = excluded.signup_date, updated_at = excluded.updated_at,
                                 source = excluded.source, loaded_by = excluded.loaded_by, batch = excluded.batch",
                        )?;
                        for LoadRow { customer: c, source } in &rows {
                            upsert.execute(params![
                                c.id,
                                c.name,
                                c.email,
                                c.country,
                                c.amount_cents,
                                c.signup_date,
                                c.updated_at,
                                source,
                                wf,
                                batch
                            ])?;
                        }
                    }
                    tx.commit()?;
                    Ok(n)
                })
                .await
            }
            Warehouse::Postgres { config, .. } => {
                let client = connect(config).await.map_err(pg)?;
                // One statement for the batch: arrays of the columns, unnested.
                let column = |f: fn(&LoadRow) -> String| rows.iter().map(f).collect::<Vec<_>>();
                let ids: Vec<i64> = rows.iter().map(|r| r.customer.id).collect();
                let amounts: Vec<i64> = rows.iter().map(|r| r.customer.amount_cents).collect();
                let countries: Vec<Option<String>> =
                    rows.iter().map(|r| r.customer.country.clone()).collect();
                let upserted = client
                    .execute(
                        "INSERT INTO customers (id, name, email, country, amount_cents, signup_date, updated_at, source, loaded_by, batch)
                         SELECT t.id, t.name, t.email, t.country, t.amount_cents, t.signup_date::date,
                                t.updated_at, t.source, $9::text, $10::bigint
                         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[],
                                     $6::text[], $7::text[], $8::text[])
                              AS t (id, name, email, country, amount_cents, signup_date, updated_at, source)
                         ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email,
                             country = excluded.country, amount_cents = excluded.amount_cents,
                             signup_date = excluded.signup_date, updated_at = excluded.updated_at,
                             source = excluded.source, loaded_by = excluded.loaded_by, batch = excluded.batch",
                        &[
                            &ids,
                            &column(|r| r.customer.name.clone()),
                            &column(|r| r.customer.email.clone()),
                            &countries,
                            &amounts,
                            &column(|r| r.customer.signup_date.clone()),
                            &column(|r| r.customer.updated_at.clone()),
                            &column(|r| r.source.clone()),
                            &wf,
                            &batch,
                        ],
                    )
                    .await
                    .map_err(pg)?;
                Ok(upserted)
            }
        }
    }

    /// Replaces this workflow's rejects by `rejects`, in one transaction.
    pub(crate) async fn replace_rejects(
        &self,
        workflow_id: &str,
        rejects: Vec<RejectRow>,
    ) -> Result<(), ActivityError> {
        let wf = workflow_id.to_owned();
        match self {
            Warehouse::Sqlite { db, .. } => {
                let db = db.clone();
                blocking(move || {
                    let mut db = lock(&db);
                    let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
                    tx.execute("DELETE FROM customer_rejects WHERE loaded_by = ?1", [&wf])?;
                    {
                        let mut insert = tx.prepare_cached(
                            "INSERT OR REPLACE INTO customer_rejects (key, source, rule, reason, record, loaded_by)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        )?;
                        for r in &rejects {
                            insert.execute(params![r.key, r.source, r.rule, r.reason, r.record, wf])?;
                        }
                    }
                    tx.commit()?;
                    Ok(())
                })
                .await
            }
            Warehouse::Postgres { config, .. } => {
                let mut client = connect(config).await.map_err(pg)?;
                let column = |f: fn(&RejectRow) -> &String| {
                    rejects.iter().map(|r| f(r).as_str()).collect::<Vec<&str>>()
                };
                let tx = client.transaction().await.map_err(pg)?;
                tx.execute("DELETE FROM customer_rejects WHERE loaded_by = $1", &[&wf])
                    .await
                    .map_err(pg)?;
                tx.execute(
                    "INSERT INTO customer_rejects (key, source, rule, reason, record, loaded_by)
                     SELECT t.key, t.source, t.rule, t.reason, t.record::jsonb, $6::text
                     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
                          AS t (key, source, rule, reason, record)
                     ON CONFLICT (key) DO UPDATE SET source = excluded.source, rule = excluded.rule,
                         reason = excluded.reason, record = excluded.record, loaded_by = excluded.loaded_by",
                    &[
                        &column(|r| &r.key),
                        &column(|r| &r.source),
                        &column(|r| &r.rule),
                        &column(|r| &r.reason),
                        &column(|r| &r.record),
                        &wf,
                    ],
                )
                .await
                .map_err(pg)?;
                tx.commit().await.map_err(pg)?;
                Ok(())
            }
        }
    }

    /// The rows of `customers` and of `customer_rejects` this workflow wrote.
    pub(crate) async fn counts(&self, workflow_id: &str) -> Result<(u64, u64), ActivityError> {
        let wf = workflow_id.to_owned();
        match self {
            Warehouse::Sqlite { db, .. } => {
                let db = db.clone();
                blocking(move || {
                    let db = lock(&db);
                    let count = |table: &str| {
                        db.query_row(
                            &format!("SELECT COUNT(*) FROM {table} WHERE loaded_by = ?1"),
                            [&wf],
                            |r| r.get::<_, u64>(0),
                        )
                    };
                    Ok((count("customers")?, count("customer_rejects")?))
                })
                .await
            }
            Warehouse::Postgres { config, .. } => {
                let client = connect(config).await.map_err(pg)?;
                let row = client
                    .query_one(
                        "SELECT (SELECT COUNT(*) FROM customers WHERE loaded_by = $1),
                                (SELECT COUNT(*) FROM customer_rejects WHERE loaded_by = $1)",
                        &[&wf],
                    )
                    .await
                    .map_err(pg)?;
                let (rows, rejects): (i64, i64) = (row.get(0), row.get(1));
                Ok((u64::try_from(rows)?, u64::try_from(rejects)?))
            }
        }
    }
}

/// A PostgreSQL error as a retryable activity error, with its causes
/// (`tokio_postgres::Error` alone says only "db error").
fn pg(e: tokio_postgres::Error) -> ActivityError {
    ActivityError::new("PostgresError", chain(&e))
}

/// An error and its sources, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// A connection, its I/O driven by a task of its own.
async fn connect(
    config: &tokio_postgres::Config,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("warehouse connection: {e}");
        }
    });
    Ok(client)
}

/// `postgres://user@host:port/db`: the URL without its password.
fn display_name(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or_default(),
        config.get_dbname().unwrap_or_default()
    )
}
