//! What a command fails with: printed as one line, exit code 1.

use std::path::PathBuf;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The runtime refused or failed (unknown id, store error, ...).
    #[error(transparent)]
    Reprise(#[from] reprise::Error),
    /// `--db` names no file.
    #[error("no database at `{}`: pass --db PATH (or set REPRISE_DB), or --postgres URL", .0.display())]
    NoDatabase(PathBuf),
    /// Anything else, said in one line.
    #[error("{0}")]
    Other(String),
}
