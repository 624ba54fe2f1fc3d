//! End to end: the `stream_processing` example's binary as its three kinds
//! of process. A producer fills the topic; the processor (tiny windows, a
//! continue-as-new every 3 windows, a write that lingers after its commit)
//! is killed with SIGKILL in the middle and started again; more events are
//! produced while it runs; a third process sends `stop_streaming`. The
//! target topic must then hold every event up to the consumer offset in
//! exactly one window: nothing lost, nothing counted twice.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::process::Running;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

/// Windows of 100 ms, 50 events at most, a new run every 3 windows, and a
/// write that lingers 15 ms after its commit (where a kill hurts most).
const PROCESSOR_FLAGS: [&str; 8] = [
    "--window-ms",
    "100",
    "--max-window-events",
    "50",
    "--windows-per-run",
    "3",
    "--slow-ms",
    "15",
];

/// Runs a short-lived mode (producer, stopper) to its end; returns stdout.
fn run_ok(bin: &Path, dir: &Path, args: &[&str]) -> String {
    let out = Command::new(bin)
        .arg("--dir")
        .arg(dir)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("the example starts");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{args:?} failed:\n{stdout}");
    stdout
}

/// Starts the processor on `dir`.
fn processor(bin: &Path, dir: &Path) -> Running {
    Running::spawn(
        Command::new(bin)
            .arg("--dir")
            .arg(dir)
            .args(PROCESSOR_FLAGS)
            .stderr(Stdio::inherit()),
        "processor",
    )
}

/// Windows in the target topic and the last offset they cover.
fn target(dir: &Path) -> (u64, i64) {
    let Ok(db) =
        Connection::open_with_flags(dir.join("topic.db"), OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return (0, 0);
    };
    let _ = db.busy_timeout(Duration::from_secs(5));
    db.query_row(
        "SELECT COUNT(*), COALESCE(MAX(end_offset), 0) FROM window_results",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap_or((0, 0))
}

/// Polls the target topic until `done` holds (or panics after `secs`).
fn wait_for(dir: &Path, secs: u64, what: &str, done: impl Fn(u64, i64) -> bool) -> (u64, i64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (windows, end) = target(dir);
        if done(windows, end) {
            return (windows, end);
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {windows} windows, up to offset {end}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The JSON of the `RESULT {..}` line.
fn result_of(stdout: &str) -> Value {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in:\n{stdout}"));
    serde_json::from_str(line).unwrap()
}

#[test]
fn killed_and_restarted_the_processor_counts_every_event_once() {
    let bin = common::example_binary("stream_processing");
    let tmp = common::TempDb::new("stream");
    let dir = tmp.dir();
    let dir = dir.as_path();
    let clock = Instant::now();

    let out = run_ok(&bin, dir, &["--produce", "2000"]);
    assert!(out.contains("offsets 1..=2000"), "{out}");

    // First processor: killed once it has written a few windows.
    let first = processor(&bin, dir);
    let (at_kill, _) = wait_for(dir, 10, "the first windows", |w, _| w >= 6);
    let out = first.kill();
    assert!(!out.contains("RESULT"), "killed before the end:\n{out}");
    let (after_kill, _) = target(dir);
    assert!(
        after_kill < 40,
        "killed mid-run: {after_kill} of 40 windows written (at the kill: {at_kill})"
    );

    // Second processor: resumes the same workflow where the history stands.
    let second = processor(&bin, dir);
    wait_for(dir, 10, "the restart to go on", |w, _| w >= after_kill + 3);
    let out = run_ok(&bin, dir, &["--produce", "500", "--rate", "2000"]);
    assert!(out.contains("offsets 2001..=2500"), "{out}");
    wait_for(dir, 10, "every event to be consumed", |_, end| end >= 2500);

    let out = run_ok(&bin, dir, &["--stop", "stream-1"]);
    assert!(
        out.contains("sent `stop_streaming` to workflow `stream-1`"),
        "{out}"
    );
    let out = second.finish(Duration::from_secs(10));
    assert!(out.contains("resuming it"), "the restart resumed:\n{out}");
    let result = result_of(&out);
    let n = |key: &str| {
        result[key]
            .as_i64()
            .unwrap_or_else(|| panic!("no `{key}` in {result}"))
    };
    assert_eq!(n("events"), 2500, "{result}");
    assert_eq!(n("offset"), 2500, "{result}");
    assert_eq!(n("lag"), 0, "{result}");
    assert!(
        n("runs") > 1 && n("runs") == n("run"),
        "continued as new: {result}"
    );

    // The target topic, checked independently of the example's own checks.
    let db = Connection::open(dir.join("topic.db")).unwrap();
    let windows: Vec<(i64, i64, i64, Value)> = db
        .prepare("SELECT window_no, start_offset, end_offset, json FROM window_results ORDER BY window_no")
        .unwrap()
        .query_map([], |r| {
            let json: String = r.get(3)?;
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, serde_json::from_str(&json).unwrap()))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(windows.len() as i64, n("windows"), "{result}");
    let (mut next_start, mut counted, mut sum) = (1, 0, 0.0);
    for (i, (window_no, start, end, json)) in windows.iter().enumerate() {
        assert_eq!(*window_no, i as i64 + 1, "window numbers are 1, 2, 3 ...");
        assert_eq!(
            *start, next_start,
            "window {window_no}: contiguous, no overlap"
        );
        assert!(end >= start, "window {window_no}: {start}..={end}");
        let count = json["count"].as_i64().unwrap();
        assert_eq!(count, end - start + 1, "window {window_no}: {json}");
        let keys: i64 = json["keys"]
            .as_object()
            .unwrap()
            .values()
            .map(|k| k["count"].as_i64().unwrap())
            .sum();
        assert_eq!(keys, count, "window {window_no}: per-key counts add up");
        assert_eq!(json["window_no"].as_i64(), Some(*window_no));
        next_start = end + 1;
        counted += count;
        sum += json["sum"].as_f64().unwrap();
    }
    assert_eq!(next_start - 1, n("offset"), "the windows end at the offset");
    let (events, total): (i64, f64) = db
        .query_row(
            "SELECT COUNT(*), SUM(value) FROM events WHERE offset <= ?1",
            [n("offset")],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(counted, events, "every event up to the offset counted once");
    assert_eq!(counted, n("events"));
    assert!(
        (sum - total).abs() < 1e-6 * total.abs().max(1.0),
        "sums: {sum} in the windows, {total} in the topic"
    );
    eprintln!("end to end in {:.1}s", clock.elapsed().as_secs_f64());
}
