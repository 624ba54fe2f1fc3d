//! Metrics: what the runtime records through the `metrics` facade, read
//! back from `metrics-util`'s `DebuggingRecorder`, installed globally (this
//! binary has one test, so nothing else records meanwhile).

use std::sync::atomic::{AtomicU32, Ordering};

use metrics::{SharedString, Unit};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::{CompositeKey, MetricKind};
use reprise::prelude::*;

/// A snapshot: counters since the last one, histograms' samples since then.
struct Snap(Vec<(CompositeKey, Option<Unit>, Option<SharedString>, DebugValue)>);

impl Snap {
    fn take(snapshotter: &Snapshotter) -> Self {
        Self(snapshotter.snapshot().into_vec())
    }

    fn find(&self, kind: MetricKind, name: &str, labels: &[(&str, &str)]) -> Option<&DebugValue> {
        self.0
            .iter()
            .find(|(key, ..)| {
                let mut found: Vec<(&str, &str)> =
                    key.key().labels().map(|l| (l.key(), l.value())).collect();
                found.sort();
                let mut wanted = labels.to_vec();
                wanted.sort();
                key.kind() == kind && key.key().name() == name && found == wanted
            })
            .map(|(.., value)| value)
    }

    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.find(MetricKind::Counter, name, labels) {
            Some(DebugValue::Counter(n)) => *n,
            None => 0,
            Some(other) => panic!("{name} is not a counter: {other:?}"),
        }
    }

    fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        match self.find(MetricKind::Histogram, name, labels) {
            Some(DebugValue::Histogram(values)) => values.iter().map(|v| v.into_inner()).collect(),
            None => Vec::new(),
            Some(other) => panic!("{name} is not a histogram: {other:?}"),
        }
    }

    fn unit(&self, name: &str) -> Option<Unit> {
        self.0
            .iter()
            .find(|(key, ..)| key.key().name() == name)
            .and_then(|(_, unit, ..)| *unit)
    }
}

/// Fails its first attempt.
#[activity(retry(max_attempts = 3, initial_interval = "10ms"))]
async fn flaky(ctx: ActivityContext, n: u64) -> Result<u64, ActivityError> {
    if ctx.attempt() == 1 {
        return Err(ActivityError::new("Flaky", "the first attempt fails"));
    }
    Ok(n + 1)
}

#[workflow]
async fn counted(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    Ok(ctx.activity(flaky, n).await?)
}

#[activity]
async fn step(n: u64) -> Result<u64, ActivityError> {
    Ok(n + 1)
}

#[workflow]
async fn stepper(ctx: WorkflowContext, steps: u64) -> Result<u64, WorkflowError> {
    let mut n = 0;
    while n < steps {
        n = ctx.activity(step, n).await?;
    }
    Ok(n)
}

#[workflow]
async fn refuser(_ctx: WorkflowContext, _n: u64) -> Result<u64, WorkflowError> {
    Err(WorkflowError::new("refused"))
}

/// Not registered with the runtime: a run that calls it is blocked.
#[activity]
async fn missing() -> Result<(), ActivityError> {
    Ok(())
}

#[workflow]
async fn orphan(ctx: WorkflowContext, _n: u64) -> Result<u64, WorkflowError> {
    ctx.activity(missing, ()).await?;
    Ok(0)
}

static NARROW_RUNNING: AtomicU32 = AtomicU32::new(0);

/// One at a time: concurrent calls wait for the slot.
/// Waits for a `Go` signal, then ends.
#[derive(Debug, Serialize, Deserialize, Signal)]
struct Go;

#[workflow]
async fn parked(ctx: WorkflowContext, _n: u64) -> Result<u64, WorkflowError> {
    ctx.signal::<Go>().recv().await;
    Ok(1)
}

#[activity(max_concurrent = 1)]
async fn narrow(n: u64) -> Result<u64, ActivityError> {
    assert_eq!(NARROW_RUNNING.fetch_add(1, Ordering::SeqCst), 0);
    tokio::time::sleep(Duration::from_millis(30)).await;
    NARROW_RUNNING.fetch_sub(1, Ordering::SeqCst);
    Ok(n)
}

#[workflow]
async fn fan(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let calls = (0..n).map(|i| ctx.activity(narrow, i));
    let mut sum = 0;
    for result in join_all(calls).await {
        sum += result?;
    }
    Ok(sum)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_records_its_metrics() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this binary");

    // One workflow, one activity that fails once, then succeeds.
    let rt = Runtime::builder()
        .in_memory()
        .workflow(counted)
        .activity(flaky)
        .build()
        .await
        .unwrap();
    let handle = rt.start(counted, 41).id("counted-1").await.unwrap();
    assert_eq!(handle.result().await.unwrap(), 42);
    rt.shutdown().await.unwrap();
    let snap = Snap::take(&snapshotter);
    let wf = [("workflow", "counted")];
    assert_eq!(snap.counter("reprise_workflows_started_total", &wf), 1);
    assert_eq!(snap.counter("reprise_workflows_completed_total", &wf), 1);
    assert_eq!(snap.counter("reprise_workflows_failed_total", &wf), 0);
    let attempts = |outcome| [("activity", "flaky"), ("outcome", outcome)];
    assert_eq!(
        snap.counter("reprise_activity_attempts_total", &attempts("ok")),
        1
    );
    assert_eq!(
        snap.counter("reprise_activity_attempts_total", &attempts("retry")),
        1
    );
    assert_eq!(
        snap.counter("reprise_activity_attempts_total", &attempts("failed")),
        0
    );
    assert_eq!(
        snap.counter("reprise_activity_retries_total", &[("activity", "flaky")]),
        1
    );
    let durations = snap.histogram(
        "reprise_activity_attempt_duration_seconds",
        &[("activity", "flaky")],
    );
    assert_eq!(durations.len(), 2, "{durations:?}");
    assert!(durations.iter().all(|d| (0.0..5.0).contains(d)));
    // Its first activation (the run was cached when it was created) and
    // the one that delivered the result: both found the run in the cache.
    assert_eq!(snap.counter("reprise_workflow_cache_hits_total", &[]), 2);
    assert_eq!(snap.counter("reprise_workflow_cache_misses_total", &[]), 0);
    let commits = snap.histogram("reprise_store_commit_duration_seconds", &[]);
    assert!(!commits.is_empty());
    let steps = snap.histogram("reprise_store_commit_steps", &[]);
    assert_eq!(steps.len(), commits.len());
    assert_eq!(steps.iter().sum::<f64>(), 2.0, "two steps: {steps:?}");
    // `build` described the metrics to the recorder.
    assert_eq!(
        snap.unit("reprise_store_commit_duration_seconds"),
        Some(Unit::Seconds)
    );

    // Failed and blocked runs, cache misses, waits for a slot.
    let rt = Runtime::builder()
        .in_memory()
        .max_cached_workflows(1)
        .workflow(stepper)
        .workflow(refuser)
        .workflow(orphan)
        .workflow(fan)
        .workflow(parked)
        .activity(step)
        .activity(narrow)
        .build()
        .await
        .unwrap();
    let failed = rt.start(refuser, 0).id("refuser-1").await.unwrap();
    assert!(failed.result().await.is_err());
    let blocked = rt.start(orphan, 0).id("orphan-1").await.unwrap();
    let error = blocked.result().await.unwrap_err();
    assert!(error.to_string().contains("missing"), "{error}");
    // Two runs and a cache of one: each evicts the other.
    let a = rt.start(stepper, 5).id("stepper-a").await.unwrap();
    let b = rt.start(stepper, 5).id("stepper-b").await.unwrap();
    assert_eq!(a.result().await.unwrap(), 5);
    assert_eq!(b.result().await.unwrap(), 5);
    // Two runs waiting for a signal and a cache of one: the one evicted
    // is replayed from the store when its signal comes, a miss for sure.
    let first = rt.start(parked, 0).id("parked-1").await.unwrap();
    let second = rt.start(parked, 0).id("parked-2").await.unwrap();
    // Both have taken their first step (a batch ended since, and trimmed
    // the cache) before the signals come.
    for id in ["parked-1", "parked-2"] {
        while rt.history(id).await.unwrap().events.len() < 2 {
            tokio::task::yield_now().await;
        }
    }
    rt.signal("parked-1", Go).await.unwrap();
    rt.signal("parked-2", Go).await.unwrap();
    assert_eq!(first.result().await.unwrap(), 1);
    assert_eq!(second.result().await.unwrap(), 1);
    let fanned = rt.start(fan, 3).id("fan-1").await.unwrap();
    assert_eq!(fanned.result().await.unwrap(), 3);
    rt.shutdown().await.unwrap();
    let snap = Snap::take(&snapshotter);
    assert_eq!(
        snap.counter("reprise_workflows_failed_total", &[("workflow", "refuser")]),
        1
    );
    assert_eq!(
        snap.counter("reprise_workflows_blocked_total", &[("workflow", "orphan")]),
        1
    );
    assert_eq!(
        snap.counter(
            "reprise_workflows_completed_total",
            &[("workflow", "stepper")]
        ),
        2
    );
    assert_eq!(
        snap.counter(
            "reprise_workflows_started_total",
            &[("workflow", "stepper")]
        ),
        2
    );
    assert!(snap.counter("reprise_workflow_cache_misses_total", &[]) > 0);
    let waits = snap.counter(
        "reprise_activity_slot_waits_total",
        &[("activity", "narrow")],
    );
    assert!(waits >= 1, "three calls, one slot");
    let waited = snap.histogram(
        "reprise_activity_slot_wait_duration_seconds",
        &[("activity", "narrow")],
    );
    assert_eq!(waited.len() as u64, waits);
    assert!(waited.iter().all(|w| *w > 0.0));
}
