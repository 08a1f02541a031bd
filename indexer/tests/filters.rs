//! Filters, facets, sorting and pagination against brute force.

mod common;

use std::collections::BTreeMap;

use common::*;
use indexer::{
    haversine_m, DigitalMode, Filters, GeoFilter, GeoPoint, OfferDoc, OfferIndex, Query, SortBy,
};

/// Offers whose titles all hold the word "offre", and one in a hundred "rare" too.
fn build() -> (OfferIndex, Vec<OfferDoc>) {
    let mut offers = random_offers(&mut rng(42), 1_500);
    for o in offers.iter_mut().filter(|o| o.id % 100 == 0) {
        o.title = format!("Offre rare {}", o.id);
    }
    let index = OfferIndex::in_ram().unwrap();
    for chunk in offers.chunks(400) {
        index.upsert(chunk.iter().cloned()).unwrap();
        index.commit().unwrap();
    }
    (index, offers)
}

fn passes(o: &OfferDoc, f: &Filters) -> bool {
    (f.categories.is_empty() || f.categories.contains(&o.category))
        && (f.subcategories.is_empty() || f.subcategories.contains(&o.subcategory))
        && f.max_price_cents.is_none_or(|m| o.price_cents <= m)
        && (!f.free_only || o.price_cents == 0)
        && (!f.duo_only || o.is_duo)
        && (f.include_sold_out || !o.sold_out)
        && match (f.begins_after, f.begins_before) {
            (None, None) => true,
            (a, b) => o
                .next_beginning_at
                .is_some_and(|t| a.is_none_or(|a| t >= a) && b.is_none_or(|b| t <= b)),
        }
}

fn filter_cases() -> Vec<Filters> {
    let d = Filters::default;
    vec![
        d(),
        Filters {
            include_sold_out: true,
            ..d()
        },
        Filters {
            categories: vec!["CINEMA".into()],
            ..d()
        },
        Filters {
            categories: vec!["CINEMA".into(), "LIVRE".into(), "INCONNU".into()],
            ..d()
        },
        Filters {
            subcategories: vec!["MUSEE_1".into()],
            ..d()
        },
        Filters {
            max_price_cents: Some(2_000),
            ..d()
        },
        Filters {
            max_price_cents: Some(0),
            ..d()
        },
        Filters {
            free_only: true,
            ..d()
        },
        Filters {
            duo_only: true,
            include_sold_out: true,
            ..d()
        },
        Filters {
            begins_after: Some(1_750_000_000),
            ..d()
        },
        Filters {
            begins_before: Some(1_720_000_000),
            ..d()
        },
        Filters {
            begins_after: Some(1_710_000_000),
            begins_before: Some(1_760_000_000),
            duo_only: true,
            categories: vec!["SPECTACLE".into(), "MUSIQUE_LIVE".into()],
            max_price_cents: Some(5_000),
            ..d()
        },
        Filters {
            begins_after: Some(1_800_000_000),
            begins_before: Some(1_700_000_000),
            ..d()
        },
    ]
}

fn facet_counts(offers: &[&OfferDoc]) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for o in offers {
        *m.entry(o.category.clone()).or_default() += 1;
    }
    m
}

/// Without text, and with a word every offer holds or a rare one, so that the words or
/// the cells drive the search: with either, the collector tests categories and
/// subcategories instead of the inverted index.
#[test]
fn filters_and_facets_match_brute_force() {
    let (index, offers) = build();
    let paris = GeoPoint::new(PARIS.0, PARIS.1).unwrap();
    let radii = [None, Some(30_000.0), Some(300_000.0)];
    for filters in filter_cases() {
        for radius_m in radii {
            for digital in [
                DigitalMode::Include,
                DigitalMode::Exclude,
                DigitalMode::Only,
            ] {
                for text in [None, Some("offre"), Some("rare")] {
                    let q = Query {
                        text: text.map(str::to_string),
                        geo: radius_m.map(|radius_m| GeoFilter::Radius {
                            center: paris,
                            radius_m,
                        }),
                        digital,
                        filters: filters.clone(),
                        limit: 10_000,
                        facets: true,
                        ..Query::default()
                    };
                    let res = index.search(&q).unwrap();
                    let expected: Vec<&OfferDoc> = offers
                        .iter()
                        .filter(|o| passes(o, &filters))
                        .filter(|o| text != Some("rare") || o.id % 100 == 0)
                        .filter(|o| match (o.location, digital, radius_m) {
                            (None, DigitalMode::Exclude, _) | (Some(_), DigitalMode::Only, _) => {
                                false
                            }
                            (None, _, _) | (_, _, None) => true,
                            (Some(p), _, Some(r)) => haversine_m(paris, p) <= r,
                        })
                        .collect();
                    let case = format!("{filters:?} {radius_m:?} {digital:?} {text:?}");
                    let mut got: Vec<u64> = res.hits.iter().map(|h| h.id).collect();
                    got.sort();
                    let want: Vec<u64> = expected.iter().map(|o| o.id).collect();
                    assert_eq!(got, want, "{case}");
                    assert_eq!(res.total, want.len(), "{case}");
                    let facets: BTreeMap<String, u64> = res
                        .facets
                        .iter()
                        .map(|f| (f.category.clone(), f.count))
                        .collect();
                    assert_eq!(facets, facet_counts(&expected), "{case}");
                    assert!(res.facets.windows(2).all(|w| w[0].count >= w[1].count));
                }
            }
        }
    }
}

#[test]
fn facets_count_all_pages_and_are_off_by_default() {
    let (index, offers) = build();
    let q = Query {
        limit: 5,
        facets: true,
        ..Query::default()
    };
    let res = index.search(&q).unwrap();
    assert_eq!(res.hits.len(), 5);
    let unsold: Vec<&OfferDoc> = offers.iter().filter(|o| !o.sold_out).collect();
    assert_eq!(res.total, unsold.len());
    let sum: u64 = res.facets.iter().map(|f| f.count).sum();
    assert_eq!(sum as usize, unsold.len());
    let res = index
        .search(&Query {
            limit: 5,
            ..Query::default()
        })
        .unwrap();
    assert!(res.facets.is_empty());
    // limit 0: counts without hits.
    let res = index
        .search(&Query {
            limit: 0,
            facets: true,
            ..Query::default()
        })
        .unwrap();
    assert!(res.hits.is_empty());
    assert_eq!(res.total, unsold.len());
}

#[test]
fn hits_carry_fast_field_values() {
    let (index, offers) = build();
    let by_id: BTreeMap<u64, &OfferDoc> = offers.iter().map(|o| (o.id, o)).collect();
    let q = Query {
        limit: 10_000,
        filters: Filters {
            include_sold_out: true,
            ..Filters::default()
        },
        ..Query::default()
    };
    let res = index.search(&q).unwrap();
    assert_eq!(res.hits.len(), offers.len());
    for h in &res.hits {
        let o = by_id[&h.id];
        assert_eq!(h.category, o.category);
        assert_eq!(h.subcategory, o.subcategory);
        assert_eq!(h.venue_id, o.venue_id);
        assert_eq!(h.offerer_id, o.offerer_id);
        assert_eq!(h.location, o.location);
        assert_eq!(h.price_cents, o.price_cents);
        assert_eq!(h.is_duo, o.is_duo);
        assert_eq!(h.is_event, o.is_event);
        assert_eq!(h.next_beginning_at, o.next_beginning_at);
        assert_eq!(h.popularity, o.popularity);
        assert_eq!(h.remaining_places, o.remaining_places);
        assert_eq!(h.distance_m, None);
    }
    // Without text nor geo, the default sort falls back to ids.
    assert!(res.hits.windows(2).all(|w| w[0].id < w[1].id));
}

#[test]
fn sorting_and_pagination() {
    let (index, _) = build();
    let center = GeoPoint::new(PARIS.0, PARIS.1).unwrap();
    let base = Query {
        geo: Some(GeoFilter::Radius {
            center,
            radius_m: 50_000.0,
        }),
        limit: 10_000,
        ..Query::default()
    };
    let all = index.search(&base).unwrap().hits;
    assert!(all.len() > 100);
    let physical = all.iter().take_while(|h| h.distance_m.is_some()).count();
    assert!(all[physical..].iter().all(|h| h.distance_m.is_none()));
    assert!(all[..physical]
        .windows(2)
        .all(|w| w[0].distance_m <= w[1].distance_m));
    let mut paged = Vec::new();
    for offset in (0..all.len() + 40).step_by(37) {
        let q = Query {
            offset,
            limit: 37,
            ..base.clone()
        };
        paged.extend(index.search(&q).unwrap().hits);
    }
    assert_eq!(paged, all);
    // Explicit sorts are accepted without text; limit is capped.
    for sort in [SortBy::Relevance, SortBy::Blend, SortBy::Distance] {
        let q = Query {
            sort: Some(sort),
            limit: usize::MAX,
            offset: 3,
            ..base.clone()
        };
        assert_eq!(index.search(&q).unwrap().hits.len(), all.len() - 3);
    }
}

#[test]
fn blend_trades_score_for_distance() {
    let index = OfferIndex::in_ram().unwrap();
    let near = GeoPoint::new(PARIS.0, PARIS.1).unwrap();
    let far = offset(PARIS.0, PARIS.1, 40_000.0, 1.0);
    let mut a = offer(1, "Concert concert concert");
    a.location = Some(far);
    let mut b = offer(2, "Concert et autres choses encore");
    b.location = Some(near);
    index.upsert([a, b]).unwrap();
    index.commit().unwrap();
    let q = |sort| Query {
        text: Some("concert".into()),
        geo: Some(GeoFilter::Radius {
            center: near,
            radius_m: 100_000.0,
        }),
        sort: Some(sort),
        ..Query::default()
    };
    let ids = |sort| {
        index
            .search(&q(sort))
            .unwrap()
            .hits
            .iter()
            .map(|h| h.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(SortBy::Relevance), vec![1, 2]);
    assert_eq!(ids(SortBy::Distance), vec![2, 1]);
    assert_eq!(ids(SortBy::Blend), vec![2, 1]);
}
