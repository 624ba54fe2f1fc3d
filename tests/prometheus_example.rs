//! examples/prometheus.rs: one batch of workflows on SQLite, then its
//! `/metrics` scraped over HTTP, in the Prometheus text format.

mod common;

use std::process::Command;

/// The value of the first sample of `series` (a name, or a name with its
/// labels as rendered: `name{a="b",c="d"}`).
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| {
            line.strip_prefix(series)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[test]
fn the_example_serves_reprise_metrics() {
    let binary = common::example_binary("prometheus");
    let out = Command::new(binary)
        .args(["--once", "--workflows", "9"])
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");

    let completed = sample(
        &stdout,
        r#"reprise_workflows_completed_total{workflow="order"}"#,
    );
    assert_eq!(completed, Some(9.0), "{stdout}");
    assert_eq!(
        sample(
            &stdout,
            r#"reprise_workflows_started_total{workflow="order"}"#
        ),
        Some(9.0)
    );
    // Orders 3, 6 and 9 fail their first fetch.
    assert_eq!(
        sample(
            &stdout,
            r#"reprise_activity_attempts_total{activity="fetch_order",outcome="retry"}"#
        ),
        Some(3.0),
        "{stdout}"
    );
    assert_eq!(
        sample(
            &stdout,
            r#"reprise_activity_attempts_total{activity="fetch_order",outcome="ok"}"#
        ),
        Some(9.0)
    );
    for series in [
        "reprise_activity_attempt_duration_seconds_count",
        "reprise_store_commit_duration_seconds_count",
        "reprise_store_commit_steps_sum",
        "reprise_workflow_cache_hits_total",
    ] {
        let value = sample(&stdout, series);
        assert!(
            value.is_some_and(|v| v > 0.0),
            "{series}: {value:?}\n{stdout}"
        );
    }
    // Histograms, with buckets, and help texts from `describe_metrics`.
    assert!(stdout.contains("# TYPE reprise_store_commit_duration_seconds histogram"));
    assert!(stdout.contains("# HELP reprise_workflows_started_total "));
    // The logs went to stderr: a warning per failed attempt, in its span.
    let warnings = stderr
        .lines()
        .filter(|l| l.contains("activity attempt failed; retrying"))
        .collect::<Vec<_>>();
    assert_eq!(warnings.len(), 3, "{stderr}");
    assert!(warnings
        .iter()
        .all(|w| w.contains("activity_attempt{") && w.contains("UpstreamUnavailable")));
}
