//! Limits are activity options; a workflow takes `name`, `crate`, `signals`.

use reprise::prelude::*;

#[workflow(max_concurrent = 2)]
async fn count(_ctx: WorkflowContext, to: u64) -> Result<u64, WorkflowError> {
    Ok(to)
}

fn main() {}
