//! Times the learning step of `mosaic profiles build` at the issue's scale — 1M users ×
//! 10M weighted events — on a synthetic matrix, without the store: seeding a world that
//! size takes over half an hour, and reading it is the store's cost, not the ranking's.
//!
//! ```text
//! cargo build --profile bench -p ranking --example profile_build
//! /usr/bin/time -v target/release/examples/profile_build [USERS EVENTS ITEMS]
//! ```
//!
//! Defaults: 1,000,000 users, 10,000,000 events, 1,000,000 offers. The events are skewed
//! like the generated world's: a user's activity is heavy-tailed (most users a handful of
//! events, a few hundreds), each user leans to one to three of twelve categories, offers
//! within a category are Zipf-popular, and weights decay with age like the engine's
//! signals. Users carry cohort keys (age × department, department, age, everyone) like
//! `engine::taste::cohort_keys`. Prints one Markdown table row per phase.

use std::collections::HashMap;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ranking::embedding::{ModelParams, TasteModel};

const CATEGORIES: u64 = 12;

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .map(|a| a.replace(['_', ','], "").parse().expect("a count"))
        .unwrap_or(default)
}

/// Heavy-tailed activity: a Pareto draw (α = 1.5) scaled so the counts sum to `events`.
fn activity(rng: &mut ChaCha8Rng, users: usize, events: usize) -> Vec<usize> {
    let raw: Vec<f64> = (0..users)
        .map(|_| (1.0 - rng.gen::<f64>()).powf(-1.0 / 1.5))
        .collect();
    let total: f64 = raw.iter().sum();
    let mut counts: Vec<usize> = raw
        .iter()
        .map(|r| ((r / total * events as f64) as usize).max(1))
        .collect();
    // Top up (or trim) to exactly `events`, one event per user in turn.
    let mut sum: usize = counts.iter().sum();
    let mut u = 0;
    while sum != events {
        if sum < events {
            counts[u % users] += 1;
            sum += 1;
        } else if counts[u % users] > 1 {
            counts[u % users] -= 1;
            sum -= 1;
        }
        u += 1;
    }
    counts
}

/// An offer of `category` (offers are dealt round-robin to categories), Zipf-like: rank
/// `⌊n·u³⌋` puts about half the events on the top 1/8 of the category's offers.
fn offer(rng: &mut ChaCha8Rng, category: u64, items: u64) -> u64 {
    let per_category = items / CATEGORIES;
    let rank = (per_category as f64 * rng.gen::<f64>().powi(3)) as u64;
    rank.min(per_category - 1) * CATEGORIES + category
}

fn main() {
    let users = arg(1, 1_000_000);
    let events = arg(2, 10_000_000);
    let items = arg(3, 1_000_000) as u64;
    let threads = rayon::current_num_threads();
    let mut rng = ChaCha8Rng::seed_from_u64(42);

    let start = Instant::now();
    let counts = activity(&mut rng, users, events);
    let mut log: Vec<(u64, u64, f32)> = Vec::with_capacity(events);
    let mut groups: HashMap<u64, Vec<String>> = HashMap::with_capacity(users);
    for (u, &n) in counts.iter().enumerate() {
        let favourites: Vec<u64> = (0..rng.gen_range(1..=3))
            .map(|_| rng.gen_range(0..CATEGORIES))
            .collect();
        for _ in 0..n {
            let category = if rng.gen_bool(0.8) {
                favourites[rng.gen_range(0..favourites.len())]
            } else {
                rng.gen_range(0..CATEGORIES)
            };
            let item = offer(&mut rng, category, items);
            // Booking (1.0) or a lighter interaction, halved every 90 days over two years.
            let kind = [1.0, 0.6, 0.3, 0.1][rng.gen_range(0..4)];
            let age_days = rng.gen_range(0.0..730.0);
            let weight = kind * 0.5f64.powf(age_days / 90.0);
            log.push((u as u64, item, weight as f32));
        }
        let age = rng.gen_range(15..=20);
        let dept = rng.gen_range(1..=95);
        groups.insert(
            u as u64,
            vec![
                format!("age={age}|dept={dept:02}"),
                format!("dept={dept:02}"),
                format!("age={age}"),
                "*".into(),
            ],
        );
    }
    let generated = start.elapsed();

    let start = Instant::now();
    let model = TasteModel::fit_events(&log, &groups, &ModelParams::default()).expect("a model");
    let fit = start.elapsed();

    let heaviest = counts.iter().max().copied().unwrap_or(0);
    let median = {
        let mut c = counts.clone();
        c.sort_unstable();
        c[c.len() / 2]
    };
    println!(
        "users {users}, events {events}, offers {items} ({} with events), events per user: \
         median {median}, max {heaviest}; rayon threads {threads}",
        model.items()
    );
    println!("| users | events | offers | threads | generate s | fit_events s | dim | clusters | priors |");
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {users} | {events} | {} | {threads} | {:.1} | **{:.1}** | {} | {} | {} |",
        model.items(),
        generated.as_secs_f64(),
        fit.as_secs_f64(),
        model.dim,
        model.clusters(),
        model.priors.len()
    );
}
