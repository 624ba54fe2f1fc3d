//! Signals checked against the types a workflow receives, as `#[workflow]`
//! lists them (its body's `ctx.signal::<S>()` and `signals = [..]`): a name
//! it never receives and a payload that does not decode are refused before
//! anything is stored, and two types under one name fail `build()`.

mod common;

use serde_json::json;

use reprise::prelude::*;

#[derive(Debug, Serialize, Deserialize, Signal)]
struct Stop {
    reason: String,
}

#[derive(Debug, Serialize, Deserialize, Signal)]
struct Resize {
    seconds: u64,
}

/// Receives `S` where `#[workflow]` cannot see which type: declared with
/// `signals = [..]`.
async fn wait_for<S: Signal>(ctx: &WorkflowContext) -> S {
    ctx.signal::<S>().recv().await
}

/// Waits for a `Resize` (through the helper), then for a `Stop`.
#[workflow(signals = [Resize])]
async fn streamer(ctx: WorkflowContext) -> Result<(u64, String), WorkflowError> {
    let resize: Resize = wait_for(&ctx).await;
    let stop = ctx.signal::<Stop>().recv().await;
    Ok((resize.seconds, stop.reason))
}

async fn runtime() -> Runtime {
    Runtime::builder()
        .in_memory()
        .workflow(streamer)
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_signals_a_workflow_receives_are_accepted() {
    use reprise::Workflow;
    assert_eq!(streamer.signals().unwrap().len(), 2);

    let rt = runtime().await;
    let handle = rt.start(streamer, ()).id("ok").await.unwrap();
    rt.signal_by_name("ok", "resize", json!({ "seconds": 5 }))
        .await
        .unwrap();
    rt.signal(
        "ok",
        Stop {
            reason: "done".to_owned(),
        },
    )
    .await
    .unwrap();
    assert_eq!(handle.result().await.unwrap(), (5, "done".to_owned()));
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_name_the_workflow_never_receives_is_refused() {
    let rt = runtime().await;
    let handle = rt.start(streamer, ()).id("named").await.unwrap();
    let err = rt
        .signal_by_name("named", "nope", json!(null))
        .await
        .unwrap_err();
    assert!(
        matches!(err, reprise::Error::UnknownSignal { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "workflow `named` (streamer) receives no signal named `nope`; it receives `resize`, `stop`"
    );

    // Refused, not stored: the workflow goes on as if never sent.
    rt.signal("named", Resize { seconds: 1 }).await.unwrap();
    rt.signal(
        "named",
        Stop {
            reason: "after".to_owned(),
        },
    )
    .await
    .unwrap();
    assert_eq!(handle.result().await.unwrap(), (1, "after".to_owned()));
    rt.shutdown().await.unwrap();
}

/// The refused payload is nowhere in the store: the SQLite file's history
/// and inbox, read after the runtime closed it, hold only what was accepted.
#[tokio::test]
async fn a_payload_that_does_not_decode_is_refused_and_not_stored() {
    let db = common::TempDb::new("signal-checks");
    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(streamer)
        .build()
        .await
        .unwrap();
    let handle = rt.start(streamer, ()).id("bad").await.unwrap();
    let err = rt
        .signal_by_name("bad", "stop", json!({ "wrong": true }))
        .await
        .unwrap_err();
    assert!(matches!(err, reprise::Error::Payload { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("bad payload for signal `stop` to workflow `bad`: missing field `reason`"),
        "{err}"
    );

    rt.signal_by_name("bad", "resize", json!({ "seconds": 2 }))
        .await
        .unwrap();
    rt.signal_by_name("bad", "stop", json!({ "reason": "valid" }))
        .await
        .unwrap();
    assert_eq!(handle.result().await.unwrap(), (2, "valid".to_owned()));
    drop(handle);
    rt.shutdown().await.unwrap();

    let conn = rusqlite::Connection::open(&db.path).unwrap();
    let events: Vec<String> = conn
        .prepare("SELECT event FROM history ORDER BY run_id, idx")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let received: Vec<&String> = events
        .iter()
        .filter(|e| e.contains("SignalReceived"))
        .collect();
    assert_eq!(received.len(), 2, "{received:?}");
    assert!(!events.iter().any(|e| e.contains("wrong")), "{events:?}");
    let inbox: i64 = conn
        .query_row("SELECT count(*) FROM inbox", [], |row| row.get(0))
        .unwrap();
    assert_eq!(inbox, 0);
}

mod other {
    use reprise::prelude::*;

    /// Named like `super::Stop`.
    #[derive(Debug, Serialize, Deserialize, Signal)]
    #[signal(name = "stop")]
    pub(crate) struct Halt;
}

/// Receives two types under the name `stop`.
#[workflow]
async fn confused(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _: Stop = ctx.signal::<Stop>().recv().await;
    let _: other::Halt = ctx.signal::<other::Halt>().recv().await;
    Ok(())
}

#[tokio::test]
async fn two_types_under_one_name_fail_build() {
    let err = Runtime::builder()
        .in_memory()
        .workflow(confused)
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, reprise::Error::Config(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("workflow `confused` receives two signal types under the name `stop`"),
        "{message}"
    );
    assert!(
        message.contains("signal_checks::Stop") && message.contains("signal_checks::other::Halt"),
        "{message}"
    );
}
