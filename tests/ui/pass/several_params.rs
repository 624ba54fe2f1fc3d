//! Several parameters make a tuple input, in order; patterns such as `mut x`
//! and destructuring are kept.

use reprise::prelude::*;

#[derive(Clone, Serialize, Deserialize)]
struct Target {
    table: String,
}

#[activity]
async fn load(
    ctx: ActivityContext,
    target: Target,
    mut rows: Vec<u64>,
    (from, to): (u64, u64),
) -> Result<usize, ActivityError> {
    let _ = (ctx.attempt(), target.table);
    rows.retain(|r| (from..to).contains(r));
    Ok(rows.len())
}

#[workflow]
async fn etl(ctx: WorkflowContext, target: Target, rows: Vec<u64>) -> Result<usize, WorkflowError> {
    let (ctx, target, rows) = (&ctx, &target, &rows);
    let loaded = join_all((0..2u64).map(|i| async move {
        ctx.activity(load, (target.clone(), rows.clone(), (i, i + 10)))
            .await
    }))
    .await;
    let mut n = 0;
    for one in loaded {
        n += one?;
    }
    Ok(n)
}

fn main() {
    let _: <load as Activity>::Input = (Target { table: "t".into() }, vec![1], (0, 1));
    let _: <etl as Workflow>::Input = (Target { table: "t".into() }, vec![1]);
}
