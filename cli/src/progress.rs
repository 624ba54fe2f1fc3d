//! Reading what a workflow publishes with `ctx.set_progress` by the
//! convention of [`crate::watch`]: numeric `done` and `total` make a bar, a
//! string `phase` and/or `message` label it, any other field is shown
//! compactly as `key=value`.

use serde_json::{Map, Value};

use crate::format;

/// A progress value, read by the convention.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Progress {
    /// `done` and `total`, when both are numbers (`done` at most `total`).
    pub(crate) bar: Option<(u64, u64)>,
    /// `phase`, `message`, or `phase: message`.
    pub(crate) label: Option<String>,
    /// The other fields, `key=value` joined by spaces (or, for a progress
    /// that is not an object, its compact JSON).
    pub(crate) rest: String,
}

/// The keys the convention gives a meaning.
const KNOWN: [&str; 4] = ["done", "total", "phase", "message"];

impl Progress {
    /// Reads `value` by the convention.
    pub(crate) fn of(value: &Value) -> Self {
        let Value::Object(map) = value else {
            return Self {
                bar: None,
                label: None,
                rest: format::json(value),
            };
        };
        let bar = match (number(map, "done"), number(map, "total")) {
            (Some(done), Some(total)) => Some((done.min(total), total)),
            _ => None,
        };
        let text = |key: &str| map.get(key).and_then(Value::as_str).map(format::one_line);
        let label = match (text("phase"), text("message")) {
            (Some(phase), Some(message)) => Some(format!("{phase}: {message}")),
            (phase, message) => phase.or(message),
        };
        let rest: Vec<String> = map
            .iter()
            .filter(|(key, value)| {
                // A `done`/`total` that is not a number is shown as it is.
                !KNOWN.contains(&key.as_str())
                    || (bar.is_none() && matches!(key.as_str(), "done" | "total"))
                    || (matches!(key.as_str(), "phase" | "message") && !value.is_string())
            })
            .map(|(key, value)| format!("{key}={}", format::json(value)))
            .collect();
        Self {
            bar,
            label,
            rest: rest.join(" "),
        }
    }

    /// `done/total (pct%)`, when there is a bar.
    pub(crate) fn count(&self) -> Option<String> {
        self.bar.map(|(done, total)| {
            let pct = (done * 100).checked_div(total).unwrap_or(100);
            format!("{done}/{total} ({pct}%)")
        })
    }

    /// The label and the other fields: what a bar shows beside itself.
    pub(crate) fn message(&self) -> String {
        join(&[self.label.as_deref(), Some(self.rest.as_str())])
    }

    /// All of it in one line: label, `done/total (pct%)`, other fields.
    pub(crate) fn line(&self) -> String {
        let count = self.count();
        join(&[
            self.label.as_deref(),
            count.as_deref(),
            Some(self.rest.as_str()),
        ])
    }

    /// An ASCII bar of `width` characters, when there is a bar:
    /// `[######..................]`.
    pub(crate) fn ascii_bar(&self, width: u64) -> Option<String> {
        self.bar.map(|(done, total)| {
            let filled = (done * width).checked_div(total).unwrap_or(width);
            let filled = usize::try_from(filled).unwrap_or(0);
            let width = usize::try_from(width).unwrap_or(0);
            format!(
                "[{}{}]",
                "#".repeat(filled),
                ".".repeat(width.saturating_sub(filled))
            )
        })
    }
}

/// A non-negative number under `key`, as an integer.
fn number(map: &Map<String, Value>, key: &str) -> Option<u64> {
    let value = map.get(key)?;
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f as u64)
    })
}

fn join(parts: &[Option<&str>]) -> String {
    parts
        .iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("  ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn done_and_total_make_a_bar_and_phase_labels_it() {
        let p = Progress::of(&json!({"phase": "load", "done": 3, "total": 12, "rows": 300}));
        assert_eq!(p.bar, Some((3, 12)));
        assert_eq!(p.label.as_deref(), Some("load"));
        assert_eq!(p.message(), "load  rows=300");
        assert_eq!(p.line(), "load  3/12 (25%)  rows=300");
        assert_eq!(p.ascii_bar(12).unwrap(), "[###.........]");
    }

    #[test]
    fn phase_and_message_together() {
        let p = Progress::of(&json!({"phase": "extract", "message": "page 4"}));
        assert_eq!(p.line(), "extract: page 4");
        assert_eq!(p.bar, None);
    }

    #[test]
    fn anything_else_is_shown_compactly() {
        let p = Progress::of(&json!({"done": "soon", "loaded": 5, "by": {"a": 1}}));
        assert_eq!(p.bar, None);
        assert_eq!(p.line(), r#"by={"a":1} done=soon loaded=5"#);
        assert_eq!(Progress::of(&json!([1, 2])).line(), "[1,2]");
        assert_eq!(Progress::of(&json!("halfway")).line(), "halfway");
        let p = Progress::of(&json!({"done": 2.5, "total": 10.0}));
        assert_eq!(p.bar, Some((2, 10)));
        let p = Progress::of(&json!({"done": 20, "total": 10}));
        assert_eq!(p.bar, Some((10, 10)), "done is capped at total");
    }
}
