//! SQLite errors as [`StoreError`]s: which are retryable, and what they
//! were about.

use rusqlite::ErrorCode;

use crate::error::StoreError;

/// Whether trying again may help: the database was busy or locked.
pub(super) fn is_retryable(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// A SQLite error of `operation` about `context` (`run `x``, ...).
pub(super) fn store_error(
    operation: &'static str,
    context: impl Into<String>,
    e: rusqlite::Error,
) -> StoreError {
    let corrupt = is_corrupt(&e);
    let error = StoreError::with_source(
        operation,
        is_retryable(&e),
        Context {
            context: context.into(),
            source: e,
        },
    );
    if corrupt {
        error.corrupt()
    } else {
        error
    }
}

/// Whether SQLite says the file is damaged.
fn is_corrupt(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

/// An error with what it was about.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
pub(super) struct Context<E: std::error::Error + 'static> {
    pub(super) context: String,
    #[source]
    pub(super) source: E,
}
