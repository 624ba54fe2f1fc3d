//! Durations are strings such as `"30s"`, not numbers.

use reprise::prelude::*;

#[activity(start_to_close = 30)]
async fn load(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

fn main() {}
