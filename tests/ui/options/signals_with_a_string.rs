//! `signals` lists types, not signal names.

use reprise::prelude::*;

#[derive(Serialize, Deserialize, Signal)]
#[signal(name = "stop")]
struct StopStreaming;

#[workflow(signals = [StopStreaming, "stop"])]
async fn stream(_ctx: WorkflowContext) -> Result<(), WorkflowError> {
    Ok(())
}

fn main() {}
