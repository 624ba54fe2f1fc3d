//! Every activity option, spliced into `Activity::options()`.

use reprise::prelude::*;

#[activity(
    name = "LoadData",
    start_to_close = "5m",
    schedule_to_close = "1h 30m",
    heartbeat_timeout = "30s",
    retry(
        max_attempts = 5,
        initial_interval = "2s",
        max_interval = "30s",
        backoff_coefficient = 1.5,
        non_retryable = ["ValidationError", "NotFound"],
    ),
    max_concurrent = 4,
    rate = "20/s",
)]
async fn load(rows: Vec<u64>) -> Result<usize, ActivityError> {
    Ok(rows.len())
}

#[activity(retry(max_attempts = 3))]
async fn some_retry(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

#[workflow(name = "ETLPipeline")]
async fn etl(ctx: WorkflowContext) -> Result<usize, WorkflowError> {
    let n = ctx
        .activity(load, vec![1, 2])
        .start_to_close(Duration::from_secs(10))
        .retry(RetryPolicy {
            max_attempts: Some(2),
            ..RetryPolicy::default()
        })
        .await?;
    Ok(n)
}

fn main() {
    assert_eq!(<load as Activity>::NAME, "LoadData");
    assert_eq!(<etl as Workflow>::NAME, "ETLPipeline");
    let options = load.options();
    assert_eq!(options.start_to_close, Some(Duration::from_secs(300)));
    assert_eq!(options.schedule_to_close, Some(Duration::from_secs(5400)));
    assert_eq!(options.heartbeat_timeout, Some(Duration::from_secs(30)));
    assert_eq!(options.max_concurrent, Some(4));
    assert_eq!(options.rate, Some(Rate::per_second(20)));
    assert_eq!(options.limit_key, None);
    assert_eq!(
        options.retry,
        RetryPolicy {
            initial_interval: Duration::from_secs(2),
            backoff_coefficient: 1.5,
            max_interval: Some(Duration::from_secs(30)),
            max_attempts: Some(5),
            non_retryable_error_types: vec!["ValidationError".into(), "NotFound".into()],
        }
    );
    let options = some_retry.options();
    assert_eq!(options.start_to_close, None);
    assert_eq!(options.max_concurrent, None);
    assert_eq!(options.rate, None);
    assert_eq!(
        options.retry,
        RetryPolicy {
            max_attempts: Some(3),
            ..RetryPolicy::default()
        }
    );
}
