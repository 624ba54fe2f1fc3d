//! Keeping the password of the URL out of error messages, log lines and
//! `Debug` output.

/// `message` with every secret replaced.
pub(super) fn scrub(message: &str, secrets: &[String]) -> String {
    let mut message = message.to_owned();
    for secret in secrets {
        // Too short a secret would blank ordinary letters out.
        if secret.chars().count() >= 3 {
            message = message.replace(secret.as_str(), "***");
        }
    }
    message
}

/// The passwords a URL (or `key=value` string) may carry, as written and
/// percent-decoded.
pub(super) fn url_secrets(url: &str) -> Vec<String> {
    let mut secrets = Vec::new();
    let mut push = |raw: &str| {
        if raw.is_empty() {
            return;
        }
        secrets.push(raw.to_owned());
        let decoded = percent_decode(raw);
        if decoded != raw {
            secrets.push(decoded);
        }
    };
    if let Some((_, rest)) = url.split_once("://") {
        if let Some((credentials, _)) = rest.split_once('@') {
            if let Some((_, password)) = credentials.split_once(':') {
                push(password);
            }
        }
        if let Some((_, params)) = rest.split_once('?') {
            for param in params.split('&') {
                if let Some(password) = param.strip_prefix("password=") {
                    push(password);
                }
            }
        }
    } else {
        for word in url.split_whitespace() {
            if let Some(password) = word.strip_prefix("password=") {
                push(password.trim_matches('\''));
            }
        }
    }
    secrets
}

/// `%XX` sequences decoded (lossily), for [`url_secrets`].
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The URL with its password (in the credentials or a `password`
/// parameter) replaced by `***`, for `Debug`.
pub(super) fn redact(url: &str) -> String {
    let mut redacted = url.to_owned();
    for secret in url_secrets(url) {
        if !secret.is_empty() {
            redacted = redacted.replace(&format!(":{secret}@"), ":***@");
            redacted = redacted.replace(&format!("password={secret}"), "password=***");
            redacted = redacted.replace(&format!("password='{secret}'"), "password=***");
        }
    }
    redacted
}
