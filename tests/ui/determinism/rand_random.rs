use reprise::prelude::*;

mod rand {
    pub fn random() -> u64 {
        4
    }
}

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _roll = rand::random();
    ctx.sleep(Duration::from_secs(1)).await;
    Ok(())
}

fn main() {}
