//! An option given twice is reported on the second occurrence.

use reprise::prelude::*;

#[activity(name = "Load", start_to_close = "1m", name = "LoadData")]
async fn load(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

fn main() {}
