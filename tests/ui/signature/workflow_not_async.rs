//! A workflow must be an `async fn`; the rest of the item still expands, so
//! `rt.start(count, ..)` elsewhere adds no error.

use reprise::prelude::*;

#[workflow]
fn count(_ctx: WorkflowContext, to: u64) -> Result<u64, WorkflowError> {
    Ok(to)
}

fn main() {
    let _ = <count as Workflow>::NAME;
}
