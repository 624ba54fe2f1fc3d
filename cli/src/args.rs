//! The command line, as `clap` parses it.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use reprise::{PageToken, WorkflowStatus};

/// `reprise [--db PATH | --postgres URL] COMMAND ...`
#[derive(Debug, Parser)]
#[command(
    name = "reprise",
    version,
    about = "Operate durable workflows stored by reprise",
    after_help = "The manual, with every command's output: docs/OPERATING.md"
)]
pub struct Cli {
    /// The SQLite database file (never created: it must exist).
    #[arg(long, global = true, env = "REPRISE_DB", default_value = "reprise.db")]
    pub db: PathBuf,
    /// A PostgreSQL URL (`postgres://user@host/db`); takes precedence over `--db`.
    #[arg(long, global = true, env = "REPRISE_POSTGRES")]
    pub postgres: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List workflows (their latest runs), newest first, one page at a time.
    List {
        /// Only this status: running, blocked, completed, failed, cancelled,
        /// terminated.
        #[arg(long, value_name = "STATUS", value_parser = parse_status)]
        status: Option<WorkflowStatus>,
        /// Only workflows of this type (the `#[workflow]`'s name).
        #[arg(long, value_name = "TYPE")]
        name: Option<String>,
        /// Only workflows started within this long (`30m`, `2h`, `1day`).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        since: Option<Duration>,
        /// At most this many workflows a page (1 to 1000).
        #[arg(long, value_name = "N", default_value_t = 50,
              value_parser = clap::value_parser!(u64).range(1..=1000))]
        limit: u64,
        /// The page after the one whose last line gave this token.
        #[arg(long, value_name = "TOKEN", value_parser = parse_page)]
        page: Option<PageToken>,
        /// Print one JSON document: `{"workflows": [...], "next_page": ...}`.
        #[arg(long)]
        json: bool,
    },
    /// Show a workflow: status, error, progress, runs, pending steps, result.
    Describe {
        /// The workflow id.
        id: String,
        /// Print it as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Print the event history of a workflow's latest run (or of `--run`).
    History {
        /// The workflow id.
        id: String,
        /// The run's id (see `describe`); default: the latest run.
        #[arg(long, value_name = "RUN_ID")]
        run: Option<String>,
        /// Print the history as JSON, exactly as `Runtime::history` returns it.
        #[arg(long)]
        json: bool,
    },
    /// Draw a live progress bar until the workflow ends; exit code 0 when
    /// it completed, 1 when it failed, was cancelled or terminated, or is blocked.
    Watch {
        /// The workflow id.
        id: String,
    },
    /// Send a signal to a workflow.
    Signal {
        /// The workflow id.
        id: String,
        /// The signal's name (`#[signal(name = ..)]`, or its type's name).
        name: String,
        /// The payload, as JSON (default: `null`).
        #[arg(value_name = "JSON")]
        payload: Option<String>,
    },
    /// Ask a workflow to cancel: its pending activity calls fail as cancelled.
    Cancel {
        /// The workflow id.
        id: String,
    },
    /// End a workflow now, without running more of its code.
    Terminate {
        /// The workflow id.
        id: String,
        /// Why (recorded in its history).
        #[arg(
            long,
            value_name = "R",
            default_value = "terminated from the command line"
        )]
        reason: String,
    },
    /// Retry a blocked workflow now (after deploying fixed code).
    Resume {
        /// The workflow id.
        id: String,
    },
    /// Replay every open run against this binary's workflow code; exit code 1 if any diverges.
    ///
    /// One line per open run: `ok`, `DIVERGED: <why>` or `not registered
    /// here`. It needs an operator binary that registers the workflows
    /// (`reprise_cli::main_with`); the plain `reprise` has no workflow code
    /// and refuses with exit code 2.
    ReplayCheck {
        /// Print the report as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// List, pause, unpause, trigger or delete schedules (`Runtime::schedule`).
    Schedule {
        /// What to do.
        #[command(subcommand)]
        action: ScheduleCommand,
    },
    /// Serve the web UI on 127.0.0.1.
    Ui {
        /// The port.
        #[arg(long, default_value_t = 8233)]
        port: u16,
    },
}

/// `reprise schedule ...`.
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// List every schedule: cron, workflow, policy, next tick, latest runs.
    List {
        /// Print one JSON document: `{"schedules": [...]}`.
        #[arg(long)]
        json: bool,
    },
    /// Pause a schedule: no tick fires until it is unpaused.
    Pause {
        /// The schedule id.
        id: String,
    },
    /// Unpause a schedule; it fires from its next tick on.
    Unpause {
        /// The schedule id.
        id: String,
    },
    /// Start a run of a schedule now, under its overlap policy.
    Trigger {
        /// The schedule id.
        id: String,
    },
    /// Delete a schedule; its runs stay.
    Delete {
        /// The schedule id.
        id: String,
    },
}

fn parse_status(s: &str) -> Result<WorkflowStatus, String> {
    s.parse::<WorkflowStatus>().map_err(|e| e.to_string())
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (try `30m`, `2h` or `1day`)"))
}

fn parse_page(s: &str) -> Result<PageToken, String> {
    s.parse::<PageToken>().map_err(|e| e.to_string())
}
