//! reprise's metrics for Prometheus: a worker on SQLite runs a small order
//! workflow load and serves `/metrics` on 127.0.0.1, with the metrics
//! recorded through the `metrics` facade and exported by
//! `metrics-exporter-prometheus`. Its logs (`tracing-subscriber`, on stderr)
//! show the failed attempts, each in its `activity_attempt` span.
//!
//! ```sh
//! cargo run --example prometheus                  # serves http://127.0.0.1:9464/metrics; a new batch every 2 s
//! curl -s http://127.0.0.1:9464/metrics | grep reprise_
//! cargo run --example prometheus -- --once        # runs one batch, prints the scrape, exits
//! ```
//!
//! Flags: `--port N` (default 9464; 0 for any free port, the default with
//! `--once`), `--workflows N` per batch (default 20), `--once`. The store is
//! a SQLite file in a temporary folder of this process (removed at the end
//! of `--once`).
//!
//! What an application does to get the metrics:
//!
//! 1. install a recorder before building the runtime
//!    (`PrometheusBuilder::install_recorder`), so that `build()` describes
//!    reprise's metrics to it (else call `reprise::describe_metrics()`);
//! 2. serve `handle.render()` where Prometheus scrapes, and call
//!    `handle.run_upkeep()` now and then.
//!
//! `docs/OBSERVABILITY.md` lists the metrics and the spans.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::routing::get;
use clap::Parser;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use reprise::prelude::*;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser, Debug)]
#[command(about = "A reprise worker serving its metrics for Prometheus")]
struct Args {
    /// The port of `/metrics` on 127.0.0.1 (0: any free port). Default:
    /// 9464, or 0 with `--once`.
    #[arg(long)]
    port: Option<u16>,
    /// Workflows started per batch.
    #[arg(long, default_value_t = 20)]
    workflows: u64,
    /// Run one batch, print the scraped metrics on stdout, and exit.
    #[arg(long)]
    once: bool,
}

/// Looks an order up. Every third order's first attempt fails (a flaky
/// upstream), so the retries show.
#[activity(retry(max_attempts = 5, initial_interval = "20ms"))]
async fn fetch_order(ctx: ActivityContext, id: u64) -> Result<u64, ActivityError> {
    tokio::time::sleep(Duration::from_millis(5 + id % 10)).await;
    if id.is_multiple_of(3) && ctx.attempt() == 1 {
        return Err(ActivityError::new(
            "UpstreamUnavailable",
            format!("order service answered 503 for order {id}"),
        ));
    }
    Ok(100 + id * 7)
}

/// Prices it: blocking, CPU-bound work, on the blocking pool.
#[activity]
fn price(amount: u64) -> Result<u64, ActivityError> {
    Ok((0..1000).fold(amount, |acc, i| (acc * 31 + i) % 1_000_003))
}

/// Charges it: at most two charges at once, across every workflow.
#[activity(max_concurrent = 2)]
async fn charge(amount: u64) -> Result<u64, ActivityError> {
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(amount)
}

#[workflow]
async fn order(ctx: WorkflowContext, id: u64) -> Result<u64, WorkflowError> {
    let amount = ctx.activity(fetch_order, id).await?;
    let priced = ctx.activity(price, amount).await?;
    ctx.sleep(Duration::from_millis(10)).await;
    Ok(ctx.activity(charge, priced).await?)
}

/// Starts `count` orders and waits for them all.
async fn run_batch(rt: &Runtime, next: &AtomicU64, count: u64) -> Result<(), BoxError> {
    let mut handles = Vec::new();
    for _ in 0..count {
        let id = next.fetch_add(1, Ordering::Relaxed);
        handles.push(rt.start(order, id).id(format!("order-{id}")).await?);
    }
    for handle in handles {
        handle.result().await?;
    }
    Ok(())
}

/// Serves `/metrics` on 127.0.0.1; returns its address.
async fn serve(handle: PrometheusHandle, port: u16) -> Result<SocketAddr, BoxError> {
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    let app =
        axum::Router::new().route("/metrics", get(move || std::future::ready(handle.render())));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("the metrics server stopped: {e}");
        }
    });
    Ok(addr)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .init();
    // Durations as Prometheus histograms (the exporter's default is a
    // summary), with buckets from a millisecond to a minute.
    let seconds = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &seconds)?
        .set_buckets_for_metric(
            Matcher::Full("reprise_store_commit_steps".to_owned()),
            &[1.0, 2.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 4096.0],
        )?
        .install_recorder()?;

    let dir: PathBuf =
        std::env::temp_dir().join(format!("reprise-prometheus-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("reprise.db");
    // Built after the recorder is installed: `build` describes the metrics.
    let rt = Runtime::builder()
        .sqlite(&db)
        .workflow(order)
        .activity(fetch_order)
        .activity(price)
        .activity(charge)
        .build()
        .await?;

    let port = args.port.unwrap_or(if args.once { 0 } else { 9464 });
    let addr = serve(handle, port).await?;
    let url = format!("http://{addr}/metrics");
    let next = AtomicU64::new(1);
    if args.once {
        eprintln!("metrics at {url}");
        let batch = run_batch(&rt, &next, args.workflows);
        tokio::time::timeout(Duration::from_secs(120), batch)
            .await
            .map_err(|_| "the batch did not finish within 120 s")??;
        let scraped = reqwest::get(&url).await?.error_for_status()?.text().await?;
        print!("{scraped}");
        rt.shutdown().await?;
        std::fs::remove_dir_all(&dir)?;
        return Ok(());
    }
    println!("metrics at {url} (store: {})", db.display());
    loop {
        run_batch(&rt, &next, args.workflows).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
