use reprise::prelude::*;

// The test package enables no `fs` feature of tokio: a stand-in with the same path.
mod tokio {
    pub mod fs {
        pub async fn read_to_string(_path: &str) -> String {
            String::new()
        }
    }
}

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _rows = tokio::fs::read_to_string("rows.csv").await;
    let _ = ctx.now();
    Ok(())
}

fn main() {}
