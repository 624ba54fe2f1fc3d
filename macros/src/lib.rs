//! Procedural macros of reprise. Use them through the `reprise` crate.

mod lint;

use proc_macro::TokenStream;

/// Marks an `async fn` as a durable workflow.
#[proc_macro_attribute]
pub fn workflow(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Marks an `async fn` as an activity.
#[proc_macro_attribute]
pub fn activity(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
