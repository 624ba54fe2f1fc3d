use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = ctx.now();
    Ok(())
}

fn main() {}
