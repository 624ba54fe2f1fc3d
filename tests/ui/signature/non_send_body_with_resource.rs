//! An activity's future must be `Send`, resources or not: an `Rc` held
//! across an `.await` is reported on the return type.

use std::rc::Rc;

use reprise::prelude::*;

struct Pool;

#[activity]
async fn load(db: Resource<Pool>, n: u64) -> Result<u64, ActivityError> {
    let _ = db;
    let shared = Rc::new(n);
    std::future::ready(()).await;
    Ok(*shared)
}

fn main() {}
