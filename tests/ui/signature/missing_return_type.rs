//! An activity returns `Result<T, ActivityError>`.

use reprise::prelude::*;

#[activity]
async fn notify(user: String) {
    let _ = user;
}

fn main() {}
