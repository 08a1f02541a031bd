//! Sending a campaign: the payload file, then batches through a [`PushSink`] with retries.
//!
//! Nothing is lost and nothing is sent twice: the audience is written once, each delivery
//! is marked sent only after the sink accepted it, a batch the sink keeps refusing is left
//! pending for the next run, and every message carries an idempotency key the push
//! provider deduplicates on (the one window where a message can go out again is a crash
//! between the provider's answer and the store's update).

use std::collections::HashSet;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use thiserror::Error;

use super::{
    pick_audience, AudienceReport, Availability, Campaign, CampaignConfig, CampaignStatus,
};
use crate::domain::Timestamp;
use crate::error::EngineError;
use crate::ids::{CampaignId, OfferId, UserId};
use crate::store::{OfferRecord, Store};

/// One notification, as the push provider receives it and the payload file holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PushMessage {
    /// The provider drops a message whose key it has seen: see [`super::idempotency_key`].
    pub idempotency_key: String,
    pub campaign_id: CampaignId,
    pub user_id: UserId,
    pub offer_id: OfferId,
    pub title: String,
    pub body: String,
    /// Opens the offer in the app.
    pub deep_link: String,
}

/// A push provider refused or could not be reached.
#[derive(Debug, Error)]
#[error("push provider: {0}")]
pub struct SinkError(pub String);

/// Where notifications go: a push provider's webhook, a file, or a test double.
pub trait PushSink {
    /// Delivers one batch; `Ok` means the provider accepted all of it.
    fn send(&self, batch: &[PushMessage]) -> impl Future<Output = Result<(), SinkError>> + Send;
}

/// Posts batches as `{"messages": […]}` to a push provider's webhook URL, with an
/// `Idempotency-Key` header naming the batch.
#[derive(Debug, Clone)]
pub struct WebhookSink {
    client: reqwest::Client,
    url: String,
}

impl WebhookSink {
    /// A sink posting to `url` (plain `http://`), giving up on a request after 10 s.
    pub fn new(url: &str) -> Result<WebhookSink, EngineError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| EngineError::BadInput(format!("push webhook client: {e}")))?;
        Ok(WebhookSink {
            client,
            url: url.to_owned(),
        })
    }
}

impl PushSink for WebhookSink {
    async fn send(&self, batch: &[PushMessage]) -> Result<(), SinkError> {
        let key = match (batch.first(), batch.last()) {
            (Some(a), Some(b)) => format!("{}..{}", a.idempotency_key, b.idempotency_key),
            _ => return Ok(()),
        };
        let response = self
            .client
            .post(&self.url)
            .header("idempotency-key", key)
            .json(&serde_json::json!({ "messages": batch }))
            .send()
            .await
            .map_err(|e| SinkError(e.to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(SinkError(format!("HTTP {}", response.status())))
        }
    }
}

/// Appends every message as a JSON line to a file: the outbox when no provider is set.
#[derive(Debug, Clone)]
pub struct JsonlSink {
    path: PathBuf,
}

impl JsonlSink {
    /// A sink appending to `path` (created with its folder when missing).
    pub fn new(path: impl Into<PathBuf>) -> JsonlSink {
        JsonlSink { path: path.into() }
    }
}

impl PushSink for JsonlSink {
    async fn send(&self, batch: &[PushMessage]) -> Result<(), SinkError> {
        let write = || -> std::io::Result<()> {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut lines = Vec::new();
            for m in batch {
                serde_json::to_writer(&mut lines, m)?;
                lines.push(b'\n');
            }
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            file.write_all(&lines)?;
            file.sync_data()
        };
        write().map_err(|e| SinkError(format!("{}: {e}", self.path.display())))
    }
}

/// What one run did to one campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignRun {
    pub campaign: CampaignId,
    pub offer_id: OfferId,
    /// The audience picked in this run (or that a dry run would pick).
    pub audience: Option<AudienceReport>,
    /// Messages the sink accepted in this run.
    pub sent: usize,
    /// Messages left pending after every retry failed (the next run retries them).
    pub failed: usize,
    pub status: CampaignStatus,
    /// Why the run did not finish the campaign, if it did not.
    pub note: Option<String>,
}

/// The message a user receives about `record`.
fn message(campaign: CampaignId, user: UserId, key: String, record: &OfferRecord) -> PushMessage {
    let body = match &record.venue {
        Some(v) if !record.offer.is_digital() => {
            format!(
                "Il reste des places près de chez toi, à {} ({}).",
                v.name, v.city
            )
        }
        _ => "Disponible en ligne, partout en France.".to_owned(),
    };
    PushMessage {
        idempotency_key: key,
        campaign_id: campaign,
        user_id: user,
        offer_id: record.offer.id,
        title: record.offer.title.clone(),
        body,
        deep_link: format!("mosaic://offers/{}", record.offer.id.0),
    }
}

/// Writes the campaign's payload file (every targeted user's message, one JSON line
/// each) atomically, so a crash never leaves half a file.
async fn write_payload(
    store: &Store,
    campaign: CampaignId,
    record: &OfferRecord,
    dir: &Path,
) -> Result<PathBuf, EngineError> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("campaign-{}.jsonl", campaign.0));
    let tmp = dir.join(format!(".campaign-{}.jsonl.tmp", campaign.0));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    for (user, key, _, _) in store.deliveries(campaign).await? {
        serde_json::to_writer(&mut out, &message(campaign, user, key, record))
            .map_err(|e| EngineError::Data(e.to_string()))?;
        out.write_all(b"\n")?;
    }
    out.into_inner()
        .map_err(|e| EngineError::Io(e.into_error()))?
        .sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Runs every campaign with work left (or only `only`): picks the audience of those just
/// requested, writes their payload files, and sends what is pending through `sink`.
/// A dry run picks and reports audiences without writing or sending anything.
pub async fn run<S: PushSink>(
    store: &Store,
    sink: &S,
    config: &CampaignConfig,
    only: Option<CampaignId>,
    dry_run: bool,
    now: Timestamp,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<CampaignRun>, EngineError> {
    let mut runs = Vec::new();
    // Users given to a campaign earlier in this run. A real run records them as queued
    // deliveries, which the store's frequency cap already sees; a dry run writes nothing,
    // so its later campaigns must be told here or its figures would overcount.
    let mut claimed = HashSet::new();
    for campaign in store.open_campaigns().await? {
        if only.is_some_and(|id| id != campaign.id) {
            continue;
        }
        let run = Run {
            store,
            config,
            dry_run,
            now,
            progress,
        };
        runs.push(run_one(&run, sink, &campaign, &mut claimed).await?);
    }
    Ok(runs)
}

/// What every campaign of one run shares.
#[derive(Clone, Copy)]
struct Run<'a> {
    store: &'a Store,
    config: &'a CampaignConfig,
    dry_run: bool,
    now: Timestamp,
    progress: &'a indicatif::ProgressBar,
}

async fn run_one<S: PushSink>(
    run: &Run<'_>,
    sink: &S,
    campaign: &Campaign,
    claimed: &mut HashSet<UserId>,
) -> Result<CampaignRun, EngineError> {
    let Run {
        store,
        config,
        dry_run,
        now,
        progress,
    } = *run;
    let mut out = CampaignRun {
        campaign: campaign.id,
        offer_id: campaign.offer_id,
        audience: None,
        sent: 0,
        failed: 0,
        status: campaign.status,
        note: None,
    };
    let record = store.offer_record(campaign.offer_id).await?;
    let open = record
        .as_ref()
        .filter(|r| r.offer.is_active)
        .map(|r| Availability::of(&r.stocks, now))
        .filter(|a| a.has_places(1));
    let (Some(record), Some(_)) = (record, open) else {
        // Sold out or closed since the request: notifying anyone now would only disappoint.
        out.note = Some("the offer has no place left that can be booked".into());
        if !dry_run {
            store.skip_pending(campaign.id).await?;
            store
                .set_campaign_status(campaign.id, CampaignStatus::Stopped, Some("sold_out"), now)
                .await?;
            out.status = CampaignStatus::Stopped;
        }
        return Ok(out);
    };
    if campaign.status == CampaignStatus::Requested {
        progress.set_message(format!("targeting campaign {}", campaign.id));
        progress.set_position(0);
        let (targets, report) =
            pick_audience(store, &record, config, claimed, now, progress).await?;
        claimed.extend(targets.iter().map(|t| t.user_id));
        out.audience = Some(report);
        if dry_run {
            return Ok(out);
        }
        store.write_audience(campaign.id, &targets, now).await?;
        out.status = CampaignStatus::Targeted;
    } else if dry_run {
        let pending = store.pending_deliveries(campaign.id, i64::MAX).await?.len();
        out.note = Some(format!("{pending} deliveries pending"));
        return Ok(out);
    }
    write_payload(store, campaign.id, &record, &config.out_dir).await?;
    if config.is_quiet(now) {
        out.note = Some("quiet hours: sending deferred to the next run".into());
        return Ok(out);
    }
    store
        .set_campaign_status(campaign.id, CampaignStatus::Sending, None, now)
        .await?;
    out.status = CampaignStatus::Sending;
    let pending = store.pending_deliveries(campaign.id, i64::MAX).await?.len();
    progress.set_message(format!("sending campaign {}", campaign.id));
    progress.set_length(pending as u64);
    progress.set_position(0);
    loop {
        // Places are re-read before each batch: a sold-out offer stops its campaign.
        let places = store
            .offer_record(campaign.offer_id)
            .await?
            .map(|r| Availability::of(&r.stocks, now));
        if !places.is_some_and(|a| a.has_places(1)) {
            let skipped = store.skip_pending(campaign.id).await?;
            store
                .set_campaign_status(campaign.id, CampaignStatus::Stopped, Some("sold_out"), now)
                .await?;
            out.status = CampaignStatus::Stopped;
            out.note = Some(format!("sold out while sending: {skipped} users skipped"));
            return Ok(out);
        }
        let batch = store
            .pending_deliveries(campaign.id, config.batch_size.max(1) as i64)
            .await?;
        if batch.is_empty() {
            break;
        }
        let users: Vec<UserId> = batch.iter().map(|(u, _)| *u).collect();
        let messages: Vec<PushMessage> = batch
            .into_iter()
            .map(|(user, key)| message(campaign.id, user, key, &record))
            .collect();
        let mut last_error = None;
        for attempt in 0..config.max_attempts.max(1) {
            if attempt > 0 {
                let wait = config.backoff_ms.saturating_mul(1 << (attempt - 1).min(16));
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
            match sink.send(&messages).await {
                Ok(()) => {
                    last_error = None;
                    break;
                }
                Err(e) => {
                    tracing::warn!(campaign = %campaign.id, attempt, error = %e, "push batch refused");
                    last_error = Some(e);
                }
            }
        }
        let sent = last_error.is_none();
        store.record_attempt(campaign.id, &users, sent, now).await?;
        if let Some(e) = last_error {
            out.failed = users.len();
            out.note = Some(format!(
                "{e} after {} attempts: {} deliveries left pending for the next run",
                config.max_attempts,
                pending - out.sent
            ));
            return Ok(out);
        }
        out.sent += users.len();
        progress.inc(users.len() as u64);
    }
    store
        .set_campaign_status(campaign.id, CampaignStatus::Sent, None, now)
        .await?;
    out.status = CampaignStatus::Sent;
    Ok(out)
}
