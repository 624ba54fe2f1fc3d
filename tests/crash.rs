//! Crash safety, for real: a child process runs a multi-step workflow
//! (sequential steps, a parallel fan-out, a durable timer) on a SQLite store
//! and is killed with SIGKILL at random instants, then restarted, until the
//! workflow completes. The result must be right, every step must have run,
//! and a run after completion must execute nothing.
//!
//! A second test SIGKILLs a process whose workflow waits on a durable timer
//! and checks that the restarted process fires it at its original deadline.
//!
//! The children are this same test binary, re-executed with
//! `REPRISE_CRASH_DIR` (or `REPRISE_TIMER_DIR`) set, running only the
//! `child` (or `timer_child`) test.

mod common;

use std::fs::OpenOptions;
use std::hash::{BuildHasher, RandomState};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reprise::prelude::*;

const DIR_VAR: &str = "REPRISE_CRASH_DIR";

/// Appends a line to the effects log: the outside world an activity changes.
fn record(line: &str) -> Result<(), ActivityError> {
    let dir =
        std::env::var(DIR_VAR).map_err(|e| ActivityError::non_retryable("Setup", e.to_string()))?;
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(Path::new(&dir).join("effects.log"))?;
    // One write: `writeln!` on a file writes the line and its newline in two
    // calls, and a SIGKILL between them glued this line to the next.
    log.write_all(format!("{line}\n").as_bytes())?;
    Ok(())
}

#[activity]
async fn step(i: u64) -> Result<u64, ActivityError> {
    tokio::time::sleep(Duration::from_millis(30)).await;
    record(&format!("step {i}"))?;
    Ok(i * i)
}

#[activity]
async fn fan(i: u64) -> Result<u64, ActivityError> {
    tokio::time::sleep(Duration::from_millis(40)).await;
    record(&format!("fan {i}"))?;
    Ok(i + 100)
}

#[workflow]
async fn pipeline(ctx: WorkflowContext, steps: u64) -> Result<u64, WorkflowError> {
    let mut total = 0;
    for i in 0..steps {
        total += ctx.activity(step, i).await?;
    }
    let fanned = join_all((0..steps).map(|i| ctx.activity(fan, i))).await;
    for r in fanned {
        total += r?;
    }
    ctx.sleep(Duration::from_millis(300)).await;
    total += ctx.activity(step, 1000).await?;
    Ok(total)
}

const STEPS: u64 = 25;

fn expected() -> u64 {
    (0..STEPS).map(|i| i * i).sum::<u64>() + (0..STEPS).map(|i| i + 100).sum::<u64>() + 1000 * 1000
}

/// The child: runs the workflow to completion and prints its result.
#[tokio::test]
async fn child() {
    let Ok(dir) = std::env::var(DIR_VAR) else {
        return;
    };
    let rt = Runtime::builder()
        .sqlite(PathBuf::from(&dir).join("reprise.db"))
        .workflow(pipeline)
        .activity(step)
        .activity(fan)
        .build()
        .await
        .unwrap();
    let out = rt
        .start(pipeline, STEPS)
        .id("crash-test")
        .await
        .unwrap()
        .result()
        .await
        .unwrap();
    println!("RESULT {out}");
    rt.shutdown().await.unwrap();
}

/// A workflow that sleeps 2 s durably.
#[workflow]
async fn long_nap(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    ctx.sleep(Duration::from_secs(2)).await;
    Ok(())
}

/// The child of the timer test: starts (or finds) the nap, says so, and
/// waits for it.
#[tokio::test]
async fn timer_child() {
    let Ok(dir) = std::env::var(TIMER_DIR_VAR) else {
        return;
    };
    let rt = Runtime::builder()
        .sqlite(PathBuf::from(&dir).join("reprise.db"))
        .workflow(long_nap)
        .build()
        .await
        .unwrap();
    let handle = rt.start(long_nap, ()).id("nap").await.unwrap();
    println!("STARTED");
    handle.result().await.unwrap();
    println!("RESULT 0");
    rt.shutdown().await.unwrap();
}

const TIMER_DIR_VAR: &str = "REPRISE_TIMER_DIR";

/// A durable timer fires at its original deadline after a SIGKILL and a
/// restart, not at restart + duration.
#[test]
fn a_timer_keeps_its_deadline_across_sigkill() {
    if std::env::var(DIR_VAR).is_ok() || std::env::var(TIMER_DIR_VAR).is_ok() {
        return;
    }
    use std::io::{BufRead, BufReader};
    let tmp = common::TempDb::new("crash-timer");
    let dir = tmp.dir();
    let spawn = || {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "timer_child", "--nocapture", "--test-threads=1"])
            .env(TIMER_DIR_VAR, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut first = spawn();
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.unwrap().contains("STARTED")));
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(1000));
    first.kill().unwrap(); // SIGKILL, 1 s into the 2 s timer
    first.wait().unwrap();

    let out = spawn().wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("RESULT 0"));
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1900),
        "fired early: {elapsed:?}"
    );
    // Re-armed from the restart it would fire at about 3 s.
    assert!(
        elapsed < Duration::from_millis(2600),
        "the deadline moved with the restart: {elapsed:?}"
    );
}

fn spawn_child(dir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(DIR_VAR, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn run_to_end(dir: &Path) -> u64 {
    let out = spawn_child(dir).wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout}");
    stdout
        .lines()
        .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("no result in: {stdout}"))
        .trim()
        .parse()
        .unwrap()
}

fn effects(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("effects.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn survives_sigkill_at_random_instants() {
    if std::env::var(DIR_VAR).is_ok() || std::env::var(TIMER_DIR_VAR).is_ok() {
        return;
    }
    let tmp = common::TempDb::new("crash");
    let dir = tmp.dir();
    let random = RandomState::new();

    let mut kills = 0;
    let started = Instant::now();
    while kills < 6 {
        let mut child = spawn_child(&dir);
        // 30–250 ms: start-up, some steps, then SIGKILL mid-flight.
        let delay = 30 + random.hash_one(kills) % 220;
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().unwrap().is_some() {
            break; // finished before the kill: nothing left to interrupt
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        assert!(started.elapsed() < Duration::from_secs(60));
    }
    assert!(
        kills >= 3,
        "the workflow finished before it could be killed 3 times"
    );

    let result = run_to_end(&dir);
    assert_eq!(result, expected());
    let log = effects(&dir);
    for i in 0..STEPS {
        assert!(
            log.contains(&format!("step {i}")),
            "step {i} never ran: {log:?}"
        );
        assert!(
            log.contains(&format!("fan {i}")),
            "fan {i} never ran: {log:?}"
        );
    }
    assert!(log.contains(&"step 1000".to_owned()));

    // Completed: a rerun of the same command executes nothing.
    let before = log.len();
    assert_eq!(run_to_end(&dir), expected());
    assert_eq!(
        effects(&dir).len(),
        before,
        "a completed workflow ran activities again"
    );
}
