//! `#[signal(...)]` takes `name` and `crate`, with the same checks as the
//! other macros.

use reprise::prelude::*;

#[derive(Serialize, Deserialize, Signal)]
#[signal(nme = "stop")]
struct StopStreaming;

fn main() {}
