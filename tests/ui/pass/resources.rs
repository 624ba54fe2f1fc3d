//! `Resource<T>` parameters are handed by the runtime, in any position after
//! the optional `ActivityContext`, in async and sync activities alike. They
//! are not part of the input, and need not be `Serialize`.

use std::sync::atomic::{AtomicU64, Ordering};

use reprise::prelude::*;
use reprise::testing::ActivityTest;

/// A shared counter: not `Serialize`, not `Clone`.
struct Counter(AtomicU64);

struct Config {
    table: String,
}

#[activity]
async fn first(counter: Resource<Counter>, n: u64) -> Result<u64, ActivityError> {
    Ok(counter.0.fetch_add(n, Ordering::SeqCst) + n)
}

#[activity]
async fn middle(
    ctx: ActivityContext,
    batch: u32,
    config: reprise::Resource<Config>,
    suffix: String,
) -> Result<String, ActivityError> {
    ctx.heartbeat(&batch);
    Ok(format!("{}_{batch}{suffix}", config.table))
}

#[activity]
async fn only(config: Resource<Config>) -> Result<String, ActivityError> {
    Ok(config.table.clone())
}

#[activity]
fn sync_last(a: u64, b: u64, counter: Resource<Counter>) -> Result<u64, ActivityError> {
    Ok(counter.0.fetch_add(a * b, Ordering::SeqCst) + a * b)
}

#[activity]
fn sync_with_context(
    ctx: ActivityContext,
    counter: Resource<Counter>,
    mut config: Resource<Config>,
) -> Result<String, ActivityError> {
    let _ = counter.0.load(Ordering::SeqCst);
    config = config.clone();
    Ok(format!("{}@{}", config.table, ctx.attempt()))
}

#[workflow]
async fn uses_them(ctx: WorkflowContext, n: u64) -> Result<String, WorkflowError> {
    let total = ctx.activity(first, n).await?;
    let _ = ctx.activity(sync_last, (total, 2)).await?;
    let _ = ctx.activity(only, ()).await?;
    let _ = ctx.activity(sync_with_context, ()).await?;
    let name = ctx.activity(middle, (7, "_x".to_owned())).await?;
    Ok(name)
}

#[tokio::main]
async fn main() {
    let _: <first as Activity>::Input = 1u64;
    let _: <middle as Activity>::Input = (1u32, String::new());
    let _: <only as Activity>::Input = ();
    let _: <sync_last as Activity>::Input = (1u64, 2u64);
    let _: <sync_with_context as Activity>::Input = ();
    let _ = uses_them;

    let test = ActivityTest::new()
        .resource(Counter(AtomicU64::new(10)))
        .resource(Config {
            table: "rows".to_owned(),
        });
    assert_eq!(test.run(first, 5).await.unwrap(), 15);
    assert_eq!(test.run(sync_last, (2, 3)).await.unwrap(), 21);
    assert_eq!(
        test.run(middle, (7, "_x".to_owned())).await.unwrap(),
        "rows_7_x"
    );
    assert_eq!(test.run(only, ()).await.unwrap(), "rows");
    assert_eq!(test.run(sync_with_context, ()).await.unwrap(), "rows@1");

    // Without the resource, the attempt fails before the body runs.
    let error = ActivityTest::new().run(only, ()).await.unwrap_err();
    assert_eq!(error.kind(), "MissingResource");
    let error = ActivityTest::new()
        .run(sync_last, (1, 1))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "MissingResource");
}
