//! The generic cases of one worker: creating workflows, committing steps,
//! tasks, retries, the inbox, heartbeats, continue-as-new.

use serde_json::json;

use super::*;
// The generic tests

pub(super) async fn create_is_idempotent_on_the_workflow_id(store: &dyn Store) {
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

pub(super) async fn commit_appends_events_and_tasks(store: &dyn Store) {
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

pub(super) async fn a_stale_first_index_writes_nothing(store: &dyn Store) {
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

pub(super) async fn a_failed_step_does_not_block_the_others(store: &dyn Store) {
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

pub(super) async fn an_empty_commit_succeeds(store: &dyn Store) {
    commit(store, Vec::new()).await.unwrap();
    assert!(store.commit_steps(Vec::new()).await.is_empty());
    create(store, "w1", "r1", 100).await;
    // A step without events still records its time.
    commit(store, vec![step("r1", 1, 0)]).await.unwrap();
    assert_eq!(history(store, "r1").await, expected_history("r1", 1));
    assert_eq!(record(store, "r1").await.updated_ms, 2_001);
}

pub(super) async fn done_tasks_are_removed(store: &dyn Store) {
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

pub(super) async fn finishing_a_run_removes_its_tasks(store: &dyn Store) {
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

pub(super) async fn retry_task_updates_the_task(store: &dyn Store) {
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

pub(super) async fn unfinished_runs_lists_running_and_blocked_runs_oldest_first(store: &dyn Store) {
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

pub(super) async fn tasks_lists_every_run_by_run_then_seq(store: &dyn Store) {
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

pub(super) async fn load_run_returns_rows_in_index_order(store: &dyn Store) {
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

pub(super) async fn progress_is_kept(store: &dyn Store) {
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

pub(super) async fn latest_run_follows_the_workflow(store: &dyn Store) {
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

pub(super) async fn a_step_without_events_skips_the_first_index_check(store: &dyn Store) {
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

pub(super) async fn every_end_of_a_run_finishes_it(store: &dyn Store) {
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

pub(super) async fn continue_as_new_starts_the_next_run(store: &dyn Store) {
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

/// Two steps of one run in one commit (a run blocked and stepped in one
/// batch): each is checked and written after the one before it.
pub(super) async fn two_steps_of_one_run_apply_in_order(store: &dyn Store) {
    create(store, "w1", "r1", 100).await;
    let results = store
        .commit_steps(vec![
            StepCommit {
                new_tasks: vec![activity("w1", "r1", 1)],
                ..step("r1", 1, 2)
            },
            // Follows the first step's events.
            StepCommit {
                done_tasks: vec![1],
                ..step("r1", 3, 1)
            },
            // Stale: expects the history as it was before the batch.
            step("r1", 1, 1),
            StepCommit {
                status: status(WorkflowStatus::Blocked, None, Some("stuck")),
                ..StepCommit {
                    run_id: "r1".to_owned(),
                    now_ms: 5_000,
                    ..StepCommit::default()
                }
            },
        ])
        .await;
    assert!(
        results[0].is_ok() && results[1].is_ok() && results[3].is_ok(),
        "{results:?}"
    );
    assert!(results[2].is_err(), "{results:?}");
    assert_eq!(history(store, "r1").await, expected_history("r1", 4));
    assert!(store.tasks(Some("r1")).await.unwrap().is_empty());
    let run = record(store, "r1").await;
    assert_eq!(run.status, WorkflowStatus::Blocked);
    assert_eq!(run.error.as_deref(), Some("stuck"));
}
