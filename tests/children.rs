//! Child workflows: started and awaited durably, their failures typed in
//! the parent, parent-close policies, cancellation reaching children, many
//! children with a history of one event per start and per result, a child
//! continuing as new, and a parent restarted mid-way on SQLite.

mod common;

use std::time::Duration;

use reprise::prelude::*;
use reprise::testing::TestEnv;
use reprise::WorkflowStatus;

#[activity]
async fn double(n: u64) -> Result<u64, ActivityError> {
    Ok(n * 2)
}

/// Doubles `n` in an activity; fails on 13.
#[workflow]
async fn part(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    if n == 13 {
        return Err(WorkflowError::new("thirteen is unlucky"));
    }
    Ok(ctx.activity(double, n).await?)
}

/// Sums its children's results, one child per number.
#[workflow]
async fn fan_out(ctx: WorkflowContext, ns: Vec<u64>) -> Result<u64, WorkflowError> {
    let ctx = &ctx;
    let calls = ns.into_iter().map(|n| {
        ctx.child(part, n)
            .id(format!("{}-part-{n}", ctx.workflow_id()))
    });
    let mut sum = 0;
    for result in join_all(calls).await {
        sum += result?;
    }
    Ok(sum)
}

/// Reports how a child failed, instead of failing.
#[workflow]
async fn inspect(ctx: WorkflowContext, n: u64) -> Result<String, WorkflowError> {
    match ctx.child(part, n).await {
        Ok(v) => Ok(format!("ok {v}")),
        Err(e) => Ok(format!(
            "failed: {} (child {}, exists {})",
            e.error().message(),
            e.workflow_id(),
            e.is_already_exists()
        )),
    }
}

fn events(history: &serde_json::Value, kind: &str) -> usize {
    history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind)
        .count()
}

#[tokio::test]
async fn a_parent_awaits_its_children_and_records_one_event_per_start_and_result() {
    let env = TestEnv::builder()
        .workflow(fan_out)
        .workflow(part)
        .activity(double)
        .build()
        .await
        .unwrap();
    let ns: Vec<u64> = (1..=201).filter(|n| *n != 13).collect();
    let handle = env.start(fan_out, ns.clone()).id("fan").await.unwrap();
    assert_eq!(handle.result().await.unwrap(), ns.iter().sum::<u64>() * 2);
    let history = env.history("fan").await.unwrap();
    assert_eq!(events(&history, "ChildStarted"), 200);
    assert_eq!(events(&history, "ChildCompleted"), 200);
    // Start, two activations (one starts the children, the results come
    // in one or more), no event of the children's own work.
    assert_eq!(events(&history, "ActivityScheduled"), 0);
    let child = env.describe("fan-part-7").await.unwrap();
    assert_eq!(child.status, WorkflowStatus::Completed);
}

#[tokio::test]
async fn a_failed_child_is_a_typed_error_in_the_parent() {
    let env = TestEnv::builder()
        .workflow(inspect)
        .workflow(fan_out)
        .workflow(part)
        .activity(double)
        .build()
        .await
        .unwrap();
    let out = env.start(inspect, 13).id("p1").await.unwrap();
    assert_eq!(
        out.result().await.unwrap(),
        "failed: thirteen is unlucky (child p1/0, exists false)"
    );
    // With `?`, the parent fails naming the child.
    let failed = env.start(fan_out, vec![1, 13]).id("p2").await.unwrap();
    let err = failed.result().await.unwrap_err();
    assert_eq!(err.error_kind(), WorkflowErrorKind::Child);
    assert!(
        err.message().contains("child workflow `p2-part-13` failed"),
        "{err}"
    );
}

#[tokio::test]
async fn a_child_whose_id_is_taken_is_not_started() {
    let env = TestEnv::builder()
        .workflow(inspect)
        .workflow(part)
        .activity(double)
        .build()
        .await
        .unwrap();
    // `taken/0` is the id the parent's first child gets.
    let other = env.start(part, 1).id("taken/0").await.unwrap();
    assert_eq!(other.result().await.unwrap(), 2);
    let out = env.start(inspect, 5).id("taken").await.unwrap();
    let text = out.result().await.unwrap();
    assert!(text.contains("exists true"), "{text}");
    assert!(text.contains("`taken/0` exists already"), "{text}");
}

#[derive(Debug, Serialize, Deserialize, Signal)]
struct Go;

/// Waits for `Go`, an hour at most.
#[workflow]
async fn waiter(ctx: WorkflowContext) -> Result<String, WorkflowError> {
    tokio::select! {
        biased;
        _ = ctx.signal::<Go>().recv() => Ok("go".to_owned()),
        () = ctx.sleep(Duration::from_secs(3600)) => Ok("timeout".to_owned()),
    }
}

/// Starts a waiting child under `policy` and returns without awaiting it.
#[workflow]
async fn leaves(ctx: WorkflowContext, policy: String) -> Result<(), WorkflowError> {
    let policy = match policy.as_str() {
        "cancel" => ParentClose::Cancel,
        "terminate" => ParentClose::Terminate,
        _ => ParentClose::Abandon,
    };
    let child = ctx
        .child(waiter, ())
        .id(format!("{}-child", ctx.workflow_id()))
        .parent_close(policy);
    // Polled once, so the child starts; then dropped.
    tokio::select! {
        biased;
        _ = child => {}
        () = ctx.sleep(Duration::from_secs(1)) => {}
    }
    Ok(())
}

#[tokio::test]
async fn parent_close_policies_cancel_terminate_or_abandon_the_children() {
    let env = TestEnv::builder()
        .workflow(leaves)
        .workflow(waiter)
        .build()
        .await
        .unwrap();
    for (policy, expected) in [
        ("cancel", WorkflowStatus::Cancelled),
        ("terminate", WorkflowStatus::Terminated),
        ("abandon", WorkflowStatus::Running),
    ] {
        let id = format!("close-{policy}");
        let parent = env.start(leaves, policy.to_owned()).id(&id).await.unwrap();
        parent.result().await.unwrap();
        env.advance(Duration::from_millis(10)).await;
        let child = env.describe(&format!("{id}-child")).await.unwrap();
        assert_eq!(child.status, expected, "policy {policy}");
    }
    // The abandoned child goes on by itself.
    env.signal("close-abandon-child", Go).await.unwrap();
    env.advance(Duration::from_millis(10)).await;
    assert_eq!(
        env.describe("close-abandon-child").await.unwrap().status,
        WorkflowStatus::Completed
    );
}

/// Awaits one waiting child.
#[workflow]
async fn waits_for_child(ctx: WorkflowContext) -> Result<String, WorkflowError> {
    match ctx.child(waiter, ()).id("the-child").await {
        Ok(v) => Ok(v),
        Err(e) if e.is_cancelled() => Err(e.into()),
        Err(e) => Ok(format!("child failed: {e}")),
    }
}

#[tokio::test]
async fn cancelling_a_parent_cancels_its_children() {
    let env = TestEnv::builder()
        .workflow(waits_for_child)
        .workflow(waiter)
        .build()
        .await
        .unwrap();
    let parent = env.start(waits_for_child, ()).id("parent").await.unwrap();
    env.advance(Duration::from_millis(10)).await;
    assert_eq!(
        env.describe("the-child").await.unwrap().status,
        WorkflowStatus::Running
    );
    env.cancel("parent").await.unwrap();
    let err = parent.result().await.unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    assert_eq!(
        env.describe("the-child").await.unwrap().status,
        WorkflowStatus::Cancelled
    );
}

#[tokio::test]
async fn terminating_a_child_fails_its_parents_call() {
    let env = TestEnv::builder()
        .workflow(waits_for_child)
        .workflow(waiter)
        .build()
        .await
        .unwrap();
    let parent = env.start(waits_for_child, ()).id("parent").await.unwrap();
    env.advance(Duration::from_millis(10)).await;
    env.terminate("the-child", "operator says no")
        .await
        .unwrap();
    let out = parent.result().await.unwrap();
    assert!(out.starts_with("child failed:"), "{out}");
    assert!(out.contains("operator says no"), "{out}");
}

/// Counts to `n` over runs of three steps each.
#[workflow]
async fn chained(ctx: WorkflowContext, (i, n): (u64, u64)) -> Result<u64, WorkflowError> {
    let mut i = i;
    for _ in 0..3 {
        if i == n {
            return Ok(i);
        }
        i = ctx.activity(double, i).await? / 2 + 1;
    }
    ctx.continue_as_new((i, n))
}

/// Awaits a child that continues as new.
#[workflow]
async fn parent_of_chain(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    Ok(ctx.child(chained, (0, n)).await?)
}

#[tokio::test]
async fn a_child_that_continues_as_new_reports_its_last_runs_result() {
    let env = TestEnv::builder()
        .workflow(parent_of_chain)
        .workflow(chained)
        .activity(double)
        .build()
        .await
        .unwrap();
    let parent = env.start(parent_of_chain, 10).id("pc").await.unwrap();
    assert_eq!(parent.result().await.unwrap(), 10);
    assert_eq!(env.describe("pc/0").await.unwrap().runs.len(), 4);
}

#[tokio::test]
async fn a_parent_and_its_children_survive_a_restart_on_sqlite() {
    let db = common::TempDb::new("children-restart");
    let build = || async {
        Runtime::builder()
            .sqlite(&db.path)
            .workflow(waits_for_child)
            .workflow(waiter)
            .build()
            .await
            .unwrap()
    };
    let rt = build().await;
    rt.start(waits_for_child, ()).id("parent").await.unwrap();
    // The child is started by the parent's first step.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while rt.describe("the-child").await.is_err() {
        assert!(std::time::Instant::now() < deadline, "no child");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    rt.shutdown().await.unwrap();
    let rt = build().await;
    rt.signal("the-child", Go).await.unwrap();
    let handle = rt.handle::<String>("parent").await.unwrap();
    assert_eq!(handle.result().await.unwrap(), "go");
    rt.shutdown().await.unwrap();
}

/// Returns its input: a child with nothing to do but end.
#[workflow]
async fn leaf(_ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    Ok(n)
}

/// Starts `n` leaves at once and sums them.
#[workflow]
async fn wide(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let ctx = &ctx;
    let mut sum = 0;
    for result in join_all((0..n).map(|i| ctx.child(leaf, i))).await {
        sum += result?;
    }
    Ok(sum)
}

#[tokio::test]
async fn thousands_of_children_keep_the_parents_history_at_two_events_each() {
    let env = TestEnv::builder()
        .workflow(wide)
        .workflow(leaf)
        .build()
        .await
        .unwrap();
    let n = 3_000;
    let handle = env.start(wide, n).id("wide").await.unwrap();
    assert_eq!(handle.result().await.unwrap(), n * (n - 1) / 2);
    let history = env.history("wide").await.unwrap();
    let total = history["events"].as_array().unwrap().len();
    let activations = events(&history, "Activation");
    assert_eq!(events(&history, "ChildStarted"), n as usize);
    assert_eq!(events(&history, "ChildCompleted"), n as usize);
    // Start, the activations, one event per start and per result, the end.
    assert_eq!(total, 1 + activations + 2 * n as usize + 1);
}

/// Starts two children with one id in the same step: the second is refused.
#[workflow]
async fn twins(ctx: WorkflowContext) -> Result<(u64, bool), WorkflowError> {
    let (a, b) = tokio::join!(ctx.child(leaf, 1).id("twin"), ctx.child(leaf, 2).id("twin"));
    Ok((a?, b.unwrap_err().is_already_exists()))
}

#[tokio::test]
async fn two_children_of_one_id_in_one_step_start_once_on_sqlite() {
    let db = common::TempDb::new("children-twins");
    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(twins)
        .workflow(leaf)
        .build()
        .await
        .unwrap();
    let out = rt.start(twins, ()).id("twins").await.unwrap();
    assert_eq!(out.result().await.unwrap(), (1, true));
    assert_eq!(rt.describe("twin").await.unwrap().runs.len(), 1);
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_terminated_parent_closes_its_children() {
    let env = TestEnv::builder()
        .workflow(waits_for_child)
        .workflow(waiter)
        .build()
        .await
        .unwrap();
    // Terminated: none of its code runs, its child is cancelled (the
    // default policy).
    let parent = env.start(waits_for_child, ()).id("doomed").await.unwrap();
    env.advance(Duration::from_millis(10)).await;
    env.terminate("doomed", "operator").await.unwrap();
    let err = parent.result().await.unwrap_err();
    assert_eq!(err.error_kind(), WorkflowErrorKind::Terminated);
    env.advance(Duration::from_millis(10)).await;
    assert_eq!(
        env.describe("the-child").await.unwrap().status,
        WorkflowStatus::Cancelled
    );
}

/// Awaits a waiting child of its own id.
#[workflow]
async fn waits_for_named_child(ctx: WorkflowContext, id: String) -> Result<String, WorkflowError> {
    Ok(ctx.child(waiter, ()).id(id).await?)
}

#[tokio::test]
async fn a_timed_out_parent_closes_its_children() {
    let env = TestEnv::builder()
        .workflow(waits_for_named_child)
        .workflow(waiter)
        .build()
        .await
        .unwrap();
    let parent = env
        .start(waits_for_named_child, "late-child".to_owned())
        .id("late")
        .timeout(Duration::from_secs(60))
        .await
        .unwrap();
    let err = parent.result().await.unwrap_err();
    assert_eq!(err.error_kind(), WorkflowErrorKind::TimedOut);
    env.advance(Duration::from_millis(10)).await;
    assert_eq!(
        env.describe("late-child").await.unwrap().status,
        WorkflowStatus::Cancelled
    );
}
