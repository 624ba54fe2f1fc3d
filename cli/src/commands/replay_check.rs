//! `replay-check`: every open run replayed against the workflow code of an
//! operator binary (`reprise_cli::main_with`), one line per run, exit code
//! 1 when any diverges.

use std::process::ExitCode;

use reprise::{ReplayOutcome, ReplayReport, Runtime};

use crate::error::CliError;
use crate::format::one_line;

/// What the plain `reprise` says to `replay-check` (exit code 2).
pub(crate) const NEEDS_CODE: &str = "replay-check replays open runs against your workflows' \
     code, which this binary does not have: run it from an operator binary that registers \
     them, `fn main() -> ExitCode { reprise_cli::main_with(|b| b.workflow(my_workflow)) }` \
     (docs/OPERATING.md, `replay-check`)";

pub(crate) async fn run(rt: &Runtime, json: bool) -> Result<ExitCode, CliError> {
    let report = rt.check_replay().await?;
    if json {
        super::print_json(&report)?;
    } else {
        super::print(&text(&report))?;
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One line per run (id, type, status, outcome), then a summary.
fn text(report: &ReplayReport) -> String {
    if report.runs.is_empty() {
        return "no open runs to replay\n".to_owned();
    }
    let rows: Vec<[String; 3]> = report
        .runs
        .iter()
        .map(|run| {
            [
                one_line(&run.workflow_id),
                one_line(&run.workflow_type),
                run.status.to_string(),
            ]
        })
        .collect();
    let mut widths = [0; 3];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for (row, run) in rows.iter().zip(&report.runs) {
        for (cell, width) in row.iter().zip(widths) {
            out.push_str(cell);
            out.extend(std::iter::repeat_n(' ', width - cell.chars().count() + 2));
        }
        match &run.outcome {
            ReplayOutcome::Diverged { error } => {
                out.push_str(&format!("DIVERGED: {}", one_line(&error.message)));
            }
            ReplayOutcome::NotRegistered => out.push_str("not registered here"),
            ReplayOutcome::Ok => out.push_str("ok"),
            _ => out.push_str("unknown outcome"),
        }
        out.push('\n');
    }
    let count =
        |f: fn(&ReplayOutcome) -> bool| report.runs.iter().filter(|r| f(&r.outcome)).count();
    let diverged = count(|o| matches!(o, ReplayOutcome::Diverged { .. }));
    let unknown = count(|o| *o == ReplayOutcome::NotRegistered);
    let ok = report.runs.len() - diverged - unknown;
    let runs = if report.runs.len() == 1 {
        "run"
    } else {
        "runs"
    };
    out.push_str(&format!(
        "{} open {runs}: {ok} ok, {diverged} diverged, {unknown} not registered here\n",
        report.runs.len()
    ));
    out
}
