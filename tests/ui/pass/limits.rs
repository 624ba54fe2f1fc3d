//! `max_concurrent` and `rate` limit an activity's attempts; they are
//! defaults of `Activity::options()`, like the timeouts.

use std::time::Duration;

use reprise::prelude::*;
use reprise::Activity;

#[activity(max_concurrent = 4, rate = "20/s")]
async fn fetch(url: String) -> Result<usize, ActivityError> {
    Ok(url.len())
}

#[activity(rate = " 100 / m ")]
fn per_minute() -> Result<(), ActivityError> {
    Ok(())
}

#[activity(rate = "1000/h", max_concurrent = 1, retry(max_attempts = 2))]
async fn per_hour() -> Result<(), ActivityError> {
    Ok(())
}

#[activity]
async fn unlimited() -> Result<(), ActivityError> {
    Ok(())
}

fn main() {
    let options = fetch.options();
    assert_eq!(options.max_concurrent, Some(4));
    assert_eq!(options.rate, Some(reprise::Rate::per_second(20)));
    assert_eq!(options.limit_key, None);

    let options = per_minute.options();
    assert_eq!(options.max_concurrent, None);
    assert_eq!(options.rate, Some(reprise::Rate::per_minute(100)));

    let options = per_hour.options();
    assert_eq!(options.max_concurrent, Some(1));
    assert_eq!(
        options.rate,
        Some(reprise::Rate::new(1000, Duration::from_secs(3600)))
    );
    assert_eq!(options.retry.max_attempts, Some(2));

    let options = unlimited.options();
    assert_eq!(options.max_concurrent, None);
    assert_eq!(options.rate, None);
    assert_eq!(options.limit_key, None);
}
