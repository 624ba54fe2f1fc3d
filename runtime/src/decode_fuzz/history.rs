//! History rows: arbitrary text, arbitrary JSON, mutated and valid events.

use super::*;

// ---------------------------------------------------------------------------
// History rows

/// Rows `(index, text)` of a history.
pub(super) type Rows = Vec<(u64, String)>;

/// Rows numbered by position, but for the ones given an index of their own.
pub(super) fn number(rows: Vec<(Option<u64>, String)>) -> Rows {
    rows.into_iter()
        .enumerate()
        .map(|(i, (index, text))| (index.unwrap_or(i as u64), text))
        .collect()
}

/// A row index: mostly the row's position (`None`), sometimes another.
pub(super) fn arb_index() -> BoxedStrategy<Option<u64>> {
    prop_oneof![
        12 => Just(None),
        1 => (0u64..10).prop_map(Some),
        1 => any::<u64>().prop_map(Some),
    ]
    .boxed()
}

/// The error `RecordedHistory::decode` must return for `rows`, as far as the
/// rows alone tell: the first row out of sequence or that is not an event.
pub(super) fn expected_row_error(rows: &[(u64, String)]) -> Option<String> {
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
pub(super) fn check_history(rows: &[(u64, String)]) -> Result<(), TestCaseError> {
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
pub(super) fn history_of_arbitrary_text() {
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
pub(super) fn history_of_arbitrary_json() {
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
pub(super) fn history_of_mutated_events() {
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
pub(super) fn valid_histories_decode() {
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
