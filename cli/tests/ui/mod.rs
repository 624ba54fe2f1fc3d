//! What the web UI's tests share: a SQLite store in a temporary folder, a
//! worker runtime in the test process with small workflows, and `reprise
//! ui --port 0` run as a client process on the same file.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use reprise::prelude::*;
use reprise::WorkflowStatus;
use serde_json::Value;

pub(crate) use crate::common::TempStore as TempDb;

// ---------- the workflows ----------

/// Ends a `waiter`.
#[derive(Debug, Serialize, Deserialize, Signal)]
pub(crate) struct Stop {
    pub(crate) reason: String,
}

#[activity]
pub(crate) async fn hello(name: String) -> Result<String, ActivityError> {
    Ok(format!("hello, {name}"))
}

/// Greets, and completes at once.
#[workflow]
pub(crate) async fn greet(ctx: WorkflowContext, name: String) -> Result<String, WorkflowError> {
    let text = ctx.activity(hello, name).await?;
    ctx.set_progress(&json!({ "greeted": 1 }));
    Ok(text)
}

/// Waits for a `Stop` (or an hour): a workflow to signal, cancel, terminate.
#[workflow]
pub(crate) async fn waiter(ctx: WorkflowContext, label: String) -> Result<String, WorkflowError> {
    ctx.set_progress(&json!({ "waiting": label }));
    tokio::select! {
        biased;
        stop = ctx.signal::<Stop>().recv() => Ok(stop.reason),
        () = ctx.sleep(Duration::from_secs(3600)) => Ok("an hour passed".to_owned()),
    }
}

#[activity]
pub(crate) async fn refuse(what: String) -> Result<(), ActivityError> {
    Err(ActivityError::non_retryable(
        "Refused",
        format!("{what} is not allowed"),
    ))
}

/// Fails: its only activity refuses.
#[workflow]
pub(crate) async fn failing(ctx: WorkflowContext, what: String) -> Result<(), WorkflowError> {
    ctx.activity(refuse, what).await?;
    Ok(())
}

#[activity]
pub(crate) async fn step(n: u32) -> Result<u32, ActivityError> {
    Ok(n * 2)
}

/// `n` activity calls at once: a timeline of `n + 1` steps.
#[workflow]
pub(crate) async fn stepper(ctx: WorkflowContext, n: u32) -> Result<u32, WorkflowError> {
    let outs = join_all((0..n).map(|i| ctx.activity(step, i))).await;
    let mut sum = 0;
    for out in outs {
        sum += out?;
    }
    Ok(sum)
}

/// A worker runtime over SQLite file `db` with every workflow above.
pub(crate) async fn worker(db: &Path) -> Runtime {
    register(Runtime::builder().sqlite(db))
        .build()
        .await
        .expect("the worker runtime starts")
}

/// `builder` with every workflow and activity above.
pub(crate) fn register(builder: reprise::RuntimeBuilder) -> reprise::RuntimeBuilder {
    builder
        .workflow(greet)
        .workflow(waiter)
        .workflow(failing)
        .workflow(stepper)
        .activity(hello)
        .activity(refuse)
        .activity(step)
}

/// Waits (15 s at most) until workflow `id` has `status`.
pub(crate) async fn wait_for_status(rt: &Runtime, id: &str, status: WorkflowStatus) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let info = rt.describe(id).await.unwrap();
        if info.status == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "`{id}` is {:?}, not {status:?}, after 15 s (error: {:?})",
            info.status,
            info.error
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

// ---------- the UI process ----------

/// `reprise ui --port 0 --db FILE`, killed on drop.
pub(crate) struct UiProcess {
    pub(crate) child: Child,
    /// `http://127.0.0.1:PORT`, as the process printed it.
    pub(crate) url: String,
    /// Kept open: the process may print more.
    _stdout: BufReader<ChildStdout>,
}

impl UiProcess {
    /// Starts the UI on SQLite file `db`, on a free port, and waits until
    /// it listens.
    pub(crate) fn start(db: &Path) -> Self {
        Self::start_with(&[std::ffi::OsStr::new("--db"), db.as_os_str()])
    }

    /// Starts the UI with these store options (`--db FILE`, `--postgres
    /// URL`) on a free port, and waits until it listens.
    pub(crate) fn start_with(store: &[&std::ffi::OsStr]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_reprise"))
            .args(["ui", "--port", "0"])
            .args(store)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("`reprise ui` starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("`reprise ui` prints its address");
        let url = line
            .trim()
            .strip_prefix("reprise UI on ")
            .unwrap_or_else(|| panic!("`reprise ui` printed {line:?}, not its address"))
            .to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Self {
            child,
            url,
            _stdout: stdout,
        }
    }

    /// The URL of `path` on this server.
    pub(crate) fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for UiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A store with known workflows, a worker on it and the UI over it.
pub(crate) struct Fixture {
    pub(crate) ui: UiProcess,
    pub(crate) rt: Runtime,
    pub(crate) http: reqwest::Client,
    pub(crate) db: TempDb,
}

impl Fixture {
    /// A fresh store and worker; `fill` starts the workflows; then the UI.
    pub(crate) async fn new(name: &str) -> Self {
        let db = TempDb::new(name);
        let rt = worker(&db.path).await;
        let ui = UiProcess::start(&db.path);
        Self {
            ui,
            rt,
            http: reqwest::Client::new(),
            db,
        }
    }

    /// `GET path`: its status and JSON body.
    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(self.ui.at(path)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST path` with a JSON body: its status and JSON body.
    pub(crate) async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.ui.at(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}
