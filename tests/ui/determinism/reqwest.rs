use reprise::prelude::*;

mod reqwest {
    pub async fn get(_url: &str) {}
}

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    reqwest::get("http://127.0.0.1:8080/rows").await;
    let _ = ctx.now();
    Ok(())
}

fn main() {}
