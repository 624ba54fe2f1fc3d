//! Signature rules of `#[activity]` and `#[workflow]` functions.
//!
//! Each violation is a spanned error on the smallest responsible tokens. The
//! return type is not checked here: the expansion names it in
//! `<RET as ActivityReturn>::Ok`, so the type system reports a wrong one, at
//! its span, through `#[diagnostic::on_unimplemented]`.

use syn::visit::Visit;
use syn::{FnArg, Type, TypeImplTrait, TypeReference};

use crate::ast::{is_named, resource_type, Function, Kind, RESOURCE};
use crate::errors::Errors;

/// What can be generated for a signature, from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Verdict {
    /// The full expansion (a workflow's missing `async`, or an extra
    /// `const`, `unsafe` or `extern` is fixed in the generated body once
    /// reported).
    Usable,
    /// Input or output types cannot be named: only the unit struct.
    StructOnly,
    /// A method taking `self`: the item is kept as written.
    PassThrough,
}

impl Kind {
    fn a(self) -> &'static str {
        match self {
            Kind::Activity => "an activity",
            Kind::Workflow => "a workflow",
        }
    }
}

/// Checks `func`'s signature, pushing one error per violation.
pub(crate) fn signature(func: &Function, errors: &mut Errors) -> Verdict {
    let kind = func.kind;
    let a = kind.a();
    let sig = &func.sig;
    let mut verdict = Verdict::Usable;
    let mut fail = |verdict_now: Verdict, error: syn::Error| {
        errors.push(error);
        verdict = verdict.max(verdict_now);
    };

    if let Some(constness) = &sig.constness {
        let message = format!("{a} cannot be a `const fn`: remove `const`");
        fail(Verdict::Usable, syn::Error::new_spanned(constness, message));
    }
    // A plain `fn` activity runs on the blocking pool; a workflow is replayed
    // by the executor and must yield at its awaits.
    if sig.asyncness.is_none() && kind == Kind::Workflow {
        let message = format!("{a} must be an `async fn`: add `async` before `fn`");
        fail(
            Verdict::Usable,
            syn::Error::new_spanned(sig.fn_token, message),
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        let message = format!("{a} cannot be `unsafe`: remove `unsafe`");
        fail(Verdict::Usable, syn::Error::new_spanned(unsafety, message));
    }
    if let Some(abi) = &sig.abi {
        let message = format!("{a} cannot have an `extern` ABI: remove it");
        fail(Verdict::Usable, syn::Error::new_spanned(abi, message));
    }
    if !sig.generics.params.is_empty() {
        let message = format!(
            "{a} cannot have generic parameters: its input and output are stored in the history, use concrete types"
        );
        fail(
            Verdict::StructOnly,
            syn::Error::new_spanned(&sig.generics, message),
        );
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        let message = format!("{a} cannot have a `where` clause: use concrete types");
        fail(
            Verdict::StructOnly,
            syn::Error::new_spanned(where_clause, message),
        );
    }
    if let Some(variadic) = &sig.variadic {
        let message = format!("{a} cannot take variadic arguments");
        fail(
            Verdict::StructOnly,
            syn::Error::new_spanned(variadic, message),
        );
    }

    let context = kind.context();
    let other = kind.other_context();
    let mut typed = 0;
    for arg in &sig.inputs {
        let param = match arg {
            FnArg::Receiver(receiver) => {
                let message = format!(
                    "{a} cannot take `self`: make it a free function, outside the `impl` block"
                );
                fail(
                    Verdict::PassThrough,
                    syn::Error::new_spanned(receiver, message),
                );
                continue;
            }
            FnArg::Typed(param) => param,
        };
        let first = typed == 0;
        typed += 1;
        let ty = &*param.ty;
        if is_named(ty, context) {
            if !first {
                let message = format!("the `{context}` parameter must come first");
                fail(Verdict::StructOnly, syn::Error::new_spanned(ty, message));
            }
        } else if is_named(ty, other) {
            let message = match kind {
                Kind::Activity => format!(
                    "an activity takes an `{context}`, not a `{other}`: to call activities, make this function a `#[workflow]`"
                ),
                Kind::Workflow => format!(
                    "a workflow takes `ctx: {context}` as its first parameter, not an `{other}`"
                ),
            };
            fail(Verdict::StructOnly, syn::Error::new_spanned(ty, message));
        } else if let Some(reference) = by_reference(ty, context) {
            let message = format!("take the context by value: `ctx: {context}`");
            fail(
                Verdict::StructOnly,
                syn::Error::new_spanned(reference, message),
            );
        } else {
            if first && !kind.context_optional() {
                let message = format!("{a} takes `ctx: {context}` as its first parameter");
                fail(Verdict::StructOnly, syn::Error::new_spanned(param, message));
            }
            let mut finder = Finder::default();
            finder.visit_type(ty);
            let reference = by_reference(ty, RESOURCE);
            if kind == Kind::Workflow && (is_named(ty, RESOURCE) || reference.is_some()) {
                let message = "a workflow cannot take a `Resource`: workflows must be deterministic; take resources in activities";
                fail(Verdict::StructOnly, syn::Error::new_spanned(ty, message));
            } else if let Some(reference) = reference {
                let message =
                    "take the `Resource` by value, without `&`: it is a cheap shared handle";
                fail(
                    Verdict::StructOnly,
                    syn::Error::new_spanned(reference, message),
                );
            } else if is_named(ty, RESOURCE) {
                // Not part of the input: no payload rule but `impl Trait`.
                if resource_type(ty).is_none() {
                    let message = "`Resource` takes the resource's type: `Resource<Pool>`";
                    fail(Verdict::StructOnly, syn::Error::new_spanned(ty, message));
                } else if let Some(impl_trait) = finder.impl_trait {
                    let message =
                        format!("{a} cannot take `impl Trait` parameters: use a concrete type");
                    fail(
                        Verdict::StructOnly,
                        syn::Error::new_spanned(impl_trait, message),
                    );
                }
            } else if let Some(impl_trait) = finder.impl_trait {
                let message =
                    format!("{a} cannot take `impl Trait` parameters: use a concrete type");
                fail(
                    Verdict::StructOnly,
                    syn::Error::new_spanned(impl_trait, message),
                );
            } else if let Some(reference) = finder.reference {
                let message = format!(
                    "{a}'s parameters are stored in its history and must be owned: use an owned type such as `String` or `Vec<T>`"
                );
                fail(
                    Verdict::StructOnly,
                    syn::Error::new_spanned(reference, message),
                );
            }
        }
    }
    if typed == 0 && !kind.context_optional() {
        let message = format!("{a} takes `ctx: {context}` as its first parameter");
        let span = sig.paren_token.span.join();
        fail(Verdict::StructOnly, syn::Error::new(span, message));
    }

    let error = kind.error();
    match func.output() {
        None => {
            let message = format!(
                "{a} must return `Result<T, {error}>`: add a return type such as `-> Result<(), {error}>`"
            );
            fail(Verdict::StructOnly, syn::Error::new_spanned(sig, message));
        }
        Some(output) => {
            let mut finder = Finder::default();
            finder.visit_type(output);
            if let Some(impl_trait) = finder.impl_trait {
                let message = format!("{a} must return `Result<T, {error}>`, not `impl Trait`");
                fail(
                    Verdict::StructOnly,
                    syn::Error::new_spanned(impl_trait, message),
                );
            }
        }
    }
    verdict
}

/// `&ActivityContext`, `&mut Resource<T>`: a reference to a type named `name`.
fn by_reference<'a>(ty: &'a Type, name: &str) -> Option<&'a TypeReference> {
    match ty {
        Type::Reference(reference) if is_named(&reference.elem, name) => Some(reference),
        Type::Group(group) => by_reference(&group.elem, name),
        Type::Paren(paren) => by_reference(&paren.elem, name),
        _ => None,
    }
}

/// The first `impl Trait` and the first reference in a type.
#[derive(Default)]
struct Finder<'ast> {
    impl_trait: Option<&'ast TypeImplTrait>,
    reference: Option<&'ast TypeReference>,
}

impl<'ast> Visit<'ast> for Finder<'ast> {
    fn visit_type_impl_trait(&mut self, node: &'ast TypeImplTrait) {
        self.impl_trait.get_or_insert(node);
    }

    fn visit_type_reference(&mut self, node: &'ast TypeReference) {
        self.reference.get_or_insert(node);
        syn::visit::visit_type_reference(self, node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: Kind, item: syn::ItemFn) -> (Verdict, Vec<String>) {
        let mut errors = Errors::default();
        let verdict = signature(&Function::new(kind, item), &mut errors);
        (verdict, errors.messages())
    }

    fn activity(item: syn::ItemFn) -> (Verdict, Vec<String>) {
        check(Kind::Activity, item)
    }

    fn workflow(item: syn::ItemFn) -> (Verdict, Vec<String>) {
        check(Kind::Workflow, item)
    }

    #[test]
    fn accepts_the_documented_forms() {
        for item in [
            syn::parse_quote!(
                async fn a() -> Result<(), ActivityError> {
                    Ok(())
                }
            ),
            syn::parse_quote!(
                async fn a(n: u64) -> Result<u64, ActivityError> {
                    Ok(n)
                }
            ),
            syn::parse_quote!(
                async fn a(ctx: ActivityContext) -> Result<(), ActivityError> {
                    Ok(())
                }
            ),
            syn::parse_quote!(
                async fn a(_: reprise::ActivityContext, mut v: Vec<u8>, (x, y): (u8, u8)) -> R {
                    Ok(())
                }
            ),
            syn::parse_quote!(
                pub(crate) async fn a(s: std::borrow::Cow<'static, str>) -> R {
                    Ok(())
                }
            ),
        ] {
            assert_eq!(activity(item), (Verdict::Usable, vec![]));
        }
        for item in [
            syn::parse_quote!(
                async fn w(ctx: WorkflowContext) -> Result<(), WorkflowError> {
                    Ok(())
                }
            ),
            syn::parse_quote!(
                async fn w(ctx: WorkflowContext, i: Input, j: u8) -> R {
                    Ok(())
                }
            ),
        ] {
            assert_eq!(workflow(item), (Verdict::Usable, vec![]));
        }
    }

    #[test]
    fn a_plain_fn_is_a_synchronous_activity_but_not_a_workflow() {
        let (verdict, errors) = activity(syn::parse_quote!(
            fn a(ctx: ActivityContext, n: u64) -> R {
                Ok(())
            }
        ));
        assert_eq!((verdict, errors), (Verdict::Usable, vec![]));

        let (verdict, errors) = workflow(syn::parse_quote!(
            fn w(ctx: WorkflowContext) -> R {
                Ok(())
            }
        ));
        assert_eq!(verdict, Verdict::Usable);
        assert_eq!(
            errors,
            ["a workflow must be an `async fn`: add `async` before `fn`"]
        );
    }

    #[test]
    fn fixable_qualifiers_are_errors_but_still_expand() {
        let (verdict, errors) = activity(syn::parse_quote!(
            const unsafe extern "C" fn a() -> R {
                Ok(())
            }
        ));
        assert_eq!(verdict, Verdict::Usable);
        assert_eq!(
            errors,
            [
                "an activity cannot be a `const fn`: remove `const`",
                "an activity cannot be `unsafe`: remove `unsafe`",
                "an activity cannot have an `extern` ABI: remove it",
            ]
        );

        let (verdict, errors) = workflow(syn::parse_quote!(
            const unsafe extern "C" fn w(ctx: WorkflowContext) -> R {
                Ok(())
            }
        ));
        assert_eq!(verdict, Verdict::Usable);
        assert_eq!(
            errors,
            [
                "a workflow cannot be a `const fn`: remove `const`",
                "a workflow must be an `async fn`: add `async` before `fn`",
                "a workflow cannot be `unsafe`: remove `unsafe`",
                "a workflow cannot have an `extern` ABI: remove it",
            ]
        );
    }

    #[test]
    fn generics_and_where_clauses_are_rejected() {
        let (verdict, errors) = activity(syn::parse_quote!(
            async fn a<T>(t: T) -> R
            where
                T: Clone,
            {
                Ok(())
            }
        ));
        assert_eq!(verdict, Verdict::StructOnly);
        assert_eq!(
            errors,
            [
                "an activity cannot have generic parameters: its input and output are stored in the history, use concrete types",
                "an activity cannot have a `where` clause: use concrete types",
            ]
        );
        let (_, errors) = activity(syn::parse_quote!(
            async fn a<'a>() -> R {
                Ok(())
            }
        ));
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn self_receivers_pass_the_item_through() {
        let (verdict, errors) = activity(syn::parse_quote!(
            async fn a(&self, n: u8) -> R {
                Ok(())
            }
        ));
        assert_eq!(verdict, Verdict::PassThrough);
        assert_eq!(
            errors,
            ["an activity cannot take `self`: make it a free function, outside the `impl` block"]
        );
    }

    #[test]
    fn the_activity_context_must_come_first() {
        let (verdict, errors) = activity(syn::parse_quote!(
            async fn a(n: u8, ctx: ActivityContext) -> R {
                Ok(())
            }
        ));
        assert_eq!(verdict, Verdict::StructOnly);
        assert_eq!(errors, ["the `ActivityContext` parameter must come first"]);
    }

    #[test]
    fn a_workflow_needs_its_context_first() {
        let (verdict, errors) = workflow(syn::parse_quote!(
            async fn w(n: u8) -> R {
                Ok(())
            }
        ));
        assert_eq!(verdict, Verdict::StructOnly);
        assert_eq!(
            errors,
            ["a workflow takes `ctx: WorkflowContext` as its first parameter"]
        );

        let (_, errors) = workflow(syn::parse_quote!(
            async fn w() -> R {
                Ok(())
            }
        ));
        assert_eq!(
            errors,
            ["a workflow takes `ctx: WorkflowContext` as its first parameter"]
        );

        let (_, errors) = workflow(syn::parse_quote!(
            async fn w(n: u8, ctx: WorkflowContext) -> R {
                Ok(())
            }
        ));
        assert_eq!(
            errors,
            [
                "a workflow takes `ctx: WorkflowContext` as its first parameter",
                "the `WorkflowContext` parameter must come first",
            ]
        );

        let (_, errors) = workflow(syn::parse_quote!(
            async fn w(ctx: &WorkflowContext) -> R {
                Ok(())
            }
        ));
        assert_eq!(
            errors,
            ["take the context by value: `ctx: WorkflowContext`"]
        );
    }

    #[test]
    fn contexts_of_the_other_kind_are_explained() {
        let (_, errors) = workflow(syn::parse_quote!(
            async fn w(ctx: ActivityContext) -> R {
                Ok(())
            }
        ));
        assert_eq!(
            errors,
            ["a workflow takes `ctx: WorkflowContext` as its first parameter, not an `ActivityContext`"]
        );
        let (_, errors) = activity(syn::parse_quote!(
            async fn a(ctx: WorkflowContext) -> R {
                Ok(())
            }
        ));
        assert_eq!(
            errors,
            ["an activity takes an `ActivityContext`, not a `WorkflowContext`: to call activities, make this function a `#[workflow]`"]
        );
    }

    #[test]
    fn a_missing_return_type_is_rejected() {
        let (verdict, errors) = activity(syn::parse_quote!(
            async fn a(n: u8) {}
        ));
        assert_eq!(verdict, Verdict::StructOnly);
        assert_eq!(
            errors,
            ["an activity must return `Result<T, ActivityError>`: add a return type such as `-> Result<(), ActivityError>`"]
        );
        let (_, errors) = activity(syn::parse_quote!(
            async fn a() -> impl Sized {}
        ));
        assert_eq!(
            errors,
            ["an activity must return `Result<T, ActivityError>`, not `impl Trait`"]
        );
    }

    #[test]
    fn impl_trait_and_borrowed_parameters_are_rejected() {
        let (verdict, errors) = activity(syn::parse_quote!(
            async fn a(x: impl Into<String>) -> R {
                Ok(())
            }
        ));
        assert_eq!(verdict, Verdict::StructOnly);
        assert_eq!(
            errors,
            ["an activity cannot take `impl Trait` parameters: use a concrete type"]
        );

        let (_, errors) = activity(syn::parse_quote!(
            async fn a(x: Vec<&str>) -> R {
                Ok(())
            }
        ));
        assert_eq!(
            errors,
            ["an activity's parameters are stored in its history and must be owned: use an owned type such as `String` or `Vec<T>`"]
        );
    }

    #[test]
    fn resources_are_exempt_from_payload_rules() {
        for item in [
            syn::parse_quote!(
                async fn a(db: Resource<Pool>) -> R {
                    Ok(())
                }
            ),
            syn::parse_quote!(
                fn a(ctx: ActivityContext, n: u8, db: reprise::Resource<Pool>, s: String) -> R {
                    Ok(())
                }
            ),
            syn::parse_quote!(
                async fn a(names: Resource<&'static str>, _: Resource<Vec<Rc<u8>>>) -> R {
                    Ok(())
                }
            ),
        ] {
            assert_eq!(activity(item), (Verdict::Usable, vec![]));
        }
    }

    #[test]
    fn malformed_resources_are_explained() {
        let (verdict, errors) = activity(syn::parse_quote!(
            async fn a(db: Resource, http: Resource<A, B>, n: u8) -> R {
                Ok(())
            }
        ));
        assert_eq!(verdict, Verdict::StructOnly);
        assert_eq!(
            errors,
            ["`Resource` takes the resource's type: `Resource<Pool>`"; 2]
        );

        let (verdict, errors) = activity(syn::parse_quote!(
            async fn a(db: &Resource<Pool>, http: &mut Resource<Client>) -> R {
                Ok(())
            }
        ));
        assert_eq!(verdict, Verdict::StructOnly);
        assert_eq!(
            errors,
            ["take the `Resource` by value, without `&`: it is a cheap shared handle"; 2]
        );

        let (_, errors) = activity(syn::parse_quote!(
            async fn a(db: Resource<impl Pool>) -> R {
                Ok(())
            }
        ));
        assert_eq!(
            errors,
            ["an activity cannot take `impl Trait` parameters: use a concrete type"]
        );

        let (verdict, errors) = workflow(syn::parse_quote!(
            async fn w(ctx: WorkflowContext, db: Resource<Pool>, c: &Resource<Client>) -> R {
                Ok(())
            }
        ));
        assert_eq!(verdict, Verdict::StructOnly);
        assert_eq!(
            errors,
            ["a workflow cannot take a `Resource`: workflows must be deterministic; take resources in activities"; 2]
        );
    }

    #[test]
    fn every_violation_is_reported() {
        let (_, errors) = workflow(syn::parse_quote!(
            fn w<T>(&self, x: impl Sized) {}
        ));
        assert_eq!(errors.len(), 6, "{errors:?}");
    }
}
