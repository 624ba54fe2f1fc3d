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
            WorkloadArg::All => "all",
        }
    }
}

// ---------------------------------------------------------------------------
// Workflows and activities.

#[activity]
async fn noop(i: u64) -> Result<u64, ActivityError> {
    Ok(i)
}

/// W1 and the replay's history: `k` sequential no-op activities.
#[workflow]
async fn sequential(ctx: WorkflowContext, k: u64) -> Result<u64, WorkflowError> {
    let mut sum = 0;
    for i in 0..k {
        sum += ctx.activity(noop, i).await?;
    }
    Ok(sum)
}

/// W2: three no-op activities.
#[workflow]
async fn three_steps(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    let mut sum = 0;
    for i in 0..3 {
        sum += ctx.activity(noop, n + i).await?;
    }
    Ok(sum)
}

/// W3: one durable sleep.
#[workflow]
async fn sleeper(ctx: WorkflowContext, ms: u64) -> Result<(), WorkflowError> {
    ctx.sleep(Duration::from_millis(ms)).await;
    Ok(())
}

/// Ends the replay workflow.
#[derive(Debug, Serialize, Deserialize, Signal)]
#[signal(name = "bench_finish")]
struct Finish;

/// Replay: `k` sequential no-op activities, then publishes its progress and
/// waits for [`Finish`] (or a day).
#[workflow]
async fn replayed(ctx: WorkflowContext, k: u64) -> Result<u64, WorkflowError> {
    let mut sum = 0;
    for i in 0..k {
        sum += ctx.activity(noop, i).await?;
    }
    ctx.set_progress(&k);
    // A pending timer keeps a reopened runtime from activating the run at
    // start-up: it stays uncached until the signal arrives.
    tokio::select! {
        biased;
        _ = ctx.signal::<Finish>().recv() => Ok(sum),
        () = ctx.sleep(Duration::from_secs(24 * 3600)) => Err(WorkflowError::new("no signal")),
    }
}

static EXECUTED: AtomicU64 = AtomicU64::new(0);
static KILL_AT: AtomicU64 = AtomicU64::new(u64::MAX);

/// Restart: a no-op activity that reports its first two executions in this
/// process, and the step at which the parent may kill the process.
#[activity]
async fn restart_step(i: u64) -> Result<u64, ActivityError> {
    if EXECUTED.fetch_add(1, Ordering::Relaxed) < 2 {
        println!("STEP {i} {}", unix_us());
    }
    if i == KILL_AT.load(Ordering::Relaxed) {
        println!("REACHED {i}");
    }
    Ok(i)
}

/// Restart: a workflow long enough to be killed in the middle.
#[workflow]
async fn long_run(ctx: WorkflowContext, k: u64) -> Result<u64, WorkflowError> {
    let mut last = 0;
    for i in 0..k {
        last = ctx.activity(restart_step, i).await?;
    }
    Ok(last)
}

// ---------------------------------------------------------------------------
// Helpers.

fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Peak resident set size of this process, in MB (`VmHWM`).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| round(kb / 1024.0, 1))
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

/// Runs `psql` on `url` with one SQL command: its output (unaligned, no
/// headers).
fn psql(url: &str, sql: &str) -> Res<String> {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `psql` (is it installed?): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "psql `{sql}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `url` without the password of a `scheme://user:password@host` URL.
fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    match (rest.find(':'), rest.find('@')) {
        (Some(colon), Some(at)) if colon < at => format!(
            "{}://{}:***{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        _ => url.to_owned(),
    }
}

/// `url` with its database name replaced by `db` (URL or `key=value` form).
fn with_dbname(url: &str, db: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return format!("{url} dbname={db}");
    };
    let rest = &url[scheme_end + 3..];
    let query_at = rest.find('?').unwrap_or(rest.len());
    let (main, query) = rest.split_at(query_at);
    let authority = main.split('/').next().unwrap_or(main);
    format!("{}://{authority}/{db}{query}", &url[..scheme_end])
}

/// A fresh PostgreSQL database, dropped on drop.
struct PgDb {
    /// The server's URL the database was created from.
    admin: String,
    name: String,
    /// The database's URL.
    url: String,
}

impl PgDb {
    fn create(admin: &str) -> Res<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "reprise_bench_{:x}_{:x}{nanos:x}",
            std::process::id(),
            unix_us()
        );
        psql(admin, &format!("CREATE DATABASE {name}"))?;
        Ok(Self {
            admin: admin.to_owned(),
            url: with_dbname(admin, &name),
            name,
        })
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = psql(&self.admin, &sql) {
            eprintln!("bench: {e}");
        }
    }
}

/// A PostgreSQL worker process (this binary, `--child-worker`).
struct WorkerChild {
    child: Child,
    out: BufReader<ChildStdout>,
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

/// A PostgreSQL worker process: every workflow and activity of the bench,
/// on the database at `url`. Prints `READY` once built; shuts down when
/// stdin closes and prints `RSS` (its peak RSS, kB).
fn child_worker(url: &str) -> Res<()> {
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio_rt.block_on(async {
        let rt = Runtime::builder()
            .postgres(url)
            .workflow(sequential)
            .workflow(three_steps)
            .workflow(sleeper)
            .workflow(replayed)
            .activity(noop)
            .build()
            .await?;
        println!("READY {}", unix_us());
        tokio::task::spawn_blocking(|| {
            let mut buf = String::new();
            while std::io::stdin().read_line(&mut buf).is_ok_and(|n| n > 0) {
                buf.clear();
            }
        })
        .await?;
        rt.shutdown().await?;
        let kb = (peak_rss_mb() * 1024.0).round() as u64;
        println!("RSS {kb}");
        Ok(())
    })
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

// ---------------------------------------------------------------------------
// Measurements (each in its own process).

/// How many times W1 runs per K (each on a fresh runtime and directory);
/// it reports the median.
const W1_RUNS: usize = 3;

async fn job_w1(opts: &Opts, k: u64) -> Res<()> {
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

async fn job_w2(opts: &Opts, n: u64) -> Res<()> {
    let mut env = Env::new("w2", opts)?;
    let rt = env
        .builder()
        .workflow(three_steps)
        .activity(noop)
        .build()
        .await?;
    let t = Instant::now();
    let starts = (0..n).map(|i| {
        rt.start(three_steps, i * 10)
            .id(format!("w2-{i}"))
            .into_future()
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
    let mut m = opts.line("w2");
    m.insert("n".into(), n.into());
    m.insert("activities_each".into(), 3.into());
    m.insert("start_all_s".into(), round(started, 4).into());
    m.insert("wall_s".into(), round(wall, 4).into());
    m.insert("workflows_per_s".into(), round(rate, 0).into());
    let target = match opts.store {
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

async fn job_w3(opts: &Opts, n: u64) -> Res<()> {
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
const COUNT_EVENTS: &str = "SELECT COUNT(*) FROM history WHERE run_id = \
     (SELECT latest_run_id FROM workflows WHERE workflow_id = ?1)";

/// The number of history events of the latest run of `id`, read from the
/// store (the runtime that wrote them must be shut down).
fn count_events(env: &Env, id: &str) -> Res<u64> {
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
const REPLAYS: usize = 3;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The fixed cost of a signal round trip on a cached run: the median of
/// [`REPLAYS`] workflows that wait for the signal, one after the other.
async fn baseline(rt: &Runtime) -> Res<f64> {
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
async fn build_histories(rt: &Runtime, k: u64) -> Res<()> {
    for i in 0..REPLAYS {
        let id = format!("replay-{i}");
        rt.start(replayed, k).id(id.clone()).await?;
        wait_progress(rt, &id, k).await?;
    }
    Ok(())
}

/// Signals each long workflow (each a cache miss): the median round trip.
async fn replay_all(rt: &Runtime, expected: u64) -> Res<f64> {
    let mut times = Vec::new();
    for i in 0..REPLAYS {
        times.push(finish(rt, &format!("replay-{i}"), expected).await?);
    }
    Ok(median(times))
}

async fn job_replay(opts: &Opts, k: u64) -> Res<()> {
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
            WorkloadArg::W2 => job_w2(&opts, p).await,
            WorkloadArg::W3 => job_w3(&opts, p).await,
            WorkloadArg::Replay => job_replay(&opts, p).await,
            other => Err(format!("no job `{}`", other.name()).into()),
        }
    })
}

// ---------------------------------------------------------------------------
// Restart: the child, and the parent that kills and respawns it.

/// The restart child: prints `MAIN`, `BUILT`, then the `STEP` lines of its
/// first two activities (and `REACHED` at `--kill-at`); runs until killed.
fn child_restart(dir: &Path, sync: SyncArg, kill_at: u64) -> Res<()> {
    println!("MAIN {}", unix_us());
    KILL_AT.store(kill_at, Ordering::Relaxed);
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio_rt.block_on(async {
        let rt = Runtime::builder()
            .sqlite(dir.join("reprise.db"))
            .sqlite_sync(sqlite_sync(sync))
            .workflow(long_run)
            .activity(restart_step)
            .build()
            .await?;
        println!("BUILT {}", unix_us());
        // Idempotent: the second child gets the existing workflow.
        let handle = rt.start(long_run, u64::MAX).id("restart").await?;
        handle.result().await?;
        Ok(())
    })
}

fn spawn_restart_child(
    dir: &Path,
    sync: SyncArg,
    kill_at: u64,
) -> Res<(Child, BufReader<ChildStdout>)> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--child-restart")
        .arg(dir)
        .args(["--sync", sync.name(), "--kill-at", &kill_at.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let out = child.stdout.take().ok_or("no stdout")?;
    Ok((child, BufReader::new(out)))
}

/// Reads the lines of a child until it has printed one with each of `tags`
/// (in any order; a tag listed twice needs two lines): their fields.
fn collect_lines(out: &mut BufReader<ChildStdout>, tags: &[&str]) -> Res<Vec<Vec<u64>>> {
    let mut found: Vec<Option<Vec<u64>>> = vec![None; tags.len()];
    let mut buf = String::new();
    while found.iter().any(Option::is_none) {
        buf.clear();
        if out.read_line(&mut buf)? == 0 {
            let missing: Vec<&str> = (0..tags.len())
                .filter(|&i| found[i].is_none())
                .map(|i| tags[i])
                .collect();
            return Err(format!("the child ended without printing {missing:?}").into());
        }
        let mut words = buf.split_whitespace();
        let Some(tag) = words.next() else { continue };
        if let Some(i) = (0..tags.len()).find(|&i| tags[i] == tag && found[i].is_none()) {
            let fields = words
                .map(|w| w.parse::<u64>().map_err(BoxError::from))
                .collect::<Res<Vec<u64>>>()?;
            found[i] = Some(fields);
        }
    }
    Ok(found.into_iter().flatten().collect())
}

/// SIGKILLs the child `pid` unless `done` is dropped within `limit`, so
/// that a stuck child fails the measurement instead of hanging the bench.
fn watchdog(pid: u32, limit: Duration) -> std::sync::mpsc::Sender<()> {
    let (done, wait) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(limit) {
            eprintln!("bench: the child {pid} is stuck; killing it");
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    });
    done
}

fn kill(mut child: Child) -> Res<()> {
    child.kill()?; // SIGKILL
    child.wait()?;
    Ok(())
}

fn restart(sync: SyncArg, quick: bool) -> Res<()> {
    let dir = TempDir::new("restart")?;
    let kill_at: u64 = if quick { 200 } else { 2000 };
    // First child: runs the workflow until step `kill_at`, then SIGKILL.
    let (first, mut out) = spawn_restart_child(&dir.0, sync, kill_at)?;
    let guard = watchdog(first.id(), Duration::from_secs(120));
    let reached = collect_lines(&mut out, &["REACHED"]);
    kill(first)?;
    drop(guard);
    reached?;
    // Second child: resumes; the clock starts just before the spawn.
    let spawn_us = unix_us();
    let (second, mut out) = spawn_restart_child(&dir.0, sync, u64::MAX)?;
    let guard = watchdog(second.id(), Duration::from_secs(120));
    let lines = collect_lines(&mut out, &["MAIN", "BUILT", "STEP", "STEP"]);
    kill(second)?;
    drop(guard);
    let [main, built, first_step, second_step] =
        <[Vec<u64>; 4]>::try_from(lines?).map_err(|_| "unexpected restart child output")?;
    let (main_us, built_us) = (main[0], built[0]);
    let ms = |t: u64| round(t.saturating_sub(spawn_us) as f64 / 1e3, 2);
    let first_ms = ms(first_step[1]);
    let mut m = line("restart", StoreArg::Sqlite, sync, quick);
    m.insert("killed_after_step".into(), kill_at.into());
    m.insert("resumed_at_step".into(), first_step[0].into());
    m.insert(
        "history_events_at_restart".into(),
        (3 * first_step[0] + 2).into(),
    );
    m.insert("spawn_to_main_ms".into(), ms(main_us).into());
    m.insert("spawn_to_built_ms".into(), ms(built_us).into());
    m.insert("spawn_to_first_step_ms".into(), first_ms.into());
    m.insert("next_step".into(), second_step[0].into());
    m.insert("spawn_to_next_step_ms".into(), ms(second_step[1]).into());
    m.insert("wall_s".into(), round(first_ms / 1e3, 4).into());
    m.insert("target_ms".into(), 50.into());
    m.insert("met".into(), (first_ms <= 50.0).into());
    emit(m);
    Ok(())
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
        (WorkloadArg::W3, false) => &[2000, 10_000],
        (WorkloadArg::W3, true) => &[100],
        (WorkloadArg::Replay, false) => &[3333],
        (WorkloadArg::Replay, true) => &[300],
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
        WorkloadArg::W3,
        WorkloadArg::Replay,
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
