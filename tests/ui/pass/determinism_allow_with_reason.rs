//! `#[reprise::allow(nondeterminism, reason = "...")]` silences the lint on
//! the statement or expression it annotates, and is removed before rustc
//! sees it.

use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    #[reprise::allow(nondeterminism, reason = "only for a debug log")]
    let started = std::time::Instant::now();
    ctx.sleep(Duration::from_secs(1)).await;
    #[reprise::allow(nondeterminism, reason = "iterated only after sorting")]
    let mut seen = std::collections::HashMap::<u32, u32>::new();
    seen.insert(1, 2);
    let mut keys: Vec<_> = seen.keys().copied().collect();
    keys.sort_unstable();
    #[reprise::allow(nondeterminism, reason = "a debug log")]
    println!("{:?} after {:?}", keys, started.elapsed());
    let _pid = #[reprise::allow(nondeterminism, reason = "only logged")]
    std::process::id();
    Ok(())
}

fn main() {}
