use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    std::thread::sleep(Duration::from_secs(1));
    let _ = ctx.now();
    Ok(())
}

fn main() {}
