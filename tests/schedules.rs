//! Schedules (`Runtime::schedule`): ticks on a virtual clock (`TestEnv`),
//! each overlap policy, pause / unpause / trigger / delete, updates at
//! start-up, bad input; then on a SQLite file with the real clock, the
//! overlap policies again, and a runtime that stops and starts again: the
//! ticks of the downtime within the catch-up window are fired in order,
//! older ones are dropped and counted. Several workers on PostgreSQL:
//! `tests/schedules_postgres.rs`; SIGKILL: `tests/schedule_example.rs`.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::TempDb;
use reprise::prelude::*;
use reprise::testing::TestEnv;
use reprise::{Overlap, ScheduleInfo, WorkflowStatus};

/// Sleeps `secs` seconds (a durable timer), then returns them.
#[workflow]
async fn job(ctx: WorkflowContext, secs: u64) -> Result<u64, WorkflowError> {
    if secs > 0 {
        ctx.sleep(Duration::from_secs(secs)).await;
    }
    Ok(secs)
}

/// Not registered anywhere.
#[workflow]
async fn stranger(_ctx: WorkflowContext) -> Result<(), WorkflowError> {
    Ok(())
}

fn unix_ms(time: SystemTime) -> u64 {
    u64::try_from(time.duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// `time` (whole seconds) as RFC 3339 UTC, as the runs' ids have it.
fn rfc3339(ms: u64) -> String {
    assert!(ms.is_multiple_of(1000), "a tick is a whole second");
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil from days (H. Hinnant's algorithm), for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The inverse of [`rfc3339`].
fn parse_rfc3339(text: &str) -> u64 {
    let n = |range: std::ops::Range<usize>| text[range].parse::<i64>().unwrap();
    assert_eq!(
        (text.len(), &text[10..11], &text[19..]),
        (20, "T", "Z"),
        "{text}"
    );
    let (year, month, day) = (n(0..4), n(5..7), n(8..10));
    // Days from civil (H. Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19);
    u64::try_from(secs).unwrap() * 1000
}

fn tick_id(schedule: &str, ms: u64) -> String {
    format!("{schedule}@{}", rfc3339(ms))
}

async fn info(rt: &Runtime, id: &str) -> ScheduleInfo {
    rt.schedules()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("schedule `{id}` is listed"))
}

fn run_ids(info: &ScheduleInfo) -> Vec<String> {
    info.recent_runs
        .iter()
        .map(|r| r.workflow_id.clone())
        .collect()
}

async fn status(rt: &Runtime, workflow_id: &str) -> WorkflowStatus {
    rt.describe(workflow_id).await.unwrap().status
}

/// An environment with `job`, a schedule every 10 s of `job(secs)` under
/// `overlap`, and the clock moved to its first tick, which has fired; that
/// tick's time.
async fn every_10s(overlap: Overlap, secs: u64) -> (TestEnv, u64) {
    let env = TestEnv::builder().workflow(job).build().await.unwrap();
    env.schedule("s", "*/10 * * * * *", job, secs)
        .overlap(overlap)
        .await
        .unwrap();
    let first = unix_ms(info(&env, "s").await.next_tick.expect("a next tick"));
    let now = unix_ms(env.now());
    assert!(first > now && first <= now + 10_000, "{first} {now}");
    assert!(first.is_multiple_of(10_000));
    env.advance(Duration::from_millis(first - now)).await;
    assert_eq!(unix_ms(env.now()), first);
    (env, first)
}

#[tokio::test]
async fn every_tick_starts_one_run_named_by_its_time() {
    let (env, t1) = every_10s(Overlap::Skip, 0).await;
    env.advance(Duration::from_secs(35)).await;
    let s = info(&env, "s").await;
    let expected: Vec<String> = (0..4).map(|i| tick_id("s", t1 + i * 10_000)).collect();
    assert_eq!(run_ids(&s), expected);
    for (i, id) in expected.iter().enumerate() {
        let described = env.describe(id).await.unwrap();
        assert_eq!(described.status, WorkflowStatus::Completed, "{id}");
        assert_eq!(described.workflow_type, "job");
        // Started at its tick, to the millisecond of the virtual clock.
        let started = unix_ms(described.runs[0].started_at);
        assert_eq!(started, t1 + i as u64 * 10_000, "{id}");
    }
    assert_eq!((s.skipped, s.missed), (0, 0));
    assert_eq!(s.next_tick.map(unix_ms), Some(t1 + 40_000));
    assert_eq!(s.cron, "*/10 * * * * *");
    assert_eq!(s.overlap, Overlap::Skip);
    assert_eq!(s.catchup_window, reprise::DEFAULT_CATCHUP_WINDOW);
    assert!(!s.paused);
    env.shutdown().await.unwrap();
}

#[tokio::test]
async fn skip_drops_the_ticks_of_a_running_run() {
    // Runs last 25 s, ticks come every 10 s.
    let (env, t1) = every_10s(Overlap::Skip, 25).await;
    // Just before t1+55, when the second run ends.
    env.advance(Duration::from_secs(54)).await;
    let s = info(&env, "s").await;
    assert_eq!(
        run_ids(&s),
        [tick_id("s", t1), tick_id("s", t1 + 30_000)],
        "t1+10, +20, +40 and +50 found a run running"
    );
    assert_eq!(s.skipped, 4);
    assert_eq!(
        status(&env, &tick_id("s", t1)).await,
        WorkflowStatus::Completed
    );
    assert!(s.recent_runs[1].is_running());
    assert!(!s.recent_runs[0].is_running());
    env.shutdown().await.unwrap();
}

#[tokio::test]
async fn buffer_one_keeps_one_tick_for_when_the_run_ends() {
    let (env, t1) = every_10s(Overlap::BufferOne, 25).await;
    env.advance(Duration::from_secs(45)).await;
    let s = info(&env, "s").await;
    // t1+10 was kept and started when the first run ended (t1+25); t1+20
    // was skipped (one is kept at most); t1+30 is kept now, t1+40 skipped.
    let buffered = tick_id("s", t1 + 10_000);
    assert_eq!(run_ids(&s), [tick_id("s", t1), buffered.clone()]);
    let started = env.describe(&buffered).await.unwrap().runs[0].started_at;
    assert_eq!(unix_ms(started), t1 + 25_000);
    assert_eq!(s.buffered_tick.map(unix_ms), Some(t1 + 30_000));
    assert_eq!(s.skipped, 2);
    // The second run ends at t1+50: the kept tick starts then.
    env.advance(Duration::from_secs(6)).await;
    let s = info(&env, "s").await;
    assert!(
        run_ids(&s).contains(&tick_id("s", t1 + 30_000)),
        "{:?}",
        run_ids(&s)
    );
    env.shutdown().await.unwrap();
}

#[tokio::test]
async fn allow_all_starts_every_tick() {
    let (env, t1) = every_10s(Overlap::AllowAll, 25).await;
    // Just before t1+45, when the third run ends.
    env.advance(Duration::from_secs(44)).await;
    let s = info(&env, "s").await;
    let expected: Vec<String> = (0..5).map(|i| tick_id("s", t1 + i * 10_000)).collect();
    assert_eq!(run_ids(&s), expected);
    let running = s.recent_runs.iter().filter(|r| r.is_running()).count();
    assert_eq!(
        running, 3,
        "t1+20, +30, +40 run at once: {:?}",
        s.recent_runs
    );
    assert_eq!(s.skipped, 0);
    env.shutdown().await.unwrap();
}

#[tokio::test]
async fn cancel_other_cancels_the_running_run() {
    let (env, t1) = every_10s(Overlap::CancelOther, 25).await;
    env.advance(Duration::from_secs(25)).await;
    let s = info(&env, "s").await;
    let ids: Vec<String> = (0..3).map(|i| tick_id("s", t1 + i * 10_000)).collect();
    assert_eq!(run_ids(&s), ids);
    assert_eq!(status(&env, &ids[0]).await, WorkflowStatus::Cancelled);
    assert_eq!(status(&env, &ids[1]).await, WorkflowStatus::Cancelled);
    assert_eq!(status(&env, &ids[2]).await, WorkflowStatus::Running);
    env.shutdown().await.unwrap();
}

#[tokio::test]
async fn pause_unpause_trigger_and_delete() {
    let (env, t1) = every_10s(Overlap::Skip, 0).await;
    env.pause_schedule("s").await.unwrap();
    env.advance(Duration::from_secs(30)).await;
    let s = info(&env, "s").await;
    assert!(s.paused);
    assert_eq!(s.next_tick, None);
    assert_eq!(
        run_ids(&s),
        [tick_id("s", t1)],
        "no tick fires while paused"
    );

    // Written again at start-up: still paused, no tick fired twice.
    env.schedule("s", "*/10 * * * * *", job, 0).await.unwrap();
    assert!(info(&env, "s").await.paused);

    // A trigger runs now, paused or not, with an id to the millisecond.
    env.advance(Duration::from_millis(1_234)).await;
    let now = unix_ms(env.now());
    let started = env
        .trigger_schedule("s")
        .await
        .unwrap()
        .expect("nothing runs");
    assert!(
        started.starts_with("s@") && started.ends_with(".234Z"),
        "{started}"
    );
    let handle = env.handle::<u64>(&started).await.unwrap();
    assert_eq!(handle.result().await.unwrap(), 0);
    assert_eq!(
        unix_ms(env.describe(&started).await.unwrap().runs[0].started_at),
        now
    );

    // Unpaused: from the next tick after now, the pause's ticks are not caught up.
    env.unpause_schedule("s").await.unwrap();
    let s = info(&env, "s").await;
    let next = unix_ms(s.next_tick.expect("a next tick"));
    let now = unix_ms(env.now());
    assert!(next > now && next <= now + 10_000 && next.is_multiple_of(10_000));
    env.advance(Duration::from_millis(next - now)).await;
    let s = info(&env, "s").await;
    assert_eq!(run_ids(&s), [tick_id("s", t1), started, tick_id("s", next)]);
    assert_eq!((s.skipped, s.missed), (0, 0));

    env.delete_schedule("s").await.unwrap();
    assert!(env.schedules().await.unwrap().is_empty());
    env.advance(Duration::from_secs(30)).await;
    assert_eq!(
        status(&env, &tick_id("s", next)).await,
        WorkflowStatus::Completed,
        "its runs stay"
    );
    assert!(
        env.describe(&tick_id("s", next + 10_000)).await.is_err(),
        "no tick after delete"
    );
    for e in [
        env.trigger_schedule("s").await.unwrap_err(),
        env.pause_schedule("s").await.unwrap_err(),
        env.unpause_schedule("s").await.unwrap_err(),
        env.delete_schedule("s").await.unwrap_err(),
    ] {
        assert_eq!(e.to_string(), "no schedule with id `s`");
    }
    env.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_trigger_obeys_the_overlap_policy() {
    let (env, t1) = every_10s(Overlap::Skip, 25).await;
    assert_eq!(
        env.trigger_schedule("s").await.unwrap(),
        None,
        "t1's run is running"
    );
    assert_eq!(info(&env, "s").await.skipped, 1);
    env.schedule("s", "*/10 * * * * *", job, 25)
        .overlap(Overlap::AllowAll)
        .await
        .unwrap();
    let started = env.trigger_schedule("s").await.unwrap().expect("allowed");
    let s = info(&env, "s").await;
    assert_eq!(run_ids(&s), [tick_id("s", t1), started]);
    assert_eq!(s.overlap, Overlap::AllowAll);
    assert_eq!(
        s.next_tick.map(unix_ms),
        Some(t1 + 10_000),
        "the update kept the next tick"
    );
    // A new expression starts from its own first tick after now.
    env.schedule("s", "*/30 * * * * *", job, 25).await.unwrap();
    let next = unix_ms(info(&env, "s").await.next_tick.unwrap());
    let now = unix_ms(env.now());
    assert!(next > now && next <= now + 30_000 && next.is_multiple_of(30_000));
    env.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_schedules_are_refused_with_what_is_wrong() {
    let env = TestEnv::builder().workflow(job).build().await.unwrap();
    let e = env
        .schedule("nightly", "0 25 * * *", job, 0)
        .await
        .unwrap_err();
    assert!(
        e.to_string().starts_with(
            "invalid schedule `nightly`: cron expression `0 25 * * *` does not parse: "
        ),
        "{e}"
    );
    let e = env.schedule("nightly", "at two", job, 0).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("cron expression `at two` does not parse"),
        "{e}"
    );
    let e = env.schedule("", "0 2 * * *", job, 0).await.unwrap_err();
    assert_eq!(e.to_string(), "invalid schedule ``: it is empty");
    let e = env
        .schedule("x", "0 2 * * *", stranger, ())
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("unknown workflow type `stranger`"),
        "{e}"
    );
    assert!(
        env.schedules().await.unwrap().is_empty(),
        "nothing was stored"
    );
    env.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------
// A SQLite file, the real clock: a worker stops and starts again.

async fn sqlite_worker(path: &std::path::Path) -> Runtime {
    Runtime::builder()
        .sqlite(path)
        .workflow(job)
        .build()
        .await
        .unwrap()
}

/// What an application does at every start: writes its schedules.
async fn write_schedules(rt: &Runtime) {
    rt.schedule("keep", "* * * * * *", job, 0)
        .overlap(Overlap::AllowAll)
        .await
        .unwrap();
    rt.schedule("drop", "* * * * * *", job, 0)
        .overlap(Overlap::AllowAll)
        .catchup_window(Duration::from_secs(1))
        .await
        .unwrap();
}

/// The tick times (Unix ms) of a schedule's runs, every one of them
/// completed, in order.
async fn ticks(rt: &Runtime, id: &str) -> Vec<u64> {
    let s = info(rt, id).await;
    let mut ticks = Vec::new();
    for run in &s.recent_runs {
        let described = rt.describe(&run.workflow_id).await.unwrap();
        let tick = unix_ms(described.runs[0].started_at) / 1000 * 1000;
        ticks.push(tick);
    }
    ticks
}

async fn wait_for_runs(rt: &Runtime, id: &str, at_least: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while info(rt, id).await.recent_runs.len() < at_least {
        assert!(
            Instant::now() < deadline,
            "schedule `{id}` has no {at_least} runs"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_worker_catches_up_within_the_window_and_drops_the_rest() {
    let db = TempDb::new("schedules-restart");
    let rt = sqlite_worker(&db.path).await;
    write_schedules(&rt).await;
    wait_for_runs(&rt, "keep", 2).await;
    let before = info(&rt, "keep").await;
    let last_before = before.recent_runs.last().unwrap().workflow_id.clone();
    rt.shutdown().await.unwrap();

    // Down for 3 s: 3 ticks of each schedule pass with nobody to fire them.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rt = sqlite_worker(&db.path).await;
    write_schedules(&rt).await;
    wait_for_runs(&rt, "keep", before.recent_runs.len() + 4).await;

    let keep = info(&rt, "keep").await;
    let ids = run_ids(&keep);
    let at = ids
        .iter()
        .position(|id| *id == last_before)
        .unwrap_or_else(|| panic!("`{last_before}` is among the latest runs: {ids:?}"));
    // Every second from the first run on has its run, once, in order: the
    // ids are the ticks' times, one second apart.
    let names: Vec<u64> = ids
        .iter()
        .map(|id| parse_rfc3339(id.strip_prefix("keep@").unwrap()))
        .collect();
    for pair in names.windows(2) {
        assert_eq!(pair[1] - pair[0], 1000, "consecutive ticks: {ids:?}");
    }
    assert!(
        ids.len() > at + 3,
        "the downtime's ticks were fired: {ids:?}"
    );
    assert_eq!(keep.missed, 0);
    // Caught-up runs start late; their ids still name their ticks.
    let run_times = ticks(&rt, "keep").await;
    for (tick, started) in names.iter().zip(&run_times) {
        assert!(started >= tick, "a run starts at or after its tick");
    }

    // The 1 s window dropped the downtime's older ticks, and counted them.
    let dropped = info(&rt, "drop").await;
    assert!(dropped.missed >= 1, "{dropped:?}");
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlap_policies_on_a_sqlite_worker() {
    let db = TempDb::new("schedules-overlap");
    let rt = sqlite_worker(&db.path).await;
    // Ticks every second, runs of 2 s (2.5 s for `cancel`).
    for (id, overlap) in [("skip", Overlap::Skip), ("buffer", Overlap::BufferOne)] {
        rt.schedule(id, "* * * * * *", job, 2)
            .overlap(overlap)
            .await
            .unwrap();
    }
    rt.schedule("cancel", "* * * * * *", job, 3)
        .overlap(Overlap::CancelOther)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(6_500)).await;
    rt.pause_schedule("skip").await.unwrap();
    rt.pause_schedule("buffer").await.unwrap();
    rt.pause_schedule("cancel").await.unwrap();
    // A cancellation sent by the last tick reaches its run.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Skip and BufferOne: one run at a time, each starting after the
    // previous one ended; ticks in between skipped (or kept, for BufferOne).
    for id in ["skip", "buffer"] {
        let s = info(&rt, id).await;
        assert!(s.recent_runs.len() >= 2, "{s:?}");
        assert!(s.skipped >= 1, "{s:?}");
        let mut previous_end = 0;
        for run in &s.recent_runs {
            let d = rt.describe(&run.workflow_id).await.unwrap();
            let started = unix_ms(d.runs[0].started_at);
            assert!(started >= previous_end, "`{id}`: runs overlap: {s:?}");
            if d.status == WorkflowStatus::Completed {
                previous_end = unix_ms(d.runs[0].updated_at);
            } else {
                previous_end = u64::MAX;
            }
            let tick = parse_rfc3339(run.workflow_id.split_once('@').unwrap().1);
            assert!(started >= tick, "a run starts at or after its tick");
            if id == "skip" {
                assert!(started - tick < 1_000, "Skip starts a run at its tick");
            }
        }
    }
    let buffer = info(&rt, "buffer").await;
    let mut late = false;
    for run in buffer.recent_runs.iter().skip(1) {
        let tick = parse_rfc3339(run.workflow_id.split_once('@').unwrap().1);
        let d = rt.describe(&run.workflow_id).await.unwrap();
        late |= unix_ms(d.runs[0].started_at) - tick >= 500;
    }
    assert!(
        late,
        "a kept tick started when the run before it ended: {buffer:?}"
    );

    // CancelOther: every run but the latest was cancelled by the next tick.
    let cancel = info(&rt, "cancel").await;
    assert!(cancel.recent_runs.len() >= 4, "{cancel:?}");
    let (last, older) = cancel.recent_runs.split_last().unwrap();
    for run in older {
        let st = status(&rt, &run.workflow_id).await;
        assert_eq!(st, WorkflowStatus::Cancelled, "{cancel:?}");
    }
    assert_eq!(
        status(&rt, &last.workflow_id).await,
        WorkflowStatus::Running
    );
    assert_eq!(cancel.skipped, 0);
    rt.shutdown().await.unwrap();
}
