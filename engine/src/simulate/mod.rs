//! The feedback-loop simulation (`mosaic simulate`): simulated users see a feed each
//! week, book from it by a choice model, and their profiles learn from what they booked,
//! once with the relevance-only order and once with the shipped pipeline. The monthly
//! series show whether a pipeline walls users into what they already liked.
//!
//! Each simulated user is a real user of the world (home, history) given a latent taste:
//! their booked categories so far, smoothed with a random appetite for every category
//! (young people like more than they have booked). The choice among the 20 items shown
//! is a multinomial logit with an outside option (booking nothing that week):
//! `u = ln(taste) + curiosity·[category never booked] − distance/10 km·0.3
//!  − 1.5·price/credit left + Gumbel noise`; items above the credit left cannot be booked.

mod plot;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use ranking::embedding::{ModelParams, TasteModel};
use ranking::{metrics, rank, Candidate, Profile, RankConfig, RankContext};

use crate::domain::Timestamp;
use crate::error::EngineError;
use crate::eval::{build_profile, candidate_pool, relevance_config, Dataset};

const WEEK: i64 = 7 * 86_400;
/// Weeks per simulated month: a year is 12 of them (52 weeks).
const WEEKS_PER_MONTH: f64 = 52.0 / 12.0;

/// How to simulate.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub months: usize,
    /// Simulated users, spread evenly over those with a home and a history (default 300).
    pub users: usize,
    /// Items per weekly feed (default 20).
    pub feed_size: usize,
    /// Credit each user starts the year with, in cents (default 300 €).
    pub credit_cents: u64,
    /// Utility of booking nothing this week: sets how often users book (default 3.0).
    pub outside_utility: f64,
    /// Bookings within this many months before a month's end count in its series (default 3).
    pub window_months: usize,
    /// Physical candidates per user, nearest first within 30 km (default 300).
    pub max_physical: usize,
    /// Digital candidates per user, most popular first (default 100).
    pub max_placeless: usize,
    pub seed: u64,
    /// The shipped pipeline.
    pub default_config: RankConfig,
    pub model: ModelParams,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            months: 12,
            users: 300,
            feed_size: 20,
            credit_cents: 30_000,
            outside_utility: 3.0,
            window_months: 3,
            max_physical: 300,
            max_placeless: 100,
            seed: 42,
            default_config: RankConfig::default(),
            model: ModelParams::default(),
        }
    }
}

/// One month of one pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthPoint {
    /// 0 is the window before the simulation starts (history only).
    pub month: usize,
    /// `relevance` or `default`.
    pub pipeline: &'static str,
    /// Bookings made this month, per user.
    pub bookings_per_user: f64,
    /// Mean over users of the entropy (bits) of the categories they booked in the window.
    pub booked_category_entropy: f64,
    /// Mean over users of the distinct categories they booked in the window.
    pub distinct_categories_per_user: f64,
}

/// The series of both pipelines.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    pub users: usize,
    pub months: usize,
    pub points: Vec<MonthPoint>,
}

/// The CSV header of `simulation.csv`.
pub const SIM_CSV_HEADER: &str =
    "month,pipeline,bookings_per_user,booked_category_entropy,distinct_categories_per_user";

/// A simulated user.
struct Agent {
    id: u64,
    /// Latent appetite per category, the strongest 1.
    taste: HashMap<String, f64>,
    curiosity: f64,
    /// Candidate pool: (item index, distance).
    pool: Vec<(usize, Option<f64>)>,
    /// History before the simulation: (item index, kind, at, weight).
    history: Vec<(usize, String, Timestamp, f32)>,
}

impl Simulation {
    /// One pipeline's series.
    pub fn series(&self, pipeline: &str) -> Vec<&MonthPoint> {
        self.points
            .iter()
            .filter(|p| p.pipeline == pipeline)
            .collect()
    }

    /// `simulation.csv`.
    pub fn to_csv(&self) -> String {
        let mut out = format!("{SIM_CSV_HEADER}\n");
        for p in &self.points {
            out.push_str(&format!(
                "{},{},{:.4},{:.4},{:.4}\n",
                p.month,
                p.pipeline,
                p.bookings_per_user,
                p.booked_category_entropy,
                p.distinct_categories_per_user
            ));
        }
        out
    }

    /// Writes `dir/simulation.csv` and `dir/simulation.svg`.
    pub fn write(&self, dir: &Path) -> Result<(), EngineError> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("simulation.csv"), self.to_csv())?;
        plot::write_svg(self, &dir.join("simulation.svg"))
    }
}

/// Runs the simulation over the world in `data`, starting after its last event;
/// `progress` counts simulated weeks of both pipelines.
pub fn simulate(
    data: &Dataset,
    options: &SimOptions,
    progress: &indicatif::ProgressBar,
) -> Result<Simulation, EngineError> {
    let start =
        data.events.last().map(|e| e.at + 86_400).ok_or_else(|| {
            EngineError::BadInput("the world has no history to start from".into())
        })?;
    let index: HashMap<u64, usize> = data
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id, i))
        .collect();
    let mut popularity = vec![0u64; data.items.len()];
    let mut histories: HashMap<u64, Vec<(usize, String, Timestamp, f32)>> = HashMap::new();
    for e in &data.events {
        if let Some(&i) = index.get(&e.item) {
            if e.kind == "booking" {
                popularity[i] += 1;
            }
            histories
                .entry(e.user)
                .or_default()
                .push((i, e.kind.clone(), e.at, e.weight));
        }
    }
    let weighted: Vec<(u64, u64, f32)> = data
        .events
        .iter()
        .map(|e| {
            (
                e.user,
                e.item,
                crate::profile::signal_weight(&e.kind, e.at, start) as f32 * e.weight,
            )
        })
        .collect();
    let model = TasteModel::fit_events(&weighted, &data.cohorts, &options.model).ok();

    let categories: Vec<String> = {
        let set: HashSet<&str> = data.items.iter().map(|i| i.category.as_str()).collect();
        let mut v: Vec<String> = set.into_iter().map(String::from).collect();
        v.sort();
        v
    };
    let mut eligible: Vec<u64> = histories
        .iter()
        .filter(|(u, h)| data.homes.contains_key(u) && h.iter().any(|e| e.1 == "booking"))
        .map(|(&u, _)| u)
        .collect();
    eligible.sort_unstable();
    if eligible.is_empty() {
        return Err(EngineError::BadInput(
            "no user with a home and a booking to simulate".into(),
        ));
    }
    let step = (eligible.len() as f64 / options.users.max(1) as f64).max(1.0);
    let chosen: Vec<u64> = (0..options.users.min(eligible.len()))
        .map(|i| eligible[(i as f64 * step) as usize])
        .collect();
    let agents: Vec<Agent> = chosen
        .iter()
        .map(|&id| {
            let history = histories.remove(&id).unwrap_or_default();
            let mut rng =
                ChaCha8Rng::seed_from_u64(options.seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut counts: HashMap<&str, f64> = HashMap::new();
            for (i, kind, _, _) in &history {
                if kind == "booking" {
                    *counts.entry(data.items[*i].category.as_str()).or_default() += 1.0;
                }
            }
            // What they booked, plus an appetite for everything (an exponential draw,
            // as in the generated world) that history has not revealed yet.
            let mut taste: HashMap<String, f64> = categories
                .iter()
                .map(|c| {
                    let appetite = -rng.gen::<f64>().max(1e-9).ln();
                    (
                        c.clone(),
                        counts.get(c.as_str()).copied().unwrap_or(0.0) + appetite,
                    )
                })
                .collect();
            let top = taste
                .values()
                .copied()
                .fold(0.0, f64::max)
                .max(f64::EPSILON);
            taste.values_mut().for_each(|v| *v /= top);
            let seen: HashSet<usize> = history
                .iter()
                .filter(|h| h.1 == "booking")
                .map(|h| h.0)
                .collect();
            let pool = candidate_pool(
                &data.items,
                &popularity,
                data.homes.get(&id).copied(),
                &seen,
                30.0,
                options.max_physical,
                options.max_placeless,
            );
            Agent {
                id,
                taste,
                curiosity: rng.gen_range(0.3..1.5),
                pool,
                history,
            }
        })
        .collect();

    let weeks = (options.months as f64 * WEEKS_PER_MONTH).round() as usize;
    progress.set_length((2 * weeks * agents.len()) as u64);
    let pipelines: [(&'static str, RankConfig); 2] = [
        (
            "relevance",
            relevance_config(&options.default_config, options.feed_size),
        ),
        ("default", options.default_config.clone()),
    ];
    let mut points = Vec::new();
    for (name, config) in &pipelines {
        // Per agent: the (week, category) of every booking made in the simulation.
        let runs: Vec<Vec<(usize, String)>> = agents
            .par_iter()
            .map(|agent| {
                let run = run_agent(
                    agent,
                    data,
                    &popularity,
                    model.as_ref(),
                    config,
                    options,
                    start,
                    weeks,
                );
                progress.inc(weeks as u64);
                run
            })
            .collect();
        for month in 0..=options.months {
            let end_week = (month as f64 * WEEKS_PER_MONTH).round() as i64;
            let month_start = ((month as f64 - 1.0) * WEEKS_PER_MONTH).round().max(0.0) as i64;
            let window_start =
                end_week - (options.window_months as f64 * WEEKS_PER_MONTH).round() as i64;
            let (mut entropy, mut distinct, mut counted, mut booked) = (0.0, 0.0, 0usize, 0usize);
            for (agent, run) in agents.iter().zip(&runs) {
                // History before the start counts in the window too, at its own weeks.
                let mut cats: Vec<&str> = agent
                    .history
                    .iter()
                    .filter(|h| h.1 == "booking")
                    .filter(|h| {
                        let w = (h.2 - start).div_euclid(WEEK);
                        w >= window_start && w < end_week
                    })
                    .map(|h| data.items[h.0].category.as_str())
                    .collect();
                for (w, c) in run {
                    let w = *w as i64;
                    if w >= window_start && w < end_week {
                        cats.push(c);
                    }
                    if month > 0 && w >= month_start && w < end_week {
                        booked += 1;
                    }
                }
                if !cats.is_empty() {
                    counted += 1;
                    entropy += metrics::category_entropy(&cats);
                    distinct += cats.iter().collect::<HashSet<_>>().len() as f64;
                }
            }
            points.push(MonthPoint {
                month,
                pipeline: name,
                bookings_per_user: booked as f64 / agents.len() as f64,
                booked_category_entropy: entropy / counted.max(1) as f64,
                distinct_categories_per_user: distinct / counted.max(1) as f64,
            });
        }
    }
    Ok(Simulation {
        users: agents.len(),
        months: options.months,
        points,
    })
}

/// One agent's year under one pipeline: the (week, category) of each booking.
#[allow(clippy::too_many_arguments)]
fn run_agent(
    agent: &Agent,
    data: &Dataset,
    popularity: &[u64],
    model: Option<&TasteModel>,
    config: &RankConfig,
    options: &SimOptions,
    start: Timestamp,
    weeks: usize,
) -> Vec<(usize, String)> {
    let mut rng = ChaCha8Rng::seed_from_u64(
        options
            .seed
            .wrapping_add(agent.id.wrapping_mul(0xD6E8_FEB8_6659_FD93)),
    );
    let mut history: Vec<(usize, String, Timestamp, f32)> = agent.history.clone();
    let mut booked: HashSet<usize> = history
        .iter()
        .filter(|h| h.1 == "booking")
        .map(|h| h.0)
        .collect();
    let mut credit = options.credit_cents;
    let mut out = Vec::new();
    for week in 0..weeks {
        let now = start + week as i64 * WEEK;
        let view: Vec<(usize, &str, Timestamp, f32)> = history
            .iter()
            .map(|(i, k, at, w)| (*i, k.as_str(), *at, *w))
            .collect();
        let mut profile: Profile = build_profile(&data.items, &view, now, model);
        profile.remaining_credit_cents = Some(credit);
        let pool: Vec<&(usize, Option<f64>)> = agent
            .pool
            .iter()
            .filter(|(i, _)| !booked.contains(i))
            .collect();
        let candidates: Vec<Candidate> = pool
            .iter()
            .map(|&&(i, d)| crate::eval::candidate(&data.items[i], d, popularity[i], model))
            .collect();
        let ctx = RankContext {
            now,
            seed: RankContext::seed_from(&[agent.id, week as u64]),
        };
        let feed = rank(&candidates, &profile, config, &ctx, options.feed_size);
        // Multinomial logit by the Gumbel trick: the highest noisy utility wins,
        // the outside option included.
        let gumbel = |rng: &mut ChaCha8Rng| -(-rng.gen::<f64>().max(1e-12).ln()).ln();
        let mut best: Option<(usize, f64)> = None;
        let mut best_u = options.outside_utility + gumbel(&mut rng);
        for r in &feed {
            let c = &candidates[r.index];
            if c.price_cents > credit {
                continue;
            }
            let taste = agent
                .taste
                .get(c.category)
                .copied()
                .unwrap_or(0.01)
                .max(1e-3);
            let novelty = if profile.has_booked(c.category) {
                0.0
            } else {
                agent.curiosity
            };
            let distance = c.distance_m.unwrap_or(5_000.0) / 10_000.0;
            let price = c.price_cents as f64 / credit.max(1) as f64;
            let u = taste.ln() + novelty - 0.3 * distance - 1.5 * price + gumbel(&mut rng);
            if u > best_u {
                best_u = u;
                best = Some((pool[r.index].0, u));
            }
        }
        if let Some((item, _)) = best {
            booked.insert(item);
            credit = credit.saturating_sub(data.items[item].price_cents);
            history.push((item, "booking".into(), now, 1.0));
            out.push((week, data.items[item].category.clone()));
        }
    }
    out
}
