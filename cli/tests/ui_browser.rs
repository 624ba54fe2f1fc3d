//! The web UI in a real headless Chromium, driven through chromedriver
//! (WebDriver): the list, its status filter, a workflow's page with its
//! timeline and pending steps, and the Cancel button taking effect (a
//! worker runs in this test process on the same SQLite file as `reprise
//! ui`). Values that look like HTML are shown as text.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's
//! `chromium` and `chromium-driver`; `.ci/run` installs them). Without
//! them the test fails, unless `REPRISE_SKIP_BROWSER=1`.
//!
//! `screenshot_for_the_docs` (ignored) draws `docs/ui.png` from a store
//! like a real one: `cargo test -p reprise-cli --test ui_browser --
//! --ignored screenshot`.

mod common;
mod ui;

use std::future::Future;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use reprise::prelude::*;
use reprise::WorkflowStatus;

use ui::{failing, greet, wait_for_status, waiter, Fixture, TempDb, UiProcess};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether the browser test can run: `false` only when the browser is
/// missing and `REPRISE_SKIP_BROWSER=1` says to skip; a missing browser
/// otherwise fails the test.
fn browser_available() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("REPRISE_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!(
            "skipped: {} missing and REPRISE_SKIP_BROWSER=1",
            missing.join(", ")
        );
        return false;
    }
    panic!(
        "{} missing: the web UI's browser test needs Debian's `chromium` and `chromium-driver` \
         (`.ci/run` installs them: apt-get install -y chromium chromium-driver); \
         set REPRISE_SKIP_BROWSER=1 to skip it",
        missing.join(" and ")
    );
}

/// chromedriver on a free port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // A process group of its own: dropping the driver kills it and the
        // browsers it started, even when the test fails half-way.
        let child = Command::new(CHROMEDRIVER)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = http.get(format!("{}/status", driver.url)).send().await;
            if status.is_ok_and(|s| s.status().is_success()) {
                return driver;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer in 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A headless Chromium session (`--no-sandbox`: CI runs as root).
    async fn browser(&self, width: u32, height: u32) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                ],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("chromedriver opens a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Retries `check` (10 s at most) until it gives a value.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "after 10 s, still not: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The texts of the elements `css` selects.
async fn texts(browser: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for element in browser
        .find_all(Locator::Css(css))
        .await
        .unwrap_or_default()
    {
        out.push(element.text().await.unwrap_or_default());
    }
    out
}

/// An attribute of the first element `css` selects.
async fn attribute(browser: &Client, css: &str, name: &str) -> Option<String> {
    let element = browser.find(Locator::Css(css)).await.ok()?;
    element.attr(name).await.ok().flatten()
}

#[tokio::test]
async fn list_filter_workflow_page_and_cancel_in_chromium() {
    if !browser_available() {
        return;
    }
    let f = Fixture::new("browser").await;
    for i in 0..3 {
        f.rt.start(greet, format!("guest {i}"))
            .id(format!("greet-{i}"))
            .await
            .unwrap();
    }
    f.rt.start(failing, "x".to_owned())
        .id("fail-0")
        .await
        .unwrap();
    // An id that looks like HTML must be shown as text.
    let html_id = "<img src=x onerror=alert(1)>";
    f.rt.start(greet, "<b>you</b>".to_owned())
        .id(html_id)
        .await
        .unwrap();
    for i in 0..2 {
        f.rt.start(waiter, format!("w{i}"))
            .id(format!("wait-{i}"))
            .await
            .unwrap();
    }
    wait_for_status(&f.rt, html_id, WorkflowStatus::Completed).await;
    wait_for_status(&f.rt, "fail-0", WorkflowStatus::Failed).await;

    let driver = Driver::start().await;
    let browser = driver.browser(1280, 1000).await;

    // The list: every workflow, each row a link.
    browser.goto(&f.ui.at("/")).await.unwrap();
    let ids = eventually("the list shows 7 workflows", || async {
        let ids = texts(&browser, "#workflows a.wf-link").await;
        (ids.len() == 7).then_some(ids)
    })
    .await;
    assert!(ids.contains(&html_id.to_owned()), "{ids:?}");
    assert!(
        browser
            .find_all(Locator::Css("#workflows img"))
            .await
            .unwrap()
            .is_empty(),
        "an id was drawn as HTML"
    );

    // Pages of 3: Next, Next, Previous.
    browser.goto(&f.ui.at("/?limit=3")).await.unwrap();
    let page = |want: &'static [&'static str]| {
        let browser = &browser;
        async move {
            eventually(&format!("the list shows {want:?}"), || async {
                let ids = texts(browser, "#workflows a.wf-link").await;
                (ids == want).then_some(())
            })
            .await
        }
    };
    page(&["wait-1", "wait-0", "<img src=x onerror=alert(1)>"]).await;
    let click = |css: &'static str| {
        let browser = &browser;
        async move {
            browser
                .find(Locator::Css(css))
                .await
                .unwrap()
                .click()
                .await
                .unwrap()
        }
    };
    click("#next-page").await;
    page(&["fail-0", "greet-2", "greet-1"]).await;
    click("#next-page").await;
    page(&["greet-0"]).await;
    eventually("Next is disabled on the last page", || async {
        attribute(&browser, "#next-page", "disabled").await
    })
    .await;
    click("#prev-page").await;
    page(&["fail-0", "greet-2", "greet-1"]).await;
    browser.goto(&f.ui.at("/")).await.unwrap();

    // Open by id: the form goes to the workflow's page.
    let id_box = browser.find(Locator::Css("#goto-id")).await.unwrap();
    id_box.send_keys("greet-1").await.unwrap();
    click("#goto button").await;
    eventually("the page of greet-1 shows it completed", || async {
        let status = attribute(&browser, "#wf-status .badge", "data-status").await;
        (status.as_deref() == Some("completed")).then_some(())
    })
    .await;
    assert_eq!(texts(&browser, "#wf-id").await, ["greet-1"]);
    browser.goto(&f.ui.at("/")).await.unwrap();

    // Filtered by status: the two waiters.
    let status = browser.find(Locator::Css("#status-filter")).await.unwrap();
    status.select_by_value("running").await.unwrap();
    let running = eventually("the list shows the 2 running workflows", || async {
        let ids = texts(&browser, "#workflows a.wf-link").await;
        (ids.len() == 2).then_some(ids)
    })
    .await;
    assert_eq!(running, ["wait-1", "wait-0"]);
    let url = browser.current_url().await.unwrap();
    assert_eq!(url.query(), Some("status=running"));
    let badges = texts(&browser, "#workflows .badge").await;
    assert_eq!(badges, ["running", "running"]);

    // A workflow's page: status, input, pending timer, timeline.
    browser
        .find(Locator::LinkText("wait-0"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("the page of wait-0 shows it running", || async {
        let status = attribute(&browser, "#wf-status .badge", "data-status").await;
        (status.as_deref() == Some("running")).then_some(())
    })
    .await;
    assert_eq!(texts(&browser, "#wf-id").await, ["wait-0"]);
    assert_eq!(texts(&browser, "#wf-type").await, ["waiter"]);
    let kinds = eventually("the timeline shows the timer", || async {
        let rows = browser
            .find_all(Locator::Css("#timeline tbody tr[data-kind]"))
            .await
            .ok()?;
        let mut kinds = Vec::new();
        for row in rows {
            kinds.push(row.attr("data-kind").await.ok()??);
        }
        (!kinds.is_empty()).then_some(kinds)
    })
    .await;
    assert_eq!(kinds, ["timer"]);
    let input = texts(&browser, "#wf-input pre").await;
    assert_eq!(input, ["\"w0\""]);
    eventually("the pending timer is listed", || async {
        let rows = texts(&browser, "#pending-table tbody tr").await;
        (rows.len() == 1 && rows[0].contains("fires in")).then_some(())
    })
    .await;

    // Cancel, confirmed: the status turns cancelled, the timeline ends.
    browser
        .find(Locator::Css("#cancel-btn"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.accept_alert().await.unwrap();
    eventually("the page shows wait-0 cancelled", || async {
        let status = attribute(&browser, "#wf-status .badge", "data-status").await;
        (status.as_deref() == Some("cancelled")).then_some(())
    })
    .await;
    let message = texts(&browser, "#message").await;
    assert_eq!(message, ["cancellation of `wait-0` requested"]);
    eventually("the timeline ends cancelled", || async {
        let end = attribute(&browser, "#timeline tr.step-end", "data-outcome").await;
        (end.as_deref() == Some("cancelled")).then_some(())
    })
    .await;
    assert_eq!(
        f.rt.describe("wait-0").await.unwrap().status,
        WorkflowStatus::Cancelled
    );
    assert!(browser
        .find(Locator::Css("#cancel-btn"))
        .await
        .unwrap()
        .attr("disabled")
        .await
        .unwrap()
        .is_some());

    // A failed workflow says why at the top of its page.
    browser.goto(&f.ui.at("/workflow?id=fail-0")).await.unwrap();
    let why = eventually("the page of fail-0 shows its error", || async {
        texts(&browser, "#wf-error")
            .await
            .into_iter()
            .find(|t| !t.is_empty())
    })
    .await;
    assert_eq!(why, "failed: Refused: x is not allowed");

    // An error is one line in the page: an unknown workflow.
    browser.goto(&f.ui.at("/workflow?id=nobody")).await.unwrap();
    let error = eventually("the page says the id is unknown", || async {
        let text = texts(&browser, "#message.error").await;
        text.into_iter().next()
    })
    .await;
    assert_eq!(error, "no workflow with id `nobody`");

    browser.close().await.unwrap();
}

// ---------- the screenshot of docs/ui.png ----------

/// Approves the load of a `nightly_etl`.
#[derive(Debug, Serialize, Deserialize, Signal)]
#[signal(name = "approve")]
struct Approve {
    by: String,
}

/// Fails its first attempt, as a flaky source does.
#[activity(retry(initial_interval = "300ms", max_attempts = 5))]
async fn extract(ctx: ActivityContext, source: String) -> Result<u64, ActivityError> {
    if ctx.attempt() == 1 && source.starts_with("events") {
        return Err(ActivityError::new(
            "ConnectionReset",
            "connection reset by peer",
        ));
    }
    tokio::time::sleep(Duration::from_millis(120 + 90 * source.len() as u64 % 300)).await;
    Ok(1_000 * source.len() as u64)
}

#[activity]
async fn transform(part: u32) -> Result<u64, ActivityError> {
    tokio::time::sleep(Duration::from_millis(150 + 110 * u64::from(part))).await;
    Ok(2_500 + u64::from(part) * 10)
}

/// The warehouse is down: every attempt fails, and waits 30 s for the next.
#[activity(
    retry(initial_interval = "30s", max_attempts = 6),
    heartbeat_timeout = "60s"
)]
async fn load(ctx: ActivityContext, rows: u64) -> Result<u64, ActivityError> {
    ctx.heartbeat(&json!({ "batch": 3, "of": 8, "rows": rows }));
    Err(ActivityError::new(
        "WarehouseUnavailable",
        "connect to warehouse:5432: connection refused",
    ))
}

/// Extracts three sources, transforms four partitions, waits a cool-down
/// and an approval, then loads.
#[workflow]
async fn nightly_etl(ctx: WorkflowContext, day: String) -> Result<u64, WorkflowError> {
    let batch = ctx.uuid();
    ctx.set_progress(&json!({ "stage": "extract", "day": day, "batch": batch.to_string() }));
    let sources = ["orders.csv", "customers.csv", "events.jsonl"];
    let extracted = join_all(sources.iter().map(|s| ctx.activity(extract, s.to_string()))).await;
    let mut rows = 0;
    for n in extracted {
        rows += n?;
    }
    ctx.set_progress(&json!({ "stage": "transform", "rows": rows }));
    let parts = join_all((0..4).map(|p| ctx.activity(transform, p))).await;
    for n in parts {
        rows += n?;
    }
    ctx.sleep(Duration::from_millis(700)).await;
    ctx.set_progress(&json!({ "stage": "awaiting approval", "rows": rows }));
    let approval = ctx.signal::<Approve>().recv().await;
    ctx.set_progress(&json!({ "stage": "load", "rows": rows, "approved_by": approval.by }));
    let loaded = ctx.activity(load, rows).await?;
    Ok(loaded)
}

#[tokio::test]
#[ignore = "writes docs/ui.png: run with --ignored screenshot"]
async fn screenshot_for_the_docs() {
    assert!(browser_available(), "the screenshot needs the browser");
    let db = TempDb::new("screenshot");
    let rt = Runtime::builder()
        .sqlite(&db.path)
        .workflow(nightly_etl)
        .workflow(greet)
        .workflow(waiter)
        .workflow(failing)
        .activity(extract)
        .activity(transform)
        .activity(load)
        .activity(ui::hello)
        .activity(ui::refuse)
        .build()
        .await
        .unwrap();
    for day in ["2026-11-27", "2026-11-28"] {
        rt.start(greet, format!("report {day}"))
            .id(format!("report-{day}"))
            .await
            .unwrap();
    }
    rt.start(failing, "dropping the archive".to_owned())
        .id("cleanup-2026-11-28")
        .await
        .unwrap();
    rt.start(waiter, "stream".to_owned())
        .id("stream-1")
        .await
        .unwrap();
    let id = "nightly-etl-2026-11-29";
    rt.start(nightly_etl, "2026-11-29".to_owned())
        .id(id)
        .await
        .unwrap();
    // Approved once it waits for it; then the load fails and waits 30 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = rt.describe(id).await.unwrap();
        if info.progress.as_ref().and_then(|p| p.get("stage")) == Some(&json!("awaiting approval"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "{info:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    rt.signal(
        id,
        Approve {
            by: "dana".to_owned(),
        },
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = rt.describe(id).await.unwrap();
        if info
            .pending
            .iter()
            .any(|p| p.attempt >= 2 && p.last_error.is_some())
        {
            break;
        }
        assert!(Instant::now() < deadline, "{info:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let ui = UiProcess::start(&db.path);
    let driver = Driver::start().await;
    let browser = driver.browser(1360, 1400).await;
    browser
        .goto(&ui.at(&format!("/workflow?id={id}")))
        .await
        .unwrap();
    eventually("the timeline is drawn", || async {
        let rows = texts(&browser, "#timeline tbody tr[data-kind]").await;
        (rows.len() >= 10).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let png = browser.screenshot().await.unwrap();
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ui.png");
    std::fs::write(&out, png).unwrap();
    eprintln!("wrote {}", out.display());
    // The list too, to look at (not kept in the repository).
    browser.goto(&ui.at("/")).await.unwrap();
    eventually("the list is drawn", || async {
        let rows = texts(&browser, "#workflows a.wf-link").await;
        (rows.len() == 5).then_some(())
    })
    .await;
    let list = std::env::temp_dir().join("reprise-ui-list.png");
    std::fs::write(&list, browser.screenshot().await.unwrap()).unwrap();
    eprintln!("wrote {}", list.display());
    browser.close().await.unwrap();
    rt.shutdown().await.unwrap();
}
