//! Replay against changed code: a different call at a sequence number, or a
//! recorded result that no longer decodes, stops the run with an error that
//! says where and what; the history is untouched and the run resumes once
//! the code is fixed.

mod common;

use std::time::{Duration, Instant};

use reprise::prelude::*;
use reprise::WorkflowStatus;

#[activity]
async fn fetch() -> Result<u32, ActivityError> {
    Ok(7)
}

#[activity]
async fn other_fetch() -> Result<u32, ActivityError> {
    Ok(8)
}

mod v1 {
    use super::*;

    /// Fetches, then waits on a timer: a restart during the timer replays
    /// the fetch.
    #[workflow(name = "evolving")]
    pub async fn evolving(ctx: WorkflowContext) -> Result<u32, WorkflowError> {
        let n = ctx.activity(fetch, ()).await?;
        ctx.sleep(Duration::from_millis(400)).await;
        Ok(n + 1)
    }
}

mod v2 {
    use super::*;

    /// Calls another activity first: incompatible with v1's histories.
    #[workflow(name = "evolving")]
    pub async fn evolving(ctx: WorkflowContext) -> Result<u32, WorkflowError> {
        let n = ctx.activity(other_fetch, ()).await?;
        ctx.sleep(Duration::from_millis(400)).await;
        Ok(n + 1)
    }
}

mod v3 {
    use super::*;

    #[derive(Debug, Serialize, Deserialize)]
    pub struct Rich {
        pub value: u32,
    }

    /// The activity `fetch` now returns a struct: v1's recorded `7` no longer decodes.
    #[activity(name = "fetch")]
    pub async fn fetch_rich() -> Result<Rich, ActivityError> {
        Ok(Rich { value: 7 })
    }

    #[workflow(name = "evolving")]
    pub async fn evolving(ctx: WorkflowContext) -> Result<u32, WorkflowError> {
        let n = ctx.activity(fetch_rich, ()).await?;
        ctx.sleep(Duration::from_millis(400)).await;
        Ok(n.value + 1)
    }
}

/// Starts v1 and stops the runtime while the run waits on its timer.
async fn start_v1(db: &common::TempDb) {
    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(v1::evolving)
        .activity(fetch)
        .build()
        .await
        .unwrap();
    rt.start(v1::evolving, ()).id("wf").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while rt
        .describe("wf")
        .await
        .unwrap()
        .pending
        .first()
        .is_none_or(|p| p.kind != "timer")
    {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_different_call_on_replay_blocks_the_run_until_the_code_is_fixed() {
    let db = common::TempDb::new("nondeterminism");
    start_v1(&db).await;

    // v2 replays v1's history when the timer fires.
    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(v2::evolving)
        .activity(other_fetch)
        .build()
        .await
        .unwrap();
    let info = common::wait_for_status(&rt, "wf", WorkflowStatus::Blocked).await;
    let error = info.error.unwrap();
    assert!(error.contains("workflow `wf` run `"), "{error}");
    assert!(
        error.contains("non-determinism at sequence number 0"),
        "{error}"
    );
    assert!(
        error.contains("the history recorded activity `fetch`"),
        "{error}"
    );
    assert!(
        error.contains("the code asked for activity `other_fetch`"),
        "{error}"
    );
    let err = rt
        .handle::<u32>("wf")
        .await
        .unwrap()
        .result()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some("Blocked"));
    rt.shutdown().await.unwrap();

    // The original code resumes it from the untouched history.
    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(v1::evolving)
        .activity(fetch)
        .build()
        .await
        .unwrap();
    let out: u32 = rt.handle("wf").await.unwrap().result().await.unwrap();
    assert_eq!(out, 8);
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_recorded_result_that_no_longer_decodes_blocks_the_run() {
    let db = common::TempDb::new("decode");
    start_v1(&db).await;
    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(v3::evolving)
        .activity(v3::fetch_rich)
        .build()
        .await
        .unwrap();
    let info = common::wait_for_status(&rt, "wf", WorkflowStatus::Blocked).await;
    let error = info.error.unwrap();
    assert!(
        error
            .contains("cannot decode the recorded result of activity `fetch` at sequence number 0"),
        "{error}"
    );
    rt.shutdown().await.unwrap();
}
