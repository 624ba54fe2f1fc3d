//! Collecting every error of one expansion, so a single build shows them all.

use proc_macro2::TokenStream;

/// The errors found while expanding one item, in the order found.
#[derive(Default)]
pub(crate) struct Errors {
    errors: Vec<syn::Error>,
}

impl Errors {
    /// Records one error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.errors.push(error);
    }

    /// Records several errors.
    pub(crate) fn extend(&mut self, errors: impl IntoIterator<Item = syn::Error>) {
        self.errors.extend(errors);
    }

    /// One `compile_error!` per error, each at its own span.
    pub(crate) fn to_compile_errors(&self) -> TokenStream {
        self.combined()
            .map(|error| error.to_compile_error())
            .unwrap_or_default()
    }

    /// All errors combined into one, or `None` when there is none.
    pub(crate) fn combined(&self) -> Option<syn::Error> {
        let mut iter = self.errors.iter().cloned();
        let mut first = iter.next()?;
        for error in iter {
            first.combine(error);
        }
        Some(first)
    }

    /// The messages, in order (for tests).
    #[cfg(test)]
    pub(crate) fn messages(&self) -> Vec<String> {
        self.errors.iter().map(ToString::to_string).collect()
    }
}
