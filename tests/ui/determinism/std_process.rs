use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _out = std::process::Command::new("ls").output();
    let _ = ctx.now();
    Ok(())
}

fn main() {}
