//! A timeout of zero is rejected: leave the option out for no limit.

use reprise::prelude::*;

#[activity(heartbeat_timeout = "0s")]
async fn load(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

fn main() {}
