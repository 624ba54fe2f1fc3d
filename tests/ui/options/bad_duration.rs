//! Durations are humantime strings, checked at compile time.

use reprise::prelude::*;

#[activity(start_to_close = "5 parsecs")]
async fn load(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

fn main() {}
