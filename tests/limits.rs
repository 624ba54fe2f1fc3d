//! Limits of activities under load: every attempt records when it started
//! and ended, and the tests check the overlap (`max_concurrent`, per key)
//! and the starts per window (`rate`: the grants the store recorded, since a
//! body starts a little after its grant), on SQLite and on PostgreSQL with
//! several workers; a call waiting for a slot shows it in `describe` and
//! keeps its `schedule_to_close`; resources reach activities and a missing
//! one or two types under one name fail `build()`.

mod common;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::pg::TestDatabase;
use common::TempDb;
use reprise::prelude::*;

/// Which runtime (worker) ran an attempt: a resource of each runtime.
struct WorkerName(&'static str);

#[derive(Debug, Clone)]
struct Attempt {
    key: String,
    worker: &'static str,
    start: Instant,
    end: Instant,
}

/// Attempts by test label.
static ATTEMPTS: Mutex<BTreeMap<String, Vec<Attempt>>> = Mutex::new(BTreeMap::new());

fn attempts(label: &str) -> Vec<Attempt> {
    ATTEMPTS
        .lock()
        .unwrap()
        .get(label)
        .cloned()
        .unwrap_or_default()
}

/// Sleeps `ms`, recording its start and end under `label`.
#[activity]
async fn work(
    worker: Resource<WorkerName>,
    label: String,
    key: String,
    ms: u64,
) -> Result<(), ActivityError> {
    let start = Instant::now();
    tokio::time::sleep(Duration::from_millis(ms)).await;
    let attempt = Attempt {
        key,
        worker: worker.0,
        start,
        end: Instant::now(),
    };
    ATTEMPTS
        .lock()
        .unwrap()
        .entry(label)
        .or_default()
        .push(attempt);
    Ok(())
}

/// How the calls of [`fan_out`] are limited.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Limits {
    max_concurrent: Option<u32>,
    /// `(count, per ms)`.
    rate: Option<(u32, u64)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FanOut {
    label: String,
    /// One call per key, in parallel.
    keys: Vec<String>,
    ms: u64,
    limits: Limits,
}

/// Calls `work` once per key, all at once, with the given limits per key.
#[workflow]
async fn fan_out(ctx: WorkflowContext, input: FanOut) -> Result<u32, WorkflowError> {
    let calls = input.keys.iter().map(|key| {
        let mut call = ctx
            .activity(work, (input.label.clone(), key.clone(), input.ms))
            .limit_key(key.clone());
        if let Some(n) = input.limits.max_concurrent {
            call = call.max_concurrent(n);
        }
        if let Some((count, per)) = input.limits.rate {
            call = call.rate(Rate::new(count, Duration::from_millis(per)));
        }
        call
    });
    let mut done = 0;
    for result in join_all(calls).await {
        result?;
        done += 1;
    }
    Ok(done)
}

/// The most attempts running at one instant.
fn max_overlap(attempts: &[Attempt]) -> usize {
    let mut edges: Vec<(Instant, i32)> = attempts
        .iter()
        .flat_map(|a| [(a.start, 1), (a.end, -1)])
        .collect();
    // At the same instant, ends before starts.
    edges.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, delta) in edges {
        now += delta;
        most = most.max(now);
    }
    usize::try_from(most).unwrap()
}

fn by_key(attempts: &[Attempt]) -> BTreeMap<String, Vec<Attempt>> {
    let mut keys: BTreeMap<String, Vec<Attempt>> = BTreeMap::new();
    for a in attempts {
        keys.entry(a.key.clone()).or_default().push(a.clone());
    }
    keys
}

fn fan(label: &str, keys: Vec<String>, ms: u64, limits: Limits) -> FanOut {
    FanOut {
        label: label.to_owned(),
        keys,
        ms,
        limits,
    }
}

async fn sqlite_runtime(db: &TempDb) -> Runtime {
    Runtime::builder()
        .sqlite(&db.path)
        .resource(WorkerName("sqlite"))
        .workflow(fan_out)
        .activity(work)
        .build()
        .await
        .unwrap()
}

/// Starts one `fan_out` per input on `rt` and waits for all.
async fn run_all(rt: &Runtime, inputs: Vec<FanOut>) {
    let mut handles = Vec::new();
    for (i, input) in inputs.into_iter().enumerate() {
        let id = format!("{}-{i}", input.label);
        handles.push(rt.start(fan_out, input).id(id).await.unwrap());
    }
    for handle in handles {
        handle.result().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrent_holds_across_workflows_and_per_key() {
    let db = TempDb::new("limits-concurrent");
    let rt = sqlite_runtime(&db).await;
    let limits = Limits {
        max_concurrent: Some(3),
        rate: None,
    };
    // Four workflows of five calls on one key, and two keys of their own.
    let mut inputs: Vec<FanOut> = (0..4)
        .map(|_| fan("conc", vec!["shared".into(); 5], 40, limits.clone()))
        .collect();
    inputs.push(fan(
        "conc",
        vec!["a".into(), "b".into()],
        40,
        limits.clone(),
    ));
    run_all(&rt, inputs).await;
    let all = attempts("conc");
    assert_eq!(all.len(), 22);
    let keys = by_key(&all);
    let shared = max_overlap(&keys["shared"]);
    assert!(shared <= 3, "{shared} attempts of one key ran at once");
    assert!(
        shared >= 2,
        "the limit lets attempts run side by side: {shared}"
    );
    // Other keys are not held back by the shared one.
    assert!(max_overlap(&all) > 3, "keys limit separately");
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_holds_per_window() {
    let db = TempDb::new("limits-rate");
    let rt = sqlite_runtime(&db).await;
    let limits = Limits {
        max_concurrent: None,
        rate: Some((5, 300)),
    };
    let started = Instant::now();
    run_all(
        &rt,
        vec![
            fan("rate", vec!["k".into(); 12], 1, limits.clone()),
            fan("rate", vec!["k".into(); 8], 1, limits.clone()),
        ],
    )
    .await;
    assert_eq!(attempts("rate").len(), 20);
    // 20 starts at 5 per 300 ms take at least three windows.
    assert!(started.elapsed() >= Duration::from_millis(900));
    rt.shutdown().await.unwrap();
    // The starts as the store granted them (a body starts a little after
    // its grant, so the bodies' own clocks would blur the windows).
    let conn = rusqlite::Connection::open(&db.path).unwrap();
    let grants: Vec<i64> = conn
        .prepare(
            "SELECT started_ms FROM slot_starts WHERE activity = 'work' AND limit_key = 'k'
             ORDER BY started_ms",
        )
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(grants.len(), 20);
    assert_at_most_per_window(&grants, 5, 300);
}

/// No `count + 1` starts within any `per_ms` window: the sixth start after
/// any start is at least a period later.
fn assert_at_most_per_window(grants: &[i64], count: usize, per_ms: i64) {
    for (i, pair) in grants.windows(count + 1).enumerate() {
        assert!(
            pair[count] - pair[0] >= per_ms,
            "starts {i}..={}: {pair:?} within {per_ms} ms",
            i + count
        );
    }
}

/// Holds the only slot of its pair for `ms`.
#[activity(retry(max_attempts = 1))]
async fn hog(ms: u64) -> Result<(), ActivityError> {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(())
}

/// Calls `hog(ms)` with a limit of one at a time, waiting at most `wait_ms`
/// in all; the call's outcome.
#[workflow]
async fn call_hog(ctx: WorkflowContext, ms: u64, wait_ms: u64) -> Result<String, WorkflowError> {
    let call = ctx
        .activity(hog, ms)
        .max_concurrent(1)
        .schedule_to_close(Duration::from_millis(wait_ms));
    Ok(match call.await {
        Ok(()) => "ran".to_owned(),
        Err(e) => e.kind().to_owned(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_call_shows_its_wait_and_keeps_its_schedule_to_close() {
    let db = TempDb::new("limits-wait");
    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(call_hog)
        .activity(hog)
        .build()
        .await
        .unwrap();
    let holder = rt
        .start(call_hog, (3_000, 60_000))
        .id("holder")
        .await
        .unwrap();
    let mut running = false;
    for _ in 0..100 {
        let info = rt.describe("holder").await.unwrap();
        running = info
            .pending
            .iter()
            .any(|s| s.waiting_for_slot_since.is_none());
        if running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(running, "the first call runs");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The second call waits for the slot the first holds.
    let handle = rt.start(call_hog, (1, 1_000)).id("waiter").await.unwrap();
    let mut waiting = None;
    for _ in 0..50 {
        let info = rt.describe("waiter").await.unwrap();
        waiting = info
            .pending
            .iter()
            .find_map(|step| step.waiting_for_slot_since);
        if waiting.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        waiting.is_some(),
        "describe shows the call waiting for a slot"
    );
    assert_eq!(handle.result().await.unwrap(), "ScheduleToCloseTimeout");
    assert_eq!(holder.result().await.unwrap(), "ran");
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_hold_across_workers_on_postgres() {
    let db = TestDatabase::new();
    let mut workers = Vec::new();
    for name in ["pg-a", "pg-b", "pg-c"] {
        let rt = Runtime::builder()
            .postgres(&db.url)
            .worker_id(name)
            .resource(WorkerName(name))
            .workflow(fan_out)
            .activity(work)
            .build()
            .await
            .unwrap();
        workers.push(rt);
    }
    let concurrent = Limits {
        max_concurrent: Some(2),
        rate: None,
    };
    let mut handles = Vec::new();
    for i in 0..9 {
        let input = fan("pg-conc", vec!["db".into(); 4], 60, concurrent.clone());
        let rt = &workers[i % workers.len()];
        handles.push(
            rt.start(fan_out, input)
                .id(format!("pg-conc-{i}"))
                .await
                .unwrap(),
        );
    }
    for handle in handles {
        handle.result().await.unwrap();
    }
    let all = attempts("pg-conc");
    assert_eq!(all.len(), 36);
    let overlap = max_overlap(&all);
    assert!(
        overlap <= 2,
        "{overlap} attempts ran at once across the workers"
    );
    assert_eq!(overlap, 2, "the limit is used");
    let mut ran_on: Vec<&str> = all.iter().map(|a| a.worker).collect();
    ran_on.sort_unstable();
    ran_on.dedup();
    assert!(
        ran_on.len() >= 2,
        "attempts ran on several workers: {ran_on:?}"
    );

    let rate = Limits {
        max_concurrent: None,
        rate: Some((4, 300)),
    };
    let started = Instant::now();
    let mut handles = Vec::new();
    for (i, rt) in workers.iter().enumerate() {
        let input = fan("pg-rate", vec!["api".into(); 5], 1, rate.clone());
        handles.push(
            rt.start(fan_out, input)
                .id(format!("pg-rate-{i}"))
                .await
                .unwrap(),
        );
    }
    for handle in handles {
        handle.result().await.unwrap();
    }
    assert_eq!(attempts("pg-rate").len(), 15);
    assert!(started.elapsed() >= Duration::from_millis(900));
    // The starts as the database granted them, across the workers.
    let grants: Vec<i64> = db
        .sql("SELECT string_agg(started_ms::text, ',' ORDER BY started_ms) FROM slot_starts WHERE limit_key = 'api'")
        .split(',')
        .map(|ms| ms.trim().parse().unwrap())
        .collect();
    assert_eq!(grants.len(), 15);
    assert_at_most_per_window(&grants, 4, 300);
    for rt in workers {
        rt.shutdown().await.unwrap();
    }
}

mod other {
    use reprise::prelude::*;

    /// Registered under the name of `super::hog`.
    #[activity(name = "hog")]
    pub(crate) async fn hog() -> Result<(), ActivityError> {
        Ok(())
    }

    /// Registered under the name of `super::call_hog`.
    #[workflow(name = "call_hog")]
    pub(crate) async fn call_hog(_ctx: WorkflowContext) -> Result<(), WorkflowError> {
        Ok(())
    }
}

#[tokio::test]
async fn build_names_a_missing_resource_and_two_types_under_one_name() {
    let err = Runtime::builder()
        .in_memory()
        .workflow(fan_out)
        .activity(work)
        .build()
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("activity `work` takes a `Resource<limits::WorkerName>`"),
        "{message}"
    );
    assert!(matches!(err, reprise::Error::Config(_)));

    let err = Runtime::builder()
        .in_memory()
        .activity(hog)
        .activity(other::hog)
        .build()
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("two activities are registered under the name `hog`")
            && message.contains("limits::hog")
            && message.contains("limits::other::hog"),
        "{message}"
    );
    let err = Runtime::builder()
        .in_memory()
        .workflow(call_hog)
        .workflow(other::call_hog)
        .build()
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("two workflows are registered under the name `call_hog`")
            && message.contains("limits::call_hog")
            && message.contains("limits::other::call_hog"),
        "{message}"
    );
    // The same type twice is one registration.
    Runtime::builder()
        .in_memory()
        .activity(hog)
        .activity(hog)
        .build()
        .await
        .unwrap()
        .shutdown()
        .await
        .unwrap();
}
