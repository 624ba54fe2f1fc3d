//! End to end: the `data_sync` example's binary, on SQLite files and on two
//! PostgreSQL databases. The sync starts on a seeded source while writers
//! keep inserting, updating and deleting rows; it is killed with SIGKILL in
//! the middle of catching up (a round lingers after its commit, where a kill
//! hurts most) and started again; the writers stop, `stop` is sent, and the
//! target is then checked here, row by row, against the source: every live
//! valid row copied as cleaned, at its latest version, once; no deleted or
//! rejected row left; every rejected version in `sync_rejects`, counted.

mod common;

#[path = "../examples/shared/validation.rs"]
mod validation;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::process::Running;
use serde_json::Value;
use validation::{Row, Rules};

/// Small batches (so the seed takes many rounds), a short interval, a new
/// run every 5 rounds, a round that lingers after its commit, and writers.
const SYNC_FLAGS: [&str; 16] = [
    "--seed-rows",
    "800",
    "--batch-size",
    "40",
    "--interval-ms",
    "100",
    "--rounds-per-run",
    "5",
    "--slow-ms",
    "15",
    "--churn",
    "--churn-rate",
    "60",
    "--churn-writers",
    "2",
    "--id=sync-test",
];

/// The example's rules, restated: the test computes the expected target
/// from the source on its own.
fn rules() -> Rules {
    Rules::new()
        .trim("name")
        .title_case("name")
        .required("name")
        .max_len("name", 80)
        .trim("email")
        .lowercase("email")
        .required("email")
        .email("email")
        .trim("country")
        .uppercase("country")
        .required("country")
        .one_of("country", &["BR", "DE", "ES", "FR", "GB", "IN", "NL", "US"])
        .required("amount")
        .integer("amount", 0..=10_000_000)
}

/// Where the source and the target are, and how the test reads them.
enum Databases {
    Sqlite(std::path::PathBuf),
    Postgres {
        source: common::pg::TestDatabase,
        target: common::pg::TestDatabase,
    },
}

/// Rows as text (`None`: NULL).
type Rows = Vec<Vec<Option<String>>>;

impl Databases {
    fn args(&self) -> Vec<String> {
        match self {
            Self::Sqlite(_) => Vec::new(),
            Self::Postgres { source, target } => vec![
                "--source".into(),
                source.url.clone(),
                "--target".into(),
                target.url.clone(),
            ],
        }
    }

    fn query(&self, source: bool, sql: &str) -> Rows {
        match self {
            Self::Sqlite(dir) => {
                let file = dir.join(if source { "source.db" } else { "target.db" });
                let db = rusqlite::Connection::open(file).unwrap();
                db.busy_timeout(Duration::from_secs(10)).unwrap();
                let mut stmt = db.prepare(sql).unwrap();
                let n = stmt.column_count();
                stmt.query_map([], |r| {
                    (0..n)
                        .map(|i| {
                            Ok(match r.get_ref(i)? {
                                rusqlite::types::ValueRef::Null => None,
                                rusqlite::types::ValueRef::Integer(v) => Some(v.to_string()),
                                rusqlite::types::ValueRef::Real(v) => Some(v.to_string()),
                                rusqlite::types::ValueRef::Text(t) => {
                                    Some(String::from_utf8_lossy(t).into_owned())
                                }
                                rusqlite::types::ValueRef::Blob(_) => Some("<blob>".into()),
                            })
                        })
                        .collect()
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
            }
            Self::Postgres {
                source: s,
                target: t,
            } => {
                let url = if source { &s.url } else { &t.url };
                let out = Command::new("psql")
                    .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"])
                    .args(["-F", "\x1f", "-P", "null=\x1e"])
                    .arg(url)
                    .arg("-c")
                    .arg(sql)
                    .output()
                    .expect("psql runs");
                assert!(
                    out.status.success(),
                    "psql `{sql}`: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(|l| {
                        l.split('\x1f')
                            .map(|f| (f != "\x1e").then(|| f.to_owned()))
                            .collect()
                    })
                    .collect()
            }
        }
    }

    /// Rows in the target so far (0 before its table exists).
    fn target_rows(&self) -> u64 {
        let exists = match self {
            Self::Sqlite(dir) => {
                dir.join("target.db").exists()
                    && self.query(
                        false,
                        "SELECT COUNT(*) FROM sqlite_master WHERE name = 'target_items'",
                    )[0][0]
                        .as_deref()
                        == Some("1")
            }
            Self::Postgres { .. } => {
                self.query(
                    false,
                    "SELECT COUNT(*) FROM pg_tables WHERE tablename = 'target_items'",
                )[0][0]
                    .as_deref()
                    == Some("1")
            }
        };
        if !exists {
            return 0;
        }
        int(&self.query(false, "SELECT COUNT(*) FROM target_items")[0][0]) as u64
    }
}

/// Starts the sync on `dir` with the test's flags and `extra`.
fn sync(bin: &Path, dir: &Path, databases: &Databases, extra: &[&str]) -> Running {
    Running::spawn(
        Command::new(bin)
            .arg("--dir")
            .arg(dir)
            .args(SYNC_FLAGS)
            .args(databases.args())
            .args(extra)
            .stderr(Stdio::inherit()),
        "sync",
    )
}

/// The JSON of the `RESULT {..}` line.
fn result_of(stdout: &str) -> Value {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in:\n{stdout}"));
    serde_json::from_str(line).unwrap()
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn int(v: &Option<String>) -> i64 {
    v.as_deref().unwrap_or("").parse().unwrap()
}

/// Seeds, syncs under churn, kills, resumes, stops; then checks the target.
fn sync_killed_and_resumed(databases: Databases, dir: &Path) {
    let bin = common::example_binary("data_sync");
    let clock = Instant::now();

    // First process: killed while it is still catching up with the seed.
    let first = sync(&bin, dir, &databases, &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut at_kill = 0;
    while at_kill < 200 {
        assert!(Instant::now() < deadline, "no rows copied within 20 s");
        std::thread::sleep(Duration::from_millis(20));
        at_kill = databases.target_rows();
    }
    let out = first.kill();
    assert!(!out.contains("RESULT"), "killed before the end:\n{out}");
    assert!(out.contains("seeded the source with 800 rows"), "{out}");
    let after_kill = databases.target_rows();
    assert!(
        after_kill < 800,
        "killed mid-sync: {after_kill} rows in the target"
    );

    // Second process: resumes the same workflow; the writers stop after
    // 1.5 s, then `stop` is sent; it ends once caught up and verifies.
    let second = sync(&bin, dir, &databases, &["--stop-after", "1.5"]);
    let out = second.finish(Duration::from_secs(30));
    assert!(out.contains("resuming it"), "the rerun resumed:\n{out}");
    let result = result_of(&out);
    let n = |path: &str| {
        result
            .pointer(path)
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("no `{path}` in {result}"))
    };
    assert_eq!(n("/verify/mismatches"), 0, "{result}");
    assert_eq!(n("/verify/pending"), 0, "caught up at the stop: {result}");
    assert!(
        n("/runs") > 1 && n("/runs") == n("/run"),
        "continued as new: {result}"
    );
    assert!(n("/churn_transactions") > 0, "the writers wrote: {result}");
    assert!(n("/deleted") > 0, "tombstones carried: {result}");
    assert!(n("/rejected") > 0, "rows rejected: {result}");

    // The source, the target and the rejects, checked here row by row.
    let source = databases.query(
        true,
        "SELECT id, name, email, country, amount, updated_at, deleted FROM source_items ORDER BY id",
    );
    let target: BTreeMap<i64, Vec<Option<String>>> = databases
        .query(
            false,
            "SELECT id, name, email, country, amount, updated_at FROM target_items ORDER BY id",
        )
        .into_iter()
        .map(|r| (int(&r[0]), r))
        .collect();
    let rejects = databases.query(
        false,
        "SELECT id, updated_at, sync_id, rule FROM sync_rejects",
    );
    let target_count = databases.query(
        false,
        "SELECT COUNT(*), COUNT(DISTINCT id) FROM target_items",
    );
    assert_eq!(
        target_count[0][0], target_count[0][1],
        "no duplicate id in the target"
    );
    let rejected: BTreeSet<(i64, i64)> = rejects.iter().map(|r| (int(&r[0]), int(&r[1]))).collect();
    assert_eq!(rejected.len(), rejects.len(), "each rejected version once");

    let rules = rules();
    let (mut valid, mut invalid, mut tombstones) = (BTreeSet::new(), 0, 0);
    for row in &source {
        let (id, updated_at) = (int(&row[0]), int(&row[5]));
        let deleted = matches!(row[6].as_deref(), Some("1" | "t" | "true"));
        if deleted {
            tombstones += 1;
            assert!(
                !target.contains_key(&id),
                "row {id}: deleted, still in the target"
            );
            continue;
        }
        let mut fields = Row::new();
        fields.insert("id".into(), id.to_string());
        for (i, name) in [(1, "name"), (2, "email"), (3, "country"), (4, "amount")] {
            if let Some(v) = &row[i] {
                fields.insert(name.into(), v.clone());
            }
        }
        match rules.check(fields) {
            Ok(clean) => {
                valid.insert(id);
                let copy = target.get(&id).unwrap_or_else(|| {
                    panic!("row {id}: valid in the source, missing from the target")
                });
                let expected = [
                    id.to_string(),
                    clean["name"].clone(),
                    clean["email"].clone(),
                    clean["country"].clone(),
                    clean["amount"].clone(),
                    updated_at.to_string(),
                ];
                let got: Vec<String> = copy.iter().map(text).collect();
                assert_eq!(
                    got, expected,
                    "row {id}: the target holds the cleaned latest version"
                );
            }
            Err(reject) => {
                invalid += 1;
                assert!(
                    !target.contains_key(&id),
                    "row {id}: rejected ({}), still in the target",
                    reject.rule
                );
                assert!(
                    rejected.contains(&(id, updated_at)),
                    "row {id} at {updated_at}: rejected ({}), not in sync_rejects",
                    reject.rule
                );
            }
        }
    }
    let extra: Vec<_> = target.keys().filter(|id| !valid.contains(id)).collect();
    assert!(
        extra.is_empty(),
        "target rows with no live valid source row: {extra:?}"
    );
    assert!(
        tombstones > 0 && invalid > 0,
        "{tombstones} tombstones, {invalid} invalid"
    );

    // Rejects counted: the workflow's counts are the table's, rule by rule.
    let mut by_rule = BTreeMap::<String, u64>::new();
    for r in rejects.iter().filter(|r| text(&r[2]) == "sync-test") {
        *by_rule.entry(text(&r[3])).or_default() += 1;
    }
    let counted: BTreeMap<String, u64> =
        serde_json::from_value(result["validation"]["rejected"].clone()).unwrap();
    assert_eq!(by_rule, counted, "rejects per rule: table vs workflow");
    assert_eq!(by_rule.values().sum::<u64>(), n("/rejected"));
    assert_eq!(
        n("/copied"),
        result["validation"]["passed"].as_u64().unwrap()
    );

    // Ties on `updated_at` existed (the seed's transactions share a stamp
    // and the batches cut through them): none of those rows was skipped.
    let ties = databases.query(
        true,
        "SELECT COUNT(*) - COUNT(DISTINCT updated_at) FROM source_items",
    );
    assert!(int(&ties[0][0]) > 40, "ties on updated_at: {ties:?}");
    eprintln!(
        "end to end in {:.1}s: {} target rows, {} rejects, {tombstones} tombstones",
        clock.elapsed().as_secs_f64(),
        target.len(),
        rejects.len()
    );
}

#[test]
fn sqlite_sync_killed_and_resumed_matches_the_source_row_by_row() {
    let tmp = common::TempDb::new("sync");
    let dir = tmp.dir();
    sync_killed_and_resumed(Databases::Sqlite(dir.clone()), &dir);
}

#[test]
fn postgres_sync_killed_and_resumed_matches_the_source_row_by_row() {
    let tmp = common::TempDb::new("sync-pg");
    let dir = tmp.dir();
    let databases = Databases::Postgres {
        source: common::pg::TestDatabase::new(),
        target: common::pg::TestDatabase::new(),
    };
    sync_killed_and_resumed(databases, &dir);
}

/// Runs a client mode of the example (`--sync-now`, `--stop`) to its end.
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

#[test]
fn sync_now_from_another_process_runs_a_round_at_once_and_stop_ends_the_sync() {
    let bin = common::example_binary("data_sync");
    let tmp = common::TempDb::new("sync-signals");
    let dir = tmp.dir();
    let databases = Databases::Sqlite(dir.clone());
    // A minute between rounds: only `sync_now` can bring a new row in time.
    let sync = Running::spawn(
        Command::new(&bin)
            .arg("--dir")
            .arg(&dir)
            .args([
                "--seed-rows",
                "100",
                "--interval-ms",
                "60000",
                "--id",
                "sync-signals",
            ])
            .stderr(Stdio::inherit()),
        "sync",
    );
    let wait_for_rows = |rows: u64, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while databases.target_rows() < rows {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // The seed's rows that pass the rules (about 92 of 100).
    wait_for_rows(80, "the seed to be copied");
    std::thread::sleep(Duration::from_millis(300));
    let before = databases.target_rows();

    // A writer of the source, by the example's rule: the stamp comes from
    // `source_clock` in the writing transaction.
    let source = rusqlite::Connection::open(dir.join("source.db")).unwrap();
    source.busy_timeout(Duration::from_secs(10)).unwrap();
    source
        .execute_batch(
            "BEGIN IMMEDIATE;
             UPDATE source_clock SET last = last + 1 WHERE one = 1;
             INSERT INTO source_items (id, name, email, country, amount, updated_at, deleted)
             VALUES (1000, ' grace  HOPPER ', 'Grace@Example.com', 'us', 42,
                     (SELECT last FROM source_clock WHERE one = 1), 0);
             COMMIT;",
        )
        .unwrap();
    let out = run_ok(&bin, &dir, &["--sync-now", "--id", "sync-signals"]);
    assert!(
        out.contains("sent `sync_now` to workflow `sync-signals`"),
        "{out}"
    );
    wait_for_rows(before + 1, "the round that `sync_now` triggers");
    let row = databases.query(
        false,
        "SELECT name, email, country, amount FROM target_items WHERE id = 1000",
    );
    let row: Vec<String> = row[0].iter().map(text).collect();
    assert_eq!(
        row,
        ["Grace Hopper", "grace@example.com", "US", "42"],
        "cleaned"
    );

    let out = run_ok(&bin, &dir, &["--stop", "--id", "sync-signals"]);
    assert!(
        out.contains("sent `stop` to workflow `sync-signals`"),
        "{out}"
    );
    let result = result_of(&sync.finish(Duration::from_secs(30)));
    assert_eq!(result["nudges"], 1, "{result}");
    assert_eq!(result["verify"]["mismatches"], 0, "{result}");
    assert_eq!(result["verify"]["pending"], 0, "{result}");
}

/// The sync from a cron schedule (every second): killed while a pass is
/// catching up with the seed, started again (the schedule is in the store
/// and keeps ticking), writers stop, a last pass runs, and the target
/// matches the source row by row.
#[test]
fn a_scheduled_sync_killed_and_restarted_matches_the_source() {
    let tmp = common::TempDb::new("sync-scheduled");
    let dir = tmp.dir();
    let databases = Databases::Sqlite(dir.clone());
    let bin = common::example_binary("data_sync");
    let schedule = ["--schedule", "*/1 * * * * *"];

    let first = sync(&bin, &dir, &databases, &schedule);
    let deadline = Instant::now() + Duration::from_secs(20);
    while databases.target_rows() < 200 {
        assert!(Instant::now() < deadline, "no rows copied within 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = first.kill();
    assert!(out.contains("runs a pass at `*/1 * * * * *`"), "{out}");
    assert!(databases.target_rows() < 800, "killed mid-pass");

    let mut args = schedule.to_vec();
    args.extend(["--stop-after", "2.5"]);
    let out = sync(&bin, &dir, &databases, &args).finish(Duration::from_secs(30));
    let result = result_of(&out);
    let n = |path: &str| result.pointer(path).and_then(Value::as_u64).unwrap();
    assert_eq!(n("/verify/mismatches"), 0, "{result}");
    assert_eq!(n("/verify/pending"), 0, "the last pass caught up: {result}");
    assert!(
        n("/passes") >= 3,
        "passes on both sides of the kill: {result}"
    );
    assert!(n("/churn_transactions") > 0, "{result}");
    let counts = databases.query(
        false,
        "SELECT COUNT(*), COUNT(DISTINCT id) FROM target_items",
    );
    assert_eq!(counts[0][0], counts[0][1], "no duplicate id in the target");
    // Every pass continues the same sync: one state row, under the
    // schedule's id.
    let state = databases.query(false, "SELECT sync_id, round FROM sync_state");
    assert_eq!(state.len(), 1, "{state:?}");
    assert_eq!(text(&state[0][0]), "sync-test");
}
