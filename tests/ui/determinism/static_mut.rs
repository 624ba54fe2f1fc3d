use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    #[allow(dead_code)]
    static mut PROCESSED: u32 = 0;
    let _ = ctx.now();
    Ok(())
}

fn main() {}
