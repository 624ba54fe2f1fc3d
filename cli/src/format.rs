//! Small text helpers shared by the commands: times, durations, clipped
//! JSON and error values, one-line messages.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// A time as UTC RFC 3339, to the second: `2026-11-29T10:00:03Z`.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// A duration for people: `850ms`, `4.2s`, `42s`, `3m 5s`, `2h 10m`, `3d 4h`.
pub(crate) fn span(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if ms < 10_000 {
        return format!("{:.1}s", d.as_secs_f64());
    }
    let s = d.as_secs();
    let (d_, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d_, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m {s}s"),
        (0, h, m) => format!("{h}h {m}m"),
        (d_, h, _) => format!("{d_}d {h}h"),
    }
}

/// `4.2s ago` for a past time, `in 4.2s` for a future one.
pub(crate) fn relative(time: SystemTime, now: SystemTime) -> String {
    match now.duration_since(time) {
        Ok(past) => format!("{} ago", span(past)),
        Err(e) => format!("in {}", span(e.duration())),
    }
}

/// `2026-11-29T10:00:03Z (4.2s ago)`.
pub(crate) fn when(time: SystemTime, now: SystemTime) -> String {
    format!("{} ({})", rfc3339(time), relative(time, now))
}

/// Unix milliseconds, as the JSON outputs give times.
pub(crate) fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// At most `max` characters of `s`, ending with `…` when cut.
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `s` on one line: line breaks and other control characters escaped.
pub(crate) fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A JSON value in one line: a string as itself, anything else compact.
pub(crate) fn json(value: &Value) -> String {
    match value {
        Value::String(s) => one_line(s),
        other => other.to_string(),
    }
}

/// A JSON value in one line, at most `max` characters.
pub(crate) fn json_clipped(value: &Value, max: usize) -> String {
    clip(&json(value), max)
}

/// An error as the runtime stores it (a `WorkflowError` or an activity's
/// failure: `kind`, `message`, `attempts`), as `Kind: message (after N
/// attempts)`; any other value as compact JSON.
pub(crate) fn error_value(value: &Value) -> String {
    let Some(message) = value.get("message").and_then(Value::as_str) else {
        return json(value);
    };
    let mut out = match value.get("kind").and_then(Value::as_str) {
        Some(kind) => format!("{kind}: {}", one_line(message)),
        None => one_line(message),
    };
    if let Some(n) = value.get("attempts").and_then(Value::as_u64) {
        if n > 1 {
            out.push_str(&format!(" (after {n} attempts)"));
        }
    }
    if value.get("cancelled").and_then(Value::as_bool) == Some(true) && !out.contains("cancel") {
        out.push_str(" (cancelled)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spans_read_well() {
        let s = |ms| span(Duration::from_millis(ms));
        assert_eq!(s(850), "850ms");
        assert_eq!(s(4_230), "4.2s");
        assert_eq!(s(42_000), "42s");
        assert_eq!(s(185_000), "3m 5s");
        assert_eq!(s(7_800_000), "2h 10m");
        assert_eq!(s(273_600_000), "3d 4h");
    }

    #[test]
    fn relative_times_say_ago_or_in() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(relative(now - Duration::from_secs(2), now), "2.0s ago");
        assert_eq!(relative(now + Duration::from_secs(65), now), "in 1m 5s");
    }

    #[test]
    fn text_is_clipped_and_kept_on_one_line() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
        assert_eq!(one_line("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(json(&json!("x\ny")), "x\\ny");
        assert_eq!(json(&json!({"a": 1})), r#"{"a":1}"#);
    }

    #[test]
    fn errors_read_as_kind_and_message() {
        let e = json!({"kind": "Timeout", "message": "too slow", "attempts": 3});
        assert_eq!(error_value(&e), "Timeout: too slow (after 3 attempts)");
        assert_eq!(error_value(&json!({"message": "no"})), "no");
        assert_eq!(error_value(&json!(5)), "5");
    }
}
