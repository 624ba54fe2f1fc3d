//! The command line, as `clap` parses it.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// `reprise [--db PATH | --postgres URL] COMMAND ...`
#[derive(Debug, Parser)]
#[command(
    name = "reprise",
    version,
    about = "Operate durable workflows stored by reprise"
)]
pub struct Cli {
    /// The SQLite database file.
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
    /// Serve the web UI on 127.0.0.1.
    Ui {
        /// The port.
        #[arg(long, default_value_t = 8233)]
        port: u16,
    },
}
