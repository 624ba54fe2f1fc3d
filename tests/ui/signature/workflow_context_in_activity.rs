//! An activity does not take a `WorkflowContext`: only workflows call activities.

use reprise::prelude::*;

#[activity]
async fn load(ctx: WorkflowContext, n: u64) -> Result<u64, ActivityError> {
    let _ = ctx;
    Ok(n)
}

fn main() {}
