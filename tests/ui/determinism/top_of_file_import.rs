use reprise::prelude::*;
use std::time::Instant;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _started = Instant::now();
    let _ = ctx.now();
    Ok(())
}

fn main() {}
