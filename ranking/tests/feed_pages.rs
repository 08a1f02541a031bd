//! Pages of the feed: guarantees on adversarial pools, determinism, paging, and what
//! each diversifier does.

use std::collections::{HashMap, HashSet};

use ranking::metrics::{category_entropy, category_ild};
use ranking::{
    diversify, rank, score, Candidate, Diversifier, PageRules, Profile, RankConfig, RankContext,
    Reason,
};

const CTX: RankContext = RankContext {
    now: 1_764_547_200,
    seed: 42,
};
const CATEGORIES: [&str; 8] = [
    "CINEMA",
    "LIVRE",
    "MUSEE",
    "SPECTACLE",
    "MUSIQUE_LIVE",
    "JEU",
    "PRATIQUE_ART",
    "MEDIA",
];

fn offer(
    id: u64,
    category: &'static str,
    venue: Option<u64>,
    distance_m: f64,
) -> Candidate<'static> {
    Candidate {
        id,
        category,
        // Candidates borrow their codes; a test's few hundred may as well live forever.
        subcategory: format!("{category}_{}", id % 3).leak(),
        venue_id: venue,
        distance_m: venue.map(|_| distance_m),
        popularity: id % 17,
        price_cents: 500 + 100 * (id % 9),
        ..Candidate::default()
    }
}

/// 60 cinema offers at ten venues, close and popular, plus four of each of five other
/// categories far away: what a narrow profile would drown in.
fn cinema_heavy_pool() -> Vec<Candidate<'static>> {
    let mut v: Vec<Candidate> = (0..60)
        .map(|i| Candidate {
            popularity: 100,
            ..offer(i, "CINEMA", Some(i % 10), 200.0)
        })
        .collect();
    for (k, cat) in CATEGORIES[1..6].iter().enumerate() {
        for j in 0..4 {
            let id = 100 + (k * 10 + j) as u64;
            v.push(Candidate {
                popularity: 0,
                ..offer(id, cat, Some(id), 40_000.0)
            });
        }
    }
    v
}

/// A varied pool: `n` offers over eight categories and `n / 3` venues.
fn mixed_pool(n: u64) -> Vec<Candidate<'static>> {
    (0..n)
        .map(|i| {
            let cat = CATEGORIES[(i * 7 % 8) as usize];
            let venue = (cat != "MEDIA").then_some(i % (n / 3).max(1));
            offer(i, cat, venue, (i * 37 % 300) as f64 * 100.0)
        })
        .collect()
}

fn cinema_lover() -> Profile {
    let mut profile = Profile::default();
    profile.category_affinity.insert("CINEMA".into(), 1.0);
    profile.booked_categories.push("CINEMA".into());
    profile
}

fn configs() -> Vec<RankConfig> {
    [
        Diversifier::Relevance,
        Diversifier::Mmr { lambda: 0.7 },
        Diversifier::Dpp { theta: 0.5 },
        Diversifier::Dpp { theta: 0.9 },
    ]
    .into_iter()
    .map(|diversifier| RankConfig {
        diversifier,
        ..RankConfig::default()
    })
    .collect()
}

fn categories(page: &[usize], pool: &[Candidate]) -> HashSet<String> {
    page.iter().map(|&i| pool[i].category.to_string()).collect()
}

fn max_per_venue(page: &[usize], pool: &[Candidate]) -> usize {
    let mut venues: HashMap<u64, usize> = HashMap::new();
    for &i in page {
        if let Some(v) = pool[i].venue_id {
            *venues.entry(v).or_default() += 1;
        }
    }
    venues.into_values().max().unwrap_or(0)
}

fn indices(ranked: &[ranking::Ranked]) -> Vec<usize> {
    ranked.iter().map(|r| r.index).collect()
}

#[test]
fn every_diversifier_keeps_the_guarantees_for_a_narrow_profile() {
    let pool = cinema_heavy_pool();
    let profile = cinema_lover();
    for config in configs() {
        let ranked = indices(&rank(&pool, &profile, &config, &CTX, 40));
        assert_eq!(ranked.len(), 40);
        for page in ranked.chunks(20) {
            let cats = categories(page, &pool);
            assert!(cats.len() >= 4, "{:?}: {cats:?}", config.diversifier);
            let new = page
                .iter()
                .filter(|&&i| pool[i].category != "CINEMA")
                .count();
            assert!(new >= 2, "{:?}", config.diversifier);
            assert!(max_per_venue(page, &pool) <= 2, "{:?}", config.diversifier);
        }
    }
}

#[test]
fn guarantees_hold_when_the_pool_barely_allows_them() {
    // 200 close cinema offers at 100 venues and one far offer in each of three other
    // categories: the page must take all three to reach four categories.
    let mut pool: Vec<Candidate> = (0..200)
        .map(|i| Candidate {
            popularity: 50,
            ..offer(i, "CINEMA", Some(i % 100), 100.0)
        })
        .collect();
    for (k, cat) in ["LIVRE", "MUSEE", "JEU"].iter().enumerate() {
        pool.push(offer(
            1_000 + k as u64,
            cat,
            Some(1_000 + k as u64),
            29_000.0,
        ));
    }
    for config in configs() {
        let page = indices(&rank(&pool, &cinema_lover(), &config, &CTX, 20));
        assert_eq!(
            categories(&page, &pool).len(),
            4,
            "{:?}",
            config.diversifier
        );
        assert!(max_per_venue(&page, &pool) <= 2);
    }
}

#[test]
fn adversarial_pools_still_fill_pages_and_keep_what_they_can() {
    // All one category, many venues: the venue cap still holds, pages stay full.
    let one_category: Vec<Candidate> = (0..100)
        .map(|i| offer(i, "CINEMA", Some(i % 40), 500.0))
        .collect();
    // All one venue, several categories: categories still spread, pages stay full.
    let one_venue: Vec<Candidate> = (0..100)
        .map(|i| offer(i, CATEGORIES[(i % 6) as usize], Some(7), 500.0))
        .collect();
    // All digital: the digital cap gives way rather than leave the page short.
    let all_digital: Vec<Candidate> = (0..100)
        .map(|i| offer(i, CATEGORIES[(i % 5) as usize], None, 0.0))
        .collect();
    // Fewer candidates than a page.
    let tiny: Vec<Candidate> = (0..7).map(|i| offer(i, "LIVRE", Some(1), 500.0)).collect();
    for config in configs() {
        let d = config.diversifier;
        let page = indices(&rank(&one_category, &cinema_lover(), &config, &CTX, 20));
        assert_eq!(page.len(), 20, "{d:?}");
        assert!(max_per_venue(&page, &one_category) <= 2, "{d:?}");

        let page = indices(&rank(&one_venue, &cinema_lover(), &config, &CTX, 20));
        assert_eq!(page.len(), 20, "{d:?}");
        assert!(categories(&page, &one_venue).len() >= 4, "{d:?}");
        let new = page
            .iter()
            .filter(|&&i| one_venue[i].category != "CINEMA")
            .count();
        assert!(new >= 2, "{d:?}");

        let page = indices(&rank(&all_digital, &Profile::default(), &config, &CTX, 20));
        assert_eq!(page.len(), 20, "{d:?}");
        assert!(categories(&page, &all_digital).len() >= 4, "{d:?}");

        let page = indices(&rank(&tiny, &cinema_lover(), &config, &CTX, 20));
        let mut sorted = page.clone();
        sorted.sort();
        assert_eq!(sorted, (0..7).collect::<Vec<_>>(), "{d:?}");

        assert!(rank(&[], &cinema_lover(), &config, &CTX, 20).is_empty());
    }
}

#[test]
fn digital_offers_do_not_crowd_out_what_is_near() {
    let mut pool = cinema_heavy_pool();
    for i in 0..40 {
        pool.push(Candidate {
            popularity: 1_000,
            price_cents: 0,
            ..offer(1_000 + i, "MEDIA", None, 0.0)
        });
    }
    let mut profile = Profile::default();
    profile.category_affinity.insert("MEDIA".into(), 1.0);
    for config in configs() {
        let page = rank(&pool, &profile, &config, &CTX, 20);
        let digital = page
            .iter()
            .filter(|r| pool[r.index].venue_id.is_none())
            .count();
        assert_eq!(
            digital,
            PageRules::default().max_digital,
            "{:?}",
            config.diversifier
        );
    }
}

#[test]
fn same_seed_same_feed_and_another_seed_moves_it() {
    let pool = mixed_pool(600);
    let profile = cinema_lover();
    for config in configs() {
        let a = rank(&pool, &profile, &config, &CTX, 60);
        let b = rank(&pool, &profile, &config, &CTX, 60);
        assert_eq!(a, b);
        let other = RankContext { seed: 43, ..CTX };
        let c = rank(&pool, &profile, &config, &other, 60);
        assert_ne!(indices(&a), indices(&c), "{:?}", config.diversifier);
    }
    // The candidates' order does not matter, only their ids.
    let config = RankConfig::default();
    let ids = |pool: &[Candidate]| -> Vec<u64> {
        rank(pool, &profile, &config, &CTX, 40)
            .iter()
            .map(|r| pool[r.index].id)
            .collect()
    };
    let mut shuffled = pool.clone();
    shuffled.reverse();
    shuffled.rotate_left(17);
    assert_eq!(ids(&pool), ids(&shuffled));
}

#[test]
fn five_pages_never_repeat_and_deeper_asks_keep_earlier_items() {
    let pool = mixed_pool(400);
    let profile = cinema_lover();
    for config in configs() {
        let all = indices(&rank(&pool, &profile, &config, &CTX, 100));
        assert_eq!(all.len(), 100);
        let unique: HashSet<_> = all.iter().collect();
        assert_eq!(unique.len(), 100, "{:?}", config.diversifier);
        // What a cursor does: ask for offset + limit and skip offset. Pages of 10 read
        // this way must be the slices of the single deep list.
        for (p, limit) in [(0, 10), (1, 10), (2, 20), (3, 7), (4, 33)] {
            let offset = p * 20;
            let want = (offset + limit).min(all.len());
            let page = indices(&rank(&pool, &profile, &config, &CTX, want));
            assert_eq!(
                &page[offset..],
                &all[offset..want],
                "{:?}",
                config.diversifier
            );
        }
        for page in all.chunks(20) {
            assert!(categories(page, &pool).len() >= 4);
            assert!(max_per_venue(page, &pool) <= 2);
        }
    }
}

/// Twenty close cinema offers that a cinema lover scores highest, each a little below
/// the previous, then offers of five other categories a little below them.
fn crafted_pool() -> Vec<Candidate<'static>> {
    let mut pool: Vec<Candidate> = (0..20)
        .map(|i| offer(i, "CINEMA", Some(i), 100.0 + 10.0 * i as f64))
        .collect();
    for i in 0..30 {
        let cat = CATEGORIES[1 + (i % 5) as usize];
        pool.push(offer(
            100 + i,
            cat,
            Some(100 + i),
            3_000.0 + 10.0 * i as f64,
        ));
    }
    pool
}

#[test]
fn dpp_picks_a_more_diverse_page_than_relevance_only() {
    let pool = crafted_pool();
    let profile = Profile {
        booked_categories: vec![],
        ..cinema_lover()
    };
    let page_cats = |diversifier| -> Vec<String> {
        let config = RankConfig {
            diversifier,
            exploration: 0.0,
            page: PageRules::none(20),
            ..RankConfig::default()
        };
        rank(&pool, &profile, &config, &CTX, 20)
            .iter()
            .map(|r| pool[r.index].category.to_string())
            .collect()
    };
    let relevance = page_cats(Diversifier::Relevance);
    assert!(relevance.iter().all(|c| c == "CINEMA"), "{relevance:?}");
    let dpp = page_cats(Diversifier::Dpp { theta: 0.5 });
    assert!(
        category_entropy(&dpp) > category_entropy(&relevance) + 1.0,
        "{dpp:?}"
    );
    assert!(
        category_ild(&dpp) > category_ild(&relevance) + 0.3,
        "{dpp:?}"
    );
    // It still leads with what the user loves.
    assert_eq!(dpp[0], "CINEMA");
    // The feed's θ spreads the page less on its own; its page rules add the categories.
    let default = page_cats(Diversifier::DEFAULT);
    assert_eq!(default[0], "CINEMA");
    let spread = category_entropy(&default);
    assert!(
        spread > category_entropy(&relevance) && spread < category_entropy(&dpp),
        "{default:?}"
    );
    let feed: Vec<usize> = indices(&rank(
        &pool,
        &profile,
        &RankConfig {
            exploration: 0.0,
            ..RankConfig::default()
        },
        &CTX,
        20,
    ));
    assert!(categories(&feed, &pool).len() >= 4, "{feed:?}");
    // θ near 1 gives relevance back.
    assert_eq!(page_cats(Diversifier::Dpp { theta: 0.99 }), relevance);
}

#[test]
fn mmr_with_lambda_one_is_the_relevance_order() {
    let pool = mixed_pool(500);
    let profile = cinema_lover();
    for page in [PageRules::none(20), PageRules::default()] {
        let with = |diversifier| {
            let config = RankConfig {
                diversifier,
                page: page.clone(),
                ..RankConfig::default()
            };
            indices(&rank(&pool, &profile, &config, &CTX, 60))
        };
        assert_eq!(
            with(Diversifier::Mmr { lambda: 1.0 }),
            with(Diversifier::Relevance)
        );
    }
    // Without rules, relevance order is the scores sorted, ties by index.
    let config = RankConfig {
        diversifier: Diversifier::Relevance,
        exploration: 0.0,
        page: PageRules::none(20),
        ..RankConfig::default()
    };
    let scores = score(&pool, &profile, &config, &CTX);
    let mut sorted: Vec<usize> = (0..pool.len()).collect();
    sorted.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    sorted.truncate(60);
    assert_eq!(diversify(&pool, &scores, &profile, &config, 60), sorted);
}

#[test]
fn mmr_spreads_the_page_as_lambda_falls() {
    let pool = crafted_pool();
    let profile = Profile {
        booked_categories: vec![],
        ..cinema_lover()
    };
    let entropy = |lambda| {
        let config = RankConfig {
            diversifier: Diversifier::Mmr { lambda },
            exploration: 0.0,
            page: PageRules::none(20),
            ..RankConfig::default()
        };
        let cats: Vec<String> = rank(&pool, &profile, &config, &CTX, 20)
            .iter()
            .map(|r| pool[r.index].category.to_string())
            .collect();
        category_entropy(&cats)
    };
    let (low, mid, high) = (entropy(0.3), entropy(0.6), entropy(1.0));
    assert_eq!(high, 0.0);
    assert!(low >= mid && mid > high && low > 1.0, "{low} {mid} {high}");
}

#[test]
fn greedy_dpp_matches_the_log_determinant_computed_directly() {
    // The incremental Cholesky must pick, at each step, the item that maximises
    // log det L_Y computed from scratch.
    let embeddings: Vec<[f32; 3]> = (0..30)
        .map(|i| [(i as f32 * 0.7).sin(), (i as f32 * 1.3).cos(), 0.3])
        .collect();
    let pool: Vec<Candidate> = (0..30)
        .map(|i| Candidate {
            embedding: Some(&embeddings[i as usize]),
            ..offer(
                i,
                CATEGORIES[(i % 4) as usize],
                Some(i % 6),
                300.0 * i as f64,
            )
        })
        .collect();
    let theta = 0.6;
    let config = RankConfig {
        diversifier: Diversifier::Dpp { theta },
        page: PageRules::none(10),
        ..RankConfig::default()
    };
    let profile = cinema_lover();
    let scores = score(&pool, &profile, &config, &CTX);
    let picked = diversify(&pool, &scores, &profile, &config, 10);

    let alpha = theta / (2.0 * (1.0 - theta));
    let kernel = |i: usize, j: usize| {
        (alpha * scores[i]).exp()
            * config.similarity.similarity(&pool[i], &pool[j])
            * (alpha * scores[j]).exp()
    };
    let mut chosen: Vec<usize> = Vec::new();
    for _ in 0..10 {
        let best = (0..pool.len())
            .filter(|i| !chosen.contains(i))
            .map(|i| {
                let mut set = chosen.clone();
                set.push(i);
                (i, log_det(&set, &kernel))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .unwrap();
        chosen.push(best.0);
    }
    assert_eq!(picked, chosen);
}

/// log det of the kernel restricted to `set`, by Cholesky.
fn log_det(set: &[usize], kernel: &impl Fn(usize, usize) -> f64) -> f64 {
    let n = set.len();
    let mut l = vec![0.0; n * n];
    let mut sum = 0.0;
    for i in 0..n {
        for j in 0..=i {
            let mut s = kernel(set[i], set[j]);
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if s <= 1e-12 {
                    return f64::NEG_INFINITY;
                }
                l[i * n + i] = s.sqrt();
                sum += s.ln();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    sum
}

#[test]
fn reasons_say_what_weighed() {
    let mut pool = cinema_heavy_pool();
    pool.push(Candidate {
        boost: 1.0,
        ..offer(999, "MUSEE", Some(999), 20_000.0)
    });
    let profile = cinema_lover();
    let ranked = rank(&pool, &profile, &RankConfig::default(), &CTX, 40);
    let reason_of = |id: u64| {
        ranked
            .iter()
            .find(|r| pool[r.index].id == id)
            .map(|r| r.reason.clone())
    };
    assert_eq!(reason_of(999), Some(Reason::Curated));
    for r in &ranked {
        let c = &pool[r.index];
        match &r.reason {
            Reason::Curated => assert!(c.boost > 0.0),
            Reason::Discover { category } => {
                assert_eq!(category, &c.category);
                assert_ne!(category, "CINEMA");
            }
            Reason::BecauseYouBooked { category } => assert_eq!(category, "CINEMA"),
            Reason::NearYou { distance_m } => assert_eq!(Some(*distance_m), c.distance_m),
            Reason::Popular => {}
        }
        assert!(!r.reason.label_fr().is_empty());
    }
    assert!(ranked
        .iter()
        .any(|r| matches!(r.reason, Reason::BecauseYouBooked { .. })));
    assert!(ranked.iter().any(|r| r.reason.kind() == "discover"));
    // Without history, nothing is "to discover" or "because you booked".
    let fresh = rank(
        &mixed_pool(100),
        &Profile::default(),
        &RankConfig::default(),
        &CTX,
        20,
    );
    assert!(fresh
        .iter()
        .all(|r| matches!(r.reason, Reason::NearYou { .. } | Reason::Popular)));
}
