//! [`TestEnv`]: a runtime in memory on a virtual clock, with mocked
//! activities, for unit tests of workflows.

use std::ops::Deref;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::clock::Clock;
use crate::definition::{Activity, Workflow};
use crate::error::{ActivityError, Error};
use crate::registry::Registry;
use crate::runtime::{Runtime, RuntimeBuilder};

/// Longer than any test: leases and polls never come due on their own.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A [`Runtime`] for tests: in memory, on a virtual clock, with activities
/// replaced by mocks where you like. It derefs to `Runtime`, so a test
/// starts, signals, cancels, describes and awaits workflows as a program
/// does.
///
/// Time is tokio's paused clock: whenever every run waits on a timer, a
/// backoff or a timeout (nothing else to do), it jumps to the next one, so
/// a workflow that sleeps for a day completes in milliseconds; `ctx.now()`,
/// activity timeouts and retry backoffs follow it, to the millisecond (a
/// timer of a day fires when `ctx.now()` has moved by exactly a day).
/// [`advance`](Self::advance) moves it explicitly, to look at a workflow in
/// between.
///
/// Build it in a current-thread runtime (`#[tokio::test]`, the default
/// flavor, without `start_paused`): the environment pauses tokio's clock
/// while it lives, and lets it run again when the last one is dropped.
/// Activities that do real I/O see time jump while they wait (a server's
/// answer comes after the attempt's `start_to_close` has passed): mock
/// them. A plain `fn` activity holds the clock while its body runs (tokio
/// does not advance a paused clock while a blocking task runs). See
/// `docs/TESTING.md`.
///
/// ```
/// use reprise::prelude::*;
/// use reprise::testing::TestEnv;
///
/// #[activity]
/// async fn charge(cents: u64) -> Result<String, ActivityError> {
///     unreachable!("the test mocks it")
/// }
///
/// #[workflow]
/// async fn renewal(ctx: WorkflowContext, cents: u64) -> Result<String, WorkflowError> {
///     ctx.sleep(Duration::from_secs(30 * 24 * 3600)).await; // a month
///     Ok(ctx.activity(charge, cents).await?)
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), reprise::Error> {
/// let env = TestEnv::builder()
///     .workflow(renewal)
///     .mock(charge, |cents| Ok(format!("charged {cents}")))
///     .build()
///     .await?;
/// let handle = env.start(renewal, 500).id("r1").await?;
/// assert_eq!(handle.result().await?, "charged 500"); // a month, at once
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TestEnv {
    rt: Runtime,
    _clock: PausedClock,
}

std::thread_local! {
    /// How many environments of this thread's runtime keep tokio's clock
    /// paused (a current-thread runtime runs on one thread).
    static PAUSES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Keeps tokio's clock paused while an environment lives: the first one
/// pauses it, the last one dropped lets it run again.
#[derive(Debug)]
struct PausedClock;

impl PausedClock {
    /// Pauses tokio's clock if no environment of this thread has, and
    /// aligns it on the timer's milliseconds (see [`align_to_ticks`]).
    async fn take() -> Self {
        let first = PAUSES.with(|pauses| {
            let first = pauses.get() == 0;
            if first {
                tokio::time::pause();
            }
            pauses.set(pauses.get() + 1);
            first
        });
        // Dropped on a panic or a cancellation below: the count stays right.
        let clock = PausedClock;
        if first {
            align_to_ticks().await;
        }
        clock
    }
}

/// Moves a freshly paused clock forward to the start of one of the timer's
/// milliseconds, so that a sleep of `n` ms lasts `n` ms, not `n + 1`.
///
/// tokio's timer counts whole milliseconds from the instant the runtime was
/// built, and rounds every deadline up to one of them; a paused clock
/// jumps to the next deadline by whole milliseconds from where it was
/// paused. Paused at some fraction `f` of a millisecond (the runtime ran on
/// the real clock until then), the clock stays at that fraction: a sleep of
/// `n` ms, rounded up to the next millisecond, lasts `n + 1` ms, and every
/// durable timer, backoff and timeout would fire 1 ms late (tokio issues
/// 4899 and 6866; `#[tokio::test(start_paused = true)]` avoids it, but a
/// `TestEnv` pauses the clock itself). Nothing public says where the
/// milliseconds start, so this finds out by bisection: a timer due at the
/// next millisecond has fired after an advance of `x` ns if and only if `x`
/// reaches it. Each probe advances the clock by exactly 1 ms in all (the
/// fraction is kept); 20 probes find it to the nanosecond, and a last
/// advance lands on it. About 21 ms of virtual time, before the
/// environment's clock starts.
async fn align_to_ticks() {
    use std::future::Future;
    use std::task::Poll;
    use tokio::time::{advance, sleep};
    const MS: u64 = 1_000_000;
    // The next millisecond is `r` ns ahead, `lo < r <= hi`.
    let (mut lo, mut hi) = (0, MS);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        // Due at the next millisecond (1 ns rounds up to it); registered
        // with the timer when first polled.
        let mut probe = std::pin::pin!(sleep(Duration::from_nanos(1)));
        let polled = std::future::poll_fn(|cx| Poll::Ready(probe.as_mut().poll(cx))).await;
        if polled.is_ready() {
            // Never seen: a paused clock does not move while it is polled.
            return;
        }
        // Yields to the runtime, which fires the timers due by then.
        advance(Duration::from_nanos(mid)).await;
        if probe.is_elapsed() {
            hi = mid;
        } else {
            lo = mid;
        }
        // Back to the same fraction of a millisecond, one later.
        advance(Duration::from_nanos(MS - mid)).await;
    }
    advance(Duration::from_nanos(hi % MS)).await;
}

impl Drop for PausedClock {
    fn drop(&mut self) {
        PAUSES.with(|pauses| {
            pauses.set(pauses.get().saturating_sub(1));
            if pauses.get() == 0 {
                tokio::time::resume();
            }
        });
    }
}

/// Builds a [`TestEnv`]; see [`TestEnv::builder`].
#[must_use = "a builder does nothing until `build` is awaited"]
pub struct TestEnvBuilder {
    builder: RuntimeBuilder,
    /// Applied at `build`, after every activity: a mock replaces an
    /// activity registered before or after it.
    mocks: Vec<Mock>,
}

/// Puts a mock in a registry.
type Mock = Box<dyn FnOnce(&mut Registry) + Send>;

impl std::fmt::Debug for TestEnvBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEnvBuilder")
            .field("mocks", &self.mocks.len())
            .finish_non_exhaustive()
    }
}

impl TestEnv {
    /// A builder: register workflows, activities, resources and mocks.
    pub fn builder() -> TestEnvBuilder {
        TestEnvBuilder {
            builder: Runtime::builder().in_memory(),
            mocks: Vec::new(),
        }
    }

    /// Moves the virtual clock `by` forward: timers, backoffs and timeouts
    /// due by then fire, in order, and the runs they wake take their steps
    /// before this returns.
    pub async fn advance(&self, by: Duration) {
        tokio::time::sleep(by).await;
        self.settle().await;
    }

    /// The virtual clock's time.
    pub fn now(&self) -> SystemTime {
        crate::clock::system_time(self.rt.engine().now_ms())
    }

    /// The history of workflow `id`'s latest run, as the JSON that
    /// `reprise history --json` prints and [`replay`](crate::testing) checks
    /// read.
    ///
    /// # Errors
    ///
    /// As [`Runtime::history`].
    pub async fn history(&self, id: &str) -> Result<Value, Error> {
        let history = self.rt.history(id).await?;
        Ok(serde_json::to_value(history).expect("a history encodes to JSON"))
    }

    /// Stops the environment's worker.
    ///
    /// # Errors
    ///
    /// As [`Runtime::shutdown`].
    pub async fn shutdown(self) -> Result<(), Error> {
        let TestEnv { rt, _clock } = self;
        rt.shutdown().await
    }

    /// Lets every task woken so far run, then waits until the executor has
    /// handled what they sent it.
    async fn settle(&self) {
        for _ in 0..16 {
            tokio::task::yield_now().await;
        }
        self.rt.engine().barrier().await;
    }
}

impl Deref for TestEnv {
    type Target = Runtime;

    fn deref(&self) -> &Runtime {
        &self.rt
    }
}

impl TestEnvBuilder {
    /// Registers a workflow type.
    pub fn workflow<W: Workflow>(mut self, workflow: W) -> Self {
        self.builder = self.builder.workflow(workflow);
        self
    }

    /// Registers an activity type, run for real.
    pub fn activity<A: Activity>(mut self, activity: A) -> Self {
        self.builder = self.builder.activity(activity);
        self
    }

    /// Hands a resource to the real activities that take a `Resource<T>`.
    pub fn resource<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.builder = self.builder.resource(value);
        self
    }

    /// How many activity attempts run at once, at most, as
    /// [`RuntimeBuilder::max_concurrent_activities`]. Default: 100.
    pub fn max_concurrent_activities(mut self, n: usize) -> Self {
        self.builder = self.builder.max_concurrent_activities(n);
        self
    }

    /// Replaces activity `A` by `mock`: each attempt calls it with the
    /// call's input. It returns the output, or an error: a retryable one
    /// drives the call's retry policy (with its backoffs, in virtual time),
    /// [`ActivityError::non_retryable`] fails the call at once. Count the
    /// attempts with an atomic to fail only the first ones.
    ///
    /// ```
    /// # use reprise::prelude::*;
    /// # use reprise::testing::TestEnv;
    /// # use std::sync::atomic::{AtomicU32, Ordering};
    /// # #[activity] async fn load(rows: Vec<u32>) -> Result<usize, ActivityError> { Ok(0) }
    /// let attempts = AtomicU32::new(0);
    /// let builder = TestEnv::builder().mock(load, move |rows: Vec<u32>| {
    ///     if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
    ///         return Err(ActivityError::new("Timeout", "the warehouse is slow"));
    ///     }
    ///     Ok(rows.len())
    /// });
    /// ```
    pub fn mock<A, F>(mut self, activity: A, mock: F) -> Self
    where
        A: Activity,
        F: Fn(A::Input) -> Result<A::Output, ActivityError> + Send + Sync + 'static,
    {
        let _ = activity;
        self.mocks.push(Box::new(move |registry: &mut Registry| {
            registry.add_mock::<A, F>(mock)
        }));
        self
    }

    /// Pauses tokio's clock and starts the environment.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] outside a current-thread tokio runtime, or for
    /// what [`RuntimeBuilder::build`] refuses.
    pub async fn build(self) -> Result<TestEnv, Error> {
        use tokio::runtime::{Handle, RuntimeFlavor};
        let flavor = Handle::try_current().map(|h| h.runtime_flavor());
        if !matches!(flavor, Ok(RuntimeFlavor::CurrentThread)) {
            return Err(Error::Config(
                "a TestEnv runs in a current-thread tokio runtime (`#[tokio::test]`, the default \
                 flavor): its virtual clock is tokio's paused clock"
                    .into(),
            ));
        }
        let mut builder = self.builder;
        for mock in self.mocks {
            mock(builder.registry_mut());
        }
        let clock = PausedClock::take().await;
        let rt = builder
            .clock(Clock::virtual_from_now())
            .lease(FOREVER)
            .poll_interval(FOREVER)
            .build()
            .await?;
        Ok(TestEnv { rt, _clock: clock })
    }
}
