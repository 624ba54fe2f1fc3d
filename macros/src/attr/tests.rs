//! Unit tests of `attr.rs`.

use super::*;
use quote::quote;

fn activity(args: TokenStream) -> (Options, Vec<String>) {
    let mut errors = Errors::default();
    let options = Options::from_args(Scope::Activity, args, &mut errors);
    (options, errors.messages())
}

fn workflow(args: TokenStream) -> (Options, Vec<String>) {
    let mut errors = Errors::default();
    let options = Options::from_args(Scope::Workflow, args, &mut errors);
    (options, errors.messages())
}

#[test]
fn edit_distance_counts_insertions_deletions_and_substitutions() {
    assert_eq!(edit_distance("", ""), 0);
    assert_eq!(edit_distance("name", "name"), 0);
    assert_eq!(edit_distance("nmae", "name"), 2);
    assert_eq!(edit_distance("start_to_clos", "start_to_close"), 1);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(edit_distance("", "abc"), 3);
}

#[test]
fn closest_suggests_only_near_keys() {
    let keys = Scope::Activity.keys().iter().map(|k| k.as_str());
    assert_eq!(
        closest("stat_to_close", keys.clone()),
        Some("start_to_close")
    );
    assert_eq!(closest("nam", keys.clone()), Some("name"));
    assert_eq!(closest("timeout", keys), None);
}

#[test]
fn empty_arguments_give_defaults() {
    let (options, errors) = activity(quote!());
    assert!(errors.is_empty());
    assert!(options.name.is_none() && options.retry.is_none());
    assert_eq!(options.krate().to_token_stream().to_string(), ":: reprise");
}

#[test]
fn parses_every_activity_option() {
    let (options, errors) = activity(quote!(
        name = "LoadData",
        crate = "my_reprise",
        start_to_close = "5m",
        schedule_to_close = "1h 30m",
        heartbeat_timeout = "30s",
        retry(
            max_attempts = 5,
            initial_interval = "2s",
            max_interval = "30s",
            backoff_coefficient = 1.5,
            non_retryable = ["ValidationError", "NotFound"],
        ),
        max_concurrent = 4,
        rate = "20/s",
    ));
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(options.max_concurrent.unwrap().value, 4);
    let rate = options.rate.unwrap();
    assert_eq!((rate.count, rate.per_millis), (20, 1_000));
    assert_eq!(options.name.unwrap().value(), "LoadData");
    assert_eq!(
        options.krate.unwrap().to_token_stream().to_string(),
        "my_reprise"
    );
    assert_eq!(options.start_to_close.unwrap().millis, 300_000);
    assert_eq!(options.schedule_to_close.unwrap().millis, 5_400_000);
    assert_eq!(options.heartbeat_timeout.unwrap().millis, 30_000);
    let retry = options.retry.unwrap();
    assert_eq!(retry.max_attempts, Some(5));
    assert_eq!(retry.initial_interval.unwrap().millis, 2_000);
    assert_eq!(retry.max_interval.unwrap().millis, 30_000);
    assert_eq!(retry.backoff_coefficient, Some(1.5));
    let kinds: Vec<String> = retry
        .non_retryable
        .unwrap()
        .iter()
        .map(LitStr::value)
        .collect();
    assert_eq!(kinds, ["ValidationError", "NotFound"]);
}

#[test]
fn integer_backoff_coefficient_and_sub_second_durations() {
    let (options, errors) = activity(quote!(
        start_to_close = "250ms",
        retry(backoff_coefficient = 3)
    ));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(options.start_to_close.unwrap().millis, 250);
    assert_eq!(options.retry.unwrap().backoff_coefficient, Some(3.0));
}

#[test]
fn bad_durations_are_errors() {
    let (options, errors) = activity(quote!(start_to_close = "5 parsecs"));
    assert!(options.start_to_close.is_none());
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("invalid duration `5 parsecs`: unknown unit `parsecs`"),
        "{errors:?}"
    );

    let (_, errors) = activity(quote!(heartbeat_timeout = "0s"));
    assert_eq!(errors, ["`heartbeat_timeout` must be longer than zero"]);

    let (_, errors) = activity(quote!(start_to_close = "1500us"));
    assert_eq!(
        errors,
        ["`start_to_close` is counted in whole milliseconds: `1500us` is not"]
    );

    let (_, errors) = activity(quote!(start_to_close = 30));
    assert_eq!(
        errors,
        ["expected a duration string: `start_to_close = \"5m\"`"]
    );

    let (_, errors) = activity(quote!(start_to_close));
    assert_eq!(
        errors,
        ["expected a duration string: `start_to_close = \"5m\"`"]
    );
}

#[test]
fn retry_values_are_checked() {
    let (_, errors) = activity(quote!(retry(max_attempts = 0)));
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("`max_attempts` must be at least 1"));

    let (_, errors) = activity(quote!(retry(max_attempts = "5")));
    assert_eq!(errors, ["expected a positive integer: `max_attempts = 5`"]);

    let (_, errors) = activity(quote!(retry(max_attempts = -1)));
    assert_eq!(errors, ["expected a positive integer: `max_attempts = 5`"]);

    let (_, errors) = activity(quote!(retry(backoff_coefficient = 0.5)));
    assert_eq!(
        errors,
        ["`backoff_coefficient` must be at least 1.0 so delays do not shrink, not 0.5"]
    );

    let (_, errors) = activity(quote!(retry(non_retryable = "ValidationError")));
    assert_eq!(
        errors,
        ["expected a list of error kinds: `non_retryable = [\"ValidationError\"]`"]
    );

    let (_, errors) = activity(quote!(retry(non_retryable = ["A", 1])));
    assert_eq!(
        errors,
        ["expected a string literal naming an error kind: `non_retryable = [\"ValidationError\"]`"]
    );

    let (_, errors) = activity(quote!(retry = 5));
    assert_eq!(
        errors,
        ["expected a parenthesized list: `retry(max_attempts = 5)`"]
    );
}

#[test]
fn rates_are_parsed_like_the_runtime_does() {
    assert_eq!(parse_rate("20/s"), Ok((20, 1_000)));
    assert_eq!(parse_rate(" 100 / m "), Ok((100, 60_000)));
    assert_eq!(parse_rate("1000/h"), Ok((1000, 3_600_000)));
    for bad in [
        "fast",
        "20",
        "20/d",
        "/s",
        "-1/s",
        "2.5/s",
        "20/s/s",
        "99999999999/s",
    ] {
        assert_eq!(
            parse_rate(bad),
            Err(format!(
                "invalid rate `{bad}`: write `\"20/s\"`, `\"100/m\"` or `\"1000/h\"`"
            ))
        );
    }
    assert_eq!(
        parse_rate("0/s"),
        Err("invalid rate `0/s`: at least one attempt per period".to_owned())
    );
}

#[test]
fn limit_values_are_checked() {
    let (options, errors) = activity(quote!(max_concurrent = 1, rate = " 3 / h "));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(options.max_concurrent.unwrap().value, 1);
    let rate = options.rate.unwrap();
    assert_eq!((rate.count, rate.per_millis), (3, 3_600_000));

    let (options, errors) = activity(quote!(max_concurrent = 0));
    assert!(options.max_concurrent.is_none());
    assert_eq!(
        errors,
        ["`max_concurrent` must be at least 1; leave it out for no limit"]
    );
    for value in [quote!("4"), quote!(-4), quote!(4.0)] {
        let (_, errors) = activity(quote!(max_concurrent = #value));
        assert_eq!(
            errors,
            ["expected a positive integer: `max_concurrent = 4`"]
        );
    }
    let (_, errors) = activity(quote!(max_concurrent = 5_000_000_000));
    assert_eq!(errors, ["number too large to fit in target type"]);

    let (options, errors) = activity(quote!(rate = "fast"));
    assert!(options.rate.is_none());
    assert_eq!(
        errors,
        ["invalid rate `fast`: write `\"20/s\"`, `\"100/m\"` or `\"1000/h\"`"]
    );
    let (_, errors) = activity(quote!(rate = "0/s"));
    assert_eq!(
        errors,
        ["invalid rate `0/s`: at least one attempt per period"]
    );
    for value in [quote!(= 20), quote!()] {
        let (_, errors) = activity(quote!(rate #value));
        assert_eq!(errors, ["expected a rate string: `rate = \"20/s\"`"]);
    }

    let (_, errors) = workflow(quote!(max_concurrent = 2, rate = "1/s"));
    assert_eq!(
        errors,
        [
            "`max_concurrent` is an activity option; `#[workflow]` takes `name`, `crate` and `signals`",
            "`rate` is an activity option; `#[workflow]` takes `name`, `crate` and `signals`",
        ]
    );
    let (_, errors) = activity(quote!(retry(rate = "1/s")));
    assert_eq!(
        errors,
        [
            "`rate` is not a `retry(...)` option; it takes `max_attempts`, `initial_interval`, \
          `max_interval`, `backoff_coefficient` and `non_retryable`"
        ]
    );
}

#[test]
fn max_interval_must_not_be_shorter_than_initial_interval() {
    let (_, errors) = activity(quote!(retry(initial_interval = "2s", max_interval = "1s")));
    assert_eq!(
        errors,
        ["`max_interval` (1s) must not be shorter than `initial_interval` (2s)"]
    );
    let (_, errors) = activity(quote!(retry(max_interval = "500ms")));
    assert_eq!(
        errors,
        ["`max_interval` (500ms) must not be shorter than the default `initial_interval` (1s)"]
    );
    let (_, errors) = activity(quote!(retry(
        initial_interval = "100ms",
        max_interval = "500ms"
    )));
    assert!(errors.is_empty());
}

#[test]
fn duplicates_are_reported_once_each_and_the_first_value_kept() {
    let (options, errors) = activity(quote!(
        name = "a",
        name = "b",
        retry(max_attempts = 2, max_attempts = 3),
        retry()
    ));
    assert_eq!(
        errors,
        [
            "duplicate option `name`: give it once",
            "duplicate option `max_attempts`: give it once",
            "duplicate option `retry`: give it once",
        ]
    );
    assert_eq!(options.name.unwrap().value(), "a");
    assert_eq!(options.retry.unwrap().max_attempts, Some(2));
}

#[test]
fn duplicate_of_an_invalid_value_is_still_a_duplicate() {
    let (_, errors) = activity(quote!(start_to_close = "x", start_to_close = "1s"));
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[1], "duplicate option `start_to_close`: give it once");
}

#[test]
fn unknown_keys_list_the_valid_ones_and_suggest_a_close_one() {
    let (_, errors) = activity(quote!(start_to_clos = "5m"));
    assert_eq!(
        errors,
        [
            "unknown `#[activity]` option `start_to_clos`; did you mean `start_to_close`? \
          valid options are `name`, `crate`, `start_to_close`, `schedule_to_close`, \
          `heartbeat_timeout`, `retry`, `max_concurrent` and `rate`"
        ]
    );
    let (_, errors) = activity(quote!(timeout = "5m"));
    assert_eq!(
        errors,
        [
            "unknown `#[activity]` option `timeout`; valid options are `name`, `crate`, \
          `start_to_close`, `schedule_to_close`, `heartbeat_timeout`, `retry`, \
          `max_concurrent` and `rate`"
        ]
    );
    let (_, errors) = activity(quote!(max_concurent = 4));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with(
            "unknown `#[activity]` option `max_concurent`; did you mean `max_concurrent`?"
        ),
        "{errors:?}"
    );
    let (_, errors) = activity(quote!(retry(max_atempts = 3)));
    assert_eq!(
        errors,
        [
            "unknown `retry(...)` option `max_atempts`; did you mean `max_attempts`? \
          valid options are `max_attempts`, `initial_interval`, `max_interval`, \
          `backoff_coefficient` and `non_retryable`"
        ]
    );
}

#[test]
fn options_in_the_wrong_place_say_where_they_belong() {
    let (_, errors) = workflow(quote!(name = "Etl", start_to_close = "5m"));
    assert_eq!(
        errors,
        ["`start_to_close` is an activity option; `#[workflow]` takes `name`, `crate` and `signals`"]
    );
    let (_, errors) = activity(quote!(max_attempts = 3));
    assert_eq!(
        errors,
        ["`max_attempts` is a retry option: write `retry(max_attempts = 5)`"]
    );
    let (_, errors) = workflow(quote!(max_attempts = 3));
    assert_eq!(
        errors,
        ["`max_attempts` is an activity retry option; `#[workflow]` takes `name`, `crate` and `signals`"]
    );
    let (_, errors) = activity(quote!(retry(name = "x")));
    assert_eq!(
        errors,
        [
            "`name` is not a `retry(...)` option; it takes `max_attempts`, `initial_interval`, \
          `max_interval`, `backoff_coefficient` and `non_retryable`"
        ]
    );
}

#[test]
fn every_error_is_collected() {
    let (_, errors) = activity(quote!(
        start_to_close = "5 parsecs",
        retry(max_attempts = 0, backoff_coefficient = 0.1),
        nme = "x"
    ));
    assert_eq!(errors.len(), 4, "{errors:?}");
}

#[test]
fn string_values_are_checked() {
    let (_, errors) = activity(quote!(name = LoadData));
    assert_eq!(errors, ["expected a string literal: `name = \"LoadData\"`"]);
    let (_, errors) = activity(quote!(name = ""));
    assert_eq!(errors, ["the name must not be empty"]);
    let (_, errors) = workflow(quote!(crate = "not a path"));
    assert_eq!(
        errors,
        ["`not a path` is not a path: write `crate = \"reprise\"` or `crate = \"::my_crate::reprise\"`"]
    );
    let (options, errors) = workflow(quote!(crate = "::my::reprise"));
    assert!(errors.is_empty());
    assert_eq!(
        options.krate().to_token_stream().to_string(),
        ":: my :: reprise"
    );
}

#[test]
fn syntax_errors_are_reported() {
    let (_, errors) = activity(quote!(name "x"));
    assert_eq!(errors.len(), 1);
}

fn tokens(types: &[Type]) -> Vec<String> {
    types
        .iter()
        .map(|ty| ty.to_token_stream().to_string())
        .collect()
}

#[test]
fn a_workflow_lists_signal_types() {
    let (options, errors) = workflow(quote!(signals = [StopStreaming, crate::Resize]));
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(
        tokens(&options.signals.unwrap()),
        ["StopStreaming", "crate :: Resize"]
    );

    // Generic types are no expressions: the list is parsed as types.
    let (options, errors) = workflow(quote!(name = "w", signals = [Wrapper<Stop>, (A)]));
    assert_eq!(errors, Vec::<String>::new());
    assert_eq!(
        tokens(&options.signals.unwrap()),
        ["Wrapper < Stop >", "(A)"]
    );

    let (options, errors) = workflow(quote!(signals = []));
    assert!(errors.is_empty(), "{errors:?}");
    assert!(options.signals.unwrap().is_empty());
    assert!(workflow(quote!()).0.signals.is_none());
}

#[test]
fn signal_lists_are_checked() {
    for value in [quote!(= StopStreaming), quote!(= "stop"), quote!()] {
        let (_, errors) = workflow(quote!(signals #value));
        assert_eq!(
            errors,
            ["expected a list of signal types: `signals = [StopStreaming]`"]
        );
    }
    let (options, errors) = workflow(quote!(signals = ["stop", Stop, 1]));
    assert_eq!(
        errors,
        [
            "expected a signal type: `signals = [StopStreaming]`",
            "expected a signal type: `signals = [StopStreaming]`",
        ]
    );
    assert_eq!(tokens(&options.signals.unwrap()), ["Stop"]);

    let (_, errors) = workflow(quote!(signals = [A], signals = [B]));
    assert_eq!(errors, ["duplicate option `signals`: give it once"]);
    let (_, errors) = workflow(quote!(name = [Wrapper<Stop>]));
    assert_eq!(errors, ["expected a string literal: `name = \"LoadData\"`"]);
    let (_, errors) = workflow(quote!(signal = [Stop]));
    assert_eq!(
        errors,
        [
            "unknown `#[workflow]` option `signal`; did you mean `signals`? valid options are \
          `name`, `crate` and `signals`"
        ]
    );
}

#[test]
fn signals_is_a_workflow_option_only() {
    let (_, errors) = activity(quote!(signals = [Stop]));
    assert_eq!(
        errors,
        [
            "`signals` is not an `#[activity]` option; it takes `name`, `crate`, \
          `start_to_close`, `schedule_to_close`, `heartbeat_timeout`, `retry`, \
          `max_concurrent` and `rate`"
        ]
    );
    let (_, errors) = activity(quote!(retry(signals = [Stop])));
    assert_eq!(
        errors,
        [
            "`signals` is not a `retry(...)` option; it takes `max_attempts`, \
          `initial_interval`, `max_interval`, `backoff_coefficient` and `non_retryable`"
        ]
    );
    let input: syn::DeriveInput = syn::parse_quote! {
        #[signal(signals = [Stop])]
        struct Stop;
    };
    let mut errors = Errors::default();
    Options::from_signal_attrs(&input.attrs, &mut errors);
    assert_eq!(
        errors.messages(),
        ["`signals` is not a `#[signal]` option; it takes `name` and `crate`"]
    );
}

#[test]
fn signal_attributes_share_the_parser() {
    let input: syn::DeriveInput = syn::parse_quote! {
        #[signal(name = "stop")]
        #[signal(name = "again", start_to_close = "1s", nam = "x")]
        #[signal]
        struct Stop;
    };
    let mut errors = Errors::default();
    let options = Options::from_signal_attrs(&input.attrs, &mut errors);
    assert_eq!(options.name.unwrap().value(), "stop");
    assert_eq!(
        errors.messages(),
        [
            "duplicate option `name`: give it once",
            "`start_to_close` is an activity option; `#[signal]` takes `name` and `crate`",
            "unknown `#[signal]` option `nam`; did you mean `name`? valid options are `name` and `crate`",
            "expected `#[signal(name = \"...\")]`",
        ]
    );
}
