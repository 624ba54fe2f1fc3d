//! A typed model of an annotated function, keeping the original syn nodes
//! for their spans.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{
    Attribute, Block, FnArg, GenericArgument, Ident, ItemFn, PatType, PathArguments, PathSegment,
    ReturnType, Signature, Type, Visibility,
};

/// The type name of an activity's resource parameters.
pub(crate) const RESOURCE: &str = "Resource";

/// Which macro the function is annotated with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Activity,
    Workflow,
}

impl Kind {
    /// The type name of this kind's context parameter.
    pub(crate) fn context(self) -> &'static str {
        match self {
            Kind::Activity => "ActivityContext",
            Kind::Workflow => "WorkflowContext",
        }
    }

    /// The context of the other kind, a likely mix-up.
    pub(crate) fn other_context(self) -> &'static str {
        match self {
            Kind::Activity => "WorkflowContext",
            Kind::Workflow => "ActivityContext",
        }
    }

    /// The error type of this kind's `Result`.
    pub(crate) fn error(self) -> &'static str {
        match self {
            Kind::Activity => "ActivityError",
            Kind::Workflow => "WorkflowError",
        }
    }

    /// Whether the context parameter may be left out.
    pub(crate) fn context_optional(self) -> bool {
        self == Kind::Activity
    }

    /// `__private` idents of the trait implemented, the context, the error
    /// and the return-type trait.
    pub(crate) fn idents(self) -> [Ident; 4] {
        let names = match self {
            Kind::Activity => [
                "Activity",
                "ActivityContext",
                "ActivityError",
                "ActivityReturn",
            ],
            Kind::Workflow => [
                "Workflow",
                "WorkflowContext",
                "WorkflowError",
                "WorkflowReturn",
            ],
        };
        names.map(|name| Ident::new(name, Span::call_site()))
    }
}

/// What a parameter of an activity or workflow is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The leading `ActivityContext` or `WorkflowContext`.
    Context,
    /// An activity's `Resource<T>`, handed by the runtime.
    Resource,
    /// A part of the input.
    Input,
}

/// A function under `#[activity]` or `#[workflow]`.
pub(crate) struct Function {
    pub(crate) kind: Kind,
    /// `#[doc]` attributes, moved to the generated unit struct.
    pub(crate) docs: Vec<Attribute>,
    /// Every other attribute, kept on the body.
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    pub(crate) block: Box<Block>,
}

impl Function {
    pub(crate) fn new(kind: Kind, item: ItemFn) -> Function {
        let (docs, attrs) = item
            .attrs
            .into_iter()
            .partition(|attr| attr.path().is_ident("doc"));
        Function {
            kind,
            docs,
            attrs,
            vis: item.vis,
            sig: item.sig,
            block: item.block,
        }
    }

    /// The name stored in histories by default: the function's, without `r#`.
    pub(crate) fn default_name(&self) -> String {
        self.sig.ident.unraw().to_string()
    }

    /// The typed parameters (a `self` receiver is not one).
    pub(crate) fn params(&self) -> impl Iterator<Item = &PatType> {
        self.sig.inputs.iter().filter_map(|arg| match arg {
            FnArg::Typed(param) => Some(param),
            FnArg::Receiver(_) => None,
        })
    }

    /// The leading context parameter, if the first parameter is one.
    pub(crate) fn context(&self) -> Option<&PatType> {
        self.params()
            .next()
            .filter(|param| is_named(&param.ty, self.kind.context()))
    }

    /// Every typed parameter with its role, in the user's order.
    pub(crate) fn roles(&self) -> Vec<(Role, &PatType)> {
        let context = self.context().is_some();
        self.params()
            .enumerate()
            .map(|(i, param)| {
                let role = if i == 0 && context {
                    Role::Context
                } else if self.kind == Kind::Activity && is_named(&param.ty, RESOURCE) {
                    Role::Resource
                } else {
                    Role::Input
                };
                (role, param)
            })
            .collect()
    }

    /// The parameters that make up the input: all but the leading context
    /// and an activity's resources.
    pub(crate) fn inputs(&self) -> Vec<&PatType> {
        self.with_role(Role::Input)
    }

    /// An activity's `Resource<T>` parameters.
    pub(crate) fn resources(&self) -> Vec<&PatType> {
        self.with_role(Role::Resource)
    }

    fn with_role(&self, wanted: Role) -> Vec<&PatType> {
        self.roles()
            .into_iter()
            .filter(|(role, _)| *role == wanted)
            .map(|(_, param)| param)
            .collect()
    }

    /// Whether this is an activity written as a plain `fn`, run on the
    /// blocking pool.
    pub(crate) fn is_sync_activity(&self) -> bool {
        self.kind == Kind::Activity && self.sig.asyncness.is_none()
    }

    /// The input type: `()` for no input, the type for one, a tuple for several.
    pub(crate) fn input_type(&self) -> Type {
        input_type(self.inputs().iter().map(|param| &*param.ty))
    }

    /// The declared return type, if any.
    pub(crate) fn output(&self) -> Option<&Type> {
        match &self.sig.output {
            ReturnType::Type(_, ty) => Some(ty),
            ReturnType::Default => None,
        }
    }
}

/// `()`, `T`, or `(T1, T2, ...)`.
pub(crate) fn input_type<'a>(types: impl IntoIterator<Item = &'a Type>) -> Type {
    let types: Vec<&Type> = types.into_iter().collect();
    match types.as_slice() {
        [single] => (*single).clone(),
        several => syn::parse_quote!((#(#several,)*)),
    }
}

/// Whether `ty` is a path whose last segment is `name` (`ActivityContext`,
/// `reprise::ActivityContext`): the macro cannot resolve imports.
pub(crate) fn is_named(ty: &Type, name: &str) -> bool {
    last_segment(ty).is_some_and(|last| last.ident == name)
}

/// The last segment of a path type, through groups and parentheses.
fn last_segment(ty: &Type) -> Option<&PathSegment> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        Type::Group(group) => last_segment(&group.elem),
        Type::Paren(paren) => last_segment(&paren.elem),
        _ => None,
    }
}

/// The `T` of `Resource<T>`: `None` unless `ty` is named `Resource` and has
/// exactly one generic argument, a type.
pub(crate) fn resource_type(ty: &Type) -> Option<&Type> {
    let last = last_segment(ty).filter(|last| last.ident == RESOURCE)?;
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::ToTokens;

    fn function(kind: Kind, item: syn::ItemFn) -> Function {
        Function::new(kind, item)
    }

    fn input(kind: Kind, item: syn::ItemFn) -> String {
        function(kind, item)
            .input_type()
            .to_token_stream()
            .to_string()
    }

    #[test]
    fn input_type_of_no_parameter_is_unit() {
        let item = syn::parse_quote!(
            async fn a() -> R {
                x
            }
        );
        assert_eq!(input(Kind::Activity, item), "()");
        let item = syn::parse_quote!(
            async fn a(ctx: ActivityContext) -> R {
                x
            }
        );
        assert_eq!(input(Kind::Activity, item), "()");
        let item = syn::parse_quote!(
            async fn w(ctx: WorkflowContext) -> R {
                x
            }
        );
        assert_eq!(input(Kind::Workflow, item), "()");
    }

    #[test]
    fn input_type_of_one_parameter_is_its_type() {
        let item = syn::parse_quote!(
            async fn a(n: u64) -> R {
                x
            }
        );
        assert_eq!(input(Kind::Activity, item), "u64");
        let item = syn::parse_quote!(
            async fn a(_c: reprise::ActivityContext, rows: Vec<Row>) -> R {
                x
            }
        );
        assert_eq!(input(Kind::Activity, item), "Vec < Row >");
        let item = syn::parse_quote!(
            async fn w(ctx: WorkflowContext, i: EtlInput) -> R {
                x
            }
        );
        assert_eq!(input(Kind::Workflow, item), "EtlInput");
    }

    #[test]
    fn input_type_of_several_parameters_is_a_tuple_in_order() {
        let item = syn::parse_quote!(
            async fn a(ctx: ActivityContext, t: Target, mut rows: Vec<Row>) -> R {
                x
            }
        );
        assert_eq!(input(Kind::Activity, item), "(Target , Vec < Row > ,)");
        let item = syn::parse_quote!(
            async fn a((a, b): (u8, u8), c: String) -> R {
                x
            }
        );
        assert_eq!(input(Kind::Activity, item), "((u8 , u8) , String ,)");
    }

    #[test]
    fn a_context_is_recognised_by_its_last_segment_and_only_first() {
        let f = function(
            Kind::Activity,
            syn::parse_quote!(
                async fn a(c: ::reprise::ActivityContext) {}
            ),
        );
        assert!(f.context().is_some());
        let f = function(
            Kind::Activity,
            syn::parse_quote!(
                async fn a(n: u8, c: ActivityContext) {}
            ),
        );
        assert!(f.context().is_none());
        assert_eq!(f.inputs().len(), 2);
        let f = function(
            Kind::Workflow,
            syn::parse_quote!(
                async fn w(c: ActivityContext) {}
            ),
        );
        assert!(f.context().is_none());
        let f = function(
            Kind::Activity,
            syn::parse_quote!(
                async fn a(c: &ActivityContext) {}
            ),
        );
        assert!(f.context().is_none());
    }

    #[test]
    fn resources_are_not_inputs_in_any_position() {
        let f = function(
            Kind::Activity,
            syn::parse_quote!(
                async fn a(
                    ctx: ActivityContext,
                    db: Resource<Pool>,
                    n: u64,
                    http: reprise::Resource<Client>,
                    s: String,
                ) -> R {
                    x
                }
            ),
        );
        let roles: Vec<Role> = f.roles().into_iter().map(|(role, _)| role).collect();
        assert_eq!(
            roles,
            [
                Role::Context,
                Role::Resource,
                Role::Input,
                Role::Resource,
                Role::Input
            ]
        );
        assert_eq!(f.resources().len(), 2);
        assert_eq!(
            f.input_type().to_token_stream().to_string(),
            "(u64 , String ,)"
        );

        let f = function(
            Kind::Activity,
            syn::parse_quote!(
                fn a(db: Resource<Pool>, n: u64) -> R {
                    x
                }
            ),
        );
        assert!(f.is_sync_activity());
        assert_eq!(f.input_type().to_token_stream().to_string(), "u64");

        let f = function(
            Kind::Activity,
            syn::parse_quote!(
                async fn a(db: Resource<Pool>) -> R {
                    x
                }
            ),
        );
        assert!(!f.is_sync_activity());
        assert_eq!(f.input_type().to_token_stream().to_string(), "()");

        // A workflow has no resources: the parameter is reported, not skipped.
        let f = function(
            Kind::Workflow,
            syn::parse_quote!(
                async fn w(ctx: WorkflowContext, db: Resource<Pool>) -> R {
                    x
                }
            ),
        );
        assert!(f.resources().is_empty());
        assert_eq!(f.inputs().len(), 1);
    }

    #[test]
    fn a_resource_type_has_exactly_one_type_argument() {
        let ty = |ty: syn::Type| resource_type(&ty).map(|t| t.to_token_stream().to_string());
        assert_eq!(ty(syn::parse_quote!(Resource<Pool>)), Some("Pool".into()));
        assert_eq!(
            ty(syn::parse_quote!(::reprise::Resource<db::Pool>)),
            Some("db :: Pool".into())
        );
        assert_eq!(ty(syn::parse_quote!(Resource)), None);
        assert_eq!(ty(syn::parse_quote!(Resource<A, B>)), None);
        assert_eq!(ty(syn::parse_quote!(Resource<'static>)), None);
        assert_eq!(ty(syn::parse_quote!(Arc<Pool>)), None);
        assert_eq!(ty(syn::parse_quote!(&Resource<Pool>)), None);
    }

    #[test]
    fn docs_are_split_from_other_attributes() {
        let f = function(
            Kind::Activity,
            syn::parse_quote! {
                /// Loads.
                #[allow(unused)]
                async fn r#load() {}
            },
        );
        assert_eq!(f.docs.len(), 1);
        assert_eq!(f.attrs.len(), 1);
        assert_eq!(f.default_name(), "load");
    }
}
