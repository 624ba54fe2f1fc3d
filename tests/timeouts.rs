//! `start_to_close` and `schedule_to_close` are enforced.

use std::time::{Duration, Instant};

use reprise::prelude::*;

/// Hangs on its first attempt, answers at once on the next ones.
#[activity(start_to_close = "100ms", retry(initial_interval = "10ms"))]
async fn hangs_first(ctx: ActivityContext) -> Result<u32, ActivityError> {
    if ctx.attempt() == 1 {
        std::future::pending::<()>().await;
    }
    Ok(ctx.attempt())
}

/// Always too slow.
#[activity(
    start_to_close = "50ms",
    schedule_to_close = "300ms",
    retry(initial_interval = "10ms")
)]
async fn too_slow() -> Result<(), ActivityError> {
    tokio::time::sleep(Duration::from_secs(30)).await;
    Ok(())
}

#[workflow]
async fn timeouts(ctx: WorkflowContext, which: u32) -> Result<u32, WorkflowError> {
    if which == 0 {
        Ok(ctx.activity(hangs_first, ()).await?)
    } else {
        ctx.activity(too_slow, ()).await?;
        Ok(0)
    }
}

async fn runtime() -> Runtime {
    Runtime::builder()
        .in_memory()
        .workflow(timeouts)
        .activity(hangs_first)
        .activity(too_slow)
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn start_to_close_times_out_an_attempt_and_retries() {
    let rt = runtime().await;
    let started = Instant::now();
    let out = rt.start(timeouts, 0).await.unwrap().result().await.unwrap();
    assert_eq!(out, 2, "the second attempt answers");
    assert!(started.elapsed() < Duration::from_secs(5));
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn schedule_to_close_bounds_the_whole_call() {
    let rt = runtime().await;
    let started = Instant::now();
    let err = rt
        .start(timeouts, 1)
        .await
        .unwrap()
        .result()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some("ScheduleToCloseTimeout"), "{err}");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250),
        "ended too early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(3),
        "ended too late: {elapsed:?}"
    );
    assert!(
        err.attempts() >= 2,
        "attempts were retried within the budget: {err}"
    );
    rt.shutdown().await.unwrap();
}
