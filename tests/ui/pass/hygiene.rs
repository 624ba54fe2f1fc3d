//! Generated code uses absolute paths only: a module that shadows `Result`,
//! `Ok`, `Some`, `None`, `Option`, `Box`, `Vec`, `String`, `Duration`,
//! `Default`, `Clone`, `Copy`, `Debug`, `Send`, `Rate` and `ResourceNeed`
//! still compiles.

#![allow(dead_code, non_camel_case_types)]

mod shadowed {
    use ::reprise::prelude::{
        activity, workflow, ActivityContext, ActivityError, Resource, WorkflowContext,
        WorkflowError,
    };

    struct Result;
    struct Ok;
    struct Some;
    struct None;
    struct Option;
    struct Box;
    struct Vec;
    struct String;
    struct Duration;
    struct Default;
    struct Clone;
    struct Copy;
    struct Debug;
    struct Send;
    struct Rate;
    struct ResourceNeed;
    struct core;
    struct reprise;

    #[activity(start_to_close = "1m", retry(max_attempts = 2, non_retryable = ["E"]))]
    pub(crate) async fn add_one(n: u64) -> ::core::result::Result<u64, ActivityError> {
        ::core::result::Result::Ok(n + 1)
    }

    pub(crate) struct Offset(pub(crate) u64);

    #[activity(max_concurrent = 2, rate = "5/m")]
    pub(crate) fn add_offset(
        ctx: ActivityContext,
        offset: Resource<Offset>,
        n: u64,
    ) -> ::core::result::Result<u64, ActivityError> {
        let _ = ctx.attempt();
        ::core::result::Result::Ok(n + offset.0)
    }

    #[activity]
    pub(crate) async fn add_offset_async(
        offset: Resource<Offset>,
        n: u64,
    ) -> ::core::result::Result<u64, ActivityError> {
        ::core::result::Result::Ok(n + offset.0)
    }

    #[workflow]
    pub(crate) async fn count(
        ctx: WorkflowContext,
        a: u64,
        b: u64,
    ) -> ::core::result::Result<u64, WorkflowError> {
        let n = ctx.activity(add_one, a + b).await?;
        ::core::result::Result::Ok(n)
    }
}

fn main() {
    use ::reprise::{Activity, Workflow};
    assert_eq!(<shadowed::add_one as Activity>::NAME, "add_one");
    assert_eq!(<shadowed::count as Workflow>::NAME, "count");
}
