//! An activity's one parameter is its input: it must be
//! `Serialize + DeserializeOwned`.

use reprise::prelude::*;

struct Target {
    path: String,
}

#[activity]
async fn load(target: Target) -> Result<String, ActivityError> {
    Ok(target.path)
}

fn main() {}
