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

/// A signal for [`Racer`].
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Ping;

impl crate::Signal for Ping {
    const NAME: &'static str = "ping";
}

/// Races a signal against a long timer with `tokio::select!`, as a stream
/// workflow does, then calls an activity.
#[derive(Clone, Copy, Debug)]
struct Racer;

impl Workflow for Racer {
    const NAME: &'static str = "racer";
    type Input = ();
    type Output = u64;
    fn run(self, ctx: WorkflowContext, (): ()) -> BoxFuture<'static, Result<u64, WorkflowError>> {
        Box::pin(async move {
            tokio::select! {
                biased;
                _ = ctx.signal::<Ping>().recv() => {}
                () = ctx.sleep(Duration::from_secs(86_400)) => {}
            }
            Ok(ctx.activity(AddOne, 1).await?)
        })
    }
}

/// A body's `select!` must make progress even when the executor task has
/// spent its cooperative budget: tokio then returns `Pending` from the
/// macro and defers the wake-up, which the activation would never see.
#[tokio::test(flavor = "current_thread")]
async fn a_select_in_a_body_runs_when_the_executor_is_out_of_budget() {
    use std::sync::Arc;

    use crate::command::Issued;
    use crate::history::{Input, SignalData};
    use crate::registry::Registry;
    use crate::replay::LiveRun;
    use crate::run::lock;

    let mut registry = Registry::default();
    registry.add_workflow(Racer);
    registry.add_activity(AddOne);
    let registry = Arc::new(registry);
    let mut run = LiveRun::new(
        Arc::from("w"),
        Arc::from("r"),
        registry,
        "racer",
        serde_json::Value::Null,
        1,
    )
    .unwrap();
    // The first activation: the timer starts, the signal wait is pending.
    let first = run.activate(1_000, Vec::new(), false);
    assert!(matches!(first.issued.as_slice(), [Issued::Timer(_)]));

    // Spend this task's budget, as an executor does that handled many
    // messages without yielding: a ready channel's `recv` takes budget.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    for _ in 0..1_000 {
        tx.send(()).unwrap();
    }
    let activation = std::future::poll_fn(|cx| {
        while rx.poll_recv(cx).is_ready() {}
        let signal = Input::Signal(SignalData {
            name: "ping".to_owned(),
            payload: serde_json::Value::Null,
        });
        std::task::Poll::Ready(run.activate(2_000, vec![signal], false))
    })
    .await;
    let issued = &activation.issued;
    assert!(
        issued.iter().any(|c| matches!(c, Issued::Activity(_))),
        "the signal won the select and the activity was called: {issued:?}"
    );
    assert!(lock(&run.core).signals.is_empty());
}
