//! Workflow futures must be `Send`: an `Rc` held across an `.await` is
//! reported on the return type, with a note at the `.await`.

use std::rc::Rc;

use reprise::prelude::*;

#[workflow]
async fn count(ctx: WorkflowContext, to: u64) -> Result<u64, WorkflowError> {
    let shared = Rc::new(to);
    ctx.sleep(Duration::from_secs(1)).await;
    Ok(*shared)
}

fn main() {}
