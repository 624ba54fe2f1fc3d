//! The runtime on PostgreSQL, in one process: a workflow with every kind of
//! durable call; several worker runtimes and a client sharing one database;
//! a worker that shuts down hands its runs (and their timers) to another at
//! once; an attempt learns from its heartbeat that another worker took its
//! task, and a worker whose run was taken writes nothing more to it; bad
//! URLs are one clear error. The failover of a SIGKILLed worker
//! process is `tests/scale_out.rs`; the store's own semantics are the
//! conformance suite (`store::conformance::postgres`).

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::pg::TestDatabase;
use reprise::prelude::*;

static FLAKY_CALLS: AtomicU32 = AtomicU32::new(0);

/// Fails its first attempt.
#[activity(retry(initial_interval = "50ms", max_attempts = 3))]
async fn flaky(ctx: ActivityContext, n: u64) -> Result<u64, ActivityError> {
    FLAKY_CALLS.fetch_add(1, Ordering::SeqCst);
    if ctx.attempt() == 1 {
        return Err(ActivityError::new("Transient", "first attempt fails"));
    }
    Ok(n * 2)
}

#[activity]
async fn add(pair: (u64, u64)) -> Result<u64, ActivityError> {
    Ok(pair.0 + pair.1)
}

#[derive(Debug, Serialize, Deserialize, Signal)]
struct Bump {
    by: u64,
}

/// Activities (one retried), a timer, a signal, then continue-as-new once.
#[workflow]
async fn everything(ctx: WorkflowContext, round: u32) -> Result<u64, WorkflowError> {
    let doubled = ctx.activity(flaky, 21).await?;
    let parts = join_all((0..3).map(|i| ctx.activity(add, (doubled, i)))).await;
    let mut total = 0;
    for part in parts {
        total += part?;
    }
    ctx.sleep(Duration::from_millis(200)).await;
    let bump = ctx.signal::<Bump>().recv().await;
    if round == 0 {
        return ctx.continue_as_new(1);
    }
    Ok(total + bump.by)
}

/// Three steps: enough to spread over workers.
#[workflow]
async fn small(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let mut acc = n;
    for i in 0..3 {
        acc = ctx.activity(add, (acc, i)).await?;
    }
    Ok(acc)
}

/// Waits on a durable timer.
#[workflow]
async fn sleeper(ctx: WorkflowContext, ms: u64) -> Result<u64, WorkflowError> {
    ctx.sleep(Duration::from_millis(ms)).await;
    Ok(ms)
}

fn builder(db: &TestDatabase, id: &str) -> reprise::RuntimeBuilder {
    Runtime::builder()
        .postgres(&db.url)
        .worker_id(id)
        .lease(Duration::from_secs(2))
        .workflow(everything)
        .workflow(small)
        .workflow(sleeper)
        .activity(flaky)
        .activity(add)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_with_every_kind_of_call_runs_on_postgres() {
    let db = TestDatabase::new();
    let rt = builder(&db, "solo").build().await.unwrap();
    let handle = rt.start(everything, 0).id("every").await.unwrap();
    // One signal per run: the first run continues as new after it.
    for _ in 0..2 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let info = rt.describe("every").await.unwrap();
            if info
                .pending
                .iter()
                .all(|p| p.kind != "activity" && p.kind != "timer")
                && info.progress.is_none()
                && rt.signal("every", Bump { by: 100 }).await.is_ok()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the workflow never waited for its signal"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // (42 + 0) + (42 + 1) + (42 + 2) + 100
    assert_eq!(handle.result().await.unwrap(), 229);
    let info = rt.describe("every").await.unwrap();
    assert_eq!(info.runs.len(), 2, "continued as new once");
    assert_eq!(info.status, reprise::WorkflowStatus::Completed);
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_and_a_client_share_one_database() {
    let db = TestDatabase::new();
    let a = builder(&db, "a").build().await.unwrap();
    let b = builder(&db, "b").build().await.unwrap();
    let client = builder(&db, "client").worker(false).build().await.unwrap();
    let mut handles = Vec::new();
    for n in 0..40 {
        handles.push(
            client
                .start(small, n)
                .id(format!("small-{n}"))
                .await
                .unwrap(),
        );
    }
    for (n, handle) in handles.iter().enumerate() {
        let out = tokio::time::timeout(Duration::from_secs(30), handle.result())
            .await
            .expect("every workflow ends")
            .unwrap();
        assert_eq!(out, n as u64 + 3);
    }
    // Each completion recorded once: one run each, completed, no task left.
    let completed = db
        .sql("SELECT count(*) FROM runs WHERE status = 'completed' AND workflow_id LIKE 'small-%'");
    assert_eq!(completed, "40");
    assert_eq!(db.sql("SELECT count(*) FROM tasks"), "0");
    assert_eq!(db.sql("SELECT count(*) FROM inbox"), "0");
    client.shutdown().await.unwrap();
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_shuts_down_hands_its_runs_over_at_once() {
    let db = TestDatabase::new();
    let a = builder(&db, "a").build().await.unwrap();
    // Started by A, so held by A, with its timer armed in A.
    let started = Instant::now();
    a.start(sleeper, 1_500).id("nap").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.shutdown().await.unwrap();
    let b = builder(&db, "b").build().await.unwrap();
    let handle = b.handle::<u64>("nap").await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(10), handle.result())
        .await
        .expect("B fires A's timer")
        .unwrap();
    assert_eq!(out, 1_500);
    let waited = started.elapsed();
    // Not before its deadline; and without waiting for A's lease (2 s) to
    // expire after the deadline: the poll horizon arms it ahead.
    assert!(waited >= Duration::from_millis(1_500), "{waited:?}");
    assert!(waited < Duration::from_millis(4_500), "{waited:?}");
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_from_a_client_reaches_the_worker_that_holds_the_run() {
    let db = TestDatabase::new();
    // A poll too slow to matter: only notifications can wake the worker.
    let worker = builder(&db, "w")
        .poll_interval(Duration::from_secs(60))
        .build()
        .await
        .unwrap();
    let client = builder(&db, "c").worker(false).build().await.unwrap();
    let handle = client.start(everything, 1).id("sig").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client
        .describe("sig")
        .await
        .unwrap()
        .pending
        .iter()
        .any(|p| p.kind == "timer")
        || client.describe("sig").await.unwrap().runs[0].updated_at
            == client.describe("sig").await.unwrap().runs[0].started_at
    {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = Instant::now();
    client.signal("sig", Bump { by: 1 }).await.unwrap();

    let out = tokio::time::timeout(Duration::from_secs(10), handle.result())
        .await
        .expect("the workflow ends")
        .unwrap();
    assert_eq!(out, 130);
    // Woken by notifications (the start, the signal, the end), not by the
    // worker's poll.
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "{:?}",
        sent.elapsed()
    );
    client.shutdown().await.unwrap();
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_bad_url_is_one_clear_error_without_the_password() {
    for url in [
        "postgres://etl:s3cret@127.0.0.1:1/pipelines",
        "not a url at all s3cret",
    ] {
        let err = Runtime::builder()
            .postgres(url)
            .workflow(small)
            .build()
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, reprise::Error::Config(_)), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
        assert!(!message.contains('\n'), "one line: {message}");
    }
}

static NOTICED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Heartbeats until its context says to stop (for two minutes at most).
#[activity(heartbeat_timeout = "1m")]
async fn watchful(ctx: ActivityContext) -> Result<(), ActivityError> {
    for i in 0..1_200u32 {
        if ctx.is_cancelled() {
            NOTICED.store(true, Ordering::SeqCst);
            return Err(ActivityError::new(
                "Stopped",
                "the attempt was told to stop",
            ));
        }
        ctx.heartbeat(&i);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[workflow]
async fn watching(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    ctx.activity(watchful, ()).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_learns_from_its_heartbeat_that_another_worker_took_its_task() {
    let db = TestDatabase::new();
    let rt = Runtime::builder()
        .postgres(&db.url)
        .worker_id("a")
        .workflow(watching)
        .activity(watchful)
        .build()
        .await
        .unwrap();
    rt.start(watching, ()).id("watch").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while db.sql("SELECT count(*) FROM tasks WHERE details IS NOT NULL") != "1" {
        assert!(Instant::now() < deadline, "the attempt never heartbeated");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!NOTICED.load(Ordering::SeqCst));
    // What a claim by another worker does to the task: a new holder, a new token.
    db.sql("UPDATE tasks SET owner = 'b', token = token + 1000000");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !NOTICED.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the attempt never learned it lost its task"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Its failure was not recorded: the task is the other worker's.
    assert_eq!(db.sql("SELECT attempt, owner FROM tasks"), "1|b");
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_run_was_taken_writes_nothing_more_to_it() {
    let db = TestDatabase::new();
    let rt = builder(&db, "a").build().await.unwrap();
    rt.start(sleeper, 800).id("taken").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while db.sql("SELECT count(*) FROM tasks WHERE kind = 'timer'") != "1" {
        assert!(Instant::now() < deadline, "the timer was never stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = db.sql("SELECT history_len FROM runs WHERE workflow_id = 'taken'");
    // What a claim by another worker does to the run: a new holder, a new token.
    db.sql("UPDATE runs SET owner = 'b', token = token + 1000000 WHERE workflow_id = 'taken'");
    // A's timer fires; its step is fenced and changes nothing.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        db.sql("SELECT history_len, status, owner FROM runs WHERE workflow_id = 'taken'"),
        format!("{before}|running|b")
    );
    rt.shutdown().await.unwrap();
}
