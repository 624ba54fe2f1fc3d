//! Moving generated tokens to a user's span, so that rustc reports errors
//! in them at the user's code.

use proc_macro2::{Group, Span, TokenStream, TokenTree};

/// `tokens`, every token of them (nested ones included) at `span`.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut respanned = Group::new(group.delimiter(), respan(group.stream(), span));
                respanned.set_span(span);
                token = TokenTree::Group(respanned);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn keeps_the_tokens_and_their_nesting() {
        let tokens = quote!(a::b(c, [d]) { e });
        let out = respan(tokens.clone(), Span::call_site());
        assert_eq!(out.to_string(), tokens.to_string());
    }
}
