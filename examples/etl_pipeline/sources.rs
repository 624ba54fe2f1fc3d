//! The three real sources of the ETL example, made on first run from one
//! deterministic generator (a 64-bit LCG seeded with a constant, so every
//! run sees the same records):
//!
//! - `source.db`: a SQLite database with a `crm_customers` table;
//! - an HTTP API, `GET /api/customers?page=N&per_page=M`, served by this
//!   process on 127.0.0.1 from memory;
//! - `customers.csv`: a CSV export.
//!
//! About 12 000 records in all, dirty on purpose: whitespace and case noise,
//! bad and missing emails, amounts such as `$1,234.50` or `n/a`, dates in
//! three formats (and some impossible ones), ids present in two sources
//! (resolved by `updated_at`), rows repeated in the CSV file, a few API
//! records without an id, and a broken stretch of the CSV export (ids
//! 7001–7600) whose columns are shifted by one.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A record as a source holds it: every field a string, any may be missing.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RawRecord {
    pub(crate) id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) country: Option<String>,
    pub(crate) amount: Option<String>,
    pub(crate) signup_date: Option<String>,
    pub(crate) updated_at: Option<String>,
}

/// What the generator puts in each source.
#[derive(Debug, Default)]
pub(crate) struct Dataset {
    pub(crate) database: Vec<RawRecord>,
    pub(crate) api: Vec<RawRecord>,
    pub(crate) file: Vec<RawRecord>,
}

/// Distinct customer ids; about 6% of them also appear in a second source.
const CUSTOMERS: u64 = 11_400;
/// Ids the broken stretch of the CSV export holds, columns shifted.
const BROKEN_EXPORT: std::ops::RangeInclusive<u64> = 7001..=7600;

const FIRST: [&str; 16] = [
    "alice", "bruno", "chloé", "dmitri", "emma", "farid", "grace", "hiro", "ines", "jonas",
    "kemal", "lena", "marta", "noah", "olga", "pablo",
];
const LAST: [&str; 16] = [
    "smith",
    "garcía",
    "müller",
    "rossi",
    "nowak",
    "dubois",
    "tanaka",
    "silva",
    "jensen",
    "kowalski",
    "o'brien",
    "van dijk",
    "novak",
    "ivanova",
    "haddad",
    "lindqvist",
];
const DOMAINS: [&str; 5] = [
    "example.com",
    "mail.test",
    "corp.example",
    "post.test",
    "inbox.example",
];
const COUNTRIES: [&str; 8] = ["US", "DE", "FR", "BR", "JP", "PL", "SE", "IN"];

/// Knuth's MMIX LCG; the high bits are the usable ones.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// The civil date `days` days after 1970-01-01 (H. Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn title(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// One customer record, with the noise real exports have.
fn record(rng: &mut Lcg, id: u64, updated_day: i64) -> RawRecord {
    let (first, last) = (rng.pick(&FIRST), rng.pick(&LAST));
    let clean_name = format!("{} {}", title(first), title(last));
    let name = match rng.below(100) {
        0..=19 => Some(format!("  {}  ", clean_name.to_uppercase())),
        20..=34 => Some(clean_name.to_lowercase()),
        35..=36 => None,
        _ => Some(clean_name),
    };
    let local = format!("{}.{}{}", first, last.replace([' ', '\''], ""), id % 97);
    let domain = rng.pick(&DOMAINS);
    let email = match rng.below(100) {
        0..=14 => Some(format!(
            " {}@{} ",
            local.to_uppercase(),
            domain.to_uppercase()
        )),
        15..=16 => Some(format!("{local} at {domain}")),
        17 => Some(format!("{local}@")),
        18 => None,
        _ => Some(format!("{local}@{domain}")),
    };
    let country = match rng.below(100) {
        0..=9 => Some(format!(" {} ", rng.pick(&COUNTRIES).to_lowercase())),
        10..=14 => None,
        15 => Some("Deutschland".to_owned()),
        _ => Some(rng.pick(&COUNTRIES).to_owned()),
    };
    let cents = rng.below(500_000);
    let amount = match rng.below(1000) {
        0..=99 => {
            let units = cents / 100;
            let grouped = if units >= 1000 {
                format!("{},{:03}", units / 1000, units % 1000)
            } else {
                units.to_string()
            };
            Some(format!("${grouped}.{:02}", cents % 100))
        }
        100..=114 => Some("n/a".to_owned()),
        115..=124 => None,
        _ => Some(format!("{}.{:02}", cents / 100, cents % 100)),
    };
    let (y, m, d) = civil(16_436 + rng.below(3650) as i64); // from 2015-01-01
    let signup_date = Some(match rng.below(100) {
        0..=14 => format!("{y}/{m:02}/{d:02}"),
        15..=27 => format!("{d:02}.{m:02}.{y}"),
        28 => format!("{y}-02-30"),
        29 => format!("{y}-13-{d:02}"),
        _ => format!("{y}-{m:02}-{d:02}"),
    });
    let (y, m, d) = civil(updated_day);
    let updated_at = Some(format!(
        "{y}-{m:02}-{d:02}T{:02}:{:02}:00Z",
        rng.below(24),
        rng.below(60)
    ));
    RawRecord {
        id: Some(id.to_string()),
        name,
        email,
        country,
        amount,
        signup_date,
        updated_at,
    }
}

/// The records of the three sources. Same output on every call.
pub(crate) fn generate() -> Dataset {
    let mut rng = Lcg(0x5EED_2026);
    let mut data = Dataset::default();
    for id in 1..=CUSTOMERS {
        let updated_day = 20_089 + rng.below(300) as i64; // in 2025
        let mut rec = record(&mut rng, id, updated_day);
        let broken = BROKEN_EXPORT.contains(&id);
        let home = if broken { 2 } else { rng.below(3) };
        if broken {
            // The broken export: every column after the id moved one to the left.
            rec = RawRecord {
                id: rec.id,
                name: rec.email,
                email: rec.country,
                country: rec.amount,
                amount: rec.signup_date,
                signup_date: rec.updated_at.clone(),
                updated_at: rec.updated_at,
            };
        }
        // ~6% of customers are also in another source, updated earlier or later.
        let duplicate = (rng.chance(60) && !broken).then(|| {
            let other = (home + 1 + rng.below(2)) % 3;
            let shift = rng.below(60) as i64 - 30;
            (
                other,
                record(
                    &mut rng,
                    id,
                    updated_day + if shift == 0 { 1 } else { shift },
                ),
            )
        });
        let repeated = home == 2 && rng.chance(10);
        let missing_id = home == 1 && rng.chance(3);
        for (source, mut r) in std::iter::once((home, rec)).chain(duplicate) {
            if source == 1 && missing_id {
                r.id = None;
            }
            let list = match source {
                0 => &mut data.database,
                1 => &mut data.api,
                _ => &mut data.file,
            };
            if source == 2 && repeated {
                list.push(r.clone()); // the export wrote this row twice
            }
            list.push(r);
        }
    }
    data
}

/// Writes `source.db` and `customers.csv` into `dir` unless they exist.
/// Each file is written under a temporary name and renamed, so a kill
/// during the first run never leaves half a source behind.
pub(crate) fn ensure_files(dir: &Path, data: &Dataset) -> Result<(), Box<dyn std::error::Error>> {
    let db_path = dir.join("source.db");
    if !db_path.exists() {
        let tmp = dir.join("source.db.tmp");
        let _ = fs::remove_file(&tmp);
        let mut db = rusqlite::Connection::open(&tmp)?;
        db.execute_batch(
            "CREATE TABLE crm_customers (
                 customer_id INTEGER, full_name TEXT, email TEXT, country TEXT,
                 lifetime_value TEXT, signup_date TEXT, updated_at TEXT)",
        )?;
        let tx = db.transaction()?;
        {
            let mut insert =
                tx.prepare("INSERT INTO crm_customers VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?;
            for r in &data.database {
                let id: Option<i64> = r.id.as_deref().and_then(|s| s.parse().ok());
                insert.execute(rusqlite::params![
                    id,
                    r.name,
                    r.email,
                    r.country,
                    r.amount,
                    r.signup_date,
                    r.updated_at
                ])?;
            }
        }
        tx.commit()?;
        drop(db);
        fs::rename(&tmp, &db_path)?;
    }
    let csv_path = dir.join("customers.csv");
    if !csv_path.exists() {
        let tmp = dir.join("customers.csv.tmp");
        let mut out = csv::Writer::from_path(&tmp)?;
        for r in &data.file {
            out.serialize(r)?;
        }
        out.flush()?;
        drop(out);
        fs::rename(&tmp, &csv_path)?;
    }
    Ok(())
}

/// The API's view of a record: its own field names, the amount a JSON
/// number when it is one.
fn api_json(r: &RawRecord) -> Value {
    let amount = match r.amount.as_deref() {
        Some(a) => match a.parse::<f64>() {
            Ok(n) if !a.contains(' ') => json!(n),
            _ => json!(a),
        },
        None => Value::Null,
    };
    json!({
        "customer_id": r.id.as_deref().and_then(|s| s.parse::<u64>().ok()),
        "full_name": r.name,
        "contact": { "email": r.email },
        "country": r.country,
        "total_spent": amount,
        "signed_up": r.signup_date,
        "last_modified": r.updated_at,
    })
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<usize>,
    per_page: Option<usize>,
}

async fn customers(
    State(items): State<Arc<Vec<Value>>>,
    Query(q): Query<PageQuery>,
) -> Json<Value> {
    let per_page = q.per_page.unwrap_or(100).clamp(1, 1000);
    let page = q.page.unwrap_or(1).max(1);
    let start = (page - 1).saturating_mul(per_page).min(items.len());
    let end = (start + per_page).min(items.len());
    Json(json!({
        "page": page,
        "per_page": per_page,
        "total": items.len(),
        "items": &items[start..end],
        "next_page": (end < items.len()).then_some(page + 1),
    }))
}

/// Binds the API's listener on 127.0.0.1, on an ephemeral port: the
/// activities get its address from a resource of this process, so a resumed
/// workflow uses the new one.
pub(crate) async fn bind_api() -> io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(("127.0.0.1", 0)).await
}

/// Serves the paginated customers API until the process ends.
pub(crate) fn serve_api(listener: tokio::net::TcpListener, records: &[RawRecord]) {
    let items: Arc<Vec<Value>> = Arc::new(records.iter().map(api_json).collect());
    let app = Router::new()
        .route("/api/customers", get(customers))
        .with_state(items);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("the API server stopped: {e}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_large_enough() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.database, b.database);
        assert_eq!(a.file, b.file);
        assert!(a.database.len() + a.api.len() + a.file.len() > 10_000);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(16_436), (2015, 1, 1));
        assert_eq!(civil(19_782), (2024, 2, 29));
    }
}
