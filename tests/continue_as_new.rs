//! Continue-as-new: same workflow id, new run, fresh history; the handle
//! follows the chain; signals are carried over. The tests with timers run
//! on a `TestEnv`: a signal is sent at an exact point of the chain.

use std::time::Duration;

use reprise::prelude::*;
use reprise::testing::TestEnv;
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

/// Each run sleeps 20 ms, then continues as new, until a `Stop` arrives.
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
    let env = TestEnv::builder().workflow(looper).build().await.unwrap();
    // Run `k` sleeps from 20k to 20(k + 1) ms. A signal sent at `t` ms,
    // after the runs due by then took their steps, is seen by the run
    // asleep at `t`: run `t / 20` — at a multiple of 20 ms, the run that
    // has just started.
    for t in [0, 10, 19, 20, 21, 40, 59, 60, 80, 90] {
        let id = format!("loop-{t}");
        let handle = env.start(looper, 0).id(&id).await.unwrap();
        env.advance(Duration::from_millis(t)).await;
        env.signal(&id, Stop).await.unwrap();
        let rounds = handle.result().await.unwrap();
        assert_eq!(rounds, (t / 20) as u32, "signal at {t} ms");
        let info = env.describe(&id).await.unwrap();
        assert_eq!(info.runs.len() as u32, rounds + 1, "signal at {t} ms");
    }
    // Sent at the very instant a run ends and the next starts, by a task
    // woken with the timer: the ending run reads it, or the next one does,
    // never neither.
    for t in [20, 40, 60] {
        let id = format!("race-{t}");
        let handle = env.start(looper, 0).id(&id).await.unwrap();
        let signal = async {
            tokio::time::sleep(Duration::from_millis(t)).await;
            env.signal(&id, Stop).await.unwrap();
        };
        tokio::join!(signal, env.advance(Duration::from_millis(t)));
        let rounds = handle.result().await.unwrap();
        let t = t as u32;
        assert!(
            rounds == t / 20 - 1 || rounds == t / 20,
            "signal at {t} ms: {rounds} rounds"
        );
        let info = env.describe(&id).await.unwrap();
        assert_eq!(info.runs.len() as u32, rounds + 1, "signal at {t} ms");
    }
    env.shutdown().await.unwrap();
}

/// Continues as new every 100 ms without ever reading its signals: they
/// are carried.
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
    let env = TestEnv::builder().workflow(carrier).build().await.unwrap();
    let handle = env.start(carrier, 2).id("carry").await.unwrap();
    // Two signals to the first run, one to the second; the third run reads
    // all three.
    env.signal("carry", Stop).await.unwrap();
    env.signal("carry", Stop).await.unwrap();
    env.advance(Duration::from_millis(150)).await;
    assert_eq!(env.describe("carry").await.unwrap().runs.len(), 2);
    env.signal("carry", Stop).await.unwrap();
    assert_eq!(handle.result().await.unwrap(), 3);
    let info = env.describe("carry").await.unwrap();
    assert_eq!(info.runs.len(), 3);
    assert_eq!(info.status, WorkflowStatus::Completed);
    env.shutdown().await.unwrap();
}
