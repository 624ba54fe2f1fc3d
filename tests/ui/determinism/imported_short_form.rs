use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    use std::time::SystemTime;
    let _started = SystemTime::now();
    let _ = ctx.now();
    Ok(())
}

fn main() {}
