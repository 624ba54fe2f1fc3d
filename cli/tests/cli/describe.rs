//! `reprise describe`: a pending activity being retried, a blocked run, a
//! completed one, a timer; `--json`.

use reprise::WorkflowStatus;

use crate::common::{reprise, wait_for_status, wait_until, TempStore};
use crate::flows::{doomed_body, greet, retrier, sleeper, worker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_shows_retries_heartbeats_blocks_timers_and_results() {
    let store = TempStore::new("describe");
    let rt = worker(&store.path).await;
    let db = Some(store.path.as_path());

    // An activity whose first attempt failed: the next one waits an hour.
    rt.start(retrier, ()).id("retrying").await.unwrap();
    wait_until(&rt, "retrying", "second attempt", |i| {
        i.pending.first().is_some_and(|s| s.attempt == 2)
    })
    .await;
    let out = reprise(db, &["describe", "retrying"]).await.ok();
    assert!(out.contains("status    running"), "{out}");
    let step = out
        .lines()
        .find(|l| l.contains("activity `flaky` seq 0"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(step.contains("attempt 2 of 5, next attempt in "), "{out}");
    assert!(
        step.contains("last error: DbDown: the database is down"),
        "{out}"
    );
    assert!(
        step.contains(r#"last heartbeat "#) && step.contains(r#"{"row":42}"#),
        "{out}"
    );
    let json = reprise(db, &["describe", "retrying", "--json"])
        .await
        .json();
    let pending = &json["pending"][0];
    assert_eq!(pending["kind"], "activity");
    assert_eq!(pending["name"], "flaky");
    assert_eq!(
        (
            pending["attempt"].as_u64(),
            pending["max_attempts"].as_u64()
        ),
        (Some(2), Some(5))
    );
    assert!(pending["last_error"]
        .as_str()
        .unwrap()
        .contains("the database is down"));
    assert_eq!(pending["heartbeat"]["row"], 42);
    assert!(pending["due_at"].as_u64() > pending["scheduled_at"].as_u64());
    assert_eq!(json["status"], "running");
    assert_eq!(json["runs"].as_array().unwrap().len(), 1);

    // A body that panics: blocked, with the panic as its error.
    rt.start(doomed_body, ()).id("blocked").await.unwrap();
    wait_for_status(&rt, "blocked", WorkflowStatus::Blocked).await;
    let out = reprise(db, &["describe", "blocked"]).await.ok();
    assert!(out.contains("status    blocked"), "{out}");
    let error = out
        .lines()
        .find(|l| l.starts_with("error "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(error.contains("seven is not allowed"), "{out}");
    assert!(
        out.contains("\nsince     20") && out.contains(" ago)\n"),
        "{out}"
    );
    assert!(out.contains("reprise resume blocked"), "{out}");
    let json = reprise(db, &["describe", "blocked", "--json"]).await.json();
    assert_eq!(json["status"], "blocked");
    assert!(json["error"]
        .as_str()
        .unwrap()
        .contains("seven is not allowed"));
    assert!(json["error_since"].as_u64().is_some());

    // A timer, with its fire time.
    rt.start(sleeper, ()).id("sleeping").await.unwrap();
    wait_until(&rt, "sleeping", "a timer", |i| !i.pending.is_empty()).await;
    let out = reprise(db, &["describe", "sleeping"]).await.ok();
    assert!(
        out.contains("  timer seq 0: fires at ") && out.contains("(in 59m"),
        "{out}"
    );

    // A completed workflow: its progress, run and result.
    rt.start(greet, "ada".to_owned())
        .id("done")
        .await
        .unwrap()
        .result()
        .await
        .unwrap();
    let out = reprise(db, &["describe", "done"]).await.ok();
    assert!(
        out.starts_with("workflow  done\ntype      greet\nstatus    completed\n"),
        "{out}"
    );
    assert!(out.contains("progress  greeted  1/1 (100%)"), "{out}");
    assert!(out.contains(r#"result    hello ADA"#), "{out}");
    assert!(out.contains("runs      1 (oldest first)"), "{out}");
    let json = reprise(db, &["describe", "done", "--json"]).await.json();
    assert_eq!(json["result"], "hello ADA");
    assert_eq!(json["runs"][0]["status"], "completed");
    assert_eq!(json["progress"]["phase"], "greeted");
    rt.shutdown().await.unwrap();
}
