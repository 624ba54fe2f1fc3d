//! `reprise list`: workflows (their latest runs), newest first, a page at
//! a time, as a table or one JSON document.

use std::time::{Duration, SystemTime};

use reprise::{ListFilter, PageToken, Runtime, WorkflowStatus, WorkflowSummary};
use serde_json::json;

use crate::error::CliError;
use crate::format::{clip, one_line, relative, rfc3339};
use crate::progress::Progress;

/// The filters and the page, as given on the command line.
#[derive(Debug)]
pub(crate) struct ListArgs {
    pub(crate) status: Option<WorkflowStatus>,
    pub(crate) name: Option<String>,
    pub(crate) since: Option<Duration>,
    pub(crate) limit: u64,
    pub(crate) page: Option<PageToken>,
    pub(crate) json: bool,
}

/// The widest the last column (progress or error) gets, in characters.
const NOTE_WIDTH: usize = 72;

pub(crate) async fn run(rt: &Runtime, args: &ListArgs) -> Result<(), CliError> {
    let now = SystemTime::now();
    let mut filter = ListFilter::new().limit(usize::try_from(args.limit).unwrap_or(usize::MAX));
    if let Some(status) = args.status {
        filter = filter.status(status);
    }
    if let Some(name) = &args.name {
        filter = filter.name(name.clone());
    }
    if let Some(since) = args.since {
        filter = filter.started_after(now.checked_sub(since).unwrap_or(SystemTime::UNIX_EPOCH));
    }
    if let Some(page) = &args.page {
        filter = filter.page(page);
    }
    let page = rt.list(filter).await?;
    if args.json {
        return super::print_json(&json!({
            "workflows": page.workflows,
            "next_page": page.next_page.map(|t| t.to_string()),
        }));
    }
    let mut out = if page.workflows.is_empty() {
        let filtered = args.status.is_some() || args.name.is_some() || args.since.is_some();
        let what = if args.page.is_some() {
            "no more workflows"
        } else if filtered {
            "no workflows match"
        } else {
            "no workflows"
        };
        format!("{what}\n")
    } else {
        table(&page.workflows, now)
    };
    if let Some(token) = page.next_page {
        out.push_str(&format!("more: {}\n", next_command(args, token)));
    }
    super::print(&out)
}

/// The rows under a header, columns padded to their widest cell.
fn table(workflows: &[WorkflowSummary], now: SystemTime) -> String {
    let header = [
        "ID",
        "TYPE",
        "STATUS",
        "STARTED",
        "UPDATED",
        "PROGRESS / ERROR",
    ];
    let rows: Vec<[String; 6]> = workflows
        .iter()
        .map(|wf| {
            [
                one_line(&wf.workflow_id),
                one_line(&wf.workflow_type),
                wf.status.to_string(),
                rfc3339(wf.started_at),
                relative(wf.updated_at, now),
                note(wf),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 6]| {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                let pad = widths[i] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        format!("{}\n", line.trim_end())
    };
    let mut out = line(header);
    for row in &rows {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    out
}

/// The last column: the error of a blocked or failed workflow, else its
/// progress, clipped.
fn note(wf: &WorkflowSummary) -> String {
    let text = match (&wf.error, &wf.progress) {
        (Some(error), _) => {
            // The runtime names the run at fault; the row already does.
            let prefix = format!("workflow `{}` run `{}`: ", wf.workflow_id, wf.run_id);
            let error = error.strip_prefix(&prefix).unwrap_or(error);
            format!("error: {}", one_line(error))
        }
        (None, Some(progress)) => Progress::of(progress).line(),
        (None, None) => String::new(),
    };
    clip(&text, NOTE_WIDTH)
}

/// The command that lists the next page: the same filters, and `--page`.
fn next_command(args: &ListArgs, token: PageToken) -> String {
    let mut command = "reprise list".to_owned();
    if let Some(status) = args.status {
        command.push_str(&format!(" --status {status}"));
    }
    if let Some(name) = &args.name {
        command.push_str(&format!(" --name {}", shell_word(name)));
    }
    if let Some(since) = args.since {
        command.push_str(&format!(" --since {}", humantime::format_duration(since)));
    }
    if args.limit != 50 {
        command.push_str(&format!(" --limit {}", args.limit));
    }
    command.push_str(&format!(" --page {token}"));
    command
}

/// `s` as one shell word: as it is when that is safe, else single-quoted.
fn shell_word(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.:/@%+=,".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_owned()
    } else {
        format!("'{}'", one_line(s).replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_command_repeats_the_filters() {
        let args = ListArgs {
            status: Some(WorkflowStatus::Running),
            name: Some("it's".to_owned()),
            since: Some(Duration::from_secs(7200)),
            limit: 2,
            page: None,
            json: false,
        };
        let token: PageToken = "17".parse().unwrap();
        assert_eq!(
            next_command(&args, token),
            r"reprise list --status running --name 'it'\''s' --since 2h --limit 2 --page 17"
        );
    }
}
