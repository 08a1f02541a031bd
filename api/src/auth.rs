//! Bearer-token authentication: the caller's principal, or a 401 problem.
//!
//! Checked tokens are kept a minute in a [`TokenCache`], so a busy client costs the store
//! one lookup a minute rather than one per request. An admin may act for one user or one
//! offerer by naming them in the [`ACT_AS`] header: the request then runs with exactly
//! that principal's rights, and the substitution is logged.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::routes::AppState;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderName, StatusCode};
use engine::auth::{token_hash, Principal};
use engine::ids::{OffererId, UserId};

use crate::problem::Problem;

/// The header by which an admin acts for someone: `user:<id>` or `offerer:<id>`.
pub const ACT_AS: HeaderName = HeaderName::from_static("x-act-as");

/// How long a checked token is trusted without asking the store again: a token revoked
/// in the store stops working within this time.
pub const TOKEN_TTL: Duration = Duration::from_secs(60);

/// Tokens the cache holds at most; past that, expired entries go, then all of them.
const TOKEN_CACHE_CAPACITY: usize = 100_000;

/// Principals of recently checked tokens, keyed by the token's hash (the clear token is
/// not kept). Unknown tokens are not cached: a flood of forged ones cannot fill it.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (Principal, Instant)>>,
}

impl TokenCache {
    /// The principal behind `token`, from the cache while fresh, else from the store.
    pub async fn authenticate(
        &self,
        engine: &AppState,
        token: &str,
    ) -> Result<Option<Principal>, Problem> {
        let key = token_hash(token);
        let now = Instant::now();
        if let Some((principal, at)) = self.lock().get(&key) {
            if now.duration_since(*at) < TOKEN_TTL {
                return Ok(Some(*principal));
            }
        }
        let principal = engine.store().authenticate(token).await?;
        let mut entries = self.lock();
        match principal {
            Some(p) => {
                if entries.len() >= TOKEN_CACHE_CAPACITY {
                    entries.retain(|_, (_, at)| now.duration_since(*at) < TOKEN_TTL);
                    if entries.len() >= TOKEN_CACHE_CAPACITY {
                        entries.clear();
                    }
                }
                entries.insert(key, (p, now));
            }
            None => {
                entries.remove(&key);
            }
        }
        Ok(principal)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Principal, Instant)>> {
        // A panic while holding the lock cannot leave an entry half-written.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

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

/// The 403 for a caller whose role cannot act as a `kind` here; an admin is told how to.
fn not_a(caller: Principal, kind: &str) -> Problem {
    if caller == Principal::Admin {
        Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this route acts for one {kind}: as an admin, name it with x-act-as: {kind}:<id>"
            ),
        )
    } else {
        forbidden()
    }
}

/// The user a user token acts for (or an admin's `x-act-as: user:<id>`); others get 403.
pub fn user_of(caller: Principal) -> Result<UserId, Problem> {
    match caller {
        Principal::User(user) => Ok(user),
        other => Err(not_a(other, "user")),
    }
}

/// The offerer a partner token acts for (or an admin's `x-act-as: offerer:<id>`); others
/// get 403.
pub fn offerer_of(caller: Principal) -> Result<OffererId, Problem> {
    match caller {
        Principal::Partner(offerer) => Ok(offerer),
        other => Err(not_a(other, "offerer")),
    }
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
        let principal = engine
            .tokens
            .authenticate(engine, token)
            .await?
            .ok_or_else(|| unauthorized("unknown or revoked token"))?;
        match parts.headers.get(ACT_AS) {
            None => Ok(Caller(principal)),
            Some(value) => act_as(engine, principal, value).await.map(Caller),
        }
    }
}

/// The principal an admin acts for, checked to exist.
async fn act_as(
    engine: &AppState,
    caller: Principal,
    value: &axum::http::HeaderValue,
) -> Result<Principal, Problem> {
    if caller != Principal::Admin {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only an admin may act for someone else (x-act-as)",
        ));
    }
    let subject = value.to_str().ok().and_then(parse_act_as).ok_or_else(|| {
        Problem::bad_request("x-act-as must be \"user:<id>\" or \"offerer:<id>\"")
    })?;
    engine.store().check_exists(subject).await?;
    tracing::info!(act_as = ?subject, "an admin acts for another principal");
    Ok(subject)
}

/// `user:12` or `offerer:7`, with positive ids.
fn parse_act_as(value: &str) -> Option<Principal> {
    let (kind, id) = value.trim().split_once(':')?;
    let id: i64 = id.trim().parse().ok().filter(|id| *id > 0)?;
    match kind.trim() {
        "user" => Some(Principal::User(UserId(id))),
        "offerer" => Some(Principal::Partner(OffererId(id))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn act_as_names_one_user_or_offerer() {
        assert_eq!(parse_act_as("user:12"), Some(Principal::User(UserId(12))));
        assert_eq!(
            parse_act_as(" offerer : 7 "),
            Some(Principal::Partner(OffererId(7)))
        );
        for bad in [
            "",
            "user",
            "user:",
            "user:0",
            "user:-3",
            "admin:1",
            "curator:2",
            "user:1x",
        ] {
            assert_eq!(parse_act_as(bad), None, "{bad:?}");
        }
    }
}
