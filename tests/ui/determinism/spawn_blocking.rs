use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _task = tokio::task::spawn_blocking(|| 1 + 1);
    let _ = ctx.now();
    Ok(())
}

fn main() {}
