//! `max_concurrent` is an integer literal, not a string.

use reprise::prelude::*;

#[activity(max_concurrent = "4")]
async fn load(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

fn main() {}
