//! `reprise schedule list | pause | unpause | trigger | delete` on the
//! schedules of a worker running beside the command.

use reprise::WorkflowStatus;

use crate::common::{reprise, wait_for_status, TempStore};
use crate::flows::{greet, worker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_are_listed_paused_triggered_and_deleted() {
    let store = TempStore::new("schedule");
    let rt = worker(&store.path).await;
    let db = Some(store.path.as_path());
    assert_eq!(
        reprise(db, &["schedule", "list"]).await.ok(),
        "no schedules\n"
    );
    // New Year's Day at midnight: no tick fires during the test.
    rt.schedule("yearly", "0 0 1 1 *", greet, "ann".to_owned())
        .await
        .unwrap();

    let out = reprise(db, &["schedule", "list"]).await.ok();
    let first = out.lines().next().unwrap();
    assert_eq!(
        first,
        "yearly  `0 0 1 1 *`  greet(\"ann\")  overlap skip  active"
    );
    assert!(out.contains("  next tick "), "{out}");
    assert!(out.contains("-01-01T00:00:00Z (in "), "{out}");
    assert!(
        out.contains("catch-up window 1h 0m; skipped 0, missed 0"),
        "{out}"
    );

    let out = reprise(db, &["schedule", "pause", "yearly"]).await.ok();
    assert_eq!(
        out,
        "paused schedule `yearly`: no tick fires until it is unpaused\n"
    );
    let listed = reprise(db, &["schedule", "list", "--json"]).await.json();
    let s = &listed["schedules"][0];
    assert_eq!(s["id"], "yearly");
    assert_eq!(s["paused"], true);
    assert_eq!(s["next_tick_ms"], serde_json::Value::Null);
    assert_eq!(s["workflow_type"], "greet");
    assert_eq!(s["overlap"], "skip");
    assert_eq!(s["catchup_window_ms"], 3_600_000);

    // A trigger starts a run now; the worker runs it.
    let out = reprise(db, &["schedule", "trigger", "yearly"]).await.ok();
    let id = out
        .strip_prefix("started workflow `")
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("{out}"))
        .to_owned();
    assert!(id.starts_with("yearly@") && id.ends_with('Z'), "{id}");
    assert_eq!(
        out,
        format!("started workflow `{id}` of schedule `yearly`\n")
    );
    wait_for_status(&rt, &id, WorkflowStatus::Completed).await;
    let listed = reprise(db, &["schedule", "list", "--json"]).await.json();
    let runs = &listed["schedules"][0]["recent_runs"];
    assert_eq!(runs[0]["workflow_id"], id.as_str());
    assert_eq!(runs[0]["status"], "completed");
    assert_eq!(runs[0]["running"], false);
    let out = reprise(db, &["schedule", "list"]).await.ok();
    assert!(out.contains(&format!("  run {id}  completed\n")), "{out}");
    assert!(out.lines().next().unwrap().ends_with("paused"), "{out}");

    let out = reprise(db, &["schedule", "unpause", "yearly"]).await.ok();
    assert_eq!(
        out,
        "unpaused schedule `yearly`: it fires from its next tick on\n"
    );
    let listed = reprise(db, &["schedule", "list", "--json"]).await.json();
    assert_eq!(listed["schedules"][0]["paused"], false);

    let out = reprise(db, &["schedule", "delete", "yearly"]).await.ok();
    assert_eq!(out, "deleted schedule `yearly` (its runs stay)\n");
    assert_eq!(
        reprise(db, &["schedule", "list"]).await.ok(),
        "no schedules\n"
    );
    assert_eq!(
        rt.describe(&id).await.unwrap().status,
        WorkflowStatus::Completed
    );

    for action in ["pause", "unpause", "trigger", "delete"] {
        let line = reprise(db, &["schedule", action, "yearly"]).await.fails(1);
        assert_eq!(line, "reprise: no schedule with id `yearly`");
    }
    rt.shutdown().await.unwrap();
}
