//! Editorial boosts: created, edited and expired by curators, read by the feed.

use super::{on_pool, sql_list, Store};
use crate::boost::{Boost, BoostDraft, BoostTarget};
use crate::domain::Timestamp;
use crate::error::EngineError;
use crate::ids::BoostId;

#[derive(sqlx::FromRow)]
struct BoostRow {
    id: i64,
    target_kind: String,
    target: String,
    weight: f64,
    starts_at: i64,
    ends_at: i64,
    note: String,
    created_at: i64,
    updated_at: i64,
    expired_at: Option<i64>,
}

impl TryFrom<BoostRow> for Boost {
    type Error = EngineError;

    fn try_from(r: BoostRow) -> Result<Boost, EngineError> {
        Ok(Boost {
            id: BoostId(r.id),
            draft: BoostDraft {
                target: BoostTarget::from_columns(&r.target_kind, &r.target)?,
                weight: r.weight,
                starts_at: r.starts_at,
                ends_at: r.ends_at,
                note: r.note,
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
            expired_at: r.expired_at,
        })
    }
}

const BOOST_SELECT: &str = "SELECT id, target_kind, target, weight, starts_at, ends_at, note, \
     created_at, updated_at, expired_at FROM boosts";

/// Which boosts a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BoostFilter {
    /// Every boost, newest first.
    #[default]
    All,
    /// Those applying at the instant.
    ActiveAt(Timestamp),
    /// Those not expired and not ended at the instant (active or scheduled).
    CurrentAt(Timestamp),
}

impl Store {
    /// Stores a boost (already validated) and returns it.
    pub async fn create_boost(
        &self,
        draft: &BoostDraft,
        now: Timestamp,
    ) -> Result<Boost, EngineError> {
        let (kind, target) = draft.target.columns();
        let _writer = self.writer().await;
        let id: i64 = on_pool!(self, p => {
            sqlx::query_scalar(
                "INSERT INTO boosts (target_kind, target, weight, starts_at, ends_at, note, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
            )
            .bind(kind)
            .bind(&target)
            .bind(draft.weight)
            .bind(draft.starts_at)
            .bind(draft.ends_at)
            .bind(&draft.note)
            .bind(now)
            .fetch_one(p)
            .await
        })?;
        Ok(Boost {
            id: BoostId(id),
            draft: draft.clone(),
            created_at: now,
            updated_at: now,
            expired_at: None,
        })
    }

    /// One boost.
    pub async fn boost(&self, id: BoostId) -> Result<Option<Boost>, EngineError> {
        let row = on_pool!(self, p => {
            sqlx::query_as::<_, BoostRow>(&format!("{BOOST_SELECT} WHERE id = $1"))
                .bind(id.0)
                .fetch_optional(p)
                .await
        })?;
        row.map(Boost::try_from).transpose()
    }

    /// Boosts matching `filter`, newest first, at most `limit` after the first `offset`.
    pub async fn boosts(
        &self,
        filter: BoostFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Boost>, EngineError> {
        let (cond, at) = match filter {
            BoostFilter::All => ("$1 = $1", 0),
            BoostFilter::ActiveAt(t) => {
                ("expired_at IS NULL AND starts_at <= $1 AND ends_at > $1", t)
            }
            BoostFilter::CurrentAt(t) => ("expired_at IS NULL AND ends_at > $1", t),
        };
        let sql = format!("{BOOST_SELECT} WHERE {cond} ORDER BY id DESC LIMIT $2 OFFSET $3");
        let rows = on_pool!(self, p => {
            sqlx::query_as::<_, BoostRow>(&sql)
                .bind(at)
                .bind(limit)
                .bind(offset)
                .fetch_all(p)
                .await
        })?;
        rows.into_iter().map(Boost::try_from).collect()
    }

    /// Replaces a boost's target, weight, window and note. An expired boost stays expired:
    /// editing it is refused with the conflict `boost_expired`.
    pub async fn update_boost(
        &self,
        id: BoostId,
        draft: &BoostDraft,
        now: Timestamp,
    ) -> Result<Boost, EngineError> {
        let (kind, target) = draft.target.columns();
        let _writer = self.writer().await;
        let updated = on_pool!(self, p => {
            sqlx::query(
                "UPDATE boosts SET target_kind = $2, target = $3, weight = $4, starts_at = $5, ends_at = $6, \
                 note = $7, updated_at = $8 WHERE id = $1 AND expired_at IS NULL",
            )
            .bind(id.0)
            .bind(kind)
            .bind(&target)
            .bind(draft.weight)
            .bind(draft.starts_at)
            .bind(draft.ends_at)
            .bind(&draft.note)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        })?;
        drop(_writer);
        let boost = self.boost(id).await?.ok_or(EngineError::NotFound {
            what: "boost",
            id: id.0,
        })?;
        if updated == 0 {
            return Err(EngineError::Conflict(
                "boost_expired",
                format!("boost {} was expired and can no longer be edited", id.0),
            ));
        }
        Ok(boost)
    }

    /// Stops a boost now; expiring an expired boost changes nothing.
    pub async fn expire_boost(&self, id: BoostId, now: Timestamp) -> Result<Boost, EngineError> {
        let _writer = self.writer().await;
        on_pool!(self, p => {
            sqlx::query("UPDATE boosts SET expired_at = $2, updated_at = $2 WHERE id = $1 AND expired_at IS NULL")
                .bind(id.0)
                .bind(now)
                .execute(p)
                .await
                .map(|_| ())
        })?;
        drop(_writer);
        self.boost(id).await?.ok_or(EngineError::NotFound {
            what: "boost",
            id: id.0,
        })
    }

    /// Active offers among `offers`, of `venues` or of `subcategories`, counted once each
    /// per department of their venue (`""` for digital offers).
    pub async fn offers_per_department(
        &self,
        offers: &[i64],
        venues: &[i64],
        subcategories: &[String],
    ) -> Result<Vec<(String, i64)>, EngineError> {
        if offers.is_empty() && venues.is_empty() && subcategories.is_empty() {
            return Ok(Vec::new());
        }
        // Ids are integers, written into the SQL as such; subcategories are bound.
        let ids = |v: &[i64]| {
            if v.is_empty() {
                "NULL".to_owned()
            } else {
                sql_list(v.iter().copied())
            }
        };
        let marks = if subcategories.is_empty() {
            "NULL".to_owned()
        } else {
            (1..=subcategories.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let sql = format!(
            "SELECT COALESCE(v.department, '') AS department, COUNT(*) AS offers \
             FROM offers o LEFT JOIN venues v ON v.id = o.venue_id \
             WHERE o.is_active AND (o.id IN ({}) OR o.venue_id IN ({}) OR o.subcategory IN ({marks})) \
             GROUP BY COALESCE(v.department, '')",
            ids(offers),
            ids(venues),
        );
        Ok(on_pool!(self, p => {
            let mut q = sqlx::query_as::<_, (String, i64)>(&sql);
            for s in subcategories {
                q = q.bind(s);
            }
            q.fetch_all(p).await
        })?)
    }
}
