//! The `reprise` command over a store of durable workflows (SQLite or
//! PostgreSQL): list and describe workflows, print a history, watch a
//! workflow's progress, signal, cancel, terminate and resume, and serve a
//! web UI (`reprise ui`). `docs/OPERATING.md` is the manual.
//!
//! The library half serves programs that embed the same views: [`watch`]
//! draws a workflow's live progress bar (the examples use it).
//!
//! [`main_with`] makes the same command an operator binary of your own,
//! with your workflow types registered: its `replay-check` replays every
//! open run against their current code before a deploy.
//!
//! Exit codes: 0 on success; 1 when a command fails (one line on standard
//! error, starting `reprise: `), for `reprise watch` when the workflow did
//! not complete, and for `replay-check` when a run diverges; 2 when the
//! command line is wrong, and for `replay-check` in a binary without
//! workflow code (the plain `reprise`).

#![deny(missing_docs)]

mod args;
mod commands;
mod error;
mod format;
mod open;
mod pending;
mod progress;
mod timeline;
mod ui;
pub mod watch;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use reprise::RuntimeBuilder;

pub use args::{Cli, Command, ScheduleCommand};
pub use error::CliError;

use commands::list::ListArgs;

/// Parses the command line, runs the command, and turns an error into one
/// line on standard error and exit code 1 (2 for a wrong command line).
pub fn main() -> ExitCode {
    main_inner(None::<fn(RuntimeBuilder) -> RuntimeBuilder>)
}

/// [`main`] for an operator binary of your own: the `reprise` command with
/// your workflow types registered, so that `replay-check` replays the open
/// runs against their current code (and `signal` checks names and
/// payloads against their signal types). `register` gets the builder of
/// the client runtime the command opens (the store and `worker(false)` are
/// set after it); activities and resources are not needed, since nothing
/// runs.
///
/// ```no_run
/// use std::process::ExitCode;
/// use reprise::prelude::*;
///
/// #[workflow]
/// async fn etl(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
///     Ok(n)
/// }
///
/// fn main() -> ExitCode {
///     // `operator replay-check` before a deploy; every other command too.
///     reprise_cli::main_with(|builder| builder.workflow(etl))
/// }
/// ```
pub fn main_with(register: impl FnOnce(RuntimeBuilder) -> RuntimeBuilder) -> ExitCode {
    main_inner(Some(register))
}

fn main_inner(register: Option<impl FnOnce(RuntimeBuilder) -> RuntimeBuilder>) -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("reprise: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run_inner(cli, register)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("reprise: {}", format::one_line(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}

/// Prints clap's help or version (exit code 0), or the first paragraph of
/// its error as one line with a hint (exit code 2).
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        // `reprise` alone: the help, as a usage error.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return ExitCode::from(2);
        }
        _ => {}
    }
    let rendered = e.render().to_string();
    let first: Vec<&str> = rendered
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect();
    let command = subcommand_named().map_or(String::new(), |name| format!(" {name}"));
    eprintln!(
        "reprise: {}; try 'reprise{command} --help'",
        format::one_line(&first.join(" "))
    );
    ExitCode::from(2)
}

/// The first argument that names a subcommand, for the hint of a usage error.
fn subcommand_named() -> Option<String> {
    let command = Cli::command();
    std::env::args().skip(1).find(|arg| {
        command
            .get_subcommands()
            .any(|sub| sub.get_name() == arg.as_str())
    })
}

/// Runs one command; returns the process's exit code.
///
/// # Errors
///
/// Whatever the command fails with, as one line.
pub async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    run_inner(cli, None::<fn(RuntimeBuilder) -> RuntimeBuilder>).await
}

/// [`run`] with workflow types registered, as [`main_with`] does.
///
/// # Errors
///
/// Whatever the command fails with, as one line.
pub async fn run_with(
    cli: Cli,
    register: impl FnOnce(RuntimeBuilder) -> RuntimeBuilder,
) -> Result<ExitCode, CliError> {
    run_inner(cli, Some(register)).await
}

async fn run_inner(
    cli: Cli,
    register: Option<impl FnOnce(RuntimeBuilder) -> RuntimeBuilder>,
) -> Result<ExitCode, CliError> {
    if matches!(cli.command, Command::ReplayCheck { .. }) && register.is_none() {
        eprintln!("reprise: {}", commands::replay_check::NEEDS_CODE);
        return Ok(ExitCode::from(2));
    }
    // What can be refused without the store is refused first.
    let payload = match &cli.command {
        Command::Signal { payload, .. } => commands::act::payload(payload.as_deref())?,
        _ => serde_json::Value::Null,
    };
    match &cli.command {
        Command::Describe { id, .. }
        | Command::History { id, .. }
        | Command::Watch { id }
        | Command::Signal { id, .. }
        | Command::Cancel { id }
        | Command::Terminate { id, .. }
        | Command::Resume { id } => error::check_id(id)?,
        Command::List { .. }
        | Command::Ui { .. }
        | Command::ReplayCheck { .. }
        | Command::Schedule { .. } => {}
    }
    let rt = open::open(&cli, register).await?;
    let success = |()| ExitCode::SUCCESS;
    let code = match cli.command {
        Command::List {
            status,
            name,
            since,
            limit,
            page,
            json,
        } => {
            let args = ListArgs {
                status,
                name,
                since,
                limit,
                page,
                json,
            };
            commands::list::run(&rt, &args).await.map(success)
        }
        Command::Describe { id, json } => {
            commands::describe::run(&rt, &id, json).await.map(success)
        }
        Command::History { id, run, json } => {
            commands::history::run(&rt, &id, run.as_deref(), json)
                .await
                .map(success)
        }
        Command::Watch { id } => commands::watch::run(&rt, &id).await,
        Command::Signal { id, name, .. } => commands::act::signal(&rt, &id, &name, payload)
            .await
            .map(success),
        Command::Cancel { id } => commands::act::cancel(&rt, &id).await.map(success),
        Command::Terminate { id, reason } => commands::act::terminate(&rt, &id, &reason)
            .await
            .map(success),
        Command::Resume { id } => commands::act::resume(&rt, &id).await.map(success),
        Command::ReplayCheck { json } => commands::replay_check::run(&rt, json).await,
        Command::Schedule { action } => commands::schedule::run(&rt, &action).await.map(success),
        Command::Ui { port } => ui::serve(rt, port).await.map(success),
    };
    code
}
