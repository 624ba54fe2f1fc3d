//! An activity needs no context parameter; its input is its one parameter's
//! type, or `()` with no parameter. Its name defaults to the function's.

use reprise::prelude::*;

#[activity]
async fn add_one(n: u64) -> Result<u64, ActivityError> {
    Ok(n + 1)
}

#[activity]
async fn ping() -> Result<(), ActivityError> {
    Ok(())
}

fn input<A: Activity>(_: A, input: A::Input) -> A::Input {
    input
}

fn main() {
    assert_eq!(<add_one as Activity>::NAME, "add_one");
    assert_eq!(<ping as Activity>::NAME, "ping");
    let n: u64 = input(add_one, 41);
    let (): () = input(ping, ());
    assert_eq!(n, 41);
    assert_eq!(add_one.options(), reprise::ActivityOptions::default());
}
