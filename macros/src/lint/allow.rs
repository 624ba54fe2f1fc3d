//! The escape hatch: `#[reprise::allow(nondeterminism, reason = "...")]`.
//!
//! Recognised on a path `reprise::allow`, or on any path ending in `::allow`
//! whose first argument is `nondeterminism` (for users who renamed the
//! crate). A bare `#[allow(..)]` is rustc's and is left alone.

use syn::parse::{ParseStream, Parser};
use syn::{Attribute, Ident, LitStr, Meta, Token};

const LINT: &str = "nondeterminism";

/// Removes the escape-hatch attributes from `attrs`, pushing an error for
/// each malformed one. Returns whether the code they sit on is exempt.
///
/// An attribute naming `nondeterminism` exempts the code even when its
/// `reason` is missing: the missing reason is then the only error.
pub(super) fn take(attrs: &mut Vec<Attribute>, errors: &mut Vec<syn::Error>) -> bool {
    let mut exempt = false;
    attrs.retain(|attr| match inspect(attr) {
        Verdict::NotOurs => true,
        Verdict::Ours { exempts, error } => {
            exempt |= exempts;
            errors.extend(error);
            false
        }
    });
    exempt
}

enum Verdict {
    NotOurs,
    Ours {
        exempts: bool,
        error: Option<syn::Error>,
    },
}

fn inspect(attr: &Attribute) -> Verdict {
    let path = attr.path();
    let n = path.segments.len();
    if n < 2 || path.segments[n - 1].ident != "allow" {
        return Verdict::NotOurs;
    }
    let is_reprise = n == 2 && path.segments[0].ident == "reprise";
    let usage = "`#[reprise::allow(nondeterminism, reason = \"...\")]`";
    let list = match &attr.meta {
        Meta::List(list) => list,
        Meta::Path(_) | Meta::NameValue(_) if is_reprise => {
            return Verdict::Ours {
                exempts: false,
                error: Some(syn::Error::new_spanned(
                    &attr.meta,
                    format!("`reprise::allow` needs a lint name and a reason: {usage}"),
                )),
            };
        }
        _ => return Verdict::NotOurs,
    };
    let lint = match list.parse_args_with(|input: ParseStream<'_>| {
        let lint: Ident = input.parse()?;
        let _rest: proc_macro2::TokenStream = input.parse()?;
        Ok(lint)
    }) {
        Ok(lint) => lint,
        Err(err) if is_reprise => {
            return Verdict::Ours {
                exempts: false,
                error: Some(syn::Error::new(
                    err.span(),
                    format!("expected a lint name: {usage}"),
                )),
            };
        }
        Err(_) => return Verdict::NotOurs,
    };
    if lint != LINT {
        if !is_reprise {
            return Verdict::NotOurs;
        }
        return Verdict::Ours {
            exempts: false,
            error: Some(syn::Error::new_spanned(
                &lint,
                format!("unknown lint `{lint}`: `reprise::allow` only knows `{LINT}`"),
            )),
        };
    }
    let error = match Parser::parse2(parse_reason, list.tokens.clone()) {
        Ok(Some(reason)) if reason.value().trim().is_empty() => Some(syn::Error::new_spanned(
            &reason,
            "the `reason` of `reprise::allow(nondeterminism)` must not be empty: say why this code is deterministic",
        )),
        Ok(Some(_)) => None,
        Ok(None) => Some(syn::Error::new_spanned(
            &attr.meta,
            "`reprise::allow(nondeterminism)` needs a `reason = \"...\"`",
        )),
        Err(err) => Some(err),
    };
    Verdict::Ours {
        exempts: true,
        error,
    }
}

/// Parses `nondeterminism, reason = "..."` and returns the reason.
fn parse_reason(input: ParseStream<'_>) -> syn::Result<Option<LitStr>> {
    let _lint: Ident = input.parse()?;
    let mut reason: Option<LitStr> = None;
    while !input.is_empty() {
        input.parse::<Token![,]>()?;
        if input.is_empty() {
            break;
        }
        let key: Ident = input.parse()?;
        if key != "reason" {
            return Err(syn::Error::new_spanned(
                &key,
                format!("unknown argument `{key}` of `reprise::allow`: expected `reason`"),
            ));
        }
        input.parse::<Token![=]>()?;
        let value: LitStr = input.parse()?;
        if reason.is_some() {
            return Err(syn::Error::new_spanned(&key, "duplicate `reason`"));
        }
        reason = Some(value);
    }
    Ok(reason)
}
