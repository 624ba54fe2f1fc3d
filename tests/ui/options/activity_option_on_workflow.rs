//! Timeouts are activity options; a workflow takes `name`, `crate`, `signals`.

use reprise::prelude::*;

#[workflow(name = "Count", start_to_close = "5m")]
async fn count(_ctx: WorkflowContext, to: u64) -> Result<u64, WorkflowError> {
    Ok(to)
}

fn main() {}
