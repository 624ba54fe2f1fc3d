//! Compile-time diagnostics of `#[workflow]`, `#[activity]` and `#[derive(Signal)]`.
//!
//! Every `tests/ui/<topic>/<mistake>.rs` must fail to compile with the message
//! stored beside it in `<mistake>.stderr`; every file in `tests/ui/pass/` must
//! compile (and its `main` run). Regenerate snapshots with
//! `TRYBUILD=overwrite cargo test --test ui` and read the diff: the caret must
//! sit under the user's token.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    for topic in ["signature", "options", "determinism"] {
        t.compile_fail(format!("tests/ui/{topic}/*.rs"));
    }
}
