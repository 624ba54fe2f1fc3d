//! The cleaning rules of the ETL example's records, written with the rule
//! set the pipeline examples share (`examples/shared/validation.rs`), and
//! the typed record a valid one becomes. Unit-tested below.

use crate::sources::RawRecord;
use crate::validation::{Reject, Row, Rules};

/// The rule name of the records of a batch rejected whole (too many of its
/// records are invalid): they are valid on their own.
pub(crate) const WHOLE_BATCH_RULE: &str = "max_invalid_ratio(batch)";

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

/// The rules of a customer record: every field trimmed; a positive integer
/// id; a name in title case; a lowercase email of a valid shape (and at most
/// 254 characters, the SMTP limit); an optional ISO 3166 alpha-2 country in
/// upper case; an amount turned into cents; a real signup date, written
/// `YYYY-MM-DD`; an `updated_at`.
pub(crate) fn rules() -> Rules {
    Rules::new()
        .trim("id")
        .required("id")
        .integer("id", 1..=i64::MAX)
        .trim("name")
        .required("name")
        .title_case("name")
        .trim("email")
        .required("email")
        .lowercase("email")
        .email("email")
        .max_len("email", 254)
        .trim("country")
        .uppercase("country")
        .custom("iso_country", "country", iso_country)
        .trim("amount")
        .required("amount")
        .custom("money", "amount", amount_cents)
        .trim("signup_date")
        .required("signup_date")
        .date("signup_date")
        .trim("updated_at")
        .required("updated_at")
}

/// A source record as a row of the rule set: its present fields.
pub(crate) fn to_row(raw: &RawRecord) -> Row {
    [
        ("id", &raw.id),
        ("name", &raw.name),
        ("email", &raw.email),
        ("country", &raw.country),
        ("amount", &raw.amount),
        ("signup_date", &raw.signup_date),
        ("updated_at", &raw.updated_at),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name.to_owned(), value.clone()?)))
    .collect()
}

/// Cleans and checks a raw record with `rules` (those of [`rules`]): the
/// customer, or the reject naming the rule it broke.
pub(crate) fn validate(rules: &Rules, raw: &RawRecord) -> Result<Customer, Reject> {
    let row = rules.check(to_row(raw))?;
    // The rules have made every required field present and well-formed.
    let text = |name: &str| row.get(name).cloned().unwrap_or_default();
    Ok(Customer {
        id: text("id").parse().expect("`integer(id)` passed"),
        name: text("name"),
        email: text("email"),
        country: row.get("country").cloned(),
        amount_cents: text("amount").parse().expect("`money(amount)` passed"),
        signup_date: text("signup_date"),
        updated_at: text("updated_at"),
    })
}

/// Two ASCII letters (the field is uppercased before).
fn iso_country(code: &str) -> Result<String, String> {
    if code.len() == 2 && code.chars().all(|c| c.is_ascii_alphabetic()) {
        Ok(code.to_owned())
    } else {
        Err(format!("`{code}` is not an ISO 3166 alpha-2 code"))
    }
}

/// `"1234.5"`, `"$1,234.50"` → cents, as text.
fn amount_cents(text: &str) -> Result<String, String> {
    parse_amount(text)
        .map(|cents| cents.to_string())
        .ok_or_else(|| format!("`{text}` is not an amount such as 1234.50 or $1,234.50"))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A record of its seven fields, in `RawRecord`'s order.
    fn raw(fields: [Option<&str>; 7]) -> RawRecord {
        let [id, name, email, country, amount, signup_date, updated_at] =
            fields.map(|f| f.map(str::to_owned));
        RawRecord {
            id,
            name,
            email,
            country,
            amount,
            signup_date,
            updated_at,
        }
    }

    #[test]
    fn a_dirty_record_is_cleaned() {
        let record = raw([
            Some(" 42 "),
            Some("  ALICE  van DIJK "),
            Some(" Alice.VanDijk@Example.COM "),
            Some("de"),
            Some("$1,234.5"),
            Some("05.03.2024"),
            Some("2025-01-02T03:04:00Z"),
        ]);
        let customer = validate(&rules(), &record).unwrap();
        assert_eq!(
            customer,
            Customer {
                id: 42,
                name: "Alice Van Dijk".into(),
                email: "alice.vandijk@example.com".into(),
                country: Some("DE".into()),
                amount_cents: 123_450,
                signup_date: "2024-03-05".into(),
                updated_at: "2025-01-02T03:04:00Z".into(),
            }
        );
        let no_country = raw([
            Some("7"),
            Some("bob"),
            Some("b@x.org"),
            Some("  "),
            Some("12"),
            Some("2024/02/29"),
            Some("t"),
        ]);
        let customer = validate(&rules(), &no_country).unwrap();
        assert_eq!((customer.country, customer.amount_cents), (None, 1200));
    }

    #[test]
    fn an_invalid_record_names_its_rule() {
        let base = [
            Some("7"),
            Some("bob"),
            Some("b@x.org"),
            Some("US"),
            Some("12"),
            Some("2024-01-31"),
            Some("t"),
        ];
        let rule = |field: usize, value: Option<&str>| {
            let mut fields = base;
            fields[field] = value;
            validate(&rules(), &raw(fields)).unwrap_err().rule
        };
        assert_eq!(rule(0, None), "required(id)");
        assert_eq!(rule(0, Some("x7")), "integer(id)");
        assert_eq!(rule(0, Some("0")), "integer(id)");
        assert_eq!(rule(1, Some("   ")), "required(name)");
        assert_eq!(rule(2, Some("bob at x.org")), "email(email)");
        assert_eq!(rule(3, Some("Germany")), "iso_country(country)");
        assert_eq!(rule(4, Some("n/a")), "money(amount)");
        assert_eq!(rule(4, Some("1.234")), "money(amount)");
        assert_eq!(rule(5, Some("2021-02-30")), "date(signup_date)");
        assert_eq!(rule(6, None), "required(updated_at)");
        let reject = validate(&rules(), &raw([None; 7])).unwrap_err();
        assert_eq!(reject.row, Row::new(), "the record as it came in");
    }

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("$1,234.5"), Some(123_450));
        assert_eq!(parse_amount("12"), Some(1200));
        assert_eq!(parse_amount("0.07"), Some(7));
        assert_eq!(parse_amount("n/a"), None);
        assert_eq!(parse_amount(".5"), None);
        assert_eq!(parse_amount("-3"), None);
    }
}
