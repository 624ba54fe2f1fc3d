//! Signals: durable, in arrival order, buffered until received; clear
//! errors for unknown or finished workflows; a payload that does not decode
//! is skipped without breaking the workflow. The timer test runs on a
//! `TestEnv`; the others need no time, or a real SQLite store.

mod common;

use std::time::Duration;

use serde_json::json;

use reprise::prelude::*;
use reprise::testing::TestEnv;

#[derive(Debug, Serialize, Deserialize, Signal)]
struct Add {
    n: u64,
}

#[derive(Debug, Serialize, Deserialize, Signal)]
#[signal(name = "done")]
struct Finish;

/// Sums `Add` signals until `done`.
#[workflow]
async fn summer(ctx: WorkflowContext) -> Result<Vec<u64>, WorkflowError> {
    let adds = ctx.signal::<Add>();
    let mut seen = Vec::new();
    loop {
        tokio::select! {
            biased;
            add = adds.recv() => seen.push(add.n),
            _ = ctx.signal::<Finish>().recv() => break,
        }
    }
    while let Some(add) = adds.try_recv() {
        seen.push(add.n);
    }
    Ok(seen)
}

async fn runtime() -> Runtime {
    Runtime::builder()
        .in_memory()
        .workflow(summer)
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn signals_arrive_in_order() {
    let rt = runtime().await;
    let handle = rt.start(summer, ()).id("s").await.unwrap();
    for n in 1..=5 {
        rt.signal("s", Add { n }).await.unwrap();
    }
    rt.signal("s", Finish).await.unwrap();
    assert_eq!(handle.result().await.unwrap(), vec![1, 2, 3, 4, 5]);
    rt.shutdown().await.unwrap();
}

/// Waits on a timer before it looks at its signals: they are buffered.
#[workflow]
async fn late_reader(ctx: WorkflowContext) -> Result<Vec<u64>, WorkflowError> {
    ctx.sleep(Duration::from_millis(200)).await;
    let mut seen = Vec::new();
    while let Some(add) = ctx.signal::<Add>().try_recv() {
        seen.push(add.n);
    }
    Ok(seen)
}

/// On a `TestEnv`: signals sent at exact points of the wait.
#[tokio::test]
async fn signals_are_buffered_until_the_workflow_asks() {
    let env = TestEnv::builder()
        .workflow(late_reader)
        .build()
        .await
        .unwrap();
    let handle = env.start(late_reader, ()).id("late").await.unwrap();
    env.signal("late", Add { n: 7 }).await.unwrap();
    env.signal("late", Add { n: 8 }).await.unwrap();
    env.advance(Duration::from_millis(100)).await;
    env.signal("late", Add { n: 9 }).await.unwrap();
    env.advance(Duration::from_millis(99)).await;
    assert_eq!(
        env.describe("late").await.unwrap().status,
        reprise::WorkflowStatus::Running
    );
    env.signal("late", Add { n: 10 }).await.unwrap();
    // At 200 ms the timer fires and the workflow reads them all, in order.
    env.advance(Duration::from_millis(1)).await;
    assert_eq!(
        env.describe("late").await.unwrap().status,
        reprise::WorkflowStatus::Completed
    );
    assert_eq!(handle.result().await.unwrap(), vec![7, 8, 9, 10]);
    env.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_and_finished_workflows_refuse_signals() {
    let rt = runtime().await;
    let err = rt.signal("nobody", Finish).await.unwrap_err();
    assert_eq!(err.to_string(), "no workflow with id `nobody`");
    let handle = rt.start(summer, ()).id("over").await.unwrap();
    rt.signal("over", Finish).await.unwrap();
    handle.result().await.unwrap();
    let err = rt.signal("over", Add { n: 1 }).await.unwrap_err();
    assert!(matches!(err, reprise::Error::Finished { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("workflow `over` has ended (completed)"),
        "{err}"
    );
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_payload_that_does_not_decode_is_refused_where_the_workflow_is_known() {
    let rt = runtime().await;
    let handle = rt.start(summer, ()).id("bad").await.unwrap();
    let err = rt
        .signal_by_name("bad", "add", json!({ "n": "not a number" }))
        .await
        .unwrap_err();
    assert!(matches!(err, reprise::Error::Payload { .. }), "{err}");
    assert!(
        err.to_string().contains("signal `add` to workflow `bad`"),
        "{err}"
    );
    rt.signal_by_name("bad", "add", json!({ "n": 3 }))
        .await
        .unwrap();
    rt.signal("bad", Finish).await.unwrap();
    assert_eq!(handle.result().await.unwrap(), vec![3]);
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_client_process_signals_a_worker_through_a_shared_store() {
    let tmp = common::TempDb::new("client");
    let db = tmp.path.clone();
    let worker = Runtime::builder()
        .sqlite(&db)
        .workflow(summer)
        .build()
        .await
        .unwrap();
    let handle = worker.start(summer, ()).id("shared").await.unwrap();
    // A second runtime on the same file, as another process would open it.
    let client = Runtime::builder()
        .sqlite(&db)
        .worker(false)
        .build()
        .await
        .unwrap();
    // The client has not registered the workflow, so it cannot check a
    // payload: the worker skips one that does not decode.
    client
        .signal_by_name("shared", "add", json!({ "n": "not a number" }))
        .await
        .unwrap();
    client.signal("shared", Add { n: 42 }).await.unwrap();
    client.signal("shared", Finish).await.unwrap();
    assert_eq!(handle.result().await.unwrap(), vec![42]);
    let seen: Vec<u64> = client
        .handle("shared")
        .await
        .unwrap()
        .result()
        .await
        .unwrap();
    assert_eq!(seen, vec![42]);
    // A second worker is refused while the first holds the store.
    let err = Runtime::builder()
        .sqlite(&db)
        .workflow(summer)
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, reprise::Error::InUse { .. }), "{err:?}");
    assert!(
        err.to_string().contains("in use by another process"),
        "{err}"
    );
    client.shutdown().await.unwrap();
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_client_process_starts_a_workflow_the_worker_runs() {
    let tmp = common::TempDb::new("client-start");
    let db = tmp.path.clone();
    let worker = Runtime::builder()
        .sqlite(&db)
        .workflow(summer)
        .build()
        .await
        .unwrap();
    let client = Runtime::builder()
        .sqlite(&db)
        .workflow(summer)
        .worker(false)
        .build()
        .await
        .unwrap();
    let handle = client.start(summer, ()).id("from-client").await.unwrap();
    client.signal("from-client", Add { n: 5 }).await.unwrap();
    client.signal("from-client", Finish).await.unwrap();
    assert_eq!(handle.result().await.unwrap(), vec![5]);
    client.shutdown().await.unwrap();
    worker.shutdown().await.unwrap();
}

/// Ends at its first `Add`.
#[workflow]
async fn first_add(ctx: WorkflowContext) -> Result<u64, WorkflowError> {
    Ok(ctx.signal::<Add>().recv().await.n)
}

/// Signals accepted while their workflow ends are consumed, not left in the
/// store to be delivered again at every start-up.
#[tokio::test]
async fn signals_racing_the_end_of_a_workflow_leave_nothing_behind() {
    let tmp = common::TempDb::new("stale");
    let db = tmp.path.clone();
    let rt = Runtime::builder()
        .sqlite(&db)
        .workflow(first_add)
        .build()
        .await
        .unwrap();
    for i in 0..20 {
        let id = format!("race-{i}");
        let handle = rt.start(first_add, ()).id(&id).await.unwrap();
        let mut accepted = 0;
        for n in 0..20 {
            if rt.signal(&id, Add { n }).await.is_ok() {
                accepted += 1;
            }
        }
        assert!(accepted >= 1);
        assert_eq!(
            handle.result().await.unwrap(),
            0,
            "the first signal ends it"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    rt.shutdown().await.unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let left: i64 = conn
        .query_row("SELECT count(*) FROM inbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0, "messages left in the inbox");
}
