//! The store conformance suite: named generic tests, each run against every
//! store through a factory (`memory::*`, `sqlite::*`, and `postgres::*` with
//! the `postgres` feature, each test on a fresh database of its own), then
//! tests of what only the SQLite store has (files, locking, migrations,
//! group commit: `sqlite_only::*`).
//!
//! The multi-worker cases (`claim_*`, `*_fenced*`, `an_expired_lease_*`)
//! play two workers against one store: two claimers never get the same run
//! or attempt, an expired lease moves work, a fenced stale write changes
//! nothing, a burst of claims is capped per call.
//!
//! History events are opaque to the stores, so the tests use short strings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::definition::ActivityOptions;
use crate::retry::RetryPolicy;

// ---------------------------------------------------------------------------
// Helpers

/// The lease heartbeats renew by.
const LEASE: Duration = Duration::from_secs(10);

fn new_workflow(workflow_id: &str, run_id: &str, now_ms: u64) -> NewWorkflow {
    NewWorkflow {
        workflow_id: workflow_id.to_owned(),
        run_id: run_id.to_owned(),
        name: "etl".to_owned(),
        started_event: started(run_id),
        now_ms,
        owner: None,
    }
}

fn started(run_id: &str) -> String {
    format!(r#"{{"type":"WorkflowStarted","name":"etl","input":"{run_id}"}}"#)
}

/// The event a test writes at `index` of `run_id`'s history.
fn event(run_id: &str, index: u64) -> String {
    format!(r#"{{"type":"Marker","run":"{run_id}","index":{index}}}"#)
}

/// A step appending `count` events at `first_index`.
fn step(run_id: &str, first_index: u64, count: u64) -> StepCommit {
    StepCommit {
        run_id: run_id.to_owned(),
        first_index,
        events: (0..count)
            .map(|i| event(run_id, first_index.saturating_add(i)))
            .collect(),
        now_ms: first_index.saturating_add(2_000),
        ..StepCommit::default()
    }
}

fn activity(workflow_id: &str, run_id: &str, seq: u32) -> Task {
    Task {
        workflow_id: workflow_id.to_owned(),
        run_id: run_id.to_owned(),
        seq,
        kind: TaskKind::Activity,
        name: "fetch".to_owned(),
        input: json!({ "url": "https://example.com", "seq": seq, "tags": ["a", null, 1.5] }),
        options: ActivityOptions {
            start_to_close: Some(Duration::from_millis(1_500)),
            schedule_to_close: None,
            heartbeat_timeout: Some(Duration::from_secs(3)),
            retry: RetryPolicy {
                max_attempts: Some(5),
                backoff_coefficient: 1.5,
                max_interval: Some(Duration::from_secs(60)),
                non_retryable_error_types: vec!["ValidationError".to_owned()],
                ..RetryPolicy::default()
            },
        },
        attempt: 1,
        scheduled_ms: 1_000,
        due_ms: 1_000,
        last_error: None,
        details: Some(json!({ "offset": 42 })),
        token: 0,
    }
}

fn timer(workflow_id: &str, run_id: &str, seq: u32, due_ms: u64) -> Task {
    Task {
        workflow_id: workflow_id.to_owned(),
        run_id: run_id.to_owned(),
        seq,
        kind: TaskKind::Timer,
        name: String::new(),
        input: Value::Null,
        options: ActivityOptions::default(),
        attempt: 0,
        scheduled_ms: 1_000,
        due_ms,
        last_error: None,
        details: None,
        token: 0,
    }
}

fn status(
    status: WorkflowStatus,
    result: Option<Value>,
    error: Option<&str>,
) -> Option<StatusChange> {
    Some(StatusChange {
        status,
        result,
        error: error.map(str::to_owned),
    })
}

/// Commits `steps`; the first failure, if any.
async fn commit(store: &dyn Store, steps: Vec<StepCommit>) -> Result<(), StoreError> {
    store.commit_steps(steps).await.into_iter().collect()
}

async fn create(store: &dyn Store, workflow_id: &str, run_id: &str, now_ms: u64) {
    let created = store
        .create_workflow(new_workflow(workflow_id, run_id, now_ms))
        .await
        .unwrap();
    assert_eq!(created, Created::New { token: 0 });
}

async fn record(store: &dyn Store, run_id: &str) -> RunRecord {
    store
        .load_run(run_id)
        .await
        .unwrap()
        .expect("the run exists")
        .0
}

/// The history of a run, checking that the indexes are 0, 1, 2...
async fn history(store: &dyn Store, run_id: &str) -> Vec<String> {
    let (_, rows) = store
        .load_run(run_id)
        .await
        .unwrap()
        .expect("the run exists");
    let indexes: Vec<u64> = rows.iter().map(|(i, _)| *i).collect();
    assert_eq!(indexes, (0..rows.len() as u64).collect::<Vec<_>>());
    rows.into_iter().map(|(_, e)| e).collect()
}

/// The history of `len` rows a run has after steps made by [`step`].
fn expected_history(run_id: &str, len: u64) -> Vec<String> {
    std::iter::once(started(run_id))
        .chain((1..len).map(|i| event(run_id, i)))
        .collect()
}

fn task_keys(tasks: &[Task]) -> Vec<(&str, u32)> {
    tasks.iter().map(|t| (t.run_id.as_str(), t.seq)).collect()
}

// ---------------------------------------------------------------------------
// The generic tests

async fn create_is_idempotent_on_the_workflow_id(store: &dyn Store) {
    create(store, "w1", "r1", 100).await;
    let again = store
        .create_workflow(NewWorkflow {
            run_id: "r2".to_owned(),
            name: "other".to_owned(),
            now_ms: 200,
            ..new_workflow("w1", "r2", 200)
        })
        .await
        .unwrap();
    let expected = RunRecord {
        workflow_id: "w1".to_owned(),
        run_id: "r1".to_owned(),
        name: "etl".to_owned(),
        status: WorkflowStatus::Running,
        result: None,
        error: None,
        progress: None,
        created_ms: 100,
        updated_ms: 100,
    };
    assert_eq!(again, Created::Existing(expected.clone()));
    assert!(store.load_run("r2").await.unwrap().is_none());
    assert_eq!(record(store, "r1").await, expected);
    assert_eq!(history(store, "r1").await, vec![started("r1")]);
    assert_eq!(store.unfinished_runs().await.unwrap(), vec![expected]);
}

async fn commit_appends_events_and_tasks(store: &dyn Store) {
    create(store, "w1", "r1", 100).await;
    let tasks = vec![activity("w1", "r1", 1), timer("w1", "r1", 2, 9_000)];
    commit(
        store,
        vec![StepCommit {
            new_tasks: tasks.clone(),
            ..step("r1", 1, 3)
        }],
    )
    .await
    .unwrap();
    assert_eq!(history(store, "r1").await, expected_history("r1", 4));
    assert_eq!(store.tasks(Some("r1")).await.unwrap(), tasks);
    let run = record(store, "r1").await;
    assert_eq!(run.updated_ms, 2_001);
    assert_eq!(run.created_ms, 100);
    assert_eq!(run.status, WorkflowStatus::Running);

    // The next step starts where the history ends; a task created again
    // replaces the stored one.
    let mut again = timer("w1", "r1", 2, 12_000);
    again.details = Some(Value::Null);
    commit(
        store,
        vec![StepCommit {
            new_tasks: vec![again.clone()],
            ..step("r1", 4, 1)
        }],
    )
    .await
    .unwrap();
    assert_eq!(history(store, "r1").await, expected_history("r1", 5));
    assert_eq!(
        store.tasks(Some("r1")).await.unwrap(),
        vec![tasks[0].clone(), again]
    );
}

async fn a_stale_first_index_writes_nothing(store: &dyn Store) {
    create(store, "w1", "r1", 100).await;
    commit(
        store,
        vec![StepCommit {
            new_tasks: vec![activity("w1", "r1", 1)],
            progress: Some(json!("half")),
            ..step("r1", 1, 2)
        }],
    )
    .await
    .unwrap();
    let before = (
        store.load_run("r1").await.unwrap(),
        store.tasks(None).await.unwrap(),
    );

    for first_index in [0, 1, 2, 4, u64::MAX] {
        let error = commit(
            store,
            vec![StepCommit {
                done_tasks: vec![1],
                new_tasks: vec![activity("w1", "r1", 2)],
                status: status(WorkflowStatus::Completed, Some(json!(1)), None),
                progress: Some(json!("done")),
                now_ms: 9_999,
                ..step("r1", first_index, 2)
            }],
        )
        .await
        .unwrap_err();
        assert!(!error.is_retryable(), "{error}");
        let message = error.to_string();
        assert!(
            message.contains("`r1`") && message.contains("3 events"),
            "{message}"
        );
        let after = (
            store.load_run("r1").await.unwrap(),
            store.tasks(None).await.unwrap(),
        );
        assert_eq!(after, before, "first_index {first_index}");
    }

    let error = commit(store, vec![step("nope", 1, 1)]).await.unwrap_err();
    assert!(error.to_string().contains("no run `nope`"), "{error}");
    assert!(store.load_run("nope").await.unwrap().is_none());
}

async fn a_failed_step_does_not_block_the_others(store: &dyn Store) {
    for i in 1..=3 {
        create(store, &format!("w{i}"), &format!("r{i}"), 100).await;
    }
    let results = store
        .commit_steps(vec![
            StepCommit {
                new_tasks: vec![activity("w1", "r1", 1)],
                ..step("r1", 1, 2)
            },
            StepCommit {
                new_tasks: vec![activity("w2", "r2", 1)],
                status: status(WorkflowStatus::Failed, None, Some("boom")),
                ..step("r2", 7, 2)
            },
            step("missing", 1, 1),
            StepCommit {
                status: status(WorkflowStatus::Completed, Some(json!("ok")), None),
                ..step("r3", 1, 1)
            },
        ])
        .await;
    assert_eq!(results.len(), 4);
    assert!(results[0].is_ok() && results[3].is_ok(), "{results:?}");
    assert!(results[1]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("`r2`"));
    assert!(results[2]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("`missing`"));

    assert_eq!(history(store, "r1").await, expected_history("r1", 3));
    assert_eq!(history(store, "r2").await, expected_history("r2", 1));
    assert_eq!(history(store, "r3").await, expected_history("r3", 2));
    assert_eq!(record(store, "r2").await.status, WorkflowStatus::Running);
    assert_eq!(record(store, "r3").await.status, WorkflowStatus::Completed);
    assert_eq!(
        task_keys(&store.tasks(None).await.unwrap()),
        vec![("r1", 1)]
    );

    // Steps of one commit apply in order: a later step sees an earlier one.
    let results = store
        .commit_steps(vec![
            step("r1", 3, 1),
            step("r1", 3, 1),
            step("r1", 4, 1),
            step("r2", 5, 1),
        ])
        .await;
    let ok: Vec<bool> = results.iter().map(Result::is_ok).collect();
    assert_eq!(ok, [true, false, true, false], "{results:?}");
    assert!(results[1]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("has 4 events"));
    assert_eq!(history(store, "r1").await, expected_history("r1", 5));
    assert_eq!(history(store, "r2").await, expected_history("r2", 1));
}

async fn an_empty_commit_succeeds(store: &dyn Store) {
    commit(store, Vec::new()).await.unwrap();
    assert!(store.commit_steps(Vec::new()).await.is_empty());
    create(store, "w1", "r1", 100).await;
    // A step without events still records its time.
    commit(store, vec![step("r1", 1, 0)]).await.unwrap();
    assert_eq!(history(store, "r1").await, expected_history("r1", 1));
    assert_eq!(record(store, "r1").await.updated_ms, 2_001);
}

async fn done_tasks_are_removed(store: &dyn Store) {
    create(store, "w1", "r1", 100).await;
    commit(
        store,
        vec![StepCommit {
            new_tasks: (1..=3).map(|seq| activity("w1", "r1", seq)).collect(),
            ..step("r1", 1, 3)
        }],
    )
    .await
    .unwrap();
    // 99 does not exist: its completion may have been recorded before.
    commit(
        store,
        vec![StepCommit {
            done_tasks: vec![1, 3, 99],
            ..step("r1", 4, 2)
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        task_keys(&store.tasks(Some("r1")).await.unwrap()),
        vec![("r1", 2)]
    );
    assert_eq!(history(store, "r1").await, expected_history("r1", 6));
}

async fn finishing_a_run_removes_its_tasks(store: &dyn Store) {
    for i in 1..=3 {
        let (w, r) = (format!("w{i}"), format!("r{i}"));
        create(store, &w, &r, 100).await;
        commit(
            store,
            vec![StepCommit {
                new_tasks: vec![activity(&w, &r, 1), timer(&w, &r, 2, 5_000)],
                ..step(&r, 1, 2)
            }],
        )
        .await
        .unwrap();
    }
    // Tasks created by the finishing step go too.
    commit(
        store,
        vec![StepCommit {
            new_tasks: vec![activity("w1", "r1", 3)],
            status: status(WorkflowStatus::Completed, Some(json!({ "rows": 3 })), None),
            ..step("r1", 3, 2)
        }],
    )
    .await
    .unwrap();
    assert!(store.tasks(Some("r1")).await.unwrap().is_empty());
    assert_eq!(store.tasks(Some("r2")).await.unwrap().len(), 2);
    let r1 = record(store, "r1").await;
    assert_eq!(r1.status, WorkflowStatus::Completed);
    assert_eq!(r1.result, Some(json!({ "rows": 3 })));

    let failure = json!({ "kind": "Http", "message": "503" });
    commit(
        store,
        vec![
            StepCommit {
                status: status(WorkflowStatus::Failed, Some(failure.clone()), None),
                ..step("r2", 3, 1)
            },
            // Blocked is not finished: the tasks stay.
            StepCommit {
                status: status(
                    WorkflowStatus::Blocked,
                    None,
                    Some("history does not decode"),
                ),
                ..step("r3", 3, 0)
            },
        ],
    )
    .await
    .unwrap();
    assert!(store.tasks(Some("r2")).await.unwrap().is_empty());
    let r2 = record(store, "r2").await;
    assert_eq!(
        (r2.status, r2.result),
        (WorkflowStatus::Failed, Some(failure))
    );
    assert_eq!(
        task_keys(&store.tasks(None).await.unwrap()),
        vec![("r3", 1), ("r3", 2)]
    );
    let r3 = record(store, "r3").await;
    assert_eq!(r3.status, WorkflowStatus::Blocked);
    assert_eq!(r3.error.as_deref(), Some("history does not decode"));
}

async fn retry_task_updates_the_task(store: &dyn Store) {
    create(store, "w1", "r1", 100).await;
    let task = activity("w1", "r1", 1);
    commit(
        store,
        vec![StepCommit {
            new_tasks: vec![task.clone(), activity("w1", "r1", 2)],
            ..step("r1", 1, 2)
        }],
    )
    .await
    .unwrap();
    store
        .retry_task(TaskRetry {
            run_id: "r1".to_owned(),
            seq: 1,
            token: 0,
            next_attempt: 2,
            due_ms: 5_000,
            last_error: "Http: 503".to_owned(),
        })
        .await
        .unwrap();
    let tasks = store.tasks(Some("r1")).await.unwrap();
    let expected = Task {
        attempt: 2,
        due_ms: 5_000,
        last_error: Some("Http: 503".to_owned()),
        ..task
    };
    assert_eq!(tasks, vec![expected, activity("w1", "r1", 2)]);

    // A task that is gone (its call finished meanwhile): nothing to do.
    store
        .retry_task(TaskRetry {
            run_id: "r1".to_owned(),
            seq: 7,
            token: 0,
            next_attempt: 2,
            due_ms: 5_000,
            last_error: "late".to_owned(),
        })
        .await
        .unwrap();
    assert_eq!(store.tasks(None).await.unwrap().len(), 2);
}

async fn unfinished_runs_lists_running_and_blocked_runs_oldest_first(store: &dyn Store) {
    // Created in this order, with clocks going backwards: creation order,
    // not `created_ms`, is what counts.
    for i in 1..=5 {
        create(store, &format!("w{i}"), &format!("r{i}"), 1_000 - i).await;
    }
    commit(
        store,
        vec![
            StepCommit {
                status: status(WorkflowStatus::Completed, Some(Value::Null), None),
                ..step("r2", 1, 1)
            },
            StepCommit {
                status: status(WorkflowStatus::Blocked, None, Some("nondeterminism")),
                ..step("r3", 1, 1)
            },
            StepCommit {
                status: status(WorkflowStatus::Failed, Some(json!("no")), None),
                ..step("r4", 1, 1)
            },
        ],
    )
    .await
    .unwrap();
    let ids = |runs: Vec<RunRecord>| runs.into_iter().map(|r| r.run_id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.unfinished_runs().await.unwrap()),
        ["r1", "r3", "r5"]
    );

    // Unblocked, r3 keeps its place.
    commit(
        store,
        vec![StepCommit {
            status: status(WorkflowStatus::Running, None, None),
            ..step("r3", 2, 1)
        }],
    )
    .await
    .unwrap();
    let runs = store.unfinished_runs().await.unwrap();
    assert_eq!(runs[1].status, WorkflowStatus::Running);
    assert_eq!(runs[1].error, None);
    assert_eq!(ids(runs), ["r1", "r3", "r5"]);
}

async fn tasks_lists_every_run_by_run_then_seq(store: &dyn Store) {
    create(store, "wb", "rb", 100).await;
    create(store, "wa", "ra", 100).await;
    create(store, "wc", "rc", 100).await;
    commit(
        store,
        vec![
            StepCommit {
                new_tasks: vec![timer("wb", "rb", 12, 7_000), activity("wb", "rb", 2)],
                ..step("rb", 1, 2)
            },
            StepCommit {
                new_tasks: vec![activity("wa", "ra", 3)],
                ..step("ra", 1, 1)
            },
        ],
    )
    .await
    .unwrap();
    let all = store.tasks(None).await.unwrap();
    assert_eq!(task_keys(&all), vec![("ra", 3), ("rb", 2), ("rb", 12)]);
    assert_eq!(all[2], timer("wb", "rb", 12, 7_000));
    assert_eq!(
        task_keys(&store.tasks(Some("rb")).await.unwrap()),
        vec![("rb", 2), ("rb", 12)]
    );
    assert!(store.tasks(Some("rc")).await.unwrap().is_empty());
    assert!(store.tasks(Some("nope")).await.unwrap().is_empty());
}

async fn load_run_returns_rows_in_index_order(store: &dyn Store) {
    assert!(store.load_run("r1").await.unwrap().is_none());
    create(store, "w1", "r1", 100).await;
    let mut len = 1;
    for count in [1, 3, 2, 5, 1, 4] {
        commit(store, vec![step("r1", len, count)]).await.unwrap();
        len += count;
    }
    // Past index 9, so that text ordering of indexes would show.
    assert_eq!(len, 17);
    assert_eq!(history(store, "r1").await, expected_history("r1", len));
}

async fn progress_is_kept(store: &dyn Store) {
    create(store, "w1", "r1", 100).await;
    commit(
        store,
        vec![StepCommit {
            progress: Some(json!({ "done": 1, "of": 3 })),
            ..step("r1", 1, 1)
        }],
    )
    .await
    .unwrap();
    commit(store, vec![step("r1", 2, 1)]).await.unwrap();
    assert_eq!(
        record(store, "r1").await.progress,
        Some(json!({ "done": 1, "of": 3 }))
    );
    commit(
        store,
        vec![StepCommit {
            status: status(WorkflowStatus::Blocked, None, Some("stuck")),
            ..step("r1", 3, 0)
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        record(store, "r1").await.progress,
        Some(json!({ "done": 1, "of": 3 }))
    );
    commit(
        store,
        vec![StepCommit {
            progress: Some(Value::Null),
            ..step("r1", 3, 1)
        }],
    )
    .await
    .unwrap();
    assert_eq!(record(store, "r1").await.progress, Some(Value::Null));
}

async fn latest_run_follows_the_workflow(store: &dyn Store) {
    assert_eq!(store.latest_run("w1").await.unwrap(), None);
    create(store, "w1", "r1", 100).await;
    create(store, "w2", "r2", 150).await;
    assert_eq!(store.latest_run("w1").await.unwrap().unwrap().run_id, "r1");
    commit(
        store,
        vec![StepCommit {
            status: status(WorkflowStatus::Completed, Some(Value::Null), None),
            progress: Some(json!(7)),
            ..step("r1", 1, 2)
        }],
    )
    .await
    .unwrap();
    let latest = store.latest_run("w1").await.unwrap().unwrap();
    assert_eq!(
        latest,
        RunRecord {
            workflow_id: "w1".to_owned(),
            run_id: "r1".to_owned(),
            name: "etl".to_owned(),
            status: WorkflowStatus::Completed,
            // `Some(null)`, the output of a workflow returning `()`, is not `None`.
            result: Some(Value::Null),
            error: None,
            progress: Some(json!(7)),
            created_ms: 100,
            updated_ms: 2_001,
        }
    );
    let again = store
        .create_workflow(new_workflow("w1", "r9", 300))
        .await
        .unwrap();
    assert_eq!(again, Created::Existing(latest));
    assert_eq!(store.latest_run("w2").await.unwrap().unwrap().run_id, "r2");
}

async fn a_step_without_events_skips_the_first_index_check(store: &dyn Store) {
    create(store, "w1", "r1", 100).await;
    commit(store, vec![step("r1", 1, 2)]).await.unwrap();
    // A change of status alone, from a worker that does not know the length.
    commit(
        store,
        vec![StepCommit {
            status: status(WorkflowStatus::Blocked, None, Some("stuck")),
            ..step("r1", 0, 0)
        }],
    )
    .await
    .unwrap();
    let run = record(store, "r1").await;
    assert_eq!(
        (run.status, run.error.as_deref()),
        (WorkflowStatus::Blocked, Some("stuck"))
    );
    assert_eq!(history(store, "r1").await, expected_history("r1", 3));
    // With events, the check applies.
    assert!(commit(store, vec![step("r1", 0, 1)]).await.is_err());
    // An unknown run fails all the same.
    assert!(commit(store, vec![step("nope", 0, 0)]).await.is_err());
}

async fn every_end_of_a_run_finishes_it(store: &dyn Store) {
    let ends = [
        WorkflowStatus::Completed,
        WorkflowStatus::Failed,
        WorkflowStatus::Cancelled,
        WorkflowStatus::Terminated,
        WorkflowStatus::ContinuedAsNew,
    ];
    for (i, end) in ends.into_iter().enumerate() {
        let (w, r) = (format!("w{i}"), format!("r{i}"));
        create(store, &w, &r, 100).await;
        commit(
            store,
            vec![StepCommit {
                new_tasks: vec![activity(&w, &r, 1)],
                ..step(&r, 1, 1)
            }],
        )
        .await
        .unwrap();
        commit(
            store,
            vec![StepCommit {
                status: status(end, None, Some("reason")),
                ..step(&r, 2, 1)
            }],
        )
        .await
        .unwrap();
        assert!(store.tasks(Some(&r)).await.unwrap().is_empty(), "{end:?}");
        let run = record(store, &r).await;
        assert_eq!((run.status, run.error.as_deref()), (end, Some("reason")));
    }
    create(store, "w-live", "r-live", 100).await;
    let unfinished = store.unfinished_runs().await.unwrap();
    assert_eq!(unfinished.len(), 1);
    assert_eq!(unfinished[0].run_id, "r-live");
}

async fn continue_as_new_starts_the_next_run(store: &dyn Store) {
    create(store, "w1", "r1", 100).await;
    create(store, "w2", "r2", 100).await;
    commit(
        store,
        vec![StepCommit {
            new_tasks: vec![activity("w1", "r1", 1), timer("w1", "r1", 2, 5_000)],
            progress: Some(json!("first run")),
            ..step("r1", 1, 1)
        }],
    )
    .await
    .unwrap();
    commit(
        store,
        vec![StepCommit {
            status: status(WorkflowStatus::ContinuedAsNew, None, None),
            new_run: Some(NewRun {
                run_id: "r1b".to_owned(),
                started_event: started("r1b"),
            }),
            now_ms: 7_000,
            ..step("r1", 2, 2)
        }],
    )
    .await
    .unwrap();

    let old = record(store, "r1").await;
    assert_eq!(old.status, WorkflowStatus::ContinuedAsNew);
    assert!(store.tasks(Some("r1")).await.unwrap().is_empty());
    let new = RunRecord {
        workflow_id: "w1".to_owned(),
        run_id: "r1b".to_owned(),
        name: "etl".to_owned(),
        status: WorkflowStatus::Running,
        result: None,
        error: None,
        progress: None,
        created_ms: 7_000,
        updated_ms: 7_000,
    };
    assert_eq!(store.latest_run("w1").await.unwrap(), Some(new.clone()));
    assert_eq!(history(store, "r1b").await, vec![started("r1b")]);
    assert_eq!(history(store, "r1").await, expected_history("r1", 4));
    assert_eq!(store.runs("w1").await.unwrap(), vec![old, new.clone()]);
    assert!(store.runs("nope").await.unwrap().is_empty());
    let ids: Vec<String> = store
        .unfinished_runs()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    assert_eq!(ids, ["r2", "r1b"]);
    let again = store
        .create_workflow(new_workflow("w1", "r9", 9_000))
        .await
        .unwrap();
    assert_eq!(again, Created::Existing(new));

    // The next run's id must be new: otherwise the step writes nothing.
    let error = commit(
        store,
        vec![StepCommit {
            status: status(WorkflowStatus::ContinuedAsNew, None, None),
            new_run: Some(NewRun {
                run_id: "r2".to_owned(),
                started_event: started("r2"),
            }),
            ..step("r1b", 1, 1)
        }],
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("`r2` exists already"), "{error}");
    assert_eq!(record(store, "r1b").await.status, WorkflowStatus::Running);
    assert_eq!(history(store, "r1b").await, vec![started("r1b")]);
    assert_eq!(store.latest_run("w1").await.unwrap().unwrap().run_id, "r1b");
    assert_eq!(store.runs("w2").await.unwrap().len(), 1);
}

fn signal(name: &str, payload: Value) -> InboxItem {
    InboxItem::Signal(crate::history::SignalData {
        name: name.to_owned(),
        payload,
    })
}

async fn the_inbox_keeps_messages_until_a_step_consumes_them(store: &dyn Store) {
    let enqueue = |workflow_id: &'static str, item: InboxItem| async move {
        store.enqueue(workflow_id, item, 500).await.unwrap()
    };
    assert_eq!(enqueue("w1", InboxItem::Cancel).await, Enqueued::NotFound);
    create(store, "w1", "r1", 100).await;
    create(store, "w2", "r2", 100).await;
    let items = [
        ("w1", signal("approve", json!({ "by": "ann" }))),
        ("w2", signal("poke", Value::Null)),
        ("w1", InboxItem::Cancel),
        (
            "w1",
            InboxItem::Terminate {
                reason: "by hand".to_owned(),
            },
        ),
    ];
    let mut ids = Vec::new();
    for (workflow_id, item) in items.clone() {
        match enqueue(workflow_id, item).await {
            Enqueued::Accepted { id, run_id } => {
                assert_eq!(run_id, workflow_id.replace('w', "r"));
                ids.push(id);
            }
            other => panic!("expected the message to be accepted, got {other:?}"),
        }
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let expected: Vec<InboxRecord> = ids
        .iter()
        .zip(items)
        .map(|(id, (workflow_id, item))| InboxRecord {
            id: *id,
            workflow_id: workflow_id.to_owned(),
            item,
        })
        .collect();
    assert_eq!(store.inbox().await.unwrap(), expected);

    // A step consumes messages; a failed step does not.
    let results = store
        .commit_steps(vec![
            StepCommit {
                done_inbox: vec![ids[2]],
                ..step("r1", 7, 1)
            },
            StepCommit {
                done_inbox: vec![ids[0], ids[3], 12_345],
                ..step("r1", 1, 1)
            },
        ])
        .await;
    assert!(results[0].is_err() && results[1].is_ok(), "{results:?}");
    assert_eq!(
        store.inbox().await.unwrap(),
        vec![expected[1].clone(), expected[2].clone()]
    );

    // Ids are never given again, even once the newest message is consumed.
    commit(
        store,
        vec![StepCommit {
            done_inbox: vec![ids[2]],
            ..step("r1", 2, 1)
        }],
    )
    .await
    .unwrap();
    let Enqueued::Accepted { id, .. } = enqueue("w1", InboxItem::Cancel).await else {
        panic!("expected the message to be accepted");
    };
    assert!(id > ids[3], "{id} after {ids:?}");

    // A workflow whose latest run ended takes no more messages.
    commit(
        store,
        vec![StepCommit {
            status: status(WorkflowStatus::Terminated, None, Some("by hand")),
            done_inbox: vec![id],
            ..step("r1", 3, 1)
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        enqueue("w1", InboxItem::Cancel).await,
        Enqueued::Finished(WorkflowStatus::Terminated)
    );
    // Unless it continued as new: its messages go to the next run.
    commit(
        store,
        vec![StepCommit {
            status: status(WorkflowStatus::ContinuedAsNew, None, None),
            new_run: Some(NewRun {
                run_id: "r2b".to_owned(),
                started_event: started("r2b"),
            }),
            ..step("r2", 1, 1)
        }],
    )
    .await
    .unwrap();
    let Enqueued::Accepted { run_id, .. } = enqueue("w2", InboxItem::Cancel).await else {
        panic!("expected the message to be accepted");
    };
    assert_eq!(run_id, "r2b");
    let workflows: Vec<String> = store
        .inbox()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.workflow_id)
        .collect();
    assert_eq!(workflows, ["w2", "w2"]);
}

async fn record_heartbeat_keeps_the_latest_details(store: &dyn Store) {
    create(store, "w1", "r1", 100).await;
    let task = activity("w1", "r1", 1);
    commit(
        store,
        vec![StepCommit {
            new_tasks: vec![task.clone()],
            ..step("r1", 1, 1)
        }],
    )
    .await
    .unwrap();
    store
        .record_heartbeat("r1", 1, 0, json!({ "offset": 100 }), LEASE)
        .await
        .unwrap();
    store
        .record_heartbeat("r1", 1, 0, json!({ "offset": 200 }), LEASE)
        .await
        .unwrap();
    let expected = Task {
        details: Some(json!({ "offset": 200 })),
        ..task
    };
    assert_eq!(
        store.tasks(Some("r1")).await.unwrap(),
        vec![expected.clone()]
    );
    // A retry keeps them.
    store
        .retry_task(TaskRetry {
            run_id: "r1".to_owned(),
            seq: 1,
            token: 0,
            next_attempt: 2,
            due_ms: 3_000,
            last_error: "HeartbeatTimeout".to_owned(),
        })
        .await
        .unwrap();
    let tasks = store.tasks(Some("r1")).await.unwrap();
    assert_eq!(tasks[0].details, expected.details);
    // A task that is gone: the attempt learns it has lost its task.
    let gone = store.record_heartbeat("r1", 9, 0, json!(1), LEASE).await;
    assert!(gone.is_err_and(|e| e.is_fenced()));
    let gone = store.record_heartbeat("nope", 1, 0, json!(1), LEASE).await;
    assert!(gone.is_err_and(|e| e.is_fenced()));
    assert_eq!(store.tasks(None).await.unwrap().len(), 1);
}

// ---------------------------------------------------------------------------
// Several workers

fn lease(worker: &str, ms: u64) -> Lease {
    Lease {
        worker: worker.to_owned(),
        duration: Duration::from_millis(ms),
    }
}

const NAMES: &[&str] = &["etl", "fetch"];

fn filter(names: &[String], limit: usize) -> ClaimFilter<'_> {
    ClaimFilter {
        names,
        limit,
        horizon_ms: 0,
    }
}

fn names() -> Vec<String> {
    NAMES.iter().map(|n| (*n).to_owned()).collect()
}

/// Runs `w0..wN` created by no worker, as a client creates them.
async fn client_runs(store: &dyn Store, count: usize) {
    for i in 0..count {
        create(store, &format!("w{i}"), &format!("r{i}"), 1_000 + i as u64).await;
    }
}

async fn claim_runs_by(store: &dyn Store, worker: &Lease, limit: usize) -> Vec<ClaimedRun> {
    let names = names();
    store
        .claim_runs(worker, filter(&names, limit))
        .await
        .unwrap()
}

async fn claim_tasks_by(store: &dyn Store, worker: &Lease, limit: usize) -> Vec<Task> {
    let names = names();
    store
        .claim_tasks(worker, filter(&names, limit))
        .await
        .unwrap()
}

fn run_ids(claimed: &[ClaimedRun]) -> Vec<String> {
    claimed.iter().map(|c| c.record.run_id.clone()).collect()
}

async fn claim_hands_out_new_runs_once_each_capped_per_call(store: &dyn Store) {
    client_runs(store, 5).await;
    let (a, b) = (lease("a", 60_000), lease("b", 60_000));
    let first = claim_runs_by(store, &a, 3).await;
    assert_eq!(run_ids(&first), ["r0", "r1", "r2"], "oldest first, capped");
    assert!(first.iter().all(|c| c.taken && c.token > 0));
    let second = claim_runs_by(store, &b, 10).await;
    assert_eq!(
        run_ids(&second),
        ["r3", "r4"],
        "never a run another worker holds"
    );
    assert!(claim_runs_by(store, &b, 10).await.is_empty());
    // A's own runs come back only with new messages, under the same token.
    assert!(claim_runs_by(store, &a, 10).await.is_empty());
    store.enqueue("w1", InboxItem::Cancel, 2_000).await.unwrap();
    let again = claim_runs_by(store, &a, 10).await;
    assert_eq!(run_ids(&again), ["r1"]);
    assert!(!again[0].taken);
    assert_eq!(again[0].token, first[1].token);
    assert_eq!(again[0].inbox.len(), 1);
    assert!(claim_runs_by(store, &b, 10).await.is_empty());
    // Tokens are never given twice.
    let mut tokens: Vec<u64> = first.iter().chain(&second).map(|c| c.token).collect();
    tokens.sort_unstable();
    tokens.dedup();
    assert_eq!(tokens.len(), 5);
}

async fn concurrent_claimers_never_share_a_run(store: &dyn Store) {
    client_runs(store, 40).await;
    let workers: Vec<Lease> = (0..4).map(|i| lease(&format!("w{i}"), 60_000)).collect();
    let claims = futures_util::future::join_all(workers.iter().map(|w| async move {
        let mut mine = Vec::new();
        loop {
            let got = claim_runs_by(store, w, 3).await;
            if got.is_empty() {
                return mine;
            }
            mine.extend(run_ids(&got));
        }
    }))
    .await;
    let mut all: Vec<String> = claims.into_iter().flatten().collect();
    assert_eq!(all.len(), 40, "every run claimed once");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 40, "no run claimed twice");
}

async fn an_expired_lease_moves_work_and_fences_the_old_owner(store: &dyn Store) {
    client_runs(store, 1).await;
    let (a, b) = (lease("a", 200), lease("b", 60_000));
    let claimed = claim_runs_by(store, &a, 10).await;
    let old = claimed[0].token;
    let mut first = step("r0", 1, 2);
    first.token = old;
    first.lease = Some(std::sync::Arc::new(a.clone()));
    first.new_tasks = vec![timer("w0", "r0", 0, 0)];
    commit(store, vec![first]).await.unwrap();
    // While A's lease lasts, B gets nothing, even with the timer due.
    assert!(claim_runs_by(store, &b, 10).await.is_empty());
    tokio::time::sleep(Duration::from_millis(400)).await;
    let taken = claim_runs_by(store, &b, 10).await;
    assert_eq!(
        run_ids(&taken),
        ["r0"],
        "an expired lease with a due timer moves"
    );
    assert!(taken[0].taken);
    assert_ne!(taken[0].token, old);
    assert_eq!(
        task_keys(&taken[0].tasks),
        [("r0", 0)],
        "the new owner arms its timers"
    );
    // A's stale write changes nothing.
    let mut stale = step("r0", 3, 1);
    stale.token = old;
    let err = commit(store, vec![stale]).await.unwrap_err();
    assert!(err.is_fenced(), "{err}");
    assert_eq!(history(store, "r0").await, expected_history("r0", 3));
    // B's write goes through.
    let mut fresh = step("r0", 3, 1);
    fresh.token = taken[0].token;
    commit(store, vec![fresh]).await.unwrap();
    assert_eq!(history(store, "r0").await.len(), 4);
}

async fn renewal_keeps_a_lease_and_release_gives_it_back(store: &dyn Store) {
    client_runs(store, 1).await;
    let (a, b) = (lease("a", 300), lease("b", 60_000));
    let claimed = claim_runs_by(store, &a, 10).await;
    assert_eq!(claimed.len(), 1);
    store.enqueue("w0", InboxItem::Cancel, 2_000).await.unwrap();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        store.renew(&a).await.unwrap();
        assert!(
            claim_runs_by(store, &b, 10).await.is_empty(),
            "renewed: still A's"
        );
    }
    store
        .release(Release::Worker("a".to_owned()))
        .await
        .unwrap();
    let taken = claim_runs_by(store, &b, 10).await;
    assert_eq!(run_ids(&taken), ["r0"], "released: B takes it at once");
    // Releasing one run needs its current token.
    store
        .release(Release::Run {
            run_id: "r0".to_owned(),
            token: claimed[0].token,
        })
        .await
        .unwrap();
    assert!(
        claim_runs_by(store, &a, 10).await.is_empty(),
        "a stale release does nothing"
    );
    store
        .release(Release::Run {
            run_id: "r0".to_owned(),
            token: taken[0].token,
        })
        .await
        .unwrap();
    assert_eq!(run_ids(&claim_runs_by(store, &a, 10).await), ["r0"]);
}

async fn claim_tasks_hands_out_free_attempts_once_each(store: &dyn Store) {
    client_runs(store, 1).await;
    let a = lease("a", 200);
    let (b, c) = (lease("b", 60_000), lease("c", 60_000));
    let run = claim_runs_by(store, &a, 10).await;
    let mut first = step("r0", 1, 2);
    first.token = run[0].token;
    first.lease = Some(std::sync::Arc::new(a.clone()));
    first.new_tasks = (1..=4).map(|seq| activity("w0", "r0", seq)).collect();
    commit(store, vec![first]).await.unwrap();
    assert!(
        claim_tasks_by(store, &b, 10).await.is_empty(),
        "A's tasks are A's"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (got_b, got_c) =
        futures_util::future::join(claim_tasks_by(store, &b, 3), claim_tasks_by(store, &c, 3))
            .await;
    assert!(got_b.len() <= 3 && got_c.len() <= 3, "capped per call");
    let mut seqs: Vec<u32> = got_b.iter().chain(&got_c).map(|t| t.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, [1, 2, 3, 4], "each task once");
    assert!(got_b.iter().chain(&got_c).all(|t| t.token != run[0].token));
    // Tasks of other types are left for workers that have them.
    let only: Vec<String> = vec!["other".to_owned()];
    assert!(store
        .claim_tasks(&lease("d", 60_000), filter(&only, 10))
        .await
        .unwrap()
        .is_empty());
}

async fn task_writes_are_fenced_by_the_task_token(store: &dyn Store) {
    client_runs(store, 1).await;
    let a = lease("a", 200);
    let b = lease("b", 60_000);
    let run = claim_runs_by(store, &a, 10).await;
    let mut first = step("r0", 1, 2);
    first.token = run[0].token;
    first.lease = Some(std::sync::Arc::new(a.clone()));
    first.new_tasks = vec![activity("w0", "r0", 1)];
    commit(store, vec![first]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let taken = claim_tasks_by(store, &b, 10).await;
    assert_eq!(taken.len(), 1);
    let old = run[0].token;
    let fresh = taken[0].token;
    // The old holder's retry, heartbeat and completion change nothing.
    let retry = |token| TaskRetry {
        run_id: "r0".to_owned(),
        seq: 1,
        token,
        next_attempt: 2,
        due_ms: 99_000,
        last_error: "x".to_owned(),
    };
    assert!(store.retry_task(retry(old)).await.unwrap_err().is_fenced());
    let beat = store
        .record_heartbeat("r0", 1, old, json!("stale"), LEASE)
        .await;
    assert!(beat.unwrap_err().is_fenced());
    let done = |token| TaskDone {
        workflow_id: "w0".to_owned(),
        run_id: "r0".to_owned(),
        seq: 1,
        token,
        result: Ok(json!(7)),
        now_ms: 5_000,
    };
    assert!(store
        .complete_task(done(old))
        .await
        .unwrap_err()
        .is_fenced());
    let tasks = store.tasks(Some("r0")).await.unwrap();
    assert_eq!(tasks[0].attempt, 1);
    assert_eq!(tasks[0].details, Some(json!({ "offset": 42 })));
    assert!(store.inbox().await.unwrap().is_empty());
    // The new holder's completion ends the task and becomes the run's input,
    // once: a second completion of the same call adds nothing.
    store.complete_task(done(fresh)).await.unwrap();
    store.complete_task(done(fresh)).await.unwrap();
    assert!(store.tasks(Some("r0")).await.unwrap().is_empty());
    let inbox = store.inbox().await.unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        inbox[0].item,
        InboxItem::Completed {
            seq: 1,
            result: Ok(json!(7))
        }
    );
    // A's lease had expired: the run, with its new input, goes to a claimer.
    let claimed = claim_runs_by(store, &b, 10).await;
    assert_eq!(run_ids(&claimed), ["r0"]);
    assert_eq!(claimed[0].inbox.len(), 1);
}

async fn a_finished_run_is_not_claimed_and_drops_its_messages(store: &dyn Store) {
    client_runs(store, 1).await;
    let a = lease("a", 60_000);
    let run = claim_runs_by(store, &a, 10).await;
    store
        .enqueue("w0", signal("late", json!(1)), 2_000)
        .await
        .unwrap();
    let mut end = step("r0", 1, 2);
    end.token = run[0].token;
    end.status = status(WorkflowStatus::Completed, Some(json!(1)), None);
    commit(store, vec![end]).await.unwrap();
    assert!(store.inbox().await.unwrap().is_empty());
    assert!(claim_runs_by(store, &lease("b", 60_000), 10)
        .await
        .is_empty());
}

/// Instantiates each generic test for every store.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(&crate::store::memory::MemoryStore::default()).await;
                }
            )*
        }

        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = super::TempDb::new();
                    let store = crate::store::sqlite::SqliteStore::open(db.path())
                        .await
                        .expect("opening a new database");
                    super::$name(&store).await;
                }
            )*
        }

        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, _db) = crate::store::postgres::testing::test_store().await;
                    super::$name(&store).await;
                }
            )*
        }
    };
}

conformance!(
    create_is_idempotent_on_the_workflow_id,
    commit_appends_events_and_tasks,
    a_stale_first_index_writes_nothing,
    a_failed_step_does_not_block_the_others,
    an_empty_commit_succeeds,
    done_tasks_are_removed,
    finishing_a_run_removes_its_tasks,
    retry_task_updates_the_task,
    unfinished_runs_lists_running_and_blocked_runs_oldest_first,
    tasks_lists_every_run_by_run_then_seq,
    load_run_returns_rows_in_index_order,
    progress_is_kept,
    latest_run_follows_the_workflow,
    a_step_without_events_skips_the_first_index_check,
    every_end_of_a_run_finishes_it,
    continue_as_new_starts_the_next_run,
    the_inbox_keeps_messages_until_a_step_consumes_them,
    record_heartbeat_keeps_the_latest_details,
    claim_hands_out_new_runs_once_each_capped_per_call,
    concurrent_claimers_never_share_a_run,
    an_expired_lease_moves_work_and_fences_the_old_owner,
    renewal_keeps_a_lease_and_release_gives_it_back,
    claim_tasks_hands_out_free_attempts_once_each,
    task_writes_are_fenced_by_the_task_token,
    a_finished_run_is_not_claimed_and_drops_its_messages,
);

/// A database path in the temporary directory, removed with its sibling
/// files when dropped.
struct TempDb {
    path: PathBuf,
}

impl TempDb {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("reprise-test-{}.db", uuid::Uuid::new_v4()));
        Self { path }
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal", "-lock"] {
            let _ = std::fs::remove_file(self.sibling(suffix));
        }
    }
}

// ---------------------------------------------------------------------------
// SQLite only

mod sqlite_only {
    use super::*;
    use crate::error::Error;
    use crate::store::sqlite::{lock_path, SqliteStore, SqliteSync, SCHEMA_VERSION};

    async fn open(db: &TempDb) -> SqliteStore {
        SqliteStore::open(db.path())
            .await
            .expect("opening the database")
    }

    fn config_error(result: Result<SqliteStore, Error>) -> String {
        match result {
            Err(Error::Config(message)) => message,
            other => panic!("expected a configuration error, got {other:?}"),
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
            let message = config_error(SqliteStore::open(db.path()).await);
            let expected = format!("`{}` is not a reprise database", db.path().display());
            assert!(message.contains(&expected), "{message}");
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
        let message = config_error(SqliteStore::open(db.path()).await);
        let expected = format!("`{}` is not a reprise database", db.path().display());
        assert!(message.contains(&expected), "{message}");
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
        let message = config_error(SqliteStore::open(db.path()).await);
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
        let message = config_error(SqliteStore::open(db.path()).await);
        let expected = format!(
            "`{}` is in use by another process (lock file `{}`)",
            db.path().display(),
            lock_path(db.path()).display()
        );
        assert_eq!(message, expected);
        drop(first);
        let second = open(&db).await;
        create(&second, "w1", "r1", 100).await;
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
}
