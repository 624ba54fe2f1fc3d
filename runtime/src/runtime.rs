//! [`Runtime`] and its [`RuntimeBuilder`].

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::client::{self, StartWorkflow, WorkflowHandle, WorkflowInfo};
use crate::definition::{Activity, Workflow};
use crate::engine::{Engine, WorkerConfig, WorkerTasks};
use crate::error::Error;
use crate::history::SignalData;
use crate::registry::Registry;
use crate::signal::Signal;
use crate::store::sqlite::SqliteSync;
use crate::store::{InboxItem, StoreConfig};

/// Builds a [`Runtime`]: the store, the workflow and activity types, limits.
///
/// ```no_run
/// # use reprise::prelude::*;
/// # #[activity] async fn step() -> Result<(), ActivityError> { Ok(()) }
/// # #[workflow] async fn flow(ctx: WorkflowContext) -> Result<(), WorkflowError> { Ok(()) }
/// # async fn run() -> Result<(), reprise::Error> {
/// let in_tests = cfg!(test);
/// let mut builder = Runtime::builder();
/// builder = if in_tests { builder.in_memory() } else { builder.sqlite("pipeline.db") };
/// let rt = builder
///     .workflow(flow)
///     .activity(step)
///     .max_concurrent_activities(16)
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RuntimeBuilder {
    store: Option<StoreConfig>,
    sync: SqliteSync,
    worker: bool,
    registry: Registry,
    config: WorkerConfig,
    /// Replay the open runs before the worker starts (`check_replay_on_start`).
    check_replay_on_start: bool,
    #[cfg(feature = "postgres")]
    pool_size: Option<usize>,
}

impl RuntimeBuilder {
    /// The registry, for test environments that replace activities.
    #[cfg(feature = "testing")]
    pub(crate) fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Where the runtime reads the time (a test environment's virtual clock).
    #[cfg(feature = "testing")]
    pub(crate) fn clock(mut self, clock: crate::clock::Clock) -> Self {
        self.config.clock = clock;
        self
    }

    /// Stores workflows in a SQLite file (created if missing), the default
    /// with `reprise.db` in the current directory. Survives any crash of the
    /// process; one process at a time uses a file as a worker.
    pub fn sqlite(mut self, path: impl AsRef<Path>) -> Self {
        self.store = Some(StoreConfig::Sqlite(path.as_ref().to_path_buf(), self.sync));
        self
    }

    /// How durable a SQLite commit is. [`SqliteSync::Normal`] (the default)
    /// survives any crash of the process, SIGKILL included;
    /// [`SqliteSync::Full`] also survives a power loss or an OS crash, at the
    /// price of an fsync per commit (per batch of the group commit).
    pub fn sqlite_sync(mut self, sync: SqliteSync) -> Self {
        self.sync = sync;
        if let Some(StoreConfig::Sqlite(_, s)) = &mut self.store {
            *s = sync;
        }
        self
    }

    /// Whether this runtime runs workflows (the default), or is only a
    /// client of a store that other processes' runtimes work on: it starts,
    /// signals, cancels, terminates, describes and awaits workflows, and a
    /// worker picks those requests up (on PostgreSQL at once, woken by a
    /// notification; on SQLite within its 200 ms poll). A SQLite store has
    /// one worker process at a time, a PostgreSQL store any number; clients
    /// do not count.
    pub fn worker(mut self, worker: bool) -> Self {
        self.worker = worker;
        self
    }

    /// Stores workflows in a PostgreSQL database, shared by any number of
    /// worker processes on any number of hosts (feature `postgres`). The
    /// URL is a libpq-style connection string
    /// (`postgres://user:password@host:port/dbname`); the schema is created
    /// or migrated when the first process opens it. See `docs/DEPLOYMENT.md`.
    #[cfg(feature = "postgres")]
    pub fn postgres(mut self, url: impl Into<String>) -> Self {
        self.store = Some(StoreConfig::Postgres(
            crate::store::postgres::PostgresConfig::new(url),
        ));
        self
    }

    /// The most connections this process opens to PostgreSQL (default 16).
    /// Has no effect on other stores.
    #[cfg(feature = "postgres")]
    pub fn postgres_pool_size(mut self, size: usize) -> Self {
        self.pool_size = Some(size);
        self
    }

    /// How long a worker's claim on a run or an activity attempt lasts
    /// without renewal (default 10 s). A live worker renews its claims three
    /// times per lease; when it dies, other workers take its work once the
    /// lease has expired. Shorter leases move work sooner after a crash and
    /// cost more renewals.
    pub fn lease(mut self, lease: std::time::Duration) -> Self {
        self.config.lease = lease;
        self
    }

    /// This worker's id, unique among the live workers of a store (default:
    /// the host name, the process id and a random suffix). A worker that
    /// starts gives back whatever the store holds under its id: it was left
    /// by an earlier process with that id.
    pub fn worker_id(mut self, id: impl Into<String>) -> Self {
        self.config.worker_id = Some(id.into());
        self
    }

    /// How often a worker looks for work nobody told it about (a dead
    /// worker's expired leases, a timer of a run nobody holds). Default: the
    /// store's (SQLite 200 ms, since its client processes send no
    /// notifications; PostgreSQL and memory 1 s).
    pub fn poll_interval(mut self, every: std::time::Duration) -> Self {
        self.config.poll_interval = Some(every);
        self
    }

    /// Keeps everything in memory: for tests. Nothing survives the process.
    pub fn in_memory(mut self) -> Self {
        self.store = Some(StoreConfig::Memory);
        self
    }

    /// Registers a workflow type, so this runtime can start and run it.
    pub fn workflow<W: Workflow>(mut self, workflow: W) -> Self {
        self.registry.add_workflow(workflow);
        self
    }

    /// Registers an activity type, so this runtime's workers run it.
    pub fn activity<A: Activity>(mut self, activity: A) -> Self {
        self.registry.add_activity(activity);
        self
    }

    /// Hands `value` to every activity that takes a `Resource<T>` parameter
    /// of its type (a connection pool, an HTTP client, configuration),
    /// shared as an `Arc<T>`. A second value of the same type replaces the
    /// first. Resources are not part of any input: they are neither stored
    /// nor sent by workflows.
    ///
    /// ```no_run
    /// # use reprise::prelude::*;
    /// struct Warehouse { url: String }
    ///
    /// #[activity]
    /// async fn load(db: Resource<Warehouse>, rows: Vec<u64>) -> Result<usize, ActivityError> {
    ///     Ok(rows.len()) // ... write `rows` to `db.url` ...
    /// }
    ///
    /// # async fn run() -> Result<(), reprise::Error> {
    /// let rt = Runtime::builder()
    ///     .resource(Warehouse { url: "postgres://..".into() })
    ///     .activity(load)
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn resource<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.registry.add_resource(value);
        self
    }

    /// How many activity attempts run at once, at most. Default: 100.
    pub fn max_concurrent_activities(mut self, n: usize) -> Self {
        self.config.max_concurrent_activities = n;
        self
    }

    /// How many workflow runs stay in memory between steps, at most. A run
    /// evicted from memory is replayed from its history at its next step.
    /// Default: 10 000.
    pub fn max_cached_workflows(mut self, n: usize) -> Self {
        self.config.max_cached_runs = n;
        self
    }

    /// Whether a worker replays every open run of the store against its
    /// code before it starts (default: no), and blocks at once the runs
    /// that diverge — status `Blocked`, the divergence as the error
    /// `describe` shows — as it would when each next took a step, which
    /// for a run waiting on a long timer or a signal may be days later.
    /// Runs of workflow types it does not have, and runs another live
    /// worker of a shared store holds, are left alone (the latter are
    /// blocked by whichever worker next replays them). Costs one replay of
    /// every open run at start. No effect on a client (`worker(false)`).
    /// [`Runtime::check_replay`] reports the same without blocking anything.
    ///
    /// ```no_run
    /// # use reprise::prelude::*;
    /// # #[workflow] async fn etl(ctx: WorkflowContext) -> Result<(), WorkflowError> { Ok(()) }
    /// # async fn run() -> Result<(), reprise::Error> {
    /// let rt = Runtime::builder()
    ///     .sqlite("reprise.db")
    ///     .workflow(etl)
    ///     .check_replay_on_start(true)
    ///     .build()
    ///     .await?; // runs the new code cannot replay are blocked by now
    /// # Ok(()) }
    /// ```
    pub fn check_replay_on_start(mut self, check: bool) -> Self {
        self.check_replay_on_start = check;
        self
    }

    /// Opens the store and starts the worker in this process: every
    /// unfinished workflow found in the store resumes.
    ///
    /// Must be called within a tokio runtime. Describes reprise's metrics
    /// to the `metrics` recorder installed by then, if any
    /// ([`describe_metrics`](crate::describe_metrics)).
    ///
    /// # Errors
    ///
    /// When the store cannot be opened: a file that is not a reprise
    /// database, a database written by a newer version, a file in use by
    /// another process. [`Error::Config`] when two workflow or activity
    /// types are registered under one name, or an activity takes a
    /// `Resource<T>` the builder was not given.
    pub async fn build(self) -> Result<Runtime, Error> {
        let problems = self.registry.problems(self.worker);
        if !problems.is_empty() {
            return Err(Error::Config(problems.join("; ")));
        }
        if self.config.max_concurrent_activities == 0 {
            return Err(Error::Config(
                "`max_concurrent_activities` must be at least 1".into(),
            ));
        }
        if self.config.lease < std::time::Duration::from_millis(100) {
            return Err(Error::Config(format!(
                "`lease` must be at least 100ms, not {:?}",
                self.config.lease
            )));
        }
        if self
            .config
            .worker_id
            .as_deref()
            .is_some_and(|id| id.trim().is_empty())
        {
            return Err(Error::Config("`worker_id` must not be empty".into()));
        }
        #[allow(unused_mut)]
        let mut store = self
            .store
            .unwrap_or_else(|| StoreConfig::Sqlite("reprise.db".into(), self.sync));
        #[cfg(feature = "postgres")]
        if let (StoreConfig::Postgres(config), Some(size)) = (&mut store, self.pool_size) {
            config.pool_size = size;
        }
        let store = store.open(self.worker, self.config.clock).await?;
        // Help texts for the recorder installed now, if any.
        crate::metrics::describe_metrics();
        let mut config = self.config;
        config.worker = self.worker;
        let registry = Arc::new(self.registry);
        if self.check_replay_on_start && config.worker {
            let now = config.clock.now_ms();
            crate::replay_check::wake_divergent_runs(&*store, &registry, now).await?;
        }
        let (engine, tasks) = Engine::start(store, registry, config).await?;
        Ok(Runtime {
            engine,
            tasks: Mutex::new(Some(tasks)),
        })
    }
}

/// A reprise runtime: a store and the worker that runs workflows from it,
/// in this process.
///
/// See the [crate documentation](crate) for a complete example.
#[derive(Debug)]
pub struct Runtime {
    engine: Arc<Engine>,
    tasks: Mutex<Option<WorkerTasks>>,
}

impl Runtime {
    /// The engine, for test environments.
    #[cfg(feature = "testing")]
    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// A builder with the default settings.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder {
            store: None,
            sync: SqliteSync::Normal,
            worker: true,
            registry: Registry::default(),
            config: WorkerConfig::new(),
            check_replay_on_start: false,
            #[cfg(feature = "postgres")]
            pool_size: None,
        }
    }

    /// Starts a workflow; set its id with [`StartWorkflow::id`], then await
    /// the request for a [`WorkflowHandle`]. Starting an id that exists
    /// returns the existing workflow.
    ///
    /// # Errors
    ///
    /// The workflow type is not registered; the id exists with another type;
    /// the input does not serialize; the store fails.
    pub fn start<W: Workflow>(&self, workflow: W, input: W::Input) -> StartWorkflow<W> {
        StartWorkflow::new(self.engine.clone(), workflow, input)
    }

    /// Starts a workflow by its type name with a JSON input, as tools do.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start), and the input does not decode as the
    /// workflow's input type.
    pub async fn start_by_name(
        &self,
        name: &str,
        input: Value,
        id: Option<String>,
    ) -> Result<WorkflowHandle<Value>, Error> {
        client::start(self.engine.clone(), name, input, id, None).await
    }

    /// A handle to an existing workflow, to await its result.
    ///
    /// # Errors
    ///
    /// No workflow has that id.
    pub async fn handle<O: serde::de::DeserializeOwned>(
        &self,
        id: &str,
    ) -> Result<WorkflowHandle<O>, Error> {
        let info = client::describe(&self.engine, id).await?;
        let run_id = info
            .runs
            .last()
            .map(|r| r.run_id.clone())
            .unwrap_or_default();
        Ok(client::handle(
            self.engine.clone(),
            info.workflow_id,
            run_id,
        ))
    }

    /// Status, progress, runs and pending steps of a workflow.
    ///
    /// # Errors
    ///
    /// No workflow has that id; the store fails.
    pub async fn describe(&self, id: &str) -> Result<WorkflowInfo, Error> {
        client::describe(&self.engine, id).await
    }

    /// Sends a signal to a workflow. It is stored at once, recorded in the
    /// workflow's history in arrival order, and buffered until the workflow
    /// receives it with `ctx.signal::<S>()`.
    ///
    /// # Errors
    ///
    /// No workflow has that id ([`Error::NotFound`]); it has ended
    /// ([`Error::Finished`]); its code never receives `S`
    /// ([`Error::UnknownSignal`], when this runtime has its type
    /// registered); the store fails.
    pub async fn signal<S: Signal>(&self, id: &str, signal: S) -> Result<(), Error> {
        let payload = serde_json::to_value(&signal).map_err(|source| Error::Payload {
            what: format!("signal `{}`", S::NAME),
            source,
        })?;
        self.signal_by_name(id, S::NAME, payload).await
    }

    /// Sends a signal by name with a JSON payload, as tools do. Where this
    /// runtime has the workflow's type registered, a name its code never
    /// receives and a payload that does not decode as the signal's type are
    /// refused before anything is stored; otherwise (a client that did not
    /// register it) a payload that does not decode is logged and skipped by
    /// the workflow, without breaking it.
    ///
    /// # Errors
    ///
    /// As [`signal`](Self::signal), and [`Error::UnknownSignal`] or
    /// [`Error::Payload`] as above.
    pub async fn signal_by_name(&self, id: &str, name: &str, payload: Value) -> Result<(), Error> {
        client::check_signal(&self.engine, id, name, &payload).await?;
        let item = InboxItem::Signal(SignalData {
            name: name.to_owned(),
            payload,
        });
        client::send(&self.engine, id, item).await
    }

    /// Asks a workflow to cancel. Its pending activity calls return an error
    /// whose `is_cancelled()` is true and their running attempts see
    /// `ActivityContext::is_cancelled()`; the body may then run cleanup
    /// activities. A pending timer or signal wait ends the run there. The
    /// result is an error whose `is_cancelled()` is true.
    ///
    /// # Errors
    ///
    /// As [`signal`](Self::signal).
    pub async fn cancel(&self, id: &str) -> Result<(), Error> {
        client::send(&self.engine, id, InboxItem::Cancel).await
    }

    /// Ends a workflow at once, without running any more of its code; its
    /// running activity attempts see `ActivityContext::is_cancelled()`.
    ///
    /// # Errors
    ///
    /// As [`signal`](Self::signal).
    pub async fn terminate(&self, id: &str, reason: &str) -> Result<(), Error> {
        let item = InboxItem::Terminate {
            reason: reason.to_owned(),
        };
        client::send(&self.engine, id, item).await
    }

    /// Retries a blocked run now: a worker replays it against its code and,
    /// if it replays cleanly, runs it on; if not, it stays blocked with the
    /// cause in [`describe`](Self::describe). Has no effect on a run that
    /// is not blocked. (A worker also retries its blocked runs when it
    /// starts.)
    ///
    /// # Errors
    ///
    /// As [`signal`](Self::signal).
    pub async fn resume(&self, id: &str) -> Result<(), Error> {
        client::send(&self.engine, id, InboxItem::Wake).await
    }

    /// Lists workflows, newest run first, one page at a time: pass the
    /// page's [`next_page`](crate::WorkflowPage::next_page) to
    /// [`ListFilter::page`](crate::ListFilter::page) for the next one.
    ///
    /// ```no_run
    /// # async fn f(rt: reprise::Runtime) -> Result<(), reprise::Error> {
    /// use reprise::{ListFilter, WorkflowStatus};
    /// let mut filter = ListFilter::new().status(WorkflowStatus::Blocked);
    /// loop {
    ///     let page = rt.list(filter.clone()).await?;
    ///     for wf in &page.workflows {
    ///         println!("{} {} {:?}", wf.workflow_id, wf.workflow_type, wf.error);
    ///     }
    ///     match page.next_page {
    ///         Some(token) => filter = filter.page(&token),
    ///         None => break,
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Store`] if the store cannot be read.
    pub async fn list(&self, filter: crate::ListFilter) -> Result<crate::WorkflowPage, Error> {
        crate::query::list(&self.engine, filter).await
    }

    /// The event history of a workflow's latest run (the JSON that
    /// `reprise history --json` prints).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if no workflow has that id; [`Error::Store`] if
    /// the store cannot be read.
    pub async fn history(&self, id: &str) -> Result<crate::WorkflowHistory, Error> {
        crate::query::history(&self.engine, id, None).await
    }

    /// The event history of one run of a workflow (see
    /// [`WorkflowInfo::runs`]).
    ///
    /// # Errors
    ///
    /// [`Error::RunNotFound`] if the workflow has no such run;
    /// [`Error::Store`] if the store cannot be read.
    pub async fn run_history(
        &self,
        id: &str,
        run_id: &str,
    ) -> Result<crate::WorkflowHistory, Error> {
        crate::query::history(&self.engine, id, Some(run_id)).await
    }

    /// Replays every open run of the store (running or blocked) against
    /// the workflow types registered with this runtime, as a worker with
    /// this code would replay them, and reports the first divergence of
    /// each: a check before a deploy (`reprise replay-check`). Nothing runs
    /// and nothing is written: activity calls are matched against the
    /// histories, not executed, and their activities need not be
    /// registered. Runs of types not registered here are listed as such.
    ///
    /// ```no_run
    /// # use reprise::prelude::*;
    /// # #[workflow] async fn etl(ctx: WorkflowContext) -> Result<(), WorkflowError> { Ok(()) }
    /// # async fn run() -> Result<(), reprise::Error> {
    /// // A client of the production store, with the new code's workflows.
    /// let rt = Runtime::builder().sqlite("reprise.db").worker(false).workflow(etl).build().await?;
    /// let report = rt.check_replay().await?;
    /// for (run, error) in report.divergences() {
    ///     eprintln!("{} ({}): {error}", run.workflow_id, run.workflow_type);
    /// }
    /// assert!(report.is_clean(), "do not deploy");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Store`] if the store cannot be read.
    pub async fn check_replay(&self) -> Result<crate::ReplayReport, Error> {
        crate::replay_check::check_store(&*self.engine.store, &self.engine.registry).await
    }

    /// Creates a schedule: `workflow` started with `input` at every tick of
    /// the cron expression `cron` (UTC; 5 fields, or 6 with seconds
    /// first), one run per tick across every worker of the store, with the
    /// workflow id `<id>@<tick time, RFC 3339 UTC>`. Set its overlap policy
    /// and catch-up window on the request, then await it. Calling it again
    /// with the same id (at every start of the application) updates the
    /// schedule without firing a tick twice and without unpausing it. Ticks
    /// fire on the workers that have the workflow type registered.
    ///
    /// ```no_run
    /// # use reprise::prelude::*;
    /// # #[workflow] async fn etl(ctx: WorkflowContext, day: String) -> Result<(), WorkflowError> { Ok(()) }
    /// # async fn run(rt: Runtime) -> Result<(), reprise::Error> {
    /// use reprise::Overlap;
    /// rt.schedule("nightly-etl", "0 2 * * *", etl, "all".to_owned())
    ///     .overlap(Overlap::BufferOne)
    ///     .catchup_window(Duration::from_secs(6 * 3600))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSchedule`] for an empty id or a cron expression that
    /// does not parse; the workflow type is not registered; the input does
    /// not serialize; the store fails.
    pub fn schedule<W: Workflow>(
        &self,
        id: impl Into<String>,
        cron: impl Into<String>,
        workflow: W,
        input: W::Input,
    ) -> crate::ScheduleWorkflow<W> {
        crate::ScheduleWorkflow::new(self.engine.clone(), id.into(), cron.into(), workflow, input)
    }

    /// Pauses a schedule: no tick fires until it is unpaused.
    ///
    /// # Errors
    ///
    /// [`Error::ScheduleNotFound`]; the store fails.
    pub async fn pause_schedule(&self, id: &str) -> Result<(), Error> {
        crate::schedule::set_paused(&self.engine, id, true).await
    }

    /// Unpauses a schedule; it fires again from its next tick after now
    /// (the ticks of the pause are not caught up).
    ///
    /// # Errors
    ///
    /// [`Error::ScheduleNotFound`]; the store fails.
    pub async fn unpause_schedule(&self, id: &str) -> Result<(), Error> {
        crate::schedule::set_paused(&self.engine, id, false).await
    }

    /// Starts a run of a schedule now, under its overlap policy, with the
    /// workflow id `<id>@<now, RFC 3339 UTC to the millisecond>`; its
    /// ticks go on as before. Returns that id, or `None` when the policy
    /// skipped the run (or buffered it) because the previous one is still
    /// running.
    ///
    /// # Errors
    ///
    /// [`Error::ScheduleNotFound`]; the store fails.
    pub async fn trigger_schedule(&self, id: &str) -> Result<Option<String>, Error> {
        crate::engine::scheduler::trigger(&self.engine, id).await
    }

    /// Deletes a schedule. Its runs stay, running or not.
    ///
    /// # Errors
    ///
    /// [`Error::ScheduleNotFound`]; the store fails.
    pub async fn delete_schedule(&self, id: &str) -> Result<(), Error> {
        crate::schedule::delete(&self.engine, id).await
    }

    /// Every schedule of the store, by id: its policies, whether it is
    /// paused, its next tick, its counters and its latest runs.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] if the store cannot be read.
    pub async fn schedules(&self) -> Result<Vec<crate::ScheduleInfo>, Error> {
        crate::schedule::list(&self.engine).await
    }

    /// Stops the worker. Activity attempts in flight are abandoned; they run
    /// again when a runtime next opens the store. The store is closed (and a
    /// SQLite file's worker lock released) when this returns, unless a
    /// [`WorkflowHandle`] of this runtime is still alive.
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for stores that flush on close.
    pub async fn shutdown(self) -> Result<(), Error> {
        let tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(tasks) = tasks {
            self.engine.stop(tasks).await;
        }
        Ok(())
    }
}

impl Drop for Runtime {
    /// A runtime dropped without [`shutdown`](Runtime::shutdown) stops its
    /// worker in the background; the store closes once the worker's tasks
    /// have ended.
    fn drop(&mut self) {
        let tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(tasks) = tasks {
            self.engine.stop_in_background(tasks);
        }
    }
}
