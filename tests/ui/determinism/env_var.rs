use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _url = std::env::var("DATABASE_URL");
    let _ = ctx.now();
    Ok(())
}

fn main() {}
