use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _ = tokio::time::timeout(Duration::from_secs(1), ctx.sleep(Duration::from_secs(5))).await;
    Ok(())
}

fn main() {}
