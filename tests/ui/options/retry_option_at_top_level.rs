//! Retry settings go inside `retry(...)`.

use reprise::prelude::*;

#[activity(max_attempts = 3)]
async fn load(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

fn main() {}
