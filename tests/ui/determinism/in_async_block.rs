use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let work = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    work.await;
    let _ = ctx.now();
    Ok(())
}

fn main() {}
