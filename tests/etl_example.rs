//! End to end: runs the `etl_pipeline` example's binary with transient
//! faults and checks the warehouse against its `RESULT` line; then kills a
//! slowed-down run with SIGKILL in the middle, runs the same command again,
//! and checks that it finishes with exactly the rows of the uninterrupted
//! run: nothing duplicated, nothing lost.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Flags of every run: transient faults in one activity attempt in five.
const FLAGS: [&str; 2] = ["--fail-rate", "0.2"];

fn spawn(bin: &Path, dir: &Path, extra: &[&str]) -> Child {
    Command::new(bin)
        .arg("--dir")
        .arg(dir)
        .args(FLAGS)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the example starts")
}

/// Waits for `child` (two minutes at most) and returns its stdout.
fn finish(mut child: Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the example did not finish in two minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "the example failed:\n{stdout}"
    );
    stdout
}

/// The JSON of the `RESULT {..}` line.
fn result_of(stdout: &str) -> Value {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in:\n{stdout}"));
    serde_json::from_str(line).unwrap()
}

/// Row count and a fingerprint of the warehouse's `customers` table.
fn warehouse(dir: &Path) -> (u64, u64, String) {
    let db = rusqlite::Connection::open(dir.join("warehouse.db")).unwrap();
    db.query_row(
        "SELECT COUNT(*), COUNT(DISTINCT id),
                SUM(amount_cents) || ':' || SUM(id) || ':' || SUM(length(name) + length(email))
         FROM customers",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .unwrap()
}

fn check_counts(result: &Value, dir: &Path) -> (u64, u64) {
    let n = |key: &str| {
        result[key]
            .as_u64()
            .unwrap_or_else(|| panic!("no `{key}` in {result}"))
    };
    assert_eq!(
        n("total_records"),
        n("successful_records") + n("failed_records"),
        "{result}"
    );
    assert!(n("total_records") >= 10_000, "{result}");
    assert!(
        n("failed_records") > 0 && n("duplicates_removed") > 0,
        "{result}"
    );
    let (rows, distinct, _) = warehouse(dir);
    assert_eq!(rows, n("successful_records"), "rows in the warehouse");
    assert_eq!(rows, distinct, "one row per id");
    let rejects = std::fs::read_to_string(dir.join("rejects.jsonl"))
        .unwrap()
        .lines()
        .count() as u64;
    assert_eq!(rejects, n("failed_records"), "lines in rejects.jsonl");
    (n("successful_records"), n("failed_records"))
}

#[test]
fn etl_example_runs_retries_and_resumes_after_sigkill() {
    let bin = common::example_binary("etl_pipeline");

    // 1. An uninterrupted run with transient faults.
    let clean = common::TempDb::new("etl-clean");
    let result = result_of(&finish(spawn(&bin, &clean.dir(), &[])));
    let clean_counts = check_counts(&result, &clean.dir());
    assert!(
        result["retries"].as_u64().unwrap() > 0,
        "faults were injected and retried: {result}"
    );

    // 2. The same job, slowed down, killed with SIGKILL in the middle.
    let killed = common::TempDb::new("etl-killed");
    // 23 batches, two at a time, 300 ms each in load: some 4 s of work.
    let slow = ["--slow-ms", "300", "--parallel", "2"];
    let mut child = spawn(&bin, &killed.dir(), &slow);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the slowed run is still running after 1.5 s"
    );
    child.kill().unwrap(); // SIGKILL
    let mut partial = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut partial)
        .unwrap();
    child.wait().unwrap();
    assert!(
        !partial.contains("RESULT "),
        "killed before the end:\n{partial}"
    );

    // 3. The same command again: resumes and completes.
    let resumed = finish(spawn(&bin, &killed.dir(), &slow));
    assert!(
        resumed.contains("resuming"),
        "the second run resumes the workflow:\n{resumed}"
    );
    let result = result_of(&resumed);
    assert_eq!(check_counts(&result, &killed.dir()), clean_counts);
    assert_eq!(
        warehouse(&killed.dir()),
        warehouse(&clean.dir()),
        "same rows as the uninterrupted run"
    );
}
