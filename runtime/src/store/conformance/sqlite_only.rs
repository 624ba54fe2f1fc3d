//! What only the SQLite store has: files, locking, migrations, group commit.

use super::*;
use crate::error::Error;
use crate::store::sqlite::{lock_path, SqliteStore, SqliteSync, SCHEMA_VERSION};

async fn open(db: &TempDb) -> SqliteStore {
    SqliteStore::open(db.path())
        .await
        .expect("opening the database")
}

/// The error of an open that must fail, and its message.
fn open_error(result: Result<SqliteStore, Error>) -> (Error, String) {
    match result {
        Err(e) => {
            let message = e.to_string();
            assert!(!message.contains('\n'), "one line: {message}");
            (e, message)
        }
        Ok(store) => panic!("expected an error, got {store:?}"),
    }
}

/// How messages name the file at `path`: its canonical path.
fn named(path: &Path) -> String {
    format!("`{}`", std::fs::canonicalize(path).unwrap().display())
}

/// Asserts that opening a worker on `path` is refused as in use, naming
/// the canonical path of the file.
async fn assert_in_use(path: &Path) {
    match open_error(SqliteStore::open(path).await) {
        (Error::InUse { path: in_use }, message) => {
            assert_eq!(in_use, std::fs::canonicalize(path).unwrap());
            assert!(
                message.starts_with(&format!("{} is in use by another process", named(path))),
                "{message}"
            );
        }
        (other, _) => panic!("expected `Error::InUse`, got {other:?}"),
    }
}

/// Files made by a test beside its database, removed on drop.
struct Extra(Vec<PathBuf>);

impl Drop for Extra {
    fn drop(&mut self) {
        for path in &self.0 {
            for suffix in ["", "-wal", "-shm", "-journal", "-lock"] {
                let mut name = path.as_os_str().to_owned();
                name.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(name));
            }
        }
    }
}

/// Everything the store shows of its content.
async fn snapshot(store: &dyn Store) -> impl PartialEq + std::fmt::Debug {
    let mut runs = Vec::new();
    for run_id in ["r1", "r2", "r3"] {
        runs.push(store.load_run(run_id).await.unwrap());
    }
    (
        runs,
        store.latest_run("w1").await.unwrap(),
        store.unfinished_runs().await.unwrap(),
        store.tasks(None).await.unwrap(),
        store.inbox().await.unwrap(),
        store.runs("w2").await.unwrap(),
    )
}

#[tokio::test]
async fn reopening_keeps_everything() {
    let db = TempDb::new();
    let store = SqliteStore::open_with(db.path(), SqliteSync::Full)
        .await
        .unwrap();
    for i in 1..=3 {
        create(&store, &format!("w{i}"), &format!("r{i}"), 100 + i).await;
    }
    commit(
        &store,
        vec![
            StepCommit {
                new_tasks: vec![activity("w1", "r1", 1), timer("w1", "r1", 2, u64::MAX >> 1)],
                progress: Some(json!({ "stage": "load" })),
                ..step("r1", 1, 3)
            },
            StepCommit {
                status: status(WorkflowStatus::Completed, Some(json!([1, 2])), None),
                ..step("r2", 1, 1)
            },
            StepCommit {
                status: status(WorkflowStatus::Blocked, None, Some("bad history")),
                ..step("r3", 1, 0)
            },
        ],
    )
    .await
    .unwrap();
    store
        .retry_task(TaskRetry {
            run_id: "r1".to_owned(),
            seq: 1,
            token: 0,
            next_attempt: 3,
            due_ms: 8_000,
            last_error: "Timeout".to_owned(),
        })
        .await
        .unwrap();
    let accepted = store
        .enqueue("w1", signal("go", json!([1])), 9_000)
        .await
        .unwrap();
    let Enqueued::Accepted { id: last_id, .. } = accepted else {
        panic!("expected the message to be accepted, got {accepted:?}");
    };
    store
        .record_heartbeat("r1", 1, 0, json!("beat"), LEASE)
        .await
        .unwrap();
    let before = snapshot(&store).await;
    drop(store);

    let store = open(&db).await;
    assert_eq!(snapshot(&store).await, before);
    // Inbox ids go on growing.
    let accepted = store.enqueue("w1", InboxItem::Cancel, 9_500).await.unwrap();
    assert!(matches!(accepted, Enqueued::Accepted { id, .. } if id > last_id));
    // Writing goes on where it stopped.
    commit(&store, vec![step("r1", 4, 1)]).await.unwrap();
    assert_eq!(history(&store, "r1").await, expected_history("r1", 5));
}

#[tokio::test]
async fn dropping_the_store_writes_what_was_sent() {
    let db = TempDb::new();
    let store = open(&db).await;
    create(&store, "w1", "r1", 100).await;
    // Requests are sent when made: dropping the futures does not withdraw them.
    drop(store.commit_steps(vec![step("r1", 1, 2)]));
    drop(store.create_workflow(new_workflow("w2", "r2", 100)));
    drop(store);

    let store = open(&db).await;
    assert_eq!(history(&store, "r1").await, expected_history("r1", 3));
    assert!(store.latest_run("w2").await.unwrap().is_some());
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused_and_left_untouched() {
    for content in [
        b"hello".to_vec(),
        b"not a database, only some text\n".repeat(300),
    ] {
        let db = TempDb::new();
        std::fs::write(db.path(), &content).unwrap();
        let (error, message) = open_error(SqliteStore::open(db.path()).await);
        let Error::NotADatabase { what, why } = error else {
            panic!("expected `Error::NotADatabase`, got {error:?}");
        };
        assert_eq!(
            (what, why.as_str()),
            (named(db.path()), "it is not a SQLite database")
        );
        let expected = format!("{} is not a reprise database", named(db.path()));
        assert!(message.starts_with(&expected), "{message}");
        assert_eq!(std::fs::read(db.path()).unwrap(), content);
        assert!(!lock_path(db.path()).exists());
    }
}

#[tokio::test]
async fn another_applications_database_is_refused_and_left_untouched() {
    let db = TempDb::new();
    {
        let conn = rusqlite::Connection::open(db.path()).unwrap();
        conn.execute_batch(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
             INSERT INTO notes (body) VALUES ('keep me');",
        )
        .unwrap();
    }
    let content = std::fs::read(db.path()).unwrap();
    let (error, message) = open_error(SqliteStore::open(db.path()).await);
    assert!(matches!(error, Error::NotADatabase { .. }), "{error:?}");
    let expected = format!("{} is not a reprise database", named(db.path()));
    assert!(message.starts_with(&expected), "{message}");
    assert!(message.contains("reprise_meta"), "{message}");
    assert_eq!(std::fs::read(db.path()).unwrap(), content);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let db = TempDb::new();
    drop(open(&db).await);
    let newer = SCHEMA_VERSION + 1;
    {
        let conn = rusqlite::Connection::open(db.path()).unwrap();
        conn.execute(
            "UPDATE reprise_meta SET value = ?1 WHERE key = 'schema_version'",
            [newer.to_string()],
        )
        .unwrap();
    }
    let (error, message) = open_error(SqliteStore::open(db.path()).await);
    let Error::NewerSchema {
        what,
        version,
        supported,
    } = error
    else {
        panic!("expected `Error::NewerSchema`, got {error:?}");
    };
    assert_eq!(
        (what, version, supported),
        (named(db.path()), newer, SCHEMA_VERSION)
    );
    assert!(
        message.contains(&format!("schema version {newer}")),
        "{message}"
    );
    assert!(
        message.contains(&format!("up to {SCHEMA_VERSION}")),
        "{message}"
    );
}

#[tokio::test]
async fn an_empty_file_is_migrated_and_a_missing_folder_is_an_error() {
    let db = TempDb::new();
    std::fs::write(db.path(), b"").unwrap();
    let store = open(&db).await;
    create(&store, "w1", "r1", 100).await;
    drop(store);
    let store = open(&db).await;
    assert_eq!(history(&store, "r1").await, vec![started("r1")]);

    let missing = std::env::temp_dir()
        .join(format!("reprise-missing-{}", uuid::Uuid::new_v4()))
        .join("x.db");
    match SqliteStore::open(&missing).await {
        Err(Error::Store(e)) => assert_eq!(e.operation(), "opening the SQLite database"),
        other => panic!("expected a store error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_second_open_is_refused_while_the_first_lives() {
    let db = TempDb::new();
    let first = open(&db).await;
    assert_in_use(db.path()).await;
    drop(first);
    let second = open(&db).await;
    create(&second, "w1", "r1", 100).await;
}

/// The same file by other names: a symbolic link, a link to a link, a
/// relative path, a hard link (where the file itself is locked). A
/// client (`exclusive` false) opens it by any name beside the worker.
#[cfg(unix)]
#[tokio::test]
async fn a_second_worker_is_refused_by_any_name_of_the_file() {
    let db = TempDb::new();
    let first = open(&db).await;
    create(&first, "w1", "r1", 100).await;
    let link = db.path().with_extension("symlink.db");
    let link_to_link = db.path().with_extension("symlink2.db");
    let hard = db.path().with_extension("hardlink.db");
    let _extra = Extra(vec![link.clone(), link_to_link.clone(), hard.clone()]);
    std::os::unix::fs::symlink(db.path().file_name().unwrap(), &link).unwrap();
    std::os::unix::fs::symlink(&link, &link_to_link).unwrap();
    assert_in_use(&link).await;
    assert_in_use(&link_to_link).await;

    // A relative path from the current folder, whatever it is.
    let cwd = std::env::current_dir().unwrap();
    let mut relative = PathBuf::new();
    for _ in cwd.components().skip(1) {
        relative.push("..");
    }
    relative.push(db.path().strip_prefix("/").unwrap());
    assert!(relative.is_relative());
    assert_in_use(&relative).await;

    let client = SqliteStore::open_as(&link_to_link, SqliteSync::Normal, false)
        .await
        .unwrap();
    assert!(client.latest_run("w1").await.unwrap().is_some());
    // The client's writes are the worker's: one file, one WAL.
    create(&client, "w2", "r2", 100).await;
    assert!(first.latest_run("w2").await.unwrap().is_some());
    assert!(!lock_path(&link).exists());

    if cfg!(target_os = "linux") {
        std::fs::hard_link(db.path(), &hard).unwrap();
        assert_in_use(&hard).await;
    }
    drop(client);
    drop(first);
    let second = open(&db).await;
    assert!(second.latest_run("w2").await.unwrap().is_some());
    drop(second);
    // A worker by another name, once the first is gone.
    drop(SqliteStore::open(&link).await.unwrap());
}

/// A reprise that locks only `<path>-lock` (before the file itself was
/// locked) and this one refuse each other.
#[tokio::test]
async fn the_lock_file_of_older_versions_is_still_taken_and_honoured() {
    let db = TempDb::new();
    drop(open(&db).await);
    let older = std::fs::File::create(lock_path(db.path())).unwrap();
    older.try_lock().unwrap();
    assert_in_use(db.path()).await;
    drop(older);

    let store = open(&db).await;
    let older = std::fs::File::create(lock_path(db.path())).unwrap();
    assert!(matches!(
        older.try_lock(),
        Err(std::fs::TryLockError::WouldBlock)
    ));
    drop(store);
    older.try_lock().unwrap();
}

/// A symbolic link to a file that does not exist yet creates the file it
/// points to, and the worker lock is that file's.
#[cfg(unix)]
#[tokio::test]
async fn a_link_to_a_missing_file_creates_the_file_it_points_to() {
    let db = TempDb::new();
    let link = db.path().with_extension("dangling.db");
    let _extra = Extra(vec![link.clone()]);
    std::os::unix::fs::symlink(db.path(), &link).unwrap();
    assert!(!db.path().exists());
    let store = SqliteStore::open(&link).await.unwrap();
    assert!(db.path().exists());
    assert!(lock_path(db.path()).exists());
    assert!(!lock_path(&link).exists());
    assert_in_use(db.path()).await;
    drop(store);
}

#[tokio::test]
async fn corrupt_rows_are_errors_naming_the_row_not_panics() {
    let db = TempDb::new();
    let store = open(&db).await;
    for i in 1..=3 {
        let (w, r) = (format!("w{i}"), format!("r{i}"));
        create(&store, &w, &r, 100).await;
        commit(
            &store,
            vec![StepCommit {
                new_tasks: vec![activity(&w, &r, 1), activity(&w, &r, 2)],
                ..step(&r, 1, 1)
            }],
        )
        .await
        .unwrap();
    }
    let conn = rusqlite::Connection::open(db.path()).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.execute_batch(
        "UPDATE runs SET status = 'paused' WHERE run_id = 'r1';
         UPDATE runs SET created_ms = 'yesterday' WHERE run_id = 'r2';
         UPDATE tasks SET options = '{bad' WHERE run_id = 'r2' AND seq = 1;
         UPDATE history SET event = 'garbage' WHERE run_id = 'r3' AND idx = 1;
         INSERT INTO inbox (workflow_id, kind, payload, created_ms) VALUES
             ('w3', 'signal', '{\"name\":\"a\",\"payload\":1}', 1),
             ('w3', 'bogus', 'null', 2),
             ('w3', 'signal', '{\"nom\":\"b\"}', 3),
             ('w3', 'cancel', 'null', 4);",
    )
    .unwrap();

    let error = store.load_run("r1").await.unwrap_err();
    let message = error.to_string();
    assert!(!error.is_retryable());
    for part in ["`runs`", "run_id `r1`", "`status`", "`paused`"] {
        assert!(message.contains(part), "{part} not in {message}");
    }
    assert!(store.latest_run("w1").await.is_err());
    let error = store
        .create_workflow(new_workflow("w1", "r9", 5))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("`paused`"), "{error}");
    let error = store.load_run("r2").await.unwrap_err().to_string();
    assert!(
        error.contains("`created_ms`") && error.contains("yesterday"),
        "{error}"
    );

    let error = store.tasks(Some("r2")).await.unwrap_err().to_string();
    for part in ["`tasks`", "run_id `r2`, seq 1", "`options`", "{bad"] {
        assert!(error.contains(part), "{part} not in {error}");
    }

    // Listing every run skips the bad rows.
    let runs = store.unfinished_runs().await.unwrap();
    assert_eq!(
        runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
        ["r3"]
    );
    let tasks = store.tasks(None).await.unwrap();
    assert_eq!(
        task_keys(&tasks),
        vec![("r1", 1), ("r1", 2), ("r2", 2), ("r3", 1), ("r3", 2)]
    );

    let inbox = store.inbox().await.unwrap();
    assert_eq!(
        inbox.into_iter().map(|m| m.item).collect::<Vec<_>>(),
        vec![signal("a", json!(1)), InboxItem::Cancel]
    );

    // History rows come back as stored: decoding them is the engine's job.
    let rows = store.load_run("r3").await.unwrap().unwrap().1;
    assert_eq!(rows[1], (1, "garbage".to_owned()));
    // Writes go on.
    commit(&store, vec![step("r1", 2, 1)]).await.unwrap();
}

/// Requests queued behind a busy writer (starts, inbox messages,
/// heartbeats, retries) share one transaction. Workflow steps are not
/// queued: the executor hands each batch of them to `commit_steps`, which
/// writes it at once, in the caller's thread.
#[tokio::test]
async fn queued_requests_share_one_transaction() {
    let db = TempDb::new();
    let store = open(&db).await;
    for i in 0..20 {
        create(&store, &format!("w{i}"), &format!("r{i}"), 100).await;
    }
    let steps = (0..20)
        .map(|i| {
            let run_id = format!("r{i}");
            StepCommit {
                new_tasks: vec![activity(&format!("w{i}"), &run_id, 1)],
                ..step(&run_id, 1, 2)
            }
        })
        .collect();
    let before = store.transactions();
    let results = store.commit_steps(steps).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        store.transactions() - before,
        1,
        "one batch of steps, one transaction"
    );

    // Hold the write lock from another connection: the writer blocks on
    // the first request while the others queue behind it.
    let blocker = rusqlite::Connection::open(db.path()).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let before = store.transactions();
    let created: Vec<_> = (0..10)
        .map(|i| {
            store.create_workflow(new_workflow(
                &format!("w-new{i}"),
                &format!("r-new{i}"),
                100,
            ))
        })
        .collect();
    let enqueued = store.enqueue("w4", InboxItem::Cancel, 100);
    let beat = store.record_heartbeat("r5", 1, 0, json!("beat"), LEASE);
    let retried = store.retry_task(TaskRetry {
        run_id: "r3".to_owned(),
        seq: 1,
        token: 0,
        next_attempt: 2,
        due_ms: 9_000,
        last_error: "x".to_owned(),
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    blocker.execute_batch("ROLLBACK").unwrap();

    for created in futures_util::future::join_all(created).await {
        assert_eq!(created.unwrap(), Created::New { token: 0 });
    }
    retried.await.unwrap();
    assert!(matches!(enqueued.await.unwrap(), Enqueued::Accepted { .. }));
    beat.await.unwrap();
    assert!(
        store.transactions() - before <= 2,
        "{} transactions",
        store.transactions() - before
    );
    for i in 0..20 {
        let run_id = format!("r{i}");
        assert_eq!(history(&store, &run_id).await, expected_history(&run_id, 3));
    }
    let r3 = store.tasks(Some("r3")).await.unwrap();
    assert_eq!((r3[0].attempt, r3[0].due_ms), (2, 9_000));
    assert_eq!(store.tasks(None).await.unwrap().len(), 20);
    let r5 = store.tasks(Some("r5")).await.unwrap();
    assert_eq!(r5[0].details, Some(json!("beat")));
    assert_eq!(store.inbox().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commits_all_land() {
    const WORKFLOWS: usize = 16;
    const STEPS: u64 = 25;
    let db = TempDb::new();
    let store = std::sync::Arc::new(open(&db).await);
    let mut handles = Vec::new();
    for i in 0..WORKFLOWS {
        let store = std::sync::Arc::clone(&store);
        handles.push(tokio::spawn(async move {
            let (w, r) = (format!("w{i}"), format!("r{i}"));
            create(&*store, &w, &r, 100).await;
            let mut len = 1;
            for n in 0..STEPS {
                let seq = u32::try_from(n).unwrap();
                commit(
                    &*store,
                    vec![StepCommit {
                        done_tasks: seq.checked_sub(1).into_iter().collect(),
                        new_tasks: vec![activity(&w, &r, seq)],
                        ..step(&r, len, 2)
                    }],
                )
                .await
                .unwrap();
                len += 2;
                // Reads see every committed write while others go on.
                let (_, rows) = store.load_run(&r).await.unwrap().unwrap();
                assert_eq!(rows.len() as u64, len);
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    for i in 0..WORKFLOWS {
        let r = format!("r{i}");
        assert_eq!(
            history(&*store, &r).await,
            expected_history(&r, 1 + 2 * STEPS)
        );
        let tasks = store.tasks(Some(&r)).await.unwrap();
        assert_eq!(task_keys(&tasks), vec![(r.as_str(), STEPS as u32 - 1)]);
    }
    assert_eq!(store.unfinished_runs().await.unwrap().len(), WORKFLOWS);
}
