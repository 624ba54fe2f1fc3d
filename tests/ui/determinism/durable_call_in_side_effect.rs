use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    // The closure does not run on replay: the uuid would be missing then.
    let _tagged: String = ctx.side_effect(|| format!("run-{}", ctx.uuid()));
    Ok(())
}

fn main() {}
