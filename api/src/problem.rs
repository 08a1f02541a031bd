//! Errors as `application/problem+json` (RFC 9457): the one place engine errors meet HTTP.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::booking::Refusal;
use engine::EngineError;
use serde::Serialize;

/// An error answered to a client.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    /// Stable machine-readable code, also the last segment of `type`.
    pub code: &'static str,
    pub detail: String,
}

/// The body of every error answer (RFC 9457), as `application/problem+json`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProblemBody {
    /// `https://mosaic.example/problems/{code}`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP status's reason phrase.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// Stable machine-readable code, e.g. `bad_request`, `forbidden`, `sold_out`.
    pub code: String,
    /// What went wrong, for a human.
    pub detail: String,
}

/// Any error answer, for the OpenAPI document: every route may answer one.
#[derive(utoipa::ToResponse)]
#[response(
    description = "An error, as application/problem+json (RFC 9457)",
    content_type = "application/problem+json"
)]
pub struct ProblemResponse(#[allow(dead_code)] ProblemBody);

/// The problems a signed-in route may answer (400, 401, 403, 404, 409, 422), for the
/// OpenAPI document: one list for the routes that share it rather than a copy in each.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum SignedInProblems {
    #[response(
        status = 400,
        description = "Bad input",
        content_type = "application/problem+json"
    )]
    BadRequest(ProblemBody),
    #[response(
        status = 401,
        description = "No valid token",
        content_type = "application/problem+json"
    )]
    Unauthorized(ProblemBody),
    #[response(
        status = 403,
        description = "Wrong role",
        content_type = "application/problem+json"
    )]
    Forbidden(ProblemBody),
    #[response(
        status = 404,
        description = "Not found, or not the caller's",
        content_type = "application/problem+json"
    )]
    NotFound(ProblemBody),
    #[response(
        status = 409,
        description = "Conflicts with the current state",
        content_type = "application/problem+json"
    )]
    Conflict(ProblemBody),
    #[response(
        status = 422,
        description = "Refused by a rule",
        content_type = "application/problem+json"
    )]
    Unprocessable(ProblemBody),
}

impl Problem {
    /// A problem with this status, code and detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// 400 for a parameter the client got wrong.
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    /// 404 for a route or resource that does not exist.
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not_found", detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = ProblemBody {
            kind: format!("https://mosaic.example/problems/{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            code: self.code.to_owned(),
            detail: self.detail,
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            json,
        )
            .into_response()
    }
}

fn refusal_status(r: Refusal) -> StatusCode {
    match r {
        Refusal::InvalidQuantity | Refusal::DuoNotAllowed => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::CONFLICT,
    }
}

impl From<EngineError> for Problem {
    fn from(e: EngineError) -> Problem {
        match e {
            EngineError::BadInput(detail) => Problem::bad_request(detail),
            EngineError::NotFound { .. } => Problem::not_found(e.to_string()),
            EngineError::Refused(r) => Problem::new(refusal_status(r), r.code(), r.to_string()),
            EngineError::Campaign(r) => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, r.code(), r.to_string())
            }
            EngineError::Index(ref ie) if ie.is_bad_input() => Problem::bad_request(ie.to_string()),
            EngineError::Conflict(code, detail) => Problem::new(StatusCode::CONFLICT, code, detail),
            EngineError::IdempotencyConflict => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                e.to_string(),
            ),
            other => {
                tracing::error!(error = %other, "internal error");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "an internal error occurred",
                )
            }
        }
    }
}
