use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let mut counts = std::collections::HashMap::<String, u32>::new();
    counts.insert("rows".to_string(), 1);
    let _ = ctx.now();
    Ok(())
}

fn main() {}
