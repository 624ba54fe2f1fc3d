//! Changing workflow code while runs are in flight: a run started on the
//! old code replays it through `ctx.patched` (old branch) and completes on
//! the new code, while a new run takes the new branch; `deprecate_patch`
//! replays the new code's runs; `continue_as_new_suggested` is recorded
//! with each activation, so replay answers the same.

mod common;

use std::time::Duration;

use reprise::prelude::*;
use reprise::testing::TestEnv;
use reprise::WorkflowStatus;

#[derive(Debug, Serialize, Deserialize, Signal)]
struct Go;

#[activity]
async fn fetch(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

#[activity]
async fn dedupe(n: u64) -> Result<u64, ActivityError> {
    Ok(n / 2)
}

/// The code as first deployed: fetch, wait for `Go`, return.
#[workflow(name = "Import")]
async fn import_v1(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let rows = ctx.activity(fetch, n).await?;
    ctx.signal::<Go>().recv().await;
    Ok(rows)
}

/// The same workflow with a dedupe step added behind a patch.
#[workflow(name = "Import")]
async fn import_v2(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let rows = if ctx.patched("dedupe") {
        let rows = ctx.activity(fetch, n).await?;
        ctx.activity(dedupe, rows).await?
    } else {
        ctx.activity(fetch, n).await?
    };
    ctx.signal::<Go>().recv().await;
    Ok(rows)
}

/// Once no run of v1 is left: only the new branch, the patch deprecated.
#[workflow(name = "Import")]
async fn import_v3(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    ctx.deprecate_patch("dedupe");
    let rows = ctx.activity(fetch, n).await?;
    let rows = ctx.activity(dedupe, rows).await?;
    ctx.signal::<Go>().recv().await;
    Ok(rows)
}

async fn runtime_with<W: Workflow>(path: &std::path::Path, w: W) -> Runtime {
    Runtime::builder()
        .sqlite(path)
        .workflow(w)
        .activity(fetch)
        .activity(dedupe)
        .build()
        .await
        .unwrap()
}

async fn wait_for_progress(rt: &Runtime, id: &str, events: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let history = rt.history(id).await.unwrap();
        if history.events.len() >= events {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{id} did not progress"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_old_run_and_a_new_run_of_a_patched_workflow_both_complete() {
    let db = common::TempDb::new("patching");
    // v1 starts a run, which fetches and then waits.
    let rt = runtime_with(&db.path, import_v1).await;
    rt.start(import_v1, 10).id("old").await.unwrap();
    // Started, activation (fetch), activation (result).
    wait_for_progress(&rt, "old", 5).await;
    rt.shutdown().await.unwrap();

    // v2 is deployed: the old run replays the old branch, a new run takes
    // the new one.
    let rt = runtime_with(&db.path, import_v2).await;
    rt.start(import_v2, 10).id("new").await.unwrap();
    wait_for_progress(&rt, "new", 7).await;
    for id in ["old", "new"] {
        rt.signal(id, Go).await.unwrap();
    }
    let old = rt
        .handle::<u64>("old")
        .await
        .unwrap()
        .result()
        .await
        .unwrap();
    let new = rt
        .handle::<u64>("new")
        .await
        .unwrap()
        .result()
        .await
        .unwrap();
    assert_eq!((old, new), (10, 5), "the old run kept the old branch");
    let history = rt.history("new").await.unwrap();
    assert!(history.events.iter().any(|e| e["type"] == "Patched"));
    let history = rt.history("old").await.unwrap();
    assert!(!history.events.iter().any(|e| e["type"] == "Patched"));
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_deprecated_patch_replays_the_runs_of_the_patched_code() {
    let db = common::TempDb::new("patching-deprecated");
    let rt = runtime_with(&db.path, import_v2).await;
    rt.start(import_v2, 8).id("v2-run").await.unwrap();
    wait_for_progress(&rt, "v2-run", 7).await;
    rt.shutdown().await.unwrap();

    let rt = runtime_with(&db.path, import_v3).await;
    rt.start(import_v3, 8).id("v3-run").await.unwrap();
    wait_for_progress(&rt, "v3-run", 7).await;
    for id in ["v2-run", "v3-run"] {
        rt.signal(id, Go).await.unwrap();
    }
    for id in ["v2-run", "v3-run"] {
        let out = rt.handle::<u64>(id).await.unwrap().result().await.unwrap();
        assert_eq!(out, 4, "{id}");
        assert_eq!(
            rt.describe(id).await.unwrap().status,
            WorkflowStatus::Completed
        );
    }
    rt.shutdown().await.unwrap();
}

#[test]
fn replaying_without_the_patch_check_diverges_where_the_patch_changed_the_code() {
    // A v2 history (new branch) replayed by v1 code: v1 asks for `fetch`
    // and then waits where v2 recorded `dedupe`.
    let history = serde_json::json!([
        {"type": "WorkflowStarted", "name": "Import", "input": 8},
        {"type": "Activation", "time_ms": 1},
        {"type": "Patched", "id": "dedupe"},
        {"type": "ActivityScheduled", "seq": 0, "name": "fetch"},
        {"type": "Activation", "time_ms": 2},
        {"type": "ActivityCompleted", "seq": 0, "output": 8},
        {"type": "ActivityScheduled", "seq": 1, "name": "dedupe"},
    ]);
    assert!(reprise::testing::replay(import_v2, &history).is_ok());
    assert!(reprise::testing::replay(import_v3, &history).is_ok());
    let err = reprise::testing::replay(import_v1, &history).unwrap_err();
    assert!(err.to_string().contains("dedupe"), "{err}");
}

/// Adds 1 000 markers per activation until a continue-as-new is suggested;
/// returns the activation that saw the suggestion.
#[workflow]
async fn grows(ctx: WorkflowContext) -> Result<u32, WorkflowError> {
    for activation in 1.. {
        if ctx.continue_as_new_suggested() {
            return Ok(activation);
        }
        for _ in 0..1_000 {
            ctx.random_u64();
        }
        ctx.sleep(Duration::from_millis(1)).await;
    }
    unreachable!()
}

#[tokio::test]
async fn continue_as_new_is_suggested_past_the_threshold_and_replays_the_same() {
    let env = TestEnv::builder().workflow(grows).build().await.unwrap();
    let handle = env.start(grows, ()).id("grows").await.unwrap();
    let activation = handle.result().await.unwrap();
    // Each activation adds 1 003 events (activation, markers, timer start,
    // and the firing in the next): the 10th passes 10 000.
    assert_eq!(activation, 11);
    assert_eq!(reprise::CONTINUE_AS_NEW_EVENTS, 10_000);
    let history = env.history("grows").await.unwrap();
    reprise::testing::replay(grows, &history).unwrap();
}
