//! PostgreSQL and pool errors as [`StoreError`]s (which are retryable, what
//! they were about) and as the [`Error::Config`] of a failed first
//! connection; none names the password.

use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

use super::secrets::scrub;
use super::Target;
use crate::error::{Error, StoreError};

/// Whether trying again may help: the connection was lost (or the server
/// shut it down), or the transaction lost a serialization or deadlock race.
pub(super) fn is_retryable(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let code = code.code();
        return code.starts_with("08")
            || code == SqlState::ADMIN_SHUTDOWN.code()
            || code == SqlState::CRASH_SHUTDOWN.code()
            || code == SqlState::CANNOT_CONNECT_NOW.code()
            || code == SqlState::T_R_SERIALIZATION_FAILURE.code()
            || code == SqlState::T_R_DEADLOCK_DETECTED.code();
    }
    // No answer from the server: an I/O error of the connection.
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        if inner.is::<std::io::Error>() {
            return true;
        }
        source = inner.source();
    }
    false
}

/// A readable message for a PostgreSQL error: the server's message and
/// SQLSTATE, or the client's error and its causes.
pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut message = format!("{} ({}): {}", db.severity(), db.code().code(), db.message());
        if let Some(detail) = db.detail() {
            message.push_str(" (");
            message.push_str(detail);
            message.push(')');
        }
        return message;
    }
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    message
}

/// A PostgreSQL error of `operation` about `context` (`run `x``, ...).
pub(super) fn store_error(
    operation: &'static str,
    context: impl Into<String>,
    e: tokio_postgres::Error,
) -> StoreError {
    StoreError::with_source(
        operation,
        is_retryable(&e),
        Failure {
            context: context.into(),
            message: describe(&e),
            source: e,
        },
    )
}

/// An error of getting a pooled connection.
pub(super) fn pool_error(operation: &'static str, e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => store_error(operation, "connecting", e),
        // Out of connections for a while: may pass.
        PoolError::Timeout(_) => StoreError::with_source(operation, true, e),
        e => StoreError::with_source(operation, false, e),
    }
}

/// An error of the first connection: the URL points nowhere useful.
pub(super) fn connect_error(target: &Target, e: PoolError) -> Error {
    let message = match &e {
        PoolError::Backend(e) => describe(e),
        e => e.to_string(),
    };
    let message = scrub(&message, target.secrets());
    let code = match &e {
        PoolError::Backend(e) => e.code().cloned(),
        _ => None,
    };
    Error::Config(match code {
        Some(code) if code.code().starts_with("28") => format!(
            "PostgreSQL at {} refused user `{}` for database `{}`: {message}",
            target.address(),
            target.user,
            target.dbname
        ),
        Some(SqlState::INVALID_CATALOG_NAME) => format!(
            "PostgreSQL at {} has no database `{}`: {message}",
            target.address(),
            target.dbname
        ),
        Some(SqlState::INSUFFICIENT_PRIVILEGE) => format!(
            "the PostgreSQL user `{}` may not connect to database `{}` at {}: {message}",
            target.user,
            target.dbname,
            target.address()
        ),
        _ => format!(
            "cannot connect to PostgreSQL at {}: {message} (database `{}`, user `{}`)",
            target.address(),
            target.dbname,
            target.user
        ),
    })
}

/// A PostgreSQL error with what it was about.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {message}")]
struct Failure {
    context: String,
    message: String,
    #[source]
    source: tokio_postgres::Error,
}
