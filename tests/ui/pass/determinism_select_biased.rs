//! `select!` with `biased;` polls its branches in order: allowed.

use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<u32, WorkflowError> {
    let branch = tokio::select! {
        biased;
        _ = ctx.sleep(Duration::from_secs(1)) => 1,
        _ = ctx.sleep(Duration::from_secs(2)) => 2,
    };
    Ok(branch)
}

fn main() {}
