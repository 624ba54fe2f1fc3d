//! Expansions compile under strict lints and `#![forbid(unsafe_code)]`.

#![forbid(unsafe_code)]
#![deny(
    warnings,
    missing_docs,
    missing_debug_implementations,
    missing_copy_implementations,
    rust_2018_idioms,
    unused,
    unused_qualifications,
    unused_results,
    trivial_casts,
    trivial_numeric_casts,
    single_use_lifetimes,
    unreachable_pub,
    non_ascii_idents,
    clippy::all,
    clippy::pedantic
)]

use reprise::prelude::*;

/// Adds one.
#[activity(start_to_close = "1s", retry(max_attempts = 2))]
async fn add_one(n: u64) -> Result<u64, ActivityError> {
    Ok(n + 1)
}

/// Counts.
#[workflow]
async fn count(ctx: WorkflowContext, from: u64, to: u64) -> Result<u64, WorkflowError> {
    let mut n = from;
    while n < to {
        n = ctx.activity(add_one, n).await?;
    }
    Ok(n)
}

fn main() {
    let _ = (add_one, count);
}
