//! Strategies: arbitrary text and JSON, mutations of valid JSON, valid records.

use super::*;

// ---------------------------------------------------------------------------
// Arbitrary text and JSON

/// Field names of events, payloads and options, so that arbitrary objects
/// often have the right keys with the wrong values.
pub(super) const FIELD_NAMES: &[&str] = &[
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
pub(super) const EVENT_TYPES: &[&str] = &[
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
pub(super) const INBOX_KINDS: &[&str] = &[
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
pub(super) fn known_word() -> BoxedStrategy<String> {
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
pub(super) fn lossy_text() -> BoxedStrategy<String> {
    vec(any::<u8>(), 0..200)
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned())
        .boxed()
}

/// Any string: known words, short identifiers, arbitrary Unicode, lossy bytes.
pub(super) fn arb_string() -> BoxedStrategy<String> {
    prop_oneof![
        3 => known_word(),
        2 => "[a-z0-9_]{0,8}",
        2 => any::<String>(),
        1 => lossy_text(),
    ]
    .boxed()
}

/// Any JSON number, with the edges of the integer types the decoders use.
pub(super) fn arb_number() -> BoxedStrategy<Number> {
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
pub(super) fn arb_json() -> BoxedStrategy<Value> {
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
pub(super) fn cut(text: &str, at: Index) -> String {
    let mut end = at.index(text.len() + 1);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// JSON nested far deeper than the parser's recursion limit.
pub(super) fn deep_json() -> BoxedStrategy<String> {
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
pub(super) fn arb_json_text() -> BoxedStrategy<String> {
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
pub(super) enum Edit {
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
pub(super) struct Mutation {
    path: Vec<Index>,
    edit: Edit,
}

pub(super) fn arb_mutation() -> BoxedStrategy<Mutation> {
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
pub(super) fn node_at<'a>(value: &'a mut Value, path: &[Index]) -> &'a mut Value {
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

pub(super) fn mutate(value: &mut Value, mutation: &Mutation) {
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

pub(super) fn arb_failure() -> BoxedStrategy<FailureData> {
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

pub(super) fn arb_signal() -> BoxedStrategy<SignalData> {
    (arb_string(), arb_json())
        .prop_map(|(name, payload)| SignalData { name, payload })
        .boxed()
}

pub(super) fn arb_seq() -> BoxedStrategy<u32> {
    prop_oneof![3 => 0u32..8, 1 => any::<u32>()].boxed()
}

/// An event that delivers an input.
pub(super) fn arb_input_event() -> BoxedStrategy<Event> {
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
pub(super) fn arb_command_event() -> BoxedStrategy<Event> {
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
pub(super) fn arb_end_event() -> BoxedStrategy<Event> {
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

pub(super) fn arb_started_event() -> BoxedStrategy<Event> {
    (arb_string(), arb_json(), vec(arb_signal(), 0..3))
        .prop_map(|(name, input, signals)| Event::WorkflowStarted {
            name,
            input,
            signals,
            parent: None,
            deadline_ms: None,
        })
        .boxed()
}

/// Any event.
pub(super) fn arb_event() -> BoxedStrategy<Event> {
    Union::new(vec![
        arb_started_event().boxed(),
        any::<u64>()
            .prop_map(|time_ms| Event::Activation {
                time_ms,
                continue_as_new_suggested: false,
            })
            .boxed(),
        arb_input_event().boxed(),
        arb_command_event().boxed(),
        arb_end_event().boxed(),
    ])
    .boxed()
}

/// A history that decodes: a start, then activations of inputs, commands
/// and perhaps an end.
pub(super) fn arb_valid_history() -> BoxedStrategy<Vec<Event>> {
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
                events.push(Event::Activation {
                    time_ms,
                    continue_as_new_suggested: false,
                });
                events.extend(inputs);
                events.extend(commands);
                events.extend(end);
            }
            events
        })
        .boxed()
}
