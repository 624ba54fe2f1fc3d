//! Types the argument of `ctx.continue_as_new(arg)` in a workflow body.
//!
//! `continue_as_new` cannot know the workflow's input type, so every method
//! call `X.continue_as_new(arg)` becomes
//! `X.continue_as_new(CRATE::__private::continue_as_new_input::<INPUT>(arg))`,
//! spanned at `arg` so that a mismatch points at the user's argument. Nested
//! items (fns, impls, modules in the body) belong to no workflow and are left
//! alone.

use proc_macro2::{Delimiter, Group};
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, ExprMethodCall, Item, Path, Type};

use crate::respan::respan;

const METHOD: &str = "continue_as_new";

/// Rewrites every `continue_as_new` call of `body`.
pub(crate) fn continue_as_new(body: &mut Block, krate: &Path, input: &Type) {
    Rewriter { krate, input }.visit_block_mut(body);
}

struct Rewriter<'a> {
    krate: &'a Path,
    input: &'a Type,
}

impl VisitMut for Rewriter<'_> {
    fn visit_expr_method_call_mut(&mut self, call: &mut ExprMethodCall) {
        visit_mut::visit_expr_method_call_mut(self, call);
        if call.method != METHOD || call.args.len() != 1 {
            return;
        }
        if let Some(arg) = call.args.first_mut() {
            let inner = std::mem::replace(arg, Expr::Verbatim(proc_macro2::TokenStream::new()));
            let (krate, input) = (self.krate, self.input);
            let wrapper = respan(
                quote!(#krate::__private::continue_as_new_input::<#input>),
                inner.span(),
            );
            let mut parens = Group::new(Delimiter::Parenthesis, inner.to_token_stream());
            parens.set_span(inner.span());
            *arg = syn::parse_quote!(#wrapper #parens);
        }
    }

    fn visit_item_mut(&mut self, _item: &mut Item) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::ToTokens;

    fn rewrite(body: Block) -> String {
        let mut body = body;
        continue_as_new(
            &mut body,
            &syn::parse_quote!(::reprise),
            &syn::parse_quote!((u32, String,)),
        );
        body.to_token_stream().to_string()
    }

    #[test]
    fn wraps_the_argument_of_every_call() {
        let out = rewrite(syn::parse_quote!({
            if done {
                return ctx.continue_as_new((n + 1, s));
            }
            let f = || self_ctx.continue_as_new(next);
            async move { (&ctx).continue_as_new(x) };
        }));
        assert_eq!(
            out.matches(":: reprise :: __private :: continue_as_new_input :: < (u32 , String ,) >")
                .count(),
            3,
            "{out}"
        );
        assert!(
            out.contains("continue_as_new_input :: < (u32 , String ,) > ((n + 1 , s))"),
            "{out}"
        );
    }

    #[test]
    fn leaves_nested_items_other_methods_and_other_arities_alone() {
        let out = rewrite(syn::parse_quote!({
            fn helper(ctx: &WorkflowContext) -> R {
                ctx.continue_as_new(1)
            }
            ctx.continue_as_new_later(1);
            ctx.continue_as_new(1, 2);
        }));
        assert!(!out.contains("continue_as_new_input"), "{out}");
    }

    #[test]
    fn nested_calls_are_wrapped_inside_out() {
        let out = rewrite(syn::parse_quote!({
            a.continue_as_new(b.continue_as_new(c))
        }));
        assert_eq!(out.matches("continue_as_new_input").count(), 2, "{out}");
    }
}
