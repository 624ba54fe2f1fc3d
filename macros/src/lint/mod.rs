//! The determinism lint of `#[workflow]` bodies.
//!
//! A workflow body is replayed from the top after every crash and every
//! cache miss, so everything it does must come out the same each time.
//! [`check`] walks the body and reports, with a span on the offending code
//! and a message naming the fix, what would not: the wall clock, randomness,
//! real timers, spawned tasks and threads, I/O, the process environment,
//! hash-ordered collections, unbiased `select!`, `static mut` and
//! `thread_local!`. docs/DETERMINISM.md lists the rules and their limits.
//!
//! - `rules.rs` decides which paths are forbidden;
//! - `scope.rs` applies the body's own `use` items to paths;
//! - `macros.rs` looks inside macro invocations;
//! - `allow.rs` parses the `#[reprise::allow(nondeterminism, ..)]` escape hatch.

mod allow;
mod macros;

pub(crate) use self::macros::inner_exprs as macro_exprs;
mod rules;
mod scope;
#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;
use quote::quote;
use syn::visit_mut::{self, VisitMut};
use syn::{Arm, Attribute, Block, Expr, FieldValue, Item, Macro, Path, StaticMutability, Stmt};

use self::macros::MacroKind;
use self::scope::{Resolved, Scope};

/// Checks a workflow body for non-deterministic code and strips the
/// `#[reprise::allow(nondeterminism, reason = "...")]` attributes it honours.
/// Returns one error per violation.
pub(crate) fn check(body: &mut syn::Block) -> Vec<syn::Error> {
    let mut linter = Linter::default();
    linter.visit_block_mut(body);
    linter.errors
}

#[derive(Debug, Default)]
struct Linter {
    errors: Vec<syn::Error>,
    /// One alias table per enclosing block, innermost last.
    scopes: Vec<Scope>,
    /// Above zero inside exempt code (`ctx.side_effect(..)`, an allowed
    /// statement, a nested item): violations are not reported there, but the
    /// walk goes on to strip nested escape-hatch attributes.
    quiet: usize,
}

impl Linter {
    fn report(&mut self, error: syn::Error) {
        if self.quiet == 0 {
            self.errors.push(error);
        }
    }

    fn quietly(&mut self, walk: impl FnOnce(&mut Self)) {
        self.quiet += 1;
        walk(self);
        self.quiet -= 1;
    }

    /// Strips escape-hatch attributes; true if they exempt the node.
    /// Malformed attributes are reported even in exempt code.
    fn allowed(&mut self, attrs: &mut Vec<Attribute>) -> bool {
        allow::take(attrs, &mut self.errors)
    }

    fn resolve(&self, path: &Path) -> Resolved {
        let written: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        scope::resolve(&self.scopes, &written, path.leading_colon.is_some())
    }

    fn check_path(&mut self, path: &Path) {
        let resolved = self.resolve(path);
        let segments: Vec<&str> = resolved.segments.iter().map(String::as_str).collect();
        let Some(hit) = rules::classify(&segments) else {
            return;
        };
        let end = resolved.written_end(hit.end).min(path.segments.len());
        let leading = path.leading_colon;
        let idents = path.segments.iter().take(end).map(|s| &s.ident);
        let offending = quote!(#leading #(#idents)::*);
        let written = written_form(&offending);
        let shown = if resolved.is_rewritten() {
            format!("`{written}` (`{}`)", segments[..hit.end].join("::"))
        } else {
            format!("`{written}`")
        };
        let message = format!("{shown} {}: {}", hit.rule.problem(), hit.rule.fix());
        self.report(syn::Error::new_spanned(offending, message));
    }

    fn check_macro(&mut self, mac: &Macro) {
        let resolved = self.resolve(&mac.path);
        let Some(name) = resolved.segments.last() else {
            return;
        };
        let path = &mac.path;
        let bang = &mac.bang_token;
        let invocation = quote!(#path #bang);
        match macros::kind(name) {
            MacroKind::ThreadLocal => {
                self.report(syn::Error::new_spanned(
                    invocation,
                    "`thread_local!` keeps state outside the workflow's history, so replay may see another value: keep state in workflow locals",
                ));
                return;
            }
            MacroKind::Select if !macros::starts_biased(&mac.tokens) => {
                let written = written_form(&quote!(#path));
                let fix = if resolved.segments.first().is_some_and(|s| s == "futures") {
                    "use `futures::select_biased!`"
                } else {
                    "add `biased;` as its first line"
                };
                self.report(syn::Error::new_spanned(
                    invocation,
                    format!(
                        "`{written}!` without `biased;` picks among ready branches at random, so replay may take another branch: {fix}"
                    ),
                ));
            }
            _ => {}
        }
        for mut expr in macros::inner_exprs(name, &mac.tokens) {
            self.visit_expr_mut(&mut expr);
        }
    }

    fn walk_expr(&mut self, expr: &mut Expr) {
        match expr {
            Expr::MethodCall(call) if call.method == "side_effect" => {
                self.visit_expr_mut(&mut call.receiver);
                if let Some(turbofish) = &mut call.turbofish {
                    self.visit_angle_bracketed_generic_arguments_mut(turbofish);
                }
                self.check_durable_calls(call.args.iter());
                self.quietly(|this| {
                    for arg in &mut call.args {
                        this.visit_expr_mut(arg);
                    }
                });
            }
            // `WorkflowContext::side_effect(&ctx, || ..)`.
            Expr::Call(call) if is_side_effect_fn(&call.func) => {
                self.visit_expr_mut(&mut call.func);
                self.check_durable_calls(call.args.iter());
                self.quietly(|this| {
                    for arg in &mut call.args {
                        this.visit_expr_mut(arg);
                    }
                });
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }
}

impl Linter {
    /// Reports the context's durable calls made inside a `side_effect`
    /// closure: the closure does not run on replay, so they would be missing.
    fn check_durable_calls<'a>(&mut self, args: impl Iterator<Item = &'a Expr>) {
        if self.quiet > 0 {
            return;
        }
        let mut finder = DurableCalls::default();
        for arg in args {
            syn::visit::Visit::visit_expr(&mut finder, arg);
        }
        for (tokens, method) in finder.found {
            self.report(syn::Error::new_spanned(
                tokens,
                format!(
                    "`.{method}(..)` inside `ctx.side_effect(..)` is not replayed: the closure does not run on replay, so the call would be missing then: make it outside the closure"
                ),
            ));
        }
    }
}

/// Durable calls of the workflow context, found by method name on a plain
/// variable (`ctx.activity(..)`, `ctx.sleep(..)` ...).
#[derive(Default)]
struct DurableCalls {
    found: Vec<(TokenStream, String)>,
}

impl<'ast> syn::visit::Visit<'ast> for DurableCalls {
    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        const DURABLE: [&str; 10] = [
            "activity",
            "sleep",
            "side_effect",
            "uuid",
            "random_u64",
            "signal",
            "continue_as_new",
            "child",
            "patched",
            "deprecate_patch",
        ];
        let on_variable = matches!(&*call.receiver, Expr::Path(p) if p.path.get_ident().is_some());
        if on_variable && DURABLE.iter().any(|m| call.method == m) {
            let receiver = &call.receiver;
            let method = &call.method;
            self.found
                .push((quote!(#receiver.#method), method.to_string()));
        }
        syn::visit::visit_expr_method_call(self, call);
    }

    fn visit_item(&mut self, _: &'ast Item) {}

    /// `format!("{}", ctx.uuid())` and the like: their arguments, as the
    /// lint reads them.
    fn visit_macro(&mut self, mac: &'ast Macro) {
        for expr in macros::expr_list(mac.tokens.clone()) {
            syn::visit::Visit::visit_expr(self, &expr);
        }
    }
}

/// A path as the user wrote it, without generic arguments: `std::fs::read`.
fn written_form(tokens: &TokenStream) -> String {
    tokens.to_string().replace(' ', "")
}

fn is_side_effect_fn(func: &Expr) -> bool {
    matches!(func, Expr::Path(path)
        if path.path.segments.last().is_some_and(|s| s.ident == "side_effect"))
}

impl VisitMut for Linter {
    fn visit_block_mut(&mut self, block: &mut Block) {
        self.scopes.push(Scope::of_block(block));
        for stmt in &mut block.stmts {
            self.visit_stmt_mut(stmt);
        }
        self.scopes.pop();
    }

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        let allowed = match stmt {
            Stmt::Local(local) => self.allowed(&mut local.attrs),
            Stmt::Macro(mac) => self.allowed(&mut mac.attrs),
            Stmt::Item(item) => match item_attrs(item) {
                Some(attrs) => self.allowed(attrs),
                None => false,
            },
            // An expression statement's attributes are the expression's:
            // `visit_expr_mut` handles them.
            Stmt::Expr(..) => false,
        };
        if allowed {
            self.quietly(|this| visit_mut::visit_stmt_mut(this, stmt));
        } else {
            visit_mut::visit_stmt_mut(self, stmt);
        }
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        let allowed = match expr_attrs(expr) {
            Some(attrs) => self.allowed(attrs),
            None => false,
        };
        if allowed {
            self.quietly(|this| this.walk_expr(expr));
        } else {
            self.walk_expr(expr);
        }
    }

    fn visit_arm_mut(&mut self, arm: &mut Arm) {
        if self.allowed(&mut arm.attrs) {
            self.quietly(|this| visit_mut::visit_arm_mut(this, arm));
        } else {
            visit_mut::visit_arm_mut(self, arm);
        }
    }

    fn visit_field_value_mut(&mut self, field: &mut FieldValue) {
        if self.allowed(&mut field.attrs) {
            self.quietly(|this| visit_mut::visit_field_value_mut(this, field));
        } else {
            visit_mut::visit_field_value_mut(self, field);
        }
    }

    fn visit_item_mut(&mut self, item: &mut Item) {
        match item {
            // Applied to the enclosing block's scope by `visit_block_mut`.
            Item::Use(_) => {}
            Item::Static(item) if matches!(item.mutability, StaticMutability::Mut(_)) => {
                let static_token = &item.static_token;
                let mutability = &item.mutability;
                self.report(syn::Error::new_spanned(
                    quote!(#static_token #mutability),
                    "`static mut` keeps state outside the workflow's history, so replay may see another value: keep state in workflow locals",
                ));
            }
            // Nested items are not part of the workflow body: a nested `fn`
            // runs only if called, like any helper. Walk them quietly, to
            // strip escape-hatch attributes.
            _ => self.quietly(|this| visit_mut::visit_item_mut(this, item)),
        }
    }

    fn visit_path_mut(&mut self, path: &mut Path) {
        self.check_path(path);
        visit_mut::visit_path_mut(self, path);
    }

    fn visit_macro_mut(&mut self, mac: &mut Macro) {
        self.check_macro(mac);
    }

    /// Attribute paths (`#[cfg(..)]`, `#[allow(..)]`) are not code.
    fn visit_attribute_mut(&mut self, _attr: &mut Attribute) {}
}

fn item_attrs(item: &mut Item) -> Option<&mut Vec<Attribute>> {
    Some(match item {
        Item::Const(item) => &mut item.attrs,
        Item::Enum(item) => &mut item.attrs,
        Item::ExternCrate(item) => &mut item.attrs,
        Item::Fn(item) => &mut item.attrs,
        Item::ForeignMod(item) => &mut item.attrs,
        Item::Impl(item) => &mut item.attrs,
        Item::Macro(item) => &mut item.attrs,
        Item::Mod(item) => &mut item.attrs,
        Item::Static(item) => &mut item.attrs,
        Item::Struct(item) => &mut item.attrs,
        Item::Trait(item) => &mut item.attrs,
        Item::TraitAlias(item) => &mut item.attrs,
        Item::Type(item) => &mut item.attrs,
        Item::Union(item) => &mut item.attrs,
        Item::Use(item) => &mut item.attrs,
        _ => return None,
    })
}

fn expr_attrs(expr: &mut Expr) -> Option<&mut Vec<Attribute>> {
    Some(match expr {
        Expr::Array(e) => &mut e.attrs,
        Expr::Assign(e) => &mut e.attrs,
        Expr::Async(e) => &mut e.attrs,
        Expr::Await(e) => &mut e.attrs,
        Expr::Binary(e) => &mut e.attrs,
        Expr::Block(e) => &mut e.attrs,
        Expr::Break(e) => &mut e.attrs,
        Expr::Call(e) => &mut e.attrs,
        Expr::Cast(e) => &mut e.attrs,
        Expr::Closure(e) => &mut e.attrs,
        Expr::Const(e) => &mut e.attrs,
        Expr::Continue(e) => &mut e.attrs,
        Expr::Field(e) => &mut e.attrs,
        Expr::ForLoop(e) => &mut e.attrs,
        Expr::Group(e) => &mut e.attrs,
        Expr::If(e) => &mut e.attrs,
        Expr::Index(e) => &mut e.attrs,
        Expr::Infer(e) => &mut e.attrs,
        Expr::Let(e) => &mut e.attrs,
        Expr::Lit(e) => &mut e.attrs,
        Expr::Loop(e) => &mut e.attrs,
        Expr::Macro(e) => &mut e.attrs,
        Expr::Match(e) => &mut e.attrs,
        Expr::MethodCall(e) => &mut e.attrs,
        Expr::Paren(e) => &mut e.attrs,
        Expr::Path(e) => &mut e.attrs,
        Expr::Range(e) => &mut e.attrs,
        Expr::RawAddr(e) => &mut e.attrs,
        Expr::Reference(e) => &mut e.attrs,
        Expr::Repeat(e) => &mut e.attrs,
        Expr::Return(e) => &mut e.attrs,
        Expr::Struct(e) => &mut e.attrs,
        Expr::Try(e) => &mut e.attrs,
        Expr::TryBlock(e) => &mut e.attrs,
        Expr::Tuple(e) => &mut e.attrs,
        Expr::Unary(e) => &mut e.attrs,
        Expr::Unsafe(e) => &mut e.attrs,
        Expr::While(e) => &mut e.attrs,
        Expr::Yield(e) => &mut e.attrs,
        _ => return None,
    })
}
