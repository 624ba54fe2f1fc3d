//! `max_attempts` is an integer, not a string.

use reprise::prelude::*;

#[activity(retry(max_attempts = "5"))]
async fn load(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

fn main() {}
