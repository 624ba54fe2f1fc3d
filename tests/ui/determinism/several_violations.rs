use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _started = std::time::Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    let _rows = std::fs::read_to_string("rows.csv");
    let _url = std::env::var("DATABASE_URL");
    let _ = ctx.now();
    Ok(())
}

fn main() {}
