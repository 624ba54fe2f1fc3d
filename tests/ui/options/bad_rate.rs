//! A rate is attempts per second, minute or hour: `"20/s"`.

use reprise::prelude::*;

#[activity(rate = "fast")]
async fn load(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

#[activity(rate = "20/d")]
async fn save(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

fn main() {}
