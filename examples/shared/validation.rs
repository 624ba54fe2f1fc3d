//! Validation shared by the pipeline examples: a typed rule set over rows of
//! named text fields. Cleaning steps (trim, case) rewrite a field; checks
//! reject the row, naming the rule and the reason. Rejected rows keep their
//! reasons (`Reject`), and a `Summary` counts them by rule.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::ops::RangeInclusive;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// A row: field name -> raw text. A missing field is absent.
pub type Row = BTreeMap<String, String>;

/// One rule of a set: a cleaning step or a check.
#[derive(Clone, Debug)]
enum Rule {
    Trim(String),
    Lowercase(String),
    Uppercase(String),
    TitleCase(String),
    Required(String),
    Email(String),
    Date(String),
    Integer(String, RangeInclusive<i64>),
    OneOf(String, Vec<String>),
    MaxLen(String, usize),
    DedupeBy(String),
}

/// Rules, applied in the order they were added.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

/// A rejected row: the row as it was when the rule failed, the rule (e.g.
/// `email(email)`) and why.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Reject {
    pub row: Row,
    pub rule: String,
    pub reason: String,
}

/// Rows passed, and rows rejected by rule.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub passed: u64,
    pub rejected: BTreeMap<String, u64>,
}

impl Summary {
    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &Summary) {
        self.passed += other.passed;
        for (rule, n) in &other.rejected {
            *self.rejected.entry(rule.clone()).or_default() += n;
        }
    }

    /// Rows rejected, all rules.
    pub fn total_rejected(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Counts one row's outcome.
    pub fn count<T>(&mut self, outcome: &Result<T, Reject>) {
        match outcome {
            Ok(_) => self.passed += 1,
            Err(r) => *self.rejected.entry(r.rule.clone()).or_default() += 1,
        }
    }
}

/// What `Rules::clean` made of rows: the kept ones, cleaned, and the rejects.
#[derive(Clone, Debug, Default)]
pub struct Cleaned {
    pub kept: Vec<Row>,
    pub rejects: Vec<Reject>,
    pub summary: Summary,
}

impl Rules {
    pub fn new() -> Self {
        Self::default()
    }

    fn with(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Trims the field; an empty result removes it.
    pub fn trim(self, field: &str) -> Self {
        self.with(Rule::Trim(field.to_owned()))
    }

    pub fn lowercase(self, field: &str) -> Self {
        self.with(Rule::Lowercase(field.to_owned()))
    }

    pub fn uppercase(self, field: &str) -> Self {
        self.with(Rule::Uppercase(field.to_owned()))
    }

    /// `"  ALICE  van DIJK "` -> `"Alice Van Dijk"` (spaces collapsed).
    pub fn title_case(self, field: &str) -> Self {
        self.with(Rule::TitleCase(field.to_owned()))
    }

    /// The field must be present.
    pub fn required(self, field: &str) -> Self {
        self.with(Rule::Required(field.to_owned()))
    }

    /// An e-mail address (`local@domain.tld`), checked when present.
    pub fn email(self, field: &str) -> Self {
        self.with(Rule::Email(field.to_owned()))
    }

    /// A real calendar date, `YYYY-MM-DD` (`YYYY/MM/DD` and `DD.MM.YYYY`
    /// are normalised to it), checked when present.
    pub fn date(self, field: &str) -> Self {
        self.with(Rule::Date(field.to_owned()))
    }

    /// An integer in `range`, checked when present.
    pub fn integer(self, field: &str, range: RangeInclusive<i64>) -> Self {
        self.with(Rule::Integer(field.to_owned(), range))
    }

    /// One of `allowed`, checked when present.
    pub fn one_of(self, field: &str, allowed: &[&str]) -> Self {
        let allowed = allowed.iter().map(|s| (*s).to_owned()).collect();
        self.with(Rule::OneOf(field.to_owned(), allowed))
    }

    /// At most `n` characters, checked when present.
    pub fn max_len(self, field: &str, n: usize) -> Self {
        self.with(Rule::MaxLen(field.to_owned(), n))
    }

    /// In `clean`, a row whose `field` repeats an earlier row's is rejected.
    pub fn dedupe_by(self, field: &str) -> Self {
        self.with(Rule::DedupeBy(field.to_owned()))
    }

    /// Cleans and checks one row (no dedupe).
    pub fn check(&self, row: Row) -> Result<Row, Reject> {
        self.apply(row, None)
    }

    /// Cleans and checks rows, dedupe included.
    pub fn clean(&self, rows: impl IntoIterator<Item = Row>) -> Cleaned {
        let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut out = Cleaned::default();
        for row in rows {
            let outcome = self.apply(row, Some(&mut seen));
            out.summary.count(&outcome);
            match outcome {
                Ok(row) => out.kept.push(row),
                Err(reject) => out.rejects.push(reject),
            }
        }
        out
    }

    fn apply(
        &self,
        mut row: Row,
        mut seen: Option<&mut BTreeMap<String, BTreeSet<String>>>,
    ) -> Result<Row, Reject> {
        for rule in &self.rules {
            if let Err((name, reason)) = apply_rule(rule, &mut row, seen.as_deref_mut()) {
                return Err(Reject {
                    row,
                    rule: name,
                    reason,
                });
            }
        }
        Ok(row)
    }
}

/// Applies one rule; on failure, the rule's name and the reason.
fn apply_rule(
    rule: &Rule,
    row: &mut Row,
    seen: Option<&mut BTreeMap<String, BTreeSet<String>>>,
) -> Result<(), (String, String)> {
    let fail = |name: &str, field: &str, reason: String| Err((format!("{name}({field})"), reason));
    match rule {
        Rule::Trim(f) => {
            if let Some(v) = row.get(f) {
                let t = v.trim();
                if t.is_empty() {
                    row.remove(f);
                } else if t.len() != v.len() {
                    let t = t.to_owned();
                    row.insert(f.clone(), t);
                }
            }
        }
        Rule::Lowercase(f) => {
            if let Some(v) = row.get_mut(f) {
                *v = v.to_lowercase();
            }
        }
        Rule::Uppercase(f) => {
            if let Some(v) = row.get_mut(f) {
                *v = v.to_uppercase();
            }
        }
        Rule::TitleCase(f) => {
            if let Some(v) = row.get_mut(f) {
                *v = title_case(v);
            }
        }
        Rule::Required(f) => {
            if !row.contains_key(f) {
                return fail("required", f, format!("`{f}` is missing"));
            }
        }
        Rule::Email(f) => {
            if let Some(v) = row.get(f) {
                if !is_email(v) {
                    return fail("email", f, format!("`{f}` is not an e-mail address: {v:?}"));
                }
            }
        }
        Rule::Date(f) => {
            if let Some(v) = row.get(f) {
                match parse_date(v) {
                    Some(d) => {
                        row.insert(f.clone(), d);
                    }
                    None => return fail("date", f, format!("`{f}` is not a date: {v:?}")),
                }
            }
        }
        Rule::Integer(f, range) => {
            if let Some(v) = row.get(f) {
                match v.parse::<i64>() {
                    Ok(n) if range.contains(&n) => {}
                    Ok(n) => {
                        let (lo, hi) = (range.start(), range.end());
                        return fail("integer", f, format!("`{f}` is {n}, not in {lo}..={hi}"));
                    }
                    Err(_) => return fail("integer", f, format!("`{f}` is not an integer: {v:?}")),
                }
            }
        }
        Rule::OneOf(f, allowed) => {
            if let Some(v) = row.get(f) {
                if !allowed.iter().any(|a| a == v) {
                    return fail(
                        "one_of",
                        f,
                        format!("`{f}` is {v:?}, not one of {allowed:?}"),
                    );
                }
            }
        }
        Rule::MaxLen(f, n) => {
            if let Some(v) = row.get(f) {
                let len = v.chars().count();
                if len > *n {
                    return fail(
                        "max_len",
                        f,
                        format!("`{f}` has {len} characters, over {n}"),
                    );
                }
            }
        }
        Rule::DedupeBy(f) => {
            if let (Some(seen), Some(v)) = (seen, row.get(f)) {
                if !seen.entry(f.clone()).or_default().insert(v.clone()) {
                    return fail(
                        "dedupe_by",
                        f,
                        format!("`{f}` {v:?} repeats an earlier row"),
                    );
                }
            }
        }
    }
    Ok(())
}

fn title_case(s: &str) -> String {
    s.split_whitespace()
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_uppercase()
                    .chain(chars.flat_map(char::to_lowercase))
                    .collect()
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let ok_chars = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_alphanumeric() || "._%+-'".contains(c))
    };
    ok_chars(local)
        && ok_chars(domain)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

/// `YYYY-MM-DD`, `YYYY/MM/DD` or `DD.MM.YYYY`, a real calendar date, as `YYYY-MM-DD`.
fn parse_date(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split(['-', '/', '.']).collect();
    let [a, b, c] = parts[..] else {
        return None;
    };
    let (y, m, d) = if a.len() == 4 && s.chars().nth(4) != Some('.') {
        (a, b, c)
    } else if c.len() == 4 && s.contains('.') {
        (c, b, a)
    } else {
        return None;
    };
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days)
        .contains(&d)
        .then(|| format!("{y:04}-{m:02}-{d:02}"))
}

/// Appends rejects to a JSONL file, one object a line.
pub fn write_rejects_jsonl(path: &Path, rejects: &[Reject]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?,
    );
    for reject in rejects {
        serde_json::to_writer(&mut out, reject)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(fields: &[(&str, &str)]) -> Row {
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn cleaning_then_checks() {
        let rules = Rules::new()
            .trim("name")
            .title_case("name")
            .required("name")
            .trim("email")
            .lowercase("email")
            .email("email")
            .date("day")
            .integer("age", 18..=120);
        let ok = rules
            .check(row(&[
                ("name", "  ALICE  van DIJK "),
                ("email", " A@B.EXAMPLE "),
                ("day", "29.02.2024"),
                ("age", "40"),
            ]))
            .unwrap();
        assert_eq!(ok["name"], "Alice Van Dijk");
        assert_eq!(ok["email"], "a@b.example");
        assert_eq!(ok["day"], "2024-02-29");
        let no_name = rules.check(row(&[("name", "   ")])).unwrap_err();
        assert_eq!(no_name.rule, "required(name)");
        let bad_day = rules
            .check(row(&[("name", "x"), ("day", "2023-02-29")]))
            .unwrap_err();
        assert_eq!(bad_day.rule, "date(day)");
        let old = rules
            .check(row(&[("name", "x"), ("age", "121")]))
            .unwrap_err();
        assert_eq!(old.rule, "integer(age)");
        assert!(old.reason.contains("121"), "{}", old.reason);
    }

    #[test]
    fn clean_dedupes_and_summarises() {
        let rules = Rules::new().one_of("c", &["US", "DE"]).dedupe_by("id");
        let out = rules.clean([
            row(&[("id", "1"), ("c", "US")]),
            row(&[("id", "1"), ("c", "DE")]),
            row(&[("id", "2"), ("c", "FR")]),
        ]);
        assert_eq!(out.kept.len(), 1);
        assert_eq!(out.summary.passed, 1);
        assert_eq!(out.summary.rejected["dedupe_by(id)"], 1);
        assert_eq!(out.summary.rejected["one_of(c)"], 1);
        let mut total = Summary::default();
        total.merge(&out.summary);
        total.merge(&out.summary);
        assert_eq!(total.total_rejected(), 4);
    }
}
