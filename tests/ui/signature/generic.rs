//! An activity cannot be generic: its input is stored under one name.

use reprise::prelude::*;

#[activity]
async fn echo<T>(value: T) -> Result<T, ActivityError> {
    Ok(value)
}

fn main() {}
