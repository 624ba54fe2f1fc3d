//! Retries: Temporal's policy semantics, non-retryable errors, attempt
//! counts — on a `TestEnv`, where each backoff is seen at its exact virtual
//! time — and a backoff that survives a restart, on SQLite.

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use reprise::prelude::*;
use reprise::testing::TestEnv;
use reprise::WorkflowStatus;

/// When each attempt of `flaky` started, on tokio's (virtual) clock.
static FLAKY_ATTEMPTS: Mutex<Vec<tokio::time::Instant>> = Mutex::new(Vec::new());

/// Fails its first two attempts.
#[activity(retry(initial_interval = "1s", backoff_coefficient = 2.0))]
async fn flaky(ctx: ActivityContext, n: u32) -> Result<u32, ActivityError> {
    FLAKY_ATTEMPTS
        .lock()
        .unwrap()
        .push(tokio::time::Instant::now());
    if ctx.attempt() < 3 {
        return Err(ActivityError::new(
            "Transient",
            format!("attempt {}", ctx.attempt()),
        ));
    }
    Ok(n * ctx.attempt())
}

#[workflow]
async fn call_flaky(ctx: WorkflowContext, n: u32) -> Result<u32, WorkflowError> {
    Ok(ctx.activity(flaky, n).await?)
}

#[tokio::test]
async fn retries_until_success_and_counts_attempts() {
    let env = TestEnv::builder()
        .workflow(call_flaky)
        .activity(flaky)
        .build()
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let h = env.start(call_flaky, 7).id("flaky").await.unwrap();
    // Between the attempts: the retry, its attempt number and last error.
    env.advance(Duration::from_millis(500)).await;
    let info = env.describe("flaky").await.unwrap();
    assert_eq!(info.pending[0].attempt, 2);
    assert_eq!(
        info.pending[0].last_error.as_deref(),
        Some("Transient: attempt 1")
    );
    let out = h.result().await.unwrap();
    assert_eq!(out, 21, "the third attempt succeeds");
    // Backoffs of 1 s, then 2 s.
    let attempts: Vec<Duration> = FLAKY_ATTEMPTS
        .lock()
        .unwrap()
        .iter()
        .map(|at| *at - started)
        .collect();
    assert_eq!(
        attempts,
        [0, 1000, 3000].map(Duration::from_millis).to_vec()
    );
    env.shutdown().await.unwrap();
}

#[activity(retry(initial_interval = "10ms", non_retryable = ["ValidationError"]))]
async fn validate(kind: String) -> Result<(), ActivityError> {
    Err(ActivityError::new(kind, "bad record"))
}

#[activity]
async fn refuse() -> Result<(), ActivityError> {
    Err(ActivityError::non_retryable("Refused", "never retried"))
}

#[activity(retry(initial_interval = "1s", max_attempts = 3))]
async fn always_fails() -> Result<(), ActivityError> {
    Err(ActivityError::new("Broken", "still broken"))
}

#[workflow]
async fn failing(ctx: WorkflowContext, which: u32) -> Result<(), WorkflowError> {
    match which {
        0 => ctx.activity(validate, "ValidationError".to_owned()).await?,
        1 => ctx.activity(refuse, ()).await?,
        2 => ctx.activity(always_fails, ()).await?,
        _ => {
            // A per-call policy overrides the attribute's.
            ctx.activity(always_fails, ())
                .retry(RetryPolicy {
                    initial_interval: Duration::from_millis(1),
                    max_attempts: Some(5),
                    ..RetryPolicy::default()
                })
                .await?
        }
    }
    Ok(())
}

#[tokio::test]
async fn non_retryable_errors_and_exhausted_attempts_fail_the_call() {
    let env = TestEnv::builder()
        .workflow(failing)
        .activity(validate)
        .activity(refuse)
        .activity(always_fails)
        .build()
        .await
        .unwrap();
    // (case, error kind, attempts, time spent in backoffs)
    let cases = [
        (0, "ValidationError", 1, 0),
        (1, "Refused", 1, 0),
        (2, "Broken", 3, 1000 + 2000),
        (3, "Broken", 5, 1 + 2 + 4 + 8),
    ];
    for (which, kind, attempts, backoffs) in cases {
        let started = env.now();
        let err = env
            .start(failing, which)
            .await
            .unwrap()
            .result()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), Some(kind), "case {which}: {err}");
        assert_eq!(err.attempts(), attempts, "case {which}: {err}");
        assert!(!err.is_cancelled());
        assert_eq!(
            env.now().duration_since(started).unwrap(),
            Duration::from_millis(backoffs),
            "case {which}"
        );
    }
    env.shutdown().await.unwrap();
}

/// A real store and a real clock: the next attempt's time is stored, and
/// kept by the restart.
static SLOW_ATTEMPTS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());

#[activity(retry(initial_interval = "1500ms", max_attempts = 2))]
async fn fails_once() -> Result<u32, ActivityError> {
    let mut attempts = SLOW_ATTEMPTS.lock().unwrap();
    attempts.push(Instant::now());
    if attempts.len() == 1 {
        return Err(ActivityError::new("Transient", "first attempt fails"));
    }
    Ok(attempts.len() as u32)
}

#[workflow]
async fn backoff(ctx: WorkflowContext) -> Result<u32, WorkflowError> {
    Ok(ctx.activity(fails_once, ()).await?)
}

#[tokio::test]
async fn backoff_survives_a_restart() {
    let db = common::TempDb::new("backoff");
    let build = || {
        Runtime::builder()
            .sqlite(&db.path)
            .workflow(backoff)
            .activity(fails_once)
            .build()
    };
    let rt = build().await.unwrap();
    rt.start(backoff, ()).id("b").await.unwrap();
    // Wait for the first attempt to fail and its retry to be recorded.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let info = rt.describe("b").await.unwrap();
        if info.pending.first().is_some_and(|p| p.attempt == 2) {
            assert!(info.pending[0]
                .last_error
                .as_deref()
                .unwrap()
                .contains("first attempt fails"));
            break;
        }
        assert!(Instant::now() < deadline, "the retry was never recorded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rt.shutdown().await.unwrap();

    let rt = build().await.unwrap();
    let out: u32 = rt.handle("b").await.unwrap().result().await.unwrap();
    assert_eq!(out, 2);
    let attempts = SLOW_ATTEMPTS.lock().unwrap().clone();
    let waited = attempts[1] - attempts[0];
    assert!(
        waited >= Duration::from_millis(1400),
        "the restart skipped the backoff: {waited:?}"
    );
    assert_eq!(
        rt.describe("b").await.unwrap().status,
        WorkflowStatus::Completed
    );
    rt.shutdown().await.unwrap();
}
