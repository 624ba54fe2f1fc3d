use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _thread = std::thread::spawn(|| 1 + 1);
    let _ = ctx.now();
    Ok(())
}

fn main() {}
