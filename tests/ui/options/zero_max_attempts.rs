//! `max_attempts` counts the first attempt: zero is rejected.

use reprise::prelude::*;

#[activity(retry(max_attempts = 0))]
async fn load(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

fn main() {}
