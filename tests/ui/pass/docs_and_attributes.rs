//! Docs move to the generated unit value; other attributes stay on the body.

use reprise::prelude::*;

/// Adds one.
#[activity]
#[allow(unused_variables)]
async fn add_one(n: u64, unused: String) -> Result<u64, ActivityError> {
    Ok(n + 1)
}

fn main() {
    let value = add_one;
    let copy = value;
    assert_eq!(format!("{copy:?}"), "add_one");
    let _: add_one = Default::default();
}
