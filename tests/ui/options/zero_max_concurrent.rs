//! `max_concurrent = 0` would never run the activity.

use reprise::prelude::*;

#[activity(max_concurrent = 0)]
async fn load(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

fn main() {}
