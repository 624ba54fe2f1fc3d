//! Heartbeats: details carried to the next attempt, and a heartbeat timeout
//! that fails a stalled attempt long before its start_to_close — on a
//! `TestEnv`, so the timeouts are exact and nothing waits for them.

use std::sync::Mutex;
use std::time::Duration;

use reprise::prelude::*;
use reprise::testing::TestEnv;

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

/// When each attempt of `stalls` started, on tokio's (virtual) clock.
static STALLS_STARTED: Mutex<Vec<tokio::time::Instant>> = Mutex::new(Vec::new());

/// Stalls on its first attempt after one heartbeat.
#[activity(
    heartbeat_timeout = "200ms",
    start_to_close = "1h",
    retry(initial_interval = "10ms")
)]
async fn stalls(ctx: ActivityContext) -> Result<u32, ActivityError> {
    STALLS_STARTED
        .lock()
        .unwrap()
        .push(tokio::time::Instant::now());
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

async fn env() -> TestEnv {
    TestEnv::builder()
        .workflow(hb)
        .activity(resumable)
        .activity(stalls)
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn details_reach_the_next_attempt() {
    let env = env().await;
    let started = env.now();
    let out = env.start(hb, 0).await.unwrap().result().await.unwrap();
    assert_eq!(
        out,
        vec![4, 5, 6, 7, 8, 9],
        "the retry resumed after item 3"
    );
    // One backoff of 10 ms between the attempts.
    assert_eq!(
        env.now().duration_since(started).unwrap(),
        Duration::from_millis(10)
    );
    env.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_missed_heartbeat_times_the_attempt_out() {
    let env = env().await;
    let started = env.now();
    let h = env.start(hb, 1).id("stalled").await.unwrap();
    // The attempt heartbeats once, then stalls: 199 ms later it still runs.
    env.advance(Duration::from_millis(199)).await;
    let info = env.describe("stalled").await.unwrap();
    assert_eq!(info.pending[0].attempt, 1);
    assert_eq!(info.pending[0].heartbeat, Some(json!({ "done": 0 })));
    // At 200 ms it is timed out, and retried 10 ms later.
    env.advance(Duration::from_millis(1)).await;
    let info = env.describe("stalled").await.unwrap();
    assert_eq!(info.pending[0].attempt, 2, "{info:?}");
    let last_error = info.pending[0].last_error.as_deref().unwrap();
    assert!(
        last_error.contains("sent no heartbeat for 200ms"),
        "{last_error}"
    );
    assert_eq!(
        h.result().await.unwrap(),
        vec![2],
        "the second attempt answered"
    );
    assert_eq!(
        env.now().duration_since(started).unwrap(),
        Duration::from_millis(210),
        "a heartbeat timeout of 200 ms, a backoff of 10 ms; not start_to_close's hour"
    );
    let attempts = STALLS_STARTED.lock().unwrap().clone();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1] - attempts[0], Duration::from_millis(210));
    env.shutdown().await.unwrap();
}

/// Heartbeats every 100 ms for 3 s.
#[activity(heartbeat_timeout = "1s", retry(max_attempts = 1))]
async fn steady(ctx: ActivityContext) -> Result<u32, ActivityError> {
    for done in 0..30 {
        ctx.heartbeat(&Progress { done });
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(30)
}

/// A day passes, then an activity heartbeats steadily.
#[workflow]
async fn late_steady(ctx: WorkflowContext) -> Result<u32, WorkflowError> {
    ctx.sleep(Duration::from_secs(24 * 3600)).await;
    Ok(ctx.activity(steady, ()).await?)
}

/// The heartbeat clock is tokio's, as the timeout's: after a day of virtual
/// time, an attempt that heartbeats in time is not timed out.
#[tokio::test]
async fn heartbeats_in_time_after_a_long_sleep_keep_the_attempt_alive() {
    let env = TestEnv::builder()
        .workflow(late_steady)
        .activity(steady)
        .build()
        .await
        .unwrap();
    let started = env.now();
    let h = env.start(late_steady, ()).await.unwrap();
    assert_eq!(h.result().await.unwrap(), 30);
    assert_eq!(
        env.now().duration_since(started).unwrap(),
        Duration::from_secs(24 * 3600 + 3)
    );
    env.shutdown().await.unwrap();
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
    let env = TestEnv::builder()
        .workflow(patient)
        .activity(resumable)
        .build()
        .await
        .unwrap();
    let out = env
        .start(patient, ())
        .await
        .unwrap()
        .result()
        .await
        .unwrap();
    assert_eq!(out, vec![4, 5, 6, 7, 8, 9]);
    env.shutdown().await.unwrap();
}

/// Heartbeats twice at one instant, with a yield in between, then stalls.
#[activity(start_to_close = "2h", retry(max_attempts = 1))]
async fn two_beats(ctx: ActivityContext) -> Result<(), ActivityError> {
    ctx.heartbeat(&Progress { done: 1 });
    // The engine stores the first details meanwhile.
    tokio::task::yield_now().await;
    ctx.heartbeat(&Progress { done: 2 });
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Ok(())
}

#[workflow]
async fn beats(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    Ok(ctx.activity(two_beats, ()).await?)
}

/// Details are stored by the heartbeat that sent them, not by its time: two
/// heartbeats at one instant of a paused clock are both seen.
#[tokio::test]
async fn describe_shows_the_last_details_of_a_running_attempt() {
    let env = TestEnv::builder()
        .workflow(beats)
        .activity(two_beats)
        .build()
        .await
        .unwrap();
    env.start(beats, ()).id("beats").await.unwrap();
    // Details are stored at most once a second.
    env.advance(Duration::from_secs(2)).await;
    let info = env.describe("beats").await.unwrap();
    assert_eq!(info.pending[0].heartbeat, Some(json!({ "done": 2 })));
    env.shutdown().await.unwrap();
}
