//! A `Resource` is a shared handle, taken by value.

use reprise::prelude::*;

struct Pool;

#[activity]
async fn load(db: &Resource<Pool>, n: u64) -> Result<u64, ActivityError> {
    let _ = db;
    Ok(n)
}

fn main() {}
