//! Property tests of the decoders of stored data: history events, inbox
//! payloads, and the rows of the SQLite and PostgreSQL stores, fed arbitrary
//! bytes, arbitrary JSON and valid records with parts replaced by arbitrary
//! JSON. A decoder never panics: it decodes, or returns a typed error that
//! names the row (and for store rows the table, key and column).
//!
//! Each property checks the decoder against an oracle written here (which
//! row and column must be named first), not only the absence of panics.
//!
//! Case counts are moderate by default so that `cargo test` stays fast. The
//! long mode takes them from `REPRISE_FUZZ_CASES`: the pure properties run
//! that many cases each, the SQLite ones a thousandth of it and the
//! PostgreSQL one a ten-thousandth (at least their defaults), e.g.
//!
//! ```text
//! REPRISE_FUZZ_CASES=1000000 cargo test --release -p reprise --features postgres decode_fuzz
//! ```

use std::fmt::Debug;
use std::path::PathBuf;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::strategy::Union;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::ToSql;
use serde_json::{Map, Number, Value};

use crate::command::MarkerKind;
use crate::definition::{ActivityOptions, Rate};
use crate::error::{FailureData, WorkflowError};
use crate::history::{Event, HistoryError, RecordedHistory, SignalData};
use crate::retry::RetryPolicy;
use crate::store::sqlite::SqliteStore;
use crate::store::{InboxItem, InboxRecord, Store, TaskKind, WorkflowStatus};

mod history;
mod inbox;
mod postgres;
mod regressions;
mod sqlite;
mod strategies;

#[allow(unused_imports)] // each part uses some of the others
use self::{history::*, inbox::*, sqlite::*, strategies::*};

// ---------------------------------------------------------------------------
// Case counts and the runner

/// The environment variable of the long mode.
const CASES_ENV: &str = "REPRISE_FUZZ_CASES";

/// Cases of a property: `REPRISE_FUZZ_CASES`, or `default`.
fn cases(default: u32) -> u32 {
    std::env::var(CASES_ENV)
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(default)
}

/// Cases of a property that writes to a database: `REPRISE_FUZZ_CASES`
/// divided by `divisor` (at least `default`), or `default`.
fn db_cases(default: u32, divisor: u32) -> u32 {
    match std::env::var(CASES_ENV)
        .ok()
        .and_then(|n| n.trim().parse::<u32>().ok())
    {
        Some(n) => (n / divisor).max(default),
        None => default,
    }
}

/// Runs `test` on `cases` values of `strategy`, without failure files;
/// a failure (or panic) is shrunk and reported with its minimal input.
fn check<S>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2048,
        ..Config::default()
    };
    let started = std::time::Instant::now();
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&strategy, test) {
        panic!("property `{name}` failed: {e}");
    }
    eprintln!(
        "decode_fuzz: `{name}`: {cases} cases in {:.2?}",
        started.elapsed()
    );
}

/// At most 100 characters of `s`, as the stores clip values in messages.
fn clip(s: &str) -> String {
    match s.char_indices().nth(100) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

/// Longest error message a decoder may return: errors end up in logs and in
/// a failed run's stored error, so a huge stored value must not be copied
/// into them whole.
const MAX_MESSAGE_CHARS: usize = 2_000;

fn bounded(message: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        message.chars().count() <= MAX_MESSAGE_CHARS,
        "message of {} characters: {}…",
        message.chars().count(),
        clip(message)
    );
    Ok(())
}
