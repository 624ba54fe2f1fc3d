//! Unit tests of the SQLite store's parts; the store's behaviour is tested
//! in the conformance suite (`store/conformance/`).

use super::errors::is_retryable;
use super::rows::{clip, int};
use super::*;
use crate::store::WorkflowStatus;

#[test]
fn busy_and_locked_are_retryable() {
    let failure = |code| rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
    assert!(is_retryable(&failure(rusqlite::ffi::SQLITE_BUSY)));
    assert!(is_retryable(&failure(rusqlite::ffi::SQLITE_LOCKED)));
    assert!(!is_retryable(&failure(rusqlite::ffi::SQLITE_CORRUPT)));
    assert!(!is_retryable(&rusqlite::Error::QueryReturnedNoRows));
    let e = store_error(COMMIT, "run `r`", failure(rusqlite::ffi::SQLITE_BUSY));
    assert!(e.is_retryable());
    assert_eq!(e.operation(), COMMIT);
    assert!(e.to_string().contains("run `r`"), "{e}");
}

#[test]
fn the_unfinished_statuses_are_those_the_index_lists() {
    for status in WorkflowStatus::ALL {
        let listed = !status.is_finished();
        let quoted = format!("'{}'", status.as_str());
        assert_eq!(SELECT_UNFINISHED.contains(&quoted), listed, "{status:?}");
        assert_eq!(
            schema::MIGRATIONS[0].contains(&quoted),
            listed,
            "{status:?}"
        );
    }
}

#[test]
fn large_integers_saturate() {
    assert_eq!(int(5), 5);
    assert_eq!(int(u64::MAX), i64::MAX);
}

#[test]
fn clip_keeps_short_strings_and_cuts_long_ones() {
    assert_eq!(clip("abc"), "abc");
    let long = "é".repeat(150);
    assert_eq!(clip(&long).chars().count(), 101);
}

#[test]
fn lock_path_is_a_sibling() {
    assert_eq!(
        lock_path(Path::new("/tmp/x/reprise.db")),
        PathBuf::from("/tmp/x/reprise.db-lock")
    );
}
