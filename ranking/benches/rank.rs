//! Score + diversify 1,000 candidates into a 20-item page on one thread, for each
//! diversifier; target ≤ 1 ms with the DPP. Besides criterion's report, writes its
//! figures into `benches/RANKING.md` (run with `cargo bench -p ranking --bench rank`).

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use ranking::{rank, Candidate, Diversifier, Profile, RankConfig, RankContext};

const CATEGORIES: [&str; 12] = [
    "CINEMA",
    "LIVRE",
    "MUSEE",
    "SPECTACLE",
    "MUSIQUE_LIVE",
    "MUSIQUE_ENREGISTREE",
    "PRATIQUE_ART",
    "CONFERENCE",
    "JEU",
    "INSTRUMENT",
    "MEDIA",
    "BEAUX_ARTS",
];
/// Embedding size of the benchmark's offers and user.
const DIM: usize = 32;
const NOW: i64 = 1_764_547_200;

/// A deterministic xorshift, enough to spread the benchmark's offers.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn embedding(&mut self) -> Vec<f32> {
        (0..DIM).map(|_| (self.unit() as f32 - 0.5) * 0.4).collect()
    }
}

/// `n` candidates like a feed's pool: twelve categories (a few dominant), five
/// subcategories each, 300 venues within 30 km, one in seven digital, events in the
/// next two months, limited places for a third, embeddings for all, a few boosted.
/// Candidates borrow their codes and embeddings; the benchmark's live as long as it does.
fn pool(n: usize) -> Vec<Candidate<'static>> {
    let mut d = Draw(0x5EED);
    (0..n as u64)
        .map(|id| {
            let cat = CATEGORIES[((d.unit().powi(2)) * CATEGORIES.len() as f64) as usize];
            let digital = d.next().is_multiple_of(7);
            let event = !digital && d.next().is_multiple_of(2);
            Candidate {
                id,
                category: cat,
                subcategory: format!("{cat}_{}", d.next() % 5).leak(),
                venue_id: (!digital).then(|| d.next() % 300),
                distance_m: (!digital).then(|| 30_000.0 * d.unit().sqrt()),
                popularity: (d.unit().powi(3) * 500.0) as u64,
                price_cents: d.next() % 6_000,
                event_at: event.then(|| NOW + (d.next() % (60 * 86_400)) as i64),
                remaining_places: (d.next().is_multiple_of(3)).then(|| (d.next() % 50) as u32),
                embedding: Some(d.embedding().leak()),
                boost: if d.next().is_multiple_of(50) {
                    0.5
                } else {
                    0.0
                },
            }
        })
        .collect()
}

fn profile() -> Profile {
    let mut d = Draw(0xFACE);
    let mut p = Profile {
        remaining_credit_cents: Some(15_000),
        embedding: Some(d.embedding().into()),
        ..Profile::default()
    };
    for (cat, a) in [("CINEMA", 1.0), ("MUSIQUE_LIVE", 0.6), ("LIVRE", 0.3)] {
        p.category_affinity.insert(cat.into(), a);
        p.subcategory_affinity.insert(format!("{cat}_1"), a);
        p.booked_categories.push(cat.into());
    }
    p
}

fn config(diversifier: Diversifier) -> RankConfig {
    RankConfig {
        diversifier,
        ..RankConfig::default()
    }
}

struct Case {
    name: &'static str,
    candidates: usize,
    items: usize,
    diversifier: Diversifier,
}

const CASES: [Case; 6] = [
    Case {
        name: "dpp (default), 1,000 → 20",
        candidates: 1_000,
        items: 20,
        diversifier: Diversifier::DEFAULT,
    },
    Case {
        name: "mmr λ=0.7, 1,000 → 20",
        candidates: 1_000,
        items: 20,
        diversifier: Diversifier::Mmr { lambda: 0.7 },
    },
    Case {
        name: "relevance, 1,000 → 20",
        candidates: 1_000,
        items: 20,
        diversifier: Diversifier::Relevance,
    },
    Case {
        name: "dpp (default), 2,300 → 20 (the feed's pool)",
        candidates: 2_300,
        items: 20,
        diversifier: Diversifier::DEFAULT,
    },
    Case {
        name: "dpp (default), 2,300 → 60 (a first page, kept three pages deep)",
        candidates: 2_300,
        items: 60,
        diversifier: Diversifier::DEFAULT,
    },
    Case {
        name: "dpp (default), 2,300 → 200 (ten pages)",
        candidates: 2_300,
        items: 200,
        diversifier: Diversifier::DEFAULT,
    },
];

/// Per-call latencies of `case` over `runs` calls after a warm-up, sorted.
fn sample(case: &Case, runs: usize) -> Vec<Duration> {
    let candidates = pool(case.candidates);
    let profile = profile();
    let config = config(case.diversifier);
    let mut times = Vec::with_capacity(runs);
    for run in 0..runs + runs / 10 {
        let ctx = RankContext {
            now: NOW,
            seed: run as u64,
        };
        let start = Instant::now();
        black_box(rank(
            black_box(&candidates),
            &profile,
            &config,
            &ctx,
            case.items,
        ));
        if run >= runs / 10 {
            times.push(start.elapsed());
        }
    }
    times.sort();
    times
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn write_report() {
    let mut table = String::new();
    for case in &CASES {
        let runs = if case.items > 20 { 100 } else { 1_000 };
        let t = sample(case, runs);
        let mean = t.iter().sum::<Duration>() / t.len() as u32;
        let q = |p: f64| t[((t.len() - 1) as f64 * p).round() as usize];
        writeln!(
            table,
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
            case.name,
            t.len(),
            ms(mean),
            ms(q(0.5)),
            ms(q(0.9)),
            ms(q(0.99)),
        )
        .unwrap();
    }
    let machine = machine();
    let date = std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let report = format!(
        "# Ranking benchmark\n\n\
         Written by `cargo bench -p ranking --bench rank` (profile `bench`, one thread), {date}, on {machine}.\n\n\
         One call of `ranking::rank` = score every candidate (affinity, {DIM}-d embedding dot \
         product, distance, popularity, urgency, places, price fit, boost), add the seeded \
         exploration noise, and fill the page(s) under the hard page rules with the diversifier. \
         Candidates: twelve categories, 300 venues, one in seven digital, {DIM}-d embeddings \
         (`ranking/benches/rank.rs`). Latencies per call, after a 10 % warm-up.\n\n\
         Target (ranking issue): score + diversify 1,000 candidates into 20 items with the DPP \
         in ≤ 1 ms on one core.\n\n\
         | case | calls | mean ms | p50 ms | p90 ms | p99 ms |\n\
         |---|---|---|---|---|---|\n{table}"
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../benches/RANKING.md");
    std::fs::write(path, report).expect("write benches/RANKING.md");
    eprintln!("wrote {path}");
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "an unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores ({model})")
}

fn main() {
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(50)
        .measurement_time(Duration::from_secs(3));
    let mut group = c.benchmark_group("rank");
    for case in &CASES {
        let candidates = pool(case.candidates);
        let profile = profile();
        let config = config(case.diversifier);
        let ctx = RankContext { now: NOW, seed: 1 };
        group.bench_function(case.name, |b| {
            b.iter(|| rank(black_box(&candidates), &profile, &config, &ctx, case.items))
        });
    }
    group.finish();
    c.final_summary();
    // `cargo test --benches` runs this binary in test mode: measure only when benching.
    if std::env::args().any(|a| a == "--bench") {
        write_report();
    }
}
