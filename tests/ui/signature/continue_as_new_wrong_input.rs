//! `ctx.continue_as_new(input)` takes the workflow's input type; the error
//! points at the argument.

use reprise::prelude::*;

#[workflow]
async fn stream(ctx: WorkflowContext, window: u64) -> Result<(), WorkflowError> {
    if window > 10 {
        return Ok(());
    }
    ctx.continue_as_new("next window")
}

fn main() {}
