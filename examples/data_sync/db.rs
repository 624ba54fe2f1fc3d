//! The sync example's databases: where they are, the rows they hold, their
//! connections, and the source's operations (its writers' transactions under
//! the clock, the rounds' batches); the target's are in `target.rs`. Every
//! operation has one SQLite and one PostgreSQL body with the same SQL shape.
//!
//! Tables (the same names on both systems, so source and target may share a
//! database):
//!
//! - `source_items (id, name, email, country, amount, updated_at, deleted)`:
//!   the source. `updated_at` is a stamp in microseconds taken from
//!   `source_clock` by the writing transaction (see [`write_source`]);
//!   `deleted` marks a tombstone.
//! - `source_clock (one, last)`: one row, the last stamp handed out.
//! - `target_items (id, name, email, country, amount, updated_at, round)`:
//!   the cleaned copy of the live, valid source rows.
//! - `sync_rejects (id, updated_at, sync_id, round, rule, reason, row_json)`:
//!   every rejected source version, with the rule and the reason.
//! - `sync_state (target, sync_id, round, wm_updated_at, wm_id, outcome)`: the
//!   last round committed into the target, with its outcome, written in the
//!   same transaction as the rows.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use reprise::ActivityError;
use rusqlite::{params, Connection, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::validation::{Reject, Row};

/// The source's tables on SQLite; the clock starts at 0.
const SQLITE_SOURCE_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS source_items (
        id INTEGER PRIMARY KEY, name TEXT, email TEXT, country TEXT, amount INTEGER,
        updated_at INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);
    CREATE INDEX IF NOT EXISTS source_items_watermark ON source_items (updated_at, id);
    CREATE TABLE IF NOT EXISTS source_clock (
        one INTEGER PRIMARY KEY CHECK (one = 1), last INTEGER NOT NULL);
    INSERT OR IGNORE INTO source_clock (one, last) VALUES (1, 0);";

/// The source's tables on PostgreSQL; the clock starts at 0.
const PG_SOURCE_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS source_items (
        id BIGINT PRIMARY KEY, name TEXT, email TEXT, country TEXT, amount BIGINT,
        updated_at BIGINT NOT NULL, deleted BOOLEAN NOT NULL DEFAULT false);
    CREATE INDEX IF NOT EXISTS source_items_watermark ON source_items (updated_at, id);
    CREATE TABLE IF NOT EXISTS source_clock (
        one INTEGER PRIMARY KEY CHECK (one = 1), last BIGINT NOT NULL);
    INSERT INTO source_clock (one, last) VALUES (1, 0) ON CONFLICT DO NOTHING;";

/// A source row's columns, in the order the row readers expect.
const SELECT_SOURCE: &str =
    "SELECT id, name, email, country, amount, updated_at, deleted FROM source_items";

/// A database the example reads or writes: a SQLite file or a PostgreSQL URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Endpoint {
    /// `postgres://…` or `postgresql://…` is a PostgreSQL database; anything
    /// else is the path of a SQLite file.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("an empty database name".into());
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            text.parse::<tokio_postgres::Config>()
                .map_err(|e| format!("`{}` is not a valid PostgreSQL URL: {e}", redact(text)))?;
            return Ok(Self::Postgres(text.to_owned()));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(format!(
                "`{scheme}://` is not supported: give a SQLite file path or a postgres:// URL"
            ));
        }
        Ok(Self::Sqlite(PathBuf::from(text)))
    }

    /// For messages, logs and the workflow's input: the path, or the URL
    /// without its password.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite:{}", path.display()),
            Self::Postgres(url) => redact(url),
        }
    }
}

/// A URL with its password replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// A position in the source: every row at or before `(updated_at, id)` has
/// been synced. Rows are read in `(updated_at, id)` order, so rows that share
/// a stamp are told apart by their id and a batch may end inside them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Watermark {
    pub(crate) updated_at: i64,
    pub(crate) id: i64,
}

impl std::fmt::Display for Watermark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(updated_at {}, id {})", self.updated_at, self.id)
    }
}

/// A source row as stored (`None`: NULL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SourceRow {
    pub(crate) id: i64,
    pub(crate) name: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) country: Option<String>,
    pub(crate) amount: Option<i64>,
    pub(crate) updated_at: i64,
    pub(crate) deleted: bool,
}

impl SourceRow {
    /// The row as the validation rules see it: text fields, NULLs absent.
    pub(crate) fn fields(&self) -> Row {
        let mut row = Row::new();
        row.insert("id".into(), self.id.to_string());
        let text = [
            ("name", &self.name),
            ("email", &self.email),
            ("country", &self.country),
        ];
        for (field, value) in text {
            if let Some(value) = value {
                row.insert(field.into(), value.clone());
            }
        }
        if let Some(amount) = self.amount {
            row.insert("amount".into(), amount.to_string());
        }
        row
    }

    /// The row's position in the source.
    pub(crate) fn watermark(&self) -> Watermark {
        Watermark {
            updated_at: self.updated_at,
            id: self.id,
        }
    }
}

/// A target row: a cleaned source version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TargetRow {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) country: String,
    pub(crate) amount: i64,
    pub(crate) updated_at: i64,
}

impl TargetRow {
    /// The target row of a source version that passed the rules (`clean`
    /// is what `Rules::check` returned).
    pub(crate) fn from_clean(source: &SourceRow, clean: &Row) -> Result<Self, String> {
        let field = |name: &str| {
            clean
                .get(name)
                .cloned()
                .ok_or_else(|| format!("row {}: no `{name}` after the checks", source.id))
        };
        Ok(Self {
            id: source.id,
            name: field("name")?,
            email: field("email")?,
            country: field("country")?,
            amount: field("amount")?
                .parse()
                .map_err(|e| format!("row {}: amount: {e}", source.id))?,
            updated_at: source.updated_at,
        })
    }
}

/// A batch of the source after a watermark, read in one snapshot.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) rows: Vec<SourceRow>,
    /// Rows of the source after the batch's last row.
    pub(crate) behind: u64,
    /// The source's last stamp.
    pub(crate) head: i64,
}

/// What one round writes into the target, in one transaction.
#[derive(Debug)]
pub(crate) struct Apply<T> {
    pub(crate) sync_id: String,
    pub(crate) round: u64,
    /// The watermark the round started from: the target's state must be there.
    pub(crate) from: Watermark,
    pub(crate) to: Watermark,
    pub(crate) upserts: Vec<TargetRow>,
    /// Ids to remove from the target: tombstones, and rows whose current
    /// version is rejected.
    pub(crate) removals: Vec<i64>,
    /// Rejected versions: `(id, updated_at, reject)`.
    pub(crate) rejects: Vec<(i64, i64, Reject)>,
    /// The round's outcome, stored with the rows.
    pub(crate) outcome: T,
}

/// The last round committed into the target.
#[derive(Debug, Clone)]
pub(crate) struct SyncState {
    pub(crate) sync_id: String,
    pub(crate) round: u64,
    pub(crate) watermark: Watermark,
    pub(crate) outcome: String,
}

/// The whole target, for the verify step.
#[derive(Debug, Default)]
pub(crate) struct TargetSnapshot {
    pub(crate) rows: BTreeMap<i64, TargetRow>,
    /// `(id, updated_at)` of every reject, with the sync that wrote it.
    pub(crate) rejects: BTreeMap<(i64, i64), String>,
    pub(crate) state: Option<SyncState>,
}

/// A change made by a writer of the source.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    /// Insert the row, or overwrite (and revive) the row with its id.
    Put(SourceRow),
    /// Mark the row deleted (a tombstone the sync carries to the target).
    Delete(i64),
}

// ---------------------------------------------------------------------------
// Connections.
// ---------------------------------------------------------------------------

/// Opens a SQLite file: WAL, so the writers and the sync work at once; a
/// busy timeout, so writers wait for each other instead of failing.
pub(crate) fn open_sqlite(path: &std::path::Path) -> Result<Connection, rusqlite::Error> {
    let db = Connection::open(path)?;
    db.busy_timeout(Duration::from_secs(30))?;
    db.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    db.execute_batch("PRAGMA synchronous = NORMAL;")?;
    Ok(db)
}

/// Connects to PostgreSQL; the connection's task ends with the client.
pub(crate) async fn connect_pg(url: &str) -> Result<tokio_postgres::Client, ActivityError> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(pg_error)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!("PostgreSQL connection ended: {e}");
        }
    });
    Ok(client)
}

/// A PostgreSQL error with its causes: tokio-postgres says only "db error"
/// or "error connecting to server" and keeps the server's message as the
/// source.
pub(crate) fn pg_error(e: tokio_postgres::Error) -> ActivityError {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    ActivityError::new("PostgresError", message)
}

/// Runs SQLite work off the async worker threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ActivityError> + Send + 'static,
) -> Result<T, ActivityError> {
    tokio::task::spawn_blocking(work).await?
}

/// SQLite spells `$1` as `?1`.
pub(crate) fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

/// Creates the source's tables if they are missing.
pub(crate) async fn ensure_source(source: &Endpoint) -> Result<(), ActivityError> {
    run_schema(source, SQLITE_SOURCE_SCHEMA, PG_SOURCE_SCHEMA).await
}

/// Runs a schema script on an endpoint: `sqlite` on a SQLite file,
/// `postgres` on a PostgreSQL database.
pub(crate) async fn run_schema(
    endpoint: &Endpoint,
    sqlite: &'static str,
    postgres: &'static str,
) -> Result<(), ActivityError> {
    match endpoint {
        Endpoint::Sqlite(path) => {
            let path = path.clone();
            blocking(move || Ok(open_sqlite(&path)?.execute_batch(sqlite)?)).await
        }
        Endpoint::Postgres(url) => Ok(connect_pg(url)
            .await?
            .batch_execute(postgres)
            .await
            .map_err(pg_error)?),
    }
}

/// A source row read by rusqlite (columns of [`SELECT_SOURCE`]).
fn sqlite_source_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SourceRow> {
    Ok(SourceRow {
        id: r.get(0)?,
        name: r.get(1)?,
        email: r.get(2)?,
        country: r.get(3)?,
        amount: r.get(4)?,
        updated_at: r.get(5)?,
        deleted: r.get(6)?,
    })
}

/// A source row read by tokio-postgres (columns of [`SELECT_SOURCE`]).
fn pg_source_row(r: &tokio_postgres::Row) -> SourceRow {
    SourceRow {
        id: r.get(0),
        name: r.get(1),
        email: r.get(2),
        country: r.get(3),
        amount: r.get(4),
        updated_at: r.get(5),
        deleted: r.get(6),
    }
}

// ---------------------------------------------------------------------------
// The source: writes under the clock, batches after a watermark.
// ---------------------------------------------------------------------------

/// Applies `changes` to the source in one transaction, all stamped with one
/// `updated_at` taken from `source_clock` in that transaction:
/// `last = max(last + 1, now in µs)`. Returns the stamp.
///
/// Taking the stamp locks the clock row until the commit, so writers stamp
/// in commit order: a reader that sees a stamp sees every smaller one. That
/// is what makes "everything after the watermark" complete (see
/// docs/DATA_SYNC_EXAMPLE.md).
pub(crate) async fn write_source(
    source: &Endpoint,
    changes: Vec<Change>,
) -> Result<i64, ActivityError> {
    match source {
        Endpoint::Sqlite(path) => {
            let path = path.clone();
            blocking(move || {
                let mut db = open_sqlite(&path)?;
                let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let now = crate::micros_now();
                let stamp: i64 = tx.query_row(
                    "UPDATE source_clock SET last = MAX(last + 1, ?1) WHERE one = 1 RETURNING last",
                    [now],
                    |r| r.get(0),
                )?;
                for change in &changes {
                    match change {
                        Change::Put(row) => tx.execute(
                            "INSERT INTO source_items (id, name, email, country, amount, updated_at, deleted)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)
                             ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email,
                                 country = excluded.country, amount = excluded.amount,
                                 updated_at = excluded.updated_at, deleted = 0",
                            params![row.id, row.name, row.email, row.country, row.amount, stamp],
                        )?,
                        Change::Delete(id) => tx.execute(
                            "UPDATE source_items SET deleted = 1, updated_at = ?2 WHERE id = ?1 AND deleted = 0",
                            params![id, stamp],
                        )?,
                    };
                }
                tx.commit()?;
                Ok(stamp)
            })
            .await
        }
        Endpoint::Postgres(url) => {
            let mut client = connect_pg(url).await?;
            let tx = client.transaction().await?;
            let stamp: i64 = tx
                .query_one(
                    "UPDATE source_clock
                     SET last = GREATEST(last + 1, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)
                     WHERE one = 1 RETURNING last",
                    &[],
                )
                .await?
                .get(0);
            let put = tx
                .prepare(
                    "INSERT INTO source_items (id, name, email, country, amount, updated_at, deleted)
                     VALUES ($1, $2, $3, $4, $5, $6, false)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email,
                         country = excluded.country, amount = excluded.amount,
                         updated_at = excluded.updated_at, deleted = false",
                )
                .await?;
            for change in &changes {
                match change {
                    Change::Put(row) => {
                        tx.execute(
                            &put,
                            &[
                                &row.id,
                                &row.name,
                                &row.email,
                                &row.country,
                                &row.amount,
                                &stamp,
                            ],
                        )
                        .await?
                    }
                    Change::Delete(id) => {
                        tx.execute(
                            "UPDATE source_items SET deleted = true, updated_at = $2
                             WHERE id = $1 AND NOT deleted",
                            &[id, &stamp],
                        )
                        .await?
                    }
                };
            }
            tx.commit().await?;
            Ok(stamp)
        }
    }
}

/// The source's row count and largest id (the writers' starting point).
pub(crate) async fn source_extent(source: &Endpoint) -> Result<(u64, i64), ActivityError> {
    const SQL: &str = "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM source_items";
    match source {
        Endpoint::Sqlite(path) => {
            let path = path.clone();
            blocking(move || {
                Ok(open_sqlite(&path)?.query_row(SQL, [], |r| Ok((r.get(0)?, r.get(1)?)))?)
            })
            .await
        }
        Endpoint::Postgres(url) => {
            let row = connect_pg(url).await?.query_one(SQL, &[]).await?;
            Ok((row.get::<_, i64>(0) as u64, row.get(1)))
        }
    }
}

/// Reads up to `limit` rows after `after`, in `(updated_at, id)` order, and
/// how many rows follow them, in one snapshot of the source.
pub(crate) async fn read_batch(
    source: &Endpoint,
    after: Watermark,
    limit: u64,
) -> Result<Batch, ActivityError> {
    let batch_sql = format!(
        "{SELECT_SOURCE} WHERE (updated_at, id) > ($1, $2) ORDER BY updated_at, id LIMIT $3"
    );
    const BEHIND: &str = "SELECT COUNT(*) FROM source_items WHERE (updated_at, id) > ($1, $2)";
    const HEAD: &str = "SELECT COALESCE(MAX(updated_at), 0) FROM source_items";
    let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    let end = move |rows: &[SourceRow]| rows.last().map_or(after, SourceRow::watermark);
    match source {
        Endpoint::Sqlite(path) => {
            let path = path.clone();
            blocking(move || {
                let mut db = open_sqlite(&path)?;
                let tx = db.transaction_with_behavior(TransactionBehavior::Deferred)?;
                let rows = tx
                    .prepare(&sqlite_sql(&batch_sql))?
                    .query_map(
                        params![after.updated_at, after.id, limit],
                        sqlite_source_row,
                    )?
                    .collect::<Result<Vec<_>, _>>()?;
                let to = end(&rows);
                let behind: u64 =
                    tx.query_row(&sqlite_sql(BEHIND), params![to.updated_at, to.id], |r| {
                        r.get(0)
                    })?;
                let head: i64 = tx.query_row(HEAD, [], |r| r.get(0))?;
                tx.commit()?;
                Ok(Batch { rows, behind, head })
            })
            .await
        }
        Endpoint::Postgres(url) => {
            let mut client = connect_pg(url).await?;
            let tx = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let rows: Vec<SourceRow> = tx
                .query(&batch_sql, &[&after.updated_at, &after.id, &limit])
                .await?
                .iter()
                .map(pg_source_row)
                .collect();
            let to = end(&rows);
            let behind: i64 = tx
                .query_one(BEHIND, &[&to.updated_at, &to.id])
                .await?
                .get(0);
            let head: i64 = tx.query_one(HEAD, &[]).await?.get(0);
            tx.commit().await?;
            Ok(Batch {
                rows,
                behind: behind as u64,
                head,
            })
        }
    }
}

/// Every source row, by id (for the verify step).
pub(crate) async fn load_source(source: &Endpoint) -> Result<Vec<SourceRow>, ActivityError> {
    let sql = format!("{SELECT_SOURCE} ORDER BY id");
    match source {
        Endpoint::Sqlite(path) => {
            let path = path.clone();
            blocking(move || {
                let db = open_sqlite(&path)?;
                let rows = db
                    .prepare(&sql)?
                    .query_map([], sqlite_source_row)?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await
        }
        Endpoint::Postgres(url) => Ok(connect_pg(url)
            .await?
            .query(&sql, &[])
            .await?
            .iter()
            .map(pg_source_row)
            .collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_sqlite_paths_or_postgres_urls() {
        assert_eq!(
            Endpoint::parse("data/source.db"),
            Ok(Endpoint::Sqlite(PathBuf::from("data/source.db")))
        );
        assert!(matches!(
            Endpoint::parse("postgresql://app@db1/shop"),
            Ok(Endpoint::Postgres(_))
        ));
        let err = Endpoint::parse("mysql://app@db1/shop").unwrap_err();
        assert!(err.contains("`mysql://` is not supported"), "{err}");
        let err = Endpoint::parse("postgres://a:secret@db1:notaport/x").unwrap_err();
        assert!(!err.contains("secret") && err.contains("a:***@"), "{err}");
        assert!(Endpoint::parse("  ").is_err());
    }

    #[test]
    fn descriptions_hide_passwords() {
        let url = Endpoint::Postgres("postgres://app:hunter2@db1:5432/shop?sslmode=disable".into());
        assert_eq!(
            url.describe(),
            "postgres://app:***@db1:5432/shop?sslmode=disable"
        );
        let url = Endpoint::Postgres("postgres://app@db1/shop".into());
        assert_eq!(url.describe(), "postgres://app@db1/shop");
    }

    #[test]
    fn watermarks_order_by_stamp_then_id() {
        let at = |updated_at, id| Watermark { updated_at, id };
        // Ties on the stamp are cut by id; a later stamp wins over any id.
        assert!(at(5, 2) > at(5, 1));
        assert!(at(6, 1) > at(5, 900));
        assert_eq!(at(0, 0), Watermark::default());
    }
}
