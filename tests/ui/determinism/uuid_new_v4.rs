use reprise::prelude::*;

mod uuid {
    pub struct Uuid;
    impl Uuid {
        pub fn new_v4() -> Self {
            Uuid
        }
    }
}

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _id = uuid::Uuid::new_v4();
    ctx.sleep(Duration::from_secs(1)).await;
    Ok(())
}

fn main() {}
