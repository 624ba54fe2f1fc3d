//! The sanctioned alternatives to the wall clock, randomness, timers and
//! hash-ordered collections compile in a workflow body.

use std::collections::{BTreeMap, BTreeSet};

use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<u64, WorkflowError> {
    let started = ctx.now();
    ctx.sleep(Duration::from_secs(60)).await;
    let _elapsed = ctx.now().duration_since(started);
    let _id = ctx.uuid();
    let roll = ctx.random_u64();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    counts.insert("rows".to_string(), roll);
    let seen = [3, 1, 2].into_iter().collect::<BTreeSet<u32>>();
    let _first = seen.iter().next();
    let _timeout = std::time::Duration::from_millis(250);
    Ok(counts.values().sum())
}

fn main() {}
