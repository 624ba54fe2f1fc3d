//! A synchronous activity's return type is checked like an async one's.

use reprise::prelude::*;

struct Pool;

#[activity]
fn load(db: Resource<Pool>, n: u64) -> Result<u64, String> {
    let _ = db;
    Ok(n)
}

fn main() {}
