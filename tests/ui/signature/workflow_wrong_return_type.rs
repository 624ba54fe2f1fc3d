//! A workflow returns `Result<T, WorkflowError>`.

use reprise::prelude::*;

#[workflow]
async fn count(_ctx: WorkflowContext, to: u64) -> u64 {
    to
}

fn main() {}
