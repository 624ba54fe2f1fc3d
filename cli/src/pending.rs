//! A pending step (an activity call or a timer a workflow waits for) in
//! one line, as `describe` lists them and `watch` shows the most telling one.

use std::time::SystemTime;

use reprise::PendingStep;

use crate::format::{clip, json_clipped, one_line, relative, rfc3339, span, when};

/// The longest error or heartbeat shown in a step's line, in characters.
const DETAIL: usize = 200;

/// `activity `load` seq 4: attempt 3 of 5, next attempt in 4.0s (at …),
/// last error: …, last heartbeat 2.0s ago: {…}`, or `timer seq 2: fires at …`.
/// `brief` leaves out the absolute times (for the line under a bar).
pub(crate) fn line(step: &PendingStep, now: SystemTime, brief: bool) -> String {
    if step.kind == "timer" {
        let at = if brief {
            relative(step.due_at, now)
        } else {
            format!("at {}", when(step.due_at, now))
        };
        return format!("timer seq {}: fires {at}", step.seq);
    }
    let attempt = match step.max_attempts {
        Some(max) => format!("attempt {} of {max}", step.attempt),
        None => format!("attempt {} (no limit)", step.attempt),
    };
    let mut parts = vec![if let Some(since) = step.waiting_for_slot_since {
        let since = if brief {
            relative(since, now)
        } else {
            when(since, now)
        };
        format!("{attempt}, waiting for a slot since {since}")
    } else if let Ok(wait) = step.due_at.duration_since(now) {
        let at = if brief {
            String::new()
        } else {
            format!(" (at {})", rfc3339(step.due_at))
        };
        format!("{attempt}, next attempt in {}{at}", span(wait))
    } else if brief {
        format!("{attempt}, due {}", relative(step.due_at, now))
    } else {
        format!(
            "{attempt}, due {} (running, or waiting for a worker)",
            relative(step.due_at, now)
        )
    }];
    if let Some(error) = &step.last_error {
        parts.push(format!("last error: {}", clip(&one_line(error), DETAIL)));
    }
    if let Some(details) = &step.heartbeat {
        let at = step
            .heartbeat_at
            .map(|t| format!(" {}", relative(t, now)))
            .unwrap_or_default();
        parts.push(format!(
            "last heartbeat{at}: {}",
            json_clipped(details, DETAIL)
        ));
    }
    format!(
        "{} `{}` seq {}: {}",
        step.kind,
        one_line(&step.name),
        step.seq,
        parts.join(", ")
    )
}

/// The step most worth a look: the most retried, else the one that
/// heartbeat last, else one waiting for a slot, else the first.
pub(crate) fn most_telling(steps: &[PendingStep]) -> Option<&PendingStep> {
    steps.iter().max_by_key(|s| {
        (
            s.attempt,
            s.heartbeat_at,
            s.waiting_for_slot_since.is_some(),
            std::cmp::Reverse(s.seq),
        )
    })
}
