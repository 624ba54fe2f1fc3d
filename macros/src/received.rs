//! The signal types a workflow receives, listed by the generated
//! `Workflow::signals` so that the runtime can refuse a signal the workflow
//! never receives, or a payload that does not decode as its type.
//!
//! The list is every `X.signal::<S>()` of the body (any receiver, one type
//! argument, no argument), in closures, async blocks and the arguments of
//! the macros the determinism lint reads (`select!`, `join!`, `format!`,
//! `json!` ...), then the types of `#[workflow(signals = [..])]`, each type
//! once (by its tokens). Items declared in the body (a nested `fn`) are not
//! walked: like helpers outside the body they may be generic over the
//! signal type, which the list cannot name; `signals = [..]` declares what
//! they receive.
//!
//! The list is generated in `impl Workflow`, outside the body. A type named
//! through a `use` item of the body is emitted inside blocks repeating the
//! `use` items of its enclosing blocks:
//!
//! ```text
//! { #[allow(unused_imports)] use crate::signals::Stop; CRATE::__private::SignalSpec::of::<Stop>() }
//! ```
//!
//! and a type declared in the body cannot be named there: an error says to
//! declare it outside the function.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{
    Block, Expr, ExprMethodCall, GenericArgument, Ident, Item, ItemUse, Macro, Path, Stmt, Type,
    UseTree,
};

use crate::errors::Errors;

/// One signal type, and the `use` items of the body it may need.
#[derive(Debug)]
pub(crate) struct Received {
    ty: Type,
    /// The `use` items of each enclosing block with some, outermost first;
    /// empty when the type does not go through a `use` of the body.
    uses: Vec<Vec<ItemUse>>,
}

impl Received {
    /// `CRATE::__private::SignalSpec::of::<S>()`, at the span of `S`, in
    /// the blocks of its `use` items.
    pub(crate) fn spec(&self, p: &TokenStream) -> TokenStream {
        let ty = &self.ty;
        let mut spec = quote_spanned!(ty.span()=> #p::SignalSpec::of::<#ty>());
        for uses in self.uses.iter().rev() {
            spec = quote!({ #(#[allow(unused_imports)] #uses)* #spec });
        }
        spec
    }
}

/// The signal types `body` receives, then those of `declared`
/// (`signals = [..]`), each once. Types declared in the body are reported.
pub(crate) fn collect(body: &Block, declared: &[Type], errors: &mut Errors) -> Vec<Received> {
    let mut collector = Collector::default();
    collector.visit_block(body);
    errors.extend(collector.errors);
    let mut list = collector.found;
    for ty in declared {
        push_once(
            &mut list,
            Received {
                ty: ty.clone(),
                uses: Vec::new(),
            },
        );
    }
    list
}

fn push_once(list: &mut Vec<Received>, received: Received) {
    let key = received.spec(&TokenStream::new()).to_string();
    if !list
        .iter()
        .any(|other| other.spec(&TokenStream::new()).to_string() == key)
    {
        list.push(received);
    }
}

/// What one block of the body brings into scope.
#[derive(Debug, Default)]
struct BlockScope {
    uses: Vec<ItemUse>,
    /// Names bound by `uses`.
    imported: Vec<Ident>,
    /// Whether one of `uses` is a glob (`use m::*;`), which may bind any
    /// name.
    glob: bool,
    /// Names of the items declared in the block.
    declared: Vec<Ident>,
}

impl BlockScope {
    fn of(block: &Block) -> BlockScope {
        let mut scope = BlockScope::default();
        for stmt in &block.stmts {
            let Stmt::Item(item) = stmt else { continue };
            match item {
                Item::Use(item) => {
                    bound_names(&item.tree, None, &mut scope);
                    scope.uses.push(item.clone());
                }
                other => scope.declared.extend(declared_name(other).cloned()),
            }
        }
        scope
    }
}

/// The name a `use` tree binds, or marks a glob.
fn bound_names(tree: &UseTree, parent: Option<&Ident>, scope: &mut BlockScope) {
    match tree {
        UseTree::Path(path) => bound_names(&path.tree, Some(&path.ident), scope),
        UseTree::Name(name) if name.ident == "self" => scope.imported.extend(parent.cloned()),
        UseTree::Name(name) => scope.imported.push(name.ident.clone()),
        UseTree::Rename(rename) if rename.rename == "_" => {}
        UseTree::Rename(rename) => scope.imported.push(rename.rename.clone()),
        UseTree::Glob(_) => scope.glob = true,
        UseTree::Group(group) => {
            for tree in &group.items {
                bound_names(tree, parent, scope);
            }
        }
    }
}

/// The name of an item that a type path may start with.
fn declared_name(item: &Item) -> Option<&Ident> {
    match item {
        Item::Enum(item) => Some(&item.ident),
        Item::ExternCrate(item) => Some(item.rename.as_ref().map_or(&item.ident, |(_, r)| r)),
        Item::Mod(item) => Some(&item.ident),
        Item::Struct(item) => Some(&item.ident),
        Item::Trait(item) => Some(&item.ident),
        Item::TraitAlias(item) => Some(&item.ident),
        Item::Type(item) => Some(&item.ident),
        Item::Union(item) => Some(&item.ident),
        _ => None,
    }
}

/// The first segment of a `use` tree.
fn use_root(tree: &UseTree) -> Option<&Ident> {
    match tree {
        UseTree::Path(path) => Some(&path.ident),
        UseTree::Name(name) => Some(&name.ident),
        UseTree::Rename(rename) => Some(&rename.ident),
        UseTree::Glob(_) | UseTree::Group(_) => None,
    }
}

#[derive(Default)]
struct Collector {
    found: Vec<Received>,
    errors: Vec<syn::Error>,
    /// One per enclosing block, innermost last.
    scopes: Vec<BlockScope>,
}

impl Collector {
    /// Whether `name` is an item declared in an enclosing block.
    fn declared(&self, name: &Ident) -> bool {
        self.scopes
            .iter()
            .any(|scope| scope.declared.contains(name))
    }

    fn receive(&mut self, ty: &Type) {
        let mut firsts = FirstSegments::default();
        firsts.visit_type(ty);
        if let Some(local) = firsts.0.iter().find(|name| self.declared(name)) {
            self.errors.push(syn::Error::new(
                local.span(),
                format!(
                    "`{local}` is declared inside the workflow's body, where the list of \
                     signal types `#[workflow]` generates cannot name it: declare it outside \
                     the function"
                ),
            ));
            return;
        }
        let imported = self
            .scopes
            .iter()
            .any(|scope| scope.glob || firsts.0.iter().any(|name| scope.imported.contains(name)));
        let uses = if imported { self.uses() } else { Vec::new() };
        push_once(
            &mut self.found,
            Received {
                ty: ty.clone(),
                uses,
            },
        );
    }

    /// The `use` items of the enclosing blocks, outermost first, but those
    /// of an item declared in the body, which could not be repeated outside
    /// it.
    fn uses(&self) -> Vec<Vec<ItemUse>> {
        let outside = |item: &&ItemUse| {
            item.leading_colon.is_some()
                || !use_root(&item.tree).is_some_and(|root| self.declared(root))
        };
        self.scopes
            .iter()
            .map(|scope| {
                scope
                    .uses
                    .iter()
                    .filter(outside)
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .filter(|uses| !uses.is_empty())
            .collect()
    }
}

/// `X.signal::<S>()`: `S`.
fn signal_type(call: &ExprMethodCall) -> Option<&Type> {
    if call.method != "signal" || !call.args.is_empty() {
        return None;
    }
    let turbofish = call.turbofish.as_ref()?;
    match turbofish.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(ty)] => Some(ty),
        _ => None,
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_block(&mut self, block: &'ast Block) {
        self.scopes.push(BlockScope::of(block));
        visit::visit_block(self, block);
        self.scopes.pop();
    }

    fn visit_expr_method_call(&mut self, call: &'ast ExprMethodCall) {
        if let Some(ty) = signal_type(call) {
            self.receive(ty);
        }
        visit::visit_expr_method_call(self, call);
    }

    /// Items declared in the body belong to no workflow (see the module's
    /// docs).
    fn visit_item(&mut self, _: &'ast Item) {}

    fn visit_macro(&mut self, mac: &'ast Macro) {
        let Some(name) = mac.path.segments.last() else {
            return;
        };
        for expr in crate::lint::macro_exprs(&name.ident.to_string(), &mac.tokens) {
            self.visit_expr(&expr);
        }
    }
}

/// The first segments of the relative paths in a type (`a` and `c` in
/// `a::B<c::D>`).
#[derive(Default)]
struct FirstSegments(Vec<Ident>);

impl<'ast> Visit<'ast> for FirstSegments {
    fn visit_path(&mut self, path: &'ast Path) {
        if path.leading_colon.is_none() {
            self.0
                .extend(path.segments.first().map(|s| s.ident.clone()));
        }
        visit::visit_path(self, path);
    }

    fn visit_expr(&mut self, _: &'ast Expr) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specs of `body` (the inside of a block) and `declared`, and the
    /// error messages.
    fn received(body: &str, declared: &[&str]) -> (Vec<String>, Vec<String>) {
        let block: Block = syn::parse_str(&format!("{{ {body} }}")).expect("test body parses");
        let declared: Vec<Type> = declared
            .iter()
            .map(|ty| syn::parse_str(ty).expect("test type parses"))
            .collect();
        let mut errors = Errors::default();
        let list = collect(&block, &declared, &mut errors);
        let specs = list
            .iter()
            .map(|r| r.spec(&quote!(p)).to_string())
            .collect();
        (specs, errors.messages())
    }

    fn types(body: &str, declared: &[&str]) -> Vec<String> {
        let (specs, errors) = received(body, declared);
        assert_eq!(errors, Vec::<String>::new());
        specs
            .iter()
            .map(|spec| {
                let ty = spec
                    .strip_prefix("p :: SignalSpec :: of :: < ")
                    .and_then(|rest| rest.strip_suffix(" > ()"))
                    .unwrap_or_else(|| panic!("not a plain spec: {spec}"));
                ty.to_owned()
            })
            .collect()
    }

    #[test]
    fn every_receiver_and_place_in_the_body() {
        let body = r#"
            let stops = ctx.signal::<Stop>();
            let x = self.ctx.signal::<a::Resize>().recv().await;
            let f = |ctx: &WorkflowContext| ctx.signal::<InClosure>().try_recv();
            let g = async { (&ctx).signal::<InAsync>().recv().await };
            if let Some(_) = ctx.signal::<InCondition>().try_recv() {
                loop { ctx.signal::<Nested>().recv().await; }
            }
        "#;
        assert_eq!(
            types(body, &[]),
            [
                "Stop",
                "a :: Resize",
                "InClosure",
                "InAsync",
                "InCondition",
                "Nested"
            ]
        );
    }

    #[test]
    fn inside_the_macros_the_lint_reads() {
        let body = r#"
            tokio::select! {
                biased;
                s = ctx.signal::<InSelect>().recv() => {
                    tracing::info!(n = ?ctx.signal::<InLog>().try_recv());
                }
                _ = ctx.sleep(d), if ctx.signal::<InGuard>().try_recv().is_none() => {}
            }
            let (a, b) = tokio::join!(ctx.signal::<InJoin>().recv(), other());
            let s = format!("{:?}", ctx.signal::<InFormat>().try_recv());
            let v = serde_json::json!({ "a": ctx.signal::<InJson>().try_recv() });
            my_macro!(ctx.signal::<Opaque>());
        "#;
        assert_eq!(
            types(body, &[]),
            ["InSelect", "InLog", "InGuard", "InJoin", "InFormat", "InJson"]
        );
    }

    #[test]
    fn other_calls_and_nested_items_are_not_signals() {
        let body = r#"
            ctx.signal();
            ctx.signal::<A, B>();
            ctx.signal::<'a>();
            ctx.signal::<A>(1);
            ctx.signals::<A>();
            signal::<A>();
            fn helper<S: Signal>(ctx: &WorkflowContext) { ctx.signal::<S>(); }
            impl Foo { fn f(&self) { self.ctx.signal::<Self>(); } }
        "#;
        assert_eq!(types(body, &[]), Vec::<String>::new());
    }

    #[test]
    fn each_type_once_body_first_then_declared() {
        let body = "ctx.signal::<A>(); ctx.signal::<B>(); ctx.signal::<A>().recv().await;";
        assert_eq!(
            types(body, &["C", "A", "C", "Wrapper<B>"]),
            ["A", "B", "C", "Wrapper < B >"]
        );
        assert_eq!(types("", &[]), Vec::<String>::new());
    }

    #[test]
    fn a_type_imported_in_the_body_takes_the_bodys_use_items() {
        let body = r#"
            use crate::signals::Stop;
            use std::fmt;
            ctx.signal::<Stop>();
            ctx.signal::<crate::Other>();
            {
                use crate::more::{self, Resize as R};
                mod local { pub struct X; }
                use local::X;
                ctx.signal::<R>();
                ctx.signal::<more::Pause>();
                ctx.signal::<Unrelated>();
            }
        "#;
        let (specs, errors) = received(body, &[]);
        assert_eq!(errors, Vec::<String>::new());
        let allow = "# [allow (unused_imports)]";
        let outer = format!("{allow} use crate :: signals :: Stop ; {allow} use std :: fmt ;");
        let inner = format!("{allow} use crate :: more :: {{ self , Resize as R }} ;");
        assert_eq!(
            specs,
            [
                format!("{{ {outer} p :: SignalSpec :: of :: < Stop > () }}"),
                "p :: SignalSpec :: of :: < crate :: Other > ()".to_owned(),
                format!("{{ {outer} {{ {inner} p :: SignalSpec :: of :: < R > () }} }}"),
                format!(
                    "{{ {outer} {{ {inner} p :: SignalSpec :: of :: < more :: Pause > () }} }}"
                ),
                "p :: SignalSpec :: of :: < Unrelated > ()".to_owned(),
            ]
        );

        // A glob may bind any name.
        let (specs, _) = received("use crate::signals::*; ctx.signal::<Stop>();", &[]);
        assert_eq!(
            specs,
            [format!(
                "{{ {allow} use crate :: signals :: * ; p :: SignalSpec :: of :: < Stop > () }}"
            )]
        );
    }

    #[test]
    fn a_type_declared_in_the_body_is_an_error() {
        let body = r#"
            #[derive(Serialize, Deserialize, Signal)]
            struct Local;
            ctx.signal::<Local>();
            ctx.signal::<Vec<Local>>();
            ctx.signal::<Fine>();
        "#;
        let (specs, errors) = received(body, &[]);
        assert_eq!(specs, ["p :: SignalSpec :: of :: < Fine > ()"]);
        let message = "`Local` is declared inside the workflow's body, where the list of \
                       signal types `#[workflow]` generates cannot name it: declare it outside \
                       the function";
        assert_eq!(errors, [message, message]);
    }
}
