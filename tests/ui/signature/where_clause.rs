//! An activity cannot have a `where` clause.

use reprise::prelude::*;

#[activity]
async fn echo(value: u64) -> Result<u64, ActivityError>
where
    u64: Clone,
{
    Ok(value)
}

fn main() {}
