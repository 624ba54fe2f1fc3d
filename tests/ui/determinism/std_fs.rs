use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _rows = std::fs::read_to_string("rows.csv");
    let _ = ctx.now();
    Ok(())
}

fn main() {}
