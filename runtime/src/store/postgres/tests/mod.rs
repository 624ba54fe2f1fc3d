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
        heartbeat_ms: None,
        token: 0,
        slot_wait_ms: None,
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

mod claims;
mod opening;
