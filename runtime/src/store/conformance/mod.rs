//! The store conformance suite: named generic tests, each run against every
//! store through a factory (`memory::*`, `sqlite::*`, and `postgres::*` with
//! the `postgres` feature, each test on a fresh database of its own), then
//! tests of what only the SQLite store has (files, locking, migrations,
//! group commit: `sqlite_only.rs`). The generic cases: `steps.rs` (runs,
//! steps, tasks), `inbox.rs` (messages, heartbeats), `workers.rs` (several
//! workers on one store), `slots.rs` (activities' limits), `listing.rs`
//! (listing workflows), `schedules.rs` (schedules and their ticks).
//!
//! The multi-worker cases (`claim_*`, `*_fenced*`, `an_expired_lease_*`)
//! play two workers against one store: two claimers never get the same run
//! or attempt, an expired lease moves work, a fenced stale write changes
//! nothing, a burst of claims is capped per call.
//!
//! History events are opaque to the stores, so the tests use short strings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::definition::{ActivityOptions, Rate};
use crate::retry::RetryPolicy;

// ---------------------------------------------------------------------------
// Helpers

/// The lease heartbeats renew by.
const LEASE: Duration = Duration::from_secs(10);

fn new_workflow(workflow_id: &str, run_id: &str, now_ms: u64) -> NewWorkflow {
    NewWorkflow {
        workflow_id: workflow_id.to_owned(),
        run_id: run_id.to_owned(),
        name: "etl".to_owned(),
        started_event: started(run_id),
        now_ms,
        owner: None,
    }
}

fn started(run_id: &str) -> String {
    format!(r#"{{"type":"WorkflowStarted","name":"etl","input":"{run_id}"}}"#)
}

/// The event a test writes at `index` of `run_id`'s history.
fn event(run_id: &str, index: u64) -> String {
    format!(r#"{{"type":"Marker","run":"{run_id}","index":{index}}}"#)
}

/// A step appending `count` events at `first_index`.
fn step(run_id: &str, first_index: u64, count: u64) -> StepCommit {
    StepCommit {
        run_id: run_id.to_owned(),
        first_index,
        events: (0..count)
            .map(|i| event(run_id, first_index.saturating_add(i)))
            .collect(),
        now_ms: first_index.saturating_add(2_000),
        ..StepCommit::default()
    }
}

fn activity(workflow_id: &str, run_id: &str, seq: u32) -> Task {
    Task {
        workflow_id: workflow_id.to_owned(),
        run_id: run_id.to_owned(),
        seq,
        kind: TaskKind::Activity,
        name: "fetch".to_owned(),
        input: json!({ "url": "https://example.com", "seq": seq, "tags": ["a", null, 1.5] }),
        options: ActivityOptions {
            start_to_close: Some(Duration::from_millis(1_500)),
            schedule_to_close: None,
            heartbeat_timeout: Some(Duration::from_secs(3)),
            retry: RetryPolicy {
                max_attempts: Some(5),
                backoff_coefficient: 1.5,
                max_interval: Some(Duration::from_secs(60)),
                non_retryable_error_types: vec!["ValidationError".to_owned()],
                ..RetryPolicy::default()
            },
            max_concurrent: Some(4),
            rate: Some(Rate::per_minute(600)),
            limit_key: Some("tenant-1".to_owned()),
        },
        attempt: 1,
        scheduled_ms: 1_000,
        due_ms: 1_000,
        last_error: None,
        details: Some(json!({ "offset": 42 })),
        heartbeat_ms: None,
        token: 0,
        slot_wait_ms: None,
    }
}

fn timer(workflow_id: &str, run_id: &str, seq: u32, due_ms: u64) -> Task {
    Task {
        workflow_id: workflow_id.to_owned(),
        run_id: run_id.to_owned(),
        seq,
        kind: TaskKind::Timer,
        name: String::new(),
        input: Value::Null,
        options: ActivityOptions::default(),
        attempt: 0,
        scheduled_ms: 1_000,
        due_ms,
        last_error: None,
        details: None,
        heartbeat_ms: None,
        token: 0,
        slot_wait_ms: None,
    }
}

fn status(
    status: WorkflowStatus,
    result: Option<Value>,
    error: Option<&str>,
) -> Option<StatusChange> {
    Some(StatusChange {
        status,
        result,
        error: error.map(str::to_owned),
    })
}

/// Commits `steps`; the first failure, if any.
async fn commit(store: &dyn Store, steps: Vec<StepCommit>) -> Result<(), StoreError> {
    store.commit_steps(steps).await.into_iter().collect()
}

async fn create(store: &dyn Store, workflow_id: &str, run_id: &str, now_ms: u64) {
    let created = store
        .create_workflow(new_workflow(workflow_id, run_id, now_ms))
        .await
        .unwrap();
    assert_eq!(created, Created::New { token: 0 });
}

async fn record(store: &dyn Store, run_id: &str) -> RunRecord {
    store
        .load_run(run_id)
        .await
        .unwrap()
        .expect("the run exists")
        .0
}

/// The history of a run, checking that the indexes are 0, 1, 2...
async fn history(store: &dyn Store, run_id: &str) -> Vec<String> {
    let (_, rows) = store
        .load_run(run_id)
        .await
        .unwrap()
        .expect("the run exists");
    let indexes: Vec<u64> = rows.iter().map(|(i, _)| *i).collect();
    assert_eq!(indexes, (0..rows.len() as u64).collect::<Vec<_>>());
    rows.into_iter().map(|(_, e)| e).collect()
}

/// The history of `len` rows a run has after steps made by [`step`].
fn expected_history(run_id: &str, len: u64) -> Vec<String> {
    std::iter::once(started(run_id))
        .chain((1..len).map(|i| event(run_id, i)))
        .collect()
}

fn task_keys(tasks: &[Task]) -> Vec<(&str, u32)> {
    tasks.iter().map(|t| (t.run_id.as_str(), t.seq)).collect()
}

fn signal(name: &str, payload: Value) -> InboxItem {
    InboxItem::Signal(crate::history::SignalData {
        name: name.to_owned(),
        payload,
    })
}

mod inbox;
mod listing;
mod schedules;
mod slots;
mod sqlite_only;
mod steps;
mod workers;

use self::inbox::*;
use self::listing::*;
use self::schedules::*;
use self::slots::*;
use self::steps::*;
use self::workers::*;

/// Instantiates each generic test for every store.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(&crate::store::memory::MemoryStore::default()).await;
                }
            )*
        }

        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = super::TempDb::new();
                    let store = crate::store::sqlite::SqliteStore::open(db.path())
                        .await
                        .expect("opening a new database");
                    super::$name(&store).await;
                }
            )*
        }

        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, _db) = crate::store::postgres::testing::test_store().await;
                    super::$name(&store).await;
                }
            )*
        }
    };
}

conformance!(
    create_is_idempotent_on_the_workflow_id,
    commit_appends_events_and_tasks,
    a_stale_first_index_writes_nothing,
    a_failed_step_does_not_block_the_others,
    two_steps_of_one_run_apply_in_order,
    an_empty_commit_succeeds,
    done_tasks_are_removed,
    finishing_a_run_removes_its_tasks,
    retry_task_updates_the_task,
    unfinished_runs_lists_running_and_blocked_runs_oldest_first,
    tasks_lists_every_run_by_run_then_seq,
    load_run_returns_rows_in_index_order,
    progress_is_kept,
    latest_run_follows_the_workflow,
    a_step_without_events_skips_the_first_index_check,
    every_end_of_a_run_finishes_it,
    continue_as_new_starts_the_next_run,
    the_inbox_keeps_messages_until_a_step_consumes_them,
    record_heartbeat_keeps_the_latest_details,
    claim_hands_out_new_runs_once_each_capped_per_call,
    concurrent_claimers_never_share_a_run,
    an_expired_lease_moves_work_and_fences_the_old_owner,
    renewal_keeps_a_lease_and_release_gives_it_back,
    claim_tasks_hands_out_free_attempts_once_each,
    task_writes_are_fenced_by_the_task_token,
    a_finished_run_is_not_claimed_and_drops_its_messages,
    slots_cap_the_running_attempts_of_a_pair,
    a_rate_counts_the_starts_of_its_window,
    an_expired_slot_lease_frees_the_slot,
    releasing_a_worker_frees_its_slots,
    slot_requests_are_fenced_by_the_task_token,
    concurrent_requests_never_exceed_the_limit,
    a_slot_whose_task_is_gone_does_not_count,
    list_runs_filters_and_pages_the_latest_runs,
    a_schedule_written_again_keeps_its_state,
    a_tick_is_a_compare_and_set_that_creates_its_run,
    racing_fires_of_one_tick_start_one_run,
    pausing_sets_the_next_tick_given,
);

/// A database path in the temporary directory, removed with its sibling
/// files when dropped.
struct TempDb {
    path: PathBuf,
}

impl TempDb {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("reprise-test-{}.db", uuid::Uuid::new_v4()));
        Self { path }
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal", "-lock"] {
            let _ = std::fs::remove_file(self.sibling(suffix));
        }
    }
}
