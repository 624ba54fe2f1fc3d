//! An activity may take an `ActivityContext` first; it is not part of the
//! input. A workflow calls it with the input alone.

use reprise::prelude::*;

#[derive(Serialize, Deserialize)]
struct Progress {
    loaded: usize,
}

/// Loads rows, reporting progress.
#[activity]
async fn load(ctx: ActivityContext, rows: Vec<u64>) -> Result<usize, ActivityError> {
    let resume: Option<Progress> = ctx.heartbeat_details();
    let start = resume.map_or(0, |p| p.loaded);
    ctx.heartbeat(&Progress { loaded: rows.len() });
    if ctx.attempt() > 3 || ctx.is_cancelled() {
        return Err(ActivityError::non_retryable("Cancelled", "stop"));
    }
    Ok(rows.len() - start)
}

#[activity]
async fn ping(_: reprise::ActivityContext) -> Result<(), ActivityError> {
    Ok(())
}

#[workflow]
async fn pipeline(ctx: WorkflowContext, rows: Vec<u64>) -> Result<usize, WorkflowError> {
    ctx.activity(ping, ()).await?;
    let n = ctx.activity(load, rows).await?;
    Ok(n)
}

fn main() {
    let _: <load as Activity>::Input = vec![1, 2, 3];
    let _: <load as Activity>::Output = 3usize;
    let _: <pipeline as Workflow>::Input = vec![1, 2, 3];
    assert_eq!(<pipeline as Workflow>::NAME, "pipeline");
}
