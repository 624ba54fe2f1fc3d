//! Tests of what only the PostgreSQL store has: opening (URLs, refusals,
//! concurrent migrations), the listener, connection loss, and the claims
//! and fencing against a real server. The Store semantics shared by every
//! store are the conformance suite's.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::sql::CLAIM_RUNS_SQL;
use super::testing::{client, test_database, test_store, with_database};
use super::*;
use crate::definition::ActivityOptions;
use crate::history::SignalData;
use crate::store::{NewRun, StatusChange, TaskKind, WorkflowStatus};

// ---------------------------------------------------------------------------
// Helpers

fn lease(worker: &str, ms: u64) -> Lease {
    Lease {
        worker: worker.to_owned(),
        duration: Duration::from_millis(ms),
    }
}

fn names() -> Vec<String> {
    vec!["etl".to_owned()]
}

fn filter(names: &[String], limit: usize) -> ClaimFilter<'_> {
    ClaimFilter {
        names,
        limit,
        horizon_ms: 0,
    }
}

fn new_workflow(workflow_id: &str, run_id: &str, owner: Option<&Lease>) -> NewWorkflow {
    NewWorkflow {
        workflow_id: workflow_id.to_owned(),
        run_id: run_id.to_owned(),
        name: "etl".to_owned(),
        started_event: format!(r#"{{"type":"WorkflowStarted","run":"{run_id}"}}"#),
        now_ms: 1_000,
        owner: owner.map(|lease| Arc::new(lease.clone())),
    }
}

async fn create(store: &PostgresStore, workflow_id: &str, run_id: &str) {
    let created = store
        .create_workflow(new_workflow(workflow_id, run_id, None))
        .await
        .expect("create");
    assert_eq!(created, Created::New { token: 0 });
}

fn activity(workflow_id: &str, run_id: &str, seq: u32) -> Task {
    Task {
        workflow_id: workflow_id.to_owned(),
        run_id: run_id.to_owned(),
        seq,
        kind: TaskKind::Activity,
        name: "fetch".to_owned(),
        input: json!({ "seq": seq }),
        options: ActivityOptions::default(),
        attempt: 1,
        scheduled_ms: 1_000,
        due_ms: 0,
        last_error: None,
        details: None,
        token: 0,
    }
}

fn step(run_id: &str, token: Token, first_index: u64, events: usize) -> StepCommit {
    StepCommit {
        run_id: run_id.to_owned(),
        token,
        first_index,
        events: (0..events)
            .map(|i| format!(r#"{{"type":"Marker","index":{}}}"#, first_index + i as u64))
            .collect(),
        now_ms: 2_000,
        ..StepCommit::default()
    }
}

async fn commit(store: &PostgresStore, step: StepCommit) -> Result<(), StoreError> {
    let mut results = store.commit_steps(vec![step]).await;
    assert_eq!(results.len(), 1);
    results.remove(0)
}

fn signal(name: &str) -> InboxItem {
    InboxItem::Signal(SignalData {
        name: name.to_owned(),
        payload: json!(1),
    })
}

fn config_error(result: Result<PostgresStore, Error>) -> String {
    match result {
        Err(Error::Config(message)) => message,
        Err(other) => panic!("expected a configuration error, got {other:?}"),
        Ok(store) => panic!("expected a configuration error, got {store:?}"),
    }
}

/// Terminates every other connection to the database of `url`.
async fn terminate_connections(url: &str) -> u64 {
    let admin = client(url).await;
    let rows = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .expect("terminate");
    rows.len() as u64
}

async fn schema_version(url: &str) -> String {
    client(url)
        .await
        .query_one(
            "SELECT value FROM reprise_meta WHERE key = 'schema_version'",
            &[],
        )
        .await
        .expect("version")
        .get(0)
}

/// The tables and sequences of the database, with their row counts where
/// they are tables: to see that a refusing open changed nothing.
async fn snapshot(url: &str) -> Vec<(String, String)> {
    let admin = client(url).await;
    let rows = admin
        .query(
            "SELECT c.relname::text, c.relkind::text FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' ORDER BY 1",
            &[],
        )
        .await
        .expect("pg_class");
    let mut out = Vec::new();
    for row in rows {
        let name: String = row.get(0);
        let kind: String = row.get(1);
        let content = if kind == "r" {
            let rows = admin
                .query(&format!("SELECT * FROM {name}"), &[])
                .await
                .expect("rows");
            let mut values: Vec<String> = rows
                .iter()
                .map(|row| {
                    (0..row.len())
                        .map(|i| {
                            row.try_get::<_, Option<String>>(i)
                                .ok()
                                .flatten()
                                .or_else(|| {
                                    row.try_get::<_, Option<i64>>(i)
                                        .ok()
                                        .flatten()
                                        .map(|n| n.to_string())
                                })
                                .unwrap_or_default()
                        })
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect();
            values.sort();
            values.join(";")
        } else {
            kind
        };
        out.push((name, content));
    }
    out
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

// ---------------------------------------------------------------------------
// Without a server

#[test]
fn urls_are_redacted_and_retargeted() {
    let config =
        PostgresConfig::new("postgres://etl:s3cret@db.internal:5433/pipelines?sslmode=disable");
    let debug = format!("{config:?}");
    assert!(!debug.contains("s3cret"), "{debug}");
    assert!(debug.contains("db.internal:5433"), "{debug}");
    let debug = format!(
        "{:?}",
        PostgresConfig::new("host=db password=s3cret user=etl")
    );
    assert!(!debug.contains("s3cret"), "{debug}");
    let debug = format!(
        "{:?}",
        PostgresConfig::new("postgres://etl@db/x?password=s3cret")
    );
    assert!(!debug.contains("s3cret"), "{debug}");
    assert_eq!(
        url_secrets("postgres://etl:s%33cret@db/x"),
        vec!["s%33cret".to_owned(), "s3cret".to_owned()]
    );
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
        "postgres://postgres@127.0.0.1:5432/t1"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "t2"),
        "postgres://u:p@h/t2?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "t3"), "postgres://h/t3");
    assert_eq!(scrub("a s3cret b", &["s3cret".to_owned()]), "a *** b");
}

#[test]
fn the_unfinished_statuses_are_those_the_statements_list() {
    for status in WorkflowStatus::ALL {
        let listed = !status.is_finished();
        let quoted = format!("'{}'", status.as_str());
        assert_eq!(SELECT_UNFINISHED.contains(&quoted), listed, "{status:?}");
        assert_eq!(CLAIM_RUNS_SQL.contains(&quoted), listed, "{status:?}");
        assert_eq!(
            schema::MIGRATIONS[0].contains(&quoted),
            listed,
            "{status:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Opening

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_opens_migrate_once() {
    let (url, _db) = test_database().await;
    let opens = (0..8).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { PostgresStore::open(&PostgresConfig::new(url)).await })
    });
    let stores = futures_util::future::join_all(opens).await;
    for store in stores {
        let store = store.expect("join").expect("open");
        assert_eq!(store.unfinished_runs().await.expect("read"), Vec::new());
    }
    assert_eq!(schema_version(&url).await, SCHEMA_VERSION.to_string());
    // Opening an up-to-date database writes nothing.
    let before = snapshot(&url).await;
    let _store = PostgresStore::open(&PostgresConfig::new(url.clone()))
        .await
        .expect("reopen");
    assert_eq!(snapshot(&url).await, before);
}

#[tokio::test]
async fn a_newer_schema_is_refused_and_left_unchanged() {
    let (url, _db) = test_database().await;
    let store = PostgresStore::open(&PostgresConfig::new(url.clone()))
        .await
        .expect("open");
    create(&store, "w", "r").await;
    drop(store);
    let newer = (SCHEMA_VERSION + 1).to_string();
    client(&url)
        .await
        .execute(
            "UPDATE reprise_meta SET value = $1 WHERE key = 'schema_version'",
            &[&newer],
        )
        .await
        .expect("bump");
    let before = snapshot(&url).await;
    let message = config_error(PostgresStore::open(&PostgresConfig::new(url.clone())).await);
    assert!(message.contains("newer reprise"), "{message}");
    assert!(
        message.contains(&format!("schema version {newer}")),
        "{message}"
    );
    assert_eq!(snapshot(&url).await, before);
}

#[tokio::test]
async fn another_applications_database_is_refused_and_left_unchanged() {
    let (url, _db) = test_database().await;
    client(&url)
        .await
        .batch_execute("CREATE TABLE runs (id INT PRIMARY KEY); INSERT INTO runs VALUES (7)")
        .await
        .expect("their table");
    let before = snapshot(&url).await;
    let message = config_error(PostgresStore::open(&PostgresConfig::new(url.clone())).await);
    assert!(message.contains("not a reprise database"), "{message}");
    assert!(message.contains("`runs`"), "{message}");
    assert_eq!(snapshot(&url).await, before);
}

#[tokio::test]
async fn a_bad_url_is_a_config_error_without_the_password() {
    for url in [
        "postgres://etl:s3cret@127.0.0.1:notaport/db",
        "postgres://etl:s3cret@127.0.0.1/db?nosuchoption=1",
        "host=127.0.0.1 password=s3cret port=x",
    ] {
        let message = config_error(PostgresStore::open(&PostgresConfig::new(url)).await);
        assert!(message.contains("invalid PostgreSQL URL"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
}

#[tokio::test]
async fn a_refused_port_is_a_config_error_without_the_password() {
    let message = config_error(
        PostgresStore::open(&PostgresConfig::new(
            "postgres://postgres:s3cret@127.0.0.1:1/postgres",
        ))
        .await,
    );
    assert!(
        message.contains("cannot connect to PostgreSQL at 127.0.0.1:1"),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
}

#[tokio::test]
async fn a_missing_database_is_a_config_error() {
    let (url, db) = test_database().await;
    let missing = url.replace(db.name(), "reprise_test_nosuchdatabase");
    let message = config_error(PostgresStore::open(&PostgresConfig::new(missing)).await);
    assert!(message.contains("reprise_test_nosuchdatabase"), "{message}");
}

#[tokio::test]
async fn a_user_without_rights_is_a_config_error() {
    let (url, db) = test_database().await;
    let role = format!("reprise_test_role_{}", uuid::Uuid::new_v4().simple());
    let admin = client(&super::testing::server_url()).await;
    admin
        .batch_execute(&format!("CREATE ROLE {role} LOGIN"))
        .await
        .expect("role");
    let as_role = url.replacen("://postgres@", &format!("://{role}:s3cret@"), 1);
    assert_ne!(
        as_role, url,
        "the test server's URL must name user postgres"
    );
    let before = snapshot(&url).await;
    let result = PostgresStore::open(&PostgresConfig::new(as_role)).await;
    drop(db);
    if let Err(e) = admin.batch_execute(&format!("DROP ROLE {role}")).await {
        eprintln!("cannot drop role {role}: {}", describe(&e));
    }
    let message = config_error(result);
    assert!(message.contains(&role), "{message}");
    assert!(message.contains("lacks the rights"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
    assert!(before.is_empty(), "{before:?}");
}

#[tokio::test]
async fn debug_output_names_the_database_not_the_password() {
    let (url, _db) = test_database().await;
    let url = url.replacen("://postgres@", "://postgres:s3cret@", 1);
    let store = PostgresStore::open(&PostgresConfig::new(url))
        .await
        .expect("open (trust auth ignores the password)");
    let debug = format!("{store:?}");
    assert!(!debug.contains("s3cret"), "{debug}");
    assert!(debug.contains("127.0.0.1"), "{debug}");
    assert!(debug.contains("reprise_test_"), "{debug}");
}

// ---------------------------------------------------------------------------
// Connection loss

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_after_terminated_connections_succeed() {
    let (url, _db) = test_database().await;
    let store = PostgresStore::open(&PostgresConfig::new(url.clone()))
        .await
        .expect("open");
    create(&store, "w", "r").await;
    // Fill the pool with a few connections, then kill them all.
    let reads = (0..4).map(|_| store.load_run("r"));
    for read in futures_util::future::join_all(reads).await {
        assert!(read.expect("read").is_some());
    }
    assert!(terminate_connections(&url).await >= 2);
    let (record, history) = store.load_run("r").await.expect("read").expect("run");
    assert_eq!(record.run_id, "r");
    assert_eq!(history.len(), 1);
    assert!(store.latest_run("w").await.expect("latest").is_some());
    let names = names();
    let claimed = store
        .claim_runs(&lease("a", 10_000), filter(&names, 10))
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    terminate_connections(&url).await;
    assert!(store
        .renew(&lease("a", 10_000))
        .await
        .expect("renew")
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_survives_terminated_connections() {
    let (url, _db) = test_database().await;
    let listening = PostgresStore::open(&PostgresConfig::new(url.clone()))
        .await
        .expect("open");
    let writer = PostgresStore::open(&PostgresConfig::new(url.clone()))
        .await
        .expect("open");
    let Notifications { mut work, mut done } = listening.notifications().expect("notifications");
    create(&writer, "w", "r").await;
    tokio::time::timeout(Duration::from_secs(5), work.changed())
        .await
        .expect("a creation notifies")
        .expect("listener alive");

    assert!(terminate_connections(&url).await >= 2);
    // Reconnected: both counters are bumped once, as something may have
    // been missed.
    done.borrow_and_update();
    tokio::time::timeout(Duration::from_secs(10), done.changed())
        .await
        .expect("the listener reconnects")
        .expect("listener alive");
    work.borrow_and_update();

    let mut accepted = None;
    for _ in 0..5 {
        match writer.enqueue("w", signal("go"), 3_000).await {
            Ok(enqueued) => {
                accepted = Some(enqueued);
                break;
            }
            // The writer's pooled connection was killed too: the caller retries.
            Err(e) if e.is_retryable() => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("enqueue: {e}"),
        }
    }
    assert!(
        matches!(accepted, Some(Enqueued::Accepted { .. })),
        "{accepted:?}"
    );
    tokio::time::timeout(Duration::from_secs(5), work.changed())
        .await
        .expect("an enqueue after the reconnection notifies")
        .expect("listener alive");
}

// ---------------------------------------------------------------------------
// Claims and fencing

#[tokio::test]
async fn runs_are_claimed_once_and_stale_writers_are_fenced() {
    let (store, _db) = test_store().await;
    let names = names();
    create(&store, "w", "r").await;
    let a = lease("a", 60_000);
    let b = lease("b", 60_000);

    // Never activated: claimable once.
    let claimed = store
        .claim_runs(&a, filter(&names, 10))
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    let first = &claimed[0];
    assert!(first.taken);
    assert!(first.token > 0);
    assert_eq!(first.record.run_id, "r");
    let token = first.token;
    assert!(store
        .claim_runs(&b, filter(&names, 10))
        .await
        .expect("claim")
        .is_empty());
    assert!(store
        .claim_runs(&a, filter(&names, 10))
        .await
        .expect("claim")
        .is_empty());
    // Another type's runs are left alone.
    let other = vec!["other".to_owned()];
    assert!(store
        .claim_runs(&b, filter(&other, 10))
        .await
        .expect("claim")
        .is_empty());

    // The owner's run with a message: handed again, same token.
    store
        .enqueue("w", signal("go"), 3_000)
        .await
        .expect("enqueue");
    assert!(store
        .claim_runs(&b, filter(&names, 10))
        .await
        .expect("claim")
        .is_empty());
    let again = store
        .claim_runs(&a, filter(&names, 10))
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert!(!again[0].taken);
    assert_eq!(again[0].token, token);
    assert_eq!(again[0].inbox.len(), 1);

    // A write under another token is fenced and writes nothing.
    let e = commit(&store, step("r", token + 1, 1, 1))
        .await
        .expect_err("fenced");
    assert!(e.is_fenced(), "{e}");
    assert_eq!(
        store
            .load_run("r")
            .await
            .expect("load")
            .expect("run")
            .1
            .len(),
        1
    );
    commit(&store, step("r", token, 1, 1))
        .await
        .expect("the owner writes");

    // An expired lease is taken by another worker, with a new token.
    let short = lease("a", 1);
    store.renew(&short).await.expect("renew");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let taken = store
        .claim_runs(&b, filter(&names, 10))
        .await
        .expect("claim");
    assert_eq!(taken.len(), 1);
    assert!(taken[0].taken);
    assert!(taken[0].token > token);
    let e = commit(&store, step("r", token, 2, 1))
        .await
        .expect_err("fenced");
    assert!(e.is_fenced(), "{e}");
    commit(&store, step("r", taken[0].token, 2, 1))
        .await
        .expect("the new owner writes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_never_share_a_run() {
    let (store, _db) = test_store().await;
    let store = Arc::new(store);
    for i in 0..40 {
        create(&store, &format!("w{i}"), &format!("r{i}")).await;
    }
    let claimers = (0..4).map(|worker| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let names = names();
            let lease = lease(&format!("worker-{worker}"), 60_000);
            let mut mine = Vec::new();
            loop {
                let claimed = store
                    .claim_runs(&lease, filter(&names, 3))
                    .await
                    .expect("claim");
                if claimed.is_empty() {
                    break;
                }
                mine.extend(claimed.into_iter().map(|c| c.record.run_id));
            }
            mine
        })
    });
    let mut all: Vec<String> = Vec::new();
    for claimer in futures_util::future::join_all(claimers).await {
        all.extend(claimer.expect("join"));
    }
    all.sort();
    let count = all.len();
    all.dedup();
    assert_eq!(all.len(), count, "a run was claimed twice");
    assert_eq!(count, 40);
}

#[tokio::test]
async fn tasks_are_claimed_completed_and_fenced() {
    let (store, _db) = test_store().await;
    let names = names();
    let a = lease("a", 60_000);
    let created = store
        .create_workflow(new_workflow("w", "r", Some(&a)))
        .await
        .expect("create");
    let Created::New { token } = created else {
        panic!("{created:?}")
    };
    assert!(token > 0);
    // Held by its creator: nobody claims it.
    assert!(store
        .claim_runs(&lease("b", 60_000), filter(&names, 10))
        .await
        .expect("claim")
        .is_empty());

    // The step leaves its activity to any worker.
    let mut s = step("r", token, 1, 1);
    s.new_tasks = vec![activity("w", "r", 1), activity("w", "r", 2)];
    commit(&store, s).await.expect("commit");
    let fetch = vec!["fetch".to_owned()];
    let b = lease("b", 60_000);
    let tasks = store
        .claim_tasks(&b, filter(&fetch, 1))
        .await
        .expect("claim");
    assert_eq!(tasks.len(), 1);
    let task = tasks[0].clone();
    assert!(task.token > token);
    let rest = store
        .claim_tasks(&lease("c", 60_000), filter(&fetch, 10))
        .await
        .expect("claim");
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].seq, task.seq);
    assert!(store
        .claim_tasks(&b, filter(&fetch, 10))
        .await
        .expect("claim")
        .is_empty());

    // Heartbeats and retries are fenced by the task's token.
    let e = store
        .record_heartbeat(
            "r",
            task.seq,
            task.token + 100,
            json!(1),
            Duration::from_secs(5),
        )
        .await
        .expect_err("fenced");
    assert!(e.is_fenced(), "{e}");
    store
        .record_heartbeat(
            "r",
            task.seq,
            task.token,
            json!({"at": 3}),
            Duration::from_secs(5),
        )
        .await
        .expect("heartbeat");
    let retry = TaskRetry {
        run_id: "r".to_owned(),
        seq: task.seq,
        token: task.token + 100,
        next_attempt: 2,
        due_ms: 5,
        last_error: "boom".to_owned(),
    };
    assert!(store
        .retry_task(retry.clone())
        .await
        .expect_err("fenced")
        .is_fenced());
    store
        .retry_task(TaskRetry {
            token: task.token,
            ..retry.clone()
        })
        .await
        .expect("retry");
    store
        .retry_task(TaskRetry { seq: 99, ..retry })
        .await
        .expect("a missing task is not an error");

    let done = TaskDone {
        workflow_id: "w".to_owned(),
        run_id: "r".to_owned(),
        seq: task.seq,
        token: task.token + 100,
        result: Ok(json!("ok")),
        now_ms: 4_000,
    };
    assert!(store
        .complete_task(done.clone())
        .await
        .expect_err("fenced")
        .is_fenced());
    let Notifications { mut work, .. } = store.notifications().expect("notifications");
    work.borrow_and_update();
    let done = TaskDone {
        token: task.token,
        ..done
    };
    store.complete_task(done.clone()).await.expect("complete");
    tokio::time::timeout(Duration::from_secs(5), work.changed())
        .await
        .expect("a completion notifies")
        .expect("alive");
    store
        .complete_task(done)
        .await
        .expect("a second completion adds nothing");
    let inbox = store.inbox().await.expect("inbox");
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        inbox[0].item,
        InboxItem::Completed {
            seq: task.seq,
            result: Ok(json!("ok"))
        }
    );
    let remaining = store.tasks(Some("r")).await.expect("tasks");
    assert_eq!(remaining.len(), 1);
    // A heartbeat of a gone task is fenced: the attempt has lost its task.
    assert!(store
        .record_heartbeat("r", task.seq, task.token, json!(1), Duration::from_secs(5))
        .await
        .expect_err("fenced")
        .is_fenced());

    // The run's owner gets the message; taken by another once released.
    let claimed = store
        .claim_runs(&a, filter(&names, 10))
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    assert!(!claimed[0].taken);
    assert_eq!(claimed[0].inbox.len(), 1);
    store
        .release(Release::Run {
            run_id: "r".to_owned(),
            token: token + 1_000,
        })
        .await
        .expect("a stale release does nothing");
    assert!(store
        .claim_runs(&b, filter(&names, 10))
        .await
        .expect("claim")
        .is_empty());
    store
        .release(Release::Run {
            run_id: "r".to_owned(),
            token,
        })
        .await
        .expect("release");
    let taken = store
        .claim_runs(&b, filter(&names, 10))
        .await
        .expect("claim");
    assert_eq!(taken.len(), 1);
    assert!(taken[0].taken);
    assert_eq!(taken[0].tasks.len(), 1);
    assert_eq!(taken[0].inbox.len(), 1);
}

#[tokio::test]
async fn finishing_steps_notify_and_continue_as_new_keeps_the_owner() {
    let (store, _db) = test_store().await;
    let a = lease("a", 60_000);
    let Created::New { token } = store
        .create_workflow(new_workflow("w", "r1", Some(&a)))
        .await
        .expect("create")
    else {
        panic!("exists")
    };
    let Notifications { mut done, .. } = store.notifications().expect("notifications");
    done.borrow_and_update();
    let mut s = step("r1", token, 1, 1);
    s.lease = Some(Arc::new(a.clone()));
    s.status = Some(StatusChange {
        status: WorkflowStatus::ContinuedAsNew,
        result: None,
        error: None,
    });
    s.new_run = Some(NewRun {
        run_id: "r2".to_owned(),
        started_event: "{}".to_owned(),
    });
    commit(&store, s).await.expect("continue as new");
    tokio::time::timeout(Duration::from_secs(5), done.changed())
        .await
        .expect("an ended run notifies")
        .expect("alive");
    let latest = store.latest_run("w").await.expect("latest").expect("run");
    assert_eq!(latest.run_id, "r2");
    // The same worker holds the next run under the same token.
    let enqueued = store.enqueue("w", signal("x"), 5).await.expect("enqueue");
    assert!(matches!(enqueued, Enqueued::Accepted { ref run_id, .. } if run_id == "r2"));
    let names = names();
    assert!(store
        .claim_runs(&lease("b", 60_000), filter(&names, 10))
        .await
        .expect("claim")
        .is_empty());
    let mine = store
        .claim_runs(&a, filter(&names, 10))
        .await
        .expect("claim");
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].token, token);
    let mut end = step("r2", token, 1, 1);
    end.status = Some(StatusChange {
        status: WorkflowStatus::Completed,
        result: Some(json!(5)),
        error: None,
    });
    commit(&store, end).await.expect("complete");
    assert!(store.inbox().await.expect("inbox").is_empty());
    assert_eq!(
        store
            .enqueue("w", signal("late"), 6)
            .await
            .expect("enqueue"),
        Enqueued::Finished(WorkflowStatus::Completed)
    );
}

#[tokio::test]
async fn renew_uses_the_database_clock_and_release_gives_everything_back() {
    let (store, _db) = test_store().await;
    let before = unix_ms();
    let now = store
        .renew(&lease("a", 1_000))
        .await
        .expect("renew")
        .expect("the database's clock");
    assert!(
        now + 5_000 >= before && now <= unix_ms() + 5_000,
        "{now} vs {before}"
    );

    let names = names();
    for i in 0..3 {
        create(&store, &format!("w{i}"), &format!("r{i}")).await;
    }
    assert_eq!(
        store
            .claim_runs(&lease("a", 60_000), filter(&names, 10))
            .await
            .expect("claim")
            .len(),
        3
    );
    store
        .release(Release::Worker("a".to_owned()))
        .await
        .expect("release");
    assert_eq!(
        store
            .claim_runs(&lease("b", 60_000), filter(&names, 2))
            .await
            .expect("claim")
            .len(),
        2
    );
}

#[tokio::test]
async fn concurrent_creations_of_one_id_make_one_workflow() {
    let (store, _db) = test_store().await;
    let store = Arc::new(store);
    let creations = (0..8).map(|i| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            store
                .create_workflow(new_workflow("w", &format!("r{i}"), None))
                .await
                .expect("create")
        })
    });
    let results = futures_util::future::join_all(creations).await;
    let new = results
        .iter()
        .filter(|r| matches!(r, Ok(Created::New { .. })))
        .count();
    assert_eq!(new, 1);
    assert_eq!(store.runs("w").await.expect("runs").len(), 1);
}

#[tokio::test]
async fn corrupt_rows_are_errors_naming_the_row() {
    let (url, _db) = test_database().await;
    let store = PostgresStore::open(&PostgresConfig::new(url.clone()))
        .await
        .expect("open");
    create(&store, "w1", "r1").await;
    create(&store, "w2", "r2").await;
    store.enqueue("w1", signal("a"), 1).await.expect("enqueue");
    store.enqueue("w2", signal("b"), 1).await.expect("enqueue");
    let admin = client(&url).await;
    admin
        .batch_execute(
            "UPDATE runs SET result = 'not json' WHERE run_id = 'r1';
             UPDATE inbox SET payload = '{' WHERE workflow_id = 'w1'",
        )
        .await
        .expect("corrupt");
    let e = store.load_run("r1").await.expect_err("corrupt");
    let message = e.to_string();
    assert!(
        message.contains("corrupt row in `runs` (run_id `r1`)"),
        "{message}"
    );
    assert!(message.contains("column `result`"), "{message}");
    assert!(!e.is_retryable());
    // Listings skip the bad row.
    let unfinished = store.unfinished_runs().await.expect("list");
    assert_eq!(unfinished.len(), 1);
    assert_eq!(unfinished[0].run_id, "r2");
    let inbox = store.inbox().await.expect("inbox");
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].workflow_id, "w2");
}
