//! `mosaic credit grant`: the deposits due at each birthday, granted once.

use std::collections::HashSet;

use chrono::NaiveDate;
use indicatif::ProgressBar;

use super::{in_tx, on_pool, Store};
use crate::credit::{grants, Grant};
use crate::error::EngineError;
use crate::ids::UserId;

/// What a grant run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GrantSummary {
    /// Deposits created.
    pub granted: u64,
    /// Credit moved from a previous deposit into a new one, in cents.
    pub carried_cents: i64,
    /// Deposits closed because they ended.
    pub closed: u64,
}

fn midnight(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp()
}

impl Store {
    /// Grants every deposit due by `today` that is not granted yet, oldest first, carrying
    /// what is left of the previous deposit over; then closes the deposits that ended.
    /// Running it twice grants nothing more (one deposit per user, policy and age).
    pub async fn grant_due(
        &self,
        today: NaiveDate,
        progress: &ProgressBar,
    ) -> Result<GrantSummary, EngineError> {
        let users: Vec<(i64, String)> = on_pool!(self, p => sqlx::query_as("SELECT id, birth_date FROM users ORDER BY id").fetch_all(p).await)?;
        let existing: HashSet<(i64, String, i32)> = on_pool!(self, p => {
            sqlx::query_as("SELECT user_id, policy, age FROM deposits").fetch_all(p).await
        })?
        .into_iter()
        .collect();
        progress.set_length(users.len() as u64);
        let mut summary = GrantSummary::default();
        for (id, birth) in users {
            progress.inc(1);
            let birth: NaiveDate = birth
                .parse()
                .map_err(|e| EngineError::Data(format!("user {id}: birth date {birth:?}: {e}")))?;
            for grant in grants(birth, today) {
                // A missed grant is still owed, even if it has ended since: granted in order,
                // its rest carries over to the next one (or expires with it).
                if existing.contains(&(id, grant.rule.policy.clone(), grant.rule.age as i32)) {
                    continue;
                }
                if let Some(carried) = self.grant(UserId(id), &grant).await? {
                    summary.granted += 1;
                    summary.carried_cents += carried;
                }
            }
        }
        summary.closed = self.close_ended_deposits(midnight(today)).await?;
        progress.finish();
        Ok(summary)
    }

    /// Creates one deposit in one transaction: closes the deposit it replaces, carries its
    /// rest over, writes the ledger lines. `None` when it already existed. An under-18
    /// deposit ends on the 18th birthday, the very day the next one is granted: that still
    /// counts as replacing it.
    async fn grant(&self, user: UserId, grant: &Grant) -> Result<Option<i64>, EngineError> {
        let at = midnight(grant.granted_on);
        let _writer = self.writer().await;
        on_pool!(self, p => in_tx!(p, tx => {
            let previous: Option<(i64, i64)> = sqlx::query_as(
                "SELECT id, amount_cents - spent_cents - closed_cents FROM deposits WHERE user_id = $1 \
                 AND granted_at < $2 AND expires_at >= $2 AND closed_cents = 0 ORDER BY granted_at DESC, id DESC LIMIT 1",
            )
            .bind(user.0)
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
            let carried = previous.map_or(0, |(_, left)| left.max(0));
            let new_id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO deposits (user_id, policy, age, amount_cents, carried_in_cents, digital_cap_cents, \
                 physical_cap_cents, granted_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (user_id, policy, age) DO NOTHING RETURNING id",
            )
            .bind(user.0)
            .bind(&grant.rule.policy)
            .bind(grant.rule.age as i32)
            .bind(grant.rule.amount.0 + carried)
            .bind(carried)
            .bind(grant.rule.digital_cap.map(|c| c.0))
            .bind(grant.rule.physical_cap.map(|c| c.0))
            .bind(at)
            .bind(midnight(grant.expires_on))
            .fetch_optional(&mut *tx)
            .await?;
            let Some(new_id) = new_id else { return Ok(None) };
            let mut lines = vec![(new_id, "grant", grant.rule.amount.0)];
            if let Some((old, _)) = previous {
                sqlx::query("UPDATE deposits SET expires_at = $1, closed_cents = closed_cents + $2 WHERE id = $3")
                    .bind(at)
                    .bind(carried)
                    .bind(old)
                    .execute(&mut *tx)
                    .await?;
                if carried > 0 {
                    lines.push((old, "carry_out", -carried));
                    lines.push((new_id, "carry_in", carried));
                }
            }
            for (deposit, kind, amount) in lines {
                sqlx::query("INSERT INTO credit_ledger (deposit_id, kind, amount_cents, at) VALUES ($1, $2, $3, $4)")
                    .bind(deposit)
                    .bind(kind)
                    .bind(amount)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
            }
            Ok(Some(carried))
        }))
    }
}
