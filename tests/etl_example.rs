//! End to end: runs the `etl_pipeline` example's binary with transient
//! faults, uninterrupted, into its default SQLite warehouse: the baseline.
//! Then, for each target (the SQLite file, and PostgreSQL with `--target`
//! on a fresh database), a slowed-down run is killed with SIGKILL once the
//! load has begun, and the same command is run again: the target must end
//! with exactly the rows of the baseline, row by row (nothing duplicated,
//! nothing lost), the same rejects with the same rules, and every count of
//! the `RESULT` line must agree with the target and the rejects file.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::pg::TestDatabase;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

/// Flags of every run: transient faults in one activity attempt in five.
const FLAGS: [&str; 2] = ["--fail-rate", "0.2"];
/// 23 batches, two at a time, 300 ms each in load: some 4 s of loading.
const SLOW: [&str; 4] = ["--slow-ms", "300", "--parallel", "2"];
/// The columns compared, one `|`-separated line per row, in id order.
const CUSTOMERS: &str =
    "SELECT id || '|' || name || '|' || email || '|' || COALESCE(country, '') || '|' ||
        amount_cents || '|' || signup_date || '|' || updated_at || '|' || source || '|' || loaded_by
    FROM customers ORDER BY id";
/// The rejects: key and rule, in key order.
const REJECTS: &str =
    "SELECT key || '|' || rule || '|' || loaded_by FROM customer_rejects ORDER BY key";

/// Starts the example on `dir` with the faults of [`FLAGS`] and `extra`.
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

/// Waits until the target holds some rows but not all `total` of them
/// (`rows` counts them; `None` while it cannot), then kills `child` with
/// SIGKILL and checks that it had not finished.
fn kill_during_load(mut child: Child, rows: impl Fn() -> Option<u64>, total: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the slowed run ended before it could be killed"
        );
        if rows().is_some_and(|n| n > 0) {
            break;
        }
        assert!(Instant::now() < deadline, "no row loaded in 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let mut partial = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut partial)
        .unwrap();
    assert!(
        !partial.contains("RESULT "),
        "killed before the end:\n{partial}"
    );
    let loaded = rows().unwrap();
    assert!(
        loaded > 0 && loaded < total,
        "killed in the middle of the load: {loaded} of {total} rows"
    );
}

/// The JSON of the `RESULT {..}` line.
fn result_of(stdout: &str) -> Value {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in:\n{stdout}"));
    serde_json::from_str(line).unwrap()
}

/// The number `key` of a `RESULT`.
fn n(result: &Value, key: &str) -> u64 {
    result[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no `{key}` in {result}"))
}

/// The lines of `sql` (one text column) in the SQLite warehouse of `dir`.
fn sqlite_lines(dir: &Path, sql: &str) -> Vec<String> {
    let db = Connection::open(dir.join("warehouse.db")).unwrap();
    let mut query = db.prepare(sql).unwrap();
    let lines = query
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<Vec<String>, _>>()
        .unwrap();
    lines
}

/// The lines of `sql` (one text column) in the PostgreSQL database.
fn pg_lines(db: &TestDatabase, sql: &str) -> Vec<String> {
    let out = db.sql(sql);
    out.lines().map(str::to_owned).collect()
}

/// Rows of `customers`, while the example runs: `None` before it has
/// created the table.
fn sqlite_count(dir: &Path) -> Option<u64> {
    let db =
        Connection::open_with_flags(dir.join("warehouse.db"), OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    db.query_row("SELECT COUNT(*) FROM customers", [], |r| r.get(0))
        .ok()
}

/// Rows of `customers` in PostgreSQL, while the example runs: `None`
/// before it has created the table.
fn pg_count(db: &TestDatabase) -> Option<u64> {
    let out = Command::new("psql")
        .args(["-X", "-q", "-t", "-A"])
        .arg(&db.url)
        .args(["-c", "SELECT COUNT(*) FROM customers"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// Asserts two lists of rows are equal, naming the first row that differs.
fn assert_same_rows(actual: &[String], expected: &[String], what: &str) {
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert_eq!(a, e, "{what}: row {i} differs");
    }
    assert_eq!(
        actual.len(),
        expected.len(),
        "{what}: {} rows, expected {}; first extra or missing: {:?}",
        actual.len(),
        expected.len(),
        actual
            .get(expected.len())
            .or_else(|| expected.get(actual.len()))
    );
}

/// Checks a run's `RESULT` against the rows of its target and its rejects
/// file: totals, one row per id, and the per-rule summary.
fn check_result(result: &Value, rows: &[String], rejects: &[String], dir: &Path) {
    assert_eq!(
        n(result, "total_records"),
        n(result, "successful_records") + n(result, "failed_records"),
        "{result}"
    );
    assert!(n(result, "total_records") >= 10_000, "{result}");
    assert!(
        n(result, "failed_records") > 0 && n(result, "duplicates_removed") > 0,
        "{result}"
    );
    assert_eq!(rows.len() as u64, n(result, "successful_records"), "rows");
    assert_eq!(n(result, "target_rows"), rows.len() as u64);
    assert_eq!(rejects.len() as u64, n(result, "failed_records"), "rejects");
    let ids: Vec<i64> = rows
        .iter()
        .map(|r| r.split('|').next().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "one row per id");

    // rejects.jsonl: one `{"row", "rule", "reason"}` a line, counted by
    // rule as the result's validation summary says.
    let file = std::fs::read_to_string(dir.join("rejects.jsonl")).unwrap();
    let mut by_rule = BTreeMap::new();
    for line in file.lines() {
        let reject: Value = serde_json::from_str(line).unwrap();
        assert!(reject["row"].is_object(), "{line}");
        assert!(!reject["reason"].as_str().unwrap().is_empty(), "{line}");
        *by_rule
            .entry(reject["rule"].as_str().unwrap().to_owned())
            .or_insert(0u64) += 1;
    }
    let summary: BTreeMap<String, u64> =
        serde_json::from_value(result["validation"]["rejected"].clone()).unwrap();
    assert_eq!(by_rule, summary, "rejects per rule");
    assert_eq!(
        n(&result["validation"], "passed"),
        n(result, "successful_records")
    );
    // The table agrees with the file, rule by rule.
    let mut table_by_rule = BTreeMap::new();
    for line in rejects {
        let rule = line.split('|').nth(1).unwrap().to_owned();
        *table_by_rule.entry(rule).or_insert(0u64) += 1;
    }
    assert_eq!(table_by_rule, summary, "customer_rejects per rule");
}

/// The uninterrupted run: its result, rows and rejects.
struct Baseline {
    result: Value,
    rows: Vec<String>,
    rejects: Vec<String>,
}

/// One uninterrupted run with faults, shared by the tests (the first one to
/// get here makes it).
fn baseline() -> &'static Baseline {
    static BASELINE: OnceLock<Baseline> = OnceLock::new();
    BASELINE.get_or_init(|| {
        let bin = common::example_binary("etl_pipeline");
        let dir = common::TempDb::new("etl-clean");
        let result = result_of(&finish(spawn(&bin, &dir.dir(), &[])));
        assert!(
            n(&result, "retries") > 0,
            "faults were injected and retried: {result}"
        );
        let rows = sqlite_lines(&dir.dir(), CUSTOMERS);
        let rejects = sqlite_lines(&dir.dir(), REJECTS);
        check_result(&result, &rows, &rejects, &dir.dir());
        assert_eq!(
            result["validation"]["rejected"]["email(email)"].as_u64(),
            Some(869),
            "the generated data has 869 bad emails: {result}"
        );
        Baseline {
            result,
            rows,
            rejects,
        }
    })
}

#[test]
fn etl_example_runs_retries_and_resumes_after_sigkill() {
    let baseline = baseline();
    let bin = common::example_binary("etl_pipeline");
    let killed = common::TempDb::new("etl-killed");
    let dir = killed.dir();
    kill_during_load(
        spawn(&bin, &dir, &SLOW),
        || sqlite_count(&dir),
        n(&baseline.result, "successful_records"),
    );

    // The same command again: resumes and completes.
    let resumed = finish(spawn(&bin, &dir, &SLOW));
    assert!(
        resumed.contains("resuming"),
        "the second run resumes the workflow:\n{resumed}"
    );
    let result = result_of(&resumed);
    let rows = sqlite_lines(&dir, CUSTOMERS);
    let rejects = sqlite_lines(&dir, REJECTS);
    check_result(&result, &rows, &rejects, &dir);
    assert_eq!(result["validation"], baseline.result["validation"]);
    assert_same_rows(&rows, &baseline.rows, "customers after the resume");
    assert_same_rows(&rejects, &baseline.rejects, "customer_rejects");
}

#[test]
fn etl_example_loads_postgres_and_resumes_after_sigkill() {
    let baseline = baseline();
    let bin = common::example_binary("etl_pipeline");
    let db = TestDatabase::new();
    let killed = common::TempDb::new("etl-pg");
    let dir = killed.dir();
    let target = ["--target", db.url.as_str()];
    let flags = [&SLOW[..], &target[..]].concat();
    kill_during_load(
        spawn(&bin, &dir, &flags),
        || pg_count(&db),
        n(&baseline.result, "successful_records"),
    );

    // The same command again: resumes and completes, into PostgreSQL.
    let resumed = finish(spawn(&bin, &dir, &flags));
    assert!(
        resumed.contains("resuming"),
        "the second run resumes the workflow:\n{resumed}"
    );
    let result = result_of(&resumed);
    let warehouse = result["warehouse"].as_str().unwrap();
    assert!(
        warehouse.starts_with("postgres://") && warehouse.ends_with(&format!("/{}", db.name)),
        "{result}"
    );
    let rows = pg_lines(&db, CUSTOMERS);
    let rejects = pg_lines(&db, REJECTS);
    check_result(&result, &rows, &rejects, &dir);
    assert_eq!(result["validation"], baseline.result["validation"]);
    assert_same_rows(&rows, &baseline.rows, "PostgreSQL customers");
    assert_same_rows(&rejects, &baseline.rejects, "PostgreSQL customer_rejects");

    // Another target for the same workflow is refused, in one line.
    let other = Command::new(&bin).arg("--dir").arg(&dir).output().unwrap();
    assert!(!other.status.success());
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(
        stderr.trim().lines().count() == 1 && stderr.contains("loads into postgres://"),
        "{stderr}"
    );
    assert!(
        !dir.join("warehouse.db").exists(),
        "with --target, no SQLite warehouse, not even after the refused run"
    );
}
