use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    use std::fs::*;
    let _rows = read_to_string("rows.csv");
    let _ = ctx.now();
    Ok(())
}

fn main() {}
