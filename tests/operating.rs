//! The read and steer API operators build on: `list` with filters and
//! pages, `history` and `run_history`, `resume` of a blocked run, and what
//! `describe` tells of a pending call (attempt N of M, heartbeat).

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use common::TempDb;
use reprise::prelude::*;
use reprise::{Error, ListFilter, PageToken, WorkflowHistory, WorkflowStatus};

#[activity]
async fn double(n: u64) -> Result<u64, ActivityError> {
    Ok(n * 2)
}

#[workflow(name = "doubler")]
async fn doubler(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    Ok(ctx.activity(double, n).await?)
}

#[workflow(name = "hopper")]
async fn hopper(ctx: WorkflowContext, hops: u32) -> Result<u32, WorkflowError> {
    ctx.activity(double, u64::from(hops)).await?;
    if hops > 0 {
        return ctx.continue_as_new(hops - 1);
    }
    Ok(hops)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_and_pages_and_history_reads_every_run() {
    let db = TempDb::new("operating-list");
    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(doubler)
        .workflow(hopper)
        .activity(double)
        .build()
        .await
        .unwrap();
    let before = SystemTime::now();
    for i in 0..5u64 {
        let h = rt.start(doubler, i).id(format!("d{i}")).await.unwrap();
        h.result().await.unwrap();
    }
    let h = rt.start(hopper, 2).id("hop").await.unwrap();
    assert_eq!(h.result().await.unwrap(), 0);

    // Newest first; the continued workflow is listed once, by its latest run.
    let page = rt.list(ListFilter::new()).await.unwrap();
    let ids: Vec<&str> = page
        .workflows
        .iter()
        .map(|w| w.workflow_id.as_str())
        .collect();
    assert_eq!(ids, ["hop", "d4", "d3", "d2", "d1", "d0"]);
    assert!(page.next_page.is_none());
    assert!(page
        .workflows
        .iter()
        .all(|w| w.status == WorkflowStatus::Completed));
    assert!(page
        .workflows
        .iter()
        .all(|w| w.started_at >= before - Duration::from_secs(1)));

    // Pages of two, through the token's text form.
    let mut filter = ListFilter::new().name("doubler").limit(2);
    let mut seen = Vec::new();
    loop {
        let page = rt.list(filter.clone()).await.unwrap();
        seen.extend(page.workflows.into_iter().map(|w| w.workflow_id));
        match page.next_page {
            Some(token) => {
                let token: PageToken = token.to_string().parse().unwrap();
                filter = filter.page(&token);
            }
            None => break,
        }
    }
    assert_eq!(seen, ["d4", "d3", "d2", "d1", "d0"]);
    let bad = "next".parse::<PageToken>().unwrap_err();
    assert!(matches!(bad, Error::InvalidPageToken { .. }), "{bad}");

    let running = rt
        .list(ListFilter::new().status(WorkflowStatus::Running))
        .await
        .unwrap();
    assert!(running.workflows.is_empty());
    let later = rt
        .list(ListFilter::new().started_after(SystemTime::now() + Duration::from_secs(60)))
        .await
        .unwrap();
    assert!(later.workflows.is_empty());

    // The latest run's history, as JSON that round-trips.
    let history = rt.history("d3").await.unwrap();
    assert_eq!(history.workflow_type, "doubler");
    assert_eq!(history.status, WorkflowStatus::Completed);
    let kinds: Vec<&str> = history
        .events
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"WorkflowStarted"));
    assert_eq!(history.events[0]["input"], json!(3));
    assert!(kinds.contains(&"ActivityScheduled") && kinds.contains(&"ActivityCompleted"));
    assert_eq!(history.events.last().unwrap()["output"], json!(6));
    let text = serde_json::to_string(&history).unwrap();
    assert_eq!(
        serde_json::from_str::<WorkflowHistory>(&text).unwrap(),
        history
    );

    // Each run of a chain; a run of another workflow is not found.
    let info = rt.describe("hop").await.unwrap();
    assert_eq!(info.runs.len(), 3);
    let first = rt.run_history("hop", &info.runs[0].run_id).await.unwrap();
    assert_eq!(first.status, WorkflowStatus::ContinuedAsNew);
    assert_eq!(first.events[0]["input"], json!(2));
    let last = rt.history("hop").await.unwrap();
    assert_eq!(last.run_id, info.runs[2].run_id);
    let err = rt
        .run_history("d3", &info.runs[0].run_id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RunNotFound { .. }), "{err}");
    let err = rt.history("nope").await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    rt.shutdown().await.unwrap();
}

/// Where `threshold` reads its setting: a file an operator may fix.
static SETTINGS: OnceLock<PathBuf> = OnceLock::new();

/// A helper the workflow calls that panics without its settings file (as
/// a library might): the run is blocked until the file is there.
fn threshold() -> u64 {
    let path = SETTINGS.get().expect("set by the test");
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no settings at {}: {e}", path.display()));
    text.trim().parse().expect("a number")
}

#[workflow(name = "configured")]
async fn configured(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let doubled = ctx.activity(double, n).await?;
    Ok(doubled + threshold())
}

/// The same after a durable timer: the timer's firing is what the blocked
/// activation did not record.
#[workflow(name = "napper")]
async fn napper(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    ctx.sleep(Duration::from_millis(50)).await;
    Ok(n + threshold())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_retries_a_blocked_run_now() {
    let db = TempDb::new("operating-resume");
    let settings = db.dir().join("settings.txt");
    SETTINGS.set(settings.clone()).unwrap();
    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(configured)
        .workflow(napper)
        .activity(double)
        .build()
        .await
        .unwrap();
    rt.start(configured, 4).id("cfg").await.unwrap();
    rt.start(napper, 1).id("nap").await.unwrap();
    common::wait_for_status(&rt, "nap", WorkflowStatus::Blocked).await;
    let info = common::wait_for_status(&rt, "cfg", WorkflowStatus::Blocked).await;
    assert!(
        info.error
            .as_deref()
            .is_some_and(|e| e.contains("no settings at")),
        "{info:?}"
    );
    let blocked = rt
        .list(ListFilter::new().status(WorkflowStatus::Blocked))
        .await
        .unwrap();
    assert_eq!(blocked.workflows.len(), 2);
    assert!(blocked.workflows.iter().all(|w| w.error.is_some()));

    // Resumed while still broken: it stays blocked, and the request is
    // consumed (a second one is taken too).
    rt.resume("cfg").await.unwrap();
    rt.resume("cfg").await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        rt.describe("cfg").await.unwrap().status,
        WorkflowStatus::Blocked
    );

    // Fixed: resumed, it replays and completes without a restart.
    std::fs::write(&settings, "100\n").unwrap();
    rt.resume("cfg").await.unwrap();
    rt.resume("nap").await.unwrap();
    let info = common::wait_for_status(&rt, "cfg", WorkflowStatus::Completed).await;
    assert_eq!(info.result, Some(json!(108)));
    let info = common::wait_for_status(&rt, "nap", WorkflowStatus::Completed).await;
    assert_eq!(info.result, Some(json!(101)));
    let err = rt.resume("nope").await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    let err = rt.resume("cfg").await.unwrap_err();
    assert!(matches!(err, Error::Finished { .. }), "{err}");
    rt.shutdown().await.unwrap();
}

#[activity(retry(max_attempts = 5, initial_interval = "20ms"))]
async fn slow_flaky(ctx: ActivityContext, n: u64) -> Result<u64, ActivityError> {
    ctx.heartbeat(&json!({ "attempt": ctx.attempt() }));
    if ctx.attempt() < 2 {
        return Err(ActivityError::new("Flaky", "first attempt fails"));
    }
    tokio::time::sleep(Duration::from_secs(30)).await;
    Ok(n)
}

#[workflow(name = "patient")]
async fn patient(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    Ok(ctx.activity(slow_flaky, n).await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_shows_the_attempt_of_its_maximum_and_the_last_heartbeat() {
    let rt = Runtime::builder()
        .in_memory()
        .workflow(patient)
        .activity(slow_flaky)
        .build()
        .await
        .unwrap();
    rt.start(patient, 1).id("p").await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let step = loop {
        let info = rt.describe("p").await.unwrap();
        if let Some(step) = info
            .pending
            .first()
            .filter(|s| s.attempt == 2 && s.heartbeat.is_some())
        {
            if step.heartbeat.as_ref().unwrap()["attempt"] == json!(2) {
                break step.clone();
            }
        }
        assert!(std::time::Instant::now() < deadline, "{info:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(step.name, "slow_flaky");
    assert_eq!(step.max_attempts, Some(5));
    assert!(step
        .last_error
        .as_deref()
        .is_some_and(|e| e.contains("first attempt fails")));
    let at = step.heartbeat_at.expect("the heartbeat's time");
    assert!(at >= step.scheduled_at, "{step:?}");
    rt.shutdown().await.unwrap();
}
