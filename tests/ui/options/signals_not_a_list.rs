//! `signals` takes a list of types, even for one type.

use reprise::prelude::*;

#[derive(Serialize, Deserialize, Signal)]
struct StopStreaming;

#[workflow(signals = StopStreaming)]
async fn stream(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    ctx.signal::<StopStreaming>().recv().await;
    Ok(())
}

fn main() {}
