//! Decoding rows into records (a corrupt row is a [`StoreError`] naming the
//! table, the key, the column and the value), and how values are stored.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_postgres::types::FromSql;
use tokio_postgres::Row;

use crate::error::StoreError;
use crate::store::{InboxItem, InboxRecord, RunRecord, Task, TaskKind, WorkflowStatus};

/// A `runs` row being decoded, keyed by its `run_id` (column 1).
pub(super) fn run_fields<'a>(operation: &'static str, row: &'a Row) -> Fields<'a> {
    Fields::new(row, operation, "runs", key_text(row, 1, "run_id"))
}

/// Decodes the `run_columns!` of a row.
pub(super) fn decode_run(operation: &'static str, row: &Row) -> Result<RunRecord, StoreError> {
    let fields = run_fields(operation, row);
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

/// The decodable messages of `rows`; the others are logged and skipped.
pub(super) fn decode_inbox_rows(operation: &'static str, rows: &[Row]) -> Vec<InboxRecord> {
    rows.iter()
        .filter_map(|row| match decode_inbox(operation, row) {
            Ok(message) => Some(message),
            Err(e) => {
                tracing::error!(error = %e, "skipping a corrupt inbox message");
                None
            }
        })
        .collect()
}

/// Decodes `id, workflow_id, kind, payload`.
fn decode_inbox(operation: &'static str, row: &Row) -> Result<InboxRecord, StoreError> {
    let key = match row.try_get::<_, Option<i64>>(0) {
        Ok(Some(id)) => format!("id {id}"),
        Ok(None) => "id NULL".to_owned(),
        Err(_) => "id unreadable".to_owned(),
    };
    let fields = Fields::new(row, operation, "inbox", key);
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

/// Decodes the `task_columns!` of a row.
pub(super) fn decode_task(operation: &'static str, row: &Row) -> Result<Task, StoreError> {
    let seq = match row.try_get::<_, Option<i64>>(2) {
        Ok(Some(seq)) => seq.to_string(),
        Ok(None) => "NULL".to_owned(),
        Err(_) => "?".to_owned(),
    };
    let fields = Fields::new(
        row,
        operation,
        "tasks",
        format!("{}, seq {seq}", key_text(row, 1, "run_id")),
    );
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
fn key_text(row: &Row, index: usize, name: &str) -> String {
    match row.try_get::<_, Option<String>>(index) {
        Ok(Some(value)) => format!("{name} `{}`", clip(&value)),
        Ok(None) => format!("{name} NULL"),
        Err(_) => format!("{name} unreadable"),
    }
}

/// A row being decoded, and how to name it in errors.
pub(super) struct Fields<'a> {
    row: &'a Row,
    operation: &'static str,
    table: &'static str,
    key: String,
}

impl<'a> Fields<'a> {
    /// The row `row` of `table`, named by `key` in errors.
    pub(super) fn new(
        row: &'a Row,
        operation: &'static str,
        table: &'static str,
        key: String,
    ) -> Self {
        Self {
            row,
            operation,
            table,
            key,
        }
    }

    /// The error of a column that holds what it must not.
    pub(super) fn corrupt(&self, column: &str, problem: impl fmt::Display) -> StoreError {
        StoreError::new(
            self.operation,
            format!(
                "corrupt row in `{}` ({}): column `{column}` {problem}",
                self.table, self.key
            ),
        )
    }

    /// A column as its SQL type maps to `T`.
    pub(super) fn value<T>(&self, index: usize, column: &str) -> Result<T, StoreError>
    where
        T: for<'b> FromSql<'b>,
    {
        match self.row.try_get::<_, Option<T>>(index) {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(self.corrupt(column, "holds NULL")),
            Err(e) => Err(self.corrupt(column, format_args!("cannot be read: {e}"))),
        }
    }

    /// A nullable column as its SQL type maps to `T`.
    fn opt_value<T>(&self, index: usize, column: &str) -> Result<Option<T>, StoreError>
    where
        T: for<'b> FromSql<'b>,
    {
        self.row
            .try_get::<_, Option<T>>(index)
            .map_err(|e| self.corrupt(column, format_args!("cannot be read: {e}")))
    }

    /// A text column that must not be NULL.
    pub(super) fn text(&self, index: usize, column: &str) -> Result<String, StoreError> {
        self.value(index, column)
    }

    /// A nullable text column.
    fn opt_text(&self, index: usize, column: &str) -> Result<Option<String>, StoreError> {
        self.opt_value(index, column)
    }

    /// A `BIGINT` column that must hold a value in range of `T`.
    pub(super) fn uint<T: TryFrom<i64>>(
        &self,
        index: usize,
        column: &str,
    ) -> Result<T, StoreError> {
        let n: i64 = self.value(index, column)?;
        T::try_from(n)
            .map_err(|_| self.corrupt(column, format_args!("holds {n}, which is out of range")))
    }

    /// A nullable `BIGINT` column, in range of `T` when set.
    pub(super) fn opt_uint<T: TryFrom<i64>>(
        &self,
        index: usize,
        column: &str,
    ) -> Result<Option<T>, StoreError> {
        let n: Option<i64> = self.opt_value(index, column)?;
        n.map(|n| {
            T::try_from(n)
                .map_err(|_| self.corrupt(column, format_args!("holds {n}, which is out of range")))
        })
        .transpose()
    }

    /// A JSON (text) column that must not be NULL.
    pub(super) fn json<T: DeserializeOwned>(
        &self,
        index: usize,
        column: &str,
    ) -> Result<T, StoreError> {
        let text = self.text(index, column)?;
        self.decode_json(&text, column)
    }

    /// A nullable JSON (text) column.
    fn opt_json<T: DeserializeOwned>(
        &self,
        index: usize,
        column: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.opt_text(index, column)? {
            None => Ok(None),
            Some(text) => self.decode_json(&text, column).map(Some),
        }
    }

    /// Decodes the JSON `text` of `column`.
    fn decode_json<T: DeserializeOwned>(&self, text: &str, column: &str) -> Result<T, StoreError> {
        serde_json::from_str(text).map_err(|e| {
            self.corrupt(
                column,
                format_args!(
                    "holds `{}`, which does not decode: {}",
                    clip(text),
                    clip(&e.to_string())
                ),
            )
        })
    }
}

/// At most 100 characters of `s`, for error messages.
pub(super) fn clip(s: &str) -> String {
    /// Characters kept.
    const MAX: usize = 100;
    match s.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

/// Longest lease or horizon added to the database's now (about 35,000
/// years), so that the sum never overflows a `BIGINT`.
const MAX_SPAN_MS: u64 = 1 << 50;

/// A `u64` as stored: saturated at `i64::MAX`.
pub(super) fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A lease or horizon (ms), bounded so that adding it to now cannot overflow.
pub(super) fn span(ms: u64) -> i64 {
    int(ms.min(MAX_SPAN_MS))
}

/// A JSON value as stored: its text.
pub(super) fn json(value: &Value) -> String {
    value.to_string()
}
