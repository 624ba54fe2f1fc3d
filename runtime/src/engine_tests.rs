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
