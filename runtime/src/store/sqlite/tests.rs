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

#[test]
fn canonical_paths_resolve_links_and_relative_paths_of_missing_files() {
    let dir = std::env::temp_dir().join(format!("reprise-canonical-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("real")).unwrap();
    let real = std::fs::canonicalize(dir.join("real")).unwrap();
    let check = || {
        // A missing file: its folder's canonical path and its name.
        assert_eq!(
            lock::canonical(&dir.join("real/../real/./new.db")).unwrap(),
            real.join("new.db")
        );
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            lock::canonical(Path::new("no-such-file.db")).unwrap(),
            std::fs::canonicalize(cwd).unwrap().join("no-such-file.db")
        );
        // An existing file.
        std::fs::write(real.join("x.db"), b"").unwrap();
        assert_eq!(
            lock::canonical(&dir.join("real/x.db")).unwrap(),
            real.join("x.db")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            // A folder link, a file link, a link (relative) to a missing file,
            // through a link to a link.
            symlink(&real, dir.join("folder")).unwrap();
            symlink("real/x.db", dir.join("x-link.db")).unwrap();
            symlink("real/later.db", dir.join("later-link.db")).unwrap();
            symlink("later-link.db", dir.join("later-link2.db")).unwrap();
            assert_eq!(
                lock::canonical(&dir.join("folder/x.db")).unwrap(),
                real.join("x.db")
            );
            assert_eq!(
                lock::canonical(&dir.join("folder/y.db")).unwrap(),
                real.join("y.db")
            );
            assert_eq!(
                lock::canonical(&dir.join("x-link.db")).unwrap(),
                real.join("x.db")
            );
            assert_eq!(
                lock::canonical(&dir.join("later-link2.db")).unwrap(),
                real.join("later.db")
            );
            // A loop of links is an error, not a hang.
            symlink("loop-b.db", dir.join("loop-a.db")).unwrap();
            symlink("loop-a.db", dir.join("loop-b.db")).unwrap();
            assert!(lock::canonical(&dir.join("loop-a.db")).is_err());
        }
        // A missing folder is an error of opening.
        match lock::canonical(&dir.join("missing/x.db")) {
            Err(Error::Store(e)) => {
                assert_eq!(e.operation(), OPEN);
                assert!(e.to_string().contains("missing/x.db"), "{e}");
            }
            other => panic!("expected a store error, got {other:?}"),
        }
    };
    let result = std::panic::catch_unwind(check);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
