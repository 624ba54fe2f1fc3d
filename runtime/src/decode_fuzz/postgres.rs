//! PostgreSQL rows of arbitrary text.

use super::*;

// ---------------------------------------------------------------------------
// PostgreSQL rows

/// Arbitrary text in `runs.status`, `tasks.input`, `tasks.options` and the
/// inbox's `kind` and `payload` of a real database: every read decodes or
/// returns the error naming the table, the row and the column; the inbox
/// listing skips bad messages.
#[cfg(feature = "postgres")]
#[test]
pub(super) fn postgres_rows() {
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
        parent: None,
        deadline_ms: None,
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
