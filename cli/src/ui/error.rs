//! What the API answers when it cannot do what was asked: a status and
//! `{"error": "one line"}`, never a trace.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An error of the API: its HTTP status and its one-line message.
#[derive(Debug)]
pub(crate) struct ApiError {
    /// `4xx` for a request that cannot be served, `5xx` for a store that fails.
    pub(crate) status: StatusCode,
    /// What went wrong, said for a person.
    pub(crate) message: String,
}

impl ApiError {
    /// An error with this status and message.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// `400 Bad Request`.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

impl From<reprise::Error> for ApiError {
    fn from(error: reprise::Error) -> Self {
        use reprise::Error as E;
        let status = match &error {
            E::NotFound { .. } | E::RunNotFound { .. } => StatusCode::NOT_FOUND,
            E::Finished { .. } => StatusCode::CONFLICT,
            E::InvalidPageToken { .. }
            | E::InvalidId { .. }
            | E::UnknownSignal { .. }
            | E::Payload { .. }
            | E::UnknownWorkflowType { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, error.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = match rejection {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(
            status,
            format!("bad request body: {}", rejection.body_text()),
        )
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::bad_request(format!("bad query: {}", rejection.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::bad_request(format!("bad path: {}", rejection.body_text()))
    }
}
