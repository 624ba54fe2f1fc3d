use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    thread_local! {
        static PROCESSED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    PROCESSED.with(|n| n.set(n.get() + 1));
    let _ = ctx.now();
    Ok(())
}

fn main() {}
