//! The batch import's input: a CSV file of people generated from a seed
//! (the same rows on every machine, a small share of them invalid), cut
//! into chunks of whole lines by byte range, and a chunk read and validated
//! with the shared rules (`shared/validation.rs`).

use std::fs;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use reprise::prelude::*;

use crate::validation::{Reject, Row, Rules, Summary};

/// The file's header, and the fields of every row.
pub(crate) const COLUMNS: [&str; 7] = [
    "id",
    "name",
    "email",
    "country",
    "age",
    "signup_date",
    "amount_cents",
];

/// The countries the target accepts.
pub(crate) const COUNTRIES: [&str; 10] =
    ["US", "DE", "FR", "BR", "JP", "PL", "SE", "IN", "NL", "ES"];

/// The validation rules of an imported row: cleaning first, then checks.
pub(crate) fn rules() -> Rules {
    Rules::new()
        .trim("name")
        .title_case("name")
        .required("name")
        .max_len("name", 80)
        .trim("email")
        .lowercase("email")
        .required("email")
        .email("email")
        .trim("country")
        .uppercase("country")
        .required("country")
        .one_of("country", &COUNTRIES)
        .trim("age")
        .required("age")
        .integer("age", 18..=120)
        .trim("signup_date")
        .required("signup_date")
        .date("signup_date")
        .trim("amount_cents")
        .required("amount_cents")
        .integer("amount_cents", 0..=100_000_000)
}

/// A chunk of the file: data rows `first_row .. first_row + rows` (numbered
/// from 1, the header not counted), which are bytes `start .. end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ChunkRef {
    pub(crate) index: u64,
    pub(crate) first_row: u64,
    pub(crate) rows: u64,
    pub(crate) start: u64,
    pub(crate) end: u64,
}

/// The chunks of a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Plan {
    pub(crate) rows: u64,
    pub(crate) chunks: Vec<ChunkRef>,
}

/// A valid row, cleaned, as the target stores it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Person {
    pub(crate) row_no: i64,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) country: String,
    pub(crate) age: i64,
    pub(crate) signup_date: String,
    pub(crate) amount_cents: i64,
}

/// A rejected row, as the target stores it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RejectedRow {
    pub(crate) row_no: i64,
    pub(crate) rule: String,
    pub(crate) reason: String,
    /// The row's fields as JSON, as read from the file.
    pub(crate) record: String,
}

/// A chunk read and validated.
#[derive(Debug, Default)]
pub(crate) struct Validated {
    pub(crate) people: Vec<Person>,
    pub(crate) rejects: Vec<RejectedRow>,
    pub(crate) summary: Summary,
}

/// Knuth's MMIX LCG; the high bits are the usable ones.
struct Lcg(u64);

impl Lcg {
    /// The next 31 high bits.
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// One of `items`.
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// First names of the generated people.
const FIRST: [&str; 16] = [
    "alice", "bruno", "chen", "dana", "emil", "fatima", "goran", "hana", "ines", "jonas", "kemal",
    "lena", "marta", "noah", "olga", "pablo",
];
/// Last names of the generated people.
const LAST: [&str; 12] = [
    "smith",
    "garcía",
    "müller",
    "rossi",
    "nowak",
    "dubois",
    "tanaka",
    "silva",
    "o'brien",
    "van dijk",
    "haddad",
    "lindqvist",
];
/// E-mail domains of the generated people.
const DOMAINS: [&str; 4] = ["example.com", "mail.test", "corp.example", "post.test"];

/// Row `id` of the file, from the generator's state: mostly valid with the
/// usual noise (case, spaces, date formats), about 1 % invalid.
fn row(rng: &mut Lcg, id: u64) -> [String; 7] {
    let (first, last) = (rng.pick(&FIRST), rng.pick(&LAST));
    let bad = rng.below(10_000);
    let name = match (bad, rng.below(10)) {
        (0..=19, _) => String::new(),
        (20..=24, _) => format!("{first} {}", "very-long-name-".repeat(6)),
        (_, 0..=1) => format!("  {}  {} ", first.to_uppercase(), last.to_uppercase()),
        (_, 2..=3) => format!("{first} {last}"),
        _ => format!("{} {}", title(first), title(last)),
    };
    let local = format!("{first}.{}{}", last.replace([' ', '\''], ""), id % 997);
    let domain = rng.pick(&DOMAINS);
    let email = match (bad, rng.below(10)) {
        (25..=54, _) => format!("{local} at {domain}"),
        (_, 0) => format!(" {}@{} ", local.to_uppercase(), domain.to_uppercase()),
        _ => format!("{local}@{domain}"),
    };
    let country = match (bad, rng.below(10)) {
        (55..=69, _) => "Atlantis".to_owned(),
        (_, 0) => format!(" {} ", rng.pick(&COUNTRIES).to_lowercase()),
        _ => rng.pick(&COUNTRIES).to_owned(),
    };
    let age = match bad {
        70..=79 => (rng.below(17) + 1).to_string(),
        80..=89 => "n/a".to_owned(),
        _ => (18 + rng.below(70)).to_string(),
    };
    let (y, m, d) = (2015 + rng.below(11), 1 + rng.below(12), 1 + rng.below(28));
    let signup_date = match (bad, rng.below(10)) {
        (90..=99, _) => format!("{y}-02-30"),
        (100..=109, _) => format!("{y}-13-{d:02}"),
        (_, 0) => format!("{y}/{m:02}/{d:02}"),
        (_, 1) => format!("{d:02}.{m:02}.{y}"),
        _ => format!("{y}-{m:02}-{d:02}"),
    };
    let amount_cents = match bad {
        110..=114 => "-250".to_owned(),
        _ => rng.below(5_000_000).to_string(),
    };
    [
        id.to_string(),
        name,
        email,
        country,
        age,
        signup_date,
        amount_cents,
    ]
}

/// `word` with its first letter in upper case.
fn title(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Writes the file of `rows` rows at `path` unless it exists, under a
/// temporary name renamed at the end: a kill never leaves half a file. Row
/// `n` is the same in files of every size.
pub(crate) fn ensure_file(path: &Path, rows: u64) -> Result<bool, Box<dyn std::error::Error>> {
    if path.exists() {
        return Ok(false);
    }
    let tmp = path.with_extension("csv.tmp");
    let mut out = csv::Writer::from_writer(std::io::BufWriter::new(fs::File::create(&tmp)?));
    out.write_record(COLUMNS)?;
    let mut rng = Lcg(0x1A2B_2026);
    for id in 1..=rows {
        out.write_record(row(&mut rng, id))?;
    }
    out.into_inner()
        .map_err(|e| e.into_error())?
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    fs::rename(&tmp, path)?;
    Ok(true)
}

/// Cuts the file into chunks of `chunk_size` lines: one pass over it,
/// noting where every chunk's first line starts. A line is a row (the
/// generator writes no line breaks inside fields; `read_chunk` checks it).
pub(crate) fn plan(path: &Path, chunk_size: u64) -> Result<Plan, ActivityError> {
    let mut file = BufReader::with_capacity(1 << 20, fs::File::open(path)?);
    let mut line = Vec::new();
    file.read_until(b'\n', &mut line)?;
    let header = String::from_utf8_lossy(&line);
    if header.trim_end() != COLUMNS.join(",") {
        return Err(ActivityError::non_retryable(
            "BadFile",
            format!(
                "{}: the header is {:?}, not {:?}",
                path.display(),
                header.trim_end(),
                COLUMNS.join(",")
            ),
        ));
    }
    let mut offset = line.len() as u64;
    let mut chunks: Vec<ChunkRef> = Vec::new();
    let mut rows = 0;
    loop {
        line.clear();
        let n = file.read_until(b'\n', &mut line)? as u64;
        if n == 0 {
            break;
        }
        if rows % chunk_size == 0 {
            chunks.push(ChunkRef {
                index: chunks.len() as u64,
                first_row: rows + 1,
                rows: 0,
                start: offset,
                end: offset,
            });
        }
        let chunk = chunks.last_mut().expect("a chunk was just pushed");
        chunk.rows += 1;
        offset += n;
        chunk.end = offset;
        rows += 1;
    }
    Ok(Plan { rows, chunks })
}

/// Reads a chunk's bytes and validates its rows. Row numbers come from the
/// chunk's place in the file, and each row's `id` must be its number: a
/// file changed since its plan fails, never retried.
pub(crate) fn read_chunk(path: &Path, chunk: ChunkRef) -> Result<Validated, ActivityError> {
    let mut file = fs::File::open(path)?;
    file.seek(SeekFrom::Start(chunk.start))?;
    let mut bytes = vec![0; (chunk.end - chunk.start) as usize];
    file.read_exact(&mut bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&bytes[..]);
    let rules = rules();
    let changed = |what: String| {
        ActivityError::non_retryable(
            "FileChanged",
            format!(
                "{} chunk {} (rows {}..{}): {what}; the file changed since it was planned",
                path.display(),
                chunk.index,
                chunk.first_row,
                chunk.first_row + chunk.rows
            ),
        )
    };
    let mut out = Validated::default();
    let mut row_no = chunk.first_row as i64;
    for record in reader.records() {
        let record = record?;
        if record.get(0) != Some(row_no.to_string().as_str()) {
            return Err(changed(format!(
                "row {row_no} has id {:?}",
                record.get(0).unwrap_or("")
            )));
        }
        let fields: Row = COLUMNS
            .iter()
            .zip(record.iter())
            .map(|(k, v)| ((*k).to_owned(), v.to_owned()))
            .collect();
        let outcome = if record.len() == COLUMNS.len() {
            rules.check(fields)
        } else {
            Err(Reject {
                reason: format!("{} fields, not {}", record.len(), COLUMNS.len()),
                row: fields,
                rule: "columns".to_owned(),
            })
        };
        match outcome {
            Ok(r) => {
                out.summary.passed += 1;
                out.people.push(person(row_no, r)?);
            }
            Err(r) => {
                out.summary.reject(&r.rule);
                out.rejects.push(RejectedRow {
                    row_no,
                    rule: r.rule,
                    reason: r.reason,
                    record: serde_json::to_string(&r.row)?,
                });
            }
        }
        row_no += 1;
    }
    let read = row_no as u64 - chunk.first_row;
    if read != chunk.rows {
        return Err(changed(format!("{read} rows read, {} planned", chunk.rows)));
    }
    Ok(out)
}

/// The typed row of a row that passed the rules.
fn person(row_no: i64, mut r: Row) -> Result<Person, ActivityError> {
    let mut take = |field: &str| r.remove(field).unwrap_or_default();
    Ok(Person {
        row_no,
        name: take("name"),
        email: take("email"),
        country: take("country"),
        age: take("age").parse()?,
        signup_date: take("signup_date"),
        amount_cents: take("amount_cents").parse()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_the_same_in_files_of_every_size_and_some_are_invalid() {
        let dir = std::env::temp_dir().join(format!("batch-import-unit-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let (small, large) = (dir.join("small.csv"), dir.join("large.csv"));
        ensure_file(&small, 3_000).unwrap();
        ensure_file(&large, 5_000).unwrap();
        let (small_text, large_text) = (
            fs::read_to_string(&small).unwrap(),
            fs::read_to_string(&large).unwrap(),
        );
        assert!(large_text.starts_with(&small_text));
        let plan = plan(&large, 1_000).unwrap();
        assert_eq!(plan.rows, 5_000);
        assert_eq!(plan.chunks.len(), 5);
        let mut total = Summary::default();
        for chunk in &plan.chunks {
            let v = read_chunk(&large, *chunk).unwrap();
            assert_eq!(v.people.len() + v.rejects.len(), 1_000);
            total.merge(&v.summary);
        }
        assert!(
            total.total_rejected() > 20 && total.total_rejected() < 150,
            "{total:?}"
        );
        assert!(
            total.rejected.len() >= 5,
            "several rules reject rows: {total:?}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
