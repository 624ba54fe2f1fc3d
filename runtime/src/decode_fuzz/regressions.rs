//! What the properties found, as plain tests.

use super::*;

// ---------------------------------------------------------------------------
// Regressions: what the properties found, as plain tests

/// A value this long, quoted whole, would make a message far over the bound.
pub(super) fn long_value() -> String {
    "x".repeat(100_000)
}

/// Found by `history_of_arbitrary_json`: serde's error quotes an unknown
/// `type` whole, and the history error showed it unclipped.
#[test]
pub(super) fn a_history_error_quoting_a_long_type_is_clipped() {
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
pub(super) fn a_history_error_showing_a_long_event_is_clipped() {
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
pub(super) const LONG_OPTIONS_PREFIX: &str = "{\"retry\":\"";

#[test]
pub(super) fn a_sqlite_error_quoting_a_long_json_value_is_clipped() {
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
