//! A signal type must be a `Signal`, whether listed in `signals = [..]` or
//! received in the body: the error is on the user's type.

use reprise::prelude::*;

#[derive(Serialize, Deserialize, Signal)]
struct StopStreaming;

#[workflow(signals = [StopStreaming, u32])]
async fn declared(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    ctx.signal::<StopStreaming>().recv().await;
    Ok(())
}

#[workflow]
async fn received(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    ctx.signal::<u64>().recv().await;
    Ok(())
}

fn main() {}
