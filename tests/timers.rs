//! Durable timers and the deterministic clock.

mod common;

use std::time::{Duration, Instant, SystemTime};

use reprise::prelude::*;

#[workflow]
async fn nap(ctx: WorkflowContext, millis: u64) -> Result<u64, WorkflowError> {
    let before = ctx.now();
    ctx.sleep(Duration::from_millis(millis)).await;
    let after = ctx.now();
    Ok(after.duration_since(before).unwrap().as_millis() as u64)
}

#[tokio::test]
async fn a_timer_fires_after_its_duration_and_moves_the_workflow_clock() {
    let rt = Runtime::builder()
        .in_memory()
        .workflow(nap)
        .build()
        .await
        .unwrap();
    let started = Instant::now();
    let slept = rt.start(nap, 200).await.unwrap().result().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(slept >= 200, "ctx.now() advanced by {slept} ms");
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn many_timers_in_parallel() {
    #[workflow]
    async fn naps(ctx: WorkflowContext, n: u64) -> Result<usize, WorkflowError> {
        let ctx = &ctx;
        let sleeps = (0..n).map(|i| async move {
            ctx.sleep(Duration::from_millis(10 * (n - i))).await;
            i
        });
        Ok(join_all(sleeps).await.len())
    }
    let rt = Runtime::builder()
        .in_memory()
        .workflow(naps)
        .build()
        .await
        .unwrap();
    assert_eq!(
        rt.start(naps, 50).await.unwrap().result().await.unwrap(),
        50
    );
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_timer_keeps_its_deadline_across_a_restart() {
    let db = common::TempDb::new("timer-restart");
    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(nap)
        .build()
        .await
        .unwrap();
    let started = SystemTime::now();
    rt.start(nap, 800).id("nap").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    rt.shutdown().await.unwrap();

    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(nap)
        .build()
        .await
        .unwrap();
    let slept: u64 = rt.handle("nap").await.unwrap().result().await.unwrap();
    let total = started.elapsed().unwrap();
    assert!(slept >= 800);
    assert!(
        total >= Duration::from_millis(800),
        "fired early: {total:?}"
    );
    assert!(
        total < Duration::from_millis(800 + 700),
        "the deadline moved with the restart: {total:?}"
    );
    rt.shutdown().await.unwrap();
}
