//! Unit tests of `expand.rs`.

use super::*;

fn normalize(tokens: TokenStream) -> String {
    tokens.to_string()
}

fn contains(haystack: &str, needle: TokenStream) {
    let needle = normalize(needle);
    assert!(haystack.contains(&needle), "`{needle}` not in:\n{haystack}");
}

#[test]
fn an_activity_expands_to_a_unit_struct_and_its_impl() {
    let out = normalize(activity(
        quote!(
            name = "LoadData",
            start_to_close = "5m",
            retry(max_attempts = 5, non_retryable = ["ValidationError"])
        ),
        quote! {
            /// Loads rows.
            pub async fn load(ctx: ActivityContext, target: Target, mut rows: Vec<Row>) -> Result<usize, ActivityError> {
                Ok(rows.len())
            }
        },
    ));
    contains(&out, quote!(#[doc = r" Loads rows."]));
    contains(
        &out,
        quote!(
            pub struct load;
        ),
    );
    contains(&out, quote!(impl ::reprise::__private::Activity for load));
    contains(
        &out,
        quote!(
            const NAME: &'static str = "LoadData";
        ),
    );
    contains(&out, quote! { type Input = (Target, Vec<Row>,); });
    contains(
        &out,
        quote!(
            type Output =
                <Result<usize, ActivityError> as ::reprise::__private::ActivityReturn>::Ok;
        ),
    );
    contains(
        &out,
        quote!(start_to_close: ::reprise::__private::Option::Some(::reprise::__private::Duration::from_millis(300000u64))),
    );
    contains(
        &out,
        quote!(schedule_to_close: ::reprise::__private::Option::None),
    );
    contains(
        &out,
        quote! {
            max_concurrent: ::reprise::__private::Option::None,
            rate: ::reprise::__private::Option::None,
            limit_key: ::reprise::__private::Option::None,
        },
    );
    assert!(!out.contains("fn resources"), "{out}");
    contains(
        &out,
        quote!(max_attempts: ::reprise::__private::Option::Some(5u32)),
    );
    contains(
        &out,
        quote!(non_retryable_error_types: ::reprise::__private::Vec::from([::reprise::__private::String::from("ValidationError")])),
    );
    contains(
        &out,
        quote!(async fn __reprise_body(ctx: ActivityContext, target: Target, mut rows: Vec<Row>) -> Result<usize, ActivityError>),
    );
    contains(
        &out,
        quote!(let (__reprise_arg0, __reprise_arg1,) = __reprise_input;),
    );
    contains(
        &out,
        quote!(::reprise::__private::Box::pin(__reprise_body(
            __reprise_ctx,
            __reprise_arg0,
            __reprise_arg1
        ))),
    );
    contains(
        &out,
        quote!(::reprise::__private::assert_payload::<Target>();),
    );
    contains(
        &out,
        quote!(::reprise::__private::assert_payload::<Vec<Row> >();),
    );
    assert!(!out.contains("compile_error"), "{out}");
}

#[test]
fn inputs_of_zero_and_one_parameter() {
    let out = normalize(activity(
        quote!(),
        quote!(
            async fn ping() -> Result<(), ActivityError> {
                Ok(())
            }
        ),
    ));
    contains(
        &out,
        quote!(
            type Input = ();
        ),
    );
    contains(&out, quote!(let () = __reprise_input;));
    contains(
        &out,
        quote!(::reprise::__private::Box::pin(__reprise_body())),
    );
    contains(
        &out,
        quote!(
            const NAME: &'static str = "ping";
        ),
    );
    contains(
        &out,
        quote!(retry: <::reprise::__private::RetryPolicy as ::core::default::Default>::default()),
    );

    let out = normalize(activity(
        quote!(),
        quote!(
            async fn add_one(n: u64) -> Result<u64, ActivityError> {
                Ok(n + 1)
            }
        ),
    ));
    contains(
        &out,
        quote!(
            type Input = u64;
        ),
    );
    contains(&out, quote!(let __reprise_arg0 = __reprise_input;));
    contains(
        &out,
        quote!(::reprise::__private::Box::pin(__reprise_body(
            __reprise_arg0
        ))),
    );
}

#[test]
fn the_crate_option_renames_every_path() {
    let out = normalize(workflow(
        quote!(crate = "my_reprise"),
        quote!(
            async fn w(ctx: WorkflowContext) -> Result<(), WorkflowError> {
                Ok(())
            }
        ),
    ));
    assert!(!out.contains(":: reprise"), "{out}");
    contains(&out, quote!(impl my_reprise::__private::Workflow for w));
    contains(
        &out,
        quote!(__reprise_ctx: my_reprise::__private::WorkflowContext),
    );
    assert!(!out.contains("fn options"), "{out}");
}

#[test]
fn a_workflow_lists_the_signals_it_receives() {
    let out = normalize(workflow(
        quote!(signals = [Resize, Stop]),
        quote! {
            async fn w(ctx: WorkflowContext) -> Result<(), WorkflowError> {
                ctx.signal::<Stop>().recv().await;
                tokio::select! {
                    biased;
                    _ = ctx.signal::<Pause>().recv() => {}
                    _ = ctx.signal::<Stop>().recv() => {}
                }
                Ok(())
            }
        },
    ));
    assert!(!out.contains("compile_error"), "{out}");
    contains(
        &out,
        quote! {
            fn signals(&self) -> ::reprise::__private::Option<::reprise::__private::Vec<::reprise::__private::SignalSpec>> {
                ::reprise::__private::Option::Some(::reprise::__private::Vec::from([
                    ::reprise::__private::SignalSpec::of::<Stop>(),
                    ::reprise::__private::SignalSpec::of::<Pause>(),
                    ::reprise::__private::SignalSpec::of::<Resize>()
                ]))
            }
        },
    );

    let out = normalize(workflow(
        quote!(crate = "my_reprise"),
        quote! {
            async fn w(ctx: WorkflowContext) -> Result<(), WorkflowError> { Ok(()) }
        },
    ));
    contains(
        &out,
        quote! {
            fn signals(&self) -> my_reprise::__private::Option<my_reprise::__private::Vec<my_reprise::__private::SignalSpec>> {
                my_reprise::__private::Option::Some(my_reprise::__private::Vec::new())
            }
        },
    );
}

#[test]
fn activities_list_no_signals_and_refuse_the_option() {
    let out = normalize(activity(
        quote!(signals = [Stop]),
        quote! {
            async fn a(ctx: ActivityContext) -> Result<(), ActivityError> {
                ctx.signal::<Stop>();
                Ok(())
            }
        },
    ));
    assert!(!out.contains("fn signals"), "{out}");
    assert!(!out.contains("SignalSpec"), "{out}");
    assert!(
        out.contains("`signals` is not an `#[activity]` option"),
        "{out}"
    );
}

#[test]
fn a_workflow_types_continue_as_new_with_its_input() {
    let out = normalize(workflow(
        quote!(),
        quote! {
            async fn w(ctx: WorkflowContext, n: u32) -> Result<(), WorkflowError> {
                ctx.continue_as_new(n + 1)
            }
        },
    ));
    contains(
        &out,
        quote!(ctx.continue_as_new(::reprise::__private::continue_as_new_input::<u32>(n + 1))),
    );
}

#[test]
fn retry_fields_are_spliced_as_numbers() {
    let out = normalize(activity(
        quote!(retry(
            initial_interval = "2s",
            max_interval = "30s",
            backoff_coefficient = 1.5,
            non_retryable = []
        )),
        quote!(
            async fn a() -> Result<(), ActivityError> {
                Ok(())
            }
        ),
    ));
    contains(
        &out,
        quote! {
            retry: ::reprise::__private::RetryPolicy {
                initial_interval: ::reprise::__private::Duration::from_millis(2000u64),
                backoff_coefficient: 1.5f64,
                max_interval: ::reprise::__private::Option::Some(::reprise::__private::Duration::from_millis(30000u64)),
                non_retryable_error_types: ::reprise::__private::Vec::new(),
                ..::core::default::Default::default()
            }
        },
    );
}

#[test]
fn a_complete_retry_policy_has_no_struct_update() {
    let out = normalize(activity(
        quote!(retry(
            max_attempts = 5,
            initial_interval = "2s",
            max_interval = "30s",
            backoff_coefficient = 2.0,
            non_retryable = ["E"]
        )),
        quote!(
            async fn a() -> Result<(), ActivityError> {
                Ok(())
            }
        ),
    ));
    assert!(!out.contains("Default :: default ()"), "{out}");
    contains(
        &out,
        quote!(max_attempts: ::reprise::__private::Option::Some(5u32),),
    );
}

#[test]
fn option_errors_keep_the_full_expansion() {
    let out = normalize(activity(
        quote!(start_to_close = "5 parsecs"),
        quote!(
            async fn a() -> Result<(), ActivityError> {
                Ok(())
            }
        ),
    ));
    assert!(out.contains("compile_error"));
    contains(&out, quote!(impl ::reprise::__private::Activity for a));
    contains(
        &out,
        quote!(start_to_close: ::reprise::__private::Option::None),
    );
}

#[test]
fn a_workflows_missing_async_is_reported_and_fixed_in_the_body() {
    let out = normalize(workflow(
        quote!(),
        quote!(
            fn w(ctx: WorkflowContext) -> Result<(), WorkflowError> {
                Ok(())
            }
        ),
    ));
    assert!(out.contains("a workflow must be an `async fn`"));
    contains(&out, quote!(async fn __reprise_body(ctx: WorkflowContext)));
}

#[test]
fn a_synchronous_activity_runs_on_the_blocking_pool() {
    let out = normalize(activity(
        quote!(),
        quote!(
            fn parse(ctx: ActivityContext, path: String, n: u8) -> Result<u64, ActivityError> {
                Ok(0)
            }
        ),
    ));
    assert!(!out.contains("compile_error"), "{out}");
    assert!(!out.contains("async fn"), "{out}");
    assert!(!out.contains("unused_async"), "{out}");
    contains(
        &out,
        quote!(#[allow(clippy::needless_pass_by_value, clippy::unnecessary_wraps)] fn __reprise_body),
    );
    assert!(!out.contains("fn resources"), "{out}");
    contains(
        &out,
        quote!(fn __reprise_body(ctx: ActivityContext, path: String, n: u8) -> Result<u64, ActivityError>),
    );
    contains(
        &out,
        quote! {
            let (__reprise_arg0, __reprise_arg1,) = __reprise_input;
            ::reprise::__private::Box::pin(async move {
                ::reprise::__private::blocking(move || __reprise_body(
                    __reprise_ctx,
                    __reprise_arg0,
                    __reprise_arg1
                )).await
            })
        },
    );

    let out = normalize(activity(
        quote!(),
        quote!(
            unsafe fn tick() -> Result<(), ActivityError> {
                Ok(())
            }
        ),
    ));
    assert!(out.contains("an activity cannot be `unsafe`"), "{out}");
    contains(
        &out,
        quote! {
            fn __reprise_body() -> Result<(), ActivityError> { Ok(()) }
            let () = __reprise_input;
            ::reprise::__private::Box::pin(async move {
                ::reprise::__private::blocking(__reprise_body).await
            })
        },
    );
}

#[test]
fn resources_are_got_from_the_context_in_the_users_order() {
    let out = normalize(activity(
        quote!(),
        quote!(
            async fn load(
                ctx: ActivityContext,
                db: Resource<Pool>,
                rows: Vec<Row>,
                http: reprise::Resource<http::Client>,
            ) -> Result<usize, ActivityError> {
                Ok(rows.len())
            }
        ),
    ));
    assert!(!out.contains("compile_error"), "{out}");
    contains(&out, quote! { type Input = Vec<Row>; });
    assert!(!out.contains("assert_payload"), "{out}");
    contains(
        &out,
        quote! {
            fn resources(&self) -> ::reprise::__private::Vec<::reprise::__private::ResourceNeed> {
                ::reprise::__private::Vec::from([
                    ::reprise::__private::ResourceNeed::of::<Pool>(),
                    ::reprise::__private::ResourceNeed::of::<http::Client>()
                ])
            }
        },
    );
    contains(
        &out,
        quote! {
            let __reprise_arg0 = __reprise_input;
            ::reprise::__private::Box::pin(async move {
                let __reprise_res0 = match ::reprise::__private::resource::<Pool>(&__reprise_ctx) {
                    ::reprise::__private::Result::Ok(resource) => resource,
                    ::reprise::__private::Result::Err(error) => return ::reprise::__private::Result::Err(error),
                };
                let __reprise_res1 = match ::reprise::__private::resource::<http::Client>(&__reprise_ctx) {
                    ::reprise::__private::Result::Ok(resource) => resource,
                    ::reprise::__private::Result::Err(error) => return ::reprise::__private::Result::Err(error),
                };
                __reprise_body(__reprise_ctx, __reprise_res0, __reprise_arg0, __reprise_res1).await
            })
        },
    );

    let out = normalize(activity(
        quote!(),
        quote!(
            fn scale(a: u64, factor: Resource<Factor>, b: u64) -> Result<u64, ActivityError> {
                Ok(a * b * factor.0)
            }
        ),
    ));
    contains(&out, quote! { type Input = (u64, u64,); });
    contains(
        &out,
        quote!(
            ::reprise::__private::blocking(move || __reprise_body(
                __reprise_arg0,
                __reprise_res0,
                __reprise_arg1
            ))
            .await
        ),
    );
}

#[test]
fn malformed_resources_emit_only_the_unit_struct() {
    let out = normalize(activity(
        quote!(),
        quote!(
            async fn a(db: &Resource<Pool>) -> Result<(), ActivityError> {
                Ok(())
            }
        ),
    ));
    assert!(out.contains("take the `Resource` by value"), "{out}");
    assert!(!out.contains("impl"), "{out}");
}

#[test]
fn limits_are_spliced_as_numbers() {
    let out = normalize(activity(
        quote!(max_concurrent = 4, rate = "20/m"),
        quote!(
            async fn a() -> Result<(), ActivityError> {
                Ok(())
            }
        ),
    ));
    contains(
        &out,
        quote! {
            max_concurrent: ::reprise::__private::Option::Some(4u32),
            rate: ::reprise::__private::Option::Some(::reprise::__private::Rate {
                count: 20u32,
                per: ::reprise::__private::Duration::from_millis(60000u64),
            }),
            limit_key: ::reprise::__private::Option::None,
        },
    );
}

#[test]
fn unusable_signatures_emit_only_the_unit_struct() {
    let out = normalize(activity(
        quote!(),
        quote!(
            async fn a<T>(t: T) -> Result<T, ActivityError> {
                Ok(t)
            }
        ),
    ));
    contains(
        &out,
        quote!(
            struct a;
        ),
    );
    assert!(!out.contains("impl"), "{out}");
    assert!(out.contains("an activity cannot have generic parameters"));

    let out = normalize(workflow(
        quote!(),
        quote!(
            async fn w(n: u8) -> Result<(), WorkflowError> {
                Ok(())
            }
        ),
    ));
    contains(
        &out,
        quote!(
            struct w;
        ),
    );
    assert!(!out.contains("impl"), "{out}");
}

#[test]
fn methods_taking_self_are_passed_through() {
    let out = normalize(activity(
        quote!(),
        quote!(
            async fn a(&self) -> Result<(), ActivityError> {
                Ok(())
            }
        ),
    ));
    contains(
        &out,
        quote!(
            async fn a(&self) -> Result<(), ActivityError> {
                Ok(())
            }
        ),
    );
    assert!(!out.contains("struct"), "{out}");
    assert!(out.contains("compile_error"));
}

#[test]
fn items_that_are_not_functions_are_kept_with_an_error() {
    let out = normalize(activity(
        quote!(),
        quote!(
            struct S;
        ),
    ));
    contains(
        &out,
        quote!(
            struct S;
        ),
    );
    assert!(out.contains("`#[activity]` applies to a function"), "{out}");
}

#[test]
fn other_attributes_stay_on_the_body_and_docs_go_to_the_struct() {
    let out = normalize(activity(
        quote!(),
        quote! {
            /// Doc.
            #[allow(unused_variables)]
            async fn a(x: u8) -> Result<(), ActivityError> { Ok(()) }
        },
    ));
    contains(
        &out,
        quote!(#[allow(unused_variables)] #[allow(clippy::unused_async)] async fn __reprise_body),
    );
    contains(
        &out,
        quote!(#[doc = r" Doc."] #[allow(non_camel_case_types)]),
    );
}

#[test]
fn raw_identifiers_give_plain_names() {
    let out = normalize(activity(
        quote!(),
        quote!(
            async fn r#type() -> Result<(), ActivityError> {
                Ok(())
            }
        ),
    ));
    contains(
        &out,
        quote!(
            const NAME: &'static str = "type";
        ),
    );
}
