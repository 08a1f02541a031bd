//! The taste model: learned in batch from the whole activity log (`mosaic profiles
//! build`), saved to a file, loaded when the service starts, and used by the feed to give
//! the user's profile and every candidate an embedding. Users without history get the
//! prior of their cohort (age and department) from the model's taste clusters.

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;
use ranking::embedding::EmbeddingError;
pub use ranking::embedding::{ModelParams, SvdParams, TasteModel};

use crate::domain::Timestamp;
use crate::error::EngineError;
use crate::profile::signal_weight;
use crate::store::{Activity, Store};

/// Where `mosaic profiles build` writes the model and `mosaic serve` looks for it.
pub const DEFAULT_MODEL_PATH: &str = "data/model.bin";

impl From<EmbeddingError> for EngineError {
    fn from(e: EmbeddingError) -> EngineError {
        EngineError::Data(e.to_string())
    }
}

/// The cohort keys of a user, most specific first: age and department, department,
/// age, everyone. A cold-start prior is looked up in this order.
pub fn cohort_keys(birth_date: &str, department: &str, today: NaiveDate) -> Vec<String> {
    let mut keys = Vec::with_capacity(4);
    let age = birth_date
        .parse::<NaiveDate>()
        .ok()
        .map(|b| crate::credit::age_on(b, today));
    if let Some(age) = age {
        keys.push(format!("age={age}|dept={department}"));
    }
    keys.push(format!("dept={department}"));
    if let Some(age) = age {
        keys.push(format!("age={age}"));
    }
    keys.push("*".into());
    keys
}

/// The weighted `(user, offer, weight)` events of a log at `now`: kind weight with decay.
pub fn weighted_events(log: &[Activity], now: Timestamp) -> Vec<(u64, u64, f32)> {
    log.iter()
        .map(|a| {
            (
                a.user_id.0 as u64,
                a.offer_id.0 as u64,
                signal_weight(&a.kind, a.at, now) as f32,
            )
        })
        .collect()
}

/// What a build read and learned.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildSummary {
    pub events: usize,
    pub users: usize,
    pub items: usize,
    pub dim: usize,
    pub clusters: usize,
    pub cohorts_with_prior: usize,
}

/// Learns the taste model from every booking and interaction in the store at `now`;
/// `progress` counts the rows read.
pub async fn build_taste_model(
    store: &Store,
    now: Timestamp,
    params: &ModelParams,
    progress: &indicatif::ProgressBar,
) -> Result<(TasteModel, BuildSummary), EngineError> {
    let log = store.activity_log(progress).await?;
    let today = chrono::DateTime::from_timestamp(now, 0)
        .map(|d| d.date_naive())
        .ok_or_else(|| EngineError::BadInput(format!("bad instant {now}")))?;
    let groups: HashMap<u64, Vec<String>> = store
        .cohorts()
        .await?
        .into_iter()
        .map(|c| {
            (
                c.user_id.0 as u64,
                cohort_keys(&c.birth_date, &c.department, today),
            )
        })
        .collect();
    let events = weighted_events(&log, now);
    let users = log
        .iter()
        .map(|a| a.user_id)
        .collect::<std::collections::HashSet<_>>()
        .len();
    let params = params.clone();
    // The factorisation is CPU-bound (and parallel with rayon): keep it off the runtime.
    let model =
        tokio::task::spawn_blocking(move || TasteModel::fit_events(&events, &groups, &params))
            .await
            .map_err(|e| EngineError::Data(format!("model build panicked: {e}")))??;
    let summary = BuildSummary {
        events: log.len(),
        users,
        items: model.items(),
        dim: model.dim,
        clusters: model.clusters(),
        cohorts_with_prior: model.priors.len(),
    };
    Ok((model, summary))
}

/// Writes the model to `path` atomically (a temporary file renamed over it), so a
/// service starting meanwhile reads the old model or the new one, never half of one.
pub fn save_model(model: &TasteModel, path: &Path) -> Result<(), EngineError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, model.to_bytes()?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Reads a model written by [`save_model`].
pub fn load_model(path: &Path) -> Result<TasteModel, EngineError> {
    let bytes = std::fs::read(path)?;
    Ok(TasteModel::from_bytes(&bytes)?)
}

/// Gives the profile and the candidates their embeddings from `model`: the user's is
/// folded in from their history, or for a user without one (or none the model knows) the
/// prior of their cohort. The candidates borrow theirs from the model.
pub(crate) fn embed<'m>(
    model: &'m TasteModel,
    profile: &mut ranking::Profile,
    candidates: &mut [ranking::Candidate<'m>],
    history: &[crate::store::HistoryEntry],
    user: &crate::domain::User,
    now: Timestamp,
) {
    profile.embedding = model
        .fold_in(history.iter().map(|h| {
            (
                h.offer_id.0 as u64,
                signal_weight(&h.kind, h.at, now) as f32,
            )
        }))
        .or_else(|| {
            let today = chrono::DateTime::from_timestamp(now, 0)?.date_naive();
            let keys = cohort_keys(&user.birth_date.to_string(), &user.department, today);
            model.prior(keys.iter().map(String::as_str))
        });
    for c in candidates {
        c.embedding = model.item(c.id);
    }
}
