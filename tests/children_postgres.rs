//! Child workflows on PostgreSQL: a parent on one worker, its children on
//! another (the only one that has their type), results delivered across;
//! cancelling the parent reaches children held by the other worker.

mod common;

use std::time::Duration;

use common::pg::TestDatabase;
use reprise::prelude::*;
use reprise::WorkflowStatus;

#[activity]
async fn square(n: u64) -> Result<u64, ActivityError> {
    Ok(n * n)
}

#[workflow]
async fn square_child(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    Ok(ctx.activity(square, n).await?)
}

#[derive(Debug, Serialize, Deserialize, Signal)]
struct Never;

#[workflow]
async fn stuck_child(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    ctx.signal::<Never>().recv().await;
    Ok(())
}

/// Sums the squares of `0..n`, one child each.
#[workflow]
async fn squares(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let ctx = &ctx;
    let calls = (0..n).map(|i| ctx.child(square_child, i));
    let mut sum = 0;
    for result in join_all(calls).await {
        sum += result?;
    }
    Ok(sum)
}

/// Waits for a child that never ends.
#[workflow]
async fn waits(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    ctx.child(stuck_child, ()).id("stuck").await?;
    Ok(())
}

fn parents(db: &TestDatabase) -> reprise::RuntimeBuilder {
    Runtime::builder()
        .postgres(&db.url)
        .worker_id("parents")
        .workflow(squares)
        .workflow(waits)
}

fn children(db: &TestDatabase) -> reprise::RuntimeBuilder {
    Runtime::builder()
        .postgres(&db.url)
        .worker_id("children")
        .workflow(square_child)
        .workflow(stuck_child)
        .activity(square)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_run_on_another_worker_and_report_back() {
    let db = TestDatabase::new();
    let p = parents(&db).build().await.unwrap();
    let c = children(&db).build().await.unwrap();
    let handle = p.start(squares, 30).id("sum").await.unwrap();
    let sum = tokio::time::timeout(Duration::from_secs(30), handle.result())
        .await
        .expect("the parent ends")
        .unwrap();
    assert_eq!(sum, (0..30u64).map(|i| i * i).sum::<u64>());
    assert_eq!(
        db.sql("SELECT count(*) FROM runs WHERE workflow_id LIKE 'sum/%' AND status = 'completed'"),
        "30"
    );
    assert_eq!(db.sql("SELECT count(*) FROM inbox"), "0");
    p.shutdown().await.unwrap();
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_parent_cancels_its_child_on_another_worker() {
    let db = TestDatabase::new();
    let p = parents(&db).build().await.unwrap();
    let c = children(&db).build().await.unwrap();
    let handle = p.start(waits, ()).id("parent").await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while c.describe("stuck").await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the child never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    p.cancel("parent").await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(30), handle.result())
        .await
        .expect("the parent ends")
        .unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    common::wait_for_status(&c, "stuck", WorkflowStatus::Cancelled).await;
    p.shutdown().await.unwrap();
    c.shutdown().await.unwrap();
}

#[workflow]
async fn leaf(_ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    Ok(n)
}

/// Starts `n` leaves in one step and sums them.
#[workflow]
async fn wide(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let ctx = &ctx;
    let mut sum = 0;
    for result in join_all((0..n).map(|i| ctx.child(leaf, i))).await {
        sum += result?;
    }
    Ok(sum)
}

/// Starts two children with one id in the same step: the second is refused.
#[workflow]
async fn twins(ctx: WorkflowContext) -> Result<(u64, bool), WorkflowError> {
    let (a, b) =
        futures_util::future::join(ctx.child(leaf, 1).id("twin"), ctx.child(leaf, 2).id("twin"))
            .await;
    Ok((a?, b.unwrap_err().is_already_exists()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_children_start_in_one_step_on_postgres() {
    let db = TestDatabase::new();
    let rt = Runtime::builder()
        .postgres(&db.url)
        .workflow(wide)
        .workflow(leaf)
        .workflow(twins)
        .build()
        .await
        .unwrap();
    let n = 2_000;
    let handle = rt.start(wide, n).id("wide").await.unwrap();
    let sum = tokio::time::timeout(Duration::from_secs(60), handle.result())
        .await
        .expect("the parent ends")
        .unwrap();
    assert_eq!(sum, n * (n - 1) / 2);
    assert_eq!(
        db.sql(
            "SELECT count(*) FROM runs WHERE workflow_id LIKE 'wide/%' AND status = 'completed'"
        ),
        "2000"
    );
    let twins_out = rt.start(twins, ()).id("twins").await.unwrap();
    assert_eq!(twins_out.result().await.unwrap(), (1, true));
    rt.shutdown().await.unwrap();
}
