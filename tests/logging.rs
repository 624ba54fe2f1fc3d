//! Replay-aware logging: `tracing` events from a workflow body are emitted
//! when it runs live, not again when it replays.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use reprise::prelude::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Counts events whose message is "workflow step".
struct StepCounter(Arc<AtomicUsize>);

struct MessageIs(bool);

impl Visit for MessageIs {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" && format!("{value:?}") == "workflow step" {
            self.0 = true;
        }
    }
}

impl Subscriber for StepCounter {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut visit = MessageIs(false);
        event.record(&mut visit);
        if visit.0 {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[activity]
async fn noop(i: u32) -> Result<u32, ActivityError> {
    Ok(i)
}

#[workflow]
async fn chatty(ctx: WorkflowContext, steps: u32) -> Result<u32, WorkflowError> {
    let mut sum = 0;
    for i in 0..steps {
        tracing::info!(step = i, "workflow step");
        sum += ctx.activity(noop, i).await?;
    }
    Ok(sum)
}

#[tokio::test(flavor = "current_thread")]
async fn a_replayed_body_does_not_log_again() {
    let count = Arc::new(AtomicUsize::new(0));
    let _guard = tracing::subscriber::set_default(StepCounter(count.clone()));
    // A cache of one run: two workflows evict each other at every step, so
    // each step of each replays the whole body before going on.
    let rt = Runtime::builder()
        .in_memory()
        .max_cached_workflows(1)
        .workflow(chatty)
        .activity(noop)
        .build()
        .await
        .unwrap();
    let a = rt.start(chatty, 20).id("a").await.unwrap();
    let b = rt.start(chatty, 20).id("b").await.unwrap();
    assert_eq!(a.result().await.unwrap(), 190);
    assert_eq!(b.result().await.unwrap(), 190);
    assert_eq!(
        count.load(Ordering::SeqCst),
        40,
        "each step logged exactly once"
    );
    rt.shutdown().await.unwrap();
}
