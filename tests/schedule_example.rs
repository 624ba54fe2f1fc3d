//! `examples/scheduled_report.rs` killed with SIGKILL while it ticks every
//! second, left down for two seconds, and started again: the schedule is
//! still in the store, the ticks of the downtime are fired when it is back
//! (within the catch-up window), and every tick from the first to the last
//! has exactly one run, completed, whose line is in the report file.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{example_binary, TempDb};

fn report_ids(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("reports.csv"))
        .unwrap_or_default()
        .lines()
        .map(|line| line.split(',').next().unwrap().to_owned())
        .collect()
}

/// Seconds of the day of `report@YYYY-MM-DDTHH:MM:SSZ`, and its date.
fn tick(id: &str) -> (String, u64) {
    let time = id.strip_prefix("report@").unwrap_or_else(|| panic!("{id}"));
    assert_eq!(time.len(), 20, "{id}");
    let n = |r: std::ops::Range<usize>| time[r].parse::<u64>().unwrap();
    (
        time[..10].to_owned(),
        n(11..13) * 3600 + n(14..16) * 60 + n(17..19),
    )
}

#[test]
fn the_schedule_survives_sigkill_and_catches_up() {
    let bin = example_binary("scheduled_report");
    let store = TempDb::new("schedule-example");
    let dir = store.dir();
    let args = |seconds: &str| {
        let mut command = Command::new(&bin);
        command
            .arg("--dir")
            .arg(&dir)
            .args(["--overlap", "allow_all", "--seconds", seconds])
            .stdout(Stdio::null());
        command
    };

    let mut first = args("60").spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while report_ids(&dir).len() < 3 {
        assert!(
            Instant::now() < deadline,
            "no 3 reports: {:?}",
            report_ids(&dir)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let before = report_ids(&dir).len();
    std::thread::sleep(Duration::from_secs(2));

    let status = args("4").status().unwrap();
    assert!(status.success(), "{status}");

    let db = rusqlite::Connection::open(dir.join("reprise.db")).unwrap();
    let mut stmt = db
        .prepare(
            "SELECT workflow_id, status FROM runs WHERE workflow_id LIKE 'report@%' ORDER BY workflow_id",
        )
        .unwrap();
    let runs: Vec<(String, String)> = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        runs.len() >= before + 4,
        "the restart fired ticks: {runs:?}"
    );
    for (id, status) in &runs {
        assert_eq!(status, "completed", "{id}");
    }
    // One run per second, none missing: over the kill and the downtime too.
    let ticks: Vec<(String, u64)> = runs.iter().map(|(id, _)| tick(id)).collect();
    for pair in ticks.windows(2) {
        if pair[0].0 == pair[1].0 {
            assert_eq!(pair[1].1, pair[0].1 + 1, "consecutive ticks: {runs:?}");
        }
    }
    // Every run's report line is in the file (a run killed after its append
    // may have appended twice: the lines are keyed by run).
    let reported: BTreeSet<String> = report_ids(&dir).into_iter().collect();
    let ran: BTreeSet<String> = runs.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(reported, ran);
    let (skipped, missed): (i64, i64) = db
        .query_row(
            "SELECT skipped, missed FROM schedules WHERE schedule_id = 'report'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!((skipped, missed), (0, 0));
}
