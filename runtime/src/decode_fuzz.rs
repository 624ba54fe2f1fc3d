//! Property tests of the decoders of stored data: history events, inbox
//! payloads, and the rows of the SQLite and PostgreSQL stores, fed arbitrary
//! bytes, arbitrary JSON and valid records with parts replaced by arbitrary
//! JSON. A decoder never panics: it decodes, or returns a typed error that
//! names the row (and for store rows the table, key and column).
//!
//! Each property checks the decoder against an oracle written here (which
//! row and column must be named first), not only the absence of panics.
//!
//! Case counts are moderate by default so that `cargo test` stays fast. The
//! long mode takes them from `REPRISE_FUZZ_CASES`: the pure properties run
//! that many cases each, the SQLite ones a thousandth of it and the
//! PostgreSQL one a ten-thousandth (at least their defaults), e.g.
//!
//! ```text
//! REPRISE_FUZZ_CASES=1000000 cargo test --release -p reprise --features postgres decode_fuzz
//! ```

use std::fmt::Debug;
use std::path::PathBuf;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::strategy::Union;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::ToSql;
use serde_json::{Map, Number, Value};

use crate::definition::{ActivityOptions, Rate};
use crate::error::{FailureData, WorkflowError};
use crate::history::{Event, HistoryError, MarkerKind, RecordedHistory, SignalData};
use crate::retry::RetryPolicy;
use crate::store::sqlite::SqliteStore;
use crate::store::{InboxItem, InboxRecord, Store, TaskKind, WorkflowStatus};

// ---------------------------------------------------------------------------
// Case counts and the runner

/// The environment variable of the long mode.
const CASES_ENV: &str = "REPRISE_FUZZ_CASES";

/// Cases of a property: `REPRISE_FUZZ_CASES`, or `default`.
fn cases(default: u32) -> u32 {
    std::env::var(CASES_ENV)
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(default)
}

/// Cases of a property that writes to a database: `REPRISE_FUZZ_CASES`
/// divided by `divisor` (at least `default`), or `default`.
fn db_cases(default: u32, divisor: u32) -> u32 {
    match std::env::var(CASES_ENV)
        .ok()
        .and_then(|n| n.trim().parse::<u32>().ok())
    {
        Some(n) => (n / divisor).max(default),
        None => default,
    }
}

/// Runs `test` on `cases` values of `strategy`, without failure files;
/// a failure (or panic) is shrunk and reported with its minimal input.
fn check<S>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2048,
        ..Config::default()
    };
    let started = std::time::Instant::now();
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&strategy, test) {
        panic!("property `{name}` failed: {e}");
    }
    eprintln!(
        "decode_fuzz: `{name}`: {cases} cases in {:.2?}",
        started.elapsed()
    );
}

/// At most 100 characters of `s`, as the stores clip values in messages.
fn clip(s: &str) -> String {
    match s.char_indices().nth(100) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

/// Longest error message a decoder may return: errors end up in logs and in
/// a failed run's stored error, so a huge stored value must not be copied
/// into them whole.
const MAX_MESSAGE_CHARS: usize = 2_000;

fn bounded(message: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        message.chars().count() <= MAX_MESSAGE_CHARS,
        "message of {} characters: {}…",
        message.chars().count(),
        clip(message)
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Arbitrary text and JSON

/// Field names of events, payloads and options, so that arbitrary objects
/// often have the right keys with the wrong values.
const FIELD_NAMES: &[&str] = &[
    "type",
    "seq",
    "name",
    "input",
    "output",
    "payload",
    "failure",
    "kind",
    "message",
    "time_ms",
    "fire_at_ms",
    "value",
    "error",
    "reason",
    "run_id",
    "signals",
    "attempts",
    "cancelled",
    "non_retryable",
    "secs",
    "nanos",
    "retry",
    "rate",
    "count",
    "per",
    "start_to_close",
    "initial_interval",
    "backoff_coefficient",
    "max_attempts",
];

/// The names of every event type, and a few that are none.
const EVENT_TYPES: &[&str] = &[
    "WorkflowStarted",
    "Activation",
    "ActivityCompleted",
    "ActivityFailed",
    "TimerFired",
    "SignalReceived",
    "CancelRequested",
    "ActivityScheduled",
    "TimerStarted",
    "Marker",
    "WorkflowCompleted",
    "WorkflowFailed",
    "WorkflowCancelled",
    "WorkflowContinuedAsNew",
    "WorkflowTerminated",
    "TimerCancelled",
    "Bogus",
    "",
    "workflowstarted",
];

/// The inbox kinds, and a few that are none.
const INBOX_KINDS: &[&str] = &[
    "signal",
    "cancel",
    "wake",
    "terminate",
    "completed",
    "Signal",
    "",
    "bogus",
];

/// Known words: field names, event types, kinds, statuses.
fn known_word() -> BoxedStrategy<String> {
    let words: Vec<&'static str> = FIELD_NAMES
        .iter()
        .chain(EVENT_TYPES)
        .chain(INBOX_KINDS)
        .chain(&[
            "side_effect",
            "uuid",
            "random",
            "activity",
            "timer",
            "running",
            "blocked",
            "completed",
            "failed",
            "cancelled",
            "terminated",
            "continued_as_new",
        ])
        .copied()
        .collect();
    select(words).prop_map(str::to_owned).boxed()
}

/// Bytes made into text, lossily.
fn lossy_text() -> BoxedStrategy<String> {
    vec(any::<u8>(), 0..200)
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned())
        .boxed()
}

/// Any string: known words, short identifiers, arbitrary Unicode, lossy bytes.
fn arb_string() -> BoxedStrategy<String> {
    prop_oneof![
        3 => known_word(),
        2 => "[a-z0-9_]{0,8}",
        2 => any::<String>(),
        1 => lossy_text(),
    ]
    .boxed()
}

/// Any JSON number, with the edges of the integer types the decoders use.
fn arb_number() -> BoxedStrategy<Number> {
    prop_oneof![
        3 => (0u64..8).prop_map(Number::from),
        2 => select(vec![
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 1,
            i64::MAX as u64,
            i64::MAX as u64 + 1,
            u64::MAX,
        ])
        .prop_map(Number::from),
        2 => any::<u64>().prop_map(Number::from),
        2 => any::<i64>().prop_map(Number::from),
        2 => any::<f64>().prop_filter_map("finite", Number::from_f64),
        1 => select(vec![-0.0, 0.5, 1e300, -1e-300, 4294967296.0])
            .prop_filter_map("finite", Number::from_f64),
    ]
    .boxed()
}

/// Any JSON value, nested a few levels deep.
fn arb_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => arb_number().prop_map(Value::Number),
        2 => arb_string().prop_map(Value::String),
        1 => (0usize..5_000).prop_map(|n| Value::String("x".repeat(n))),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((arb_string(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
    .boxed()
}

/// `text` cut at a byte position (moved back to a character boundary).
fn cut(text: &str, at: Index) -> String {
    let mut end = at.index(text.len() + 1);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// JSON nested far deeper than the parser's recursion limit.
fn deep_json() -> BoxedStrategy<String> {
    (1usize..3000, any::<bool>(), any::<bool>())
        .prop_map(|(depth, arrays, closed)| {
            let (open, close) = if arrays {
                ("[", "]")
            } else {
                ("{\"type\":", "}")
            };
            let mut text = open.repeat(depth);
            text.push_str("null");
            if closed {
                text.push_str(&close.repeat(depth));
            }
            text
        })
        .boxed()
}

/// Text of any kind a stored JSON column could hold: JSON, cut JSON, deep
/// JSON, arbitrary text.
fn arb_json_text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => arb_json().prop_map(|v| v.to_string()),
        2 => (arb_json(), any::<Index>()).prop_map(|(v, at)| cut(&v.to_string(), at)),
        1 => deep_json(),
        2 => arb_string(),
        1 => lossy_text(),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------
// Mutations of valid JSON

/// What a mutation does at the node it reaches.
#[derive(Debug, Clone)]
enum Edit {
    /// Replaces the node.
    Replace(Value),
    /// Removes a field or element of the node.
    Remove(Index),
    /// Adds a field (to an object) or element (to an array), or replaces a
    /// scalar with an object of that field.
    Insert(String, Value),
}

/// An edit at the node reached by following `path` (each step picks a
/// field or element; the walk stops at a scalar or an empty container).
#[derive(Debug, Clone)]
struct Mutation {
    path: Vec<Index>,
    edit: Edit,
}

fn arb_mutation() -> BoxedStrategy<Mutation> {
    let edit = prop_oneof![
        4 => arb_json().prop_map(Edit::Replace),
        2 => any::<Index>().prop_map(Edit::Remove),
        1 => (arb_string(), arb_json()).prop_map(|(k, v)| Edit::Insert(k, v)),
    ];
    (vec(any::<Index>(), 0..4), edit)
        .prop_map(|(path, edit)| Mutation { path, edit })
        .boxed()
}

/// The node reached from `value` by following `path`.
fn node_at<'a>(value: &'a mut Value, path: &[Index]) -> &'a mut Value {
    let len = match &*value {
        Value::Object(map) => map.len(),
        Value::Array(items) => items.len(),
        _ => 0,
    };
    let Some((step, rest)) = path.split_first().filter(|_| len > 0) else {
        return value;
    };
    let i = step.index(len);
    match value {
        Value::Object(map) => match map.values_mut().nth(i) {
            Some(child) => node_at(child, rest),
            None => unreachable!("an index below the length"),
        },
        Value::Array(items) => node_at(&mut items[i], rest),
        other => other,
    }
}

fn mutate(value: &mut Value, mutation: &Mutation) {
    let node = node_at(value, &mutation.path);
    match &mutation.edit {
        Edit::Replace(new) => *node = new.clone(),
        Edit::Remove(at) => match node {
            Value::Object(map) if !map.is_empty() => {
                let key = map.keys().nth(at.index(map.len())).cloned();
                if let Some(key) = key {
                    map.remove(&key);
                }
            }
            Value::Array(items) if !items.is_empty() => {
                items.remove(at.index(items.len()));
            }
            _ => *node = Value::Null,
        },
        Edit::Insert(key, new) => match node {
            Value::Object(map) => {
                map.insert(key.clone(), new.clone());
            }
            Value::Array(items) => items.push(new.clone()),
            other => {
                let mut map = Map::new();
                map.insert(key.clone(), new.clone());
                *other = Value::Object(map);
            }
        },
    }
}

// ---------------------------------------------------------------------------
// Valid records

fn arb_failure() -> BoxedStrategy<FailureData> {
    (
        arb_string(),
        arb_string(),
        any::<bool>(),
        any::<u32>(),
        any::<bool>(),
    )
        .prop_map(
            |(kind, message, non_retryable, attempts, cancelled)| FailureData {
                kind,
                message,
                non_retryable,
                attempts,
                cancelled,
            },
        )
        .boxed()
}

fn arb_signal() -> BoxedStrategy<SignalData> {
    (arb_string(), arb_json())
        .prop_map(|(name, payload)| SignalData { name, payload })
        .boxed()
}

fn arb_seq() -> BoxedStrategy<u32> {
    prop_oneof![3 => 0u32..8, 1 => any::<u32>()].boxed()
}

/// An event that delivers an input.
fn arb_input_event() -> BoxedStrategy<Event> {
    prop_oneof![
        (arb_seq(), arb_json()).prop_map(|(seq, output)| Event::ActivityCompleted { seq, output }),
        (arb_seq(), arb_failure())
            .prop_map(|(seq, failure)| Event::ActivityFailed { seq, failure }),
        arb_seq().prop_map(|seq| Event::TimerFired { seq }),
        arb_signal().prop_map(|signal| Event::SignalReceived { signal }),
        Just(Event::CancelRequested),
    ]
    .boxed()
}

/// An event that records a command.
fn arb_command_event() -> BoxedStrategy<Event> {
    let marker = select(vec![
        MarkerKind::SideEffect,
        MarkerKind::Uuid,
        MarkerKind::Random,
    ]);
    prop_oneof![
        (arb_seq(), arb_string()).prop_map(|(seq, name)| Event::ActivityScheduled { seq, name }),
        (arb_seq(), any::<u64>())
            .prop_map(|(seq, fire_at_ms)| Event::TimerStarted { seq, fire_at_ms }),
        (arb_seq(), marker, arb_json()).prop_map(|(seq, kind, value)| Event::Marker {
            seq,
            kind,
            value
        }),
    ]
    .boxed()
}

/// An event that ends the run.
fn arb_end_event() -> BoxedStrategy<Event> {
    prop_oneof![
        arb_json().prop_map(|output| Event::WorkflowCompleted { output }),
        arb_string().prop_map(|m| Event::WorkflowFailed {
            error: WorkflowError::new(m)
        }),
        Just(Event::WorkflowCancelled),
        (arb_string(), arb_json())
            .prop_map(|(run_id, input)| Event::WorkflowContinuedAsNew { run_id, input }),
        arb_string().prop_map(|reason| Event::WorkflowTerminated { reason }),
    ]
    .boxed()
}

fn arb_started_event() -> BoxedStrategy<Event> {
    (arb_string(), arb_json(), vec(arb_signal(), 0..3))
        .prop_map(|(name, input, signals)| Event::WorkflowStarted {
            name,
            input,
            signals,
        })
        .boxed()
}

/// Any event.
fn arb_event() -> BoxedStrategy<Event> {
    Union::new(vec![
        arb_started_event().boxed(),
        any::<u64>()
            .prop_map(|time_ms| Event::Activation { time_ms })
            .boxed(),
        arb_input_event().boxed(),
        arb_command_event().boxed(),
        arb_end_event().boxed(),
    ])
    .boxed()
}

/// A history that decodes: a start, then activations of inputs, commands
/// and perhaps an end.
fn arb_valid_history() -> BoxedStrategy<Vec<Event>> {
    let activation = (
        any::<u64>(),
        vec(arb_input_event(), 0..3),
        vec(arb_command_event(), 0..3),
        proptest::option::of(arb_end_event()),
    );
    (arb_started_event(), vec(activation, 0..4))
        .prop_map(|(start, activations)| {
            let mut events = vec![start];
            for (time_ms, inputs, commands, end) in activations {
                events.push(Event::Activation { time_ms });
                events.extend(inputs);
                events.extend(commands);
                events.extend(end);
            }
            events
        })
        .boxed()
}

// ---------------------------------------------------------------------------
// History rows

/// Rows `(index, text)` of a history.
type Rows = Vec<(u64, String)>;

/// Rows numbered by position, but for the ones given an index of their own.
fn number(rows: Vec<(Option<u64>, String)>) -> Rows {
    rows.into_iter()
        .enumerate()
        .map(|(i, (index, text))| (index.unwrap_or(i as u64), text))
        .collect()
}

/// A row index: mostly the row's position (`None`), sometimes another.
fn arb_index() -> BoxedStrategy<Option<u64>> {
    prop_oneof![
        12 => Just(None),
        1 => (0u64..10).prop_map(Some),
        1 => any::<u64>().prop_map(Some),
    ]
    .boxed()
}

/// The error `RecordedHistory::decode` must return for `rows`, as far as the
/// rows alone tell: the first row out of sequence or that is not an event.
fn expected_row_error(rows: &[(u64, String)]) -> Option<String> {
    for (position, (index, text)) in rows.iter().enumerate() {
        if *index != position as u64 {
            return Some(format!("history is missing row {position}"));
        }
        if serde_json::from_str::<Event>(text).is_err() {
            return Some(format!("history row {position} is not a valid event"));
        }
    }
    None
}

/// Decodes `rows` and checks the outcome against the oracle: `Ok`, or the
/// error of the first bad row, or (all rows being events) an error naming a
/// row that is out of place; every message bounded.
fn check_history(rows: &[(u64, String)]) -> Result<(), TestCaseError> {
    let result = RecordedHistory::decode(rows);
    let expected = expected_row_error(rows);
    match (result, expected) {
        (Ok(history), None) => {
            prop_assert_eq!(history.len, rows.len() as u64);
        }
        (Ok(_), Some(expected)) => {
            return Err(TestCaseError::fail(format!(
                "decoded, but expected `{expected}`"
            )))
        }
        (Err(e), Some(expected)) => {
            let message = e.to_string();
            prop_assert!(message.starts_with(&expected), "{message} vs {expected}");
            bounded(&message)?;
        }
        (Err(e), None) => {
            let message = e.to_string();
            match &e {
                HistoryError::Gap { index: 0 } if rows.is_empty() => {}
                HistoryError::OutOfPlace { index, .. } => {
                    prop_assert!(*index < rows.len() as u64, "{message}");
                    let named = format!("history row {index} is out of place");
                    prop_assert!(message.starts_with(&named), "{message}");
                }
                _ => {
                    return Err(TestCaseError::fail(format!(
                        "every row is an event, yet: {message}"
                    )))
                }
            }
            bounded(&message)?;
        }
    }
    Ok(())
}

#[test]
fn history_of_arbitrary_text() {
    let row_text = prop_oneof![
        3 => lossy_text(),
        1 => any::<String>(),
        3 => arb_json_text(),
        2 => (arb_event(), any::<Index>())
            .prop_map(|(e, at)| cut(&serde_json::to_string(&e).unwrap_or_default(), at)),
    ];
    check(
        "history of arbitrary text",
        cases(256),
        vec((arb_index(), row_text), 0..6),
        |rows| check_history(&number(rows)),
    );
}

#[test]
fn history_of_arbitrary_json() {
    check(
        "history of arbitrary json",
        cases(256),
        vec((arb_index(), arb_json()), 0..6),
        |rows| {
            let rows = rows
                .into_iter()
                .map(|(index, value)| (index, value.to_string()))
                .collect();
            check_history(&number(rows))
        },
    );
}

/// Valid histories with events mutated (fields replaced, removed, added,
/// nested values changed), rows dropped, repeated, moved or renumbered.
#[test]
fn history_of_mutated_events() {
    #[derive(Debug, Clone)]
    enum RowEdit {
        Json(Index, Mutation),
        Type(Index, String),
        Replace(Index, Event),
        Drop(Index),
        Repeat(Index),
        Swap(Index, Index),
        Renumber(Index, u64),
    }
    let row_edit = prop_oneof![
        6 => (any::<Index>(), arb_mutation()).prop_map(|(i, m)| RowEdit::Json(i, m)),
        2 => (any::<Index>(), select(EVENT_TYPES).prop_map(str::to_owned))
            .prop_map(|(i, t)| RowEdit::Type(i, t)),
        2 => (any::<Index>(), arb_event()).prop_map(|(i, e)| RowEdit::Replace(i, e)),
        1 => any::<Index>().prop_map(RowEdit::Drop),
        1 => any::<Index>().prop_map(RowEdit::Repeat),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(i, j)| RowEdit::Swap(i, j)),
        1 => (any::<Index>(), 0u64..12).prop_map(|(i, n)| RowEdit::Renumber(i, n)),
    ];
    let history = prop_oneof![
        3 => arb_valid_history(),
        1 => vec(arb_event(), 0..8),
    ];
    check(
        "history of mutated events",
        cases(256),
        (history, vec(row_edit, 0..4)),
        |(events, edits)| {
            let well_formed = RecordedHistory::from_events(events.clone()).is_ok();
            let mut rows: Vec<(u64, Value)> = events
                .iter()
                .enumerate()
                .map(|(i, e)| serde_json::to_value(e).map(|v| (i as u64, v)))
                .collect::<Result<_, _>>()
                .map_err(|e| TestCaseError::fail(format!("an event does not encode: {e}")))?;
            let unedited = edits.is_empty();
            for edit in edits {
                if rows.is_empty() {
                    break;
                }
                let len = rows.len();
                match edit {
                    RowEdit::Json(i, m) => mutate(&mut rows[i.index(len)].1, &m),
                    RowEdit::Type(i, t) => {
                        if let Value::Object(map) = &mut rows[i.index(len)].1 {
                            map.insert("type".into(), Value::String(t));
                        }
                    }
                    RowEdit::Replace(i, e) => {
                        rows[i.index(len)].1 = serde_json::to_value(&e).unwrap_or_default();
                    }
                    RowEdit::Drop(i) => {
                        rows.remove(i.index(len));
                        for (position, row) in rows.iter_mut().enumerate() {
                            row.0 = position as u64;
                        }
                    }
                    RowEdit::Repeat(i) => {
                        let row = rows[i.index(len)].clone();
                        rows.insert(i.index(len), row);
                        for (position, row) in rows.iter_mut().enumerate() {
                            row.0 = position as u64;
                        }
                    }
                    RowEdit::Swap(i, j) => {
                        let (i, j) = (i.index(len), j.index(len));
                        let (a, b) = (rows[i].1.clone(), rows[j].1.clone());
                        rows[i].1 = b;
                        rows[j].1 = a;
                    }
                    RowEdit::Renumber(i, n) => rows[i.index(len)].0 = n,
                }
            }
            let rows: Rows = rows
                .into_iter()
                .map(|(index, value)| (index, value.to_string()))
                .collect();
            if unedited && well_formed {
                prop_assert!(RecordedHistory::decode(&rows).is_ok());
            }
            check_history(&rows)
        },
    );
}

/// The generator of valid histories makes histories that decode, with
/// every event back as it was encoded.
#[test]
fn valid_histories_decode() {
    check(
        "valid histories decode",
        cases(64),
        arb_valid_history(),
        |events| {
            let rows: Rows = events
                .iter()
                .enumerate()
                .map(|(i, e)| (i as u64, serde_json::to_string(e).unwrap_or_default()))
                .collect();
            let history = RecordedHistory::decode(&rows)
                .map_err(|e| TestCaseError::fail(format!("a valid history: {e}")))?;
            prop_assert_eq!(history.len, events.len() as u64);
            let inputs: usize = history.activations.iter().map(|a| a.inputs.len()).sum();
            let expected = events.iter().filter(|e| e.as_input().is_some()).count();
            prop_assert_eq!(inputs, expected);
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// Inbox payloads

fn arb_inbox_item() -> BoxedStrategy<InboxItem> {
    prop_oneof![
        arb_signal().prop_map(InboxItem::Signal),
        Just(InboxItem::Cancel),
        Just(InboxItem::Wake),
        arb_string().prop_map(|reason| InboxItem::Terminate { reason }),
        (arb_seq(), arb_json()).prop_map(|(seq, output)| InboxItem::Completed {
            seq,
            result: Ok(output)
        }),
        (arb_seq(), arb_failure()).prop_map(|(seq, failure)| InboxItem::Completed {
            seq,
            result: Err(failure)
        }),
    ]
    .boxed()
}

/// A kind: a real one or any string.
fn arb_inbox_kind() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(INBOX_KINDS).prop_map(str::to_owned),
        1 => arb_string(),
    ]
    .boxed()
}

#[test]
fn inbox_payloads_decode_or_are_refused() {
    // A message as encoded, with its payload mutated, or arbitrary.
    let message = prop_oneof![
        2 => (arb_inbox_item(), vec(arb_mutation(), 0..3)).prop_map(|(item, mutations)| {
            let (kind, mut payload) = item.encode();
            for m in &mutations {
                mutate(&mut payload, m);
            }
            (kind.to_owned(), payload, mutations.is_empty().then_some(item))
        }),
        2 => (arb_inbox_kind(), arb_json()).prop_map(|(kind, payload)| (kind, payload, None)),
    ];
    check(
        "inbox payloads",
        cases(256),
        message,
        |(kind, payload, item)| {
            let decoded = InboxItem::decode(&kind, payload.clone());
            if let Some(item) = item {
                prop_assert_eq!(decoded.as_ref(), Some(&item), "round trip");
            }
            if let Some(decoded) = decoded {
                // What decodes encodes back to its kind.
                prop_assert_eq!(decoded.encode().0, kind.as_str());
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// SQLite rows

/// A value of a SQLite cell, text as raw bytes (not always UTF-8).
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

impl ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Cell::Null => ValueRef::Null,
            Cell::Int(n) => ValueRef::Integer(*n),
            Cell::Real(x) => ValueRef::Real(*x),
            Cell::Text(t) => ValueRef::Text(t),
            Cell::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

impl Cell {
    fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into().into_bytes())
    }

    fn read(value: ValueRef<'_>) -> Cell {
        match value {
            ValueRef::Null => Cell::Null,
            ValueRef::Integer(n) => Cell::Int(n),
            ValueRef::Real(x) => Cell::Real(x),
            ValueRef::Text(t) => Cell::Text(t.to_vec()),
            ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
        }
    }

    /// As the store shows a value in a message.
    fn show(&self) -> String {
        match self {
            Cell::Null => "NULL".to_owned(),
            Cell::Int(n) => n.to_string(),
            Cell::Real(x) => x.to_string(),
            Cell::Text(t) => format!("`{}`", clip(&String::from_utf8_lossy(t))),
            Cell::Blob(b) => format!("a blob of {} bytes", b.len()),
        }
    }

    fn as_text(&self) -> Option<&str> {
        match self {
            Cell::Text(t) => std::str::from_utf8(t).ok(),
            _ => None,
        }
    }

    fn as_int<T: TryFrom<i64>>(&self) -> Option<T> {
        match self {
            Cell::Int(n) => T::try_from(*n).ok(),
            _ => None,
        }
    }

    fn is_json<T: serde::de::DeserializeOwned>(&self) -> bool {
        self.as_text()
            .is_some_and(|t| serde_json::from_str::<T>(t).is_ok())
    }
}

/// A cell that is mostly `valid` (so that a row's later columns are
/// reached), else of any type: numbers in a text
/// column, text that is not UTF-8, blobs, NULL.
fn cell(valid: impl Strategy<Value = Cell> + 'static) -> BoxedStrategy<Cell> {
    prop_oneof![
        60 => valid,
        1 => Just(Cell::Null),
        1 => any::<i64>().prop_map(Cell::Int),
        1 => any::<f64>().prop_map(Cell::Real),
        1 => arb_string().prop_map(Cell::text),
        1 => vec(any::<u8>(), 0..16).prop_map(Cell::Blob),
        1 => vec(any::<u8>(), 0..16).prop_map(|mut b| {
            b.push(0xff);
            Cell::Text(b)
        }),
    ]
    .boxed()
}

fn text_cell(valid: impl Strategy<Value = String> + 'static) -> BoxedStrategy<Cell> {
    cell(valid.prop_map(Cell::text)).boxed()
}

/// An integer column: mostly in `0..=max`, sometimes out of range or not
/// an integer (numeric text becomes an integer by the column's affinity).
fn int_cell(max: i64) -> BoxedStrategy<Cell> {
    cell(prop_oneof![
        3 => (0..=max).prop_map(Cell::Int),
        1 => select(vec![-1, i64::MIN, max, max.saturating_add(1), i64::MAX]).prop_map(Cell::Int),
        1 => (0..=max).prop_map(|n| Cell::text(n.to_string())),
        1 => Just(Cell::Real(2.0)),
    ])
    .boxed()
}

/// A nullable column: NULL or `inner`.
fn opt_cell(inner: impl Strategy<Value = Cell> + 'static) -> BoxedStrategy<Cell> {
    prop_oneof![1 => Just(Cell::Null), 2 => inner].boxed()
}

/// Valid `ActivityOptions`.
fn arb_options() -> BoxedStrategy<ActivityOptions> {
    let duration =
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| std::time::Duration::new(s, n));
    let opt_duration = proptest::option::of(duration.clone());
    (
        (
            opt_duration.clone(),
            opt_duration.clone(),
            opt_duration.clone(),
        ),
        (duration.clone(), any::<f64>(), opt_duration),
        (
            proptest::option::of(any::<u32>()),
            vec(arb_string(), 0..2),
            proptest::option::of(any::<u32>()),
        ),
        (
            proptest::option::of((any::<u32>(), duration)),
            proptest::option::of(arb_string()),
        ),
    )
        .prop_map(
            |(
                (start_to_close, schedule_to_close, heartbeat_timeout),
                (initial_interval, backoff_coefficient, max_interval),
                (max_attempts, non_retryable_error_types, max_concurrent),
                (rate, limit_key),
            )| ActivityOptions {
                start_to_close,
                schedule_to_close,
                heartbeat_timeout,
                retry: RetryPolicy {
                    initial_interval,
                    backoff_coefficient,
                    max_interval,
                    max_attempts,
                    non_retryable_error_types,
                },
                max_concurrent,
                rate: rate.map(|(count, per)| Rate { count, per }),
                limit_key,
            },
        )
        .boxed()
}

/// The text of an `options` column: valid options, mutated ones, any JSON.
fn arb_options_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => arb_options().prop_map(|o| serde_json::to_string(&o).unwrap_or_default()),
        3 => (arb_options(), vec(arb_mutation(), 1..3)).prop_map(|(o, mutations)| {
            let mut value = serde_json::to_value(&o).unwrap_or_default();
            for m in &mutations {
                mutate(&mut value, m);
            }
            value.to_string()
        }),
        2 => arb_json_text(),
    ]
    .boxed()
}

/// A database file of its own, removed (with its siblings) when dropped.
struct TempDb {
    path: PathBuf,
}

impl TempDb {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("reprise-fuzz-{}.db", uuid::Uuid::new_v4()));
        Self { path }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal", "-lock"] {
            let mut name = self.path.as_os_str().to_owned();
            name.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(name));
        }
    }
}

/// A SQLite store on a fresh file, a second connection that writes rows
/// behind its back, and a runtime to call it from a property.
struct SqliteFixture {
    runtime: tokio::runtime::Runtime,
    store: SqliteStore,
    conn: rusqlite::Connection,
    _db: TempDb,
}

impl SqliteFixture {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let db = TempDb::new();
        let store = runtime
            .block_on(SqliteStore::open(&db.path))
            .expect("open the store");
        let conn = rusqlite::Connection::open(&db.path).expect("open a second connection");
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .expect("busy timeout");
        Self {
            runtime,
            store,
            conn,
            _db: db,
        }
    }

    /// Every row `sql` selects, cell by cell.
    fn raw(&self, sql: &str, params: &[&dyn ToSql]) -> Result<Vec<Vec<Cell>>, TestCaseError> {
        let fail = |e: rusqlite::Error| TestCaseError::fail(format!("{sql}: {e}"));
        let mut stmt = self.conn.prepare(sql).map_err(fail)?;
        let width = stmt.column_count();
        let rows = stmt
            .query_map(params, |row| {
                (0..width)
                    .map(|i| row.get_ref(i).map(Cell::read))
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(fail)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(fail)
    }
}

const TASK_COLUMNS: &str = "workflow_id, run_id, seq, kind, name, input, options, attempt, scheduled_ms, due_ms, last_error, details, token, slot_wait_ms";

/// The first column of a task row (in `TASK_COLUMNS` order) that the
/// store must refuse, in the order the store decodes them.
fn task_problem(c: &[Cell]) -> Option<&'static str> {
    if c[3].as_text().and_then(TaskKind::parse).is_none() {
        return Some("kind");
    }
    let text = |i: usize| c[i].as_text().is_some();
    let opt = |i: usize, ok: bool| c[i] == Cell::Null || ok;
    let checks: [(&'static str, bool); 13] = [
        ("workflow_id", text(0)),
        ("run_id", text(1)),
        ("seq", c[2].as_int::<u32>().is_some()),
        ("name", text(4)),
        ("input", c[5].is_json::<Value>()),
        ("options", c[6].is_json::<ActivityOptions>()),
        ("attempt", c[7].as_int::<u32>().is_some()),
        ("scheduled_ms", c[8].as_int::<u64>().is_some()),
        ("due_ms", c[9].as_int::<u64>().is_some()),
        ("last_error", opt(10, text(10))),
        ("details", opt(11, c[11].is_json::<Value>())),
        ("token", c[12].as_int::<u64>().is_some()),
        ("slot_wait_ms", opt(13, c[13].as_int::<u64>().is_some())),
    ];
    checks.iter().find(|(_, ok)| !ok).map(|(column, _)| *column)
}

/// A task row: cells for every column of `tasks` but `run_id` and the
/// lease columns.
#[derive(Debug, Clone)]
struct TaskRow {
    seq: Cell,
    workflow_id: Cell,
    kind: Cell,
    name: Cell,
    input: Cell,
    options: Cell,
    attempt: Cell,
    scheduled_ms: Cell,
    due_ms: Cell,
    last_error: Cell,
    details: Cell,
    token: Cell,
    slot_wait_ms: Cell,
}

fn arb_task_row() -> BoxedStrategy<TaskRow> {
    let u32_max = i64::from(u32::MAX);
    (
        (
            int_cell(u32_max),
            text_cell(arb_string()),
            text_cell(prop_oneof![
                12 => select(vec!["activity", "timer"]).prop_map(str::to_owned),
                1 => arb_string(),
            ]),
            text_cell(arb_string()),
            text_cell(arb_json_text()),
            text_cell(arb_options_text()),
        ),
        (
            int_cell(u32_max),
            int_cell(i64::MAX),
            int_cell(i64::MAX),
            opt_cell(text_cell(arb_string())),
            opt_cell(text_cell(arb_json_text())),
            int_cell(i64::MAX),
            opt_cell(int_cell(i64::MAX)),
        ),
    )
        .prop_map(
            |(
                (seq, workflow_id, kind, name, input, options),
                (attempt, scheduled_ms, due_ms, last_error, details, token, slot_wait_ms),
            )| TaskRow {
                seq,
                workflow_id,
                kind,
                name,
                input,
                options,
                attempt,
                scheduled_ms,
                due_ms,
                last_error,
                details,
                token,
                slot_wait_ms,
            },
        )
        .boxed()
}

/// Writes a task row of run `run_id`; `false` when SQLite refuses it (a
/// NULL in a `NOT NULL` column, a second row of the same key).
fn insert_task(conn: &rusqlite::Connection, run_id: &Cell, t: &TaskRow) -> bool {
    conn.execute(
        "INSERT INTO tasks (run_id, seq, workflow_id, kind, name, input, options, attempt,
             scheduled_ms, due_ms, last_error, details, token, slot_wait_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        rusqlite::params![
            run_id,
            t.seq,
            t.workflow_id,
            t.kind,
            t.name,
            t.input,
            t.options,
            t.attempt,
            t.scheduled_ms,
            t.due_ms,
            t.last_error,
            t.details,
            t.token,
            t.slot_wait_ms
        ],
    )
    .is_ok()
}

/// Task rows of arbitrary values: `tasks(Some(run))` decodes them or
/// returns the error naming the table, the run, the seq and the first bad
/// column; `tasks(None)` skips the bad ones and returns every good one.
#[test]
fn sqlite_task_rows() {
    let fx = SqliteFixture::new();
    let good = TaskRow {
        seq: Cell::Int(1),
        workflow_id: Cell::text("wg"),
        kind: Cell::text("activity"),
        name: Cell::text("a"),
        input: Cell::text("null"),
        options: Cell::text(serde_json::to_string(&ActivityOptions::default()).unwrap_or_default()),
        attempt: Cell::Int(1),
        scheduled_ms: Cell::Int(0),
        due_ms: Cell::Int(0),
        last_error: Cell::Null,
        details: Cell::Null,
        token: Cell::Int(0),
        slot_wait_ms: Cell::Null,
    };
    let other_run = cell(arb_string().prop_map(Cell::text));
    check(
        "sqlite task rows",
        db_cases(64, 1000),
        (
            arb_string(),
            vec(arb_task_row(), 1..3),
            vec((other_run, arb_task_row()), 0..3),
        ),
        |(run, tasks, others)| {
            let run = format!("r{run}");
            fx.conn
                .execute("DELETE FROM tasks", [])
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            insert_task(&fx.conn, &Cell::text("good"), &good);
            for task in &tasks {
                insert_task(&fx.conn, &Cell::text(run.as_str()), task);
            }
            for (run_id, task) in &others {
                insert_task(&fx.conn, run_id, task);
            }

            // One run: the first bad row, in seq order, is the error.
            let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE run_id = ?1 ORDER BY seq");
            let raw = fx.raw(&sql, &[&run])?;
            let first_bad = raw
                .iter()
                .find_map(|cells| task_problem(cells).map(|column| (cells, column)));
            match (fx.runtime.block_on(fx.store.tasks(Some(&run))), first_bad) {
                (Ok(found), None) => prop_assert_eq!(found.len(), raw.len()),
                (Ok(_), Some((_, column))) => {
                    return Err(TestCaseError::fail(format!(
                        "decoded, but column `{column}` is bad"
                    )))
                }
                (Err(e), Some((cells, column))) => {
                    let message = e.to_string();
                    let seq = match &cells[2] {
                        Cell::Int(n) => n.to_string(),
                        other => other.show(),
                    };
                    let named = format!(
                        "corrupt row in `tasks` (run_id `{}`, seq {seq}): column `{column}` ",
                        clip(&run)
                    );
                    prop_assert!(message.contains(&named), "{message}\nexpected {named}");
                    prop_assert!(!e.is_retryable());
                    bounded(&message)?;
                }
                (Err(e), None) => {
                    return Err(TestCaseError::fail(format!("every row is good, yet: {e}")))
                }
            }

            // Every run: the good rows, the bad ones skipped.
            let sql = format!("SELECT {TASK_COLUMNS} FROM tasks ORDER BY run_id, seq");
            let expected: Vec<(String, u32)> = fx
                .raw(&sql, &[])?
                .iter()
                .filter(|cells| task_problem(cells).is_none())
                .map(|c| {
                    (
                        c[1].as_text().unwrap_or_default().to_owned(),
                        c[2].as_int().unwrap_or_default(),
                    )
                })
                .collect();
            let all = fx
                .runtime
                .block_on(fx.store.tasks(None))
                .map_err(|e| TestCaseError::fail(format!("tasks(None): {e}")))?;
            let found: Vec<(String, u32)> = all.into_iter().map(|t| (t.run_id, t.seq)).collect();
            prop_assert!(found.contains(&("good".to_owned(), 1)));
            prop_assert_eq!(found, expected);
            Ok(())
        },
    );
}

const RUN_COLUMNS: &str =
    "workflow_id, run_id, name, status, result, error, progress, created_ms, updated_ms";

/// The first column of a run row (in `RUN_COLUMNS` order) that the store
/// must refuse, in the order it decodes them.
fn run_problem(c: &[Cell]) -> Option<&'static str> {
    if c[3].as_text().and_then(WorkflowStatus::parse).is_none() {
        return Some("status");
    }
    let text = |i: usize| c[i].as_text().is_some();
    let opt = |i: usize, ok: bool| c[i] == Cell::Null || ok;
    let checks: [(&'static str, bool); 8] = [
        ("workflow_id", text(0)),
        ("run_id", text(1)),
        ("name", text(2)),
        ("result", opt(4, c[4].is_json::<Value>())),
        ("error", opt(5, text(5))),
        ("progress", opt(6, c[6].is_json::<Value>())),
        ("created_ms", c[7].as_int::<u64>().is_some()),
        ("updated_ms", c[8].as_int::<u64>().is_some()),
    ];
    checks.iter().find(|(_, ok)| !ok).map(|(column, _)| *column)
}

const STATUSES: &[&str] = &[
    "running",
    "blocked",
    "completed",
    "failed",
    "cancelled",
    "terminated",
    "continued_as_new",
];

/// Run rows of arbitrary values: `load_run` and `latest_run` decode them or
/// return the error naming `runs`, the run and the first bad column;
/// `unfinished_runs` skips the bad ones.
#[test]
fn sqlite_run_rows() {
    let fx = SqliteFixture::new();
    let row = (
        (
            text_cell(arb_string()),
            text_cell(arb_string()),
            text_cell(prop_oneof![
                12 => select(STATUSES).prop_map(str::to_owned),
                1 => arb_string(),
            ]),
        ),
        (
            opt_cell(text_cell(arb_json_text())),
            opt_cell(text_cell(arb_string())),
            opt_cell(text_cell(arb_json_text())),
            int_cell(i64::MAX),
            int_cell(i64::MAX),
        ),
    );
    check(
        "sqlite run rows",
        db_cases(64, 1000),
        (arb_string(), row),
        |(run, ((workflow_id, name, status), (result, error, progress, created, updated)))| {
            let run = format!("r{run}");
            fx.conn
                .execute_batch("DELETE FROM runs; DELETE FROM workflows; DELETE FROM history;")
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            fx.conn
                .execute(
                    "INSERT INTO workflows (workflow_id, latest_run_id, name, created_ms)
                     VALUES ('w', ?1, 'n', 0)",
                    [&run],
                )
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let inserted = fx.conn.execute(
                "INSERT INTO runs (run_id, workflow_id, name, status, result, error, progress,
                     created_ms, updated_ms, history_len)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0)",
                rusqlite::params![
                    run,
                    workflow_id,
                    name,
                    status,
                    result,
                    error,
                    progress,
                    created,
                    updated
                ],
            );
            if inserted.is_err() {
                return Ok(()); // a NULL in a NOT NULL column
            }
            let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?1");
            let raw = fx.raw(&sql, &[&run])?;
            let problem = run_problem(&raw[0]);
            let loaded = fx.runtime.block_on(fx.store.load_run(&run));
            let latest = fx.runtime.block_on(fx.store.latest_run("w"));
            for (what, result) in [
                ("load_run", loaded.map(|r| r.map(|(record, _)| record))),
                ("latest_run", latest),
            ] {
                match (result, problem) {
                    (Ok(Some(record)), None) => prop_assert_eq!(&record.run_id, &run),
                    (Ok(None), _) => return Err(TestCaseError::fail(format!("{what}: no run"))),
                    (Ok(Some(_)), Some(column)) => {
                        return Err(TestCaseError::fail(format!(
                            "{what}: decoded, but column `{column}` is bad"
                        )))
                    }
                    (Err(e), Some(column)) => {
                        let message = e.to_string();
                        let named = format!(
                            "corrupt row in `runs` (run_id `{}`): column `{column}` ",
                            clip(&run)
                        );
                        prop_assert!(message.contains(&named), "{what}: {message}");
                        prop_assert!(!e.is_retryable());
                        bounded(&message)?;
                    }
                    (Err(e), None) => {
                        return Err(TestCaseError::fail(format!(
                            "{what}: the row is good, yet: {e}"
                        )))
                    }
                }
            }
            let unfinished = fx
                .runtime
                .block_on(fx.store.unfinished_runs())
                .map_err(|e| TestCaseError::fail(format!("unfinished_runs: {e}")))?;
            let listed =
                problem.is_none() && matches!(raw[0][3].as_text(), Some("running" | "blocked"));
            prop_assert_eq!(unfinished.len(), usize::from(listed));
            Ok(())
        },
    );
}

/// History rows of arbitrary values (indexes of any type, events of any
/// text, mutated events): `load_run` returns them or the error naming
/// `history`, the run and the column; what it returns decodes or is an
/// error naming the row.
#[test]
fn sqlite_history_rows() {
    let fx = SqliteFixture::new();
    let event_text = prop_oneof![
        4 => arb_event().prop_map(|e| serde_json::to_string(&e).unwrap_or_default()),
        2 => (arb_event(), arb_mutation()).prop_map(|(e, m)| {
            let mut value = serde_json::to_value(&e).unwrap_or_default();
            mutate(&mut value, &m);
            value.to_string()
        }),
        1 => arb_json_text(),
    ];
    let index = prop_oneof![
        8 => Just(None),
        1 => int_cell(8).prop_map(Some),
    ];
    check(
        "sqlite history rows",
        db_cases(64, 1000),
        (
            arb_valid_history(),
            vec((any::<Index>(), index, text_cell(event_text)), 0..4),
        ),
        |(events, edits)| {
            fx.conn
                .execute_batch(
                    "DELETE FROM runs; DELETE FROM workflows; DELETE FROM history;
                     INSERT INTO runs (run_id, workflow_id, name, status, created_ms,
                         updated_ms, history_len)
                     VALUES ('r', 'w', 'n', 'running', 0, 0, 0);",
                )
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut rows: Vec<(Cell, Cell)> = events
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    (
                        Cell::Int(i as i64),
                        Cell::text(serde_json::to_string(e).unwrap_or_default()),
                    )
                })
                .collect();
            for (at, index, event) in edits {
                let i = at.index(rows.len());
                rows[i] = (index.unwrap_or(Cell::Int(i as i64)), event);
            }
            for (idx, event) in &rows {
                // A refused row (NULL, a second row of one idx) is left out.
                let _ = fx.conn.execute(
                    "INSERT INTO history (run_id, idx, event) VALUES ('r', ?1, ?2)",
                    rusqlite::params![idx, event],
                );
            }
            let raw = fx.raw(
                "SELECT idx, event FROM history WHERE run_id = 'r' ORDER BY idx",
                &[],
            )?;
            let problem = raw.iter().find_map(|c| {
                if c[0].as_int::<u64>().is_none() {
                    Some((&c[0], "idx"))
                } else if c[1].as_text().is_none() {
                    Some((&c[0], "event"))
                } else {
                    None
                }
            });
            let loaded = fx.runtime.block_on(fx.store.load_run("r"));
            match (loaded, problem) {
                (Ok(Some((_, history))), None) => {
                    let expected: Rows = raw
                        .iter()
                        .map(|c| {
                            (
                                c[0].as_int().unwrap_or_default(),
                                c[1].as_text().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect();
                    prop_assert_eq!(&history, &expected);
                    check_history(&history)?;
                }
                (Ok(None), _) => return Err(TestCaseError::fail("no run")),
                (Ok(Some(_)), Some((_, column))) => {
                    return Err(TestCaseError::fail(format!(
                        "loaded, but column `{column}` is bad"
                    )))
                }
                (Err(e), Some((idx, column))) => {
                    let message = e.to_string();
                    let key = match idx.as_int::<u64>() {
                        Some(idx) => format!("run_id `r`, idx {idx}"),
                        None => "run_id `r`".to_owned(),
                    };
                    let named = format!("corrupt row in `history` ({key}): column `{column}` ");
                    prop_assert!(message.contains(&named), "{message}\nexpected {named}");
                    bounded(&message)?;
                }
                (Err(e), None) => {
                    return Err(TestCaseError::fail(format!("every row is good, yet: {e}")))
                }
            }
            Ok(())
        },
    );
}

/// Inbox rows of arbitrary values: `inbox()` returns the decodable ones in
/// id order and skips (logs) the others.
#[test]
fn sqlite_inbox_rows() {
    let fx = SqliteFixture::new();
    let message = prop_oneof![
        2 => arb_inbox_item().prop_map(|item| {
            let (kind, payload) = item.encode();
            (Cell::text(kind), Cell::text(payload.to_string()))
        }),
        2 => (arb_inbox_item(), arb_mutation()).prop_map(|(item, m)| {
            let (kind, mut payload) = item.encode();
            mutate(&mut payload, &m);
            (Cell::text(kind), Cell::text(payload.to_string()))
        }),
        1 => (text_cell(arb_inbox_kind()), text_cell(arb_json_text())),
    ];
    check(
        "sqlite inbox rows",
        db_cases(64, 1000),
        vec((text_cell(arb_string()), message), 0..5),
        |messages| {
            fx.conn
                .execute("DELETE FROM inbox", [])
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            for (workflow_id, (kind, payload)) in &messages {
                let _ = fx.conn.execute(
                    "INSERT INTO inbox (workflow_id, kind, payload, created_ms)
                     VALUES (?1, ?2, ?3, 0)",
                    rusqlite::params![workflow_id, kind, payload],
                );
            }
            let expected: Vec<InboxRecord> = fx
                .raw(
                    "SELECT id, workflow_id, kind, payload FROM inbox ORDER BY id",
                    &[],
                )?
                .iter()
                .filter_map(|c| {
                    let payload = serde_json::from_str(c[3].as_text()?).ok()?;
                    Some(InboxRecord {
                        id: c[0].as_int()?,
                        workflow_id: c[1].as_text()?.to_owned(),
                        item: InboxItem::decode(c[2].as_text()?, payload)?,
                    })
                })
                .collect();
            let found = fx
                .runtime
                .block_on(fx.store.inbox())
                .map_err(|e| TestCaseError::fail(format!("inbox: {e}")))?;
            prop_assert_eq!(found, expected);
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// PostgreSQL rows

/// Arbitrary text in `runs.status`, `tasks.input`, `tasks.options` and the
/// inbox's `kind` and `payload` of a real database: every read decodes or
/// returns the error naming the table, the row and the column; the inbox
/// listing skips bad messages.
#[cfg(feature = "postgres")]
#[test]
fn postgres_rows() {
    use crate::store::postgres::testing::{client, test_database};
    use crate::store::postgres::{PostgresConfig, PostgresStore};

    /// PostgreSQL text holds no NUL.
    fn no_nul(s: String) -> String {
        s.replace('\0', "")
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (url, _database) = runtime.block_on(test_database());
    let store = runtime
        .block_on(PostgresStore::open(&PostgresConfig::new(url.clone())))
        .expect("open the store");
    let admin = runtime.block_on(client(&url));
    let started = serde_json::to_string(&Event::WorkflowStarted {
        name: "n".into(),
        input: Value::Null,
        signals: Vec::new(),
    })
    .unwrap_or_default();
    let count = std::sync::atomic::AtomicU64::new(0);
    let strategy = (
        prop_oneof![
            3 => select(STATUSES).prop_map(str::to_owned),
            1 => arb_string(),
        ],
        arb_json_text(),
        arb_options_text(),
        arb_inbox_kind(),
        prop_oneof![
            2 => arb_inbox_item().prop_map(|item| item.encode().1.to_string()),
            1 => arb_json_text(),
        ],
    )
        .prop_map(|(status, input, options, kind, payload)| {
            (
                no_nul(status),
                no_nul(input),
                no_nul(options),
                no_nul(kind),
                no_nul(payload),
            )
        });
    check(
        "postgres rows",
        db_cases(32, 10_000),
        strategy,
        |(status, input, options, kind, payload)| {
            let n = count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (workflow, run) = (format!("w{n}"), format!("r{n}"));
            runtime.block_on(async {
                let written = admin
                    .execute(
                        "INSERT INTO workflows (workflow_id, latest_run_id, name, created_ms)
                         VALUES ($1, $2, 'n', 0)",
                        &[&workflow, &run],
                    )
                    .await
                    .and(
                        admin
                            .execute(
                                "INSERT INTO runs (run_id, workflow_id, name, status,
                                     created_ms, updated_ms, history_len)
                                 VALUES ($1, $2, 'n', $3, 0, 0, 1)",
                                &[&run, &workflow, &status],
                            )
                            .await,
                    )
                    .and(
                        admin
                            .execute(
                                "INSERT INTO history (run_id, idx, event) VALUES ($1, 0, $2)",
                                &[&run, &started],
                            )
                            .await,
                    )
                    .and(
                        admin
                            .execute(
                                "INSERT INTO tasks (run_id, seq, workflow_id, kind, name, input,
                                     options, attempt, scheduled_ms, due_ms)
                                 VALUES ($1, 1, $2, 'activity', 'a', $3, $4, 1, 0, 0)",
                                &[&run, &workflow, &input, &options],
                            )
                            .await,
                    )
                    .and(
                        admin
                            .execute(
                                "INSERT INTO inbox (workflow_id, kind, payload, created_ms)
                                 VALUES ($1, $2, $3, 0)",
                                &[&workflow, &kind, &payload],
                            )
                            .await,
                    );
                if let Err(e) = written {
                    return Err(TestCaseError::fail(format!("writing the rows: {e}")));
                }

                // The run, by id and as the workflow's latest.
                let status_ok = WorkflowStatus::parse(&status).is_some();
                let named = format!("corrupt row in `runs` (run_id `{run}`): column `status` ");
                match store.load_run(&run).await {
                    Ok(Some((record, history))) if status_ok => {
                        prop_assert_eq!(&record.run_id, &run);
                        prop_assert!(RecordedHistory::decode(&history).is_ok());
                    }
                    Err(e) if !status_ok => {
                        prop_assert!(e.to_string().contains(&named), "{e}");
                        prop_assert!(!e.is_retryable());
                    }
                    other => {
                        return Err(TestCaseError::fail(format!(
                            "load_run, status `{status}`: {other:?}"
                        )))
                    }
                }
                match store.latest_run(&workflow).await {
                    Ok(Some(_)) if status_ok => {}
                    Err(e) if !status_ok => prop_assert!(e.to_string().contains(&named), "{e}"),
                    other => {
                        return Err(TestCaseError::fail(format!(
                            "latest_run, status `{status}`: {other:?}"
                        )))
                    }
                }

                // The task: `input` is decoded before `options`.
                let bad = if serde_json::from_str::<Value>(&input).is_err() {
                    Some("input")
                } else if serde_json::from_str::<ActivityOptions>(&options).is_err() {
                    Some("options")
                } else {
                    None
                };
                match (store.tasks(Some(&run)).await, bad) {
                    (Ok(tasks), None) => prop_assert_eq!(tasks.len(), 1),
                    (Err(e), Some(column)) => {
                        let named = format!(
                            "corrupt row in `tasks` (run_id `{run}`, seq 1): column `{column}` "
                        );
                        let message = e.to_string();
                        prop_assert!(message.contains(&named), "{message}");
                        prop_assert!(!e.is_retryable());
                        bounded(&message)?;
                    }
                    (other, bad) => {
                        return Err(TestCaseError::fail(format!(
                            "tasks, bad column {bad:?}: {other:?}"
                        )))
                    }
                }
                if let Err(e) = store.tasks(None).await {
                    return Err(TestCaseError::fail(format!("tasks(None): {e}")));
                }

                // The message: decoded, or skipped.
                let expected = serde_json::from_str(&payload)
                    .ok()
                    .and_then(|payload| InboxItem::decode(&kind, payload));
                let inbox = store
                    .inbox()
                    .await
                    .map_err(|e| TestCaseError::fail(format!("inbox: {e}")))?;
                let found: Vec<InboxItem> = inbox
                    .into_iter()
                    .filter(|m| m.workflow_id == workflow)
                    .map(|m| m.item)
                    .collect();
                prop_assert_eq!(found, expected.into_iter().collect::<Vec<_>>());
                Ok(())
            })
        },
    );
    // The connections go before their database is dropped.
    drop(admin);
    drop(store);
    drop(runtime);
}

// ---------------------------------------------------------------------------
// Regressions: what the properties found, as plain tests

/// A value this long, quoted whole, would make a message far over the bound.
fn long_value() -> String {
    "x".repeat(100_000)
}

/// Found by `history_of_arbitrary_json`: serde's error quotes an unknown
/// `type` whole, and the history error showed it unclipped.
#[test]
fn a_history_error_quoting_a_long_type_is_clipped() {
    let rows = vec![(0, format!("{{\"type\":\"{}\"}}", long_value()))];
    let message = match RecordedHistory::decode(&rows) {
        Ok(_) => panic!("an unknown type decoded"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.starts_with("history row 0 is not a valid event (unknown variant `xxx"),
        "{}",
        clip(&message)
    );
    assert!(
        message.chars().count() <= MAX_MESSAGE_CHARS,
        "{}",
        message.len()
    );
}

/// Found by `history_of_mutated_events`: an event out of place was shown
/// whole (its `Debug`, payload included).
#[test]
fn a_history_error_showing_a_long_event_is_clipped() {
    let event = Event::ActivityCompleted {
        seq: 0,
        output: Value::String(long_value()),
    };
    let rows = vec![(0, serde_json::to_string(&event).unwrap_or_default())];
    let message = match RecordedHistory::decode(&rows) {
        Ok(_) => panic!("a history without its start decoded"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.starts_with("history row 0 is out of place: expected `WorkflowStarted`"),
        "{}",
        clip(&message)
    );
    assert!(
        message.chars().count() <= MAX_MESSAGE_CHARS,
        "{}",
        message.len()
    );
}

/// JSON in `options` that does not decode: serde's error quoted a long
/// string of it whole (`invalid type: string "xxx…"`).
const LONG_OPTIONS_PREFIX: &str = "{\"retry\":\"";

#[test]
fn a_sqlite_error_quoting_a_long_json_value_is_clipped() {
    let fx = SqliteFixture::new();
    let options = format!("{LONG_OPTIONS_PREFIX}{}\"}}", long_value());
    let written = fx.conn.execute(
        "INSERT INTO tasks (run_id, seq, workflow_id, kind, name, input, options, attempt,
             scheduled_ms, due_ms)
         VALUES ('r', 1, 'w', 'activity', 'a', 'null', ?1, 1, 0, 0)",
        [&options],
    );
    assert!(written.is_ok(), "{written:?}");
    let message = match fx.runtime.block_on(fx.store.tasks(Some("r"))) {
        Ok(_) => panic!("the options decoded"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.contains("corrupt row in `tasks` (run_id `r`, seq 1): column `options` holds"),
        "{}",
        clip(&message)
    );
    assert!(
        message.chars().count() <= MAX_MESSAGE_CHARS,
        "{}",
        message.len()
    );
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn a_postgres_error_quoting_a_long_json_value_is_clipped() {
    use crate::store::postgres::testing::{client, test_database};
    use crate::store::postgres::{PostgresConfig, PostgresStore};

    let (url, _database) = test_database().await;
    let store = PostgresStore::open(&PostgresConfig::new(url.clone()))
        .await
        .expect("open the store");
    let admin = client(&url).await;
    let options = format!("{LONG_OPTIONS_PREFIX}{}\"}}", long_value());
    admin
        .execute(
            "INSERT INTO tasks (run_id, seq, workflow_id, kind, name, input, options, attempt,
                 scheduled_ms, due_ms)
             VALUES ('r', 1, 'w', 'activity', 'a', 'null', $1, 1, 0, 0)",
            &[&options],
        )
        .await
        .expect("write the task");
    let message = match store.tasks(Some("r")).await {
        Ok(_) => panic!("the options decoded"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.contains("corrupt row in `tasks` (run_id `r`, seq 1): column `options` holds"),
        "{}",
        clip(&message)
    );
    assert!(
        message.chars().count() <= MAX_MESSAGE_CHARS,
        "{}",
        message.len()
    );
}
