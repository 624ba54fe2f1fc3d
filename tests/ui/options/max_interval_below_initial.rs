//! `max_interval` caps the delay: it cannot be shorter than `initial_interval`.

use reprise::prelude::*;

#[activity(retry(initial_interval = "10s", max_interval = "5s"))]
async fn load(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

fn main() {}
