//! An activity cannot take `self`: it must be a free function.

use reprise::prelude::*;

struct Loader;

impl Loader {
    #[activity]
    async fn load(&self, n: u64) -> Result<u64, ActivityError> {
        Ok(n)
    }
}

fn main() {}
