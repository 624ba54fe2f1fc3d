//! An activity's parameters have concrete types.

use reprise::prelude::*;

#[activity]
async fn greet(name: impl Into<String>) -> Result<String, ActivityError> {
    Ok(name.into())
}

fn main() {}
