//! The generic cases of listing workflows (`list_runs`).

use super::*;

/// Creates `workflow_id` (type `name`, run `run_id`) at `now_ms`.
async fn create_named(store: &dyn Store, workflow_id: &str, run_id: &str, name: &str, now_ms: u64) {
    let created = store
        .create_workflow(NewWorkflow {
            name: name.to_owned(),
            ..new_workflow(workflow_id, run_id, now_ms)
        })
        .await
        .unwrap();
    assert_eq!(created, Created::New { token: 0 });
}

/// The workflow ids `query` lists.
async fn listed(store: &dyn Store, query: ListQuery) -> Vec<String> {
    store
        .list_runs(query)
        .await
        .unwrap()
        .into_iter()
        .map(|run| run.record.workflow_id)
        .collect()
}

fn all(limit: usize) -> ListQuery {
    ListQuery {
        limit,
        ..ListQuery::default()
    }
}

pub(super) async fn list_runs_filters_and_pages_the_latest_runs(store: &dyn Store) {
    assert!(listed(store, all(10)).await.is_empty());
    // w1..w5 in creation order, two types; w2 ends, w3 is blocked, w4
    // continues as a new run (created last: it lists first).
    for (i, name) in ["etl", "sync", "etl", "sync", "etl"].iter().enumerate() {
        let n = i as u64 + 1;
        create_named(store, &format!("w{n}"), &format!("r{n}"), name, n * 1_000).await;
    }
    commit(
        store,
        vec![
            StepCommit {
                status: status(WorkflowStatus::Completed, Some(json!(7)), None),
                ..step("r2", 1, 1)
            },
            StepCommit {
                status: status(WorkflowStatus::Blocked, None, Some("replay diverged")),
                ..step("r3", 1, 0)
            },
            StepCommit {
                status: status(WorkflowStatus::ContinuedAsNew, None, None),
                new_run: Some(NewRun {
                    run_id: "r4b".to_owned(),
                    started_event: started("r4b"),
                }),
                now_ms: 9_000,
                ..step("r4", 1, 1)
            },
        ],
    )
    .await
    .unwrap();

    // Newest run first, one entry per workflow: its latest run.
    assert_eq!(listed(store, all(10)).await, ["w4", "w5", "w3", "w2", "w1"]);
    let runs = store.list_runs(all(10)).await.unwrap();
    assert_eq!(runs[0].record.run_id, "r4b");
    assert_eq!(runs[0].record.status, WorkflowStatus::Running);
    assert_eq!(runs[2].record.error.as_deref(), Some("replay diverged"));
    assert!(runs.windows(2).all(|w| w[0].position > w[1].position));

    // Pages: `before` is the last position of the previous page.
    let first = store.list_runs(all(2)).await.unwrap();
    assert_eq!(first.len(), 2);
    let second = ListQuery {
        before: Some(first[1].position),
        ..all(2)
    };
    assert_eq!(listed(store, second.clone()).await, ["w3", "w2"]);
    let last = store.list_runs(second).await.unwrap();
    let third = ListQuery {
        before: Some(last[1].position),
        ..all(2)
    };
    assert_eq!(listed(store, third).await, ["w1"]);

    // Filters, alone and together.
    let by = |status: Option<WorkflowStatus>, name: Option<&str>| ListQuery {
        status,
        name: name.map(str::to_owned),
        ..all(10)
    };
    assert_eq!(
        listed(store, by(Some(WorkflowStatus::Running), None)).await,
        ["w4", "w5", "w1"]
    );
    assert_eq!(
        listed(store, by(Some(WorkflowStatus::Blocked), None)).await,
        ["w3"]
    );
    assert_eq!(
        listed(store, by(Some(WorkflowStatus::Completed), None)).await,
        ["w2"]
    );
    // An older run's status does not list its workflow.
    assert!(
        listed(store, by(Some(WorkflowStatus::ContinuedAsNew), None))
            .await
            .is_empty()
    );
    assert_eq!(listed(store, by(None, Some("sync"))).await, ["w4", "w2"]);
    assert_eq!(
        listed(store, by(Some(WorkflowStatus::Running), Some("etl"))).await,
        ["w5", "w1"]
    );
    assert!(listed(store, by(None, Some("nope"))).await.is_empty());
    // Time: the latest run's start, in [since, until).
    let window = ListQuery {
        since_ms: Some(2_000),
        until_ms: Some(5_000),
        ..all(10)
    };
    assert_eq!(listed(store, window).await, ["w3", "w2"]);
    let since = ListQuery {
        since_ms: Some(9_000),
        ..all(10)
    };
    assert_eq!(listed(store, since).await, ["w4"]);
}
