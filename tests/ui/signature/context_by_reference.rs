//! The context is taken by value.

use reprise::prelude::*;

#[workflow]
async fn count(ctx: &WorkflowContext, to: u64) -> Result<u64, WorkflowError> {
    let _ = ctx;
    Ok(to)
}

fn main() {}
