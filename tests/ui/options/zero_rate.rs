//! A rate of zero attempts would never run the activity.

use reprise::prelude::*;

#[activity(rate = "0/s")]
async fn load(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

fn main() {}
