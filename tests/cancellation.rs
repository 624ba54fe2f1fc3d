//! Cancellation and termination, on a `TestEnv`: a cancel arrives at an
//! exact virtual time, and "nothing more runs" is checked over an hour of
//! it. (A cancel racing a start stays on the real clock: its point is the
//! race.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use reprise::prelude::*;
use reprise::testing::TestEnv;
use reprise::WorkflowStatus;

static SAW_CANCEL: AtomicBool = AtomicBool::new(false);
/// The workflow ids whose cleanup activity ran.
static CLEANUPS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn cleanups(id: &str) -> usize {
    CLEANUPS.lock().unwrap().iter().filter(|w| *w == id).count()
}

/// Runs until its workflow is cancelled, checking its context.
#[activity]
async fn long_job(ctx: ActivityContext) -> Result<(), ActivityError> {
    for _ in 0..500 {
        if ctx.is_cancelled() {
            SAW_CANCEL.store(true, Ordering::SeqCst);
            return Err(ActivityError::new("Stopped", "cancelled"));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

#[activity]
async fn cleanup(ctx: ActivityContext) -> Result<(), ActivityError> {
    CLEANUPS.lock().unwrap().push(ctx.workflow_id().to_owned());
    Ok(())
}

#[workflow]
async fn job(ctx: WorkflowContext) -> Result<String, WorkflowError> {
    match ctx.activity(long_job, ()).await {
        Ok(()) => Ok("finished".to_owned()),
        Err(e) if e.is_cancelled() => {
            // Compensation runs after cancellation, and is not cancelled.
            ctx.activity(cleanup, ()).await?;
            Ok("cleaned up".to_owned())
        }
        Err(e) => Err(e.into()),
    }
}

#[tokio::test]
async fn cancel_fails_pending_calls_runs_cleanup_and_reaches_the_activity() {
    let env = TestEnv::builder()
        .workflow(job)
        .activity(long_job)
        .activity(cleanup)
        .build()
        .await
        .unwrap();
    let handle = env.start(job, ()).id("job").await.unwrap();
    env.advance(Duration::from_millis(50)).await;
    env.cancel("job").await.unwrap();
    let err = handle.result().await.unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    assert_eq!(cleanups("job"), 1, "the cleanup activity ran once");
    // The attempt looks at its context every 10 ms.
    assert!(!SAW_CANCEL.load(Ordering::SeqCst));
    env.advance(Duration::from_millis(10)).await;
    assert!(
        SAW_CANCEL.load(Ordering::SeqCst),
        "the activity saw the cancellation at its next look"
    );
    assert_eq!(
        env.describe("job").await.unwrap().status,
        WorkflowStatus::Cancelled
    );
    let err = env.cancel("job").await.unwrap_err();
    assert!(err.to_string().contains("has ended (cancelled)"), "{err}");
    env.shutdown().await.unwrap();
}

#[workflow]
async fn sleeper(ctx: WorkflowContext) -> Result<u32, WorkflowError> {
    ctx.sleep(Duration::from_secs(3600)).await;
    Ok(1)
}

#[workflow]
async fn careful_sleeper(ctx: WorkflowContext) -> Result<u32, WorkflowError> {
    tokio::select! {
        biased;
        () = ctx.cancelled() => {
            ctx.activity(cleanup, ()).await?;
            Ok(2)
        }
        () = ctx.sleep(Duration::from_secs(3600)) => Ok(1),
    }
}

#[tokio::test]
async fn a_pending_timer_ends_the_run_unless_raced_against_cancelled() {
    let env = TestEnv::builder()
        .workflow(sleeper)
        .workflow(careful_sleeper)
        .activity(cleanup)
        .build()
        .await
        .unwrap();
    let started = env.now();
    let plain = env.start(sleeper, ()).id("plain").await.unwrap();
    let careful = env.start(careful_sleeper, ()).id("careful").await.unwrap();
    // Half-way through their hour.
    env.advance(Duration::from_secs(1800)).await;
    env.cancel("plain").await.unwrap();
    env.cancel("careful").await.unwrap();
    assert!(plain.result().await.unwrap_err().is_cancelled());
    // Whatever the body returns, a cancelled workflow's result is cancelled.
    assert!(careful.result().await.unwrap_err().is_cancelled());
    assert_eq!(cleanups("careful"), 1, "the raced branch ran its cleanup");
    assert_eq!(cleanups("plain"), 0);
    // Both ended at the cancel, not at their timers.
    assert_eq!(
        env.now().duration_since(started).unwrap(),
        Duration::from_secs(1800)
    );
    for id in ["plain", "careful"] {
        let info = env.describe(id).await.unwrap();
        assert_eq!(info.status, WorkflowStatus::Cancelled, "{id}");
        assert!(info.pending.is_empty(), "{id}: {:?}", info.pending);
    }
    env.shutdown().await.unwrap();
}

#[tokio::test]
async fn terminate_ends_a_run_without_running_its_code() {
    let env = TestEnv::builder()
        .workflow(careful_sleeper)
        .activity(cleanup)
        .build()
        .await
        .unwrap();
    let handle = env.start(careful_sleeper, ()).id("t").await.unwrap();
    env.advance(Duration::from_secs(1800)).await;
    env.terminate("t", "operator said so").await.unwrap();
    let err = handle.result().await.unwrap_err();
    assert_eq!(err.kind(), Some("Terminated"));
    assert_eq!(err.message(), "operator said so");
    let info = env.describe("t").await.unwrap();
    assert_eq!(info.status, WorkflowStatus::Terminated);
    assert!(info.pending.is_empty(), "its timer is gone");
    // Nor does it run when the timer would have fired.
    env.advance(Duration::from_secs(3600)).await;
    assert_eq!(cleanups("t"), 0, "no code of the run ran");
    assert_eq!(
        env.describe("t").await.unwrap().status,
        WorkflowStatus::Terminated
    );
    env.shutdown().await.unwrap();
}

static ABANDONED_ATTEMPTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Fails every attempt; retried after 300 ms.
#[activity(retry(initial_interval = "300ms"))]
async fn abandoned() -> Result<(), ActivityError> {
    ABANDONED_ATTEMPTS.fetch_add(1, Ordering::SeqCst);
    Err(ActivityError::new("Flaky", "fails"))
}

/// Gives up on its activity call after 50 ms and returns.
#[workflow]
async fn impatient(ctx: WorkflowContext) -> Result<u32, WorkflowError> {
    tokio::select! {
        biased;
        r = ctx.activity(abandoned, ()) => { r?; Ok(1) }
        () = ctx.sleep(Duration::from_millis(50)) => Ok(2),
    }
}

/// A retry waiting out its backoff when its workflow ends does not run.
#[tokio::test]
async fn a_finished_workflow_runs_no_more_retries() {
    let env = TestEnv::builder()
        .workflow(impatient)
        .activity(abandoned)
        .build()
        .await
        .unwrap();
    let started = env.now();
    let h = env.start(impatient, ()).id("impatient").await.unwrap();
    assert_eq!(h.result().await.unwrap(), 2);
    assert_eq!(
        env.now().duration_since(started).unwrap(),
        Duration::from_millis(50)
    );
    // Unstopped, the retries (300 ms, then doubling up to 30 s) would run
    // over a hundred attempts in this hour.
    env.advance(Duration::from_secs(3600)).await;
    assert_eq!(ABANDONED_ATTEMPTS.load(Ordering::SeqCst), 1);
    assert!(env.describe("impatient").await.unwrap().pending.is_empty());
    env.shutdown().await.unwrap();
}

/// The steps of `pipeline` that ran, by workflow id.
static PIPELINE_STEPS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn pipeline_steps(id: &str) -> usize {
    PIPELINE_STEPS
        .lock()
        .unwrap()
        .iter()
        .filter(|w| *w == id)
        .count()
}

#[activity]
async fn pipeline_step(ctx: ActivityContext) -> Result<(), ActivityError> {
    tokio::time::sleep(Duration::from_millis(5)).await;
    PIPELINE_STEPS
        .lock()
        .unwrap()
        .push(ctx.workflow_id().to_owned());
    Ok(())
}

#[workflow]
async fn pipeline(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    for _ in 0..10 {
        ctx.activity(pipeline_step, ()).await?;
    }
    Ok(())
}

/// A cancellation that arrives while no call is pending (here: before the
/// first step) fails the next call, instead of letting the rest run.
#[tokio::test]
async fn a_cancel_between_calls_fails_the_next_call() {
    let rt = Runtime::builder()
        .in_memory()
        .workflow(pipeline)
        .activity(pipeline_step)
        .build()
        .await
        .unwrap();
    for i in 0..5 {
        let id = format!("p{i}");
        let handle = rt.start(pipeline, ()).id(&id).await.unwrap();
        rt.cancel(&id).await.unwrap();
        assert!(handle.result().await.unwrap_err().is_cancelled());
        assert!(
            pipeline_steps(&id) <= 1,
            "{id}: {} steps ran after the cancel",
            pipeline_steps(&id)
        );
    }
    rt.shutdown().await.unwrap();
}

/// Attempts waiting for a concurrency slot when their workflow is
/// terminated never start.
#[tokio::test]
async fn queued_attempts_of_a_terminated_workflow_do_not_run() {
    #[workflow]
    async fn fan(ctx: WorkflowContext) -> Result<(), WorkflowError> {
        for r in join_all((0..5).map(|_| ctx.activity(pipeline_step, ()))).await {
            r?;
        }
        Ok(())
    }
    let env = TestEnv::builder()
        .max_concurrent_activities(1)
        .workflow(fan)
        .activity(pipeline_step)
        .build()
        .await
        .unwrap();
    env.start(fan, ()).id("fan").await.unwrap();
    // The first attempt runs (5 ms), the four others wait for the permit.
    env.advance(Duration::from_millis(2)).await;
    env.terminate("fan", "enough").await.unwrap();
    env.advance(Duration::from_secs(3600)).await;
    // The running attempt finishes its body (it does not look at its
    // context); the queued ones never start.
    assert_eq!(
        pipeline_steps("fan"),
        1,
        "{} attempts ran after the terminate",
        pipeline_steps("fan")
    );
    env.shutdown().await.unwrap();
}
