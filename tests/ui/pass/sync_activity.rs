//! A plain `fn` is a synchronous activity: its body runs on tokio's blocking
//! pool, where blocking calls (`std::fs`, `std::thread::sleep`) stall no
//! executor thread. It is called like any activity.

use std::time::Duration;

use reprise::prelude::*;

/// Counts the lines of a file, slowly.
#[activity(start_to_close = "10s")]
fn count_lines(path: String) -> Result<usize, ActivityError> {
    std::thread::sleep(Duration::from_millis(10));
    let text = std::fs::read_to_string(path)?;
    Ok(text.lines().count())
}

#[activity]
fn add(ctx: ActivityContext, a: u64, b: u64) -> Result<u64, ActivityError> {
    if ctx.attempt() > 1 {
        return Err(ActivityError::non_retryable("Retried", "once is enough"));
    }
    Ok(a + b)
}

#[activity]
fn nothing() -> Result<(), ActivityError> {
    Ok(())
}

#[workflow]
async fn lines(ctx: WorkflowContext, path: String) -> Result<u64, WorkflowError> {
    let n = ctx.activity(count_lines, path).await?;
    ctx.activity(nothing, ()).await?;
    let total = ctx.activity(add, (n as u64, 1)).await?;
    Ok(total)
}

#[tokio::main]
async fn main() {
    let _: <count_lines as Activity>::Input = String::new();
    let _: <add as Activity>::Input = (1, 2);
    let _ = lines;

    let path = std::env::temp_dir().join(format!("reprise-sync-{}.txt", std::process::id()));
    std::fs::write(&path, "a\nb\nc\n").unwrap();
    let path_text = path.to_string_lossy().into_owned();
    let n = reprise::testing::run_activity(count_lines, path_text)
        .await
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(n, 3);

    let missing = reprise::testing::run_activity(count_lines, "/no/such/file".to_owned()).await;
    assert!(missing.is_err());

    assert_eq!(
        reprise::testing::run_activity(add, (2, 3)).await.unwrap(),
        5
    );
    reprise::testing::run_activity(nothing, ()).await.unwrap();
}
