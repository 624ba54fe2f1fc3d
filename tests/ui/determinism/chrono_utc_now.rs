use reprise::prelude::*;

mod chrono {
    pub struct Utc;
    impl Utc {
        pub fn now() {}
    }
}

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    chrono::Utc::now();
    ctx.sleep(Duration::from_secs(1)).await;
    Ok(())
}

fn main() {}
