//! `Resource` names the type of the resource it hands: `Resource<Pool>`.

use reprise::prelude::*;

#[activity]
async fn load(db: Resource, n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

#[activity]
async fn save(db: Resource<String, u64>, n: u64) -> Result<u64, ActivityError> {
    Ok(n)
}

fn main() {}
