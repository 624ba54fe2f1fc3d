//! Synchronous (`fn`) activities run on tokio's blocking pool: blocking
//! ones, as many as the runtime has worker threads, do not hold up a
//! workflow of quick activities and short timers, nor one of timers alone; their options (retries,
//! timeouts, heartbeats, resources) work as for `async fn` activities.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use common::TempDb;
use reprise::prelude::*;

/// Set while a `block` attempt sleeps.
static BLOCKING: AtomicU32 = AtomicU32::new(0);
/// Set once a `block` attempt has slept to its end.
static BLOCK_ENDED: AtomicBool = AtomicBool::new(false);

/// Blocks its thread for `ms`.
#[activity]
fn block(ms: u64) -> Result<(), ActivityError> {
    BLOCKING.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(ms));
    BLOCK_ENDED.store(true, Ordering::SeqCst);
    Ok(())
}

#[activity]
async fn quick(n: u64) -> Result<u64, ActivityError> {
    Ok(n + 1)
}

#[workflow]
async fn blocker(ctx: WorkflowContext, ms: u64) -> Result<(), WorkflowError> {
    ctx.activity(block, ms).await?;
    Ok(())
}

/// Twenty steps of a quick activity and a 20 ms timer.
#[workflow]
async fn ticker(ctx: WorkflowContext) -> Result<u64, WorkflowError> {
    let mut n = 0;
    for _ in 0..20 {
        n = ctx.activity(quick, n).await?;
        ctx.sleep(Duration::from_millis(20)).await;
    }
    Ok(n)
}

/// Ten 20 ms timers, no activity.
#[workflow]
async fn sleeper(ctx: WorkflowContext) -> Result<u32, WorkflowError> {
    for _ in 0..10 {
        ctx.sleep(Duration::from_millis(20)).await;
    }
    Ok(10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_fn_activities_do_not_delay_timers_and_other_activities() {
    let db = TempDb::new("blocking");
    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(blocker)
        .workflow(ticker)
        .workflow(sleeper)
        .activity(block)
        .activity(quick)
        .build()
        .await
        .unwrap();
    // As many blocking attempts as the runtime has worker threads.
    let blockers = [
        rt.start(blocker, 3_000).id("block-1").await.unwrap(),
        rt.start(blocker, 3_000).id("block-2").await.unwrap(),
    ];
    while BLOCKING.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ticks = rt.start(ticker, ()).id("ticker").await.unwrap();
    let sleeps = rt.start(sleeper, ()).id("sleeper").await.unwrap();
    assert_eq!(ticks.result().await.unwrap(), 20);
    assert_eq!(sleeps.result().await.unwrap(), 10);
    assert!(
        !BLOCK_ENDED.load(Ordering::SeqCst),
        "the ticker and the sleeper finished while both blocking activities still held their threads"
    );
    for handle in blockers {
        handle.result().await.unwrap();
    }
    rt.shutdown().await.unwrap();
}

static FLAKY_ATTEMPTS: AtomicU32 = AtomicU32::new(0);

/// Fails until its third attempt, heartbeating its attempt number; the
/// third sees the details of the second.
#[activity(retry(initial_interval = "10ms", max_attempts = 3))]
fn flaky(ctx: ActivityContext, label: String) -> Result<String, ActivityError> {
    FLAKY_ATTEMPTS.fetch_add(1, Ordering::SeqCst);
    let previous: Option<u32> = ctx.heartbeat_details();
    ctx.heartbeat(&ctx.attempt());
    if ctx.attempt() < 3 {
        return Err(ActivityError::new("Transient", "not yet"));
    }
    Ok(format!("{label} after {previous:?}"))
}

/// Overruns its 100 ms `start_to_close` on every attempt.
#[activity(
    start_to_close = "100ms",
    retry(initial_interval = "10ms", max_attempts = 2)
)]
fn slow() -> Result<(), ActivityError> {
    std::thread::sleep(Duration::from_millis(400));
    Ok(())
}

struct Greeting(&'static str);

#[activity]
fn greet(greeting: Resource<Greeting>, name: String) -> Result<String, ActivityError> {
    Ok(format!("{} {name}", greeting.0))
}

#[workflow]
async fn options(ctx: WorkflowContext) -> Result<Vec<String>, WorkflowError> {
    let retried = ctx.activity(flaky, "done".to_owned()).await?;
    let timed_out = match ctx.activity(slow, ()).await {
        Ok(()) => "finished".to_owned(),
        Err(e) => format!("{} after {} attempts", e.kind(), e.attempts()),
    };
    let greeting = ctx.activity(greet, "world".to_owned()).await?;
    Ok(vec![retried, timed_out, greeting])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fn_activities_retry_time_out_heartbeat_and_get_resources() {
    let rt = Runtime::builder()
        .in_memory()
        .resource(Greeting("hello"))
        .workflow(options)
        .activity(flaky)
        .activity(slow)
        .activity(greet)
        .build()
        .await
        .unwrap();
    let out = rt
        .start(options, ())
        .id("options")
        .await
        .unwrap()
        .result()
        .await
        .unwrap();
    assert_eq!(
        out,
        [
            "done after Some(2)",
            "StartToCloseTimeout after 2 attempts",
            "hello world"
        ]
    );
    assert_eq!(FLAKY_ATTEMPTS.load(Ordering::SeqCst), 3);
    rt.shutdown().await.unwrap();
}
