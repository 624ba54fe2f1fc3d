//! Procedural macros of [reprise]: `#[workflow]`, `#[activity]` and
//! `#[derive(Signal)]`.
//!
//! Do not depend on this crate directly: use the macros through `reprise`
//! (`use reprise::prelude::*;`), which re-exports them and provides the
//! `reprise::__private` items the generated code refers to.
//!
//! [reprise]: https://docs.rs/reprise

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![warn(unreachable_pub, missing_debug_implementations, rust_2018_idioms)]

mod ast;
mod attr;
mod errors;
mod expand;
mod lint;
mod received;
mod respan;
mod rewrite;
mod signal;
mod validate;

use proc_macro::TokenStream;

/// Marks an `async fn` as a durable workflow.
///
/// ```ignore
/// use reprise::prelude::*;
///
/// #[workflow]
/// async fn count(ctx: WorkflowContext, to: u64) -> Result<u64, WorkflowError> {
///     let mut n = 0;
///     while n < to {
///         n = ctx.activity(add_one, n).await?;
///     }
///     Ok(n)
/// }
/// ```
///
/// The function is replaced by a unit value of the same name that implements
/// `reprise::Workflow`; that value is what `Runtime::start` and
/// `RuntimeBuilder::workflow` take. Its `NAME` is stored in every history of
/// the workflow, so renaming the function orphans the running ones unless
/// `name = "..."` keeps the old name.
///
/// # Signature
///
/// `async fn NAME(ctx: WorkflowContext, p1: T1, p2: T2, ...) -> Result<Out, WorkflowError>`:
///
/// - the first parameter is the context, recognised by its type's name
///   (`WorkflowContext`, `reprise::WorkflowContext`), taken by value;
/// - the input is made of the other parameters: `()` for none, `T1` for one,
///   the tuple `(T1, T2, ...)` for several. It and `Out` must be
///   `Serialize + DeserializeOwned + Send + 'static`: they are stored as JSON;
/// - no generics, `where` clause, `self`, `impl Trait`, borrowed or
///   `Resource<T>` parameter (resources are for activities), and neither
///   `const`, `unsafe` nor `extern`.
///
/// # Determinism
///
/// The body runs again from the top after every restart, against the
/// recorded history, so it must do the same thing each time. The macro
/// rejects, with an error on the offending code, the usual sources of
/// divergence: wall clocks (use `ctx.now()`), randomness (`ctx.random_u64()`,
/// `ctx.uuid()`), real sleeps and timers (`ctx.sleep(..)`), spawning
/// threads or tasks, I/O (do it in an activity), environment variables,
/// `HashMap` and `HashSet` (use `BTreeMap`), `select!` without `biased;`,
/// `static mut` and `thread_local!`. Code inside `ctx.side_effect(|| ...)` is
/// exempt: its result is recorded once and replayed after. A statement or
/// expression known to be harmless (a debug log of the elapsed time, say)
/// can be exempted with `#[reprise::allow(nondeterminism, reason = "...")]`;
/// the reason is required.
///
/// # Continue-as-new
///
/// `ctx.continue_as_new(input)` is checked against the workflow's input
/// type: the macro wraps `input` in a function taking exactly that type, so a
/// wrong argument fails to compile, pointing at the argument.
///
/// ```ignore
/// #[workflow]
/// async fn stream(ctx: WorkflowContext, window: u64) -> Result<(), WorkflowError> {
///     // ... process the window ...
///     ctx.continue_as_new(window + 1) // a `u64`, like the input
/// }
/// ```
///
/// # Signals
///
/// The macro lists the signal types the workflow receives, and a runtime
/// that has the workflow registered (`RuntimeBuilder::workflow`) checks
/// what is sent against that list: `Runtime::signal` and
/// `Runtime::signal_by_name` refuse, before anything is stored, a name the
/// workflow never receives (`Error::UnknownSignal`, naming the workflow,
/// the name and the names it does receive) and a payload that does not
/// decode as the type received under that name (`Error::Payload`).
/// `build()` fails (`Error::Config`) when one workflow receives two
/// different types under one name.
///
/// The list is every type `S` of a call `X.signal::<S>()` in the body, on
/// any receiver (`ctx`, `self.ctx`, a `&ctx` captured by a closure or an
/// async block), inside `select!`, `join!`, `format!` and the other macros
/// the determinism lint reads too, plus the types of `signals = [..]` (see
/// below). Signals received where the macro cannot see them must be
/// declared there: in a helper function (above all one generic over
/// `S: Signal`), in a function nested in the body, or in a macro of your
/// own. A type that is not a `Signal` is reported on the type.
///
/// The list is generated outside the body: a signal type declared inside
/// the body cannot be named there and is an error (declare it next to the
/// function); one imported by a `use` inside the body works.
///
/// # Options
///
/// ## `name = "..."`
///
/// The name stored in histories. Default: the function's name.
///
/// ```ignore
/// #[workflow(name = "ETLPipeline")]
/// async fn etl(ctx: WorkflowContext, sources: Vec<String>) -> Result<usize, WorkflowError> {
///     Ok(sources.len())
/// }
/// ```
///
/// ## `crate = "path"`
///
/// The path of the `reprise` crate in generated code, for a crate that
/// depends on reprise under another name or re-exports it. Default:
/// `::reprise`.
///
/// ```ignore
/// #[workflow(crate = "my_runtime::reprise")]
/// async fn etl(ctx: WorkflowContext) -> Result<(), WorkflowError> {
///     Ok(())
/// }
/// ```
///
/// ## `signals = [Type, ...]`
///
/// Signal types the workflow receives where the macro cannot see the
/// `ctx.signal::<S>()` call (see [Signals](#signals)), added to the ones it
/// finds. Without it, a signal received only in such a helper is refused
/// by the runtime as unknown. Default: none.
///
/// ```ignore
/// async fn wait_for<S: Signal>(ctx: &WorkflowContext) -> S {
///     ctx.signal::<S>().recv().await
/// }
///
/// #[workflow(signals = [Resize])]
/// async fn stream(ctx: WorkflowContext) -> Result<(), WorkflowError> {
///     let resize: Resize = wait_for(&ctx).await;
///     // `StopStreaming` is found in the body: no need to declare it.
///     ctx.signal::<StopStreaming>().recv().await;
///     Ok(())
/// }
/// ```
///
/// Timeouts, retries and limits are activity options: `#[workflow]` rejects
/// them.
///
/// # What it generates
///
/// ```ignore
/// #[derive(Clone, Copy, Debug, Default)]
/// struct count;
///
/// impl reprise::Workflow for count {
///     const NAME: &'static str = "count";
///     type Input = u64;
///     type Output = u64;
///
///     fn signals(&self) -> Option<Vec<SignalSpec>> {
///         Some(Vec::from([/* SignalSpec::of::<S>() for each signal type */]))
///     }
///
///     fn run(self, ctx: WorkflowContext, input: u64)
///         -> BoxFuture<'static, Result<u64, WorkflowError>>
///     {
///         async fn body(ctx: WorkflowContext, to: u64) -> Result<u64, WorkflowError> {
///             /* the function's body */
///         }
///         Box::pin(body(ctx, input))
///     }
/// }
/// ```
///
/// Because of the unit value, the function cannot be called directly, and a
/// `let` or parameter of the same name in the module is a pattern matching
/// that value: pick another name for variables.
#[proc_macro_attribute]
pub fn workflow(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::workflow(args.into(), item.into()).into()
}

/// Marks an `async fn`, or a plain `fn` for blocking work, as an activity: a
/// step of a workflow that may touch the world (I/O, clocks, randomness),
/// retried on failure.
///
/// ```ignore
/// use reprise::prelude::*;
///
/// #[activity]
/// async fn add_one(n: u64) -> Result<u64, ActivityError> {
///     Ok(n + 1)
/// }
/// ```
///
/// The function is replaced by a unit value of the same name that implements
/// `reprise::Activity`; a workflow calls it with `ctx.activity(add_one, 41)`.
/// An activity runs at least once per call (a crash between its end and the
/// recording of its result runs it again): make it idempotent.
///
/// # Signature
///
/// `[async] fn NAME([ctx: ActivityContext,] p1: T1, p2: T2, ...) -> Result<Out, ActivityError>`:
///
/// - an optional leading context, recognised by its type's name
///   (`ActivityContext`), gives `heartbeat`, `attempt`, `is_cancelled`;
/// - parameters of type `Resource<R>`, anywhere after the context, are
///   handed by the runtime (see [Resources](#resources)); they are not part
///   of the input;
/// - the input is made of the other parameters: `()` for none, `T1` for one,
///   the tuple `(T1, T2, ...)` for several. It and `Out` must be
///   `Serialize + DeserializeOwned + Send + 'static`;
/// - no generics, `where` clause, `self`, `impl Trait` or borrowed
///   parameter, and neither `const`, `unsafe` nor `extern`.
///
/// ```ignore
/// #[activity]
/// async fn load(ctx: ActivityContext, target: Target, rows: Vec<Row>) -> Result<usize, ActivityError> {
///     ctx.heartbeat(&rows.len());
///     Ok(rows.len())
/// }
///
/// // In a workflow: several parameters, one tuple.
/// let n = ctx.activity(load, (target, rows)).await?;
/// ```
///
/// # Synchronous activities
///
/// A plain `fn` (no `async`) is an activity too; its body runs on tokio's
/// blocking pool (`spawn_blocking`), with the same signature rules,
/// options and retries. Use it for blocking drivers, file I/O with
/// `std::fs` and CPU-heavy parsing: in an `async fn` such work stalls one of
/// the executor's few threads, and every workflow and activity waiting on it.
///
/// ```ignore
/// #[activity(start_to_close = "5m")]
/// fn parse_csv(path: String) -> Result<Vec<Row>, ActivityError> {
///     let text = std::fs::read_to_string(path)?;
///     Ok(text.lines().map(Row::parse).collect())
/// }
/// ```
///
/// A blocking thread cannot be interrupted: when an attempt overruns
/// `start_to_close` (or its heartbeat timeout, or is cancelled), the attempt
/// is abandoned and retried as usual, but its thread runs on to the end of
/// the body, and its result is dropped. Check `ctx.is_cancelled()` in long
/// loops to stop early.
///
/// # Resources
///
/// A parameter of type `Resource<R>` (`reprise::Resource`) receives the
/// runtime's value of type `R`, given once with
/// `Runtime::builder().resource(value)`: a connection pool, an HTTP client,
/// configuration. It derefs to `R` and is a cheap shared handle (an `Arc`):
/// take it by value, not `&Resource<R>`. Resources are not part of the
/// input, so a call passes only the other parameters; `R` must be
/// `Send + Sync + 'static`, not `Serialize`. `build()` fails when an
/// activity needs a resource the runtime was not given.
///
/// ```ignore
/// #[activity]
/// async fn insert(db: Resource<PgPool>, rows: Vec<Row>) -> Result<u64, ActivityError> {
///     Ok(db.insert_all(&rows).await?)
/// }
///
/// #[activity]
/// fn export(ctx: ActivityContext, rows: Vec<Row>, dir: Resource<ExportDir>) -> Result<(), ActivityError> {
///     std::fs::write(dir.0.join(ctx.workflow_id()), serde_json::to_vec(&rows)?)?;
///     Ok(())
/// }
///
/// // In a workflow: the input alone.
/// let n = ctx.activity(insert, rows).await?;
/// ```
///
/// # Options
///
/// Durations are [humantime] strings (`"250ms"`, `"30s"`, `"5m"`,
/// `"1h 30m"`), checked at compile time: a bad one fails under its literal.
/// Every option is a default that a call may override
/// (`ctx.activity(load, input).start_to_close(..)`).
///
/// ## `name = "..."`
///
/// The name stored in histories. Default: the function's name.
///
/// ```ignore
/// #[activity(name = "LoadData")]
/// async fn load(rows: Vec<Row>) -> Result<usize, ActivityError> { Ok(rows.len()) }
/// ```
///
/// ## `crate = "path"`
///
/// The path of the `reprise` crate in generated code. Default: `::reprise`.
///
/// ```ignore
/// #[activity(crate = "my_runtime::reprise")]
/// async fn ping() -> Result<(), ActivityError> { Ok(()) }
/// ```
///
/// ## `start_to_close = "duration"`
///
/// Longest time one attempt may run; a longer attempt fails with kind
/// `StartToCloseTimeout` and is retried. Default: no limit.
///
/// ```ignore
/// #[activity(start_to_close = "5m")]
/// async fn extract(path: String) -> Result<String, ActivityError> {
///     Ok(std::fs::read_to_string(path)?)
/// }
/// ```
///
/// ## `schedule_to_close = "duration"`
///
/// Longest time the whole call may take, retries and backoff included; past
/// it the call fails with kind `ScheduleToCloseTimeout`. Default: no limit.
///
/// ```ignore
/// #[activity(schedule_to_close = "1h")]
/// async fn extract(path: String) -> Result<String, ActivityError> {
///     Ok(std::fs::read_to_string(path)?)
/// }
/// ```
///
/// ## `heartbeat_timeout = "duration"`
///
/// Longest time between two `ctx.heartbeat(..)` of an attempt; past it the
/// attempt fails with kind `HeartbeatTimeout` and is retried. Default: no
/// limit.
///
/// ```ignore
/// #[activity(heartbeat_timeout = "30s")]
/// async fn import(ctx: ActivityContext, file: String) -> Result<u64, ActivityError> {
///     let mut lines = 0;
///     for _line in std::fs::read_to_string(file)?.lines() {
///         lines += 1;
///         ctx.heartbeat(&lines);
///     }
///     Ok(lines)
/// }
/// ```
///
/// ## `max_concurrent = N`
///
/// At most `N` attempts of the activity run at once (at least 1), across
/// every workflow and every worker sharing the store; the others wait for a
/// slot. Default: no limit but the runtime's. A call may set a limit key
/// (`.limit_key("tenant-42")`) to apply the limit per key.
///
/// ```ignore
/// #[activity(max_concurrent = 4)]
/// async fn call_api(req: Request) -> Result<Response, ActivityError> { /* ... */ }
/// ```
///
/// ## `rate = "N/s"`
///
/// At most `N` attempts start per second (`"N/s"`), minute (`"N/m"`) or
/// hour (`"N/h"`), N at least 1, across every workflow and worker. Checked
/// at compile time, like durations. Default: no limit.
///
/// ```ignore
/// #[activity(rate = "20/s", max_concurrent = 4)]
/// async fn call_api(req: Request) -> Result<Response, ActivityError> { /* ... */ }
/// ```
///
/// ## `retry(...)`
///
/// The retry policy (`reprise::RetryPolicy`), each field optional:
///
/// - `max_attempts = 5`: attempts in all, the first included, at least 1.
///   Default: unlimited;
/// - `initial_interval = "2s"`: delay before the first retry. Default: 1s;
/// - `backoff_coefficient = 2.0`: growth of the delay at each retry, at
///   least 1.0. Default: 2.0;
/// - `max_interval = "30s"`: cap of the delay, not shorter than
///   `initial_interval`. Default: 100 × `initial_interval`;
/// - `non_retryable = ["ValidationError"]`: error kinds never retried.
///
/// ```ignore
/// #[activity(retry(
///     max_attempts = 5,
///     initial_interval = "2s",
///     max_interval = "30s",
///     backoff_coefficient = 2.0,
///     non_retryable = ["ValidationError"],
/// ))]
/// async fn transform(rows: Vec<String>) -> Result<Vec<String>, ActivityError> {
///     if rows.iter().any(|r| r.is_empty()) {
///         return Err(ActivityError::non_retryable("ValidationError", "an empty row"));
///     }
///     Ok(rows.into_iter().map(|r| r.trim().to_lowercase()).collect())
/// }
/// ```
///
/// # What it generates
///
/// ```ignore
/// #[derive(Clone, Copy, Debug, Default)]
/// struct load;
///
/// impl reprise::Activity for load {
///     const NAME: &'static str = "LoadData";
///     type Input = (Target, Vec<Row>);
///     type Output = usize;
///
///     fn options(&self) -> ActivityOptions {
///         ActivityOptions {
///             start_to_close: Some(Duration::from_millis(300_000)),
///             schedule_to_close: None,
///             heartbeat_timeout: None,
///             retry: RetryPolicy { max_attempts: Some(5), ..RetryPolicy::default() },
///             max_concurrent: None,
///             rate: None,
///             limit_key: None,
///         }
///     }
///
///     fn run(self, ctx: ActivityContext, input: (Target, Vec<Row>))
///         -> BoxFuture<'static, Result<usize, ActivityError>>
///     {
///         async fn body(ctx: ActivityContext, target: Target, rows: Vec<Row>)
///             -> Result<usize, ActivityError>
///         {
///             /* the function's body */
///         }
///         let (target, rows) = input;
///         Box::pin(body(ctx, target, rows))
///     }
/// }
/// ```
///
/// An activity with resources also gets
/// `fn resources(&self) -> Vec<ResourceNeed>`, listing their types for
/// `build()`, and `run` gets each resource from the context before calling
/// the body, failing the attempt when one is missing. A synchronous
/// activity's `run` calls its (plain `fn`) body inside
/// `reprise::__private::blocking(move || body(..))`.
///
/// # Testing an activity's body
///
/// The function cannot be called directly (its name is the unit value).
/// Run one attempt of it with `reprise::testing::run_activity(load, input)`,
/// or with `reprise::testing::ActivityTest::new().resource(pool).run(load,
/// input)` to hand it resources; a synchronous activity needs a tokio
/// runtime there too.
///
/// [humantime]: https://docs.rs/humantime
#[proc_macro_attribute]
pub fn activity(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::activity(args.into(), item.into()).into()
}

/// Names a type as a signal: a message sent to a running workflow with
/// `rt.signal(id, value)` and received with `ctx.signal::<T>().recv()`.
///
/// ```ignore
/// use reprise::prelude::*;
///
/// #[derive(Serialize, Deserialize, Signal)]
/// struct StopStreaming;
///
/// // In a workflow:
/// if ctx.signal::<StopStreaming>().try_recv().is_some() { /* ... */ }
/// ```
///
/// The type must also implement `Serialize` and `Deserialize` (signals are
/// stored as JSON) and cannot be generic: its name identifies it in the
/// history.
///
/// # Options
///
/// ## `#[signal(name = "...")]`
///
/// The name signals of this type are sent and stored under. Default: the
/// type's name in snake_case (`StopStreaming` → `stop_streaming`, `HTTPDone`
/// → `http_done`).
///
/// ```ignore
/// #[derive(Serialize, Deserialize, Signal)]
/// #[signal(name = "stop")]
/// struct StopStreaming;
/// ```
///
/// ## `#[signal(crate = "path")]`
///
/// The path of the `reprise` crate in generated code. Default: `::reprise`.
///
/// # What it generates
///
/// ```ignore
/// impl reprise::Signal for StopStreaming {
///     const NAME: &'static str = "stop_streaming";
/// }
/// ```
#[proc_macro_derive(Signal, attributes(signal))]
pub fn derive_signal(input: TokenStream) -> TokenStream {
    signal::derive(input.into()).into()
}
