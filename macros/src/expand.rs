//! The expansion of `#[activity]` and `#[workflow]`.
//!
//! ```text
//! #[doc = ...]                         // the function's docs
//! VIS struct NAME;                     // the unit value users pass around
//! const _: () = {
//!     // several parameters only: each type checked at its own span
//!     fn __reprise_check_input_0() { CRATE::__private::assert_payload::<T1>(); }
//!     impl CRATE::__private::Activity for NAME {
//!         const NAME: &'static str = "...";
//!         type Input = (T1, T2,);      // parentheses at the parameter list's span
//!         type Output = <RET as CRATE::__private::ActivityReturn>::Ok;
//!         fn options(&self) -> ActivityOptions { ... }        // activities only
//!         fn signals(&self) -> Option<Vec<SignalSpec>> { ... } // workflows only
//!         fn resources(&self) -> Vec<ResourceNeed> { ... }    // with `Resource<T>`s only
//!         fn run(self, __reprise_ctx, __reprise_input) -> BoxFuture<...> {
//!             async fn __reprise_body(USER PARAMS) -> RET { USER BODY }
//!             let (__reprise_arg0, __reprise_arg1,) = __reprise_input;
//!             Box::pin(__reprise_body(__reprise_ctx, __reprise_arg0, __reprise_arg1))
//!         }
//!     }
//! };
//! ```
//!
//! An activity with `Resource<T>` parameters, or a synchronous one (a plain
//! `fn`, kept as a plain `fn __reprise_body`), gets its resources first, in
//! an `async move` block, and a synchronous body runs on the blocking pool:
//!
//! ```text
//! Box::pin(async move {
//!     let __reprise_res0 = match resource::<T>(&__reprise_ctx) { Ok(r) => r, Err(e) => return Err(e) };
//!     blocking(move || __reprise_body(__reprise_ctx, __reprise_res0, __reprise_arg0)).await
//!     // async: __reprise_body(__reprise_ctx, __reprise_res0, __reprise_arg0).await
//! })
//! ```
//!
//! `type Output`, the signature of `run`, the braces of its body and the
//! `Box::pin` call are spanned at `RET`: a wrong return type, or a body whose
//! future is not `Send`, is reported on the user's return type. The `T` of a
//! resource keeps its span, where a `T` that is not `Send + Sync + 'static`
//! is reported.
//!
//! Errors never stop the expansion: the unit struct is always emitted next to
//! them, with its impl whenever the signature allows, so uses of the value
//! elsewhere add no "cannot find value" noise.

use proc_macro2::{Delimiter, Group, Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Item, ItemFn, LitStr, Path, Type};

use crate::ast::{resource_type, Function, Kind, Role};
use crate::attr::{Millis, Options, Scope};
use crate::errors::Errors;
use crate::received::{self, Received};
use crate::respan::respan;
use crate::validate::{self, Verdict};

/// `#[activity(args)] item`.
pub(crate) fn activity(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Activity, args, item)
}

/// `#[workflow(args)] item`.
pub(crate) fn workflow(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Workflow, args, item)
}

fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let scope = match kind {
        Kind::Activity => Scope::Activity,
        Kind::Workflow => Scope::Workflow,
    };
    let options = Options::from_args(scope, args, &mut errors);
    let item = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(item)) => item,
        Ok(_) => {
            let message = match kind {
                Kind::Activity => {
                    "`#[activity]` applies to a function: an `async fn`, or a `fn` for blocking work"
                }
                Kind::Workflow => "`#[workflow]` applies to an `async fn`",
            };
            errors.push(syn::Error::new(Span::call_site(), message));
            return with_errors(item, &errors);
        }
        Err(error) => {
            errors.push(error);
            return with_errors(item, &errors);
        }
    };

    let mut func = Function::new(kind, item);
    let verdict = validate::signature(&func, &mut errors);
    if kind == Kind::Workflow {
        errors.extend(crate::lint::check(&mut func.block));
    }
    let tokens = match (verdict, func.output().cloned()) {
        (Verdict::PassThrough, _) => pass_through(func),
        (Verdict::Usable, Some(output)) => {
            let krate = options.krate();
            let mut signals = Vec::new();
            if kind == Kind::Workflow {
                let declared = options.signals.as_deref().unwrap_or_default();
                signals = received::collect(&func.block, declared, &mut errors);
                let input = func.input_type();
                crate::rewrite::continue_as_new(&mut func.block, &krate, &input);
            }
            let mut tokens = unit_struct(&func);
            tokens.extend(implementation(&func, &options, &krate, &output, &signals));
            tokens
        }
        (Verdict::Usable | Verdict::StructOnly, _) => unit_struct(&func),
    };
    with_errors(tokens, &errors)
}

fn with_errors(mut tokens: TokenStream, errors: &Errors) -> TokenStream {
    tokens.extend(errors.to_compile_errors());
    tokens
}

/// The function as written (a method taking `self`, which rustc reports
/// nothing about once the attribute's error is shown).
fn pass_through(func: Function) -> TokenStream {
    let Function {
        docs,
        attrs,
        vis,
        sig,
        block,
        ..
    } = func;
    ItemFn {
        attrs: docs.into_iter().chain(attrs).collect(),
        vis,
        sig,
        block,
    }
    .into_token_stream()
}

fn unit_struct(func: &Function) -> TokenStream {
    let Function { docs, vis, sig, .. } = func;
    let ident = &sig.ident;
    quote! {
        #(#docs)*
        #[allow(non_camel_case_types)]
        #[derive(
            ::core::clone::Clone,
            ::core::marker::Copy,
            ::core::fmt::Debug,
            ::core::default::Default,
        )]
        #vis struct #ident;
    }
}

fn implementation(
    func: &Function,
    options: &Options,
    krate: &Path,
    output: &Type,
    signals: &[Received],
) -> TokenStream {
    let p = quote!(#krate::__private);
    let [trait_, context, error, return_trait] = func.kind.idents();
    let ident = &func.sig.ident;
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| LitStr::new(&func.default_name(), ident.span()));
    let input = input_type(func);
    let checks = input_checks(func, &p);
    // `type Output`, the `run` signature and the braces of its body are
    // spanned at the return type: a wrong one is reported there, once.
    let span = output.span();
    let output_type = quote!(<#output as #p::#return_trait>::Ok);
    let output_item = respan(quote!(type Output = #output_type;), span);
    let run_signature = respan(
        quote! {
            fn run(
                self,
                __reprise_ctx: #p::#context,
                __reprise_input: <Self as #p::#trait_>::Input,
            ) -> #p::BoxFuture<'static, #p::Result<#output_type, #p::#error>>
        },
        span,
    );
    let kind_fn = match func.kind {
        Kind::Activity => activity_options(options, &p),
        Kind::Workflow => signals_fn(signals, &p),
    };
    let resources_fn = resources_fn(func, &p);
    let run_body = run_body(func, &p, output);
    let mut run_block = Group::new(Delimiter::Brace, run_body);
    run_block.set_span(span);
    let items = quote! {
        const NAME: &'static str = #name;
        type Input = #input;
        #output_item

        #kind_fn
        #resources_fn

        #run_signature #run_block
    };
    quote! {
        const _: () = {
            #checks

            #[automatically_derived]
            impl #p::#trait_ for #ident {
                #items
            }
        };
    }
}

/// `Activity::Input`. A tuple's parentheses take the span of the parameter
/// list, so that the trait's `Serialize + DeserializeOwned` bounds are
/// reported on the parameters rather than on the attribute.
fn input_type(func: &Function) -> Type {
    let mut ty = func.input_type();
    if let Type::Tuple(tuple) = &mut ty {
        tuple.paren_token = syn::token::Paren(func.sig.paren_token.span.join());
    }
    ty
}

/// For several parameters, one hidden function per parameter that fails to
/// compile, at the parameter's type, unless the type can be stored (a single
/// parameter's type is the input type itself, checked at its span already).
fn input_checks(func: &Function, p: &TokenStream) -> TokenStream {
    let inputs = func.inputs();
    if inputs.len() < 2 {
        return TokenStream::new();
    }
    inputs
        .iter()
        .enumerate()
        .map(|(i, param)| {
            let ty = &param.ty;
            let check = format_ident!("__reprise_check_input_{}", i);
            quote_spanned! {ty.span()=>
                #[allow(dead_code)]
                fn #check() {
                    #p::assert_payload::<#ty>();
                }
            }
        })
        .collect()
}

/// `fn signals` of a workflow: the signal types it receives, each at the
/// span of the user's type, where one that is not a `Signal` is reported.
fn signals_fn(signals: &[Received], p: &TokenStream) -> TokenStream {
    let list = if signals.is_empty() {
        quote!(#p::Vec::new())
    } else {
        let specs = signals.iter().map(|signal| signal.spec(p));
        quote!(#p::Vec::from([#(#specs),*]))
    };
    quote! {
        fn signals(&self) -> #p::Option<#p::Vec<#p::SignalSpec>> {
            #p::Option::Some(#list)
        }
    }
}

/// `fn resources` of an activity with `Resource<T>` parameters: the `T`s,
/// each at its span.
fn resources_fn(func: &Function, p: &TokenStream) -> TokenStream {
    let types: Vec<&Type> = func
        .resources()
        .into_iter()
        .filter_map(|param| resource_type(&param.ty))
        .collect();
    if types.is_empty() {
        return TokenStream::new();
    }
    let needs = types
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> #p::ResourceNeed::of::<#ty>()));
    quote! {
        fn resources(&self) -> #p::Vec<#p::ResourceNeed> {
            #p::Vec::from([#(#needs),*])
        }
    }
}

/// The body of `run`: the user's function, renamed and nested, called with
/// the context, the resources and the unpacked input in the user's order.
fn run_body(func: &Function, p: &TokenStream, output: &Type) -> TokenStream {
    let sync = func.is_sync_activity();
    let mut sig = func.sig.clone();
    sig.ident = format_ident!("__reprise_body");
    // Reported already when wrong; fixed here so nothing else fails.
    if !sync {
        sig.asyncness = Some(syn::Token![async](sig.fn_token.span));
    }
    sig.constness = None;
    sig.unsafety = None;
    sig.abi = None;
    let attrs = &func.attrs;
    let block = &func.block;
    // What the macro asks for: `async`, or for a synchronous body owned
    // parameters and a `Result`, which clippy would flag in a plain `fn`.
    let allow = if sync {
        quote!(#[allow(clippy::needless_pass_by_value, clippy::unnecessary_wraps)])
    } else {
        quote!(#[allow(clippy::unused_async)])
    };

    let args: Vec<_> = (0..func.inputs().len())
        .map(|i| format_ident!("__reprise_arg{}", i))
        .collect();
    let bind = match args.as_slice() {
        [] => quote!(let () = __reprise_input;),
        [one] => quote!(let #one = __reprise_input;),
        several => quote!(let (#(#several,)*) = __reprise_input;),
    };

    // The body's arguments in the user's order, and the resources to get.
    let mut call_args = Vec::new();
    let mut fetches = Vec::new();
    let mut inputs = args.iter();
    for (role, param) in func.roles() {
        match role {
            Role::Context => call_args.push(quote!(__reprise_ctx)),
            Role::Input => {
                let arg = inputs.next().expect("one argument per input");
                call_args.push(quote!(#arg));
            }
            Role::Resource => {
                let ty = resource_type(&param.ty).expect("validated: `Resource<T>`");
                let res = format_ident!("__reprise_res{}", fetches.len());
                let get = quote_spanned!(ty.span()=> #p::resource::<#ty>(&__reprise_ctx));
                fetches.push(quote! {
                    let #res = match #get {
                        #p::Result::Ok(resource) => resource,
                        #p::Result::Err(error) => return #p::Result::Err(error),
                    };
                });
                call_args.push(quote!(#res));
            }
        }
    }

    // At the return type: where a wrong one, or a future that is not
    // `Send`, is reported.
    let span = output.span();
    let call = if !sync && fetches.is_empty() {
        respan(quote!(#p::Box::pin(__reprise_body(#(#call_args),*))), span)
    } else {
        let run = if sync {
            let body = if call_args.is_empty() {
                quote!(__reprise_body)
            } else {
                quote!(move || __reprise_body(#(#call_args),*))
            };
            respan(quote!(#p::blocking(#body).await), span)
        } else {
            respan(quote!(__reprise_body(#(#call_args),*).await), span)
        };
        let mut block = Group::new(Delimiter::Brace, quote!(#(#fetches)* #run));
        block.set_span(span);
        let async_move = respan(quote!(async move), span);
        let mut pinned = Group::new(Delimiter::Parenthesis, quote!(#async_move #block));
        pinned.set_span(span);
        let pin = respan(quote!(#p::Box::pin), span);
        quote!(#pin #pinned)
    };
    quote! {
        #(#attrs)*
        #allow
        #sig #block

        #bind
        #call
    }
}

fn activity_options(options: &Options, p: &TokenStream) -> TokenStream {
    let millis = |m: &Millis| {
        let value = Literal::u64_suffixed(m.millis);
        quote_spanned!(m.lit.span()=> #p::Duration::from_millis(#value))
    };
    let optional = |m: &Option<Millis>| match m {
        Some(m) => {
            let duration = millis(m);
            quote!(#p::Option::Some(#duration))
        }
        None => quote!(#p::Option::None),
    };
    let start_to_close = optional(&options.start_to_close);
    let schedule_to_close = optional(&options.schedule_to_close);
    let heartbeat_timeout = optional(&options.heartbeat_timeout);
    let max_concurrent = match &options.max_concurrent {
        Some(count) => {
            let value = Literal::u32_suffixed(count.value);
            quote_spanned!(count.span=> #p::Option::Some(#value))
        }
        None => quote!(#p::Option::None),
    };
    let rate = match &options.rate {
        Some(rate) => {
            let count = Literal::u32_suffixed(rate.count);
            let per = Literal::u64_suffixed(rate.per_millis);
            quote_spanned! {rate.lit.span()=>
                #p::Option::Some(#p::Rate {
                    count: #count,
                    per: #p::Duration::from_millis(#per),
                })
            }
        }
        None => quote!(#p::Option::None),
    };
    let retry = match &options.retry {
        None => quote!(<#p::RetryPolicy as ::core::default::Default>::default()),
        Some(retry) => {
            let mut fields = Vec::new();
            if let Some(initial) = &retry.initial_interval {
                let duration = millis(initial);
                fields.push(quote!(initial_interval: #duration));
            }
            if let Some(coefficient) = retry.backoff_coefficient {
                let coefficient = Literal::f64_suffixed(coefficient);
                fields.push(quote!(backoff_coefficient: #coefficient));
            }
            if retry.max_interval.is_some() {
                let max = optional(&retry.max_interval);
                fields.push(quote!(max_interval: #max));
            }
            if let Some(max) = retry.max_attempts {
                let max = Literal::u32_suffixed(max);
                fields.push(quote!(max_attempts: #p::Option::Some(#max)));
            }
            if let Some(kinds) = &retry.non_retryable {
                let kinds = if kinds.is_empty() {
                    quote!(#p::Vec::new())
                } else {
                    quote!(#p::Vec::from([#(#p::String::from(#kinds)),*]))
                };
                fields.push(quote!(non_retryable_error_types: #kinds));
            }
            // All five given: a struct update would be needless.
            let rest = (fields.len() < 5).then(|| quote!(..::core::default::Default::default()));
            quote! {
                #p::RetryPolicy {
                    #(#fields,)*
                    #rest
                }
            }
        }
    };
    quote! {
        fn options(&self) -> #p::ActivityOptions {
            #p::ActivityOptions {
                start_to_close: #start_to_close,
                schedule_to_close: #schedule_to_close,
                heartbeat_timeout: #heartbeat_timeout,
                retry: #retry,
                max_concurrent: #max_concurrent,
                rate: #rate,
                limit_key: #p::Option::None,
            }
        }
    }
}

#[cfg(test)]
mod tests;
