//! `reprise schedule list | pause | unpause | trigger | delete`: the
//! schedules of a store (`Runtime::schedule`). The workers fire the ticks;
//! these commands only change the rows, which the workers read at their
//! next poll.

use std::time::SystemTime;

use reprise::{Runtime, ScheduleInfo};
use serde_json::{json, Value};

use crate::args::ScheduleCommand;
use crate::error::CliError;
use crate::format::{clip, one_line, rfc3339, span, unix_ms, when};

pub(crate) async fn run(rt: &Runtime, command: &ScheduleCommand) -> Result<(), CliError> {
    match command {
        ScheduleCommand::List { json } => list(rt, *json).await,
        ScheduleCommand::Pause { id } => {
            rt.pause_schedule(id).await?;
            super::print(&format!(
                "paused schedule `{}`: no tick fires until it is unpaused\n",
                one_line(id)
            ))
        }
        ScheduleCommand::Unpause { id } => {
            rt.unpause_schedule(id).await?;
            super::print(&format!(
                "unpaused schedule `{}`: it fires from its next tick on\n",
                one_line(id)
            ))
        }
        ScheduleCommand::Trigger { id } => match rt.trigger_schedule(id).await? {
            Some(workflow_id) => super::print(&format!(
                "started workflow `{}` of schedule `{}`\n",
                one_line(&workflow_id),
                one_line(id)
            )),
            None => super::print(&format!(
                "schedule `{}`: its previous run is still running, so its overlap policy kept this one from starting now\n",
                one_line(id)
            )),
        },
        ScheduleCommand::Delete { id } => {
            rt.delete_schedule(id).await?;
            super::print(&format!(
                "deleted schedule `{}` (its runs stay)\n",
                one_line(id)
            ))
        }
    }
}

async fn list(rt: &Runtime, as_json: bool) -> Result<(), CliError> {
    let schedules = rt.schedules().await?;
    if as_json {
        let list: Vec<Value> = schedules.iter().map(to_json).collect();
        return super::print_json(&json!({ "schedules": list }));
    }
    if schedules.is_empty() {
        return super::print("no schedules\n");
    }
    let now = SystemTime::now();
    let mut out = String::new();
    for s in &schedules {
        let state = if s.paused { "paused" } else { "active" };
        out.push_str(&format!(
            "{}  `{}`  {}({})  overlap {}  {state}\n",
            one_line(&s.id),
            one_line(&s.cron),
            one_line(&s.workflow_type),
            clip(&one_line(&s.input.to_string()), 40),
            s.overlap,
        ));
        let next = s
            .next_tick
            .map_or_else(|| "none".to_owned(), |t| when(t, now));
        out.push_str(&format!(
            "  next tick {next}; catch-up window {}; skipped {}, missed {}\n",
            span(s.catchup_window),
            s.skipped,
            s.missed
        ));
        if let Some(buffered) = s.buffered_tick {
            out.push_str(&format!("  buffered tick {}\n", rfc3339(buffered)));
        }
        for run in &s.recent_runs {
            let status = run.status.map_or("gone", |st| st.as_str());
            out.push_str(&format!(
                "  run {}  {status}\n",
                clip(&one_line(&run.workflow_id), 120)
            ));
        }
    }
    super::print(&out)
}

fn to_json(s: &ScheduleInfo) -> Value {
    json!({
        "id": s.id,
        "cron": s.cron,
        "workflow_type": s.workflow_type,
        "input": s.input,
        "overlap": s.overlap.as_str(),
        "catchup_window_ms": u64::try_from(s.catchup_window.as_millis()).unwrap_or(u64::MAX),
        "paused": s.paused,
        "next_tick_ms": s.next_tick.map(unix_ms),
        "buffered_tick_ms": s.buffered_tick.map(unix_ms),
        "skipped": s.skipped,
        "missed": s.missed,
        "recent_runs": s.recent_runs.iter().map(|r| json!({
            "workflow_id": r.workflow_id,
            "status": r.status.map(|st| st.as_str()),
            "running": r.is_running(),
        })).collect::<Vec<_>>(),
        "created_ms": unix_ms(s.created_at),
        "updated_ms": unix_ms(s.updated_at),
    })
}
