//! `reprise ui`: the web UI, served on 127.0.0.1.
//!
//! One process serves three things from one router:
//!
//! - the pages: `/` (the list) and `/workflow?id=ID[&run=RUN]` (a
//!   workflow), both the same `index.html`, drawn by `app.js` from the JSON
//!   API; the assets are compiled in (`include_str!`), nothing is fetched
//!   from elsewhere;
//! - the JSON API that reads (`api.rs`): `GET /api/workflows` (a page of the
//!   list), `GET /api/workflows/{id}` (describe), `GET
//!   /api/workflows/{id}/timeline` (a window of a run's steps);
//! - the actions (`actions.rs`): `POST /api/workflows/{id}/{signal, cancel,
//!   terminate, resume}` and `POST /api/bulk/{action}` for every workflow
//!   that matches a filter.
//!
//! Every error is `4xx`/`5xx` with a body `{"error": "one line"}`.
//! `docs/WEB_UI.md` is the manual.
//!
//! Safety basics: the socket is bound to 127.0.0.1 only; a request whose
//! `Host` is not a loopback name is refused (a DNS-rebinding page cannot
//! reach the API); a POST must carry `Content-Type: application/json` (a
//! plain cross-site form cannot send one) and, if it has an `Origin`, it
//! must be this server's; the pages build their DOM with `textContent`
//! and run under a Content-Security-Policy that allows only this origin.

mod actions;
mod api;
mod error;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use reprise::Runtime;

use crate::error::CliError;
use error::ApiError;

/// What every handler shares: the client runtime over the store.
pub(crate) type Shared = Arc<Runtime>;

/// Serves the UI on `127.0.0.1:port` (`0`: a free port) until SIGINT or
/// SIGTERM, printing `reprise UI on http://127.0.0.1:PORT` once it listens.
pub(crate) async fn serve(rt: Runtime, port: u16) -> Result<(), CliError> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| CliError::Other(format!("cannot listen on {address}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| CliError::Other(format!("cannot listen on {address}: {e}")))?;
    // Not `println!`: a closed standard output must not stop the server.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "reprise UI on http://{bound}");
        let _ = out.flush();
    }
    let rt = Arc::new(rt);
    let served = axum::serve(listener, router(rt.clone()))
        .with_graceful_shutdown(stop_requested())
        .await;
    // Every handler has ended: the runtime is ours again, to close.
    if let Ok(rt) = Arc::try_unwrap(rt) {
        rt.shutdown().await?;
    }
    served.map_err(|e| CliError::Other(format!("the web UI stopped: {e}")))
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn stop_requested() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    () = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => interrupt.await,
        }
    }
    #[cfg(not(unix))]
    interrupt.await;
}

/// The pages, the API and the actions, behind the request checks.
pub(crate) fn router(rt: Shared) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/workflow", get(page))
        .route("/app.js", get(script))
        .route("/style.css", get(style))
        .route("/favicon.svg", get(icon))
        .route("/api/workflows", get(api::list))
        .route("/api/workflows/{id}", get(api::describe))
        .route("/api/workflows/{id}/timeline", get(api::timeline))
        .route("/api/workflows/{id}/{action}", post(actions::one))
        .route("/api/bulk/{action}", post(actions::bulk))
        .fallback(not_found)
        .layer(middleware::from_fn(checks))
        .with_state(rt)
}

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");
const FAVICON_SVG: &str = include_str!("assets/favicon.svg");

/// Only this origin's scripts, styles, images and requests; no frames, no
/// plugins, no form posts elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn page() -> Response {
    let mut response = asset("text/html; charset=utf-8", INDEX_HTML);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

async fn icon() -> Response {
    asset("image/svg+xml", FAVICON_SVG)
}

async fn not_found(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no such page: {}", request.uri().path()),
    )
}

/// The checks every request passes: a loopback `Host`; for a POST, a JSON
/// body and no foreign `Origin`. Every response says `nosniff`, and
/// `no-referrer`.
async fn checks(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let refused = if !is_loopback_host(&host) {
        Some(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("the web UI answers only to 127.0.0.1 or localhost, not to host `{host}`"),
        ))
    } else if request.method() == Method::POST {
        post_refusal(headers, &host)
    } else {
        None
    };
    let mut response = match refused {
        Some(error) => error.into_response(),
        None => next.run(request).await,
    };
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Why a POST is refused: not JSON, or sent by a page of another origin.
fn post_refusal(headers: &HeaderMap, host: &str) -> Option<ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Some(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "an action takes a JSON body: send it with `Content-Type: application/json`",
        ));
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    match origin {
        Some(origin) if origin.split_once("://").map(|(_, rest)| rest) != Some(host) => {
            Some(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("an action must come from this UI's own pages, not from `{origin}`"),
            ))
        }
        _ => None,
    }
}

/// `127.0.0.1`, `localhost` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    matches!(
        name.to_ascii_lowercase().as_str(),
        "127.0.0.1" | "localhost" | "[::1]"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_are_served() {
        for host in [
            "127.0.0.1:8233",
            "localhost:1",
            "LOCALHOST",
            "[::1]:80",
            "127.0.0.1",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "",
            "evil.example",
            "evil.example:8233",
            "127.0.0.1.evil.example",
            "[::1]x",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn a_post_needs_json_and_its_own_origin() {
        let headers = |pairs: &[(header::HeaderName, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(name.clone(), HeaderValue::from_static(value));
            }
            map
        };
        let host = "127.0.0.1:8233";
        let json = (header::CONTENT_TYPE, "application/json; charset=utf-8");
        assert!(post_refusal(&headers(std::slice::from_ref(&json)), host).is_none());
        let same = (header::ORIGIN, "http://127.0.0.1:8233");
        assert!(post_refusal(&headers(&[json.clone(), same]), host).is_none());
        let form = (header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        let refused = post_refusal(&headers(&[form]), host).unwrap();
        assert_eq!(refused.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let foreign = (header::ORIGIN, "http://evil.example");
        let refused = post_refusal(&headers(&[json, foreign]), host).unwrap();
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
}
