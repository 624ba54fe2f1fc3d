//! An activity's parameters are owned: they are stored in the history.

use reprise::prelude::*;

#[activity]
async fn greet(name: &str) -> Result<String, ActivityError> {
    Ok(format!("hello {name}"))
}

fn main() {}
