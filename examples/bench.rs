//! Benchmarks of reprise: one JSON line per measurement on stdout.
//!
//! ```sh
//! cargo build --release --example bench
//! cargo run --release --example bench -- --workload all --store memory
//! cargo run --release --example bench -- --workload all --store sqlite
//! cargo run --release --example bench -- --workload all --store sqlite --sync full
//! cargo run --release --example bench -- --workload w1 --store sqlite      # one workload
//! cargo run --release --example bench -- --workload w1 --params 1000,10000 # chosen K
//! cargo run --release --example bench -- --quick                          # every workload, tiny, memory and SQLite (CI)
//! cargo run --release --example bench -- --workload all --store postgres               # in-process and 1 worker process
//! cargo run --release --example bench -- --workload all --store postgres --workers 3   # 3 worker processes
//! ```
//!
//! Flags: `--store memory|sqlite|postgres|all` (default `all`: memory and
//! SQLite; PostgreSQL needs a server, so only when asked),
//! `--workload w1|w2|w3|replay|restart|all` (default `all`),
//! `--sync normal|full` (SQLite durability, default `normal`), `--quick`,
//! `--params P,...` (the workload's K or N instead of its defaults),
//! `--workers N` and `--postgres-url URL` (PostgreSQL).
//!
//! PostgreSQL (`--store postgres`): the server is `--postgres-url`, else env
//! `REPRISE_BENCH_POSTGRES`, else `postgres://postgres@127.0.0.1:5432/postgres`;
//! `psql` must be on `PATH`. Each measurement creates a database
//! `reprise_bench_<random>` (with `psql ... -c "CREATE DATABASE ..."`) and
//! drops it after. With `--workers N` (N > 0) the measurement spawns N
//! worker processes (this binary, hidden flag `--child-worker`) on that
//! database and waits until each has built its runtime; the measuring
//! process is a client (`.worker(false)`) that starts the workflows and
//! awaits their results, which the workers run. `--workers 1` (the default)
//! also measures the in-process runtime (one process that is both, as for
//! the other stores; `"workers": 0` in its line). Lines of worker processes
//! carry their peak RSS (`worker_peak_rss_mb`). Defaults on PostgreSQL: W1
//! K = 100 and 1000, W2 N = 500, W3 and replay as on the other stores;
//! restart is SQLite only.
//!
//! Workloads (`docs/PERFORMANCE.md` keeps the figures and the targets):
//!
//! - `w1`: one workflow, K sequential no-op activities (K = 100, 1000,
//!   10000; median of three runs); µs per step = wall / K, and a
//!   `w1_ratio` line with time(10000) / time(1000), which must stay ≤ 11
//!   (linear cost).
//! - `w2`: N = 500 and 5000 workflows of 3 no-op activities, all started at
//!   once, then all results awaited; workflows/s.
//! - `soak`: one stream workflow for N signals (200 000 by default): each
//!   signal is raced against a one-day timer in a `select!` loop and
//!   answered by an activity, with continue-as-new every 500 signals; the
//!   process's RSS is sampled every N/20 signals. A flat line is the target:
//!   nothing may grow with the work done.
//! - `limits`: W2 with every call limited (`max_concurrent(LIMIT)`, 64): each
//!   attempt takes and gives back a slot in the store, which W2 does not;
//!   workflows/s, to compare with W2's.
//! - `w3`: N = 2000 and 10000 workflows each sleeping 1 s durably; wall time
//!   from the first start to the last result, and peak RSS.
//! - `replay`: three workflows of 3333 sequential no-op activities each
//!   (10 002 history events, counted in the SQLite file) wait for a signal,
//!   with a one-day timer pending (so a reopened runtime leaves them
//!   uncached until their next input); the runtime shuts down and a new one
//!   opens the same file; each is signalled in turn. The signal-to-result
//!   time, minus the same round trip on a cached run, divided by the
//!   events, is the replay cost per event (medians of three). The memory
//!   store cannot be reopened: there the runs are evicted instead
//!   (`max_cached_workflows(1)`, each later workflow evicting the last).
//! - `restart`: a child process (this binary, `--child-restart DIR`) runs a
//!   long workflow of no-op activities on SQLite and is SIGKILLed mid-way;
//!   a second child is spawned on the same file and prints timestamps: when
//!   `main` starts, when the runtime is built, when the first activity runs
//!   (the pending step, re-dispatched from the store) and when the second
//!   one runs (the next step, scheduled by the workflow once replayed from
//!   its history). The figure is ms from `spawn` to the first resumed step.
//!   SQLite only: the memory store does not outlive its process.
//!
//! `--quick` uses tiny parameters (K = 10 and 100, N = 50, W3 N = 100
//! sleeping 100 ms, replay 300 activities, restart killed at step 200), so
//! CI can run every workload in seconds; every workload line is printed.
//!
//! Every measurement runs in a fresh child process of this binary (hidden
//! flag `--job`), on a fresh tokio runtime and a fresh temporary directory,
//! so its peak RSS (`VmHWM` of `/proc/self/status`) is its own.

use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, ValueEnum};
use reprise::prelude::*;
use reprise::SqliteSync;
use serde_json::Value;

#[path = "bench/jobs.rs"]
mod jobs;
#[path = "bench/postgres.rs"]
mod postgres;
#[path = "bench/restart.rs"]
mod restart;
#[path = "bench/workflows.rs"]
mod workflows;

use workflows::*;

use jobs::*;
use postgres::*;
use restart::*;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

#[derive(Parser, Debug)]
#[command(about = "reprise benchmarks: one JSON line per measurement on stdout")]
struct Args {
    /// The store to measure.
    #[arg(long, value_enum, default_value = "all")]
    store: StoreArg,
    /// The workload to run.
    #[arg(long, value_enum, default_value = "all")]
    workload: WorkloadArg,
    /// SQLite durability: `normal` survives SIGKILL, `full` power loss.
    #[arg(long, value_enum, default_value = "normal")]
    sync: SyncArg,
    /// Tiny parameters, for CI.
    #[arg(long)]
    quick: bool,
    /// The parameters (K, N, activities) of the workload, instead of its
    /// defaults: `--params 1000,10000`.
    #[arg(long, value_delimiter = ',')]
    params: Vec<u64>,
    /// PostgreSQL: how many worker processes run the workflows (this
    /// process is then only their client). With 1 (the default) the
    /// in-process figure (one runtime that is both) is measured too; 0
    /// measures only that.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// PostgreSQL: the server, as a libpq URL of a database this user may
    /// create databases from (default: env `REPRISE_BENCH_POSTGRES`, else
    /// `postgres://postgres@127.0.0.1:5432/postgres`). Each measurement
    /// creates a database `reprise_bench_<random>` there and drops it after.
    #[arg(long, value_name = "URL")]
    postgres_url: Option<String>,
    /// Internal: run one measurement of this workload in this process.
    #[arg(long, value_enum, hide = true)]
    job: Option<WorkloadArg>,
    /// Internal: the measurement's parameter (K, N, activities).
    #[arg(long, hide = true, default_value_t = 0)]
    param: u64,
    /// Internal: be the restart workload's child, with its store in DIR.
    #[arg(long, hide = true, value_name = "DIR")]
    child_restart: Option<PathBuf>,
    /// Internal: the step at which the restart child says it may be killed.
    #[arg(long, hide = true, default_value_t = u64::MAX)]
    kill_at: u64,
    /// Internal: be a PostgreSQL worker process on the database of
    /// `--postgres-url`, until stdin closes.
    #[arg(long, hide = true)]
    child_worker: bool,
}

/// The default PostgreSQL server of `--store postgres`.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

impl Args {
    fn postgres_url(&self) -> String {
        self.postgres_url
            .clone()
            .or_else(|| std::env::var("REPRISE_BENCH_POSTGRES").ok())
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum StoreArg {
    Memory,
    Sqlite,
    /// Not part of `all`: it needs a server.
    Postgres,
    /// Memory and SQLite.
    All,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum WorkloadArg {
    W1,
    W2,
    W3,
    Replay,
    Restart,
    Limits,
    Soak,
    /// One parent starting N child workflows at once (one activity each).
    Children,
    All,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SyncArg {
    Normal,
    Full,
}

impl SyncArg {
    fn name(self) -> &'static str {
        match self {
            SyncArg::Normal => "normal",
            SyncArg::Full => "full",
        }
    }
}

impl StoreArg {
    fn name(self) -> &'static str {
        match self {
            StoreArg::Memory => "memory",
            StoreArg::Sqlite => "sqlite",
            StoreArg::Postgres => "postgres",
            StoreArg::All => "all",
        }
    }
}

impl WorkloadArg {
    fn name(self) -> &'static str {
        match self {
            WorkloadArg::W1 => "w1",
            WorkloadArg::W2 => "w2",
            WorkloadArg::W3 => "w3",
            WorkloadArg::Replay => "replay",
            WorkloadArg::Restart => "restart",
            WorkloadArg::Limits => "limits",
            WorkloadArg::Soak => "soak",
            WorkloadArg::Children => "children",
            WorkloadArg::All => "all",
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers.

fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Resident set size of this process now, in MB (`VmRSS`).
fn rss_mb() -> f64 {
    status_kb("VmRSS:") / 1024.0
}

/// A `kB` line of `/proc/self/status`.
fn status_kb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(key)).and_then(|l| {
                l[key.len()..]
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0.0)
}

/// Peak resident set size of this process, in MB (`VmHWM`).
fn peak_rss_mb() -> f64 {
    round(status_kb("VmHWM:") / 1024.0, 1)
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// A fresh temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Res<Self> {
        let dir = std::env::temp_dir().join(format!(
            "reprise-bench-{label}-{}-{}",
            std::process::id(),
            unix_us()
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }

    fn db(&self) -> PathBuf {
        self.0.join("reprise.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sqlite_sync(sync: SyncArg) -> SqliteSync {
    match sync {
        SyncArg::Normal => SqliteSync::Normal,
        SyncArg::Full => SqliteSync::Full,
    }
}

/// What one measurement runs on.
#[derive(Debug, Clone)]
struct Opts {
    store: StoreArg,
    sync: SyncArg,
    quick: bool,
    /// PostgreSQL: the server (`--postgres-url`).
    pg_url: String,
    /// PostgreSQL: worker processes; 0 = this process's runtime is the worker.
    workers: usize,
}

impl Opts {
    /// The common fields of a measurement's line.
    fn line(&self, workload: &str) -> serde_json::Map<String, Value> {
        let mut m = line(workload, self.store, self.sync, self.quick);
        if self.store == StoreArg::Postgres {
            m.insert("workers".into(), self.workers.into());
            let mode = if self.workers == 0 {
                "in_process"
            } else {
                "client_and_worker_processes"
            };
            m.insert("mode".into(), mode.into());
        }
        m
    }
}

/// Where a measurement keeps its data, and which processes run its
/// workflows: a temporary directory (memory, SQLite), or a fresh database
/// and, with `workers` > 0, that many worker processes (PostgreSQL).
struct Env {
    opts: Opts,
    dir: TempDir,
    workers: Vec<WorkerChild>,
    /// Dropped after the workers.
    pg: Option<PgDb>,
}

impl Env {
    fn new(label: &str, opts: &Opts) -> Res<Self> {
        let dir = TempDir::new(label)?;
        let pg = if opts.store == StoreArg::Postgres {
            Some(PgDb::create(&opts.pg_url)?)
        } else {
            None
        };
        let mut env = Self {
            opts: opts.clone(),
            dir,
            workers: Vec::new(),
            pg,
        };
        env.start_workers()?;
        Ok(env)
    }

    fn db(&self) -> PathBuf {
        self.dir.db()
    }

    /// The runtime builder of the measurement's own process, without its
    /// types: on PostgreSQL with worker processes, a client.
    fn builder(&self) -> reprise::RuntimeBuilder {
        let b = Runtime::builder();
        match (&self.pg, self.opts.store) {
            (Some(pg), _) => b.postgres(pg.url.clone()).worker(self.opts.workers == 0),
            (None, StoreArg::Memory) => b.in_memory(),
            (None, _) => b
                .sqlite(self.dir.db())
                .sqlite_sync(sqlite_sync(self.opts.sync)),
        }
    }

    /// Spawns the worker processes and waits until each has built its
    /// runtime.
    fn start_workers(&mut self) -> Res<()> {
        let Some(pg) = &self.pg else { return Ok(()) };
        let exe = std::env::current_exe()?;
        let mut started = Vec::new();
        for _ in 0..self.opts.workers {
            let mut child = Command::new(&exe)
                .args(["--child-worker", "--postgres-url", &pg.url])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()?;
            let out = child.stdout.take().ok_or("no stdout")?;
            started.push(WorkerChild {
                child,
                out: BufReader::new(out),
            });
        }
        for w in &mut started {
            let guard = watchdog(w.child.id(), Duration::from_secs(60));
            let ready = tokio::task::block_in_place(|| collect_lines(&mut w.out, &["READY"]));
            drop(guard);
            ready?;
        }
        self.workers.extend(started);
        Ok(())
    }

    /// Shuts the worker processes down (each gives its leases back): their
    /// peak RSS, in MB.
    fn stop_workers(&mut self) -> Res<Vec<f64>> {
        let mut rss = Vec::new();
        for mut w in std::mem::take(&mut self.workers) {
            drop(w.child.stdin.take()); // EOF: the worker shuts down
            let guard = watchdog(w.child.id(), Duration::from_secs(60));
            let kb = tokio::task::block_in_place(|| collect_lines(&mut w.out, &["RSS"]));
            drop(guard);
            w.child.wait()?;
            rss.push(round(kb?[0][0] as f64 / 1024.0, 1));
        }
        Ok(rss)
    }

    /// Adds the worker processes' peak RSS to `m` (stopping them).
    fn finish(&mut self, m: &mut serde_json::Map<String, Value>) -> Res<()> {
        if !self.workers.is_empty() {
            let rss = self.stop_workers()?;
            m.insert("worker_peak_rss_mb".into(), rss.into());
        }
        Ok(())
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for mut w in self.workers.drain(..) {
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
    }
}

/// The common fields of a measurement's line.
fn line(
    workload: &str,
    store: StoreArg,
    sync: SyncArg,
    quick: bool,
) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("workload".into(), workload.into());
    m.insert("store".into(), store.name().into());
    let sync = if store == StoreArg::Sqlite {
        sync.name().into()
    } else {
        Value::Null
    };
    m.insert("sync".into(), sync);
    m.insert("quick".into(), quick.into());
    m
}

fn emit(m: serde_json::Map<String, Value>) {
    println!("{}", Value::Object(m));
}

/// Waits until the workflow `id` has published `progress`.
async fn wait_progress(rt: &Runtime, id: &str, progress: u64) -> Res<()> {
    let want = Value::from(progress);
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if rt.describe(id).await?.progress.as_ref() == Some(&want) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("workflow `{id}` never reached progress {progress}").into());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Signals `id` and awaits its result: the round trip, in µs.
async fn finish(rt: &Runtime, id: &str, expected: u64) -> Res<f64> {
    let handle = rt.handle::<u64>(id).await?;
    let t = Instant::now();
    rt.signal(id, Finish).await?;
    let out = handle.result().await?;
    let us = t.elapsed().as_secs_f64() * 1e6;
    if out != expected {
        return Err(format!("workflow `{id}` returned {out}, expected {expected}").into());
    }
    Ok(us)
}

/// Runs one measurement in this process.
fn run_job(args: &Args, job: WorkloadArg) -> Res<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let opts = Opts {
        store: args.store,
        sync: args.sync,
        quick: args.quick,
        pg_url: args.postgres_url(),
        workers: args.workers,
    };
    let p = args.param;
    rt.block_on(async move {
        match job {
            WorkloadArg::W1 => job_w1(&opts, p).await,
            WorkloadArg::W2 => job_w2(&opts, p, None).await,
            WorkloadArg::Limits => job_w2(&opts, p, Some(LIMIT)).await,
            WorkloadArg::Soak => job_soak(&opts, p).await,
            WorkloadArg::W3 => job_w3(&opts, p).await,
            WorkloadArg::Replay => job_replay(&opts, p).await,
            WorkloadArg::Children => job_children(&opts, p).await,
            other => Err(format!("no job `{}`", other.name()).into()),
        }
    })
}

// ---------------------------------------------------------------------------
// The parent: runs every measurement in a child process.

/// Runs one measurement in a child process, forwards its line, returns it.
fn measure(opts: &Opts, job: WorkloadArg, param: u64) -> Res<Value> {
    let store = opts.store;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args([
        "--job",
        job.name(),
        "--store",
        store.name(),
        "--sync",
        opts.sync.name(),
    ])
    .args(["--param", &param.to_string()]);
    if store == StoreArg::Postgres {
        cmd.args(["--postgres-url", &opts.pg_url])
            .args(["--workers", &opts.workers.to_string()]);
    }
    if opts.quick {
        cmd.arg("--quick");
    }
    let out = cmd.stderr(Stdio::inherit()).output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{} on {} (param {param}, workers {}) failed: {}; {stdout}",
            job.name(),
            store.name(),
            opts.workers,
            out.status
        )
        .into());
    }
    let text = stdout.trim();
    println!("{text}");
    Ok(serde_json::from_str(
        text.lines().last().unwrap_or_default(),
    )?)
}

/// The default parameters of `workload` on `store`.
fn default_params(workload: WorkloadArg, store: StoreArg, quick: bool) -> &'static [u64] {
    let pg = store == StoreArg::Postgres;
    match (workload, quick) {
        // PostgreSQL steps cost round trips to the server: K = 10000 would
        // take a minute.
        (WorkloadArg::W1, false) if pg => &[100, 1000],
        (WorkloadArg::W1, false) => &[100, 1000, 10_000],
        (WorkloadArg::W1, true) => &[10, 100],
        (WorkloadArg::W2, false) if pg => &[500],
        (WorkloadArg::W2, false) => &[500, 5000],
        (WorkloadArg::W2, true) => &[50],
        (WorkloadArg::Limits, false) => &[500],
        (WorkloadArg::Soak, false) => &[200_000],
        (WorkloadArg::Soak, true) => &[2_000],
        (WorkloadArg::Limits, true) => &[50],
        (WorkloadArg::W3, false) => &[2000, 10_000],
        (WorkloadArg::W3, true) => &[100],
        (WorkloadArg::Replay, false) => &[3333],
        (WorkloadArg::Replay, true) => &[300],
        (WorkloadArg::Children, false) => &[1000, 5000],
        (WorkloadArg::Children, true) => &[50],
        _ => &[],
    }
}

fn run_all(args: &Args) -> Res<()> {
    let stores: &[StoreArg] = match args.store {
        StoreArg::All => &[StoreArg::Memory, StoreArg::Sqlite],
        StoreArg::Memory => &[StoreArg::Memory],
        StoreArg::Sqlite => &[StoreArg::Sqlite],
        StoreArg::Postgres => &[StoreArg::Postgres],
    };
    let all = [
        WorkloadArg::W1,
        WorkloadArg::W2,
        WorkloadArg::Limits,
        WorkloadArg::W3,
        WorkloadArg::Replay,
        WorkloadArg::Children,
        WorkloadArg::Restart,
    ];
    let workloads: Vec<WorkloadArg> = if args.workload == WorkloadArg::All {
        all.to_vec()
    } else {
        vec![args.workload]
    };
    let quick = args.quick;
    let sync = args.sync;
    let pg_url = args.postgres_url();
    if args.store == StoreArg::Postgres {
        psql(&pg_url, "SELECT 1").map_err(|e| {
            format!(
                "--store postgres: the server at `{}` does not answer: {e}",
                redact(&pg_url)
            )
        })?;
    }
    let started = Instant::now();
    let mut failures = Vec::new();
    for &store in stores {
        // PostgreSQL: one worker process is measured next to the in-process
        // runtime; other counts alone.
        let worker_counts: Vec<usize> = match (store, args.workers) {
            (StoreArg::Postgres, 1) => vec![0, 1],
            (StoreArg::Postgres, n) => vec![n],
            _ => vec![0],
        };
        for &workload in &workloads {
            let params = if args.params.is_empty() {
                default_params(workload, store, quick)
            } else {
                &args.params[..]
            };
            if workload == WorkloadArg::Restart {
                let result = match store {
                    StoreArg::Memory | StoreArg::Postgres => {
                        let why = if store == StoreArg::Memory {
                            "the in-memory store does not outlive its process; see --store sqlite"
                        } else {
                            "SQLite only: on PostgreSQL a dead worker's runs move to the others \
                             once its lease expires (`lease`)"
                        };
                        let mut m = line("restart", store, sync, quick);
                        m.insert("skipped".into(), why.into());
                        emit(m);
                        Ok(())
                    }
                    _ => restart(sync, quick),
                };
                if let Err(e) = result {
                    failures.push(format!("restart on {}: {e}", store.name()));
                }
                continue;
            }
            for &workers in &worker_counts {
                let opts = Opts {
                    store,
                    sync,
                    quick,
                    pg_url: pg_url.clone(),
                    workers,
                };
                let mut walls = BTreeMap::new();
                for &p in params {
                    match measure(&opts, workload, p) {
                        Ok(v) => {
                            if let Some(w) = v.get("wall_s").and_then(Value::as_f64) {
                                walls.insert(p, w);
                            }
                        }
                        Err(e) => failures.push(e.to_string()),
                    }
                }
                if workload == WorkloadArg::W1 {
                    let (&k_small, &k_big) = match params {
                        [.., a, b] => (a, b),
                        _ => continue,
                    };
                    if let (Some(small), Some(big)) = (walls.get(&k_small), walls.get(&k_big)) {
                        let ratio = big / small;
                        let max_ratio = 1.1 * k_big as f64 / k_small as f64;
                        let mut m = opts.line("w1_ratio");
                        m.insert("k_small".into(), k_small.into());
                        m.insert("k_big".into(), k_big.into());
                        m.insert("ratio".into(), round(ratio, 2).into());
                        m.insert("target_max_ratio".into(), round(max_ratio, 2).into());
                        m.insert("met".into(), (ratio <= max_ratio).into());
                        emit(m);
                    }
                }
            }
        }
    }
    eprintln!("bench: done in {:.1} s", started.elapsed().as_secs_f64());
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n").into())
    }
}

fn main() -> Res<()> {
    let args = Args::parse();
    if let Some(dir) = &args.child_restart {
        return child_restart(dir, args.sync, args.kill_at);
    }
    if args.child_worker {
        return child_worker(&args.postgres_url());
    }
    if let Some(job) = args.job {
        if args.store == StoreArg::All {
            return Err("--job needs --store memory, sqlite or postgres".into());
        }
        return run_job(&args, job);
    }
    run_all(&args)
}
