//! The workflows and activities the tests store.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reprise::prelude::*;

/// Upper-cases a name.
#[activity]
async fn shout(name: String) -> Result<String, ActivityError> {
    Ok(name.to_uppercase())
}

/// Heartbeats, then fails; retried after a long backoff.
#[activity(retry(max_attempts = 5, initial_interval = "1h"))]
async fn flaky(ctx: ActivityContext) -> Result<u32, ActivityError> {
    ctx.heartbeat(&json!({ "row": 42 }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    Err(ActivityError::new("DbDown", "the database is down"))
}

/// A short step of a counting workflow.
#[activity]
async fn tick(n: u32) -> Result<u32, ActivityError> {
    tokio::time::sleep(Duration::from_millis(150)).await;
    Ok(n)
}

/// Greets: one activity, then done.
#[workflow]
pub async fn greet(ctx: WorkflowContext, name: String) -> Result<String, WorkflowError> {
    ctx.set_progress(&json!({ "phase": "greeting", "done": 0, "total": 1 }));
    let loud = ctx.activity(shout, name).await?;
    ctx.set_progress(&json!({ "phase": "greeted", "done": 1, "total": 1 }));
    Ok(format!("hello {loud}"))
}

/// The signal `stop`.
#[derive(Debug, Serialize, Deserialize, Signal)]
#[signal(name = "stop")]
pub struct Stop {
    pub reason: String,
}

/// Waits for `stop`; returns its reason.
#[workflow]
pub async fn waiter(ctx: WorkflowContext) -> Result<String, WorkflowError> {
    ctx.set_progress(&json!({ "phase": "waiting for stop" }));
    let stop = ctx.signal::<Stop>().recv().await;
    Ok(stop.reason)
}

/// Sleeps an hour.
#[workflow]
pub async fn sleeper(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    ctx.sleep(Duration::from_secs(3600)).await;
    Ok(())
}

/// Calls `flaky`, which fails until its attempts run out.
#[workflow]
pub async fn retrier(ctx: WorkflowContext) -> Result<u32, WorkflowError> {
    Ok(ctx.activity(flaky, ()).await?)
}

/// Panics after its first step.
#[workflow]
pub async fn doomed_body(ctx: WorkflowContext) -> Result<String, WorkflowError> {
    let n = ctx.activity(shout, "x".to_owned()).await?;
    panic!("seven is not allowed ({n})");
}

/// Returns an error.
#[workflow]
pub async fn failing(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    ctx.activity(tick, 1).await?;
    Err(WorkflowError::new("no luck today"))
}

/// Counts to 5, one step at a time, publishing `done`/`total`.
#[workflow]
pub async fn counter(ctx: WorkflowContext) -> Result<u32, WorkflowError> {
    let total = 5;
    for done in 0..total {
        ctx.set_progress(&json!({ "phase": "counting", "done": done, "total": total }));
        ctx.activity(tick, done).await?;
    }
    ctx.set_progress(&json!({ "phase": "counted", "done": total, "total": total }));
    Ok(total)
}

/// Whether `fragile` panics (the resume test turns it off).
pub static FRAGILE_PANICS: AtomicBool = AtomicBool::new(true);

/// Panics after its first step while [`FRAGILE_PANICS`] is set.
#[workflow]
pub async fn fragile(ctx: WorkflowContext) -> Result<String, WorkflowError> {
    let n = ctx.activity(shout, "y".to_owned()).await?;
    if FRAGILE_PANICS.load(Ordering::SeqCst) {
        panic!("not yet");
    }
    Ok(n)
}

/// Registers every workflow and activity above.
pub fn register(builder: reprise::RuntimeBuilder) -> reprise::RuntimeBuilder {
    builder
        .workflow(greet)
        .workflow(waiter)
        .workflow(sleeper)
        .workflow(retrier)
        .workflow(doomed_body)
        .workflow(failing)
        .workflow(counter)
        .workflow(fragile)
        .activity(shout)
        .activity(flaky)
        .activity(tick)
}

/// A worker on the SQLite file `path`.
pub async fn worker(path: &std::path::Path) -> Runtime {
    register(Runtime::builder().sqlite(path))
        .build()
        .await
        .unwrap()
}
