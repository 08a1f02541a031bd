//! Bearer-token authentication: the caller's principal, or a 401 problem.

use crate::routes::AppState;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use engine::auth::Principal;

use crate::problem::Problem;

/// The authenticated caller of a request.
pub struct Caller(pub Principal);

fn unauthorized(detail: &str) -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
}

/// 403 for a caller whose role may not do this.
pub fn forbidden() -> Problem {
    Problem::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "your role does not allow this",
    )
}

/// An absent Authorization header is no caller; a present but invalid one is still a 401.
impl OptionalFromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        engine: &AppState,
    ) -> Result<Option<Self>, Problem> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            <Caller as FromRequestParts<AppState>>::from_request_parts(parts, engine)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, engine: &AppState) -> Result<Self, Problem> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("an Authorization: Bearer token is required"))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .ok_or_else(|| unauthorized("the Authorization header must be \"Bearer <token>\""))?;
        let principal = engine.store().authenticate(token).await?;
        principal
            .map(Caller)
            .ok_or_else(|| unauthorized("unknown or revoked token"))
    }
}
