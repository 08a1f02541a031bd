//! API tokens: created by `mosaic token create`, checked on every request that needs one.

use super::{on_pool, Store};
use crate::auth::{new_token, token_hash, Principal, Role};
use crate::domain::Timestamp;
use crate::error::EngineError;
use crate::ids::{OffererId, UserId};

impl Store {
    /// Creates a token for `principal` and returns it: the only time it is seen in clear.
    /// A user or partner token must name a user or offerer that exists.
    pub async fn create_token(
        &self,
        principal: Principal,
        now: Timestamp,
    ) -> Result<String, EngineError> {
        let (user, offerer) = match principal {
            Principal::User(u) => (Some(u.0), None),
            Principal::Partner(o) => (None, Some(o.0)),
            _ => (None, None),
        };
        if let Some(u) = user {
            self.user(UserId(u)).await?.ok_or(EngineError::NotFound {
                what: "user",
                id: u,
            })?;
        }
        if let Some(o) = offerer {
            let exists: Option<i64> = on_pool!(self, p => {
                sqlx::query_scalar("SELECT id FROM offerers WHERE id = $1").bind(o).fetch_optional(p).await
            })?;
            exists.ok_or(EngineError::NotFound {
                what: "offerer",
                id: o,
            })?;
        }
        let token = new_token();
        let _writer = self.writer().await;
        on_pool!(self, p => {
            sqlx::query(
                "INSERT INTO api_tokens (token_hash, role, user_id, offerer_id, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(token_hash(&token))
            .bind(principal.role().as_str())
            .bind(user)
            .bind(offerer)
            .bind(now)
            .execute(p)
            .await
            .map(|_| ())
        })?;
        Ok(token)
    }

    /// The principal behind a token, or `None` for an unknown or revoked one.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>, EngineError> {
        let row: Option<(String, Option<i64>, Option<i64>)> = on_pool!(self, p => {
            sqlx::query_as("SELECT role, user_id, offerer_id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
                .bind(token_hash(token))
                .fetch_optional(p)
                .await
        })?;
        Ok(
            row.and_then(|(role, user, offerer)| match role.parse::<Role>().ok()? {
                Role::User => Some(Principal::User(UserId(user?))),
                Role::Partner => Some(Principal::Partner(OffererId(offerer?))),
                Role::Curator => Some(Principal::Curator),
                Role::Analyst => Some(Principal::Analyst),
                Role::Admin => Some(Principal::Admin),
            }),
        )
    }
}
