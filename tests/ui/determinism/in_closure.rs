use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let stamp = |n: u32| (n, std::time::SystemTime::now());
    let _stamped = stamp(1);
    let _ = ctx.now();
    Ok(())
}

fn main() {}
