//! Activities receive no signals: `signals` is a `#[workflow]` option.

use reprise::prelude::*;

#[derive(Serialize, Deserialize, Signal)]
struct StopStreaming;

#[activity(signals = [StopStreaming])]
async fn load(rows: Vec<u64>) -> Result<usize, ActivityError> {
    Ok(rows.len())
}

fn main() {}
