//! Validation and cleaning of the ETL example's records: plain functions,
//! unit-tested below. An invalid record is a non-retryable `ValidationError`.

use reprise::ActivityError;

use crate::sources::RawRecord;
use crate::VALIDATION;

/// A record that passed validation, cleaned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Customer {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) country: Option<String>,
    pub(crate) amount_cents: i64,
    pub(crate) signup_date: String,
    pub(crate) updated_at: String,
}

/// Cleans a raw record, or says why it is invalid with a non-retryable
/// `ValidationError`.
pub(crate) fn validate(raw: &RawRecord) -> Result<Customer, ActivityError> {
    let invalid = |reason: String| ActivityError::non_retryable(VALIDATION, reason);
    let id = field(&raw.id).ok_or_else(|| invalid("missing id".into()))?;
    let id = id
        .parse::<i64>()
        .map_err(|_| invalid(format!("id `{id}` is not an integer")))?;
    let name = field(&raw.name).ok_or_else(|| invalid("missing name".into()))?;
    let name = normalize_name(name);
    let email = field(&raw.email)
        .ok_or_else(|| invalid("missing email".into()))?
        .to_lowercase();
    if !is_email(&email) {
        return Err(invalid(format!("bad email `{email}`")));
    }
    let country = match field(&raw.country) {
        None => None,
        Some(c) if c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic()) => {
            Some(c.to_ascii_uppercase())
        }
        Some(c) => return Err(invalid(format!("country `{c}` is not an ISO 3166 code"))),
    };
    let amount = field(&raw.amount).ok_or_else(|| invalid("missing amount".into()))?;
    let amount_cents =
        parse_amount(amount).ok_or_else(|| invalid(format!("bad amount `{amount}`")))?;
    let date = field(&raw.signup_date).ok_or_else(|| invalid("missing signup date".into()))?;
    let signup_date =
        parse_date(date).ok_or_else(|| invalid(format!("bad signup date `{date}`")))?;
    let updated_at = field(&raw.updated_at).ok_or_else(|| invalid("missing updated_at".into()))?;
    Ok(Customer {
        id,
        name,
        email,
        country,
        amount_cents,
        signup_date,
        updated_at: updated_at.to_owned(),
    })
}

/// A present, non-blank field, trimmed.
fn field(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `"  ALICE  van DIJK "` → `"Alice Van Dijk"`.
fn normalize_name(name: &str) -> String {
    name.split_whitespace()
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

/// One `@`, a non-empty local part, a dotted domain, no spaces.
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

/// `"1234.5"`, `"$1,234.50"` → cents; `None` for anything else.
fn parse_amount(text: &str) -> Option<i64> {
    let text = text.strip_prefix('$').unwrap_or(text).replace(',', "");
    let (units, cents) = text.split_once('.').unwrap_or((&text, "0"));
    if units.is_empty()
        || cents.len() > 2
        || ![units, cents]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let cents = if cents.len() == 1 {
        format!("{cents}0")
    } else {
        cents.to_owned()
    };
    Some(units.parse::<i64>().ok()? * 100 + cents.parse::<i64>().ok()?)
}

/// `YYYY-MM-DD`, `YYYY/MM/DD` or `DD.MM.YYYY` → `YYYY-MM-DD`, if the day exists.
fn parse_date(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split(['-', '/', '.']).collect();
    let [a, b, c] = parts[..] else { return None };
    let (y, m, d) = if text.contains('.') {
        (c, b, a)
    } else {
        (a, b, c)
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::RawRecord;

    #[test]
    fn cleaning() {
        assert_eq!(normalize_name("  ALICE  van DIJK "), "Alice Van Dijk");
        assert_eq!(parse_amount("$1,234.5"), Some(123_450));
        assert_eq!(parse_amount("12"), Some(1200));
        assert_eq!(parse_amount("n/a"), None);
        assert_eq!(parse_date("05.03.2024").as_deref(), Some("2024-03-05"));
        assert_eq!(parse_date("2024/02/29").as_deref(), Some("2024-02-29"));
        assert_eq!(parse_date("2023-02-29"), None);
        assert!(is_email("a.b@example.com"));
        assert!(!is_email("a.b at example.com") && !is_email("a@") && !is_email("a@b"));
    }

    #[test]
    fn invalid_records_are_non_retryable_validation_errors() {
        let raw = RawRecord {
            id: Some("7".into()),
            name: Some(" bob ".into()),
            email: Some("bob@".into()),
            ..RawRecord::default()
        };
        let e = validate(&raw).unwrap_err();
        assert_eq!(e.kind(), VALIDATION);
        assert!(e.is_non_retryable());
    }
}
