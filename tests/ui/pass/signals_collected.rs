//! `#[workflow]` lists the signal types its body receives, each once, with
//! those of `signals = [..]`, in the hidden `Workflow::signals`.

use reprise::prelude::*;
use reprise::Workflow;

#[derive(Serialize, Deserialize, Signal)]
struct A;

#[derive(Serialize, Deserialize, Signal)]
struct B;

#[derive(Serialize, Deserialize, Signal)]
struct C;

#[derive(Serialize, Deserialize, Signal)]
pub struct D;

/// Receives `C` where the macro cannot see it.
async fn wait_for<S: Signal>(ctx: &WorkflowContext) -> S {
    ctx.signal::<S>().recv().await
}

#[workflow(signals = [C])]
async fn collected(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    ctx.signal::<A>().recv().await;
    tokio::select! {
        biased;
        _ = ctx.signal::<B>().recv() => {}
        _ = ctx.sleep(std::time::Duration::from_secs(1)) => {}
    }
    let _: C = wait_for(&ctx).await;
    if ctx.signal::<A>().try_recv().is_some() {
        return Ok(());
    }
    Ok(())
}

#[workflow]
async fn nothing(_ctx: WorkflowContext) -> Result<(), WorkflowError> {
    Ok(())
}

/// A type imported inside the body is listed too.
#[workflow]
async fn imported(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    use self::renamed::Dee;
    ctx.signal::<Dee>().recv().await;
    Ok(())
}

mod renamed {
    pub use super::D as Dee;
}

fn main() {
    assert_eq!(collected.signals().unwrap().len(), 3);
    assert_eq!(nothing.signals().unwrap().len(), 0);
    assert_eq!(imported.signals().unwrap().len(), 1);
}
