//! Durable timers and the deterministic clock.
//!
//! The timers' semantics are tested on a `TestEnv` (virtual clock: exact
//! durations, no waiting); the deadline kept across a restart needs a real
//! store and a real clock.

mod common;

use std::time::{Duration, SystemTime};

use reprise::prelude::*;
use reprise::testing::TestEnv;
use reprise::WorkflowStatus;

#[workflow]
async fn nap(ctx: WorkflowContext, millis: u64) -> Result<u64, WorkflowError> {
    let before = ctx.now();
    ctx.sleep(Duration::from_millis(millis)).await;
    let after = ctx.now();
    Ok(after.duration_since(before).unwrap().as_millis() as u64)
}

const HOUR_MS: u64 = 3600 * 1000;

#[tokio::test]
async fn a_timer_fires_after_its_duration_and_moves_the_workflow_clock() {
    let env = TestEnv::builder().workflow(nap).build().await.unwrap();
    let started = env.now();
    let h = env.start(nap, 2 * HOUR_MS).id("nap").await.unwrap();
    // Not before its time...
    env.advance(Duration::from_millis(2 * HOUR_MS - 1)).await;
    let info = env.describe("nap").await.unwrap();
    assert_eq!(info.status, WorkflowStatus::Running);
    assert_eq!(info.pending[0].kind, "timer");
    assert_eq!(
        info.pending[0].due_at.duration_since(started).unwrap(),
        Duration::from_millis(2 * HOUR_MS)
    );
    // ... and at it: `ctx.now()` moved by exactly the timer's duration.
    env.advance(Duration::from_millis(1)).await;
    assert_eq!(
        env.describe("nap").await.unwrap().status,
        WorkflowStatus::Completed
    );
    assert_eq!(h.result().await.unwrap(), 2 * HOUR_MS);
    assert_eq!(
        env.now().duration_since(started).unwrap(),
        Duration::from_millis(2 * HOUR_MS)
    );
    env.shutdown().await.unwrap();
}

/// Sleeps `10 × (n - i)` ms in branch `i`, all at once; the order in which
/// the branches woke, by `ctx.now()`.
#[workflow]
async fn naps(ctx: WorkflowContext, n: u64) -> Result<Vec<(u64, u64)>, WorkflowError> {
    let ctx = &ctx;
    let start = ctx.now();
    let sleeps = (0..n).map(|i| async move {
        ctx.sleep(Duration::from_millis(10 * (n - i))).await;
        let at = ctx.now().duration_since(start).unwrap().as_millis() as u64;
        (i, at)
    });
    Ok(join_all(sleeps).await)
}

#[tokio::test]
async fn many_timers_in_parallel() {
    let env = TestEnv::builder().workflow(naps).build().await.unwrap();
    let started = env.now();
    let woke = env.start(naps, 50).await.unwrap().result().await.unwrap();
    assert_eq!(woke.len(), 50);
    // Each branch woke at its own deadline, not before, not after.
    for (i, at) in woke {
        assert_eq!(at, 10 * (50 - i), "branch {i}");
    }
    assert_eq!(
        env.now().duration_since(started).unwrap(),
        Duration::from_millis(500)
    );
    env.shutdown().await.unwrap();
}

/// A real store and a real clock: the deadline is stored, not re-armed
/// from the restart.
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
