//! `#[activity]` applies to a function: an `async fn`, or a `fn`.

use reprise::prelude::*;

#[activity]
struct Load;

fn main() {}
