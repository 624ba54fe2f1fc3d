use reprise::prelude::*;

mod rand {
    pub fn thread_rng() {}
}

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    rand::thread_rng();
    ctx.sleep(Duration::from_secs(1)).await;
    Ok(())
}

fn main() {}
