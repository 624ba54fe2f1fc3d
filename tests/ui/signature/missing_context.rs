//! A workflow's first parameter is its `WorkflowContext`.

use reprise::prelude::*;

#[workflow]
async fn count(to: u64) -> Result<u64, WorkflowError> {
    Ok(to)
}

fn main() {}
