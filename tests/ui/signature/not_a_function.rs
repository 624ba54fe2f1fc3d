//! `#[activity]` applies to an `async fn`.

use reprise::prelude::*;

#[activity]
struct Load;

fn main() {}
