//! Code inside `ctx.side_effect(|| ..)` runs once and is recorded: the lint
//! does not look inside it.

use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _started = ctx.side_effect(|| std::time::SystemTime::now());
    let _region: Option<String> = ctx.side_effect(|| std::env::var("REGION").ok());
    Ok(())
}

fn main() {}
