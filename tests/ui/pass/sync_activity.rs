//! An activity must be an `async fn`: the error points at `fn`.

use reprise::prelude::*;

#[activity]
fn add_one(n: u64) -> Result<u64, ActivityError> {
    Ok(n + 1)
}

fn main() {}
