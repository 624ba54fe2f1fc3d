//! A workflow is replayed and must be deterministic: resources belong to
//! activities.

use reprise::prelude::*;

struct Pool;

#[workflow]
async fn etl(ctx: WorkflowContext, db: Resource<Pool>, n: u64) -> Result<u64, WorkflowError> {
    let _ = (ctx, db);
    Ok(n)
}

fn main() {}
