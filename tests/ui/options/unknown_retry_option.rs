//! Unknown keys inside `retry(...)` are reported too.

use reprise::prelude::*;

#[activity(retry(max_attempts = 3, jitter = true))]
async fn load(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

fn main() {}
