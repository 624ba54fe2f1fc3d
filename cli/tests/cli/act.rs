//! `reprise signal`, `cancel`, `terminate`, `resume` take effect on a
//! worker running beside the command.

use std::sync::atomic::Ordering;

use reprise::{WorkflowErrorKind, WorkflowStatus};

use crate::common::{reprise, wait_for_status, wait_until, TempStore};
use crate::flows::{fragile, sleeper, waiter, worker, FRAGILE_PANICS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signal_cancel_and_terminate_reach_the_worker() {
    let store = TempStore::new("act");
    let rt = worker(&store.path).await;
    let db = Some(store.path.as_path());

    let waiting = rt.start(waiter, ()).id("w").await.unwrap();
    let out = reprise(db, &["signal", "w", "stop", r#"{"reason": "enough"}"#])
        .await
        .ok();
    assert_eq!(
        out,
        "sent signal `stop` {\"reason\":\"enough\"} to workflow `w`\n"
    );
    assert_eq!(waiting.result().await.unwrap(), "enough");
    let line = reprise(db, &["signal", "w", "stop", "{}"]).await.fails(1);
    assert!(
        line.contains("workflow `w` has ended (completed)"),
        "{line}"
    );

    let sleeping = rt.start(sleeper, ()).id("s1").await.unwrap();
    let out = reprise(db, &["cancel", "s1"]).await.ok();
    assert!(out.starts_with("asked workflow `s1` to cancel"), "{out}");
    let err = sleeping.result().await.unwrap_err();
    assert!(err.is_cancelled(), "{err}");

    let sleeping = rt.start(sleeper, ()).id("s2").await.unwrap();
    let out = reprise(db, &["terminate", "s2"]).await.ok();
    assert_eq!(
        out,
        "asked to terminate workflow `s2` (terminated from the command line)\n"
    );
    let err = sleeping.result().await.unwrap_err();
    assert_eq!(err.error_kind(), WorkflowErrorKind::Terminated, "{err}");
    assert!(
        err.message().contains("terminated from the command line"),
        "{err}"
    );
    let sleeping = rt.start(sleeper, ()).id("s3").await.unwrap();
    reprise(db, &["terminate", "s3", "--reason", "bye"])
        .await
        .ok();
    let err = sleeping.result().await.unwrap_err();
    assert!(err.message().contains("bye"), "{err}");
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_retries_a_blocked_run_now() {
    let store = TempStore::new("resume");
    let rt = worker(&store.path).await;
    let db = Some(store.path.as_path());
    rt.start(fragile, ()).id("f").await.unwrap();
    let blocked = wait_for_status(&rt, "f", WorkflowStatus::Blocked).await;

    let out = reprise(db, &["resume", "f"]).await.ok();
    assert!(
        out.starts_with("asked a worker to retry blocked workflow `f` now"),
        "{out}"
    );
    // Still panicking: blocked again, later.
    wait_until(&rt, "f", "a second block", |i| {
        i.status == WorkflowStatus::Blocked && i.error_since > blocked.error_since
    })
    .await;

    // The code is fixed: resume runs it on.
    FRAGILE_PANICS.store(false, Ordering::SeqCst);
    reprise(db, &["resume", "f"]).await.ok();
    let info = wait_for_status(&rt, "f", WorkflowStatus::Completed).await;
    assert_eq!(info.result, Some(serde_json::json!("Y")));
    let out = reprise(db, &["resume", "f"]).await.fails(1);
    assert!(out.contains("has ended (completed)"), "{out}");
    rt.shutdown().await.unwrap();
}
