//! The examples of `docs/TESTING.md`, run: the guide quotes the regions
//! between `// guide: NAME` and `// guide: end` verbatim, and
//! `the_guide_quotes_this_file` fails when a quote no longer matches.

// guide: imports
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reprise::prelude::*;
use reprise::testing::{run_activity, ActivityTest, ReplayErrorKind, TestEnv};
use reprise::WorkflowStatus;
// guide: end

// guide: activities
/// Trims and lowercases an e-mail address; refuses one without an `@`.
#[activity]
async fn normalize_email(address: String) -> Result<String, ActivityError> {
    let address = address.trim().to_lowercase();
    if !address.contains('@') {
        return Err(ActivityError::non_retryable(
            "InvalidEmail",
            format!("`{address}` is not an e-mail address"),
        ));
    }
    Ok(address)
}

/// The directory of the exported files (a temporary one in tests).
struct Archive(PathBuf);

/// How far an attempt of `count_lines` got: files done, lines counted.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Progress {
    files: usize,
    lines: u64,
}

/// Counts the lines of the archive's files, one file at a time, with its
/// progress in a heartbeat: a retry resumes after the last file counted.
#[activity(heartbeat_timeout = "1m", retry(initial_interval = "1s"))]
fn count_lines(
    ctx: ActivityContext,
    archive: Resource<Archive>,
    files: Vec<String>,
) -> Result<u64, ActivityError> {
    let mut progress: Progress = ctx.heartbeat_details().unwrap_or_default();
    for name in &files[progress.files..] {
        let text = std::fs::read_to_string(archive.0.join(name))?;
        progress.lines += text.lines().count() as u64;
        progress.files += 1;
        ctx.heartbeat(&progress);
    }
    Ok(progress.lines)
}
// guide: end

/// A fresh directory with two files, `a.txt` (3 lines) and `b.txt` (2
/// lines), removed on drop.
fn archive_dir() -> TempDir {
    let dir = std::env::temp_dir().join(format!("reprise-guide-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.txt"), "one\ntwo\nthree\n").unwrap();
    std::fs::write(dir.join("b.txt"), "four\nfive\n").unwrap();
    TempDir(dir)
}

struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;

    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// guide: activity_tests
#[tokio::test]
async fn an_activity_is_a_function_to_test() {
    let out = run_activity(normalize_email, " Ada@Example.COM ".to_owned()).await;
    assert_eq!(out.unwrap(), "ada@example.com");

    let err = run_activity(normalize_email, "ada".to_owned())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "InvalidEmail");
    assert!(err.is_non_retryable());
}

#[tokio::test]
async fn an_activity_with_a_resource_resumes_from_its_heartbeat() {
    let dir = archive_dir(); // a.txt: 3 lines, b.txt: 2 lines
    let archive = || Archive(dir.to_path_buf());
    let files = vec!["a.txt".to_owned(), "b.txt".to_owned()];

    // The first attempt, with the resource the runtime would hand it.
    let first = ActivityTest::new().resource(archive());
    assert_eq!(first.run(count_lines, files.clone()).await.unwrap(), 5);

    // A retry after an attempt that counted a.txt and heartbeat about it:
    // it starts at b.txt (the 100 proves it took the details).
    let retry = ActivityTest::new()
        .resource(archive())
        .attempt(2)
        .heartbeat_details(&Progress {
            files: 1,
            lines: 100,
        });
    assert_eq!(retry.run(count_lines, files.clone()).await.unwrap(), 102);

    // Without its resource: a clear error, not a panic.
    let err = ActivityTest::new()
        .run(count_lines, files)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "MissingResource");
}
// guide: end

// guide: workflow
const DAY: Duration = Duration::from_secs(24 * 3600);

/// The mail service's client, handed to activities by the runtime.
struct Mailer {
    http: reqwest::Client,
    url: String,
}

#[activity(retry(max_attempts = 5))]
async fn send_email(
    mailer: Resource<Mailer>,
    to: String,
    template: String,
) -> Result<(), ActivityError> {
    let body = json!({ "to": to, "template": template });
    let response = mailer.http.post(&mailer.url).json(&body).send().await?;
    response.error_for_status()?;
    Ok(())
}

/// The payment provider's client.
struct Payments {
    http: reqwest::Client,
    url: String,
}

/// Charges a card; returns the provider's receipt.
#[activity(
    start_to_close = "30s",
    retry(initial_interval = "1s", max_attempts = 5)
)]
async fn charge(
    payments: Resource<Payments>,
    customer: String,
    cents: u64,
) -> Result<String, ActivityError> {
    let body = json!({ "customer": customer, "amount": cents });
    let url = format!("{}/charges", payments.url);
    let response = payments.http.post(url).json(&body).send().await?;
    if response.status() == reqwest::StatusCode::PAYMENT_REQUIRED {
        let message = format!("{customer}'s card was declined");
        return Err(ActivityError::non_retryable("CardDeclined", message));
    }
    Ok(response.error_for_status()?.text().await?)
}

/// The customer gave up: `reprise signal ID cancel_trial null`.
#[derive(Debug, Serialize, Deserialize, Signal)]
#[signal(name = "cancel_trial")]
struct CancelTrial;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum TrialEnd {
    Charged { receipt: String },
    Cancelled,
}

/// A free trial: a welcome e-mail, a day to try the product, then the card
/// is charged — unless the customer cancels first.
#[workflow]
async fn trial(ctx: WorkflowContext, customer: String) -> Result<TrialEnd, WorkflowError> {
    let welcome = (customer.clone(), "welcome".to_owned());
    ctx.activity(send_email, welcome).await?;
    tokio::select! {
        biased;
        _ = ctx.signal::<CancelTrial>().recv() => {
            let goodbye = (customer, "goodbye".to_owned());
            ctx.activity(send_email, goodbye).await?;
            return Ok(TrialEnd::Cancelled);
        }
        () = ctx.sleep(DAY) => {}
    }
    let receipt = ctx.activity(charge, (customer, 4_900)).await?;
    Ok(TrialEnd::Charged { receipt })
}
// guide: end

// guide: env
/// The e-mails the mock sent, as "template to customer".
type Outbox = Arc<Mutex<Vec<String>>>;

/// A TestEnv running `trial`, its e-mails and charges mocked.
async fn trial_env(outbox: &Outbox) -> TestEnv {
    let outbox = outbox.clone();
    TestEnv::builder()
        .workflow(trial)
        // The mocks take the activity's input (its parameters but the
        // context and resources), and return its output or an error.
        .mock(send_email, move |(to, template): (String, String)| {
            outbox.lock().unwrap().push(format!("{template} to {to}"));
            Ok(())
        })
        .mock(charge, |(customer, cents): (String, u64)| {
            Ok(format!("receipt-{customer}-{cents}"))
        })
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_day_of_trial_passes_in_milliseconds() {
    let outbox = Outbox::default();
    let env = trial_env(&outbox).await;
    let wall = std::time::Instant::now();
    let start = env.now();

    let handle = env
        .start(trial, "ada".to_owned())
        .id("trial-ada")
        .await
        .unwrap();
    let receipt = "receipt-ada-4900".to_owned();
    assert_eq!(
        handle.result().await.unwrap(),
        TrialEnd::Charged { receipt }
    );

    // A day passed on the virtual clock, exactly; milliseconds on the wall.
    assert_eq!(env.now().duration_since(start).unwrap(), DAY);
    assert!(
        wall.elapsed() < Duration::from_secs(5),
        "{:?}",
        wall.elapsed()
    );
    assert_eq!(*outbox.lock().unwrap(), ["welcome to ada"]);
    env.shutdown().await.unwrap();
}

#[tokio::test]
async fn advance_stops_the_clock_half_way() {
    let outbox = Outbox::default();
    let env = trial_env(&outbox).await;
    let start = env.now();
    env.start(trial, "grace".to_owned())
        .id("trial-grace")
        .await
        .unwrap();

    // Twelve hours in: welcomed, not charged, a timer pending.
    env.advance(Duration::from_secs(12 * 3600)).await;
    let info = env.describe("trial-grace").await.unwrap();
    assert_eq!(info.status, WorkflowStatus::Running);
    let timer = &info.pending[0];
    assert_eq!(timer.kind, "timer");
    assert_eq!(timer.due_at.duration_since(start).unwrap(), DAY);
    assert_eq!(*outbox.lock().unwrap(), ["welcome to grace"]);

    // Twelve more: the timer fires, the card is charged.
    env.advance(Duration::from_secs(12 * 3600)).await;
    let info = env.describe("trial-grace").await.unwrap();
    assert_eq!(info.status, WorkflowStatus::Completed);
    assert_eq!(
        info.result,
        Some(json!({ "Charged": { "receipt": "receipt-grace-4900" } }))
    );
    env.shutdown().await.unwrap();
}
// guide: end

// guide: mocks
#[tokio::test]
async fn a_flaky_provider_is_retried_with_backoff() {
    let attempts = Arc::new(AtomicU32::new(0));
    let counted = attempts.clone();
    let env = TestEnv::builder()
        .workflow(trial)
        .mock(send_email, |_: (String, String)| Ok(()))
        .mock(charge, move |(customer, cents): (String, u64)| {
            // The first two attempts fail with a retryable error.
            if counted.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err(ActivityError::new("Unavailable", "the provider is down"));
            }
            Ok(format!("receipt-{customer}-{cents}"))
        })
        .build()
        .await
        .unwrap();
    let start = env.now();
    let handle = env
        .start(trial, "ada".to_owned())
        .id("trial-ada")
        .await
        .unwrap();

    // At the end of the day the first attempt fails; the second is due 1 s
    // later (`initial_interval = "1s"`), and says why it runs.
    env.advance(DAY).await;
    let info = env.describe("trial-ada").await.unwrap();
    let call = &info.pending[0];
    assert_eq!(
        (call.kind, call.name.as_str(), call.attempt),
        ("activity", "charge", 2)
    );
    assert_eq!(
        call.last_error.as_deref(),
        Some("Unavailable: the provider is down")
    );
    assert_eq!(
        call.due_at.duration_since(start).unwrap(),
        DAY + Duration::from_secs(1)
    );

    // The third attempt succeeds, after backoffs of 1 s and 2 s.
    let receipt = "receipt-ada-4900".to_owned();
    assert_eq!(
        handle.result().await.unwrap(),
        TrialEnd::Charged { receipt }
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    assert_eq!(
        env.now().duration_since(start).unwrap(),
        DAY + Duration::from_secs(3)
    );
    env.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_declined_card_fails_the_trial_at_once() {
    let env = TestEnv::builder()
        .workflow(trial)
        .mock(send_email, |_: (String, String)| Ok(()))
        .mock(charge, |(customer, _): (String, u64)| {
            let message = format!("{customer}'s card was declined");
            Err(ActivityError::non_retryable("CardDeclined", message))
        })
        .build()
        .await
        .unwrap();
    let handle = env
        .start(trial, "bob".to_owned())
        .id("trial-bob")
        .await
        .unwrap();

    let err = handle.result().await.unwrap_err();
    assert_eq!(err.error_kind(), WorkflowErrorKind::Activity);
    assert_eq!(err.kind(), Some("CardDeclined"));
    assert_eq!(err.message(), "bob's card was declined");
    assert_eq!(err.attempts(), 1, "not retried");
    let info = env.describe("trial-bob").await.unwrap();
    assert_eq!(info.status, WorkflowStatus::Failed);
    env.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_cancelled_trial_is_not_charged() {
    let outbox = Outbox::default();
    let env = trial_env(&outbox).await;
    let start = env.now();
    let handle = env
        .start(trial, "linus".to_owned())
        .id("trial-linus")
        .await
        .unwrap();

    // An hour in, the customer cancels: the signal, sent from the test.
    env.advance(Duration::from_secs(3600)).await;
    env.signal("trial-linus", CancelTrial).await.unwrap();

    assert_eq!(handle.result().await.unwrap(), TrialEnd::Cancelled);
    assert_eq!(
        env.now().duration_since(start).unwrap(),
        Duration::from_secs(3600)
    );
    assert_eq!(
        *outbox.lock().unwrap(),
        ["welcome to linus", "goodbye to linus"]
    );
    env.shutdown().await.unwrap();
}
// guide: end

/// The next version of `trial`: a tips e-mail before the day of trial.
mod v2 {
    use super::*;

    // guide: v2
    #[workflow(name = "trial")]
    pub(crate) async fn trial(
        ctx: WorkflowContext,
        customer: String,
    ) -> Result<TrialEnd, WorkflowError> {
        let welcome = (customer.clone(), "welcome".to_owned());
        ctx.activity(send_email, welcome).await?;
        let tips = (customer.clone(), "tips".to_owned()); // new in version 2
        ctx.activity(send_email, tips).await?;
        tokio::select! {
            biased;
            _ = ctx.signal::<CancelTrial>().recv() => {
                let goodbye = (customer, "goodbye".to_owned());
                ctx.activity(send_email, goodbye).await?;
                return Ok(TrialEnd::Cancelled);
            }
            () = ctx.sleep(DAY) => {}
        }
        let receipt = ctx.activity(charge, (customer, 4_900)).await?;
        Ok(TrialEnd::Charged { receipt })
    }
    // guide: end
}

// guide: replay
#[tokio::test]
async fn a_recorded_history_replays_against_the_code() {
    let env = trial_env(&Outbox::default()).await;
    env.start(trial, "ada".to_owned())
        .id("trial-ada")
        .await
        .unwrap();
    // An hour in, it waits for its day; its history so far, the same JSON
    // as `reprise history trial-ada --json`:
    env.advance(Duration::from_secs(3600)).await;
    let history = env.history("trial-ada").await.unwrap();

    // Today's code replays it: what a worker does after a restart.
    reprise::testing::replay(trial, &history).unwrap();

    // Version 2 asks for an e-mail where the history has the timer: a run
    // waiting for its day would be blocked by a worker with that code.
    let err = reprise::testing::replay(v2::trial, &history).unwrap_err();
    assert_eq!(err.kind, ReplayErrorKind::Nondeterminism);
    assert_eq!(err.seq, Some(1));
    assert_eq!(err.recorded, "timer (`ctx.sleep(..)`)");
    assert_eq!(err.asked, "activity `send_email`");
    assert_eq!(
        err.to_string(),
        "non-determinism at sequence number 1: the history recorded timer \
         (`ctx.sleep(..)`), but the code asked for activity `send_email`"
    );
    env.shutdown().await.unwrap();
}

/// Histories kept as test data: the output of `reprise history ID --json`
/// for runs in flight, one file each (`trial-ada.json` was written from a
/// TestEnv, by `write_the_kept_history`). Tests run in the package's
/// directory.
#[test]
fn kept_histories_replay_against_todays_code() {
    for file in std::fs::read_dir("tests/histories").unwrap() {
        let path = file.unwrap().path();
        let history: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let replayed = match history["workflow_type"].as_str() {
            Some("trial") => reprise::testing::replay(trial, &history),
            other => panic!("{}: no code for workflow type {other:?}", path.display()),
        };
        if let Err(e) = replayed {
            panic!("{}: {e}", path.display());
        }
    }
}
// guide: end

/// Writes `tests/histories/trial-ada.json` again, from a TestEnv:
/// `cargo test --test testing_guide -- --ignored`.
#[tokio::test]
#[ignore = "writes a file of the repository"]
async fn write_the_kept_history() {
    let env = trial_env(&Outbox::default()).await;
    env.start(trial, "ada".to_owned())
        .id("trial-ada")
        .await
        .unwrap();
    env.advance(Duration::from_secs(3600)).await;
    let history = env.history("trial-ada").await.unwrap();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/histories/trial-ada.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let json = serde_json::to_string_pretty(&history).unwrap();
    std::fs::write(path, json + "\n").unwrap();
    env.shutdown().await.unwrap();
}

/// Every region of this file marked for the guide is in `docs/TESTING.md`,
/// verbatim.
#[test]
fn the_guide_quotes_this_file() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("docs/TESTING.md")).unwrap();
    let this = std::fs::read_to_string(root.join("tests/testing_guide.rs")).unwrap();
    let mut regions = 0;
    let mut lines = this.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.trim().strip_prefix("// guide: ") else {
            continue;
        };
        if name == "end" {
            continue;
        }
        let region: Vec<&str> = lines
            .by_ref()
            .take_while(|l| l.trim() != "// guide: end")
            .collect();
        // As quoted: without the indentation the region has here.
        let indent = region
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.len() - l.trim_start().len())
            .min()
            .unwrap_or(0);
        let quoted: Vec<&str> = region
            .iter()
            .map(|l| l.get(indent..).unwrap_or(""))
            .collect();
        let quoted = quoted.join("\n") + "\n";
        assert!(
            guide.contains(&format!("```rust\n{quoted}")),
            "docs/TESTING.md does not quote region `{name}` of tests/testing_guide.rs as it is:\n{quoted}"
        );
        regions += 1;
    }
    assert_eq!(regions, 8);
}
