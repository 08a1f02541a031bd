//! The whole activity log at once — every booking kept and every interaction — and who
//! the users are: what the batch jobs (taste model, evaluation, simulation) read.

use futures::TryStreamExt;

use super::{on_pool, Store};
use crate::domain::Timestamp;
use crate::error::EngineError;
use crate::ids::{OfferId, UserId};

/// One booking (not cancelled) or interaction of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub user_id: UserId,
    pub offer_id: OfferId,
    /// `"booking"`, or the interaction kind (`"view"`, `"click"`, `"favorite"`).
    pub kind: String,
    pub at: Timestamp,
}

/// Who a user is, as far as cold-start priors care.
#[derive(Debug, Clone, PartialEq)]
pub struct Cohort {
    pub user_id: UserId,
    pub birth_date: String,
    pub department: String,
    pub lat: f64,
    pub lon: f64,
}

impl Store {
    /// Every booking that is not cancelled and every interaction, oldest first, streamed
    /// so that ten million rows do not sit in the driver twice; `progress` counts rows.
    pub async fn activity_log(
        &self,
        progress: &indicatif::ProgressBar,
    ) -> Result<Vec<Activity>, EngineError> {
        let total = self
            .scalar("SELECT (SELECT COUNT(*) FROM bookings) + (SELECT COUNT(*) FROM interactions)")
            .await?;
        progress.set_length(total.max(0) as u64);
        let mut out = Vec::with_capacity(total.max(0) as usize);
        for sql in [
            "SELECT user_id, offer_id, 'booking', created_at FROM bookings WHERE status <> 'cancelled'",
            "SELECT user_id, offer_id, kind, at FROM interactions",
        ] {
            on_pool!(self, p => {
                let mut rows = sqlx::query_as::<_, (i64, i64, String, i64)>(sql).fetch(p);
                while let Some((user, offer, kind, at)) = rows.try_next().await? {
                    out.push(Activity {
                        user_id: UserId(user),
                        offer_id: OfferId(offer),
                        kind,
                        at,
                    });
                    if out.len() % 10_000 == 0 {
                        progress.set_position(out.len() as u64);
                    }
                }
            });
        }
        progress.set_position(out.len() as u64);
        out.sort_by_key(|a| (a.at, a.user_id.0, a.offer_id.0));
        Ok(out)
    }

    /// Every user's birth date, department and home, by id.
    pub async fn cohorts(&self) -> Result<Vec<Cohort>, EngineError> {
        let rows: Vec<(i64, String, String, f64, f64)> = on_pool!(self, p => {
            sqlx::query_as("SELECT id, birth_date, department, lat, lon FROM users ORDER BY id")
                .fetch_all(p)
                .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(id, birth_date, department, lat, lon)| Cohort {
                user_id: UserId(id),
                birth_date,
                department,
                lat,
                lon,
            })
            .collect())
    }
}
