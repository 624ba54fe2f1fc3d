//! An activity returns `Result<T, ActivityError>`: another error type is
//! reported on the return type.

use reprise::prelude::*;

#[activity]
async fn parse(text: String) -> Result<u64, String> {
    text.parse::<u64>().map_err(|e| e.to_string())
}

fn main() {}
