//! An unknown option lists the valid ones and suggests a close one.

use reprise::prelude::*;

#[activity(start_to_clos = "5m")]
async fn load(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

fn main() {}
