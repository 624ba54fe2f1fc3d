//! How workflows end badly: a panicking body is blocked (not failed) and
//! resumes with fixed code; the error kinds the runtime sets are an enum;
//! a `continue_as_new` whose error the body drops does not win over the
//! body's `Ok`; unusable workflow ids are refused.

mod common;

use std::time::Duration;

use common::TempDb;
use reprise::prelude::*;
use reprise::testing::TestEnv;
use reprise::WorkflowStatus;

#[activity]
async fn fetch() -> Result<u32, ActivityError> {
    Ok(7)
}

mod v1 {
    use super::*;

    /// Panics after its first step.
    #[workflow(name = "fragile")]
    pub async fn fragile(ctx: WorkflowContext) -> Result<u32, WorkflowError> {
        let n = ctx.activity(fetch, ()).await?;
        if n == 7 {
            panic!("seven is not allowed");
        }
        Ok(n)
    }
}

mod v2 {
    use super::*;

    /// The fixed code: the same history, no panic.
    #[workflow(name = "fragile")]
    pub async fn fragile(ctx: WorkflowContext) -> Result<u32, WorkflowError> {
        let n = ctx.activity(fetch, ()).await?;
        Ok(n + 1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_body_blocks_the_run_until_fixed_code_resumes_it() {
    let db = TempDb::new("panic");
    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(v1::fragile)
        .activity(fetch)
        .build()
        .await
        .unwrap();
    let handle = rt.start(v1::fragile, ()).id("fragile").await.unwrap();
    let err = handle.result().await.unwrap_err();
    assert_eq!(err.error_kind(), WorkflowErrorKind::Blocked, "{err}");
    assert!(err.message().contains("seven is not allowed"), "{err}");
    let info = common::wait_for_status(&rt, "fragile", WorkflowStatus::Blocked).await;
    assert!(
        info.error
            .as_deref()
            .is_some_and(|e| e.contains("panicked: seven is not allowed")),
        "{info:?}"
    );
    drop(handle);
    rt.shutdown().await.unwrap();

    // The same code again: blocked again, the history untouched.
    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(v1::fragile)
        .activity(fetch)
        .build()
        .await
        .unwrap();
    common::wait_for_status(&rt, "fragile", WorkflowStatus::Blocked).await;
    rt.shutdown().await.unwrap();

    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(v2::fragile)
        .activity(fetch)
        .build()
        .await
        .unwrap();
    let handle = rt.handle::<u32>("fragile").await.unwrap();
    assert_eq!(handle.result().await.unwrap(), 8);
    rt.shutdown().await.unwrap();
}

#[activity(retry(max_attempts = 1))]
async fn refuse(kind: String) -> Result<(), ActivityError> {
    Err(ActivityError::new(kind, "refused"))
}

#[activity(start_to_close = "50ms", retry(max_attempts = 1))]
async fn too_slow() -> Result<(), ActivityError> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(())
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
enum Ending {
    Own,
    Activity,
    Timeout,
    WaitForever,
}

#[workflow]
async fn ends(ctx: WorkflowContext, how: Ending) -> Result<(), WorkflowError> {
    match how {
        Ending::Own => Err(WorkflowError::new("my own reason")),
        Ending::Activity => Ok(ctx.activity(refuse, "Quota".to_owned()).await?),
        Ending::Timeout => Ok(ctx.activity(too_slow, ()).await?),
        Ending::WaitForever => {
            ctx.sleep(Duration::from_secs(3600)).await;
            Ok(())
        }
    }
}

/// On a `TestEnv`: the timeout passes in virtual time.
#[tokio::test]
async fn the_kinds_the_runtime_sets_are_an_enum() {
    let rt = TestEnv::builder()
        .workflow(ends)
        .activity(refuse)
        .activity(too_slow)
        .build()
        .await
        .unwrap();
    let end = |how, id: &'static str| {
        let rt = &rt;
        async move {
            let handle = rt.start(ends, how).id(id).await.unwrap();
            handle.result().await.unwrap_err()
        }
    };
    let own = end(Ending::Own, "own").await;
    assert_eq!(own.error_kind(), WorkflowErrorKind::Workflow);
    assert_eq!(own.kind(), None);
    let activity = end(Ending::Activity, "activity").await;
    assert_eq!(activity.error_kind(), WorkflowErrorKind::Activity);
    assert_eq!(activity.kind(), Some("Quota"));
    let timeout = end(Ending::Timeout, "timeout").await;
    assert_eq!(timeout.error_kind(), WorkflowErrorKind::Timeout);
    assert_eq!(timeout.kind(), Some("StartToCloseTimeout"));

    let handle = rt
        .start(ends, Ending::WaitForever)
        .id("cancel")
        .await
        .unwrap();
    rt.cancel("cancel").await.unwrap();
    let cancelled = handle.result().await.unwrap_err();
    assert_eq!(cancelled.error_kind(), WorkflowErrorKind::Cancelled);
    assert!(cancelled.is_cancelled());

    let handle = rt
        .start(ends, Ending::WaitForever)
        .id("term")
        .await
        .unwrap();
    rt.terminate("term", "enough").await.unwrap();
    let terminated = handle.result().await.unwrap_err();
    assert_eq!(terminated.error_kind(), WorkflowErrorKind::Terminated);
    assert_eq!(terminated.message(), "enough");

    // A result stored before the kind was recorded is classified by its string.
    let legacy: WorkflowError =
        serde_json::from_value(json!({ "kind": "Blocked", "message": "old" })).unwrap();
    assert_eq!(legacy.error_kind(), WorkflowErrorKind::Blocked);
    rt.shutdown().await.unwrap();
}

/// Asks to continue as new, then drops that error and returns `Ok`.
#[workflow]
async fn changes_its_mind(ctx: WorkflowContext, round: u32) -> Result<u32, WorkflowError> {
    let _ignored: Result<u32, WorkflowError> = ctx.continue_as_new(round + 1);
    Ok(round)
}

/// Continues as new once, as intended.
#[workflow]
async fn continues_once(ctx: WorkflowContext, round: u32) -> Result<u32, WorkflowError> {
    if round == 0 {
        return ctx.continue_as_new(1);
    }
    Ok(round)
}

#[tokio::test]
async fn a_dropped_continue_as_new_does_not_win_over_ok() {
    let rt = Runtime::builder()
        .in_memory()
        .workflow(changes_its_mind)
        .workflow(continues_once)
        .build()
        .await
        .unwrap();
    let handle = rt.start(changes_its_mind, 0).id("mind").await.unwrap();
    assert_eq!(handle.result().await.unwrap(), 0);
    assert_eq!(rt.describe("mind").await.unwrap().runs.len(), 1);
    let handle = rt.start(continues_once, 0).id("once").await.unwrap();
    assert_eq!(handle.result().await.unwrap(), 1);
    assert_eq!(rt.describe("once").await.unwrap().runs.len(), 2);
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn empty_and_overlong_ids_are_refused() {
    let rt = Runtime::builder()
        .in_memory()
        .workflow(continues_once)
        .build()
        .await
        .unwrap();
    let err = rt.start(continues_once, 1).id("").await.unwrap_err();
    assert!(matches!(err, reprise::Error::InvalidId { .. }), "{err}");
    assert_eq!(err.to_string(), "invalid workflow id ``: it is empty");
    let long = "x".repeat(1025);
    let err = rt.start(continues_once, 1).id(long).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("it is 1025 bytes long, more than 1024"),
        "{err}"
    );
    // 1,024 bytes is fine.
    let handle = rt
        .start(continues_once, 1)
        .id("y".repeat(1024))
        .await
        .unwrap();
    assert_eq!(handle.result().await.unwrap(), 1);
    rt.shutdown().await.unwrap();
}
