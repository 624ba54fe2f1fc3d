//! Continue-as-new: same workflow id, new run, fresh history; the handle
//! follows the chain; signals are carried over.

use std::time::Duration;

use reprise::prelude::*;
use reprise::WorkflowStatus;

#[activity]
async fn bump(n: u64) -> Result<u64, ActivityError> {
    Ok(n + 1)
}

/// Counts to 10, one run every 3 steps.
#[workflow]
async fn counter(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let mut n = n;
    for _ in 0..3 {
        if n == 10 {
            return Ok(n);
        }
        n = ctx.activity(bump, n).await?;
    }
    ctx.continue_as_new(n)
}

#[tokio::test]
async fn a_chain_of_runs_returns_the_last_result() {
    let rt = Runtime::builder()
        .in_memory()
        .workflow(counter)
        .activity(bump)
        .build()
        .await
        .unwrap();
    let handle = rt.start(counter, 0).id("chain").await.unwrap();
    assert_eq!(handle.result().await.unwrap(), 10);
    let info = rt.describe("chain").await.unwrap();
    assert_eq!(info.runs.len(), 4, "0→3→6→9→10: four runs");
    assert_eq!(info.status, WorkflowStatus::Completed);
    assert!(info.runs[..3]
        .iter()
        .all(|r| r.status == WorkflowStatus::ContinuedAsNew));
    assert_ne!(info.runs[0].run_id, info.runs[3].run_id);
    rt.shutdown().await.unwrap();
}

#[derive(Debug, Serialize, Deserialize, Signal)]
struct Stop;

/// Each run sleeps a little, then continues as new, until a `Stop` arrives.
#[workflow]
async fn looper(ctx: WorkflowContext, round: u32) -> Result<u32, WorkflowError> {
    ctx.sleep(Duration::from_millis(20)).await;
    if ctx.signal::<Stop>().try_recv().is_some() {
        return Ok(round);
    }
    ctx.continue_as_new(round + 1)
}

#[tokio::test]
async fn a_signal_arriving_during_the_switch_reaches_the_next_run() {
    let rt = Runtime::builder()
        .in_memory()
        .workflow(looper)
        .build()
        .await
        .unwrap();
    let handle = rt.start(looper, 0).id("loop").await.unwrap();
    tokio::time::sleep(Duration::from_millis(90)).await;
    rt.signal("loop", Stop).await.unwrap();
    let rounds = handle.result().await.unwrap();
    assert!(rounds >= 1, "it continued as new at least once: {rounds}");
    let info = rt.describe("loop").await.unwrap();
    assert_eq!(info.runs.len() as u32, rounds + 1);
    rt.shutdown().await.unwrap();
}

/// Continues as new without ever reading its signals: they are carried.
#[workflow]
async fn carrier(ctx: WorkflowContext, hops: u32) -> Result<usize, WorkflowError> {
    if hops > 0 {
        ctx.sleep(Duration::from_millis(100)).await;
        return ctx.continue_as_new(hops - 1);
    }
    let mut n = 0;
    while ctx.signal::<Stop>().try_recv().is_some() {
        n += 1;
    }
    Ok(n)
}

#[tokio::test]
async fn unconsumed_signals_are_carried_to_the_new_run() {
    let rt = Runtime::builder()
        .in_memory()
        .workflow(carrier)
        .build()
        .await
        .unwrap();
    let handle = rt.start(carrier, 2).id("carry").await.unwrap();
    rt.signal("carry", Stop).await.unwrap();
    rt.signal("carry", Stop).await.unwrap();
    assert_eq!(handle.result().await.unwrap(), 2);
    rt.shutdown().await.unwrap();
}
