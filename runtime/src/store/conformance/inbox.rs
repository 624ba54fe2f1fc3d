//! The generic cases of a workflow's inbox and of heartbeat details.

use serde_json::json;

use super::*;

pub(super) async fn the_inbox_keeps_messages_until_a_step_consumes_them(store: &dyn Store) {
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

pub(super) async fn record_heartbeat_keeps_the_latest_details(store: &dyn Store) {
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
    let tasks = store.tasks(Some("r1")).await.unwrap();
    // The time of the last heartbeat is the store's now.
    let at = tasks[0].heartbeat_ms.expect("the heartbeat's time is kept");
    let now = crate::clock::now_ms();
    assert!(at <= now && now - at < 60_000, "{at} vs now {now}");
    let expected = Task {
        details: Some(json!({ "offset": 200 })),
        heartbeat_ms: Some(at),
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
