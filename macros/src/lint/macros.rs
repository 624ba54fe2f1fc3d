//! Macro invocations, whose tokens syn leaves unparsed: recognise the
//! forbidden ones and dig the expressions out of the well-known ones so that
//! `println!("{:?}", SystemTime::now())` is linted too.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::{token, Block, Expr, ExprBlock, Ident, Pat, Token};

/// What the lint does with a macro, by the last segment of its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MacroKind {
    /// `select!` (tokio or futures): needs `biased;`; branches are linted.
    Select,
    /// `select_biased!`: branches are linted.
    SelectBiased,
    /// `thread_local!`: forbidden.
    ThreadLocal,
    /// `json!`: values are linted.
    Json,
    /// Comma-separated expressions, maybe with a format string and
    /// `key = value` / `%x` / `?x` fields: each expression is linted.
    ExprList,
    /// Anything else (`env!`, `option_env!`, the user's own macros): skipped.
    Opaque,
}

pub(super) fn kind(name: &str) -> MacroKind {
    match name {
        "select" => MacroKind::Select,
        "select_biased" => MacroKind::SelectBiased,
        "thread_local" => MacroKind::ThreadLocal,
        "json" => MacroKind::Json,
        "print" | "println" | "eprint" | "eprintln" | "format" | "format_args" | "write"
        | "writeln" | "panic" | "assert" | "assert_eq" | "assert_ne" | "debug_assert"
        | "debug_assert_eq" | "debug_assert_ne" | "unreachable" | "todo" | "unimplemented"
        | "dbg" | "vec" | "matches" | "trace" | "debug" | "info" | "warn" | "error" | "event"
        | "span" | "trace_span" | "debug_span" | "info_span" | "warn_span" | "error_span"
        | "join" | "try_join" | "pin" | "ready" | "anyhow" | "bail" | "ensure" => {
            MacroKind::ExprList
        }
        _ => MacroKind::Opaque,
    }
}

/// The expressions read inside a macro named `name` (the last segment of
/// its path): a `select!`'s futures, guards and handlers, a `json!`'s
/// values, the arguments of format, logging and `join!`-like macros; none
/// for other macros.
pub(crate) fn inner_exprs(name: &str, tokens: &TokenStream) -> Vec<Expr> {
    match kind(name) {
        MacroKind::Select | MacroKind::SelectBiased => {
            select_exprs(tokens.clone()).unwrap_or_default()
        }
        MacroKind::Json => json_exprs(tokens.clone()),
        MacroKind::ExprList => expr_list(tokens.clone()),
        MacroKind::ThreadLocal | MacroKind::Opaque => Vec::new(),
    }
}

/// Whether a `select!` body opens with `biased;`.
pub(super) fn starts_biased(tokens: &TokenStream) -> bool {
    let mut iter = tokens.clone().into_iter();
    matches!(
        (iter.next(), iter.next()),
        (Some(TokenTree::Ident(ident)), Some(TokenTree::Punct(semi)))
            if ident == "biased" && semi.as_char() == ';'
    )
}

/// The futures, guards and handlers of a `select!` / `select_biased!`
/// (`pattern = future, if guard => handler`). `None` when the body does not
/// have that shape.
pub(super) fn select_exprs(tokens: TokenStream) -> Option<Vec<Expr>> {
    Parser::parse2(select_branches, tokens).ok()
}

fn select_branches(input: ParseStream<'_>) -> syn::Result<Vec<Expr>> {
    let mut exprs = Vec::new();
    if input.peek(Ident) && input.peek2(Token![;]) {
        input.parse::<Ident>()?;
        input.parse::<Token![;]>()?;
    }
    while !input.is_empty() {
        if input.peek(Token![else]) && input.peek2(Token![=>]) {
            input.parse::<Token![else]>()?;
        } else if input.peek(Ident) && input.peek2(Token![=>]) {
            // futures' `default =>` and `complete =>`.
            input.parse::<Ident>()?;
        } else {
            Pat::parse_multi_with_leading_vert(input)?;
            input.parse::<Token![=]>()?;
            exprs.push(input.parse()?);
            if input.peek(Token![,]) && input.peek2(Token![if]) {
                input.parse::<Token![,]>()?;
                input.parse::<Token![if]>()?;
                exprs.push(input.parse()?);
            }
        }
        input.parse::<Token![=>]>()?;
        if input.peek(token::Brace) {
            let block: Block = input.parse()?;
            exprs.push(Expr::Block(ExprBlock {
                attrs: Vec::new(),
                label: None,
                block,
            }));
        } else {
            exprs.push(input.parse()?);
        }
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(exprs)
}

/// The expressions among a macro's comma- (or semicolon-) separated
/// arguments. Pieces that do not parse as expressions are skipped.
pub(super) fn expr_list(tokens: TokenStream) -> Vec<Expr> {
    split(tokens, &[',', ';'])
        .into_iter()
        .filter_map(|piece| parse_expr(strip_field_syntax(&piece)))
        .collect()
}

/// Drops what precedes a value in format and tracing macros: `target:`,
/// `parent:`, `name:`, `field.name =`, `"field" =`, and `%` / `?`.
fn strip_field_syntax(mut tokens: &[TokenTree]) -> &[TokenTree] {
    if let [TokenTree::Ident(_), TokenTree::Punct(colon), rest @ ..] = tokens {
        if colon.as_char() == ':' && colon.spacing() == Spacing::Alone {
            tokens = rest;
        }
    }
    if let Some(eq) = field_assignment(tokens) {
        tokens = &tokens[eq + 1..];
    }
    if let [TokenTree::Punct(sigil), rest @ ..] = tokens {
        if matches!(sigil.as_char(), '%' | '?') {
            tokens = rest;
        }
    }
    tokens
}

/// The index of the `=` of a leading `name =`, `a.b.c =` or `"name" =`.
fn field_assignment(tokens: &[TokenTree]) -> Option<usize> {
    for (i, tt) in tokens.iter().enumerate() {
        match tt {
            TokenTree::Ident(_) | TokenTree::Literal(_) => {}
            TokenTree::Punct(p) if p.as_char() == '.' => {}
            TokenTree::Punct(p) if p.as_char() == '=' && p.spacing() == Spacing::Alone && i > 0 => {
                return Some(i);
            }
            _ => return None,
        }
    }
    None
}

/// The values of a `json!` literal (keys are skipped).
pub(super) fn json_exprs(tokens: TokenStream) -> Vec<Expr> {
    let mut exprs = Vec::new();
    json_value(&tokens.into_iter().collect::<Vec<_>>(), &mut exprs);
    exprs
}

fn json_value(tokens: &[TokenTree], out: &mut Vec<Expr>) {
    match tokens {
        [] => {}
        [TokenTree::Group(group)] if group.delimiter() == Delimiter::Brace => {
            for entry in split(group.stream(), &[',']) {
                if let Some(colon) = key_colon(&entry) {
                    json_value(&entry[colon + 1..], out);
                }
            }
        }
        [TokenTree::Group(group)] if group.delimiter() == Delimiter::Bracket => {
            for item in split(group.stream(), &[',']) {
                json_value(&item, out);
            }
        }
        _ => out.extend(parse_expr(tokens)),
    }
}

/// The `:` between a `json!` key and its value: not half of a `::`.
fn key_colon(tokens: &[TokenTree]) -> Option<usize> {
    let mut after_joint_colon = false;
    for (i, tt) in tokens.iter().enumerate() {
        if let TokenTree::Punct(p) = tt {
            if p.as_char() == ':' {
                if p.spacing() == Spacing::Alone && !after_joint_colon {
                    return Some(i);
                }
                after_joint_colon = p.spacing() == Spacing::Joint;
                continue;
            }
        }
        after_joint_colon = false;
    }
    None
}

fn parse_expr(tokens: &[TokenTree]) -> Option<Expr> {
    if tokens.is_empty() {
        return None;
    }
    syn::parse2(tokens.iter().cloned().collect()).ok()
}

/// Splits a token stream at top-level separators (groups are single trees,
/// so separators inside brackets are never split on).
fn split(tokens: TokenStream, separators: &[char]) -> Vec<Vec<TokenTree>> {
    let mut pieces = vec![Vec::new()];
    for tt in tokens {
        match &tt {
            TokenTree::Punct(p)
                if separators.contains(&p.as_char()) && p.spacing() == Spacing::Alone =>
            {
                pieces.push(Vec::new());
            }
            _ => pieces.last_mut().expect("never empty").push(tt),
        }
    }
    pieces.retain(|piece| !piece.is_empty());
    pieces
}
