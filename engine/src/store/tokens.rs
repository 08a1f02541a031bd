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
        self.check_exists(principal).await?;
        let (user, offerer) = match principal {
            Principal::User(u) => (Some(u.0), None),
            Principal::Partner(o) => (None, Some(o.0)),
            _ => (None, None),
        };
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

    /// `NotFound` unless the user or offerer `principal` names exists (the other roles
    /// name no one).
    pub async fn check_exists(&self, principal: Principal) -> Result<(), EngineError> {
        match principal {
            Principal::User(u) => {
                self.user(u).await?.ok_or(EngineError::NotFound {
                    what: "user",
                    id: u.0,
                })?;
            }
            Principal::Partner(o) => {
                let exists: Option<i64> = on_pool!(self, p => {
                    sqlx::query_scalar("SELECT id FROM offerers WHERE id = $1").bind(o.0).fetch_optional(p).await
                })?;
                exists.ok_or(EngineError::NotFound {
                    what: "offerer",
                    id: o.0,
                })?;
            }
            Principal::Curator | Principal::Analyst | Principal::Admin => {}
        }
        Ok(())
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
