//! `#[derive(Signal)]`: names a type as a signal a workflow can receive.

use heck::ToSnakeCase;
use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Ident, LitStr};

use crate::attr::Options;
use crate::errors::Errors;

/// `#[derive(Signal)] item`.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let mut errors = Errors::default();
    let options = Options::from_signal_attrs(&input.attrs, &mut errors);
    let mut usable = true;
    if let Data::Union(data) = &input.data {
        errors.push(syn::Error::new_spanned(
            data.union_token,
            "a signal must be a struct or an enum",
        ));
        usable = false;
    }
    if !input.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &input.generics,
            "a signal type cannot be generic: its name is stored in the history, so use a concrete type",
        ));
        usable = false;
    }
    let mut tokens = TokenStream::new();
    if usable {
        let ident = &input.ident;
        let krate = options.krate();
        let name = options
            .name
            .unwrap_or_else(|| LitStr::new(&default_name(ident), ident.span()));
        tokens.extend(quote! {
            const _: () = {
                #[automatically_derived]
                impl #krate::__private::Signal for #ident {
                    const NAME: &'static str = #name;
                }
            };
        });
    }
    tokens.extend(errors.to_compile_errors());
    tokens
}

/// The name of a signal type without `#[signal(name = "...")]`: its
/// snake_case (`HTTPDone` → `http_done`).
pub(crate) fn default_name(ident: &Ident) -> String {
    ident.unraw().to_string().to_snake_case()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::format_ident;

    #[test]
    fn default_names_are_snake_case() {
        for (ty, name) in [
            ("StopStreaming", "stop_streaming"),
            ("HTTPDone", "http_done"),
            ("Stop", "stop"),
            ("Window2Closed", "window2_closed"),
        ] {
            assert_eq!(default_name(&format_ident!("{}", ty)), name);
        }
        assert_eq!(default_name(&syn::parse_quote!(r#Match)), "match");
    }

    #[test]
    fn expands_to_a_named_impl() {
        let out = derive(quote!(
            struct StopStreaming;
        ))
        .to_string();
        assert_eq!(
            out,
            quote! {
                const _: () = {
                    #[automatically_derived]
                    impl ::reprise::__private::Signal for StopStreaming {
                        const NAME: &'static str = "stop_streaming";
                    }
                };
            }
            .to_string()
        );
    }

    #[test]
    fn explicit_name_and_crate() {
        let out = derive(quote! {
            #[signal(name = "stop", crate = "my_reprise")]
            enum Command { Stop, Go }
        })
        .to_string();
        assert!(
            out.contains(&quote!(impl my_reprise::__private::Signal for Command).to_string()),
            "{out}"
        );
        assert!(out.contains("\"stop\""), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn generic_types_are_rejected_without_an_impl() {
        let out = derive(quote!(
            struct Wrapper<T>(T);
        ))
        .to_string();
        assert!(!out.contains("impl"), "{out}");
        assert!(out.contains("a signal type cannot be generic"), "{out}");
    }

    #[test]
    fn bad_attributes_are_errors_next_to_the_impl() {
        let out = derive(quote! {
            #[signal(nme = "x")]
            struct Stop;
        })
        .to_string();
        assert!(out.contains("impl"), "{out}");
        assert!(out.contains("did you mean `name`?"), "{out}");
    }
}
