//! Engine tests with hand-written `Workflow` and `Activity` impls (what the
//! macros generate), on the in-memory store.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::prelude::*;
use crate::{BoxFuture, WorkflowStatus};

static CALLS: AtomicU32 = AtomicU32::new(0);

#[derive(Clone, Copy, Debug)]
struct AddOne;

impl Activity for AddOne {
    const NAME: &'static str = "add_one";
    type Input = u64;
    type Output = u64;
    fn options(&self) -> crate::ActivityOptions {
        crate::ActivityOptions::default()
    }
    fn run(self, _ctx: ActivityContext, n: u64) -> BoxFuture<'static, Result<u64, ActivityError>> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move { Ok(n + 1) })
    }
}

#[derive(Clone, Copy, Debug)]
struct Count;

impl Workflow for Count {
    const NAME: &'static str = "count";
    type Input = u64;
    type Output = u64;
    fn run(self, ctx: WorkflowContext, to: u64) -> BoxFuture<'static, Result<u64, WorkflowError>> {
        Box::pin(async move {
            let mut n = 0;
            while n < to {
                n = ctx.activity(AddOne, n).await?;
            }
            let fan: Vec<_> = (0..5).map(|i| ctx.activity(AddOne, i)).collect();
            let sum: u64 = join_all(fan).await.into_iter().map(|r| r.unwrap()).sum();
            ctx.sleep(Duration::from_millis(50)).await;
            Ok(n + sum)
        })
    }
}

#[tokio::test]
async fn sequential_fan_out_and_timer() {
    let rt = Runtime::builder()
        .in_memory()
        .workflow(Count)
        .activity(AddOne)
        .build()
        .await
        .unwrap();
    let handle = rt.start(Count, 10).id("c1").await.unwrap();
    assert_eq!(handle.result().await.unwrap(), 10 + 15);
    let info = rt.describe("c1").await.unwrap();
    assert_eq!(info.status, WorkflowStatus::Completed);
    // Same id again: the same workflow, nothing runs again.
    let before = CALLS.load(Ordering::SeqCst);
    let again = rt.start(Count, 99).id("c1").await.unwrap();
    assert_eq!(again.result().await.unwrap(), 25);
    assert_eq!(CALLS.load(Ordering::SeqCst), before);
    rt.shutdown().await.unwrap();
}

/// Waits on a timer long enough for the test to stop the runtime.
#[derive(Clone, Copy, Debug)]
struct Napper;

impl Workflow for Napper {
    const NAME: &'static str = "napper";
    type Input = u64;
    type Output = u64;
    fn run(
        self,
        ctx: WorkflowContext,
        millis: u64,
    ) -> BoxFuture<'static, Result<u64, WorkflowError>> {
        Box::pin(async move {
            let n = ctx.activity(AddOne, millis).await?;
            ctx.sleep(Duration::from_millis(millis)).await;
            Ok(n)
        })
    }
}

/// A history row that does not decode fails that run, naming the row, and
/// leaves the other runs alone.
#[tokio::test]
async fn a_corrupt_history_row_fails_only_its_run() {
    let dir = std::env::temp_dir().join(format!("reprise-corrupt-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("reprise.db");
    let build = || {
        Runtime::builder()
            .sqlite(&path)
            .workflow(Napper)
            .activity(AddOne)
            .build()
    };
    let rt = build().await.unwrap();
    rt.start(Napper, 400).id("bad").await.unwrap();
    rt.start(Napper, 400).id("good").await.unwrap();
    // Both have run their activity and wait on their timer.
    for id in ["bad", "good"] {
        while rt
            .describe(id)
            .await
            .unwrap()
            .pending
            .first()
            .is_none_or(|p| p.kind != "timer")
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let bad_run = rt.describe("bad").await.unwrap().runs[0].run_id.clone();
    rt.shutdown().await.unwrap();

    let conn = rusqlite::Connection::open(&path).unwrap();
    let changed = conn
        .execute(
            "UPDATE history SET event = '{\"type\":\"Garbage\"' WHERE run_id = ?1 AND idx = 2",
            [&bad_run],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);

    let rt = build().await.unwrap();
    let good: u64 = rt.handle("good").await.unwrap().result().await.unwrap();
    assert_eq!(good, 401);
    let err = rt
        .handle::<u64>("bad")
        .await
        .unwrap()
        .result()
        .await
        .unwrap_err();
    assert!(
        err.message().contains("history row 2 is not a valid event"),
        "{err}"
    );
    assert!(err.message().contains(&bad_run), "{err}");
    assert_eq!(
        rt.describe("bad").await.unwrap().status,
        WorkflowStatus::Failed
    );
    rt.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
