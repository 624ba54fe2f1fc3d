//! An operator binary: the `reprise` command with this program's workflow
//! types registered (`reprise_cli::main_with`), so that
//!
//! ```sh
//! cargo run --example operator -- --db reprise.db replay-check
//! ```
//!
//! replays every open run of the store against the code below before it
//! is deployed, and exits with 1 if any run diverges (one line per run:
//! `ok`, `DIVERGED: ...` or `not registered here`; `--json` for the
//! report). Every other command of `reprise` works as usual (`list`,
//! `describe`, `signal` — which now also checks signal names and payloads
//! against `Approve` — `ui`, ...). See docs/OPERATING.md, `replay-check`.
//!
//! Build such a binary from the crate that holds your workflows, and run
//! it in CI against a copy of the production store (or against the store
//! itself: it opens it as a client, writes nothing and runs nothing).

use std::process::ExitCode;

use reprise::prelude::*;

/// An order's approval, sent by a person: `reprise signal ID approve '{"by": "ada"}'`.
#[derive(Debug, Serialize, Deserialize, Signal)]
#[signal(name = "approve")]
pub struct Approve {
    /// Who approved.
    pub by: String,
}

/// Asks a manager to approve an order (here: a log line).
#[activity]
pub async fn request_approval(order: String) -> Result<(), ActivityError> {
    println!("please approve order {order}");
    Ok(())
}

/// Ships an approved order; returns its tracking number.
#[activity]
pub async fn ship(order: String, by: String) -> Result<String, ActivityError> {
    Ok(format!("{order}-approved-by-{by}"))
}

/// Asks for approval, waits for it (days, maybe), then ships. A run
/// waiting for its `approve` signal is exactly what a deploy of changed
/// code can break: `replay-check` tells before the deploy.
#[workflow(name = "order_approval")]
pub async fn order_approval(ctx: WorkflowContext, order: String) -> Result<String, WorkflowError> {
    ctx.activity(request_approval, order.clone()).await?;
    let approval = ctx.signal::<Approve>().recv().await;
    Ok(ctx.activity(ship, (order, approval.by)).await?)
}

fn main() -> ExitCode {
    // Only the workflow types are needed: nothing runs in this binary, so
    // activities and resources need not be registered.
    reprise_cli::main_with(|builder| builder.workflow(order_approval))
}
