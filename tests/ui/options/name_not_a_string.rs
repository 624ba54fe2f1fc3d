//! `name` takes a string literal.

use reprise::prelude::*;

#[workflow(name = Count)]
async fn count(_ctx: WorkflowContext, to: u64) -> Result<u64, WorkflowError> {
    Ok(to)
}

fn main() {}
