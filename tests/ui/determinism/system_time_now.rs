use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _started = std::time::SystemTime::now();
    ctx.sleep(Duration::from_secs(1)).await;
    Ok(())
}

fn main() {}
