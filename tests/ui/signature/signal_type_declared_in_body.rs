//! The list of signal types is generated outside the body: a signal type
//! declared inside it cannot be named there.

use reprise::prelude::*;

#[workflow]
async fn stream(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    #[derive(Serialize, Deserialize, Signal)]
    struct StopStreaming;

    ctx.signal::<StopStreaming>().recv().await;
    Ok(())
}

fn main() {}
