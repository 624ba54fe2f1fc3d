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

/// A shared offset.
#[derive(Debug, Clone, Copy)]
pub struct Offset(u64);

/// Adds the offset, on the blocking pool.
#[activity(max_concurrent = 2, rate = "10/s")]
fn add_offset(
    ctx: ActivityContext,
    offset: Resource<Offset>,
    n: u64,
) -> Result<u64, ActivityError> {
    Ok(n + offset.0 + u64::from(ctx.attempt()))
}

/// Adds the offset.
#[activity]
async fn add_offset_async(n: u64, offset: Resource<Offset>) -> Result<u64, ActivityError> {
    Ok(n + offset.0)
}

/// Does nothing, on the blocking pool.
#[activity]
fn nothing() -> Result<(), ActivityError> {
    Ok(())
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
    let _ = (add_one, count, add_offset, add_offset_async, nothing);
}
