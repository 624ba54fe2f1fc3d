//! `reprise::testing::TestEnv`: workflows tested in memory on a virtual
//! clock, with mocked activities.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reprise::prelude::*;
use reprise::testing::TestEnv;
use reprise::WorkflowStatus;

const DAY: Duration = Duration::from_secs(24 * 3600);

#[activity(retry(max_attempts = 4, initial_interval = "1h"))]
async fn load(rows: Vec<u32>) -> Result<usize, ActivityError> {
    unreachable!("mocked in these tests: {rows:?}")
}

/// Waits a day, loads, and reports how long it all took by `ctx.now()`.
#[workflow(name = "nightly")]
async fn nightly(ctx: WorkflowContext, rows: Vec<u32>) -> Result<(usize, u64), WorkflowError> {
    let start = ctx.now();
    ctx.sleep(DAY).await;
    let loaded = ctx.activity(load, rows).await?;
    let took = ctx.now().duration_since(start).unwrap_or_default();
    Ok((loaded, took.as_secs()))
}

/// An environment running `nightly` with `load` mocked to count the rows.
async fn nightly_env() -> TestEnv {
    TestEnv::builder()
        .workflow(nightly)
        .mock(load, |rows: Vec<u32>| Ok(rows.len()))
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_day_long_sleep_passes_in_milliseconds() {
    let env = nightly_env().await;
    let wall = Instant::now();
    let before = env.now();
    let h = env.start(nightly, vec![1, 2, 3]).id("n1").await.unwrap();
    let (loaded, took) = h.result().await.unwrap();
    assert_eq!(loaded, 3);
    // The workflow saw a day pass; the test did not wait for it.
    assert!(
        (DAY.as_secs()..DAY.as_secs() + 60).contains(&took),
        "{took}"
    );
    assert!(env.now().duration_since(before).unwrap() >= DAY);
    assert!(
        wall.elapsed() < Duration::from_secs(5),
        "{:?}",
        wall.elapsed()
    );
    env.shutdown().await.unwrap();
}

#[tokio::test]
async fn advance_moves_time_to_look_in_between() {
    let env = nightly_env().await;
    env.start(nightly, vec![7]).id("n2").await.unwrap();
    env.advance(Duration::from_secs(3600)).await;
    let info = env.describe("n2").await.unwrap();
    assert_eq!(info.status, WorkflowStatus::Running);
    assert_eq!(info.pending.len(), 1);
    assert_eq!(info.pending[0].kind, "timer");
    let left = info.pending[0].due_at.duration_since(env.now()).unwrap();
    assert!(left <= DAY - Duration::from_secs(3600), "{left:?}");
    assert!(left > DAY - Duration::from_secs(3700), "{left:?}");
    env.advance(DAY).await;
    assert_eq!(
        env.describe("n2").await.unwrap().status,
        WorkflowStatus::Completed
    );
    env.shutdown().await.unwrap();
}

#[tokio::test]
async fn mocks_drive_retries_with_their_backoffs_and_non_retryable_failures() {
    let attempts = Arc::new(AtomicU32::new(0));
    let counted = attempts.clone();
    let env = TestEnv::builder()
        .workflow(nightly)
        .mock(load, move |rows: Vec<u32>| {
            match counted.fetch_add(1, Ordering::SeqCst) {
                // Two transient failures, then a success.
                0 | 1 => Err(ActivityError::new("Timeout", "the warehouse is slow")),
                _ => Ok(rows.len() * 10),
            }
        })
        .build()
        .await
        .unwrap();
    let h = env.start(nightly, vec![1, 2]).id("retried").await.unwrap();
    let (loaded, took) = h.result().await.unwrap();
    assert_eq!(loaded, 20);
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    // A day, then backoffs of 1 h and 2 h, in virtual time.
    let expected = DAY.as_secs() + 3 * 3600;
    assert!((expected..expected + 60).contains(&took), "{took}");
    env.shutdown().await.unwrap();

    let env = TestEnv::builder()
        .workflow(nightly)
        .mock(load, |_rows: Vec<u32>| {
            Err(ActivityError::non_retryable(
                "ValidationError",
                "row 3 is bad",
            ))
        })
        .build()
        .await
        .unwrap();
    let h = env.start(nightly, vec![1]).id("refused").await.unwrap();
    let err = h.result().await.unwrap_err();
    assert_eq!(err.kind(), Some("ValidationError"), "{err}");
    assert!(err.message().contains("row 3 is bad"), "{err}");
    assert_eq!(
        env.describe("refused").await.unwrap().status,
        WorkflowStatus::Failed
    );
    env.shutdown().await.unwrap();
}

#[activity(start_to_close = "10m", retry(max_attempts = 1))]
async fn stuck() -> Result<(), ActivityError> {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Ok(())
}

#[workflow(name = "impatient")]
async fn impatient(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    Ok(ctx.activity(stuck, ()).await?)
}

#[tokio::test]
async fn activity_timeouts_follow_the_virtual_clock() {
    let env = TestEnv::builder()
        .workflow(impatient)
        .activity(stuck)
        .build()
        .await
        .unwrap();
    let started = env.now();
    let h = env.start(impatient, ()).id("t").await.unwrap();
    let err = h.result().await.unwrap_err();
    assert_eq!(err.kind(), Some("StartToCloseTimeout"), "{err}");
    let took = env.now().duration_since(started).unwrap();
    assert!(
        took >= Duration::from_secs(600) && took < Duration::from_secs(3600),
        "{took:?}"
    );
    env.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_history_is_the_json_of_the_history_command() {
    let env = nightly_env().await;
    let h = env.start(nightly, vec![5]).id("h").await.unwrap();
    h.result().await.unwrap();
    let history = env.history("h").await.unwrap();
    assert_eq!(history["workflow_id"], "h");
    assert_eq!(history["workflow_type"], "nightly");
    let events = history["events"].as_array().unwrap();
    assert_eq!(events[0]["type"], "WorkflowStarted");
    assert!(events.iter().any(|e| e["type"] == "TimerFired"));
    let typed: reprise::WorkflowHistory = serde_json::from_value(history.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), history);
    env.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_thread_runtime_is_refused_clearly() {
    let err = TestEnv::builder()
        .workflow(nightly)
        .build()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("current-thread"), "{err}");
}

/// Sleeps `steps` times for `step_ms`; the time that passed by `ctx.now()`.
#[workflow(name = "stepper")]
async fn stepper(ctx: WorkflowContext, (steps, step_ms): (u32, u64)) -> Result<u64, WorkflowError> {
    let start = ctx.now();
    for _ in 0..steps {
        ctx.sleep(Duration::from_millis(step_ms)).await;
    }
    Ok(ctx.now().duration_since(start).unwrap().as_millis() as u64)
}

/// tokio's paused clock, paused at a fraction of one of its timer's
/// milliseconds, makes every sleep 1 ms too long; the environment aligns it
/// first, so virtual durations are exact, one environment after another.
#[tokio::test]
async fn virtual_durations_are_exact() {
    for round in 0..3 {
        let env = TestEnv::builder().workflow(stepper).build().await.unwrap();
        let before = env.now();
        let h = env.start(stepper, (10, 1000)).await.unwrap();
        assert_eq!(h.result().await.unwrap(), 10_000, "round {round}");
        assert_eq!(
            env.now().duration_since(before).unwrap(),
            Duration::from_secs(10),
            "round {round}"
        );
        env.advance(Duration::from_millis(250)).await;
        assert_eq!(
            env.now().duration_since(before).unwrap(),
            Duration::from_millis(10_250),
            "round {round}"
        );
        env.shutdown().await.unwrap();
        // Real time passes between environments: the next one pauses the
        // clock at another fraction of a millisecond.
        std::thread::sleep(Duration::from_micros(300));
    }
}

/// Two environments at once on one runtime share its paused clock: each
/// runs its workflows, and time goes on while either waits.
#[tokio::test]
async fn two_environments_at_once() {
    let one = TestEnv::builder().workflow(stepper).build().await.unwrap();
    let two = TestEnv::builder().workflow(stepper).build().await.unwrap();
    // Each reads the wall clock once, when built: compare each with itself.
    let start = two.now();
    let a = one.start(stepper, (3, 1000)).await.unwrap();
    let b = two.start(stepper, (2, 5000)).await.unwrap();
    let (a, b) = tokio::join!(a.result(), b.result());
    assert_eq!((a.unwrap(), b.unwrap()), (3000, 10_000));
    assert_eq!(
        two.now().duration_since(start).unwrap(),
        Duration::from_secs(10)
    );
    one.shutdown().await.unwrap();
    // The clock stays paused while `two` lives.
    two.advance(Duration::from_secs(60)).await;
    assert_eq!(
        two.now().duration_since(start).unwrap(),
        Duration::from_secs(70)
    );
    two.shutdown().await.unwrap();
}
