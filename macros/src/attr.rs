//! The options of `#[activity(..)]`, `#[workflow(..)]` and `#[signal(..)]`.
//!
//! Every keyword is declared once, in [`Key`]; the three macros accept a
//! subset each ([`Scope`]). Values are checked here, while expanding:
//! durations are parsed with `humantime` and kept as whole milliseconds, so a
//! bad one (`"5 parsecs"`) fails under its literal, and the expansion splices
//! plain integers. Rates (`"20/s"`) are checked the same way.

use std::fmt;

use proc_macro2::Span;
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{token, Attribute, Expr, ExprLit, Ident, Lit, LitInt, LitStr, Meta, Token, Type};

use crate::errors::Errors;

/// `RetryPolicy::default().initial_interval` of the runtime, in milliseconds:
/// a `max_interval` shorter than this needs an explicit `initial_interval`.
const DEFAULT_INITIAL_INTERVAL_MS: u64 = 1_000;

/// An option keyword of one of the macros.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    Name,
    Crate,
    StartToClose,
    ScheduleToClose,
    HeartbeatTimeout,
    Retry,
    MaxConcurrent,
    Rate,
    Signals,
    MaxAttempts,
    InitialInterval,
    MaxInterval,
    BackoffCoefficient,
    NonRetryable,
}

impl Key {
    const ALL: [Key; 14] = [
        Key::Name,
        Key::Crate,
        Key::StartToClose,
        Key::ScheduleToClose,
        Key::HeartbeatTimeout,
        Key::Retry,
        Key::MaxConcurrent,
        Key::Rate,
        Key::Signals,
        Key::MaxAttempts,
        Key::InitialInterval,
        Key::MaxInterval,
        Key::BackoffCoefficient,
        Key::NonRetryable,
    ];

    /// The keyword as written in the attribute.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Key::Name => "name",
            Key::Crate => "crate",
            Key::StartToClose => "start_to_close",
            Key::ScheduleToClose => "schedule_to_close",
            Key::HeartbeatTimeout => "heartbeat_timeout",
            Key::Retry => "retry",
            Key::MaxConcurrent => "max_concurrent",
            Key::Rate => "rate",
            Key::Signals => "signals",
            Key::MaxAttempts => "max_attempts",
            Key::InitialInterval => "initial_interval",
            Key::MaxInterval => "max_interval",
            Key::BackoffCoefficient => "backoff_coefficient",
            Key::NonRetryable => "non_retryable",
        }
    }

    /// A correct use of the option, quoted in error messages.
    fn example(self) -> &'static str {
        match self {
            Key::Name => "name = \"LoadData\"",
            Key::Crate => "crate = \"reprise\"",
            Key::StartToClose => "start_to_close = \"5m\"",
            Key::ScheduleToClose => "schedule_to_close = \"1h\"",
            Key::HeartbeatTimeout => "heartbeat_timeout = \"30s\"",
            Key::Retry => "retry(max_attempts = 5)",
            Key::MaxConcurrent => "max_concurrent = 4",
            Key::Rate => "rate = \"20/s\"",
            Key::Signals => "signals = [StopStreaming]",
            Key::MaxAttempts => "max_attempts = 5",
            Key::InitialInterval => "initial_interval = \"1s\"",
            Key::MaxInterval => "max_interval = \"1m\"",
            Key::BackoffCoefficient => "backoff_coefficient = 2.0",
            Key::NonRetryable => "non_retryable = [\"ValidationError\"]",
        }
    }

    fn lookup(text: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|key| key.as_str() == text)
    }

    /// The key named by `ident`, if `scope` accepts it.
    fn resolve(scope: Scope, ident: &Ident) -> syn::Result<Key> {
        let text = ident.unraw().to_string();
        match Key::lookup(&text) {
            Some(key) if scope.keys().contains(&key) => Ok(key),
            Some(key) => Err(syn::Error::new(ident.span(), misplaced(scope, key))),
            None => Err(syn::Error::new(ident.span(), unknown(scope, &text))),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a list of options is written, which decides the keys it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    Activity,
    Workflow,
    Retry,
    Signal,
}

impl Scope {
    fn keys(self) -> &'static [Key] {
        match self {
            Scope::Activity => &[
                Key::Name,
                Key::Crate,
                Key::StartToClose,
                Key::ScheduleToClose,
                Key::HeartbeatTimeout,
                Key::Retry,
                Key::MaxConcurrent,
                Key::Rate,
            ],
            Scope::Workflow => &[Key::Name, Key::Crate, Key::Signals],
            Scope::Signal => &[Key::Name, Key::Crate],
            Scope::Retry => &[
                Key::MaxAttempts,
                Key::InitialInterval,
                Key::MaxInterval,
                Key::BackoffCoefficient,
                Key::NonRetryable,
            ],
        }
    }

    /// The article before [`describe`](Self::describe): "an `#[activity]`".
    fn article(self) -> &'static str {
        match self {
            Scope::Activity => "an",
            Scope::Workflow | Scope::Retry | Scope::Signal => "a",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Scope::Activity => "`#[activity]`",
            Scope::Workflow => "`#[workflow]`",
            Scope::Retry => "`retry(...)`",
            Scope::Signal => "`#[signal]`",
        }
    }

    /// "`name` and `crate`", "`a`, `b` and `c`".
    fn key_list(self) -> String {
        let keys: Vec<String> = self.keys().iter().map(|k| format!("`{k}`")).collect();
        match keys.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => keys.concat(),
        }
    }
}

fn misplaced(scope: Scope, key: Key) -> String {
    let activity_key = Scope::Activity.keys().contains(&key);
    let retry_key = Scope::Retry.keys().contains(&key);
    match scope {
        Scope::Activity if retry_key => {
            format!(
                "`{key}` is a retry option: write `retry({})`",
                key.example()
            )
        }
        Scope::Workflow | Scope::Signal if activity_key => format!(
            "`{key}` is an activity option; {} takes {}",
            scope.describe(),
            scope.key_list()
        ),
        Scope::Workflow | Scope::Signal if retry_key => format!(
            "`{key}` is an activity retry option; {} takes {}",
            scope.describe(),
            scope.key_list()
        ),
        _ => format!(
            "`{key}` is not {} {} option; it takes {}",
            scope.article(),
            scope.describe(),
            scope.key_list()
        ),
    }
}

fn unknown(scope: Scope, text: &str) -> String {
    let candidates = scope.keys().iter().map(|key| key.as_str());
    let suggestion = match closest(text, candidates) {
        Some(close) => format!(" did you mean `{close}`?"),
        None => String::new(),
    };
    format!(
        "unknown {} option `{text}`;{suggestion} valid options are {}",
        scope.describe(),
        scope.key_list()
    )
}

/// The candidate closest to `typed` by edit distance, if close enough to be
/// what was meant (at most a third of the typed length, as rustc does).
pub(crate) fn closest<'a>(
    typed: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = typed.chars().count().max(3) / 3;
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(typed, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance between `a` and `b`, counted in chars.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            let substitution = diagonal + usize::from(ca != *cb);
            row[j + 1] = substitution.min(above + 1).min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// One `key`, `key = value` or `key(...)` of an option list, before its
/// meaning is checked.
pub(crate) struct OptionItem {
    key: Ident,
    value: Value,
}

enum Value {
    Flag,
    Assign(Expr),
    /// `key = [Wrapper<Stop>]`: a bracketed list that is no expression but
    /// a list of types (generic ones), for `signals`.
    Types(token::Bracket, Punctuated<Type, Token![,]>),
    List(Punctuated<OptionItem, Token![,]>),
}

impl Parse for OptionItem {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // `parse_any` accepts keywords: `crate = "..."`.
        let key = Ident::parse_any(input)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            if input.peek(token::Bracket)
                && input.fork().parse::<Expr>().is_err()
                && bracketed_types(&input.fork()).is_ok()
            {
                let (bracket, types) = bracketed_types(input)?;
                Value::Types(bracket, types)
            } else {
                Value::Assign(input.parse()?)
            }
        } else if input.peek(token::Paren) {
            let content;
            syn::parenthesized!(content in input);
            Value::List(content.parse_terminated(OptionItem::parse, Token![,])?)
        } else {
            Value::Flag
        };
        Ok(OptionItem { key, value })
    }
}

/// `[A, B<C>]`: types between brackets.
fn bracketed_types(
    input: ParseStream<'_>,
) -> syn::Result<(token::Bracket, Punctuated<Type, Token![,]>)> {
    let content;
    let bracket = syn::bracketed!(content in input);
    Ok((bracket, content.parse_terminated(Type::parse, Token![,])?))
}

impl OptionItem {
    fn expected(&self, key: Key, what: &str) -> syn::Error {
        let message = format!("expected {what}: `{}`", key.example());
        match &self.value {
            Value::Assign(expr) => syn::Error::new_spanned(expr, message),
            Value::Types(bracket, _) => syn::Error::new(bracket.span.join(), message),
            Value::Flag | Value::List(_) => syn::Error::new(self.key.span(), message),
        }
    }

    /// The value of `key = value`, literal groups from `macro_rules!` peeled.
    fn expr(&self, key: Key, what: &str) -> syn::Result<&Expr> {
        match &self.value {
            Value::Assign(expr) => Ok(peel(expr)),
            Value::Flag | Value::List(_) | Value::Types(..) => Err(self.expected(key, what)),
        }
    }

    fn string(&self, key: Key, what: &str) -> syn::Result<LitStr> {
        match self.expr(key, what)? {
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }) => Ok(lit.clone()),
            _ => Err(self.expected(key, what)),
        }
    }
}

fn peel(mut expr: &Expr) -> &Expr {
    loop {
        match expr {
            Expr::Group(group) => expr = &group.expr,
            Expr::Paren(paren) => expr = &paren.expr,
            _ => return expr,
        }
    }
}

/// A duration option: whole milliseconds, and the literal it came from.
#[derive(Clone, Debug)]
pub(crate) struct Millis {
    pub(crate) millis: u64,
    pub(crate) lit: LitStr,
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let duration = std::time::Duration::from_millis(self.millis);
        write!(f, "{}", humantime::format_duration(duration))
    }
}

/// `max_concurrent = N`: the number, and the literal's span.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Count {
    pub(crate) value: u32,
    pub(crate) span: Span,
}

/// `rate = "N/s"`: `count` attempts per `per_millis`, and the literal.
#[derive(Clone, Debug)]
pub(crate) struct RateLimit {
    pub(crate) count: u32,
    pub(crate) per_millis: u64,
    pub(crate) lit: LitStr,
}

/// `retry(...)`: the fields of `RetryPolicy` that were given.
#[derive(Clone, Debug, Default)]
pub(crate) struct Retry {
    pub(crate) max_attempts: Option<u32>,
    pub(crate) initial_interval: Option<Millis>,
    pub(crate) max_interval: Option<Millis>,
    pub(crate) backoff_coefficient: Option<f64>,
    pub(crate) non_retryable: Option<Vec<LitStr>>,
}

impl Retry {
    /// Checks that hold between fields.
    fn check(&self) -> Option<syn::Error> {
        let max = self.max_interval.as_ref()?;
        let (initial, which) = match &self.initial_interval {
            Some(initial) => (initial.millis, format!("`initial_interval` ({initial})")),
            None => (
                DEFAULT_INITIAL_INTERVAL_MS,
                "the default `initial_interval` (1s)".to_owned(),
            ),
        };
        (max.millis < initial).then(|| {
            syn::Error::new(
                max.lit.span(),
                format!("`max_interval` ({max}) must not be shorter than {which}"),
            )
        })
    }
}

/// The options of one macro invocation; each field is `None` when not given
/// (or given with an error, already reported).
#[derive(Clone, Debug, Default)]
pub(crate) struct Options {
    pub(crate) name: Option<LitStr>,
    pub(crate) krate: Option<syn::Path>,
    pub(crate) start_to_close: Option<Millis>,
    pub(crate) schedule_to_close: Option<Millis>,
    pub(crate) heartbeat_timeout: Option<Millis>,
    pub(crate) retry: Option<Retry>,
    pub(crate) max_concurrent: Option<Count>,
    pub(crate) rate: Option<RateLimit>,
    /// `signals = [..]` of a workflow: signal types its body receives where
    /// the macro cannot see it.
    pub(crate) signals: Option<Vec<Type>>,
}

type Items = Punctuated<OptionItem, Token![,]>;

impl Options {
    /// Parses the arguments of `#[activity(..)]` or `#[workflow(..)]`.
    pub(crate) fn from_args(scope: Scope, args: TokenStream, errors: &mut Errors) -> Options {
        let mut options = Options::default();
        match Items::parse_terminated.parse2(args) {
            Ok(items) => options.apply_all(scope, &items, &mut Vec::new(), errors),
            Err(error) => errors.push(error),
        }
        options
    }

    /// Parses every `#[signal(..)]` among a type's attributes (a key given in
    /// two of them is a duplicate too).
    pub(crate) fn from_signal_attrs(attrs: &[Attribute], errors: &mut Errors) -> Options {
        let mut options = Options::default();
        let mut seen = Vec::new();
        for attr in attrs.iter().filter(|attr| attr.path().is_ident("signal")) {
            let Meta::List(list) = &attr.meta else {
                errors.push(syn::Error::new_spanned(
                    attr,
                    "expected `#[signal(name = \"...\")]`",
                ));
                continue;
            };
            match list.parse_args_with(Items::parse_terminated) {
                Ok(items) => options.apply_all(Scope::Signal, &items, &mut seen, errors),
                Err(error) => errors.push(error),
            }
        }
        options
    }

    /// The path of the runtime crate: `::reprise` unless `crate = "..."`.
    pub(crate) fn krate(&self) -> syn::Path {
        self.krate
            .clone()
            .unwrap_or_else(|| syn::parse_quote!(::reprise))
    }

    fn apply_all(&mut self, scope: Scope, items: &Items, seen: &mut Vec<Key>, errors: &mut Errors) {
        for item in items {
            if let Err(error) = self.apply(scope, item, seen, errors) {
                errors.push(error);
            }
        }
    }

    fn apply(
        &mut self,
        scope: Scope,
        item: &OptionItem,
        seen: &mut Vec<Key>,
        errors: &mut Errors,
    ) -> syn::Result<()> {
        let key = Key::resolve(scope, &item.key)?;
        first_occurrence(seen, key, &item.key)?;
        match key {
            Key::Name => self.name = Some(name(item)?),
            Key::Crate => self.krate = Some(crate_path(item)?),
            Key::StartToClose => self.start_to_close = Some(duration(item, key)?),
            Key::ScheduleToClose => self.schedule_to_close = Some(duration(item, key)?),
            Key::HeartbeatTimeout => self.heartbeat_timeout = Some(duration(item, key)?),
            Key::Retry => {
                let Value::List(items) = &item.value else {
                    return Err(item.expected(key, "a parenthesized list"));
                };
                self.retry.get_or_insert_with(Retry::default);
                self.apply_all(Scope::Retry, items, &mut Vec::new(), errors);
                if let Some(error) = self.retry.as_ref().and_then(Retry::check) {
                    errors.push(error);
                }
            }
            Key::MaxConcurrent => self.max_concurrent = Some(max_concurrent(item)?),
            Key::Rate => self.rate = Some(rate(item)?),
            Key::Signals => self.signals = Some(signals(item, errors)?),
            Key::MaxAttempts => self.retry_mut().max_attempts = Some(max_attempts(item)?),
            Key::InitialInterval => self.retry_mut().initial_interval = Some(duration(item, key)?),
            Key::MaxInterval => self.retry_mut().max_interval = Some(duration(item, key)?),
            Key::BackoffCoefficient => {
                self.retry_mut().backoff_coefficient = Some(backoff_coefficient(item)?);
            }
            Key::NonRetryable => self.retry_mut().non_retryable = Some(non_retryable(item)?),
        }
        Ok(())
    }

    fn retry_mut(&mut self) -> &mut Retry {
        self.retry.get_or_insert_with(Retry::default)
    }
}

/// The one duplicate check: an error on the second occurrence of `key`.
fn first_occurrence(seen: &mut Vec<Key>, key: Key, ident: &Ident) -> syn::Result<()> {
    if seen.contains(&key) {
        return Err(syn::Error::new(
            ident.span(),
            format!("duplicate option `{key}`: give it once"),
        ));
    }
    seen.push(key);
    Ok(())
}

fn name(item: &OptionItem) -> syn::Result<LitStr> {
    let lit = item.string(Key::Name, "a string literal")?;
    if lit.value().trim().is_empty() {
        return Err(syn::Error::new(lit.span(), "the name must not be empty"));
    }
    Ok(lit)
}

fn crate_path(item: &OptionItem) -> syn::Result<syn::Path> {
    let lit = item.string(Key::Crate, "a string literal holding a path")?;
    lit.parse_with(syn::Path::parse_mod_style).map_err(|_| {
        syn::Error::new(
            lit.span(),
            format!("`{}` is not a path: write `crate = \"reprise\"` or `crate = \"::my_crate::reprise\"`", lit.value()),
        )
    })
}

fn duration(item: &OptionItem, key: Key) -> syn::Result<Millis> {
    let lit = item.string(key, "a duration string")?;
    parse_millis(key, lit)
}

/// Parses a humantime literal into whole, non-zero milliseconds.
pub(crate) fn parse_millis(key: Key, lit: LitStr) -> syn::Result<Millis> {
    let text = lit.value();
    let duration = humantime::parse_duration(&text).map_err(|error| {
        let reason = match error {
            humantime::DurationError::UnknownUnit { unit, .. } if !unit.is_empty() => {
                format!("unknown unit `{unit}`, use `ms`, `s`, `m`, `h` or `d`")
            }
            other => other.to_string(),
        };
        syn::Error::new(
            lit.span(),
            format!("invalid duration `{text}`: {reason}; write e.g. `\"30s\"`, `\"5m\"` or `\"1h 30m\"`"),
        )
    })?;
    if duration.is_zero() {
        return Err(syn::Error::new(
            lit.span(),
            format!("`{key}` must be longer than zero"),
        ));
    }
    if duration.subsec_nanos() % 1_000_000 != 0 {
        return Err(syn::Error::new(
            lit.span(),
            format!("`{key}` is counted in whole milliseconds: `{text}` is not"),
        ));
    }
    let millis = u64::try_from(duration.as_millis())
        .map_err(|_| syn::Error::new(lit.span(), format!("`{key}` is too long")))?;
    Ok(Millis { millis, lit })
}

/// An integer literal that fits a `u32`; 0 is left to the caller.
fn integer(item: &OptionItem, key: Key) -> syn::Result<(u32, LitInt)> {
    let what = "a positive integer";
    let Expr::Lit(ExprLit {
        lit: Lit::Int(lit), ..
    }) = item.expr(key, what)?
    else {
        return Err(item.expected(key, what));
    };
    Ok((lit.base10_parse()?, lit.clone()))
}

fn max_attempts(item: &OptionItem) -> syn::Result<u32> {
    let (value, lit) = integer(item, Key::MaxAttempts)?;
    if value == 0 {
        return Err(syn::Error::new(
            lit.span(),
            "`max_attempts` must be at least 1 (the first attempt counts); leave it out for unlimited attempts",
        ));
    }
    Ok(value)
}

fn max_concurrent(item: &OptionItem) -> syn::Result<Count> {
    let (value, lit) = integer(item, Key::MaxConcurrent)?;
    if value == 0 {
        return Err(syn::Error::new(
            lit.span(),
            "`max_concurrent` must be at least 1; leave it out for no limit",
        ));
    }
    Ok(Count {
        value,
        span: lit.span(),
    })
}

fn rate(item: &OptionItem) -> syn::Result<RateLimit> {
    let lit = item.string(Key::Rate, "a rate string")?;
    let (count, per_millis) =
        parse_rate(&lit.value()).map_err(|message| syn::Error::new(lit.span(), message))?;
    Ok(RateLimit {
        count,
        per_millis,
        lit,
    })
}

/// `"N/s"`, `"N/m"` or `"N/h"`, N at least 1, spaces around the parts
/// allowed: the attempts and the period in milliseconds. The same text and
/// messages as the runtime's `Rate::from_str`.
pub(crate) fn parse_rate(text: &str) -> Result<(u32, u64), String> {
    let bad = || format!("invalid rate `{text}`: write `\"20/s\"`, `\"100/m\"` or `\"1000/h\"`");
    let (count, unit) = text.trim().split_once('/').ok_or_else(bad)?;
    let count: u32 = count.trim().parse().map_err(|_| bad())?;
    let per_millis = match unit.trim() {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(bad()),
    };
    if count == 0 {
        return Err(format!(
            "invalid rate `{text}`: at least one attempt per period"
        ));
    }
    Ok((count, per_millis))
}

fn backoff_coefficient(item: &OptionItem) -> syn::Result<f64> {
    let what = "a number";
    let (value, span) = match item.expr(Key::BackoffCoefficient, what)? {
        Expr::Lit(ExprLit {
            lit: Lit::Float(lit),
            ..
        }) => (lit.base10_parse::<f64>()?, lit.span()),
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => (lit.base10_parse::<f64>()?, lit.span()),
        _ => return Err(item.expected(Key::BackoffCoefficient, what)),
    };
    if !value.is_finite() || value < 1.0 {
        return Err(syn::Error::new(
            span,
            format!(
                "`backoff_coefficient` must be at least 1.0 so delays do not shrink, not {value}"
            ),
        ));
    }
    Ok(value)
}

fn non_retryable(item: &OptionItem) -> syn::Result<Vec<LitStr>> {
    let what = "a list of error kinds";
    let Expr::Array(array) = item.expr(Key::NonRetryable, what)? else {
        return Err(item.expected(Key::NonRetryable, what));
    };
    array
        .elems
        .iter()
        .map(|elem| match peel(elem) {
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }) if !lit.value().is_empty() => Ok(lit.clone()),
            other => Err(syn::Error::new_spanned(
                other.to_token_stream(),
                format!(
                    "expected a string literal naming an error kind: `{}`",
                    Key::NonRetryable.example()
                ),
            )),
        })
        .collect()
}

/// `signals = [A, b::C]`: the types; an element that is not a type is
/// reported under it, and the others kept.
fn signals(item: &OptionItem, errors: &mut Errors) -> syn::Result<Vec<Type>> {
    let what = "a list of signal types";
    let elems = match &item.value {
        Value::Types(_, types) => return Ok(types.iter().cloned().collect()),
        _ => match item.expr(Key::Signals, what)? {
            Expr::Array(array) => &array.elems,
            _ => return Err(item.expected(Key::Signals, what)),
        },
    };
    let mut types = Vec::new();
    for elem in elems {
        let elem = peel(elem);
        match syn::parse2::<Type>(elem.to_token_stream()) {
            Ok(ty) => types.push(ty),
            Err(_) => errors.push(syn::Error::new_spanned(
                elem,
                format!("expected a signal type: `{}`", Key::Signals.example()),
            )),
        }
    }
    Ok(types)
}

#[cfg(test)]
mod tests;
