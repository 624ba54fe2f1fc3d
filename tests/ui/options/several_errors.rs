//! Every bad option is reported in one build.

use reprise::prelude::*;

#[activity(
    start_to_close = "5 parsecs",
    retry(max_attempts = 0, backoff_coefficient = 0.1),
    heartbeat = "30s"
)]
async fn load(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

fn main() {}
