//! An activity's parameters are stored in the history: they must be
//! `Serialize + DeserializeOwned`.

use reprise::prelude::*;

struct Target {
    path: String,
}

#[activity]
async fn load(target: Target, rows: Vec<u64>) -> Result<usize, ActivityError> {
    let _ = target.path;
    Ok(rows.len())
}

fn main() {}
