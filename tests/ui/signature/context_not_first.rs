//! An activity's `ActivityContext` parameter must come first.

use reprise::prelude::*;

#[activity]
async fn load(rows: Vec<u64>, ctx: ActivityContext) -> Result<usize, ActivityError> {
    ctx.heartbeat(&rows.len());
    Ok(rows.len())
}

fn main() {}
