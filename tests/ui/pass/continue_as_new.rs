//! `ctx.continue_as_new(input)` with the workflow's input type compiles,
//! for one parameter and for several (a tuple).

use reprise::prelude::*;

#[workflow]
async fn stream(ctx: WorkflowContext, window: u64) -> Result<u64, WorkflowError> {
    if window < 1000 {
        return ctx.continue_as_new(window + 1);
    }
    Ok(window)
}

#[workflow]
async fn sync(ctx: WorkflowContext, table: String, watermark: u64) -> Result<(), WorkflowError> {
    let next = async { watermark + 1 }.await;
    ctx.continue_as_new((table, next))
}

fn main() {}
