//! Workflow timeouts (`rt.start(..).timeout(d)`): the run ends as timed
//! out, a distinct error kind; its pending activity is told (its context
//! says cancelled); the timeout holds across continue-as-new and restarts;
//! a workflow that finishes in time is not affected.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reprise::prelude::*;
use reprise::testing::TestEnv;
use reprise::WorkflowStatus;

/// Sleeps `secs` seconds, then returns them.
#[workflow]
async fn napper(ctx: WorkflowContext, secs: u64) -> Result<u64, WorkflowError> {
    ctx.sleep(Duration::from_secs(secs)).await;
    Ok(secs)
}

#[tokio::test]
async fn a_workflow_past_its_timeout_ends_as_timed_out() {
    let env = TestEnv::builder().workflow(napper).build().await.unwrap();
    let late = env
        .start(napper, 3600)
        .id("late")
        .timeout(Duration::from_secs(60))
        .await
        .unwrap();
    let in_time = env
        .start(napper, 30)
        .id("in-time")
        .timeout(Duration::from_secs(60))
        .await
        .unwrap();
    let started = env.now();
    let err = late.result().await.unwrap_err();
    assert_eq!(err.error_kind(), WorkflowErrorKind::TimedOut, "{err}");
    assert_eq!(
        env.now().duration_since(started).unwrap(),
        Duration::from_secs(60)
    );
    assert_eq!(in_time.result().await.unwrap(), 30);
    let info = env.describe("late").await.unwrap();
    assert_eq!(info.status, WorkflowStatus::Failed);
    let history = env.history("late").await.unwrap();
    let last = history["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["type"], "WorkflowTimedOut", "{last}");
}

/// Each run sleeps 10 s and continues as new, forever.
#[workflow]
async fn forever(ctx: WorkflowContext, round: u32) -> Result<u32, WorkflowError> {
    ctx.sleep(Duration::from_secs(10)).await;
    ctx.continue_as_new(round + 1)
}

#[tokio::test]
async fn the_timeout_holds_across_continue_as_new() {
    let env = TestEnv::builder().workflow(forever).build().await.unwrap();
    let handle = env
        .start(forever, 0)
        .id("chain")
        .timeout(Duration::from_secs(35))
        .await
        .unwrap();
    let err = handle.result().await.unwrap_err();
    assert_eq!(err.error_kind(), WorkflowErrorKind::TimedOut);
    // Runs at 0, 10, 20, 30 s; the fourth times out at 35 s.
    assert_eq!(env.describe("chain").await.unwrap().runs.len(), 4);
}

static TOLD: AtomicBool = AtomicBool::new(false);

/// Runs until cancelled, heartbeating; records that it was told.
#[activity]
async fn long_job(ctx: ActivityContext) -> Result<(), ActivityError> {
    for _ in 0..600 {
        if ctx.is_cancelled() {
            TOLD.store(true, Ordering::SeqCst);
            return Err(ActivityError::new("Stopped", "told to stop"));
        }
        ctx.heartbeat(&());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

#[workflow]
async fn runs_job(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    Ok(ctx.activity(long_job, ()).await?)
}

#[tokio::test]
async fn a_timed_out_workflows_pending_activity_is_told() {
    let db = common::TempDb::new("workflow-timeout");
    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(runs_job)
        .activity(long_job)
        .build()
        .await
        .unwrap();
    let handle = rt
        .start(runs_job, ())
        .id("job")
        .timeout(Duration::from_millis(300))
        .await
        .unwrap();
    let err = handle.result().await.unwrap_err();
    assert_eq!(err.error_kind(), WorkflowErrorKind::TimedOut);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !TOLD.load(Ordering::SeqCst) {
        assert!(
            std::time::Instant::now() < deadline,
            "the activity was never told"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_timeout_survives_a_restart() {
    let db = common::TempDb::new("workflow-timeout-restart");
    let build = || async {
        Runtime::builder()
            .sqlite(&db.path)
            .workflow(napper)
            .build()
            .await
            .unwrap()
    };
    let rt = build().await;
    rt.start(napper, 3600)
        .id("nap")
        .timeout(Duration::from_millis(500))
        .await
        .unwrap();
    rt.shutdown().await.unwrap();
    let rt = build().await;
    let handle = rt.handle::<u64>("nap").await.unwrap();
    let err = handle.result().await.unwrap_err();
    assert_eq!(err.error_kind(), WorkflowErrorKind::TimedOut);
    rt.shutdown().await.unwrap();
}
