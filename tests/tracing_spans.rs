//! Tracing: one span per workflow activation and per activity attempt, with
//! their fields; a failing attempt logs one warning in its span, a failed
//! run one error.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use reprise::prelude::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// A span as created, with every field recorded on it.
#[derive(Debug, Clone)]
struct SpanRec {
    name: &'static str,
    fields: BTreeMap<String, String>,
}

/// An event, with the span it was emitted in.
#[derive(Debug, Clone)]
struct EventRec {
    level: Level,
    fields: BTreeMap<String, String>,
    /// The innermost span's name and fields.
    span: Option<SpanRec>,
}

#[derive(Default)]
struct Seen {
    spans: Vec<SpanRec>,
    /// Index in `spans` of each live span.
    ids: BTreeMap<u64, usize>,
    events: Vec<EventRec>,
}

/// Collects spans and events.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Seen>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Collector {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let mut seen = self.0.lock().unwrap();
        seen.spans.push(SpanRec {
            name: attrs.metadata().name(),
            fields,
        });
        let index = seen.spans.len() - 1;
        seen.ids.insert(id.into_u64(), index);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut seen = self.0.lock().unwrap();
        if let Some(&index) = seen.ids.get(&id.into_u64()) {
            values.record(&mut Fields(&mut seen.spans[index].fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let mut seen = self.0.lock().unwrap();
        let span = ctx
            .event_span(event)
            .and_then(|span| seen.ids.get(&span.id().into_u64()).copied())
            .map(|index| seen.spans[index].clone());
        seen.events.push(EventRec {
            level: *event.metadata().level(),
            fields,
            span,
        });
    }

    fn on_close(&self, id: Id, _: Context<'_, S>) {
        self.0.lock().unwrap().ids.remove(&id.into_u64());
    }
}

/// Fails its first attempt.
#[activity(retry(max_attempts = 3, initial_interval = "10ms"))]
async fn flaky(ctx: ActivityContext, n: u64) -> Result<u64, ActivityError> {
    if ctx.attempt() == 1 {
        return Err(ActivityError::new("Flaky", "the first attempt fails"));
    }
    Ok(n + 1)
}

/// Fails every attempt, with a cause.
#[activity(retry(max_attempts = 2, initial_interval = "10ms"))]
async fn broken(path: String) -> Result<u64, ActivityError> {
    let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
    Err(ActivityError::new(
        "Broken",
        format!("cannot read {path}: {io}"),
    ))
}

#[workflow]
async fn traced(ctx: WorkflowContext, n: u64) -> Result<u64, WorkflowError> {
    tracing::info!("workflow body runs");
    Ok(ctx.activity(flaky, n).await?)
}

#[workflow]
async fn doomed(ctx: WorkflowContext, path: String) -> Result<u64, WorkflowError> {
    Ok(ctx.activity(broken, path).await?)
}

fn field<'a>(fields: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    fields.get(name).map(String::as_str).unwrap_or("<missing>")
}

fn message(event: &EventRec) -> &str {
    field(&event.fields, "message")
}

#[tokio::test(flavor = "current_thread")]
async fn activations_and_attempts_have_spans_and_failures_are_logged_once() {
    let collector = Collector::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(collector.clone()));
    let rt = Runtime::builder()
        .in_memory()
        .workflow(traced)
        .workflow(doomed)
        .activity(flaky)
        .activity(broken)
        .build()
        .await
        .unwrap();
    let handle = rt.start(traced, 41).id("traced-1").await.unwrap();
    assert_eq!(handle.result().await.unwrap(), 42);
    let failed = rt
        .start(doomed, "input.csv".to_owned())
        .id("doomed-1")
        .await
        .unwrap();
    assert!(failed.result().await.is_err());
    rt.shutdown().await.unwrap();

    let seen = collector.0.lock().unwrap();
    // Activations of `traced`: its first (the body starts and calls
    // `flaky`), and the one that delivers the result.
    let activations: Vec<&SpanRec> = seen
        .spans
        .iter()
        .filter(|s| s.name == "workflow_activation")
        .filter(|s| field(&s.fields, "workflow.id") == "traced-1")
        .collect();
    assert_eq!(activations.len(), 2, "{activations:#?}");
    let run_id = field(&activations[0].fields, "run.id").to_owned();
    assert_eq!(run_id.len(), 36, "a UUID: {run_id}");
    for span in &activations {
        assert_eq!(field(&span.fields, "workflow.name"), "traced");
        assert_eq!(field(&span.fields, "run.id"), run_id);
    }
    // The body's own events are in its activation's span.
    let body: Vec<&EventRec> = seen
        .events
        .iter()
        .filter(|e| message(e) == "workflow body runs")
        .collect();
    assert_eq!(body.len(), 1, "logged once, live");
    for event in body {
        let span = event.span.as_ref().expect("in a span");
        assert_eq!(span.name, "workflow_activation");
        assert_eq!(field(&span.fields, "workflow.id"), "traced-1");
    }

    // Two attempts of `flaky`, each in a span of its own.
    let attempts: Vec<&SpanRec> = seen
        .spans
        .iter()
        .filter(|s| s.name == "activity_attempt")
        .filter(|s| field(&s.fields, "activity.name") == "flaky")
        .collect();
    assert_eq!(attempts.len(), 2, "{attempts:#?}");
    for (i, span) in attempts.iter().enumerate() {
        assert_eq!(field(&span.fields, "attempt"), (i + 1).to_string());
        assert_eq!(field(&span.fields, "seq"), "0");
        assert_eq!(field(&span.fields, "workflow.name"), "traced");
        assert_eq!(field(&span.fields, "workflow.id"), "traced-1");
        assert_eq!(field(&span.fields, "run.id"), run_id);
    }

    // The failed attempt: one warning, in its span, with the error and its kind.
    let flaky_failures: Vec<&EventRec> = seen
        .events
        .iter()
        .filter(|e| e.level <= Level::WARN)
        .filter(|e| {
            e.span
                .as_ref()
                .is_some_and(|s| field(&s.fields, "activity.name") == "flaky")
        })
        .collect();
    assert_eq!(flaky_failures.len(), 1, "{flaky_failures:#?}");
    let warning = flaky_failures[0];
    assert_eq!(warning.level, Level::WARN);
    assert_eq!(message(warning), "activity attempt failed; retrying");
    assert_eq!(field(&warning.fields, "error.kind"), "Flaky");
    assert_eq!(
        field(&warning.fields, "error"),
        "Flaky: the first attempt fails"
    );
    let span = warning.span.as_ref().unwrap();
    assert_eq!(span.name, "activity_attempt");
    assert_eq!(field(&span.fields, "attempt"), "1");

    // `doomed`: a warning per attempt (two), then one error for the run.
    let doomed_logs: Vec<&EventRec> = seen
        .events
        .iter()
        .filter(|e| e.level <= Level::WARN)
        .filter(|e| {
            e.span
                .as_ref()
                .is_some_and(|s| field(&s.fields, "workflow.id") == "doomed-1")
        })
        .collect();
    let summary: Vec<(Level, &str, &str)> = doomed_logs
        .iter()
        .map(|e| {
            let span = e.span.as_ref().unwrap();
            (e.level, message(e), span.name)
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                Level::WARN,
                "activity attempt failed; retrying",
                "activity_attempt"
            ),
            (
                Level::WARN,
                "activity attempt failed; not retried: the call fails",
                "activity_attempt"
            ),
            (Level::ERROR, "workflow run failed", "workflow_activation"),
        ],
        "{doomed_logs:#?}"
    );
    assert_eq!(
        field(&doomed_logs[2].fields, "error"),
        "Broken: cannot read input.csv: no such file (after 2 attempts)"
    );
    // Nothing else was logged at WARN or above.
    let others: Vec<&EventRec> = seen
        .events
        .iter()
        .filter(|e| e.level <= Level::WARN)
        .filter(|e| !flaky_failures.iter().any(|f| std::ptr::eq(*f, *e)))
        .filter(|e| !doomed_logs.iter().any(|f| std::ptr::eq(*f, *e)))
        .collect();
    assert!(others.is_empty(), "{others:#?}");
}
