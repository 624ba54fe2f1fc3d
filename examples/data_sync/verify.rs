//! The verify step: the target compared with the source row by row.
//!
//! For every source row: a tombstone must be absent from the target; a live
//! row whose current version fails the rules must be absent too, and its
//! version must be in `sync_rejects`; a live valid row must be in the target
//! exactly as the rules clean it, at the same `updated_at`. A target row with
//! no live valid source row is an extra.
//!
//! Only source rows at or before the target's watermark are checked: a row
//! changed after it is counted as pending (the next round copies it), so the
//! step also gives a sound answer while a sync runs. Every version at or
//! before the watermark has been read by a round (that is what the
//! watermark means), and a row's version there is its latest, so the target
//! must hold exactly it.

use serde::Serialize;

use crate::db::{self, Endpoint, TargetRow, Watermark};
use crate::validation::Rules;

/// How many mismatches are listed (all are counted).
const LISTED: usize = 20;

/// The verify step's findings.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Report {
    /// The target's watermark: rows after it are pending.
    pub(crate) watermark: Watermark,
    /// Source rows changed after the watermark (not checked).
    pub(crate) pending: u64,
    /// Rows in the source, tombstones included.
    pub(crate) source_rows: u64,
    pub(crate) tombstones: u64,
    /// Live source rows whose current version passes the rules.
    pub(crate) valid: u64,
    /// Live source rows whose current version fails them.
    pub(crate) invalid: u64,
    pub(crate) target_rows: u64,
    /// Rows of `sync_rejects` (every rejected version, all syncs).
    pub(crate) reject_rows: u64,
    /// Rows of `sync_rejects` written by the sync being verified.
    pub(crate) rejects_of_sync: u64,
    /// Live valid rows missing from the target.
    pub(crate) missing: u64,
    /// Target rows that differ from the cleaned source version.
    pub(crate) different: u64,
    /// Target rows with no live valid source row (deleted, rejected, unknown).
    pub(crate) extra: u64,
    /// Invalid current versions with no row in `sync_rejects`.
    pub(crate) unrecorded_rejects: u64,
    /// All of the above.
    pub(crate) mismatches: u64,
    /// The first few mismatches, described.
    pub(crate) examples: Vec<String>,
}

impl Report {
    /// Counts a mismatch, and lists it if the list is not full.
    fn mismatch(&mut self, what: String) {
        self.mismatches += 1;
        if self.examples.len() < LISTED {
            self.examples.push(what);
        }
    }
}

/// Compares the target with the source; `sync_id` names the sync whose
/// rejects are counted.
pub(crate) async fn compare(
    source: &Endpoint,
    target: &Endpoint,
    rules: &Rules,
    sync_id: &str,
) -> Result<Report, reprise::ActivityError> {
    // The target first: while a sync runs, the source can only be newer.
    let mut snapshot = crate::target::load(target).await?;
    let rows = db::load_source(source).await?;
    let watermark = snapshot
        .state
        .as_ref()
        .map(|s| s.watermark)
        .unwrap_or_default();
    let mut report = Report {
        watermark,
        source_rows: rows.len() as u64,
        target_rows: snapshot.rows.len() as u64,
        reject_rows: snapshot.rejects.len() as u64,
        rejects_of_sync: snapshot.rejects.values().filter(|s| *s == sync_id).count() as u64,
        ..Report::default()
    };
    for row in &rows {
        let copy = snapshot.rows.remove(&row.id);
        if row.watermark() > watermark {
            report.pending += 1;
            continue;
        }
        if row.deleted {
            report.tombstones += 1;
            if copy.is_some() {
                report.extra += 1;
                report.mismatch(format!(
                    "row {}: deleted in the source, still in the target",
                    row.id
                ));
            }
            continue;
        }
        match rules.check(row.fields()) {
            Ok(clean) => {
                report.valid += 1;
                let expected = TargetRow::from_clean(row, &clean)
                    .map_err(|e| reprise::ActivityError::non_retryable("VerifyError", e))?;
                match copy {
                    None => {
                        report.missing += 1;
                        report.mismatch(format!("row {}: missing from the target", row.id));
                    }
                    Some(copy) if copy != expected => {
                        report.different += 1;
                        report.mismatch(format!(
                            "row {}: target {copy:?}, expected {expected:?}",
                            row.id
                        ));
                    }
                    Some(_) => {}
                }
            }
            Err(reject) => {
                report.invalid += 1;
                if copy.is_some() {
                    report.extra += 1;
                    report.mismatch(format!(
                        "row {}: rejected by {} ({}), still in the target",
                        row.id, reject.rule, reject.reason
                    ));
                }
                if !snapshot.rejects.contains_key(&(row.id, row.updated_at)) {
                    report.unrecorded_rejects += 1;
                    report.mismatch(format!(
                        "row {} at {}: rejected by {}, not in sync_rejects",
                        row.id, row.updated_at, reject.rule
                    ));
                }
            }
        }
    }
    for id in snapshot.rows.keys() {
        report.extra += 1;
        report.mismatch(format!("row {id}: in the target, not in the source"));
    }
    Ok(report)
}

/// Prints the findings: one line of counts, then each listed mismatch.
pub(crate) fn print(report: &Report) {
    println!(
        "verify at watermark {}: source {} rows ({} pending, {} tombstones, {} valid, {} invalid), target {} rows, {} rejects: {}",
        report.watermark,
        report.source_rows,
        report.pending,
        report.tombstones,
        report.valid,
        report.invalid,
        report.target_rows,
        report.reject_rows,
        if report.mismatches == 0 {
            "the target matches the source row by row".to_owned()
        } else {
            format!(
                "{} mismatches ({} missing, {} different, {} extra, {} unrecorded rejects)",
                report.mismatches,
                report.missing,
                report.different,
                report.extra,
                report.unrecorded_rejects
            )
        }
    );
    for example in &report.examples {
        println!("  mismatch: {example}");
    }
}
