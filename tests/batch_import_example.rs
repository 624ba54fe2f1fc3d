//! End to end: runs the `batch_import` example's binary on 20 000 rows into
//! SQLite and into PostgreSQL, kills it with SIGKILL just after a chunk's
//! commit (before the chunk's report reaches the history), runs the same
//! command again, and checks the target row by row: every row number of
//! the file once, in `people` or in `import_rejects`, the same rows as an
//! uninterrupted run, the valid rows taken from the right lines of the CSV,
//! the rejects counted by rule with their reasons. Also `--compare`, and a
//! bad `--target`.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::pg::TestDatabase;
use serde_json::Value;

const ROWS: u64 = 20_000;

fn command(bin: &Path, dir: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.arg("--dir")
        .arg(dir)
        .args(["--rows", &ROWS.to_string(), "--chunk-size", "1000"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs to the end (two minutes at most); its stdout.
fn finish(bin: &Path, dir: &Path, extra: &[&str]) -> String {
    let mut child = command(bin, dir, extra)
        .spawn()
        .expect("the example starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the example did not finish in two minutes");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the example failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Starts a slowed import, SIGKILLs it right after its third chunk
/// commits (the chunk then waits 200 ms before it reports), and returns
/// what it printed.
fn kill_after_commits(bin: &Path, dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["--slow-ms", "200", "--concurrency", "2"];
    args.extend_from_slice(extra);
    let mut child = command(bin, dir, &args)
        .spawn()
        .expect("the example starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (mut printed, mut commits) = (String::new(), 0);
    while commits < 3 {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the example ended before three commits:\n{printed}"
        );
        commits += usize::from(line.starts_with("committed chunk"));
        printed.push_str(&line);
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    stdout.read_to_string(&mut printed).unwrap();
    assert!(
        !printed.contains("RESULT "),
        "killed before the end:\n{printed}"
    );
    printed
}

/// The JSON of the `RESULT {..}` line.
fn result_of(stdout: &str) -> Value {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in:\n{stdout}"));
    serde_json::from_str(line).unwrap()
}

/// A target's rows, one `|`-joined line per row, in row order.
#[derive(Debug, PartialEq)]
struct Rows {
    people: Vec<String>,
    rejects: Vec<String>,
}

const PEOPLE: &str = "SELECT row_no || '|' || name || '|' || email || '|' || country || '|' || age
     || '|' || signup_date || '|' || amount_cents FROM people ORDER BY row_no";
const REJECTS: &str =
    "SELECT row_no || '|' || rule || '|' || reason FROM import_rejects ORDER BY row_no";

fn sqlite_rows(path: &Path) -> Rows {
    let db = rusqlite::Connection::open(path).unwrap();
    let lines = |sql: &str| -> Vec<String> {
        let mut q = db.prepare(sql).unwrap();
        q.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    Rows {
        people: lines(PEOPLE),
        rejects: lines(REJECTS),
    }
}

fn postgres_rows(db: &TestDatabase) -> Rows {
    let lines = |sql: &str| -> Vec<String> {
        let out = db.sql(sql);
        out.lines().map(str::to_owned).collect()
    };
    Rows {
        people: lines(PEOPLE),
        rejects: lines(REJECTS),
    }
}

/// The checks of one target: every row number once, valid rows from the
/// right CSV lines, rejects with a reason, counted by rule as the result says.
fn check_target(rows: &Rows, result: &Value, csv: &Path) {
    let number = |line: &String| line.split('|').next().unwrap().parse::<u64>().unwrap();
    let mut numbers: Vec<u64> = rows
        .people
        .iter()
        .chain(&rows.rejects)
        .map(number)
        .collect();
    numbers.sort_unstable();
    assert_eq!(
        numbers.len() as u64,
        ROWS,
        "rows in people + import_rejects"
    );
    assert!(
        numbers.iter().copied().eq(1..=ROWS),
        "every row number of the file exactly once (no duplicate, no gap)"
    );
    assert_eq!(result["imported"], rows.people.len() as u64, "{result}");
    assert_eq!(result["rejected"], rows.rejects.len() as u64, "{result}");
    assert_eq!(result["target"]["people"], rows.people.len() as u64);

    // Rejects by rule, as stored, against the result's summary.
    let mut by_rule: BTreeMap<String, u64> = BTreeMap::new();
    for line in &rows.rejects {
        let mut parts = line.splitn(3, '|');
        let (_, rule, reason) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        assert!(!reason.is_empty(), "a reject keeps its reason: {line}");
        *by_rule.entry(rule.to_owned()).or_default() += 1;
    }
    let summary: BTreeMap<String, u64> =
        serde_json::from_value(result["rejected_by_rule"].clone()).unwrap();
    assert_eq!(by_rule, summary, "rejects by rule");
    assert!(
        by_rule.len() >= 5 && by_rule.values().sum::<u64>() > 100,
        "{by_rule:?}"
    );

    // Independently of the example's rules: each valid row's e-mail is its
    // CSV line's, trimmed and lowercased; a line whose e-mail has no `@` is
    // rejected.
    let mut reader = csv::Reader::from_path(csv).unwrap();
    let emails: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[2].trim().to_lowercase())
        .collect();
    for line in &rows.people {
        let fields: Vec<&str> = line.split('|').collect();
        let n = fields[0].parse::<usize>().unwrap();
        assert_eq!(fields[2], emails[n - 1], "row {n}: {line}");
    }
    let valid: std::collections::BTreeSet<u64> = rows.people.iter().map(number).collect();
    for (i, email) in emails.iter().enumerate() {
        if !email.contains('@') {
            assert!(
                !valid.contains(&(i as u64 + 1)),
                "row {} ({email}) is rejected",
                i + 1
            );
        }
    }
}

/// An uninterrupted import on SQLite: its rows, the reference.
fn reference(bin: &Path) -> (common::TempDb, Rows) {
    let dir = common::TempDb::new("import-clean");
    let result = result_of(&finish(bin, &dir.dir(), &[]));
    assert_eq!(result["chunks"], 20);
    assert_eq!(result["chunks_already_done"], 0);
    let rows = sqlite_rows(&dir.dir().join("target.db"));
    check_target(&rows, &result, &csv_of(&dir.dir()));
    (dir, rows)
}

fn csv_of(dir: &Path) -> PathBuf {
    dir.join(format!("people-{ROWS}.csv"))
}

/// The rerun after the kill: resumes, finds a chunk committed by the
/// killed process, and ends with the reference's rows.
fn check_rerun(rerun: &str, rows: &Rows, reference: &Rows, csv: &Path) {
    assert!(rerun.contains("resuming"), "the rerun resumes:\n{rerun}");
    let result = result_of(rerun);
    assert!(
        result["chunks_already_done"].as_u64().unwrap() >= 1,
        "the chunk committed just before the kill is not written again: {result}"
    );
    check_target(rows, &result, csv);
    assert!(rows == reference, "the same rows as the uninterrupted run");
}

#[test]
fn sqlite_import_is_exact_after_sigkill_and_rerun() {
    let bin = common::example_binary("batch_import");
    let (_clean, reference) = reference(&bin);

    let dir = common::TempDb::new("import-killed");
    let printed = kill_after_commits(&bin, &dir.dir(), &[]);
    let partial = sqlite_rows(&dir.dir().join("target.db"));
    let written = partial.people.len() + partial.rejects.len();
    assert!(
        (3000..ROWS as usize).contains(&written),
        "some chunks, not all, were written before the kill ({written} rows):\n{printed}"
    );
    let rerun = finish(
        &bin,
        &dir.dir(),
        &["--slow-ms", "200", "--concurrency", "2"],
    );
    let rows = sqlite_rows(&dir.dir().join("target.db"));
    check_rerun(&rerun, &rows, &reference, &csv_of(&dir.dir()));
}

#[test]
fn postgres_import_is_exact_after_sigkill_and_rerun() {
    let bin = common::example_binary("batch_import");
    let (_clean, reference) = reference(&bin);

    let db = TestDatabase::new();
    let dir = common::TempDb::new("import-pg");
    let target = ["--target", db.url.as_str()];
    kill_after_commits(&bin, &dir.dir(), &target);
    let written: u64 = db
        .sql("SELECT (SELECT COUNT(*) FROM people) + (SELECT COUNT(*) FROM import_rejects)")
        .parse()
        .unwrap();
    assert!(
        (3000..ROWS).contains(&written),
        "{written} rows before the kill"
    );
    let mut again = vec!["--slow-ms", "200", "--concurrency", "2"];
    again.extend_from_slice(&target);
    let rerun = finish(&bin, &dir.dir(), &again);
    assert_eq!(result_of(&rerun)["target_kind"], "postgres");
    check_rerun(&rerun, &postgres_rows(&db), &reference, &csv_of(&dir.dir()));
}

#[test]
fn compare_runs_the_plain_loop_into_a_fresh_target() {
    let bin = common::example_binary("batch_import");
    let dir = common::TempDb::new("import-compare");
    let result = result_of(&finish(&bin, &dir.dir(), &["--compare"]));
    assert!(
        result["plain"]["rows_per_second"].as_f64().unwrap() > 0.0,
        "{result}"
    );
    assert!(result["overhead_percent"].as_f64().is_some(), "{result}");
    // Both targets hold the same rows.
    let durable = sqlite_rows(&dir.dir().join("target.db"));
    let plain = sqlite_rows(&dir.dir().join("target-plain.db"));
    check_target(&durable, &result, &csv_of(&dir.dir()));
    assert!(durable == plain, "the plain loop wrote the same rows");
}

#[test]
fn a_bad_target_is_one_error_line() {
    let bin = common::example_binary("batch_import");
    let dir = common::TempDb::new("import-bad");
    let out = command(&bin, &dir.dir(), &["--target", "mysql://db/x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: --target \"mysql://db/x\""),
        "{stderr}"
    );
}
