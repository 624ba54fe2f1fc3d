//! `crate = "..."` names the runtime crate in generated code, for a crate
//! that depends on reprise under another name.

extern crate reprise as durable;

use durable::prelude::*;

#[durable::activity(crate = "durable")]
async fn add_one(n: u64) -> Result<u64, ActivityError> {
    Ok(n + 1)
}

#[durable::workflow(crate = "durable", name = "Count")]
async fn count(ctx: WorkflowContext, to: u64) -> Result<u64, WorkflowError> {
    Ok(ctx.activity(add_one, to).await?)
}

#[activity(crate = "reprise")]
async fn plain(n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

mod nested {
    use durable::prelude::*;

    #[activity(crate = "::durable")]
    pub(crate) async fn inner() -> Result<(), ActivityError> {
        Ok(())
    }
}

fn main() {
    assert_eq!(<count as durable::Workflow>::NAME, "Count");
    assert_eq!(<add_one as durable::Activity>::NAME, "add_one");
    assert_eq!(<plain as Activity>::NAME, "plain");
    assert_eq!(<nested::inner as Activity>::NAME, "inner");
}
