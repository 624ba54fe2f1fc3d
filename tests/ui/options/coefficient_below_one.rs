//! A backoff coefficient below 1.0 would shrink the delays.

use reprise::prelude::*;

#[activity(retry(backoff_coefficient = 0.5))]
async fn load(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

fn main() {}
