//! SQLite rows of any type and value, written behind the store's back.

use super::*;

// ---------------------------------------------------------------------------
// SQLite rows

/// A value of a SQLite cell, text as raw bytes (not always UTF-8).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

impl ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Cell::Null => ValueRef::Null,
            Cell::Int(n) => ValueRef::Integer(*n),
            Cell::Real(x) => ValueRef::Real(*x),
            Cell::Text(t) => ValueRef::Text(t),
            Cell::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

impl Cell {
    fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into().into_bytes())
    }

    fn read(value: ValueRef<'_>) -> Cell {
        match value {
            ValueRef::Null => Cell::Null,
            ValueRef::Integer(n) => Cell::Int(n),
            ValueRef::Real(x) => Cell::Real(x),
            ValueRef::Text(t) => Cell::Text(t.to_vec()),
            ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
        }
    }

    /// As the store shows a value in a message.
    fn show(&self) -> String {
        match self {
            Cell::Null => "NULL".to_owned(),
            Cell::Int(n) => n.to_string(),
            Cell::Real(x) => x.to_string(),
            Cell::Text(t) => format!("`{}`", clip(&String::from_utf8_lossy(t))),
            Cell::Blob(b) => format!("a blob of {} bytes", b.len()),
        }
    }

    fn as_text(&self) -> Option<&str> {
        match self {
            Cell::Text(t) => std::str::from_utf8(t).ok(),
            _ => None,
        }
    }

    fn as_int<T: TryFrom<i64>>(&self) -> Option<T> {
        match self {
            Cell::Int(n) => T::try_from(*n).ok(),
            _ => None,
        }
    }

    fn is_json<T: serde::de::DeserializeOwned>(&self) -> bool {
        self.as_text()
            .is_some_and(|t| serde_json::from_str::<T>(t).is_ok())
    }
}

/// A cell that is mostly `valid` (so that a row's later columns are
/// reached), else of any type: numbers in a text
/// column, text that is not UTF-8, blobs, NULL.
pub(super) fn cell(valid: impl Strategy<Value = Cell> + 'static) -> BoxedStrategy<Cell> {
    prop_oneof![
        60 => valid,
        1 => Just(Cell::Null),
        1 => any::<i64>().prop_map(Cell::Int),
        1 => any::<f64>().prop_map(Cell::Real),
        1 => arb_string().prop_map(Cell::text),
        1 => vec(any::<u8>(), 0..16).prop_map(Cell::Blob),
        1 => vec(any::<u8>(), 0..16).prop_map(|mut b| {
            b.push(0xff);
            Cell::Text(b)
        }),
    ]
    .boxed()
}

pub(super) fn text_cell(valid: impl Strategy<Value = String> + 'static) -> BoxedStrategy<Cell> {
    cell(valid.prop_map(Cell::text)).boxed()
}

/// An integer column: mostly in `0..=max`, sometimes out of range or not
/// an integer (numeric text becomes an integer by the column's affinity).
pub(super) fn int_cell(max: i64) -> BoxedStrategy<Cell> {
    cell(prop_oneof![
        3 => (0..=max).prop_map(Cell::Int),
        1 => select(vec![-1, i64::MIN, max, max.saturating_add(1), i64::MAX]).prop_map(Cell::Int),
        1 => (0..=max).prop_map(|n| Cell::text(n.to_string())),
        1 => Just(Cell::Real(2.0)),
    ])
    .boxed()
}

/// A nullable column: NULL or `inner`.
pub(super) fn opt_cell(inner: impl Strategy<Value = Cell> + 'static) -> BoxedStrategy<Cell> {
    prop_oneof![1 => Just(Cell::Null), 2 => inner].boxed()
}

/// Valid `ActivityOptions`.
pub(super) fn arb_options() -> BoxedStrategy<ActivityOptions> {
    let duration =
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| std::time::Duration::new(s, n));
    let opt_duration = proptest::option::of(duration.clone());
    (
        (
            opt_duration.clone(),
            opt_duration.clone(),
            opt_duration.clone(),
        ),
        (duration.clone(), any::<f64>(), opt_duration),
        (
            proptest::option::of(any::<u32>()),
            vec(arb_string(), 0..2),
            proptest::option::of(any::<u32>()),
        ),
        (
            proptest::option::of((any::<u32>(), duration)),
            proptest::option::of(arb_string()),
        ),
    )
        .prop_map(
            |(
                (start_to_close, schedule_to_close, heartbeat_timeout),
                (initial_interval, backoff_coefficient, max_interval),
                (max_attempts, non_retryable_error_types, max_concurrent),
                (rate, limit_key),
            )| ActivityOptions {
                start_to_close,
                schedule_to_close,
                heartbeat_timeout,
                retry: RetryPolicy {
                    initial_interval,
                    backoff_coefficient,
                    max_interval,
                    max_attempts,
                    non_retryable_error_types,
                },
                max_concurrent,
                rate: rate.map(|(count, per)| Rate { count, per }),
                limit_key,
            },
        )
        .boxed()
}

/// The text of an `options` column: valid options, mutated ones, any JSON.
pub(super) fn arb_options_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => arb_options().prop_map(|o| serde_json::to_string(&o).unwrap_or_default()),
        3 => (arb_options(), vec(arb_mutation(), 1..3)).prop_map(|(o, mutations)| {
            let mut value = serde_json::to_value(&o).unwrap_or_default();
            for m in &mutations {
                mutate(&mut value, m);
            }
            value.to_string()
        }),
        2 => arb_json_text(),
    ]
    .boxed()
}

/// A database file of its own, removed (with its siblings) when dropped.
pub(super) struct TempDb {
    path: PathBuf,
}

impl TempDb {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("reprise-fuzz-{}.db", uuid::Uuid::new_v4()));
        Self { path }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal", "-lock"] {
            let mut name = self.path.as_os_str().to_owned();
            name.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(name));
        }
    }
}

/// A SQLite store on a fresh file, a second connection that writes rows
/// behind its back, and a runtime to call it from a property.
pub(super) struct SqliteFixture {
    pub(super) runtime: tokio::runtime::Runtime,
    pub(super) store: SqliteStore,
    pub(super) conn: rusqlite::Connection,
    pub(super) _db: TempDb,
}

impl SqliteFixture {
    pub(super) fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let db = TempDb::new();
        let store = runtime
            .block_on(SqliteStore::open(&db.path))
            .expect("open the store");
        let conn = rusqlite::Connection::open(&db.path).expect("open a second connection");
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .expect("busy timeout");
        Self {
            runtime,
            store,
            conn,
            _db: db,
        }
    }

    /// Every row `sql` selects, cell by cell.
    fn raw(&self, sql: &str, params: &[&dyn ToSql]) -> Result<Vec<Vec<Cell>>, TestCaseError> {
        let fail = |e: rusqlite::Error| TestCaseError::fail(format!("{sql}: {e}"));
        let mut stmt = self.conn.prepare(sql).map_err(fail)?;
        let width = stmt.column_count();
        let rows = stmt
            .query_map(params, |row| {
                (0..width)
                    .map(|i| row.get_ref(i).map(Cell::read))
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(fail)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(fail)
    }
}

pub(super) const TASK_COLUMNS: &str = "workflow_id, run_id, seq, kind, name, input, options, attempt, scheduled_ms, due_ms, last_error, details, token, slot_wait_ms";

/// The first column of a task row (in `TASK_COLUMNS` order) that the
/// store must refuse, in the order the store decodes them.
pub(super) fn task_problem(c: &[Cell]) -> Option<&'static str> {
    if c[3].as_text().and_then(TaskKind::parse).is_none() {
        return Some("kind");
    }
    let text = |i: usize| c[i].as_text().is_some();
    let opt = |i: usize, ok: bool| c[i] == Cell::Null || ok;
    let checks: [(&'static str, bool); 13] = [
        ("workflow_id", text(0)),
        ("run_id", text(1)),
        ("seq", c[2].as_int::<u32>().is_some()),
        ("name", text(4)),
        ("input", c[5].is_json::<Value>()),
        ("options", c[6].is_json::<ActivityOptions>()),
        ("attempt", c[7].as_int::<u32>().is_some()),
        ("scheduled_ms", c[8].as_int::<u64>().is_some()),
        ("due_ms", c[9].as_int::<u64>().is_some()),
        ("last_error", opt(10, text(10))),
        ("details", opt(11, c[11].is_json::<Value>())),
        ("token", c[12].as_int::<u64>().is_some()),
        ("slot_wait_ms", opt(13, c[13].as_int::<u64>().is_some())),
    ];
    checks.iter().find(|(_, ok)| !ok).map(|(column, _)| *column)
}

/// A task row: cells for every column of `tasks` but `run_id` and the
/// lease columns.
#[derive(Debug, Clone)]
pub(super) struct TaskRow {
    seq: Cell,
    workflow_id: Cell,
    kind: Cell,
    name: Cell,
    input: Cell,
    options: Cell,
    attempt: Cell,
    scheduled_ms: Cell,
    due_ms: Cell,
    last_error: Cell,
    details: Cell,
    token: Cell,
    slot_wait_ms: Cell,
}

pub(super) fn arb_task_row() -> BoxedStrategy<TaskRow> {
    let u32_max = i64::from(u32::MAX);
    (
        (
            int_cell(u32_max),
            text_cell(arb_string()),
            text_cell(prop_oneof![
                12 => select(vec!["activity", "timer"]).prop_map(str::to_owned),
                1 => arb_string(),
            ]),
            text_cell(arb_string()),
            text_cell(arb_json_text()),
            text_cell(arb_options_text()),
        ),
        (
            int_cell(u32_max),
            int_cell(i64::MAX),
            int_cell(i64::MAX),
            opt_cell(text_cell(arb_string())),
            opt_cell(text_cell(arb_json_text())),
            int_cell(i64::MAX),
            opt_cell(int_cell(i64::MAX)),
        ),
    )
        .prop_map(
            |(
                (seq, workflow_id, kind, name, input, options),
                (attempt, scheduled_ms, due_ms, last_error, details, token, slot_wait_ms),
            )| TaskRow {
                seq,
                workflow_id,
                kind,
                name,
                input,
                options,
                attempt,
                scheduled_ms,
                due_ms,
                last_error,
                details,
                token,
                slot_wait_ms,
            },
        )
        .boxed()
}

/// Writes a task row of run `run_id`; `false` when SQLite refuses it (a
/// NULL in a `NOT NULL` column, a second row of the same key).
pub(super) fn insert_task(conn: &rusqlite::Connection, run_id: &Cell, t: &TaskRow) -> bool {
    conn.execute(
        "INSERT INTO tasks (run_id, seq, workflow_id, kind, name, input, options, attempt,
             scheduled_ms, due_ms, last_error, details, token, slot_wait_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        rusqlite::params![
            run_id,
            t.seq,
            t.workflow_id,
            t.kind,
            t.name,
            t.input,
            t.options,
            t.attempt,
            t.scheduled_ms,
            t.due_ms,
            t.last_error,
            t.details,
            t.token,
            t.slot_wait_ms
        ],
    )
    .is_ok()
}

/// Task rows of arbitrary values: `tasks(Some(run))` decodes them or
/// returns the error naming the table, the run, the seq and the first bad
/// column; `tasks(None)` skips the bad ones and returns every good one.
#[test]
pub(super) fn sqlite_task_rows() {
    let fx = SqliteFixture::new();
    let good = TaskRow {
        seq: Cell::Int(1),
        workflow_id: Cell::text("wg"),
        kind: Cell::text("activity"),
        name: Cell::text("a"),
        input: Cell::text("null"),
        options: Cell::text(serde_json::to_string(&ActivityOptions::default()).unwrap_or_default()),
        attempt: Cell::Int(1),
        scheduled_ms: Cell::Int(0),
        due_ms: Cell::Int(0),
        last_error: Cell::Null,
        details: Cell::Null,
        token: Cell::Int(0),
        slot_wait_ms: Cell::Null,
    };
    let other_run = cell(arb_string().prop_map(Cell::text));
    check(
        "sqlite task rows",
        db_cases(64, 1000),
        (
            arb_string(),
            vec(arb_task_row(), 1..3),
            vec((other_run, arb_task_row()), 0..3),
        ),
        |(run, tasks, others)| {
            let run = format!("r{run}");
            fx.conn
                .execute("DELETE FROM tasks", [])
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            insert_task(&fx.conn, &Cell::text("good"), &good);
            for task in &tasks {
                insert_task(&fx.conn, &Cell::text(run.as_str()), task);
            }
            for (run_id, task) in &others {
                insert_task(&fx.conn, run_id, task);
            }

            // One run: the first bad row, in seq order, is the error.
            let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE run_id = ?1 ORDER BY seq");
            let raw = fx.raw(&sql, &[&run])?;
            let first_bad = raw
                .iter()
                .find_map(|cells| task_problem(cells).map(|column| (cells, column)));
            match (fx.runtime.block_on(fx.store.tasks(Some(&run))), first_bad) {
                (Ok(found), None) => prop_assert_eq!(found.len(), raw.len()),
                (Ok(_), Some((_, column))) => {
                    return Err(TestCaseError::fail(format!(
                        "decoded, but column `{column}` is bad"
                    )))
                }
                (Err(e), Some((cells, column))) => {
                    let message = e.to_string();
                    let seq = match &cells[2] {
                        Cell::Int(n) => n.to_string(),
                        other => other.show(),
                    };
                    let named = format!(
                        "corrupt row in `tasks` (run_id `{}`, seq {seq}): column `{column}` ",
                        clip(&run)
                    );
                    prop_assert!(message.contains(&named), "{message}\nexpected {named}");
                    prop_assert!(!e.is_retryable());
                    bounded(&message)?;
                }
                (Err(e), None) => {
                    return Err(TestCaseError::fail(format!("every row is good, yet: {e}")))
                }
            }

            // Every run: the good rows, the bad ones skipped.
            let sql = format!("SELECT {TASK_COLUMNS} FROM tasks ORDER BY run_id, seq");
            let expected: Vec<(String, u32)> = fx
                .raw(&sql, &[])?
                .iter()
                .filter(|cells| task_problem(cells).is_none())
                .map(|c| {
                    (
                        c[1].as_text().unwrap_or_default().to_owned(),
                        c[2].as_int().unwrap_or_default(),
                    )
                })
                .collect();
            let all = fx
                .runtime
                .block_on(fx.store.tasks(None))
                .map_err(|e| TestCaseError::fail(format!("tasks(None): {e}")))?;
            let found: Vec<(String, u32)> = all.into_iter().map(|t| (t.run_id, t.seq)).collect();
            prop_assert!(found.contains(&("good".to_owned(), 1)));
            prop_assert_eq!(found, expected);
            Ok(())
        },
    );
}

pub(super) const RUN_COLUMNS: &str =
    "workflow_id, run_id, name, status, result, error, progress, created_ms, updated_ms";

/// The first column of a run row (in `RUN_COLUMNS` order) that the store
/// must refuse, in the order it decodes them.
pub(super) fn run_problem(c: &[Cell]) -> Option<&'static str> {
    if c[3].as_text().and_then(WorkflowStatus::parse).is_none() {
        return Some("status");
    }
    let text = |i: usize| c[i].as_text().is_some();
    let opt = |i: usize, ok: bool| c[i] == Cell::Null || ok;
    let checks: [(&'static str, bool); 8] = [
        ("workflow_id", text(0)),
        ("run_id", text(1)),
        ("name", text(2)),
        ("result", opt(4, c[4].is_json::<Value>())),
        ("error", opt(5, text(5))),
        ("progress", opt(6, c[6].is_json::<Value>())),
        ("created_ms", c[7].as_int::<u64>().is_some()),
        ("updated_ms", c[8].as_int::<u64>().is_some()),
    ];
    checks.iter().find(|(_, ok)| !ok).map(|(column, _)| *column)
}

pub(super) const STATUSES: &[&str] = &[
    "running",
    "blocked",
    "completed",
    "failed",
    "cancelled",
    "terminated",
    "continued_as_new",
];

/// Run rows of arbitrary values: `load_run` and `latest_run` decode them or
/// return the error naming `runs`, the run and the first bad column;
/// `unfinished_runs` skips the bad ones.
#[test]
pub(super) fn sqlite_run_rows() {
    let fx = SqliteFixture::new();
    let row = (
        (
            text_cell(arb_string()),
            text_cell(arb_string()),
            text_cell(prop_oneof![
                12 => select(STATUSES).prop_map(str::to_owned),
                1 => arb_string(),
            ]),
        ),
        (
            opt_cell(text_cell(arb_json_text())),
            opt_cell(text_cell(arb_string())),
            opt_cell(text_cell(arb_json_text())),
            int_cell(i64::MAX),
            int_cell(i64::MAX),
        ),
    );
    check(
        "sqlite run rows",
        db_cases(64, 1000),
        (arb_string(), row),
        |(run, ((workflow_id, name, status), (result, error, progress, created, updated)))| {
            let run = format!("r{run}");
            fx.conn
                .execute_batch("DELETE FROM runs; DELETE FROM workflows; DELETE FROM history;")
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            fx.conn
                .execute(
                    "INSERT INTO workflows (workflow_id, latest_run_id, name, created_ms)
                     VALUES ('w', ?1, 'n', 0)",
                    [&run],
                )
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let inserted = fx.conn.execute(
                "INSERT INTO runs (run_id, workflow_id, name, status, result, error, progress,
                     created_ms, updated_ms, history_len)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0)",
                rusqlite::params![
                    run,
                    workflow_id,
                    name,
                    status,
                    result,
                    error,
                    progress,
                    created,
                    updated
                ],
            );
            if inserted.is_err() {
                return Ok(()); // a NULL in a NOT NULL column
            }
            let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?1");
            let raw = fx.raw(&sql, &[&run])?;
            let problem = run_problem(&raw[0]);
            let loaded = fx.runtime.block_on(fx.store.load_run(&run));
            let latest = fx.runtime.block_on(fx.store.latest_run("w"));
            for (what, result) in [
                ("load_run", loaded.map(|r| r.map(|(record, _)| record))),
                ("latest_run", latest),
            ] {
                match (result, problem) {
                    (Ok(Some(record)), None) => prop_assert_eq!(&record.run_id, &run),
                    (Ok(None), _) => return Err(TestCaseError::fail(format!("{what}: no run"))),
                    (Ok(Some(_)), Some(column)) => {
                        return Err(TestCaseError::fail(format!(
                            "{what}: decoded, but column `{column}` is bad"
                        )))
                    }
                    (Err(e), Some(column)) => {
                        let message = e.to_string();
                        let named = format!(
                            "corrupt row in `runs` (run_id `{}`): column `{column}` ",
                            clip(&run)
                        );
                        prop_assert!(message.contains(&named), "{what}: {message}");
                        prop_assert!(!e.is_retryable());
                        bounded(&message)?;
                    }
                    (Err(e), None) => {
                        return Err(TestCaseError::fail(format!(
                            "{what}: the row is good, yet: {e}"
                        )))
                    }
                }
            }
            let unfinished = fx
                .runtime
                .block_on(fx.store.unfinished_runs())
                .map_err(|e| TestCaseError::fail(format!("unfinished_runs: {e}")))?;
            let listed =
                problem.is_none() && matches!(raw[0][3].as_text(), Some("running" | "blocked"));
            prop_assert_eq!(unfinished.len(), usize::from(listed));
            Ok(())
        },
    );
}

/// History rows of arbitrary values (indexes of any type, events of any
/// text, mutated events): `load_run` returns them or the error naming
/// `history`, the run and the column; what it returns decodes or is an
/// error naming the row.
#[test]
pub(super) fn sqlite_history_rows() {
    let fx = SqliteFixture::new();
    let event_text = prop_oneof![
        4 => arb_event().prop_map(|e| serde_json::to_string(&e).unwrap_or_default()),
        2 => (arb_event(), arb_mutation()).prop_map(|(e, m)| {
            let mut value = serde_json::to_value(&e).unwrap_or_default();
            mutate(&mut value, &m);
            value.to_string()
        }),
        1 => arb_json_text(),
    ];
    let index = prop_oneof![
        8 => Just(None),
        1 => int_cell(8).prop_map(Some),
    ];
    check(
        "sqlite history rows",
        db_cases(64, 1000),
        (
            arb_valid_history(),
            vec((any::<Index>(), index, text_cell(event_text)), 0..4),
        ),
        |(events, edits)| {
            fx.conn
                .execute_batch(
                    "DELETE FROM runs; DELETE FROM workflows; DELETE FROM history;
                     INSERT INTO runs (run_id, workflow_id, name, status, created_ms,
                         updated_ms, history_len)
                     VALUES ('r', 'w', 'n', 'running', 0, 0, 0);",
                )
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut rows: Vec<(Cell, Cell)> = events
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    (
                        Cell::Int(i as i64),
                        Cell::text(serde_json::to_string(e).unwrap_or_default()),
                    )
                })
                .collect();
            for (at, index, event) in edits {
                let i = at.index(rows.len());
                rows[i] = (index.unwrap_or(Cell::Int(i as i64)), event);
            }
            for (idx, event) in &rows {
                // A refused row (NULL, a second row of one idx) is left out.
                let _ = fx.conn.execute(
                    "INSERT INTO history (run_id, idx, event) VALUES ('r', ?1, ?2)",
                    rusqlite::params![idx, event],
                );
            }
            let raw = fx.raw(
                "SELECT idx, event FROM history WHERE run_id = 'r' ORDER BY idx",
                &[],
            )?;
            let problem = raw.iter().find_map(|c| {
                if c[0].as_int::<u64>().is_none() {
                    Some((&c[0], "idx"))
                } else if c[1].as_text().is_none() {
                    Some((&c[0], "event"))
                } else {
                    None
                }
            });
            let loaded = fx.runtime.block_on(fx.store.load_run("r"));
            match (loaded, problem) {
                (Ok(Some((_, history))), None) => {
                    let expected: Rows = raw
                        .iter()
                        .map(|c| {
                            (
                                c[0].as_int().unwrap_or_default(),
                                c[1].as_text().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect();
                    prop_assert_eq!(&history, &expected);
                    check_history(&history)?;
                }
                (Ok(None), _) => return Err(TestCaseError::fail("no run")),
                (Ok(Some(_)), Some((_, column))) => {
                    return Err(TestCaseError::fail(format!(
                        "loaded, but column `{column}` is bad"
                    )))
                }
                (Err(e), Some((idx, column))) => {
                    let message = e.to_string();
                    let key = match idx.as_int::<u64>() {
                        Some(idx) => format!("run_id `r`, idx {idx}"),
                        None => "run_id `r`".to_owned(),
                    };
                    let named = format!("corrupt row in `history` ({key}): column `{column}` ");
                    prop_assert!(message.contains(&named), "{message}\nexpected {named}");
                    bounded(&message)?;
                }
                (Err(e), None) => {
                    return Err(TestCaseError::fail(format!("every row is good, yet: {e}")))
                }
            }
            Ok(())
        },
    );
}

/// Inbox rows of arbitrary values: `inbox()` returns the decodable ones in
/// id order and skips (logs) the others.
#[test]
pub(super) fn sqlite_inbox_rows() {
    let fx = SqliteFixture::new();
    let message = prop_oneof![
        2 => arb_inbox_item().prop_map(|item| {
            let (kind, payload) = item.encode();
            (Cell::text(kind), Cell::text(payload.to_string()))
        }),
        2 => (arb_inbox_item(), arb_mutation()).prop_map(|(item, m)| {
            let (kind, mut payload) = item.encode();
            mutate(&mut payload, &m);
            (Cell::text(kind), Cell::text(payload.to_string()))
        }),
        1 => (text_cell(arb_inbox_kind()), text_cell(arb_json_text())),
    ];
    check(
        "sqlite inbox rows",
        db_cases(64, 1000),
        vec((text_cell(arb_string()), message), 0..5),
        |messages| {
            fx.conn
                .execute("DELETE FROM inbox", [])
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            for (workflow_id, (kind, payload)) in &messages {
                let _ = fx.conn.execute(
                    "INSERT INTO inbox (workflow_id, kind, payload, created_ms)
                     VALUES (?1, ?2, ?3, 0)",
                    rusqlite::params![workflow_id, kind, payload],
                );
            }
            let expected: Vec<InboxRecord> = fx
                .raw(
                    "SELECT id, workflow_id, kind, payload FROM inbox ORDER BY id",
                    &[],
                )?
                .iter()
                .filter_map(|c| {
                    let payload = serde_json::from_str(c[3].as_text()?).ok()?;
                    Some(InboxRecord {
                        id: c[0].as_int()?,
                        workflow_id: c[1].as_text()?.to_owned(),
                        item: InboxItem::decode(c[2].as_text()?, payload)?,
                    })
                })
                .collect();
            let found = fx
                .runtime
                .block_on(fx.store.inbox())
                .map_err(|e| TestCaseError::fail(format!("inbox: {e}")))?;
            prop_assert_eq!(found, expected);
            Ok(())
        },
    );
}
