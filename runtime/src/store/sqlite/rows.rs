//! Reading rows: the `SELECT` statements, decoding a row into a record
//! (a corrupt one is a [`StoreError`] naming the table, key, column and
//! value), and how values are stored.

use std::fmt;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::errors::store_error;
use super::LOAD_RUN;
use crate::error::StoreError;
use crate::store::operation::LIST;
use crate::store::{
    HistoryRows, InboxItem, InboxRecord, ListQuery, ListedRun, RunRecord, Task, TaskKind,
    WorkflowStatus,
};

macro_rules! run_columns {
    () => {
        "workflow_id, run_id, name, status, result, error, progress, created_ms, updated_ms"
    };
}

macro_rules! task_columns {
    () => {
        "workflow_id, run_id, seq, kind, name, input, options, attempt, scheduled_ms, due_ms, last_error, details, token, slot_wait_ms, heartbeat_ms"
    };
}

pub(super) const SELECT_RUN: &str =
    concat!("SELECT ", run_columns!(), " FROM runs WHERE run_id = ?1");
pub(super) const SELECT_LATEST_RUN: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE run_id = (SELECT latest_run_id FROM workflows WHERE workflow_id = ?1)"
);
pub(super) const SELECT_UNFINISHED: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE status IN ('running', 'blocked') ORDER BY seq"
);
pub(super) const SELECT_WORKFLOW_RUNS: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE workflow_id = ?1 ORDER BY seq"
);
/// `list_runs`: ?1 status (or NULL), ?2 name (or NULL), created in
/// [?3, ?4), `seq` below ?5, at most ?6; `seq` is the last column.
const SELECT_LISTED: &str = concat!(
    "SELECT ",
    run_columns!(),
    ", seq FROM runs r
     WHERE seq < ?5 AND created_ms >= ?3 AND created_ms < ?4
       AND (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR name = ?2)
       AND run_id = (SELECT latest_run_id FROM workflows w WHERE w.workflow_id = r.workflow_id)
     ORDER BY seq DESC LIMIT ?6"
);
/// The same, for the statuses of unfinished runs: their partial index
/// spares a scan of the finished ones.
const SELECT_LISTED_UNFINISHED: &str = concat!(
    "SELECT ",
    run_columns!(),
    ", seq FROM runs r
     WHERE status IN ('running', 'blocked') AND status = ?1
       AND seq < ?5 AND created_ms >= ?3 AND created_ms < ?4
       AND (?2 IS NULL OR name = ?2)
       AND run_id = (SELECT latest_run_id FROM workflows w WHERE w.workflow_id = r.workflow_id)
     ORDER BY seq DESC LIMIT ?6"
);
const SELECT_RUN_TASKS: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks WHERE run_id = ?1 ORDER BY seq"
);
pub(super) const SELECT_TASK: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks WHERE run_id = ?1 AND seq = ?2"
);
const SELECT_ALL_TASKS: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks ORDER BY run_id, seq"
);

/// The latest runs matching `query`, newest first; a corrupt row is
/// skipped and logged.
pub(super) fn select_listed(
    conn: &Connection,
    query: &ListQuery,
) -> Result<Vec<ListedRun>, StoreError> {
    let context = || "the `runs` table".to_owned();
    let sql = match query.status {
        Some(status) if !status.is_finished() => SELECT_LISTED_UNFINISHED,
        _ => SELECT_LISTED,
    };
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(|e| store_error(LIST, context(), e))?;
    let args = rusqlite::params![
        query.status.map(WorkflowStatus::as_str),
        query.name,
        int(query.since_ms.unwrap_or(0)),
        int(query.until_ms.unwrap_or(u64::MAX)),
        int(query.before.unwrap_or(u64::MAX)),
        i64::try_from(query.limit).unwrap_or(i64::MAX),
    ];
    let rows = stmt
        .query_map(args, |row| {
            Ok(decode_run(LIST, row).and_then(|record| {
                let position = Fields {
                    row,
                    operation: LIST,
                    table: "runs",
                    key: key_text(row, 1, "run_id"),
                }
                .uint(9, "seq")?;
                Ok(ListedRun { position, record })
            }))
        })
        .map_err(|e| store_error(LIST, context(), e))?;
    let mut listed = Vec::new();
    for row in rows {
        match row.map_err(|e| store_error(LIST, context(), e))? {
            Ok(run) => listed.push(run),
            Err(e) => tracing::error!(error = %e, "skipping a corrupt run"),
        }
    }
    Ok(listed)
}

/// Tasks of a run (a corrupt one is an error), or of every run (a corrupt
/// one is skipped and logged, see the module docs).
pub(super) fn select_tasks(
    conn: &Connection,
    operation: &'static str,
    run_id: Option<&str>,
) -> Result<Vec<Task>, StoreError> {
    let context = || match run_id {
        Some(run_id) => format!("tasks of run `{run_id}`"),
        None => "the `tasks` table".to_owned(),
    };
    let (sql, args) = match run_id {
        Some(run_id) => (SELECT_RUN_TASKS, vec![run_id]),
        None => (SELECT_ALL_TASKS, Vec::new()),
    };
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(|e| store_error(operation, context(), e))?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args), |row| {
            Ok(decode_task(operation, row))
        })
        .map_err(|e| store_error(operation, context(), e))?;
    let mut tasks = Vec::new();
    for row in rows {
        match row.map_err(|e| store_error(operation, context(), e))? {
            Ok(task) => tasks.push(task),
            Err(e) if run_id.is_none() => {
                tracing::error!(error = %e, "skipping a corrupt task");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(tasks)
}

/// Inbox messages of a workflow, or of every workflow, in arrival order;
/// a corrupt one is skipped and logged.
pub(super) fn select_inbox(
    conn: &Connection,
    operation: &'static str,
    workflow_id: Option<&str>,
) -> Result<Vec<InboxRecord>, StoreError> {
    let context = || "the `inbox` table".to_owned();
    let (sql, args) = match workflow_id {
        Some(id) => (
            "SELECT id, workflow_id, kind, payload FROM inbox WHERE workflow_id = ?1 ORDER BY id",
            vec![id],
        ),
        None => (
            "SELECT id, workflow_id, kind, payload FROM inbox ORDER BY id",
            Vec::new(),
        ),
    };
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(|e| store_error(operation, context(), e))?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args), |row| {
            Ok(decode_inbox(operation, row))
        })
        .map_err(|e| store_error(operation, context(), e))?;
    let mut messages = Vec::new();
    for row in rows {
        match row.map_err(|e| store_error(operation, context(), e))? {
            Ok(message) => messages.push(message),
            Err(e) => tracing::error!(error = %e, "skipping a corrupt inbox message"),
        }
    }
    Ok(messages)
}

/// The run selected by `sql` with the one parameter `key`.
pub(super) fn load_record(
    conn: &Connection,
    operation: &'static str,
    sql: &str,
    key: &str,
) -> Result<Option<RunRecord>, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| {
            stmt.query_row([key], |row| Ok(decode_run(operation, row)))
                .optional()
        })
        .map_err(|e| store_error(operation, format!("`{key}`"), e))?
        .transpose()
}

pub(super) fn load_history(conn: &Connection, run_id: &str) -> Result<HistoryRows, StoreError> {
    let sql = |e| store_error(LOAD_RUN, format!("history of run `{run_id}`"), e);
    let mut stmt = conn
        .prepare_cached("SELECT idx, event FROM history WHERE run_id = ?1 ORDER BY idx")
        .map_err(sql)?;
    let rows = stmt
        .query_map([run_id], |row| {
            let idx = row.get_ref(0).map(|v| match v {
                ValueRef::Integer(n) => u64::try_from(n).ok(),
                _ => None,
            })?;
            let key = match idx {
                Some(idx) => format!("run_id `{run_id}`, idx {idx}"),
                None => format!("run_id `{run_id}`"),
            };
            let fields = Fields {
                row,
                operation: LOAD_RUN,
                table: "history",
                key,
            };
            Ok(fields
                .uint::<u64>(0, "idx")
                .and_then(|idx| Ok((idx, fields.text(1, "event")?))))
        })
        .map_err(sql)?;
    let mut history = Vec::new();
    for row in rows {
        history.push(row.map_err(sql)??);
    }
    Ok(history)
}

pub(super) fn decode_run(operation: &'static str, row: &Row<'_>) -> Result<RunRecord, StoreError> {
    let fields = Fields {
        row,
        operation,
        table: "runs",
        key: key_text(row, 1, "run_id"),
    };
    let status = fields.text(3, "status")?;
    let status = WorkflowStatus::parse(&status).ok_or_else(|| {
        fields.corrupt(
            "status",
            format_args!("holds `{}`, not a run status", clip(&status)),
        )
    })?;
    Ok(RunRecord {
        workflow_id: fields.text(0, "workflow_id")?,
        run_id: fields.text(1, "run_id")?,
        name: fields.text(2, "name")?,
        status,
        result: fields.opt_json(4, "result")?,
        error: fields.opt_text(5, "error")?,
        progress: fields.opt_json(6, "progress")?,
        created_ms: fields.uint(7, "created_ms")?,
        updated_ms: fields.uint(8, "updated_ms")?,
    })
}

fn decode_inbox(operation: &'static str, row: &Row<'_>) -> Result<InboxRecord, StoreError> {
    let key = match row.get_ref(0) {
        Ok(ValueRef::Integer(n)) => format!("id {n}"),
        Ok(other) => format!("id {}", show(other)),
        Err(_) => "id unreadable".to_owned(),
    };
    let fields = Fields {
        row,
        operation,
        table: "inbox",
        key,
    };
    let kind = fields.text(2, "kind")?;
    let payload: Value = fields.json(3, "payload")?;
    let item = InboxItem::decode(&kind, payload.clone()).ok_or_else(|| {
        fields.corrupt(
            "payload",
            format_args!(
                "holds `{}`, not a `{}` message",
                clip(&payload.to_string()),
                clip(&kind)
            ),
        )
    })?;
    Ok(InboxRecord {
        id: fields.uint(0, "id")?,
        workflow_id: fields.text(1, "workflow_id")?,
        item,
    })
}

pub(super) fn decode_task(operation: &'static str, row: &Row<'_>) -> Result<Task, StoreError> {
    let seq = match row.get_ref(2) {
        Ok(ValueRef::Integer(n)) => n.to_string(),
        Ok(other) => show(other),
        Err(_) => "?".to_owned(),
    };
    let fields = Fields {
        row,
        operation,
        table: "tasks",
        key: format!("{}, seq {seq}", key_text(row, 1, "run_id")),
    };
    let kind = fields.text(3, "kind")?;
    let kind = TaskKind::parse(&kind).ok_or_else(|| {
        fields.corrupt(
            "kind",
            format_args!("holds `{}`, not a task kind", clip(&kind)),
        )
    })?;
    Ok(Task {
        workflow_id: fields.text(0, "workflow_id")?,
        run_id: fields.text(1, "run_id")?,
        seq: fields.uint(2, "seq")?,
        kind,
        name: fields.text(4, "name")?,
        input: fields.json(5, "input")?,
        options: fields.json(6, "options")?,
        attempt: fields.uint(7, "attempt")?,
        scheduled_ms: fields.uint(8, "scheduled_ms")?,
        due_ms: fields.uint(9, "due_ms")?,
        last_error: fields.opt_text(10, "last_error")?,
        details: fields.opt_json(11, "details")?,
        token: fields.uint(12, "token")?,
        slot_wait_ms: fields.opt_uint(13, "slot_wait_ms")?,
        heartbeat_ms: fields.opt_uint(14, "heartbeat_ms")?,
    })
}

/// `name `value`` for a text key column, for error messages.
pub(super) fn key_text(row: &Row<'_>, index: usize, name: &str) -> String {
    match row.get_ref(index) {
        Ok(ValueRef::Text(t)) => format!("{name} `{}`", clip(&String::from_utf8_lossy(t))),
        Ok(other) => format!("{name} {}", show(other)),
        Err(_) => format!("{name} unreadable"),
    }
}

/// A row being decoded, and how to name it in errors.
pub(super) struct Fields<'a, 'r> {
    pub(super) row: &'a Row<'r>,
    pub(super) operation: &'static str,
    pub(super) table: &'static str,
    pub(super) key: String,
}

impl Fields<'_, '_> {
    pub(super) fn corrupt(&self, column: &str, problem: impl fmt::Display) -> StoreError {
        StoreError::new(
            self.operation,
            format!(
                "corrupt row in `{}` ({}): column `{column}` {problem}",
                self.table, self.key
            ),
        )
    }

    fn value(&self, index: usize, column: &str) -> Result<ValueRef<'_>, StoreError> {
        self.row
            .get_ref(index)
            .map_err(|e| self.corrupt(column, format_args!("cannot be read: {e}")))
    }

    pub(super) fn text(&self, index: usize, column: &str) -> Result<String, StoreError> {
        match self.value(index, column)? {
            ValueRef::Text(t) => String::from_utf8(t.to_vec())
                .map_err(|_| self.corrupt(column, "holds text that is not UTF-8")),
            other => Err(self.corrupt(column, format_args!("holds {}, not text", show(other)))),
        }
    }

    fn opt_text(&self, index: usize, column: &str) -> Result<Option<String>, StoreError> {
        match self.value(index, column)? {
            ValueRef::Null => Ok(None),
            _ => self.text(index, column).map(Some),
        }
    }

    pub(super) fn uint<T: TryFrom<i64>>(
        &self,
        index: usize,
        column: &str,
    ) -> Result<T, StoreError> {
        match self.value(index, column)? {
            ValueRef::Integer(n) => T::try_from(n).map_err(|_| {
                self.corrupt(column, format_args!("holds {n}, which is out of range"))
            }),
            other => Err(self.corrupt(
                column,
                format_args!("holds {}, not an integer", show(other)),
            )),
        }
    }

    pub(super) fn opt_uint<T: TryFrom<i64>>(
        &self,
        index: usize,
        column: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.value(index, column)? {
            ValueRef::Null => Ok(None),
            _ => self.uint(index, column).map(Some),
        }
    }

    pub(super) fn json<T: DeserializeOwned>(
        &self,
        index: usize,
        column: &str,
    ) -> Result<T, StoreError> {
        let text = self.text(index, column)?;
        serde_json::from_str(&text).map_err(|e| {
            self.corrupt(
                column,
                format_args!(
                    "holds `{}`, which does not decode: {}",
                    clip(&text),
                    clip(&e.to_string())
                ),
            )
        })
    }

    fn opt_json<T: DeserializeOwned>(
        &self,
        index: usize,
        column: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.value(index, column)? {
            ValueRef::Null => Ok(None),
            _ => self.json(index, column).map(Some),
        }
    }
}

/// A stored value, for error messages.
fn show(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(n) => n.to_string(),
        ValueRef::Real(x) => x.to_string(),
        ValueRef::Text(t) => format!("`{}`", clip(&String::from_utf8_lossy(t))),
        ValueRef::Blob(b) => format!("a blob of {} bytes", b.len()),
    }
}

/// At most 100 characters of `s`, for error messages.
pub(super) fn clip(s: &str) -> String {
    const MAX: usize = 100;
    match s.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

/// A `u64` as SQLite stores it: saturated at `i64::MAX`.
pub(super) fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(super) fn json(value: &Value) -> String {
    value.to_string()
}
