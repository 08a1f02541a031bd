//! Push campaigns and their deliveries: the SQL behind `campaign/`.
//!
//! A delivery row is written once per targeted user when the audience is picked, then
//! marked sent after the push provider accepted it. Everything the delivery loop needs
//! to resume after a crash is in these rows.

use std::collections::HashMap;

use sqlx::QueryBuilder;

use super::{in_tx, on_pool, Store};
use crate::campaign::{Campaign, CampaignCounts, CampaignRefusal, CampaignStatus, Target};
use crate::domain::Timestamp;
use crate::error::EngineError;
use crate::ids::{CampaignId, OfferId, OffererId, UserId};
use crate::money::Cents;
use crate::store::HistoryEntry;

/// Users per `IN (…)` list or multi-row insert: far under both dialects' bind limits.
const CHUNK: usize = 500;

/// A user who passes the store-side audience filters, with what the ranking needs.
#[derive(Debug, Clone, PartialEq)]
pub struct AudienceCandidate {
    pub user_id: UserId,
    pub birth_date: String,
    pub department: String,
    pub lat: f64,
    pub lon: f64,
    /// Credit left on the user's active deposit.
    pub credit: Cents,
}

/// The store-side filters of an audience query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudienceFilter {
    pub offer_id: OfferId,
    /// South, north, west, east: users outside are never read. The whole world for digital offers.
    pub bbox: (f64, f64, f64, f64),
    /// The cheapest bookable price: users with less credit cannot book.
    pub price: Cents,
    /// Whether the price counts toward the digital cap (then the cap's rest must cover it).
    pub digital_capped: bool,
    /// Users pushed (or queued for a push) after this instant are left out: the frequency cap.
    pub pushed_since: Timestamp,
    pub now: Timestamp,
}

#[derive(sqlx::FromRow)]
struct CampaignRow {
    id: i64,
    offer_id: i64,
    offerer_id: i64,
    status: String,
    stop_reason: Option<String>,
    requested_at: i64,
    targeted_at: Option<i64>,
    finished_at: Option<i64>,
}

const CAMPAIGN_SELECT: &str =
    "SELECT id, offer_id, offerer_id, status, stop_reason, requested_at, \
     targeted_at, finished_at FROM campaigns";

impl TryFrom<CampaignRow> for Campaign {
    type Error = EngineError;
    fn try_from(r: CampaignRow) -> Result<Campaign, EngineError> {
        Ok(Campaign {
            id: CampaignId(r.id),
            offer_id: OfferId(r.offer_id),
            offerer_id: OffererId(r.offerer_id),
            status: CampaignStatus::parse(&r.status).ok_or_else(|| {
                EngineError::Data(format!("campaign {}: status {:?}", r.id, r.status))
            })?,
            stop_reason: r.stop_reason,
            requested_at: r.requested_at,
            targeted_at: r.targeted_at,
            finished_at: r.finished_at,
        })
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl Store {
    /// Records a requested campaign unless the offer already has one that is unfinished
    /// or finished after `busy_since` (its attribution window is still open).
    pub async fn insert_campaign(
        &self,
        offer: OfferId,
        offerer: OffererId,
        now: Timestamp,
        busy_since: Timestamp,
    ) -> Result<CampaignId, EngineError> {
        let _writer = self.writer().await;
        on_pool!(self, p => in_tx!(p, tx => {
            let busy: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM campaigns WHERE offer_id = $1 AND \
                 (status IN ('requested', 'targeted', 'sending') OR finished_at > $2)",
            )
            .bind(offer.0)
            .bind(busy_since)
            .fetch_one(&mut *tx)
            .await?;
            if busy > 0 {
                return Err(CampaignRefusal::AlreadyActive.into());
            }
            let inserted = sqlx::query_scalar::<_, i64>(
                "INSERT INTO campaigns (offer_id, offerer_id, status, requested_at) \
                 VALUES ($1, $2, 'requested', $3) RETURNING id",
            )
            .bind(offer.0)
            .bind(offerer.0)
            .bind(now)
            .fetch_one(&mut *tx)
            .await;
            match inserted {
                Ok(id) => Ok(CampaignId(id)),
                // A concurrent request won the race on `campaigns_one_open`.
                Err(e) if is_unique_violation(&e) => Err(CampaignRefusal::AlreadyActive.into()),
                Err(e) => Err(e.into()),
            }
        }))
    }

    /// The campaign with this id.
    pub async fn campaign(&self, id: CampaignId) -> Result<Option<Campaign>, EngineError> {
        let row = on_pool!(self, p => {
            sqlx::query_as::<_, CampaignRow>(&format!("{CAMPAIGN_SELECT} WHERE id = $1"))
                .bind(id.0)
                .fetch_optional(p)
                .await
        })?;
        row.map(Campaign::try_from).transpose()
    }

    /// Campaigns, oldest first: those of one offerer, or all when `offerer` is `None`.
    pub async fn campaigns(
        &self,
        offerer: Option<OffererId>,
    ) -> Result<Vec<Campaign>, EngineError> {
        let rows = on_pool!(self, p => {
            sqlx::query_as::<_, CampaignRow>(&format!(
                "{CAMPAIGN_SELECT} WHERE $1 IS NULL OR offerer_id = $1 ORDER BY id"
            ))
            .bind(offerer.map(|o| o.0))
            .fetch_all(p)
            .await
        })?;
        rows.into_iter().map(Campaign::try_from).collect()
    }

    /// Campaigns that still have work: requested, targeted or sending, oldest first.
    pub async fn open_campaigns(&self) -> Result<Vec<Campaign>, EngineError> {
        let rows = on_pool!(self, p => {
            sqlx::query_as::<_, CampaignRow>(&format!(
                "{CAMPAIGN_SELECT} WHERE status IN ('requested', 'targeted', 'sending') ORDER BY id"
            ))
            .fetch_all(p)
            .await
        })?;
        rows.into_iter().map(Campaign::try_from).collect()
    }

    /// Users who pass the filters that SQL can apply: opted in, inside the box, with an
    /// active deposit covering the price, not holding a booking of the offer, not pushed
    /// since `pushed_since`. Age and exact distance are checked by the caller.
    pub async fn audience_candidates(
        &self,
        f: &AudienceFilter,
    ) -> Result<Vec<AudienceCandidate>, EngineError> {
        let (south, north, west, east) = f.bbox;
        let rows: Vec<(i64, String, String, f64, f64, i64)> = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT u.id, u.birth_date, u.department, u.lat, u.lon, \
                 d.amount_cents - d.spent_cents - d.closed_cents \
                 FROM users u JOIN deposits d ON d.user_id = u.id AND d.granted_at <= $1 AND d.expires_at > $1 \
                 WHERE u.notifications_opt_in AND u.lat BETWEEN $2 AND $3 AND u.lon BETWEEN $4 AND $5 \
                 AND d.amount_cents - d.spent_cents - d.closed_cents >= $6 \
                 AND ($7 = 0 OR d.digital_cap_cents IS NULL OR d.digital_cap_cents - d.digital_spent_cents >= $6) \
                 AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.user_id = u.id AND b.offer_id = $8 \
                                 AND b.status <> 'cancelled') \
                 AND NOT EXISTS (SELECT 1 FROM campaign_deliveries cd WHERE cd.user_id = u.id \
                                 AND cd.status <> 'skipped' AND (cd.created_at > $9 OR cd.sent_at > $9)) \
                 ORDER BY u.id, d.granted_at DESC",
            )
            .bind(f.now)
            .bind(south)
            .bind(north)
            .bind(west)
            .bind(east)
            .bind(f.price.0)
            .bind(i64::from(f.digital_capped))
            .bind(f.offer_id.0)
            .bind(f.pushed_since)
            .fetch_all(p)
            .await
        })?;
        let mut out: Vec<AudienceCandidate> = Vec::with_capacity(rows.len());
        for (id, birth_date, department, lat, lon, credit) in rows {
            // One row per user: the latest deposit granted, should two overlap.
            if out.last().is_some_and(|c| c.user_id.0 == id) {
                continue;
            }
            out.push(AudienceCandidate {
                user_id: UserId(id),
                birth_date,
                department,
                lat,
                lon,
                credit: Cents(credit),
            });
        }
        Ok(out)
    }

    /// The bookings (not cancelled) and interactions of many users at once, newest first
    /// per user: what their profiles are built from.
    pub async fn histories(
        &self,
        users: &[UserId],
    ) -> Result<HashMap<UserId, Vec<HistoryEntry>>, EngineError> {
        let mut out: HashMap<UserId, Vec<HistoryEntry>> = HashMap::new();
        for chunk in users.chunks(CHUNK) {
            let rows: Vec<(i64, i64, String, String, String, i64)> = on_pool!(self, p => {
                let mut qb = QueryBuilder::<Db>::new(
                    "SELECT b.user_id, o.id, o.title, o.subcategory, 'booking' AS kind, b.created_at AS at \
                     FROM bookings b JOIN offers o ON o.id = b.offer_id \
                     WHERE b.status <> 'cancelled' AND b.user_id IN (",
                );
                let mut list = qb.separated(", ");
                for u in chunk {
                    list.push_bind(u.0);
                }
                qb.push(") UNION ALL SELECT i.user_id, o.id, o.title, o.subcategory, i.kind, i.at \
                         FROM interactions i JOIN offers o ON o.id = i.offer_id WHERE i.user_id IN (");
                let mut list = qb.separated(", ");
                for u in chunk {
                    list.push_bind(u.0);
                }
                qb.push(")");
                qb.build_query_as().fetch_all(p).await
            })?;
            for (user, offer, title, subcategory, kind, at) in rows {
                out.entry(UserId(user)).or_default().push(HistoryEntry {
                    offer_id: OfferId(offer),
                    title,
                    subcategory,
                    kind,
                    at,
                });
            }
        }
        for entries in out.values_mut() {
            entries.sort_by(|a, b| b.at.cmp(&a.at).then(b.offer_id.cmp(&a.offer_id)));
        }
        Ok(out)
    }

    /// Writes the audience of a requested campaign and moves it to `targeted`, in one
    /// transaction. Returns `false` (writing nothing) when the campaign was not
    /// `requested` any more: another run targeted it first.
    pub async fn write_audience(
        &self,
        campaign: CampaignId,
        targets: &[Target],
        now: Timestamp,
    ) -> Result<bool, EngineError> {
        let _writer = self.writer().await;
        on_pool!(self, p => in_tx!(p, tx => {
            let moved = sqlx::query(
                "UPDATE campaigns SET status = 'targeted', targeted_at = $2 WHERE id = $1 AND status = 'requested'",
            )
            .bind(campaign.0)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved == 0 {
                return Ok(false);
            }
            for (chunk_no, chunk) in targets.chunks(CHUNK).enumerate() {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO campaign_deliveries (campaign_id, user_id, position, score, new_to_category, \
                     idempotency_key, status, created_at) ",
                );
                qb.push_values(chunk.iter().enumerate(), |mut b, (i, t)| {
                    b.push_bind(campaign.0)
                        .push_bind(t.user_id.0)
                        .push_bind((chunk_no * CHUNK + i) as i64)
                        .push_bind(t.score)
                        .push_bind(t.new_to_category)
                        .push_bind(crate::campaign::idempotency_key(campaign, t.user_id))
                        .push_bind("pending")
                        .push_bind(now);
                });
                qb.build().execute(&mut *tx).await?;
            }
            Ok(true)
        }))
    }

    /// Moves a campaign to `status` (with a reason for `stopped`), stamping `finished_at`
    /// when it is final.
    pub async fn set_campaign_status(
        &self,
        campaign: CampaignId,
        status: CampaignStatus,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let _writer = self.writer().await;
        let finished = status.is_final().then_some(now);
        on_pool!(self, p => {
            sqlx::query(
                "UPDATE campaigns SET status = $2, stop_reason = COALESCE($3, stop_reason), \
                 finished_at = COALESCE($4, finished_at) WHERE id = $1",
            )
            .bind(campaign.0)
            .bind(status.as_str())
            .bind(reason)
            .bind(finished)
            .execute(p)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// Up to `limit` deliveries of a campaign still to send, in audience order.
    pub async fn pending_deliveries(
        &self,
        campaign: CampaignId,
        limit: i64,
    ) -> Result<Vec<(UserId, String)>, EngineError> {
        let rows: Vec<(i64, String)> = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT user_id, idempotency_key FROM campaign_deliveries \
                 WHERE campaign_id = $1 AND status = 'pending' ORDER BY position LIMIT $2",
            )
            .bind(campaign.0)
            .bind(limit)
            .fetch_all(p)
            .await
        })?;
        Ok(rows.into_iter().map(|(u, k)| (UserId(u), k)).collect())
    }

    /// Every delivery of a campaign, in audience order: (user, key, new to the category, status).
    pub async fn deliveries(
        &self,
        campaign: CampaignId,
    ) -> Result<Vec<(UserId, String, bool, String)>, EngineError> {
        let rows: Vec<(i64, String, bool, String)> = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT user_id, idempotency_key, new_to_category, status FROM campaign_deliveries \
                 WHERE campaign_id = $1 ORDER BY position",
            )
            .bind(campaign.0)
            .fetch_all(p)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(u, k, n, s)| (UserId(u), k, n, s))
            .collect())
    }

    /// Marks deliveries as sent (when `sent`) or counts one more failed attempt on them.
    pub async fn record_attempt(
        &self,
        campaign: CampaignId,
        users: &[UserId],
        sent: bool,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let _writer = self.writer().await;
        on_pool!(self, p => in_tx!(p, tx => {
            for chunk in users.chunks(CHUNK) {
                let mut qb = QueryBuilder::<Db>::new("UPDATE campaign_deliveries SET attempts = attempts + 1");
                if sent {
                    qb.push(", status = 'sent', sent_at = ");
                    qb.push_bind(now);
                }
                qb.push(" WHERE status = 'pending' AND campaign_id = ");
                qb.push_bind(campaign.0);
                qb.push(" AND user_id IN (");
                let mut list = qb.separated(", ");
                for u in chunk {
                    list.push_bind(u.0);
                }
                qb.push(")");
                qb.build().execute(&mut *tx).await?;
            }
            Ok(())
        }))
    }

    /// Marks every delivery still pending as skipped (the campaign stopped).
    pub async fn skip_pending(&self, campaign: CampaignId) -> Result<u64, EngineError> {
        let _writer = self.writer().await;
        Ok(on_pool!(self, p => {
            sqlx::query(
                "UPDATE campaign_deliveries SET status = 'skipped' WHERE campaign_id = $1 AND status = 'pending'",
            )
            .bind(campaign.0)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        })?)
    }

    /// A campaign's counts: targeted, sent, failed (pending after a failed attempt),
    /// skipped, and bookings of the offer by notified users within `window_s` of their push.
    pub async fn campaign_counts(
        &self,
        campaign: CampaignId,
        window_s: i64,
    ) -> Result<CampaignCounts, EngineError> {
        let (targeted, sent, failed, skipped, new): (i64, i64, i64, i64, i64) = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT COUNT(*), \
                 CAST(COALESCE(SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN status = 'pending' AND attempts > 0 THEN 1 ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN status = 'skipped' THEN 1 ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN new_to_category THEN 1 ELSE 0 END), 0) AS BIGINT) \
                 FROM campaign_deliveries WHERE campaign_id = $1",
            )
            .bind(campaign.0)
            .fetch_one(p)
            .await
        })?;
        let attributed: i64 = on_pool!(self, p => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM campaign_deliveries cd JOIN campaigns c ON c.id = cd.campaign_id \
                 JOIN bookings b ON b.user_id = cd.user_id AND b.offer_id = c.offer_id \
                 WHERE cd.campaign_id = $1 AND cd.status = 'sent' AND b.status <> 'cancelled' \
                 AND b.created_at >= cd.sent_at AND b.created_at <= cd.sent_at + $2",
            )
            .bind(campaign.0)
            .bind(window_s)
            .fetch_one(p)
            .await
        })?;
        Ok(CampaignCounts {
            targeted,
            sent,
            failed,
            skipped,
            new_to_category: new,
            bookings_attributed: attributed,
        })
    }
}
