//! A signal type cannot be generic: its name identifies it in the history.

use reprise::prelude::*;

#[derive(Serialize, Deserialize, Signal)]
struct Command<T> {
    payload: T,
}

fn main() {}
