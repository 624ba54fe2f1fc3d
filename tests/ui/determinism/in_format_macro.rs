use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    println!("started at {:?}", std::time::SystemTime::now());
    let _ = ctx.now();
    Ok(())
}

fn main() {}
