//! Schedules on PostgreSQL with two workers on one fresh database: both
//! run the scheduler and race for every tick, yet each tick starts exactly
//! one run (its activity runs once); when one worker stops, the other
//! keeps ticking without a gap.

mod common;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::pg::TestDatabase;
use reprise::prelude::*;
use reprise::Overlap;

/// Which worker ran each workflow's activity: `workflow id -> [worker]`.
static CALLS: Mutex<BTreeMap<String, Vec<String>>> = Mutex::new(BTreeMap::new());

/// The worker a runtime is, handed to its activities.
struct WorkerName(String);

#[activity]
async fn record(ctx: ActivityContext, me: Resource<WorkerName>) -> Result<(), ActivityError> {
    CALLS
        .lock()
        .unwrap()
        .entry(ctx.workflow_id().to_owned())
        .or_default()
        .push(me.0.clone());
    Ok(())
}

#[workflow]
async fn report(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    ctx.activity(record, ()).await?;
    Ok(())
}

async fn worker(db: &TestDatabase, name: &str) -> Runtime {
    let rt = Runtime::builder()
        .postgres(&db.url)
        .worker_id(name)
        .lease(Duration::from_secs(2))
        .resource(WorkerName(name.to_owned()))
        .workflow(report)
        .activity(record)
        .build()
        .await
        .unwrap();
    // Both write the schedule at start-up, as one application on two hosts.
    rt.schedule("beat", "* * * * * *", report, ())
        .overlap(Overlap::AllowAll)
        .await
        .unwrap();
    rt
}

/// The ids of the schedule's runs whose activity has run, by tick.
fn called() -> BTreeMap<String, Vec<String>> {
    CALLS
        .lock()
        .unwrap()
        .iter()
        .filter(|(id, _)| id.starts_with("beat@"))
        .map(|(id, workers)| (id.clone(), workers.clone()))
        .collect()
}

async fn wait_for_calls(at_least: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while called().len() < at_least {
        assert!(
            Instant::now() < deadline,
            "fewer than {at_least} ticks ran: {:?}",
            called()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The second of a run id `beat@YYYY-MM-DDTHH:MM:SSZ`, within its day.
fn second_of_day(id: &str) -> u64 {
    let time = &id["beat@YYYY-MM-DDT".len()..];
    let n = |r: std::ops::Range<usize>| time[r].parse::<u64>().unwrap();
    assert_eq!(time.len(), 9, "{id}");
    n(0..2) * 3600 + n(3..5) * 60 + n(6..8)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_start_each_tick_once_and_one_keeps_ticking_alone() {
    let db = TestDatabase::new();
    let a = worker(&db, "worker-a").await;
    let b = worker(&db, "worker-b").await;
    wait_for_calls(4).await;

    // One worker stops: the other one goes on ticking.
    a.shutdown().await.unwrap();
    let stopped = called().len();
    wait_for_calls(stopped + 3).await;
    let s = b.schedules().await.unwrap().remove(0);
    b.shutdown().await.unwrap();

    let calls = called();
    for (id, workers) in &calls {
        assert_eq!(workers.len(), 1, "tick `{id}` ran once: {calls:?}");
    }
    // No tick was lost between the first and the last (within one day).
    let seconds: Vec<u64> = calls.keys().map(|id| second_of_day(id)).collect();
    if seconds.first() < seconds.last() {
        for pair in seconds.windows(2) {
            assert_eq!(pair[1], pair[0] + 1, "consecutive ticks: {calls:?}");
        }
    }
    // Every run of the schedule is in the database once, and completed.
    let rows = db.sql(
        "SELECT count(*), count(DISTINCT workflow_id), bool_and(status = 'completed') \
         FROM runs WHERE workflow_id LIKE 'beat@%'",
    );
    let cols: Vec<&str> = rows.split('|').collect();
    let (runs, distinct): (usize, usize) = (cols[0].parse().unwrap(), cols[1].parse().unwrap());
    assert_eq!(runs, distinct, "one run per tick: {rows}");
    assert!(runs >= calls.len(), "{rows} {calls:?}");
    assert_eq!(cols[2], "t", "every run completed: {rows}");
    assert_eq!((s.skipped, s.missed), (0, 0));
    let after_stop: Vec<&Vec<String>> = calls.values().skip(stopped).collect();
    assert!(
        after_stop.iter().all(|w| w[0] == "worker-b"),
        "after the stop only worker-b runs: {calls:?}"
    );
}
