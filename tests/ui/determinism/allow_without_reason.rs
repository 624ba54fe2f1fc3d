use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    #[reprise::allow(nondeterminism)]
    let _started = std::time::SystemTime::now();
    let _ = ctx.now();
    Ok(())
}

fn main() {}
