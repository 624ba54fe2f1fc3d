//! The commands, one module per concern; each prints its output on
//! standard output and returns the process's exit code.

pub(crate) mod act;
pub(crate) mod describe;
pub(crate) mod history;
pub(crate) mod list;
pub(crate) mod replay_check;
pub(crate) mod schedule;
pub(crate) mod watch;

use std::io::Write as _;

use crate::error::CliError;

/// Prints `text` (which ends with its own newline) on standard output. A
/// reader that went away (`reprise list | head -1`) is not an error.
pub(crate) fn print(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::Other(format!("cannot write the output: {e}")))
        }
        _ => Ok(()),
    }
}

/// Prints a value as pretty JSON, and a newline.
pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Other(format!("cannot encode the output as JSON: {e}")))?;
    print(&format!("{text}\n"))
}
