//! `start_to_close` and `schedule_to_close` are enforced — on a `TestEnv`,
//! so each timeout and backoff is seen at its exact virtual time.

use std::sync::Mutex;
use std::time::Duration;

use reprise::prelude::*;
use reprise::testing::TestEnv;

/// Hangs on its first attempt, answers at once on the next ones.
#[activity(start_to_close = "100ms", retry(initial_interval = "10ms"))]
async fn hangs_first(ctx: ActivityContext) -> Result<u32, ActivityError> {
    if ctx.attempt() == 1 {
        std::future::pending::<()>().await;
    }
    Ok(ctx.attempt())
}

/// When each attempt of `too_slow` started, on tokio's (virtual) clock.
static SLOW_STARTS: Mutex<Vec<tokio::time::Instant>> = Mutex::new(Vec::new());

/// Always too slow.
#[activity(
    start_to_close = "50ms",
    schedule_to_close = "300ms",
    retry(initial_interval = "10ms")
)]
async fn too_slow() -> Result<(), ActivityError> {
    SLOW_STARTS
        .lock()
        .unwrap()
        .push(tokio::time::Instant::now());
    tokio::time::sleep(Duration::from_secs(30)).await;
    Ok(())
}

#[workflow]
async fn timeouts(ctx: WorkflowContext, which: u32) -> Result<u32, WorkflowError> {
    match which {
        0 => Ok(ctx.activity(hangs_first, ()).await?),
        1 => {
            ctx.activity(too_slow, ()).await?;
            Ok(0)
        }
        _ => {
            // A budget that ends while an attempt runs.
            ctx.activity(too_slow, ())
                .schedule_to_close(Duration::from_millis(250))
                .await?;
            Ok(0)
        }
    }
}

async fn env() -> TestEnv {
    TestEnv::builder()
        .workflow(timeouts)
        .activity(hangs_first)
        .activity(too_slow)
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn start_to_close_times_out_an_attempt_and_retries() {
    let env = env().await;
    let started = env.now();
    let h = env.start(timeouts, 0).id("hangs").await.unwrap();
    env.advance(Duration::from_millis(99)).await;
    assert_eq!(env.describe("hangs").await.unwrap().pending[0].attempt, 1);
    // At 100 ms the attempt is timed out; the retry is due 10 ms later.
    env.advance(Duration::from_millis(1)).await;
    let info = env.describe("hangs").await.unwrap();
    let pending = &info.pending[0];
    assert_eq!(pending.attempt, 2);
    assert!(
        pending
            .last_error
            .as_deref()
            .unwrap()
            .contains("did not finish within its start_to_close timeout"),
        "{pending:?}"
    );
    assert_eq!(
        pending.due_at.duration_since(started).unwrap(),
        Duration::from_millis(110)
    );
    assert_eq!(h.result().await.unwrap(), 2, "the second attempt answers");
    assert_eq!(
        env.now().duration_since(started).unwrap(),
        Duration::from_millis(110)
    );
    env.shutdown().await.unwrap();
}

#[tokio::test]
async fn schedule_to_close_bounds_the_whole_call() {
    let env = env().await;
    let started = tokio::time::Instant::now();
    let err = env
        .start(timeouts, 1)
        .await
        .unwrap()
        .result()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some("ScheduleToCloseTimeout"), "{err}");
    // Attempts of 50 ms at 0, 60, 130 and 220 ms (backoffs of 10, 20, 40
    // ms); the next would start at 350 ms, after the 300 ms budget, so the
    // call fails when the fourth attempt times out, at 270 ms.
    let starts: Vec<u128> = SLOW_STARTS
        .lock()
        .unwrap()
        .iter()
        .map(|at| (*at - started).as_millis())
        .collect();
    assert_eq!(starts, vec![0, 60, 130, 220]);
    assert_eq!(err.attempts(), 4, "{err}");
    assert!(err.message().contains("last error"), "{err}");
    assert_eq!(started.elapsed(), Duration::from_millis(270));
    SLOW_STARTS.lock().unwrap().clear();

    // With a budget of 250 ms, the fourth attempt is cut at 250 ms.
    let started = tokio::time::Instant::now();
    let err = env
        .start(timeouts, 2)
        .await
        .unwrap()
        .result()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some("ScheduleToCloseTimeout"), "{err}");
    assert_eq!(err.attempts(), 4, "{err}");
    assert_eq!(started.elapsed(), Duration::from_millis(250));
    env.shutdown().await.unwrap();
}
