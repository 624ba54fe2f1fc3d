//! The web UI at scale (ignored by default: it takes a minute): a SQLite
//! store with 100,000 workflows and one run of about 10,000 events, then
//! the times of the API calls the pages make. Figures in docs/WEB_UI.md
//! and docs/PERFORMANCE.md come from:
//!
//! ```sh
//! cargo test --release -p reprise-cli --test ui_scale -- --ignored --nocapture
//! ```
//!
//! `REPRISE_UI_SCALE_WORKFLOWS` and `REPRISE_UI_SCALE_STEPS` change the
//! sizes (100,000 workflows; 3,333 sequential activity calls, about
//! 10,000 events).

mod common;
mod ui;

use std::time::{Duration, Instant};

use reprise::prelude::*;
use reprise::WorkflowStatus;
use serde_json::Value;

use ui::{wait_for_status, TempDb, UiProcess};

/// Completes at once; one in a hundred fails.
#[workflow]
async fn tiny(_ctx: WorkflowContext, n: u32) -> Result<u32, WorkflowError> {
    if n % 100 == 7 {
        return Err(WorkflowError::new(format!("item {n} is broken")));
    }
    Ok(n)
}

/// Waits an hour: the one running workflow.
#[workflow]
async fn idle(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    ctx.sleep(Duration::from_secs(3600)).await;
    Ok(())
}

#[activity]
async fn work(n: u32) -> Result<u32, ActivityError> {
    Ok(n + 1)
}

/// `n` activity calls, one after the other: about `3 n` events.
#[workflow]
async fn long(ctx: WorkflowContext, n: u32) -> Result<u32, WorkflowError> {
    let mut sum = 0u32;
    for i in 0..n {
        sum = sum.wrapping_add(ctx.activity(work, i).await?);
    }
    Ok(sum)
}

fn env_or(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Calls `GET path` `times` times; the median and the slowest, in ms.
async fn time_get(http: &reqwest::Client, url: &str, times: usize) -> (f64, f64, Value) {
    let mut took = Vec::new();
    let mut last = Value::Null;
    for _ in 0..times {
        let start = Instant::now();
        let response = http.get(url).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        last = response.json().await.unwrap();
        took.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    took.sort_by(f64::total_cmp);
    (took[took.len() / 2], took[took.len() - 1], last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fills a store with 100,000 workflows: run with --release -- --ignored --nocapture"]
async fn the_api_stays_fast_with_100k_workflows_and_a_10k_event_history() {
    let workflows = env_or("REPRISE_UI_SCALE_WORKFLOWS", 100_000);
    let steps = env_or("REPRISE_UI_SCALE_STEPS", 3_333);
    let db = TempDb::new("scale");
    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(tiny)
        .workflow(long)
        .workflow(idle)
        .activity(work)
        .build()
        .await
        .unwrap();

    // The long history first, so that it is the oldest workflow.
    let start = Instant::now();
    rt.start(long, steps).id("long").await.unwrap();
    wait_for_status(&rt, "long", WorkflowStatus::Completed).await;
    let history = rt.history("long").await.unwrap();
    println!(
        "history: {} activity calls, {} events, in {:.1} s",
        steps,
        history.events.len(),
        start.elapsed().as_secs_f64()
    );

    // 100,000 starts, 1,000 at a time (group commit batches them).
    let start = Instant::now();
    let mut n = 0;
    while n < workflows {
        let batch = (n..(n + 1000).min(workflows)).map(|i| {
            let rt = &rt;
            async move {
                rt.start(tiny, i)
                    .id(format!("item-{i:06}"))
                    .await
                    .map(|_| ())
            }
        });
        for started in join_all(batch).await {
            started.unwrap();
        }
        n = (n + 1000).min(workflows);
    }
    let started = start.elapsed();
    let last = format!("item-{:06}", workflows - 1);
    wait_for_status(&rt, &last, WorkflowStatus::Completed).await;
    // Every one has run: none left running.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let running = rt
            .list(reprise::ListFilter::new().status(WorkflowStatus::Running))
            .await
            .unwrap();
        if running.workflows.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still running after 120 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "{workflows} workflows started in {:.1} s ({:.0}/s), all ended in {:.1} s",
        started.as_secs_f64(),
        f64::from(workflows) / started.as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
    rt.start(idle, ()).id("idle").await.unwrap();
    let size = std::fs::metadata(&db.path).map(|m| m.len()).unwrap_or(0);
    println!("store: {:.0} MB", size as f64 / 1e6);

    let ui = UiProcess::start(&db.path);
    let http = reqwest::Client::new();
    let mut rows = Vec::new();
    let mut measure = |what: &str, result: (f64, f64, Value)| {
        rows.push(format!("| {what} | {:.1} | {:.1} |", result.0, result.1));
        result.2
    };

    let first = measure(
        "`GET /api/workflows` (first page, 50)",
        time_get(&http, &ui.at("/api/workflows"), 21).await,
    );
    assert_eq!(first["workflows"].as_array().unwrap().len(), 50);
    let full = measure(
        "`GET /api/workflows?limit=1000`",
        time_get(&http, &ui.at("/api/workflows?limit=1000"), 11).await,
    );
    assert_eq!(full["workflows"].as_array().unwrap().len(), 1000);
    // A page deep in the list: the 1,000th page of 50 (workflows 50,000 on).
    let mut token = first["next_page"].as_str().unwrap().to_owned();
    for _ in 0..(workflows / 2 / 50).saturating_sub(1) {
        let page: Value = http
            .get(ui.at(&format!("/api/workflows?page={token}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        token = page["next_page"].as_str().unwrap().to_owned();
    }
    measure(
        "`GET /api/workflows?page=…` (page 1,000 of 2,000)",
        time_get(&http, &ui.at(&format!("/api/workflows?page={token}")), 21).await,
    );
    let failed = measure(
        "`GET /api/workflows?status=failed` (1 in 100 match)",
        time_get(&http, &ui.at("/api/workflows?status=failed"), 21).await,
    );
    let expected = (workflows as usize / 100).min(50);
    assert_eq!(failed["workflows"].as_array().unwrap().len(), expected);
    measure(
        "`GET /api/workflows?status=running` (1 match)",
        time_get(&http, &ui.at("/api/workflows?status=running"), 21).await,
    );
    let named = measure(
        "`GET /api/workflows?name=long` (1 match, oldest)",
        time_get(&http, &ui.at("/api/workflows?name=long"), 11).await,
    );
    assert_eq!(named["workflows"].as_array().unwrap().len(), 1);
    measure(
        "`GET /api/workflows?within=1h`",
        time_get(&http, &ui.at("/api/workflows?within=1h"), 21).await,
    );
    measure(
        "`GET /api/workflows/long` (describe)",
        time_get(&http, &ui.at("/api/workflows/long"), 21).await,
    );
    let window = measure(
        "`GET /api/workflows/long/timeline` (steps 1–200)",
        time_get(&http, &ui.at("/api/workflows/long/timeline"), 21).await,
    );
    let total = window["total"].as_u64().unwrap();
    println!("timeline: {} events, {total} steps", window["events"]);
    let last_window = (total - 1) / 200 * 200;
    measure(
        "`GET /api/workflows/long/timeline?offset=…` (the last window)",
        time_get(
            &http,
            &ui.at(&format!(
                "/api/workflows/long/timeline?offset={last_window}"
            )),
            21,
        )
        .await,
    );
    println!("\n| request | median ms | slowest ms |\n| --- | ---: | ---: |");
    for row in rows {
        println!("{row}");
    }
    drop(ui);
    rt.shutdown().await.unwrap();
}
