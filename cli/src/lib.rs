//! The `reprise` command over a store of durable workflows (SQLite or
//! PostgreSQL): list and describe workflows, print a history, watch a
//! workflow's progress, signal, cancel, terminate and resume, and serve a
//! web UI (`reprise ui`). `docs/OPERATING.md` is the manual.
//!
//! The library half serves programs that embed the same views: [`watch`]
//! draws a workflow's live progress bar (the examples use it).

#![deny(missing_docs)]

mod args;
mod error;
mod open;
mod timeline;
mod ui;
pub mod watch;

use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command};
pub use error::CliError;

/// Parses the command line, runs the command, and turns an error into one
/// line on standard error and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("reprise: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reprise: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command.
///
/// # Errors
///
/// Whatever the command fails with, as one line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let rt = open::open(&cli).await?;
    match cli.command {
        Command::Ui { port } => ui::serve(rt, port).await,
    }
}
