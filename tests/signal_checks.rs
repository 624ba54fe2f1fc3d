//! Signals checked against the types a workflow receives, as `#[workflow]`
//! lists them (its body's `ctx.signal::<S>()` and `signals = [..]`): a name
//! it never receives and a payload that does not decode are refused before
//! anything is stored, and two types under one name fail `build()`.

use std::sync::{Arc, Mutex};

use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

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
    tracing::info!("streamer stops");
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

/// Records the message of every event.
struct Messages(Arc<Mutex<Vec<String>>>);

struct Message(Option<String>);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl Subscriber for Messages {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut message = Message(None);
        event.record(&mut message);
        if let Some(message) = message.0 {
            self.0.lock().unwrap().push(message);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// On one thread, so that the workflow's events reach the subscriber.
#[tokio::test(flavor = "current_thread")]
async fn a_payload_that_does_not_decode_is_refused_and_not_stored() {
    let messages = Arc::new(Mutex::new(Vec::new()));
    let _guard = tracing::subscriber::set_default(Messages(messages.clone()));

    let rt = runtime().await;
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
    rt.shutdown().await.unwrap();

    // A stored payload that does not decode would have been skipped by
    // the workflow, with an error logged.
    let messages = messages.lock().unwrap();
    assert!(
        messages.iter().any(|m| m == "streamer stops"),
        "{messages:?}"
    );
    assert!(
        !messages.iter().any(|m| m.contains("does not decode")),
        "{messages:?}"
    );
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
