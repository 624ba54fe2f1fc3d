//! The workflows and activities the benchmarks run.

use super::*;

#[activity]
pub(crate) async fn noop(i: u64) -> Result<u64, ActivityError> {
    Ok(i)
}

/// W1 and the replay's history: `k` sequential no-op activities.
#[workflow]
pub(crate) async fn sequential(ctx: WorkflowContext, k: u64) -> Result<u64, WorkflowError> {
    let mut sum = 0;
    for i in 0..k {
        sum += ctx.activity(noop, i).await?;
    }
    Ok(sum)
}

/// W2: three no-op activities.
/// A child of [`fan_out`]: one no-op activity.
#[workflow]
pub(crate) async fn one_step(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    Ok(ctx.activity(noop, n).await?)
}

/// The `children` workload: `n` children started at once, their results summed.
#[workflow]
pub(crate) async fn fan_out(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let ctx = &ctx;
    let mut sum = 0;
    for result in join_all((0..n).map(|i| ctx.child(one_step, i))).await {
        sum += result?;
    }
    Ok(sum)
}

#[workflow]
pub(crate) async fn three_steps(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let mut sum = 0;
    for i in 0..3 {
        sum += ctx.activity(noop, n + i).await?;
    }
    Ok(sum)
}

/// How many attempts of `limited` may run at once.
pub(crate) const LIMIT: u32 = 64;

/// The `limits` workload: W2's three no-op activities, each call limited.
#[workflow]
pub(crate) async fn three_limited(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let mut sum = 0;
    for i in 0..3 {
        sum += ctx.activity(noop, n + i).max_concurrent(LIMIT).await?;
    }
    Ok(sum)
}

/// A signal of the soak workload.
#[derive(Debug, Serialize, Deserialize, Signal)]
#[signal(name = "bench_tick")]
pub(crate) struct Tick;

/// Signals a soak run takes before it continues as new.
pub(crate) const SOAK_TURNS_PER_RUN: u64 = 500;

/// The soak workload: `total` signals, each raced against a one-day timer
/// and answered by an activity; the count of signals handled is the
/// progress; continue-as-new every [`SOAK_TURNS_PER_RUN`].
#[workflow]
pub(crate) async fn soak_stream(
    ctx: WorkflowContext,
    done: u64,
    total: u64,
) -> Result<u64, WorkflowError> {
    let mut done = done;
    let mut turns = 0;
    ctx.set_progress(&done);
    while done < total {
        if turns == SOAK_TURNS_PER_RUN {
            return ctx.continue_as_new((done, total));
        }
        tokio::select! {
            biased;
            _ = ctx.signal::<Tick>().recv() => {
                done = ctx.activity(noop, done).await? + 1;
                turns += 1;
                ctx.set_progress(&done);
            }
            () = ctx.sleep(Duration::from_secs(86_400)) => {}
        }
    }
    Ok(done)
}

/// W3: one durable sleep.
#[workflow]
pub(crate) async fn sleeper(ctx: WorkflowContext, ms: u64) -> Result<(), WorkflowError> {
    ctx.sleep(Duration::from_millis(ms)).await;
    Ok(())
}

/// Ends the replay workflow.
#[derive(Debug, Serialize, Deserialize, Signal)]
#[signal(name = "bench_finish")]
pub(crate) struct Finish;

/// Replay: `k` sequential no-op activities, then publishes its progress and
/// waits for [`Finish`] (or a day).
#[workflow]
pub(crate) async fn replayed(ctx: WorkflowContext, k: u64) -> Result<u64, WorkflowError> {
    let mut sum = 0;
    for i in 0..k {
        sum += ctx.activity(noop, i).await?;
    }
    ctx.set_progress(&k);
    // A pending timer keeps a reopened runtime from activating the run at
    // start-up: it stays uncached until the signal arrives.
    tokio::select! {
        biased;
        _ = ctx.signal::<Finish>().recv() => Ok(sum),
        () = ctx.sleep(Duration::from_secs(24 * 3600)) => Err(WorkflowError::new("no signal")),
    }
}

pub(crate) static EXECUTED: AtomicU64 = AtomicU64::new(0);
pub(crate) static KILL_AT: AtomicU64 = AtomicU64::new(u64::MAX);

/// Restart: a no-op activity that reports its first two executions in this
/// process, and the step at which the parent may kill the process.
#[activity]
pub(crate) async fn restart_step(i: u64) -> Result<u64, ActivityError> {
    if EXECUTED.fetch_add(1, Ordering::Relaxed) < 2 {
        println!("STEP {i} {}", unix_us());
    }
    if i == KILL_AT.load(Ordering::Relaxed) {
        println!("REACHED {i}");
    }
    Ok(i)
}

/// Restart: a workflow long enough to be killed in the middle.
#[workflow]
pub(crate) async fn long_run(ctx: WorkflowContext, k: u64) -> Result<u64, WorkflowError> {
    let mut last = 0;
    for i in 0..k {
        last = ctx.activity(restart_step, i).await?;
    }
    Ok(last)
}
