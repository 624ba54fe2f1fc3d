//! A workflow's live progress bar, drawn from what `ctx.set_progress`
//! publishes and the heartbeats of its pending activities. `reprise watch
//! ID` draws it, and so can any program that holds a [`Runtime`]:
//!
//! ```no_run
//! # async fn f(rt: reprise::Runtime) -> Result<(), reprise::Error> {
//! use reprise_cli::watch::{follow, FollowOptions};
//! let info = follow(&rt, "etl-customers", FollowOptions::new()).await?;
//! println!("ended: {}", info.status);
//! # Ok(()) }
//! ```
//!
//! # The progress convention
//!
//! A workflow publishes any JSON with `ctx.set_progress(&json!({..}))`;
//! [`follow`] (and `reprise list`, `describe`, the web UI) read an object
//! this way:
//!
//! | field | shown as |
//! | --- | --- |
//! | `done`, `total` (numbers, both) | a bar at `done` of `total`, and `done/total (pct%)` |
//! | `phase` (string) | the bar's message: what the workflow is doing |
//! | `message` (string) | the bar's message, after the phase: `phase: message` |
//! | anything else | compactly after it, `key=value` |
//!
//! ```ignore
//! ctx.set_progress(&json!({ "phase": "load", "done": 8, "total": 23, "rows": 3800 }));
//! // ⠙ [00:00:04] [=========>----------------] 8/23 (34%) load  rows=3800
//! //   activity `load_batch` seq 19: attempt 2 of 10, next attempt in 1.2s (at …), last error: …
//! ```
//!
//! Without `done` and `total` the bar is a spinner with the rest as its
//! message; a progress that is not an object is shown as compact JSON.
//! Under the bar a second line shows the most telling pending step (the
//! most retried activity, else the one that heartbeat last, else one
//! waiting for a slot of its limits): its attempt, next retry, last error
//! and last heartbeat. Each new retry is also printed above the bar.
//!
//! The bar is drawn on standard error, and only when it is a terminal.
//! When it is not (a pipe, a file, a test), [`follow`] prints a line on
//! standard output each time the progress changes, `[   1.2s] load
//! [######..................] 8/23 (34%)  rows=3800`, and one per retry,
//! unless [`FollowOptions::lines`] turns that off.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use reprise::{Runtime, WorkflowInfo, WorkflowStatus};

use crate::format::{clip, one_line};
use crate::pending;
use crate::progress::Progress;

/// How [`follow`] polls and draws.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    poll: Duration,
    lines: bool,
}

impl Default for FollowOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl FollowOptions {
    /// Poll every 200 ms; print lines when standard error is not a terminal.
    pub fn new() -> Self {
        Self {
            poll: Duration::from_millis(200),
            lines: true,
        }
    }

    /// How often `describe` is read (at least 10 ms).
    pub fn poll(mut self, every: Duration) -> Self {
        self.poll = every.max(Duration::from_millis(10));
        self
    }

    /// Whether to print a line on standard output for each change of the
    /// progress and each retry when no bar can be drawn (standard error is
    /// not a terminal). Default: true.
    pub fn lines(mut self, lines: bool) -> Self {
        self.lines = lines;
        self
    }
}

/// Store errors in a row that [`follow`] rides out once it has described
/// the workflow (a busy store, a dropped connection).
const TOLERATED_ERRORS: u32 = 10;

/// Draws workflow `id`'s progress until it is no longer running (it
/// completed, failed, was cancelled or terminated, or is blocked), then
/// returns its last description. The bar stays on screen; the line of
/// pending steps is cleared.
///
/// # Errors
///
/// The first `describe` fails (no workflow has that id, the store cannot
/// be read), or later ones fail more than ten times in a row.
pub async fn follow(
    rt: &Runtime,
    id: &str,
    options: FollowOptions,
) -> Result<WorkflowInfo, reprise::Error> {
    let clock = Instant::now();
    let mut view: Option<View> = None;
    let mut failures = 0;
    loop {
        let info = match rt.describe(id).await {
            Ok(info) => info,
            Err(e @ reprise::Error::Store(_)) if view.is_some() && failures < TOLERATED_ERRORS => {
                failures += 1;
                if let Some(view) = &view {
                    view.note(&format!(
                        "(describe failed, retrying: {})",
                        one_line(&e.to_string())
                    ));
                }
                tokio::time::sleep(options.poll).await;
                continue;
            }
            Err(e) => {
                if let Some(view) = view.take() {
                    view.finish();
                }
                return Err(e);
            }
        };
        failures = 0;
        let view = view.get_or_insert_with(|| View::new(&info, &options, clock));
        view.update(&info);
        if info.status != WorkflowStatus::Running {
            view.finish();
            return Ok(info);
        }
        tokio::time::sleep(options.poll).await;
    }
}

/// Where the progress goes.
#[derive(Debug)]
enum Output {
    /// A bar and a line of pending steps on a terminal.
    Bars {
        multi: MultiProgress,
        main: ProgressBar,
        detail: ProgressBar,
        /// Whether `main` has the bar style (else the spinner's).
        as_bar: Option<bool>,
    },
    /// A line on standard output per change.
    Lines { last: String },
    /// Nothing.
    Silent,
}

#[derive(Debug)]
struct View {
    output: Output,
    clock: Instant,
    /// The retries already reported: (run, seq, attempt).
    retries: BTreeSet<(String, u32, u32)>,
}

const BAR: &str =
    "{spinner:.green} [{elapsed_precise}] [{bar:24.cyan/blue}] {pos}/{len} ({percent}%) {wide_msg}";
const SPINNER: &str = "{spinner:.green} [{elapsed_precise}] {wide_msg}";
const DETAIL: &str = "  {wide_msg}";

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl View {
    fn new(info: &WorkflowInfo, options: &FollowOptions, clock: Instant) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let output = if !multi.is_hidden() {
            // The bar's clock counts from the workflow's start.
            let elapsed = info
                .runs
                .first()
                .and_then(|run| SystemTime::now().duration_since(run.started_at).ok())
                .unwrap_or_default();
            let main = multi.add(ProgressBar::new_spinner().with_elapsed(elapsed));
            let detail = multi.add(ProgressBar::new_spinner().with_style(style(DETAIL)));
            main.enable_steady_tick(Duration::from_millis(120));
            Output::Bars {
                multi,
                main,
                detail,
                as_bar: None,
            }
        } else if options.lines {
            Output::Lines {
                last: String::new(),
            }
        } else {
            Output::Silent
        };
        Self {
            output,
            clock,
            retries: BTreeSet::new(),
        }
    }

    fn update(&mut self, info: &WorkflowInfo) {
        let now = SystemTime::now();
        let run = info
            .runs
            .last()
            .map(|r| r.run_id.clone())
            .unwrap_or_default();
        for step in info.pending.iter().filter(|s| s.attempt > 1) {
            if self.retries.insert((run.clone(), step.seq, step.attempt)) {
                let error = step.last_error.as_deref().unwrap_or("?");
                self.note(&format!(
                    "  retry: {} (seq {}) attempt {} after `{}`",
                    one_line(&step.name),
                    step.seq,
                    step.attempt,
                    clip(&one_line(error), 300)
                ));
            }
        }
        let progress = info.progress.as_ref().map(Progress::of);
        match &mut self.output {
            Output::Bars {
                main,
                detail,
                as_bar,
                ..
            } => {
                let bar = progress.as_ref().and_then(|p| p.bar);
                if *as_bar != Some(bar.is_some()) {
                    main.set_style(style(if bar.is_some() { BAR } else { SPINNER }));
                    *as_bar = Some(bar.is_some());
                }
                if let Some((done, total)) = bar {
                    main.set_length(total);
                    main.set_position(done);
                }
                let message = match &progress {
                    Some(p) if bar.is_some() => p.message(),
                    Some(p) => p.line(),
                    None => format!("{} (no progress published)", info.status),
                };
                main.set_message(message);
                detail.set_message(pending_line(info, now));
            }
            Output::Lines { last } => {
                let Some(p) = progress else { return };
                let line = match p.ascii_bar(24) {
                    Some(bar) => {
                        let label = p.label.clone().unwrap_or_default();
                        let count = p.count().unwrap_or_default();
                        format!("{label} {bar} {count}  {}", p.rest)
                    }
                    None => p.line(),
                };
                let line = line.trim().to_owned();
                if line != *last {
                    stdout_line(&format!(
                        "[{:6.1}s] {line}",
                        self.clock.elapsed().as_secs_f64()
                    ));
                    *last = line;
                }
            }
            Output::Silent => {}
        }
    }

    /// A line above the bar, or on standard output.
    fn note(&self, text: &str) {
        match &self.output {
            Output::Bars { multi, .. } => {
                let _ = multi.println(text);
            }
            Output::Lines { .. } => {
                stdout_line(&format!(
                    "[{:6.1}s] {text}",
                    self.clock.elapsed().as_secs_f64()
                ));
            }
            Output::Silent => {}
        }
    }

    fn finish(&self) {
        if let Output::Bars { main, detail, .. } = &self.output {
            detail.finish_and_clear();
            main.abandon();
        }
    }
}

/// The line under the bar: the most telling pending step.
fn pending_line(info: &WorkflowInfo, now: SystemTime) -> String {
    match pending::most_telling(&info.pending) {
        Some(step) => {
            let more = info.pending.len() - 1;
            let more = if more > 0 {
                format!("  (+{more} more pending)")
            } else {
                String::new()
            };
            format!("{}{more}", pending::line(step, now, true))
        }
        None if info.status == WorkflowStatus::Running => {
            "no activity or timer pending (waiting for a signal, or for a worker)".to_owned()
        }
        None => String::new(),
    }
}

/// Prints a line on standard output, ignoring a closed pipe.
fn stdout_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
