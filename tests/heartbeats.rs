//! Heartbeats: details carried to the next attempt, and a heartbeat timeout
//! that fails a stalled attempt long before its start_to_close.

use std::time::{Duration, Instant};

use reprise::prelude::*;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Progress {
    done: u32,
}

/// Processes 10 items; its first attempt fails after 4 of them.
#[activity(retry(initial_interval = "10ms"))]
async fn resumable(ctx: ActivityContext) -> Result<Vec<u32>, ActivityError> {
    let start = ctx.heartbeat_details::<Progress>().map_or(0, |p| p.done);
    let mut processed = Vec::new();
    for i in start..10 {
        if ctx.attempt() == 1 && i == 4 {
            return Err(ActivityError::new("Crash", "lost the connection"));
        }
        processed.push(i);
        ctx.heartbeat(&Progress { done: i + 1 });
    }
    Ok(processed)
}

/// Stalls on its first attempt without heartbeating.
#[activity(
    heartbeat_timeout = "200ms",
    start_to_close = "1h",
    retry(initial_interval = "10ms")
)]
async fn stalls(ctx: ActivityContext) -> Result<u32, ActivityError> {
    ctx.heartbeat(&Progress { done: 0 });
    if ctx.attempt() == 1 {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    Ok(ctx.attempt())
}

#[workflow]
async fn hb(ctx: WorkflowContext, which: u32) -> Result<Vec<u32>, WorkflowError> {
    if which == 0 {
        Ok(ctx.activity(resumable, ()).await?)
    } else {
        Ok(vec![ctx.activity(stalls, ()).await?])
    }
}

async fn runtime() -> Runtime {
    Runtime::builder()
        .in_memory()
        .workflow(hb)
        .activity(resumable)
        .activity(stalls)
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn details_reach_the_next_attempt() {
    let rt = runtime().await;
    let out = rt.start(hb, 0).await.unwrap().result().await.unwrap();
    assert_eq!(
        out,
        vec![4, 5, 6, 7, 8, 9],
        "the retry resumed after item 3"
    );
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_missed_heartbeat_times_the_attempt_out() {
    let rt = runtime().await;
    let started = Instant::now();
    let out = rt.start(hb, 1).await.unwrap().result().await.unwrap();
    assert_eq!(out, vec![2], "the second attempt answered");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn details_decode_as_none_when_the_type_changed() {
    let out = reprise::testing::run_activity_attempt(
        resumable,
        (),
        2,
        Some(serde_json::json!("garbage")),
    )
    .await;
    assert_eq!(out.unwrap(), (0..10).collect::<Vec<_>>());
}

/// A heartbeat timeout too large to add to a clock is no timeout.
#[tokio::test]
async fn a_huge_heartbeat_timeout_does_not_break_the_attempt() {
    #[workflow]
    async fn patient(ctx: WorkflowContext) -> Result<Vec<u32>, WorkflowError> {
        Ok(ctx
            .activity(resumable, ())
            .heartbeat_timeout(Duration::MAX)
            .await?)
    }
    let rt = Runtime::builder()
        .in_memory()
        .workflow(patient)
        .activity(resumable)
        .build()
        .await
        .unwrap();
    let out = rt.start(patient, ()).await.unwrap().result().await.unwrap();
    assert_eq!(out, vec![4, 5, 6, 7, 8, 9]);
    rt.shutdown().await.unwrap();
}
