//! Validation and cleaning shared by the pipeline examples (ETL, sync,
//! import): a small typed rule set over rows of named text fields.
//!
//! A [`Rules`] value lists steps in order. Cleaning steps (`trim`,
//! `lowercase`, `uppercase`, `title_case`) rewrite a field; checks
//! (`required`, `email`, `date`, `integer`, `one_of`, `max_len`, `custom`)
//! reject the row at the first one that fails, naming the rule
//! (`"email(email)"`) and the reason. A check sees the field as the steps
//! before it left it, and may normalise it (`date` writes `YYYY-MM-DD`,
//! `integer` the canonical number). Every check but `required` only looks at
//! a field that is present, so `required` says whether a field may be absent.
//! `dedupe_by` rejects, within one [`Rules::clean`] call, a row whose key
//! repeats the key of an earlier kept row.
//!
//! ```ignore
//! let rules = Rules::new()
//!     .trim("email").lowercase("email").required("email").email("email")
//!     .trim("id").required("id").integer("id", 1..=i64::MAX)
//!     .dedupe_by("id");
//! let cleaned = rules.clean(rows);
//! write_rejects_jsonl(Path::new("rejects.jsonl"), &cleaned.rejects)?;
//! println!("{}", serde_json::to_string(&cleaned.summary)?);
//! ```
//!
//! An example includes it with
//! `#[path = "shared/validation.rs"] mod validation;`.

// Each example uses the part of the rule set its data needs.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::fs::OpenOptions;
use std::io::{self, BufRead, Write};
use std::ops::RangeInclusive;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// A row: field name → raw text. A missing field is absent.
pub type Row = BTreeMap<String, String>;

/// A check written by the caller: the field's text in, its normalised text
/// (or the reason it is invalid) out.
pub type CustomCheck = fn(&str) -> Result<String, String>;

/// One step of a rule set.
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
    Custom {
        name: String,
        field: String,
        check: CustomCheck,
    },
    DedupeBy(String),
}

impl Rule {
    /// The field the step applies to.
    fn field(&self) -> &str {
        match self {
            Rule::Trim(f)
            | Rule::Lowercase(f)
            | Rule::Uppercase(f)
            | Rule::TitleCase(f)
            | Rule::Required(f)
            | Rule::Email(f)
            | Rule::Date(f)
            | Rule::Integer(f, _)
            | Rule::OneOf(f, _)
            | Rule::MaxLen(f, _)
            | Rule::DedupeBy(f) => f,
            Rule::Custom { field, .. } => field,
        }
    }

    /// The name a reject and the summary give the rule: `"kind(field)"`.
    fn name(&self) -> String {
        let kind = match self {
            Rule::Trim(_) => "trim",
            Rule::Lowercase(_) => "lowercase",
            Rule::Uppercase(_) => "uppercase",
            Rule::TitleCase(_) => "title_case",
            Rule::Required(_) => "required",
            Rule::Email(_) => "email",
            Rule::Date(_) => "date",
            Rule::Integer(..) => "integer",
            Rule::OneOf(..) => "one_of",
            Rule::MaxLen(..) => "max_len",
            Rule::Custom { name, .. } => name,
            Rule::DedupeBy(_) => "dedupe_by",
        };
        format!("{kind}({})", self.field())
    }
}

/// A rule set: cleaning steps, checks and dedupe keys, applied in the order
/// they were added.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

/// A rejected row: the row as it came in, the rule that rejected it
/// (`"email(email)"`) and why.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Reject {
    pub row: Row,
    pub rule: String,
    pub reason: String,
}

/// How many rows passed, and how many each rule rejected (by rule name).
/// It travels through workflow histories, so it is serialisable.
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

    /// Rows rejected, all rules together.
    pub fn total_rejected(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Counts one reject of `rule`.
    pub fn reject(&mut self, rule: &str) {
        *self.rejected.entry(rule.to_owned()).or_default() += 1;
    }
}

/// What [`Rules::clean`] made of a set of rows.
#[derive(Clone, Debug, Default)]
pub struct Cleaned {
    /// The rows that passed, cleaned, in their original order.
    pub kept: Vec<Row>,
    /// The rows that did not, in their original order.
    pub rejects: Vec<Reject>,
    pub summary: Summary,
}

impl Rules {
    /// An empty rule set: every row passes unchanged.
    pub fn new() -> Self {
        Self::default()
    }

    fn with(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Trims whitespace off `field`; an empty result removes the field.
    pub fn trim(self, field: &str) -> Self {
        self.with(Rule::Trim(field.to_owned()))
    }

    /// Lowercases `field`.
    pub fn lowercase(self, field: &str) -> Self {
        self.with(Rule::Lowercase(field.to_owned()))
    }

    /// Uppercases `field`.
    pub fn uppercase(self, field: &str) -> Self {
        self.with(Rule::Uppercase(field.to_owned()))
    }

    /// `"  ALICE  van DIJK "` → `"Alice Van Dijk"`: each word capitalised,
    /// the rest lowercased, runs of whitespace collapsed to one space.
    pub fn title_case(self, field: &str) -> Self {
        self.with(Rule::TitleCase(field.to_owned()))
    }

    /// Rejects a row without `field` (or with only whitespace in it).
    pub fn required(self, field: &str) -> Self {
        self.with(Rule::Required(field.to_owned()))
    }

    /// Rejects a `field` that is not an email address: one `@`, a non-empty
    /// local part, a dotted domain, no whitespace.
    pub fn email(self, field: &str) -> Self {
        self.with(Rule::Email(field.to_owned()))
    }

    /// Rejects a `field` that is not a real calendar date in `YYYY-MM-DD`,
    /// `YYYY/MM/DD` or `DD.MM.YYYY`; a valid one is rewritten `YYYY-MM-DD`.
    pub fn date(self, field: &str) -> Self {
        self.with(Rule::Date(field.to_owned()))
    }

    /// Rejects a `field` that is not an integer in `range`; a valid one is
    /// rewritten in canonical form (`"+007"` → `"7"`).
    pub fn integer(self, field: &str, range: RangeInclusive<i64>) -> Self {
        self.with(Rule::Integer(field.to_owned(), range))
    }

    /// Rejects a `field` that is not exactly one of `allowed`.
    pub fn one_of(self, field: &str, allowed: &[&str]) -> Self {
        let allowed = allowed.iter().map(|s| (*s).to_owned()).collect();
        self.with(Rule::OneOf(field.to_owned(), allowed))
    }

    /// Rejects a `field` longer than `n` characters.
    pub fn max_len(self, field: &str, n: usize) -> Self {
        self.with(Rule::MaxLen(field.to_owned(), n))
    }

    /// A check of the caller's, named `"name(field)"`: `check` returns the
    /// field's normalised text, or the reason it is invalid.
    pub fn custom(self, name: &str, field: &str, check: CustomCheck) -> Self {
        self.with(Rule::Custom {
            name: name.to_owned(),
            field: field.to_owned(),
            check,
        })
    }

    /// In [`Rules::clean`], rejects a row whose `field` repeats the one of an
    /// earlier kept row (a row without the field is not deduped).
    pub fn dedupe_by(self, field: &str) -> Self {
        self.with(Rule::DedupeBy(field.to_owned()))
    }

    /// Cleans and checks one row (no dedupe): the cleaned row, or the
    /// reject naming the first failing rule.
    pub fn check(&self, row: Row) -> Result<Row, Reject> {
        self.apply(row, None).map(|(row, _)| row)
    }

    /// Cleans and checks `rows`, and drops the ones whose dedupe key repeats
    /// an earlier kept row's.
    pub fn clean(&self, rows: impl IntoIterator<Item = Row>) -> Cleaned {
        let mut seen: Vec<HashSet<String>> = vec![HashSet::new(); self.rules.len()];
        let mut cleaned = Cleaned::default();
        for row in rows {
            match self.apply(row, Some(&seen)) {
                Ok((row, keys)) => {
                    for (index, key) in keys {
                        seen[index].insert(key);
                    }
                    cleaned.summary.passed += 1;
                    cleaned.kept.push(row);
                }
                Err(reject) => {
                    cleaned.summary.reject(&reject.rule);
                    cleaned.rejects.push(reject);
                }
            }
        }
        cleaned
    }

    /// Runs the rules on `row`. With `seen` (the keys of the rows kept so
    /// far, per rule), dedupe rules apply too, and the row's keys are
    /// returned with it so the caller can record them once it is kept.
    fn apply(
        &self,
        original: Row,
        seen: Option<&[HashSet<String>]>,
    ) -> Result<(Row, Vec<(usize, String)>), Reject> {
        let mut row = original.clone();
        let mut keys = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let field = rule.field();
            let value = row.get(field).map(String::as_str);
            let outcome = match (rule, value) {
                (Rule::Required(_), None) => Err("missing".to_owned()),
                (Rule::Required(_), Some(v)) if v.trim().is_empty() => Err("blank".to_owned()),
                (Rule::DedupeBy(_), Some(key)) => match seen {
                    Some(seen) if seen[index].contains(key) => {
                        Err(format!("`{key}` repeats an earlier row's {field}"))
                    }
                    Some(_) => {
                        keys.push((index, key.to_owned()));
                        Ok(None)
                    }
                    None => Ok(None),
                },
                (_, None) | (Rule::Required(_), Some(_)) => Ok(None),
                (rule, Some(value)) => step(rule, value).map(Some),
            };
            match outcome {
                Ok(Some(new)) if new.is_empty() => {
                    row.remove(field);
                }
                Ok(Some(new)) => {
                    row.insert(field.to_owned(), new);
                }
                Ok(None) => {}
                Err(reason) => {
                    return Err(Reject {
                        row: original,
                        rule: rule.name(),
                        reason,
                    })
                }
            }
        }
        Ok((row, keys))
    }
}

/// One cleaning step or check on a present field: its new text, or why the
/// row is rejected.
fn step(rule: &Rule, value: &str) -> Result<String, String> {
    match rule {
        Rule::Trim(_) => Ok(value.trim().to_owned()),
        Rule::Lowercase(_) => Ok(value.to_lowercase()),
        Rule::Uppercase(_) => Ok(value.to_uppercase()),
        Rule::TitleCase(_) => Ok(title_case(value)),
        Rule::Email(_) if is_email(value) => Ok(value.to_owned()),
        Rule::Email(_) => Err(format!("`{value}` is not an email address")),
        Rule::Date(_) => parse_date(value).ok_or_else(|| {
            format!("`{value}` is not a date (YYYY-MM-DD, YYYY/MM/DD or DD.MM.YYYY)")
        }),
        Rule::Integer(_, range) => match value.parse::<i64>() {
            Ok(n) if range.contains(&n) => Ok(n.to_string()),
            Ok(n) => Err(format!(
                "{n} is outside {}..={}",
                range.start(),
                range.end()
            )),
            Err(_) => Err(format!("`{value}` is not an integer")),
        },
        Rule::OneOf(_, allowed) if allowed.iter().any(|a| a == value) => Ok(value.to_owned()),
        Rule::OneOf(_, allowed) => Err(format!("`{value}` is not one of {}", allowed.join(", "))),
        Rule::MaxLen(_, n) => match value.chars().count() {
            len if len <= *n => Ok(value.to_owned()),
            len => Err(format!("{len} characters, more than {n}")),
        },
        Rule::Custom { check, .. } => check(value),
        Rule::Required(_) | Rule::DedupeBy(_) => Ok(value.to_owned()),
    }
}

/// `"  ALICE  van DIJK "` → `"Alice Van Dijk"`.
fn title_case(text: &str) -> String {
    text.split_whitespace()
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first
                    .to_uppercase()
                    .chain(chars.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
}

/// One `@`, a non-empty local part, a dotted domain, no whitespace.
fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !email.contains(char::is_whitespace)
        && domain.split('.').count() >= 2
        && domain.split('.').all(|part| !part.is_empty())
}

/// `YYYY-MM-DD`, `YYYY/MM/DD` or `DD.MM.YYYY` → `YYYY-MM-DD`, if the day
/// exists (years 1000 to 9999).
fn parse_date(text: &str) -> Option<String> {
    let dotted = text.contains('.');
    let parts: Vec<&str> = if dotted {
        text.split('.').collect()
    } else if text.contains('/') {
        text.split('/').collect()
    } else {
        text.split('-').collect()
    };
    let [a, b, c] = parts[..] else { return None };
    let (y, m, d) = if dotted { (c, b, a) } else { (a, b, c) };
    let digits = |s: &str, len: RangeInclusive<usize>| {
        len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(y, 4..=4) || !digits(m, 1..=2) || !digits(d, 1..=2) {
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
    ((1000..=9999).contains(&y) && (1..=days).contains(&d)).then(|| format!("{y}-{m:02}-{d:02}"))
}

/// Appends `rejects` to the JSONL file at `path` (created if missing), one
/// [`Reject`] a line: `{"row":{..},"rule":"..","reason":".."}`.
pub fn write_rejects_jsonl(path: &Path, rejects: &[Reject]) -> io::Result<()> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let mut out = io::BufWriter::new(file);
    for reject in rejects {
        serde_json::to_writer(&mut out, reject)?;
        out.write_all(b"\n")?;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_data()
}

/// Reads back a file [`write_rejects_jsonl`] wrote.
pub fn read_rejects_jsonl(path: &Path) -> io::Result<Vec<Reject>> {
    let file = std::fs::File::open(path)?;
    io::BufReader::new(file)
        .lines()
        .filter(|line| line.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .map(|line| Ok(serde_json::from_str(&line?)?))
        .collect()
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
    fn cleaning_steps_rewrite_fields_and_drop_empty_ones() {
        let rules = Rules::new()
            .trim("name")
            .title_case("name")
            .trim("email")
            .lowercase("email")
            .trim("country")
            .uppercase("country")
            .trim("note");
        let cleaned = rules
            .check(row(&[
                ("name", "  ALICE  van DIJK "),
                ("email", " Alice@Example.COM "),
                ("country", " de"),
                ("note", "   "),
            ]))
            .unwrap();
        assert_eq!(
            cleaned,
            row(&[
                ("name", "Alice Van Dijk"),
                ("email", "alice@example.com"),
                ("country", "DE"),
            ])
        );
        // A cleaning step on an absent field does nothing.
        assert_eq!(rules.check(Row::new()).unwrap(), Row::new());
    }

    #[test]
    fn required_rejects_missing_and_blank_fields() {
        let rules = Rules::new().required("id");
        let reject = rules.check(row(&[("name", "x")])).unwrap_err();
        assert_eq!(reject.rule, "required(id)");
        assert_eq!(reject.reason, "missing");
        assert_eq!(reject.row, row(&[("name", "x")]));
        let reject = rules.check(row(&[("id", "  ")])).unwrap_err();
        assert_eq!(reject.reason, "blank");
        assert!(rules.check(row(&[("id", "1")])).is_ok());
        // After `trim`, a blank field is gone: `required` says "missing".
        let trimmed = Rules::new().trim("id").required("id");
        assert_eq!(
            trimmed.check(row(&[("id", " ")])).unwrap_err().reason,
            "missing"
        );
    }

    #[test]
    fn email_checks_only_present_fields() {
        let rules = Rules::new().email("email");
        assert!(rules.check(Row::new()).is_ok());
        assert!(rules.check(row(&[("email", "a.b@example.com")])).is_ok());
        for bad in [
            "a.b at example.com",
            "a@",
            "a@b",
            "@b.c",
            "a@@b.c",
            "a b@c.d",
            "a@b..c",
        ] {
            let reject = rules.check(row(&[("email", bad)])).unwrap_err();
            assert_eq!(reject.rule, "email(email)", "{bad}");
            assert_eq!(reject.reason, format!("`{bad}` is not an email address"));
        }
    }

    #[test]
    fn dates_are_real_and_normalised() {
        let rules = Rules::new().date("d");
        let date = |text: &str| {
            rules
                .check(row(&[("d", text)]))
                .map(|r| r["d"].clone())
                .map_err(|e| e.rule)
        };
        assert_eq!(date("2024-03-05").unwrap(), "2024-03-05");
        assert_eq!(date("2024/2/29").unwrap(), "2024-02-29");
        assert_eq!(date("05.03.2024").unwrap(), "2024-03-05");
        assert_eq!(date("2000-02-29").unwrap(), "2000-02-29");
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "2024-04-31",
            "2024-13-01",
            "2024-00-10",
            "0999-01-01",
            "2024-1-1-1",
            "24-01-01",
            "2024-+1-01",
            "2024/01-01",
            "yesterday",
        ] {
            assert_eq!(date(bad).unwrap_err(), "date(d)", "{bad}");
        }
    }

    #[test]
    fn integers_are_parsed_ranged_and_normalised() {
        let rules = Rules::new().trim("n").integer("n", -5..=120);
        let n = |text: &str| rules.check(row(&[("n", text)]));
        assert_eq!(n(" +007 ").unwrap()["n"], "7");
        assert_eq!(n("-5").unwrap()["n"], "-5");
        assert_eq!(n("120").unwrap()["n"], "120");
        assert_eq!(n("121").unwrap_err().reason, "121 is outside -5..=120");
        assert_eq!(n("-6").unwrap_err().rule, "integer(n)");
        assert_eq!(n("1.5").unwrap_err().reason, "`1.5` is not an integer");
        assert_eq!(
            n("99999999999999999999").unwrap_err().reason,
            "`99999999999999999999` is not an integer"
        );
    }

    #[test]
    fn one_of_max_len_and_custom_checks() {
        let rules = Rules::new()
            .one_of("plan", &["free", "pro"])
            .max_len("name", 5)
            .custom("even", "n", |v| match v.parse::<u32>() {
                Ok(n) if n % 2 == 0 => Ok((n / 2).to_string()),
                _ => Err(format!("`{v}` is not even")),
            });
        let ok = rules
            .check(row(&[("plan", "pro"), ("name", "Chloé"), ("n", "8")]))
            .unwrap();
        assert_eq!(ok["n"], "4", "a custom check may rewrite the field");
        let reject = rules.check(row(&[("plan", "Pro")])).unwrap_err();
        assert_eq!(
            (reject.rule.as_str(), reject.reason.as_str()),
            ("one_of(plan)", "`Pro` is not one of free, pro")
        );
        let reject = rules.check(row(&[("name", "Chloé!")])).unwrap_err();
        assert_eq!(
            (reject.rule.as_str(), reject.reason.as_str()),
            ("max_len(name)", "6 characters, more than 5")
        );
        let reject = rules.check(row(&[("n", "7")])).unwrap_err();
        assert_eq!(
            (reject.rule.as_str(), reject.reason.as_str()),
            ("even(n)", "`7` is not even")
        );
    }

    #[test]
    fn the_first_failing_rule_rejects_and_keeps_the_original_row() {
        let rules = Rules::new()
            .trim("email")
            .required("email")
            .email("email")
            .required("id");
        let input = row(&[("email", " nope ")]);
        let reject = rules.check(input.clone()).unwrap_err();
        assert_eq!(reject.rule, "email(email)");
        assert_eq!(reject.reason, "`nope` is not an email address");
        assert_eq!(reject.row, input, "the row as it came in");
    }

    #[test]
    fn clean_dedupes_by_key_among_kept_rows_and_summarises() {
        let rules = Rules::new()
            .trim("id")
            .required("id")
            .integer("id", 1..=i64::MAX)
            .email("email")
            .dedupe_by("id");
        let rows = vec![
            row(&[("id", "1"), ("email", "a@x.org")]),
            row(&[("id", " 1 "), ("email", "b@x.org")]), // same key once trimmed
            row(&[("id", "2"), ("email", "bad")]),       // rejected: its key is not taken
            row(&[("id", "2"), ("email", "c@x.org")]),
            row(&[("email", "d@x.org")]),
            row(&[("id", "01"), ("email", "e@x.org")]), // "01" is 1 once normalised
        ];
        let cleaned = rules.clean(rows);
        let ids: Vec<&str> = cleaned.kept.iter().map(|r| r["id"].as_str()).collect();
        assert_eq!(ids, ["1", "2"]);
        let rejected: Vec<(&str, &str)> = cleaned
            .rejects
            .iter()
            .map(|r| (r.rule.as_str(), r.row.get("email").unwrap().as_str()))
            .collect();
        assert_eq!(
            rejected,
            [
                ("dedupe_by(id)", "b@x.org"),
                ("email(email)", "bad"),
                ("required(id)", "d@x.org"),
                ("dedupe_by(id)", "e@x.org"),
            ]
        );
        assert_eq!(cleaned.rejects[0].reason, "`1` repeats an earlier row's id");
        assert_eq!(cleaned.summary.passed, 2);
        assert_eq!(cleaned.summary.total_rejected(), 4);
        assert_eq!(cleaned.summary.rejected["dedupe_by(id)"], 2);
        // `check` alone does not dedupe.
        assert!(rules.check(row(&[("id", "1")])).is_ok());
        assert!(rules.check(row(&[("id", "1")])).is_ok());
    }

    #[test]
    fn summaries_merge() {
        let mut a = Summary {
            passed: 3,
            rejected: BTreeMap::from([("email(email)".to_owned(), 2)]),
        };
        let b = Summary {
            passed: 1,
            rejected: BTreeMap::from([
                ("email(email)".to_owned(), 1),
                ("required(id)".to_owned(), 4),
            ]),
        };
        a.merge(&b);
        assert_eq!(a.passed, 4);
        assert_eq!(a.rejected["email(email)"], 3);
        assert_eq!(a.rejected["required(id)"], 4);
        assert_eq!(a.total_rejected(), 7);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Summary>(&json).unwrap(), a);
    }

    #[test]
    fn rejects_are_appended_to_a_jsonl_file() {
        let dir = std::env::temp_dir().join(format!(
            "reprise-validation-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rejects.jsonl");
        let rules = Rules::new().required("id").email("email");
        let first = rules.clean([row(&[("email", "x@y.z")])]);
        let second = rules.clean([row(&[("id", "1"), ("email", "no \"at\"")])]);
        write_rejects_jsonl(&path, &first.rejects).unwrap();
        write_rejects_jsonl(&path, &second.rejects).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert_eq!(
            text.lines().next().unwrap(),
            r#"{"row":{"email":"x@y.z"},"rule":"required(id)","reason":"missing"}"#
        );
        let back = read_rejects_jsonl(&path).unwrap();
        let all: Vec<Reject> = first.rejects.into_iter().chain(second.rejects).collect();
        assert_eq!(back, all);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
