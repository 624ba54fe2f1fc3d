//! The measurements, each run in a process of its own: W1, W2, W3, replay.

use super::*;

/// How many times W1 runs per K (each on a fresh runtime and directory);
/// it reports the median.
pub(super) const W1_RUNS: usize = 3;

pub(super) async fn job_w1(opts: &Opts, k: u64) -> Res<()> {
    let mut walls = Vec::new();
    let mut worker_rss = Vec::new();
    for _ in 0..W1_RUNS {
        let mut env = Env::new("w1", opts)?;
        let rt = env
            .builder()
            .workflow(sequential)
            .activity(noop)
            .build()
            .await?;
        let t = Instant::now();
        let out = rt.start(sequential, k).id("w1").await?.result().await?;
        walls.push(t.elapsed().as_secs_f64());
        rt.shutdown().await?;
        worker_rss.extend(env.stop_workers()?);
        if out != k * k.saturating_sub(1) / 2 {
            return Err(format!("w1 returned {out}").into());
        }
    }
    let (fastest, slowest) = (
        walls.iter().copied().fold(f64::INFINITY, f64::min),
        walls.iter().copied().fold(0.0, f64::max),
    );
    let wall = median(walls);
    let per_step = wall * 1e6 / k as f64;
    let target = match opts.store {
        StoreArg::Memory => 5.0,
        StoreArg::Postgres => 1000.0,
        _ => 50.0,
    };
    let mut m = opts.line("w1");
    m.insert("k".into(), k.into());
    m.insert("runs".into(), W1_RUNS.into());
    m.insert("wall_s".into(), round(wall, 4).into());
    m.insert("per_step_us".into(), round(per_step, 2).into());
    m.insert(
        "per_step_us_range".into(),
        serde_json::json!([
            round(fastest * 1e6 / k as f64, 2),
            round(slowest * 1e6 / k as f64, 2)
        ]),
    );
    m.insert("target_per_step_us".into(), target.into());
    m.insert("met".into(), (per_step <= target).into());
    m.insert("peak_rss_mb".into(), peak_rss_mb().into());
    if !worker_rss.is_empty() {
        let max = worker_rss.iter().copied().fold(0.0, f64::max);
        m.insert("worker_peak_rss_mb".into(), max.into());
    }
    emit(m);
    Ok(())
}

/// W2, and with `limit` the `limits` workload: the same workflows with
/// every call limited to `limit` attempts at once.
pub(super) async fn job_w2(opts: &Opts, n: u64, limit: Option<u32>) -> Res<()> {
    let name = if limit.is_some() { "limits" } else { "w2" };
    let mut env = Env::new(name, opts)?;
    let rt = env
        .builder()
        .workflow(three_steps)
        .workflow(three_limited)
        .activity(noop)
        .build()
        .await?;
    let t = Instant::now();
    let starts = (0..n).map(|i| {
        let id = format!("{name}-{i}");
        match limit {
            None => rt.start(three_steps, i * 10).id(id).into_future(),
            Some(_) => rt.start(three_limited, i * 10).id(id).into_future(),
        }
    });
    let mut handles = Vec::with_capacity(n as usize);
    for h in join_all(starts).await {
        handles.push(h?);
    }
    let started = t.elapsed().as_secs_f64();
    let results = join_all(handles.iter().map(|h| h.result())).await;
    let wall = t.elapsed().as_secs_f64();
    for (i, r) in results.into_iter().enumerate() {
        let i = i as u64;
        if r? != 30 * i + 3 {
            return Err(format!("w2 workflow {i} returned a wrong sum").into());
        }
    }
    drop(handles);
    rt.shutdown().await?;
    let rate = n as f64 / wall;
    let mut m = opts.line(name);
    m.insert("n".into(), n.into());
    m.insert("activities_each".into(), 3.into());
    if let Some(limit) = limit {
        m.insert("max_concurrent".into(), limit.into());
    }
    m.insert("start_all_s".into(), round(started, 4).into());
    m.insert("wall_s".into(), round(wall, 4).into());
    m.insert("workflows_per_s".into(), round(rate, 0).into());
    let target = match opts.store {
        _ if limit.is_some() => None,
        StoreArg::Sqlite => Some(5000.0),
        StoreArg::Postgres => Some(1500.0),
        _ => None,
    };
    if let Some(target) = target {
        m.insert("target_workflows_per_s".into(), target.into());
        m.insert("met".into(), (rate >= target).into());
    }
    m.insert("peak_rss_mb".into(), peak_rss_mb().into());
    env.finish(&mut m)?;
    emit(m);
    Ok(())
}

/// `children`: one parent starts `n` child workflows in one step (each
/// runs one no-op activity) and sums their results; the parent's history
/// holds one event per child start and one per result.
pub(super) async fn job_children(opts: &Opts, n: u64) -> Res<()> {
    let mut env = Env::new("children", opts)?;
    let rt = env
        .builder()
        .workflow(fan_out)
        .workflow(one_step)
        .activity(noop)
        .build()
        .await?;
    let t = Instant::now();
    let sum = rt.start(fan_out, n).id("children").await?.result().await?;
    let wall = t.elapsed().as_secs_f64();
    if sum != n * n.saturating_sub(1) / 2 {
        return Err(format!("children returned {sum}").into());
    }
    let events = rt.history("children").await?.events.len();
    rt.shutdown().await?;
    let mut m = opts.line("children");
    m.insert("n".into(), n.into());
    m.insert("wall_s".into(), round(wall, 4).into());
    m.insert("children_per_s".into(), round(n as f64 / wall, 0).into());
    m.insert("parent_events".into(), events.into());
    m.insert("peak_rss_mb".into(), peak_rss_mb().into());
    env.finish(&mut m)?;
    emit(m);
    Ok(())
}

pub(super) async fn job_w3(opts: &Opts, n: u64) -> Res<()> {
    let sleep_ms: u64 = if opts.quick { 100 } else { 1000 };
    let mut env = Env::new("w3", opts)?;
    let rt = env.builder().workflow(sleeper).build().await?;
    let t = Instant::now();
    let starts = (0..n).map(|i| {
        rt.start(sleeper, sleep_ms)
            .id(format!("w3-{i}"))
            .into_future()
    });
    let mut handles = Vec::with_capacity(n as usize);
    for h in join_all(starts).await {
        handles.push(h?);
    }
    let started = t.elapsed().as_secs_f64();
    for r in join_all(handles.iter().map(|h| h.result())).await {
        r?;
    }
    let wall = t.elapsed().as_secs_f64();
    drop(handles);
    rt.shutdown().await?;
    let lag = wall - sleep_ms as f64 / 1000.0;
    let rss = peak_rss_mb();
    let mut m = opts.line("w3");
    m.insert("n".into(), n.into());
    m.insert("sleep_ms".into(), sleep_ms.into());
    m.insert("start_all_s".into(), round(started, 4).into());
    m.insert("wall_s".into(), round(wall, 4).into());
    m.insert("lag_after_deadline_s".into(), round(lag, 4).into());
    m.insert("workflows_per_s".into(), round(n as f64 / wall, 0).into());
    m.insert("peak_rss_mb".into(), rss.into());
    env.finish(&mut m)?;
    let worker_rss = m
        .get("worker_peak_rss_mb")
        .and_then(Value::as_array)
        .map_or(0.0, |v| {
            v.iter().filter_map(Value::as_f64).fold(0.0, f64::max)
        });
    m.insert("target".into(), "lag <= 1.5 s, peak RSS <= 150 MB".into());
    m.insert(
        "met".into(),
        (lag <= 1.5 && rss <= 150.0 && worker_rss <= 150.0).into(),
    );
    emit(m);
    Ok(())
}

/// The query of [`count_events`] (the same tables in SQLite and PostgreSQL).
pub(super) const COUNT_EVENTS: &str = "SELECT COUNT(*) FROM history WHERE run_id = \
     (SELECT latest_run_id FROM workflows WHERE workflow_id = ?1)";

/// The number of history events of the latest run of `id`, read from the
/// store (the runtime that wrote them must be shut down).
pub(super) fn count_events(env: &Env, id: &str) -> Res<u64> {
    if let Some(pg) = &env.pg {
        let sql = COUNT_EVENTS.replace("?1", &format!("'{id}'"));
        return Ok(psql(&pg.url, &sql)?.parse()?);
    }
    let db = env.db();
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let n: i64 = conn.query_row(COUNT_EVENTS, [id], |row| row.get(0))?;
    Ok(n as u64)
}

/// How many histories the replay workload replays (and how many cached
/// round trips it times); it reports the medians.
pub(super) const REPLAYS: usize = 3;

pub(super) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The fixed cost of a signal round trip on a cached run: the median of
/// [`REPLAYS`] workflows that wait for the signal, one after the other.
pub(super) async fn baseline(rt: &Runtime) -> Res<f64> {
    let mut times = Vec::new();
    for i in 0..REPLAYS {
        let id = format!("baseline-{i}");
        rt.start(replayed, 0).id(id.clone()).await?;
        wait_progress(rt, &id, 0).await?;
        times.push(finish(rt, &id, 0).await?);
    }
    Ok(median(times))
}

/// Builds the [`REPLAYS`] long histories, one after the other.
pub(super) async fn build_histories(rt: &Runtime, k: u64) -> Res<()> {
    for i in 0..REPLAYS {
        let id = format!("replay-{i}");
        rt.start(replayed, k).id(id.clone()).await?;
        wait_progress(rt, &id, k).await?;
    }
    Ok(())
}

/// Signals each long workflow (each a cache miss): the median round trip.
pub(super) async fn replay_all(rt: &Runtime, expected: u64) -> Res<f64> {
    let mut times = Vec::new();
    for i in 0..REPLAYS {
        times.push(finish(rt, &format!("replay-{i}"), expected).await?);
    }
    Ok(median(times))
}

pub(super) async fn job_replay(opts: &Opts, k: u64) -> Res<()> {
    let mut env = Env::new("replay", opts)?;
    let expected = k * k.saturating_sub(1) / 2;
    // WorkflowStarted, Activation + ActivityScheduled, then per activity
    // Activation + ActivityCompleted + the next command: ActivityScheduled,
    // or TimerStarted after the last one.
    let derived = 3 * k + 3;
    let make = |env: &Env, cached: usize| {
        env.builder()
            .workflow(replayed)
            .activity(noop)
            .max_cached_workflows(cached)
    };
    let (events, counted, build_ms, baseline_us, replay_us, how);
    let mut worker_rss = Vec::new();
    if opts.store == StoreArg::Memory {
        // One runtime, a cache of one run: each workflow started evicts the
        // previous one, so every long workflow is replayed when signalled.
        let rt = make(&env, 1).build().await?;
        let t = Instant::now();
        build_histories(&rt, k).await?;
        let history_s = t.elapsed().as_secs_f64();
        baseline_us = baseline(&rt).await?;
        replay_us = replay_all(&rt, expected).await?;
        rt.shutdown().await?;
        events = derived;
        counted = false;
        build_ms = f64::NAN;
        how = format!(
            "evicted (max_cached_workflows(1)); {REPLAYS} histories built in {history_s:.3} s"
        );
    } else if opts.store == StoreArg::Postgres && opts.workers > 0 {
        // The client stays; the worker processes that built the histories
        // shut down (giving their runs back) and new ones start.
        let rt = make(&env, 10_000).build().await?;
        build_histories(&rt, k).await?;
        worker_rss.extend(env.stop_workers()?);
        events = count_events(&env, "replay-0")?;
        counted = true;
        let t = Instant::now();
        env.start_workers()?;
        build_ms = t.elapsed().as_secs_f64() * 1e3;
        baseline_us = baseline(&rt).await?;
        replay_us = replay_all(&rt, expected).await?;
        rt.shutdown().await?;
        worker_rss.extend(env.stop_workers()?);
        how = format!(
            "{} new worker process(es) on the same database",
            opts.workers
        );
    } else {
        {
            let rt = make(&env, 10_000).build().await?;
            build_histories(&rt, k).await?;
            rt.shutdown().await?;
        }
        events = count_events(&env, "replay-0")?;
        counted = true;
        let t = Instant::now();
        let rt = make(&env, 10_000).build().await?;
        build_ms = t.elapsed().as_secs_f64() * 1e3;
        baseline_us = baseline(&rt).await?;
        replay_us = replay_all(&rt, expected).await?;
        rt.shutdown().await?;
        how = if opts.store == StoreArg::Postgres {
            "new runtime on the same database"
        } else {
            "new runtime on the same SQLite file"
        }
        .to_owned();
    }
    if counted && events != derived {
        eprintln!("bench: replay history has {events} events, expected {derived}");
    }
    let per_event = (replay_us - baseline_us).max(0.0) / events as f64;
    let mut m = opts.line("replay");
    m.insert("activities".into(), k.into());
    m.insert("events".into(), events.into());
    m.insert("replays".into(), REPLAYS.into());
    m.insert("events_counted".into(), counted.into());
    m.insert("cache_miss".into(), how.into());
    if build_ms.is_finite() {
        m.insert("reopen_ms".into(), round(build_ms, 2).into());
    }
    m.insert("signal_to_result_us".into(), round(replay_us, 1).into());
    m.insert(
        "cached_signal_to_result_us".into(),
        round(baseline_us, 1).into(),
    );
    m.insert("wall_s".into(), round(replay_us / 1e6, 4).into());
    m.insert("us_per_event".into(), round(per_event, 3).into());
    m.insert(
        "us_per_event_gross".into(),
        round(replay_us / events as f64, 3).into(),
    );
    m.insert("target_us_per_event".into(), 2.0.into());
    m.insert("met".into(), (per_event <= 2.0).into());
    m.insert("peak_rss_mb".into(), peak_rss_mb().into());
    if !worker_rss.is_empty() {
        m.insert("worker_peak_rss_mb".into(), worker_rss.into());
    }
    env.finish(&mut m)?;
    emit(m);
    Ok(())
}

/// The soak workload: `total` signals through one stream workflow, in
/// lock-step batches, sampling the RSS.
pub(super) async fn job_soak(opts: &Opts, total: u64) -> Res<()> {
    let mut env = Env::new("soak", opts)?;
    let rt = env
        .builder()
        .workflow(soak_stream)
        .activity(noop)
        .build()
        .await?;
    let t = Instant::now();
    let handle = rt.start(soak_stream, (0, total)).id("soak").await?;
    let every = (total / 20).max(1);
    // Signals in flight at most: the stream keeps up, the inbox stays short.
    let batch = 100.min(every);
    let mut samples = Vec::new();
    let mut sent = 0;
    while sent < total {
        let n = batch.min(total - sent);
        for _ in 0..n {
            rt.signal("soak", Tick).await?;
        }
        sent += n;
        wait_progress(&rt, "soak", sent).await?;
        if sent % every == 0 || sent == total {
            let rss = rss_mb();
            let mut m = opts.line("soak_sample");
            m.insert("signals".into(), sent.into());
            m.insert(
                "elapsed_s".into(),
                round(t.elapsed().as_secs_f64(), 2).into(),
            );
            m.insert("rss_mb".into(), round(rss, 1).into());
            emit(m);
            samples.push(rss);
        }
    }
    let done = handle.result().await?;
    if done != total {
        return Err(format!("soak: {done} signals handled, {total} sent").into());
    }
    let wall = t.elapsed().as_secs_f64();
    drop(handle);
    rt.shutdown().await?;
    // The first sample is after warm-up (caches, pools); the growth is
    // from there to the last.
    let first = samples.first().copied().unwrap_or_default();
    let last = samples.last().copied().unwrap_or_default();
    let max = samples.iter().copied().fold(0.0, f64::max);
    let mut m = opts.line("soak");
    m.insert("signals".into(), total.into());
    m.insert("steps".into(), (2 * total).into());
    m.insert("runs".into(), total.div_ceil(SOAK_TURNS_PER_RUN).into());
    m.insert("wall_s".into(), round(wall, 2).into());
    m.insert("signals_per_s".into(), round(total as f64 / wall, 0).into());
    m.insert("rss_first_sample_mb".into(), round(first, 1).into());
    m.insert("rss_last_sample_mb".into(), round(last, 1).into());
    m.insert("rss_max_sample_mb".into(), round(max, 1).into());
    m.insert("peak_rss_mb".into(), peak_rss_mb().into());
    env.finish(&mut m)?;
    emit(m);
    Ok(())
}
