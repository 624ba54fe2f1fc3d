//! The `reprise` command, run as a subprocess against stores that the
//! tests fill with known workflows (a worker runtime in the test process
//! runs them on the same SQLite file, as a worker would beside the CLI).

// Test helpers and workflows are `pub` for the modules of this binary.
#![allow(unreachable_pub)]

#[path = "../common/mod.rs"]
mod common;

mod act;
mod describe;
mod errors;
mod flows;
mod history;
mod list;
mod postgres;
mod replay_check;
mod schedule;
mod watch;
