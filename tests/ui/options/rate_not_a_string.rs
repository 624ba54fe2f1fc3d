//! A rate is a string: `rate = "20/s"`.

use reprise::prelude::*;

#[activity(rate = 20)]
async fn load(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

fn main() {}
