//! What a command fails with: printed as one line, exit code 1.

use std::path::PathBuf;

/// A failed command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The runtime refused or failed (unknown id, store error, ...).
    #[error(transparent)]
    Reprise(#[from] reprise::Error),
    /// `--db` names no file.
    #[error("no database at `{}`: pass --db PATH (or set REPRISE_DB), or --postgres URL", .0.display())]
    NoDatabase(PathBuf),
    /// A workflow id no workflow can have.
    #[error("invalid workflow id `{id}`: {why}")]
    InvalidId {
        /// The id (its start, when it is too long).
        id: String,
        /// What is wrong with it.
        why: String,
    },
    /// An argument that must be JSON is not.
    #[error("argument {argument} is not valid JSON ({source}); quote it for the shell, e.g. '{{\"n\": 1}}'")]
    BadJson {
        /// The argument's name, as `--help` shows it.
        argument: &'static str,
        /// Where the JSON breaks.
        source: serde_json::Error,
    },
    /// Anything else, said in one line.
    #[error("{0}")]
    Other(String),
}

/// The longest workflow id a store accepts, in bytes.
const MAX_ID_BYTES: usize = 1024;

/// Refuses an id no workflow can have (empty, or longer than a store
/// accepts), before the store is opened.
pub(crate) fn check_id(id: &str) -> Result<(), CliError> {
    let why = if id.is_empty() {
        "it is empty".to_owned()
    } else if id.len() > MAX_ID_BYTES {
        format!("it is {} bytes long, more than {MAX_ID_BYTES}", id.len())
    } else {
        return Ok(());
    };
    Err(CliError::InvalidId {
        id: crate::format::clip(&crate::format::one_line(id), 40),
        why,
    })
}
