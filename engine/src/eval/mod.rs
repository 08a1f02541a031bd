//! The offline evaluation (`mosaic eval`): hold out the latest 10 % of events by time,
//! learn profiles and the taste model from the rest, rank each evaluated user's
//! candidates with each method, and measure the lists with [`ranking::metrics`].
//!
//! Methods: `popularity` (most booked first), `relevance` (the base score, no
//! diversification nor page rules), `mmr` and `dpp` (the base score re-ranked by
//! maximal marginal relevance or a determinantal point process, without page rules;
//! several λ/θ in the sweep), and `default` (the shipped pipeline: `RankConfig::default()`,
//! with its diversifier, exploration and page guarantees).

mod data;
mod report;

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

pub use data::{Dataset, Event, Item};
pub use report::{EvalReport, MethodResult, CSV_HEADER};

use ranking::embedding::{ModelParams, TasteModel};
use ranking::{metrics, rank, Candidate, Diversifier, PageRules, Profile, RankConfig, RankContext};

use crate::domain::Timestamp;
use crate::error::EngineError;
use crate::profile::{profile_from, signal_weight, Signal};

/// How to evaluate.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// List length measured (Recall@k, NDCG@k…; default 20).
    pub k: usize,
    /// Share of the events, latest by time, held out (default 0.1).
    pub test_share: f64,
    /// Users evaluated at most, spread evenly over the eligible ones (default 1,000).
    pub max_users: usize,
    /// Physical candidates within this radius of home (default 30 km, like the feed).
    pub radius_km: f64,
    /// Physical candidates at most, nearest first (default: as many as the feed takes).
    pub max_physical: usize,
    /// Digital or placeless candidates at most, most popular first (default 2,000).
    pub max_placeless: usize,
    /// The taste model learned on the training events.
    pub model: ModelParams,
    /// The shipped pipeline measured as `default`.
    pub default_config: RankConfig,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            k: 20,
            test_share: 0.1,
            max_users: 1_000,
            radius_km: 30.0,
            max_physical: crate::feed::PHYSICAL_CANDIDATES,
            max_placeless: 2_000,
            model: ModelParams::default(),
            default_config: RankConfig::default(),
        }
    }
}

impl EvalOptions {
    /// These options with the `default` pipeline's DPP θ and exploration noise replaced
    /// where given: what a retune of the feed would give, against the same baselines.
    pub fn retuned(mut self, theta: Option<f64>, exploration: Option<f64>) -> EvalOptions {
        if let Some(theta) = theta {
            self.default_config.diversifier = Diversifier::Dpp { theta };
        }
        if let Some(exploration) = exploration {
            self.default_config.exploration = exploration;
        }
        self
    }
}

/// One way of ordering a user's candidates.
#[derive(Debug, Clone)]
pub(crate) enum Method {
    Popularity,
    Ranked(Box<RankConfig>),
}

/// A named method with its parameter (λ or θ), as reported.
#[derive(Debug, Clone)]
pub(crate) struct Named {
    pub name: &'static str,
    pub param: Option<f64>,
    pub method: Method,
    /// Whether this row is one of the five of `eval.csv`.
    pub headline: bool,
}

/// The relevance order: the base score alone, no exploration nor page rules.
pub fn relevance_config(default: &RankConfig, k: usize) -> RankConfig {
    RankConfig {
        exploration: 0.0,
        diversifier: Diversifier::Relevance,
        page: PageRules::none(k),
        ..default.clone()
    }
}

fn methods(options: &EvalOptions) -> Vec<Named> {
    let base = relevance_config(&options.default_config, options.k);
    let headline_theta = match options.default_config.diversifier {
        Diversifier::Dpp { theta } => theta,
        _ => 0.5,
    };
    let mut out = vec![
        Named {
            name: "popularity",
            param: None,
            method: Method::Popularity,
            headline: true,
        },
        Named {
            name: "relevance",
            param: None,
            method: Method::Ranked(Box::new(base.clone())),
            headline: true,
        },
    ];
    for lambda in [0.8, 0.5, 0.3] {
        out.push(Named {
            name: "mmr",
            param: Some(lambda),
            method: Method::Ranked(Box::new(RankConfig {
                diversifier: Diversifier::Mmr { lambda },
                ..base.clone()
            })),
            headline: lambda == 0.5,
        });
    }
    let mut thetas = vec![0.8, 0.5, 0.3];
    if !thetas.contains(&headline_theta) {
        thetas.push(headline_theta);
    }
    for theta in thetas {
        out.push(Named {
            name: "dpp",
            param: Some(theta),
            method: Method::Ranked(Box::new(RankConfig {
                diversifier: Diversifier::Dpp { theta },
                ..base.clone()
            })),
            headline: theta == headline_theta,
        });
    }
    out.push(Named {
        name: "default",
        param: None,
        method: Method::Ranked(Box::new(options.default_config.clone())),
        headline: true,
    });
    out
}

/// Training events of one user, as `(item index, kind, at, weight)`.
type UserHistory<'a> = Vec<(usize, &'a str, Timestamp, f32)>;

/// What a user's profile is built from: affinities from `history` at `now`, and the
/// embedding folded in from the same events when a model is given.
pub(crate) fn build_profile(
    items: &[Item],
    history: &[(usize, &str, Timestamp, f32)],
    now: Timestamp,
    model: Option<&TasteModel>,
) -> Profile {
    let mut profile = profile_from(
        history.iter().map(|&(i, kind, at, _)| Signal {
            category: &items[i].category,
            subcategory: &items[i].subcategory,
            kind,
            at,
        }),
        now,
    );
    if let Some(model) = model {
        profile.embedding = model.fold_in(
            history
                .iter()
                .map(|&(i, kind, at, w)| (items[i].id, signal_weight(kind, at, now) as f32 * w)),
        );
    }
    profile
}

/// The candidates of a user: items near home (nearest first, within the radius) plus
/// digital or placeless ones (most popular first), leaving out `exclude`.
pub(crate) fn candidate_pool(
    items: &[Item],
    popularity: &[u64],
    home: Option<crate::domain::Coordinates>,
    exclude: &HashSet<usize>,
    radius_km: f64,
    max_physical: usize,
    max_placeless: usize,
) -> Vec<(usize, Option<f64>)> {
    let mut physical: Vec<(usize, f64)> = Vec::new();
    let mut placeless: Vec<usize> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if exclude.contains(&i) {
            continue;
        }
        match (item.location, home) {
            (Some(at), Some(home)) => {
                let d = indexer::haversine_m(home, at);
                if d <= radius_km * 1000.0 {
                    physical.push((i, d));
                }
            }
            // A physical item is not a candidate for a user whose home is unknown.
            (Some(_), None) => {}
            (None, _) => placeless.push(i),
        }
    }
    physical.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    physical.truncate(max_physical);
    placeless.sort_by(|&a, &b| popularity[b].cmp(&popularity[a]).then(a.cmp(&b)));
    placeless.truncate(max_placeless);
    physical
        .into_iter()
        .map(|(i, d)| (i, Some(d)))
        .chain(placeless.into_iter().map(|i| (i, None)))
        .collect()
}

/// A ranking candidate for item `i`.
pub(crate) fn candidate<'a>(
    item: &'a Item,
    distance_m: Option<f64>,
    popularity: u64,
    model: Option<&'a TasteModel>,
) -> Candidate<'a> {
    Candidate {
        id: item.id,
        category: &item.category,
        subcategory: &item.subcategory,
        venue_id: item.venue_id,
        distance_m,
        popularity,
        price_cents: item.price_cents,
        embedding: model.and_then(|m| m.item(item.id)),
        ..Candidate::default()
    }
}

/// The first `k` of `candidates` by `method`, as indices into `candidates`.
pub(crate) fn order(
    method: &Method,
    candidates: &[Candidate],
    profile: &Profile,
    ctx: &RankContext,
    k: usize,
) -> Vec<usize> {
    match method {
        Method::Popularity => {
            let mut idx: Vec<usize> = (0..candidates.len()).collect();
            idx.sort_by(|&a, &b| {
                candidates[b]
                    .popularity
                    .cmp(&candidates[a].popularity)
                    .then(candidates[a].id.cmp(&candidates[b].id))
            });
            idx.truncate(k);
            idx
        }
        Method::Ranked(config) => rank(candidates, profile, config, ctx, k)
            .into_iter()
            .take(k)
            .map(|r| r.index)
            .collect(),
    }
}

/// What one user's lists measure, per method.
struct UserLists {
    /// Per method: item indices of the list.
    lists: Vec<Vec<usize>>,
    /// Per method: recall, NDCG, ILD, entropy, calibration KL.
    scores: Vec<[f64; 5]>,
}

/// Runs the evaluation on `data`; `progress` counts evaluated users.
pub fn evaluate(
    data: &Dataset,
    options: &EvalOptions,
    progress: &indicatif::ProgressBar,
) -> Result<EvalReport, EngineError> {
    if data.events.len() < 10 {
        return Err(EngineError::BadInput(format!(
            "{} events: too few to hold out the latest {:.0} %",
            data.events.len(),
            options.test_share * 100.0
        )));
    }
    let index: HashMap<u64, usize> = data
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id, i))
        .collect();
    // Events are oldest first; the split instant is the first held-out event's.
    let cut = ((data.events.len() as f64) * (1.0 - options.test_share)).floor() as usize;
    let split_at = data.events[cut.min(data.events.len() - 1)].at;
    let (train, test): (Vec<&Event>, Vec<&Event>) =
        data.events.iter().partition(|e| e.at < split_at);

    let mut popularity = vec![0u64; data.items.len()];
    let mut histories: HashMap<u64, UserHistory> = HashMap::new();
    for e in &train {
        let Some(&i) = index.get(&e.item) else {
            continue;
        };
        popularity[i] += 1;
        histories
            .entry(e.user)
            .or_default()
            .push((i, e.kind.as_str(), e.at, e.weight));
    }
    let mut relevant: HashMap<u64, Vec<u64>> = HashMap::new();
    for e in &test {
        if e.kind == "booking" && index.contains_key(&e.item) && histories.contains_key(&e.user) {
            let r = relevant.entry(e.user).or_default();
            if !r.contains(&e.item) {
                r.push(e.item);
            }
        }
    }
    let mut users: Vec<u64> = relevant.keys().copied().collect();
    users.sort_unstable();
    if users.len() > options.max_users {
        let step = users.len() as f64 / options.max_users as f64;
        users = (0..options.max_users)
            .map(|i| users[(i as f64 * step) as usize])
            .collect();
    }
    if users.is_empty() {
        return Err(EngineError::BadInput(
            "no user has both history before the split and a held-out event".into(),
        ));
    }

    let weighted: Vec<(u64, u64, f32)> = train
        .iter()
        .map(|e| {
            (
                e.user,
                e.item,
                signal_weight(&e.kind, e.at, split_at) as f32 * e.weight,
            )
        })
        .collect();
    let model = TasteModel::fit_events(&weighted, &data.cohorts, &options.model).ok();
    let model = model.as_ref();

    let methods = methods(options);
    progress.set_length(users.len() as u64);
    let per_user: Vec<UserLists> = users
        .par_iter()
        .map(|&user| {
            let history = &histories[&user];
            let profile = build_profile(&data.items, history, split_at, model);
            let seen: HashSet<usize> = history.iter().map(|h| h.0).collect();
            let pool = candidate_pool(
                &data.items,
                &popularity,
                data.homes.get(&user).copied(),
                &seen,
                options.radius_km,
                options.max_physical,
                options.max_placeless,
            );
            let candidates: Vec<Candidate> = pool
                .iter()
                .map(|&(i, d)| candidate(&data.items[i], d, popularity[i], model))
                .collect();
            let ctx = RankContext {
                now: split_at,
                seed: RankContext::seed_from(&[user]),
            };
            let relevant = &relevant[&user];
            let mut lists = Vec::with_capacity(methods.len());
            let mut scores = Vec::with_capacity(methods.len());
            for m in &methods {
                let picked = order(&m.method, &candidates, &profile, &ctx, options.k);
                let ids: Vec<u64> = picked.iter().map(|&i| candidates[i].id).collect();
                let cats: Vec<&str> = picked.iter().map(|&i| candidates[i].category).collect();
                let page: Vec<&Candidate> = picked.iter().map(|&i| &candidates[i]).collect();
                let sim = &options.default_config.similarity;
                scores.push([
                    metrics::recall_at_k(&ids, relevant, options.k),
                    metrics::ndcg_at_k(&ids, relevant, options.k),
                    metrics::intra_list_diversity(&page, |a, b| sim.similarity(a, b)),
                    metrics::category_entropy(&cats),
                    metrics::calibration_kl(&profile.category_affinity, &cats),
                ]);
                lists.push(picked.iter().map(|&i| pool[i].0).collect());
            }
            progress.inc(1);
            UserLists { lists, scores }
        })
        .collect();

    let venues: HashSet<u64> = data.items.iter().filter_map(|i| i.venue_id).collect();
    let mut results = Vec::with_capacity(methods.len());
    for (m, named) in methods.iter().enumerate() {
        let n = per_user.len() as f64;
        let mean = |j: usize| per_user.iter().map(|u| u.scores[m][j]).sum::<f64>() / n;
        let lists: Vec<&[usize]> = per_user.iter().map(|u| u.lists[m].as_slice()).collect();
        // Exposure across venues, or across items when the data has no venues.
        let gini = if venues.is_empty() {
            let shown: Vec<usize> = lists.iter().flat_map(|l| l.iter().copied()).collect();
            metrics::exposure_gini(&shown, data.items.len())
        } else {
            let shown: Vec<u64> = lists
                .iter()
                .flat_map(|l| l.iter().filter_map(|&i| data.items[i].venue_id))
                .collect();
            metrics::exposure_gini(&shown, venues.len())
        };
        results.push(MethodResult {
            method: named.name.to_string(),
            param: named.param,
            headline: named.headline,
            recall_at_k: mean(0),
            ndcg_at_k: mean(1),
            ild: mean(2),
            category_entropy: mean(3),
            coverage: metrics::catalogue_coverage(&lists, data.items.len()),
            exposure_gini: gini,
            calibration_kl: mean(4),
        });
    }
    Ok(EvalReport {
        k: options.k,
        users: per_user.len(),
        items: data.items.len(),
        train_events: train.len(),
        test_events: test.len(),
        split_at,
        model_dim: model.map(|m| m.dim),
        results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retune_changes_the_default_pipeline_and_its_headline_dpp_only() {
        assert_eq!(
            EvalOptions::default().retuned(None, None).default_config,
            RankConfig::default()
        );
        let options = EvalOptions::default().retuned(Some(0.6), Some(0.0));
        let config = &options.default_config;
        assert_eq!(config.diversifier, Diversifier::Dpp { theta: 0.6 });
        assert_eq!(config.exploration, 0.0);
        assert_eq!(config.page, RankConfig::default().page);
        let named = methods(&options);
        let headline_dpp: Vec<_> = named
            .iter()
            .filter(|m| m.name == "dpp" && m.headline)
            .map(|m| m.param)
            .collect();
        assert_eq!(headline_dpp, [Some(0.6)]);
        // The relevance baseline is the same whatever the retune.
        let relevance = named.iter().find(|m| m.name == "relevance").unwrap();
        let Method::Ranked(base) = &relevance.method else {
            panic!("relevance is ranked");
        };
        assert_eq!(**base, relevance_config(&RankConfig::default(), 20));
    }
}
