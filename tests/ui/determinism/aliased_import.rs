use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    use std::time::Instant as Clock;
    let _started = Clock::now();
    let _ = ctx.now();
    Ok(())
}

fn main() {}
