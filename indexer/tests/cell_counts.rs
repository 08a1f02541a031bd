//! Searches that count whole cells (nearest offers, digital ones included or not, no
//! filter but categories and sold-out ones) against brute force, on a segment large
//! enough to go cell by cell, beside small ones scanned whole, before and after deletes
//! and updates.

mod common;

use std::collections::BTreeMap;

use common::*;
use indexer::{
    haversine_m, DigitalMode, Filters, GeoFilter, GeoPoint, OfferDoc, OfferIndex, Query, SortBy,
};
use rand::Rng;

/// Offers within 60 km of Paris, denser towards the centre, a tenth of them digital.
fn offers(rng: &mut TestRng, ids: std::ops::Range<u64>) -> Vec<OfferDoc> {
    ids.map(|id| {
        let mut o = offer(id, "o");
        o.location = (!rng.gen_bool(0.1)).then(|| {
            let d = log_uniform(rng, 10.0, 60_000.0);
            offset(
                PARIS.0,
                PARIS.1,
                d,
                rng.gen_range(0.0..std::f64::consts::TAU),
            )
        });
        o.category = CATEGORIES[rng.gen_range(0..CATEGORIES.len())].to_string();
        o.sold_out = rng.gen_bool(0.15);
        o
    })
    .collect()
}

/// What the index must answer for `q`, from the live offers.
struct Expected {
    total: usize,
    facets: BTreeMap<String, u64>,
    page: Vec<(u64, f64)>,
}

fn brute_force(live: &BTreeMap<u64, OfferDoc>, q: &Query) -> Expected {
    let Some(GeoFilter::Radius { center, radius_m }) = q.geo else {
        unreachable!("radius queries only")
    };
    let f = &q.filters;
    let with_digital = q.digital == DigitalMode::Include;
    // Digital offers have no distance: after every physical one, by id.
    let mut hits: Vec<(f64, u64, &str)> = live
        .values()
        .filter(|o| f.include_sold_out || !o.sold_out)
        .filter(|o| f.categories.is_empty() || f.categories.contains(&o.category))
        .filter_map(|o| match o.location {
            Some(at) => {
                let d = haversine_m(center, at);
                (d <= radius_m).then_some((d, o.id, o.category.as_str()))
            }
            None => with_digital.then_some((f64::INFINITY, o.id, o.category.as_str())),
        })
        .collect();
    hits.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut facets = BTreeMap::new();
    for h in &hits {
        *facets.entry(h.2.to_string()).or_default() += 1;
    }
    Expected {
        total: hits.len(),
        facets,
        page: hits
            .iter()
            .skip(q.offset)
            .take(q.limit)
            .map(|h| (h.1, h.0))
            .collect(),
    }
}

fn query(rng: &mut TestRng) -> Query {
    let center = offset(
        PARIS.0,
        PARIS.1,
        rng.gen_range(0.0..30_000.0),
        rng.gen_range(0.0..std::f64::consts::TAU),
    );
    let mut categories = Vec::new();
    if rng.gen_bool(0.3) {
        categories.push(CATEGORIES[rng.gen_range(0..CATEGORIES.len())].to_string());
    }
    Query {
        geo: Some(GeoFilter::Radius {
            center,
            radius_m: log_uniform(rng, 300.0, 50_000.0),
        }),
        digital: if rng.gen_bool(0.5) {
            DigitalMode::Include
        } else {
            DigitalMode::Exclude
        },
        sort: Some(SortBy::Distance),
        offset: [0, 0, 0, 15, 5_000][rng.gen_range(0..5)],
        limit: [0, 1, 20, 200][rng.gen_range(0..4)],
        facets: true,
        filters: Filters {
            categories,
            include_sold_out: rng.gen_bool(0.3),
            ..Filters::default()
        },
        ..Query::default()
    }
}

fn check(index: &OfferIndex, live: &BTreeMap<u64, OfferDoc>, queries: &[Query], when: &str) {
    for (i, q) in queries.iter().enumerate() {
        let want = brute_force(live, q);
        let got = index.search(q).unwrap();
        assert_eq!(got.total, want.total, "{when}, query {i}: total of {q:?}");
        let facets: BTreeMap<String, u64> = got
            .facets
            .iter()
            .map(|f| (f.category.clone(), f.count))
            .collect();
        assert_eq!(facets, want.facets, "{when}, query {i}: facets");
        let page: Vec<u64> = got.hits.iter().map(|h| h.id).collect();
        let want_page: Vec<u64> = want.page.iter().map(|h| h.0).collect();
        assert_eq!(page, want_page, "{when}, query {i}: page of {q:?}");
        for (hit, (_, d)) in got.hits.iter().zip(&want.page) {
            match hit.distance_m {
                Some(got) => assert!((got - d).abs() < 1e-6),
                None => assert!(d.is_infinite(), "{when}, query {i}: digital hit {}", hit.id),
            }
        }
    }
}

#[test]
fn counted_cells_match_brute_force_through_deletes_and_updates() {
    let mut rng = rng(77);
    let index = OfferIndex::in_ram().unwrap();
    // One large segment, which goes cell by cell, and a small one, scanned whole.
    let mut live: BTreeMap<u64, OfferDoc> = BTreeMap::new();
    for batch in [
        offers(&mut rng, 1..60_001),
        offers(&mut rng, 60_001..60_801),
    ] {
        index.upsert(batch.iter().cloned()).unwrap();
        index.commit().unwrap();
        live.extend(batch.into_iter().map(|o| (o.id, o)));
    }
    let queries: Vec<Query> = (0..80).map(|_| query(&mut rng)).collect();
    // Twice: the counts are filled by the first pass and read by the second.
    check(&index, &live, &queries, "fresh");
    check(&index, &live, &queries, "cached");

    for round in 0..2 {
        // Deletes, and updates that move offers or sell them out: each leaves a deleted
        // document in the large segment.
        for _ in 0..400 {
            let id = rng.gen_range(1..60_801);
            if rng.gen_bool(0.5) {
                index.delete(id).unwrap();
                live.remove(&id);
            } else if let Some(mut o) = live.get(&id).cloned() {
                o.sold_out = !o.sold_out;
                if rng.gen_bool(0.5) {
                    o.location = Some(GeoPoint::new(PARIS.0, PARIS.1).unwrap());
                }
                index.upsert([o.clone()]).unwrap();
                live.insert(id, o);
            }
        }
        index.commit().unwrap();
        check(
            &index,
            &live,
            &queries,
            &format!("after updates, round {round}"),
        );
    }
}
