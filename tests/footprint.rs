//! What a long-running workflow leaves behind: a `select!` loop of a signal
//! against a one-day sleep cancels the timer of every turn it leaves (its
//! task is deleted, it never fires), so the run holds one timer whatever
//! the number of turns, and its history (with the cancellations) replays
//! cleanly after a restart. The memory over hundreds of thousands of steps
//! is measured by the `soak` benchmark (`docs/PERFORMANCE.md`).

mod common;

use std::time::{Duration, Instant};

use common::TempDb;
use reprise::prelude::*;

#[derive(Debug, Serialize, Deserialize, Signal)]
struct Tick;

#[activity]
async fn count(n: u64) -> Result<u64, ActivityError> {
    Ok(n + 1)
}

/// Counts `turns` ticks, each raced against a one-day timer, then returns.
#[workflow]
async fn ticks(ctx: WorkflowContext, turns: u64) -> Result<u64, WorkflowError> {
    let mut n = 0;
    while n < turns {
        tokio::select! {
            biased;
            _ = ctx.signal::<Tick>().recv() => {
                n = ctx.activity(count, n).await?;
            }
            () = ctx.sleep(Duration::from_secs(86_400)) => return Ok(n),
        }
    }
    Ok(n)
}

async fn pending_timers(rt: &Runtime, id: &str) -> usize {
    let info = rt.describe(id).await.unwrap();
    info.pending.iter().filter(|s| s.kind == "timer").count()
}

/// Sends a tick and waits until the workflow has counted it (its progress
/// is its pending timer's sequence number moving on).
async fn tick(rt: &Runtime, id: &str, expected_turn: u64) {
    rt.signal(id, Tick).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = rt.describe(id).await.unwrap();
        let timer = info.pending.iter().find(|s| s.kind == "timer");
        // Each turn takes two sequence numbers (the timer, the activity; a
        // signal wait takes none): after turn t the timer has 2t.
        if timer.is_some_and(|t| u64::from(t.seq) >= expected_turn * 2) {
            return;
        }
        assert!(Instant::now() < deadline, "turn {expected_turn}: {info:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_select_loop_keeps_one_timer_and_replays_its_cancellations() {
    let db = TempDb::new("footprint");
    let build = || async {
        Runtime::builder()
            .sqlite(&db.path)
            .workflow(ticks)
            .activity(count)
            .build()
            .await
            .unwrap()
    };
    let rt = build().await;
    let handle = rt.start(ticks, 60).id("ticks").await.unwrap();
    for turn in 1..=30 {
        tick(&rt, "ticks", turn).await;
        assert_eq!(pending_timers(&rt, "ticks").await, 1, "turn {turn}");
    }
    drop(handle);
    rt.shutdown().await.unwrap();

    // A new runtime replays the 30 turns (and their cancelled timers).
    let rt = build().await;
    assert_eq!(pending_timers(&rt, "ticks").await, 1);
    for turn in 31..=60 {
        rt.signal("ticks", Tick).await.unwrap();
        let _ = turn;
    }
    let handle = rt.handle::<u64>("ticks").await.unwrap();
    assert_eq!(handle.result().await.unwrap(), 60);
    drop(handle);
    rt.shutdown().await.unwrap();
}
