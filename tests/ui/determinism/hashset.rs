use std::collections::HashSet;

use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _seen = [1, 2, 2].into_iter().collect::<HashSet<u32>>();
    let _ = ctx.now();
    Ok(())
}

fn main() {}
