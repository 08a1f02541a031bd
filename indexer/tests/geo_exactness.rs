//! The H3 cover plus exact filter must return exactly what a brute-force
//! haversine scan returns.

mod common;

use std::collections::BTreeMap;

use common::*;
use h3o::{LatLng, Resolution};
use indexer::{
    haversine_m, BoundingBox, Compacted, DigitalMode, Filters, GeoFilter, GeoPoint, OfferDoc,
    OfferIndex, Query, Reach, SortBy,
};
use rand::Rng;

fn build(rng: &mut TestRng) -> (OfferIndex, Vec<OfferDoc>) {
    let offers = random_offers(rng, 2_000);
    let index = OfferIndex::in_ram().unwrap();
    // Several commits: several segments, as in production.
    for chunk in offers.chunks(700) {
        index.upsert(chunk.iter().cloned()).unwrap();
        index.commit().unwrap();
    }
    assert_eq!(index.doc_count(), 2_000);
    (index, offers)
}

fn geo_query(geo: GeoFilter, digital: DigitalMode) -> Query {
    Query {
        geo: Some(geo),
        digital,
        sort: Some(SortBy::Distance),
        limit: 10_000,
        filters: Filters {
            include_sold_out: true,
            ..Filters::default()
        },
        ..Query::default()
    }
}

/// A point a few metres from a vertex of the H3 cell of a random offer, at
/// a random indexed resolution: where a sloppy cover would miss.
fn near_cell_vertex(rng: &mut TestRng, offers: &[OfferDoc]) -> GeoPoint {
    let located: Vec<GeoPoint> = offers.iter().filter_map(|o| o.location).collect();
    let p = located[rng.gen_range(0..located.len())];
    let res = Resolution::try_from(rng.gen_range(2u8..=9)).unwrap();
    let cell = LatLng::new(p.lat(), p.lon()).unwrap().to_cell(res);
    let boundary = cell.boundary();
    let v = boundary[rng.gen_range(0..boundary.len())];
    offset(
        v.lat(),
        v.lng(),
        rng.gen_range(0.0..5.0),
        rng.gen_range(0.0..std::f64::consts::TAU),
    )
}

/// Query `i`'s centre: within `spread_m` of one of the places when `i` is even, a few
/// metres from a cell vertex when it is odd.
fn place_or_vertex(i: usize, rng: &mut TestRng, offers: &[OfferDoc], spread_m: f64) -> GeoPoint {
    if i.is_multiple_of(2) {
        let (lat, lon) = PLACES[rng.gen_range(0..PLACES.len())];
        offset(
            lat,
            lon,
            rng.gen_range(0.0..spread_m),
            rng.gen_range(0.0..6.3),
        )
    } else {
        near_cell_vertex(rng, offers)
    }
}

#[test]
fn radius_queries_match_brute_force() {
    let mut rng = rng(7);
    let (index, offers) = build(&mut rng);
    let mut non_empty = 0;
    let mut total_hits = 0;
    for i in 0..1_000 {
        let center = match i % 3 {
            0 => {
                let (lat, lon) = PLACES[rng.gen_range(0..PLACES.len())];
                offset(
                    lat,
                    lon,
                    rng.gen_range(0.0..20_000.0),
                    rng.gen_range(0.0..6.3),
                )
            }
            1 => loop {
                if let Some(p) = offers[rng.gen_range(0..offers.len())].location {
                    break p;
                }
            },
            _ => near_cell_vertex(&mut rng, &offers),
        };
        let radius_m = log_uniform(&mut rng, 500.0, 100_000.0);
        let results = index
            .search(&geo_query(
                GeoFilter::Radius { center, radius_m },
                DigitalMode::Exclude,
            ))
            .unwrap();

        let expected: BTreeMap<u64, f64> = offers
            .iter()
            .filter_map(|o| Some((o.id, haversine_m(center, o.location?))))
            .filter(|&(_, d)| d <= radius_m)
            .collect();
        let got: BTreeMap<u64, f64> = results
            .hits
            .iter()
            .map(|h| (h.id, h.distance_m.unwrap()))
            .collect();
        let missing: Vec<_> = expected.keys().filter(|id| !got.contains_key(id)).collect();
        let extra: Vec<_> = got.keys().filter(|id| !expected.contains_key(id)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "query {i} at {center:?} r={radius_m}: missing {missing:?}, extra {extra:?}"
        );
        assert_eq!(results.total, expected.len());
        for (id, d) in &got {
            let e = expected[id];
            assert!(
                (d - e).abs() <= 1e-6 * e.max(1.0),
                "distance of {id}: {d} vs {e}"
            );
        }
        // Distance order, ties by id.
        assert!(results
            .hits
            .windows(2)
            .all(|w| (w[0].distance_m, w[0].id) <= (w[1].distance_m, w[1].id)));
        non_empty += usize::from(!expected.is_empty());
        total_hits += expected.len();
    }
    // The test is only meaningful if many queries do hit something.
    assert!(non_empty > 600, "only {non_empty} non-empty queries");
    assert!(total_hits > 10_000, "only {total_hits} hits in all");
}

/// Small pages: once a page is full, offers of cells wholly inside the disk are
/// skipped without computing their distance. Pages must still be exactly the
/// brute force's, nearest first (ties by id) or lowest ids first, with exact
/// totals and facets.
#[test]
fn small_pages_match_brute_force_under_every_sort() {
    let mut rng = rng(11);
    let (index, offers) = build(&mut rng);
    for i in 0..600 {
        let center = place_or_vertex(i, &mut rng, &offers, 5_000.0);
        let radius_m = log_uniform(&mut rng, 2_000.0, 100_000.0);
        let sort = [SortBy::Distance, SortBy::Relevance, SortBy::Blend][i % 3];
        let (offset_, limit) = (rng.gen_range(0..30), rng.gen_range(1..25));
        let query = Query {
            geo: Some(GeoFilter::Radius { center, radius_m }),
            digital: DigitalMode::Exclude,
            sort: Some(sort),
            offset: offset_,
            limit,
            facets: true,
            filters: Filters {
                include_sold_out: true,
                ..Filters::default()
            },
            ..Query::default()
        };
        let results = index.search(&query).unwrap();
        let mut expected: Vec<(f64, u64)> = offers
            .iter()
            .filter_map(|o| Some((haversine_m(center, o.location?), o.id)))
            .filter(|&(d, _)| d <= radius_m)
            .collect();
        assert_eq!(results.total, expected.len(), "query {i}: total");
        let facet_sum: u64 = results.facets.iter().map(|f| f.count).sum();
        assert_eq!(facet_sum as usize, expected.len(), "query {i}: facets");
        match sort {
            SortBy::Distance => expected.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))),
            SortBy::Relevance | SortBy::Blend => expected.sort_by_key(|&(_, id)| id),
        }
        let want: Vec<u64> = expected
            .iter()
            .skip(offset_)
            .take(limit)
            .map(|e| e.1)
            .collect();
        let got: Vec<u64> = results.hits.iter().map(|h| h.id).collect();
        assert_eq!(
            got, want,
            "query {i}: {sort:?} page at {center:?} r={radius_m}"
        );
        for (h, e) in results.hits.iter().zip(expected.iter().skip(offset_)) {
            assert!((h.distance_m.unwrap() - e.0).abs() <= 1e-6 * e.0.max(1.0));
            assert_eq!(h.score, 0.0, "no text, no score");
        }
        // Unordered, the same page in some order.
        let unordered = index
            .search(&Query {
                ordered: false,
                ..query
            })
            .unwrap();
        let mut got: Vec<u64> = unordered.hits.iter().map(|h| h.id).collect();
        let mut want = want;
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "query {i}: {sort:?} unordered page");
    }
}

#[test]
fn bounding_boxes_match_brute_force() {
    let mut rng = rng(11);
    let (index, offers) = build(&mut rng);
    let mut non_empty = 0;
    for i in 0..300 {
        let c = match i % 3 {
            0 => {
                let (lat, lon) = PLACES[rng.gen_range(0..PLACES.len())];
                GeoPoint::new(lat, lon).unwrap()
            }
            1 => near_cell_vertex(&mut rng, &offers),
            _ => random_point(&mut rng),
        };
        let half_lat = log_uniform(&mut rng, 0.005, 1.5);
        let half_lon = log_uniform(&mut rng, 0.005, 1.5);
        let mut bbox = BoundingBox::new(
            (c.lat() - half_lat).max(-90.0),
            (c.lon() - half_lon).max(-180.0),
            (c.lat() + half_lat).min(90.0),
            (c.lon() + half_lon).min(180.0),
        )
        .unwrap();
        // Edges exactly on offers: the box is inclusive.
        if i % 5 == 0 {
            if let Some(p) = offers
                .iter()
                .filter_map(|o| o.location)
                .find(|p| bbox.contains(*p))
            {
                bbox.north = p.lat();
                bbox.west = p.lon();
            }
        }
        let results = index
            .search(&geo_query(
                GeoFilter::BoundingBox(bbox),
                DigitalMode::Exclude,
            ))
            .unwrap();
        let center = bbox.center();
        let expected: BTreeMap<u64, f64> = offers
            .iter()
            .filter_map(|o| Some((o.id, o.location?)))
            .filter(|(_, p)| bbox.contains(*p))
            .map(|(id, p)| (id, haversine_m(center, p)))
            .collect();
        let got: BTreeMap<u64, f64> = results
            .hits
            .iter()
            .map(|h| (h.id, h.distance_m.unwrap()))
            .collect();
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "box {i}: {bbox:?}"
        );
        for (id, d) in &got {
            assert!((d - expected[id]).abs() <= 1e-6 * expected[id].max(1.0));
        }
        non_empty += usize::from(!expected.is_empty());
    }
    assert!(non_empty > 150, "only {non_empty} non-empty boxes");
}

#[test]
fn digital_offers_bypass_geo_filters() {
    let mut rng = rng(3);
    let (index, offers) = build(&mut rng);
    let digital: Vec<u64> = offers
        .iter()
        .filter(|o| o.location.is_none())
        .map(|o| o.id)
        .collect();
    let center = GeoPoint::new(AJACCIO.0, AJACCIO.1).unwrap();
    let geo = GeoFilter::Radius {
        center,
        radius_m: 10_000.0,
    };
    let physical = index.search(&geo_query(geo, DigitalMode::Exclude)).unwrap();
    let all = index.search(&geo_query(geo, DigitalMode::Include)).unwrap();
    let only = index.search(&geo_query(geo, DigitalMode::Only)).unwrap();
    assert_eq!(all.total, physical.total + digital.len());
    // Digital offers come after physical ones under distance sort, by id.
    let tail: Vec<u64> = all.hits[physical.total..].iter().map(|h| h.id).collect();
    assert_eq!(tail, digital);
    assert!(all.hits[physical.total..]
        .iter()
        .all(|h| h.distance_m.is_none() && h.location.is_none()));
    assert_eq!(only.hits.iter().map(|h| h.id).collect::<Vec<_>>(), digital);
}

#[test]
fn huge_boxes_and_extreme_radii_stay_exact() {
    let mut rng = rng(5);
    let (index, offers) = build(&mut rng);
    // All of metropolitan France and more: beyond the cover limit, scanned.
    let bbox = BoundingBox::new(-25.0, -60.0, 52.0, 60.0).unwrap();
    let r = index
        .search(&geo_query(
            GeoFilter::BoundingBox(bbox),
            DigitalMode::Exclude,
        ))
        .unwrap();
    let expected = offers
        .iter()
        .filter(|o| o.location.is_some_and(|p| bbox.contains(p)))
        .count();
    assert_eq!(r.total, expected);
    for radius_m in [1.0, 1_000_000.0] {
        let center = offers[0].location.or(offers[1].location).unwrap();
        let r = index
            .search(&geo_query(
                GeoFilter::Radius { center, radius_m },
                DigitalMode::Exclude,
            ))
            .unwrap();
        let expected = offers
            .iter()
            .filter(|o| {
                o.location
                    .is_some_and(|p| haversine_m(center, p) <= radius_m)
            })
            .count();
        assert_eq!(r.total, expected, "radius {radius_m}");
    }
}

#[test]
fn invalid_geo_input_is_bad_input() {
    let index = OfferIndex::in_ram().unwrap();
    let c = GeoPoint::new(PARIS.0, PARIS.1).unwrap();
    for radius_m in [0.5, 0.0, -1.0, 1_000_001.0, f64::NAN, f64::INFINITY] {
        let err = index
            .search(&geo_query(
                GeoFilter::Radius {
                    center: c,
                    radius_m,
                },
                DigitalMode::Include,
            ))
            .unwrap_err();
        assert!(err.is_bad_input(), "{radius_m}: {err}");
    }
    let crossing = BoundingBox {
        south: 10.0,
        west: 170.0,
        north: 20.0,
        east: -170.0,
    };
    let inverted = BoundingBox {
        south: 20.0,
        west: 0.0,
        north: 10.0,
        east: 1.0,
    };
    let out_of_range = BoundingBox {
        south: 10.0,
        west: 0.0,
        north: 95.0,
        east: 1.0,
    };
    for bbox in [crossing, inverted, out_of_range] {
        let err = index
            .search(&geo_query(
                GeoFilter::BoundingBox(bbox),
                DigitalMode::Include,
            ))
            .unwrap_err();
        assert!(err.is_bad_input(), "{bbox:?}: {err}");
    }
}

/// `query` as it is, and nearest-first (`exact_total: false`).
fn exact_and_nearest_first(
    index: &OfferIndex,
    query: &Query,
) -> (indexer::SearchResults, indexer::SearchResults) {
    let exact = index.search(query).unwrap();
    let nearest = index
        .search(&Query {
            exact_total: false,
            ..query.clone()
        })
        .unwrap();
    (exact, nearest)
}

/// Nearest-first searches (`exact_total: false`) may stop at a disk smaller than the
/// one asked for: their pages must be exactly the full search's, under filters the cells'
/// counts are split by (categories, sold-out) and under others (a price cap), after
/// deletes and moves, and their total a lower bound that still covers the page.
#[test]
fn nearest_first_pages_equal_full_searches() {
    let mut rng = rng(13);
    let (index, mut offers) = build(&mut rng);
    let mut stopped_early = 0;
    for i in 0..900 {
        if i == 450 {
            // Deletes and moves: the counts must no longer see the old places.
            for o in offers.iter_mut().filter(|o| o.id % 5 == 0) {
                o.location = Some(random_point(&mut rng));
            }
            index
                .upsert(offers.iter().filter(|o| o.id % 5 == 0).cloned())
                .unwrap();
            for id in (3..2_000).step_by(11) {
                index.delete(id).unwrap();
            }
            index.commit().unwrap();
        }
        let center = place_or_vertex(i, &mut rng, &offers, 3_000.0);
        let radius_m = log_uniform(&mut rng, 1_000.0, 100_000.0);
        let offset_ = rng.gen_range(0..30);
        let limit = match i % 3 {
            0 => rng.gen_range(1..60),
            1 => rng.gen_range(60..400),
            _ => rng.gen_range(1..10),
        };
        let filters = match i % 4 {
            0 => Filters::default(),
            1 => Filters {
                categories: vec![CATEGORIES[i % CATEGORIES.len()].to_string()],
                ..Filters::default()
            },
            2 => Filters {
                include_sold_out: true,
                ..Filters::default()
            },
            _ => Filters {
                max_price_cents: Some(5_000),
                ..Filters::default()
            },
        };
        let full = Query {
            geo: Some(GeoFilter::Radius { center, radius_m }),
            digital: DigitalMode::Exclude,
            sort: Some(SortBy::Distance),
            offset: offset_,
            limit,
            filters,
            ..Query::default()
        };
        let (exact, nearest) = exact_and_nearest_first(&index, &full);
        let page = |r: &indexer::SearchResults| -> Vec<(u64, f64)> {
            r.hits
                .iter()
                .map(|h| (h.id, h.distance_m.unwrap()))
                .collect()
        };
        assert_eq!(
            page(&nearest),
            page(&exact),
            "query {i} at {center:?} r={radius_m}"
        );
        // The feed's search: nearest-first and unordered, the same page in some order.
        let unordered = index
            .search(&Query {
                exact_total: false,
                ordered: false,
                ..full.clone()
            })
            .unwrap();
        let sorted = |mut p: Vec<(u64, f64)>| {
            p.sort_by_key(|&(id, _)| id);
            p
        };
        assert_eq!(
            sorted(page(&unordered)),
            sorted(page(&exact)),
            "query {i}: unordered"
        );
        assert!(nearest.total <= exact.total, "query {i}");
        if nearest.total < exact.total {
            assert!(nearest.total >= offset_ + limit, "query {i}");
            stopped_early += 1;
        }
    }
    // Meaningful only if the early stop did happen often.
    assert!(stopped_early > 150, "stopped early {stopped_early} times");
}

/// Around a city, a nearest-first page can end just beyond one of the growing disks
/// while the radius asked for reaches the dense centre: the last disk, the whole radius,
/// is shrunk by the cells' counts like the others, so the centre is neither searched nor
/// counted. Before, it was searched whole: a feed 35 km from Paris tested 143,000 offers
/// for a page of 2,000 found within 15 km.
#[test]
fn nearest_first_does_not_search_a_dense_centre_beyond_the_page() {
    let (lat, lon) = (47.0, 3.0);
    let mut rng = rng(29);
    let mut offers: Vec<OfferDoc> = (1..=150)
        .map(|id| OfferDoc {
            location: Some(offset(
                lat,
                lon,
                rng.gen_range(14_000.0..14_900.0),
                rng.gen_range(0.0..std::f64::consts::TAU),
            )),
            ..offer(id, "anneau")
        })
        .collect();
    offers.extend((1_000..16_000).map(|id| OfferDoc {
        location: Some(offset(
            lat,
            lon,
            27_000.0 + rng.gen_range(-300.0..300.0),
            1.0 + rng.gen_range(-0.01..0.01),
        )),
        ..offer(id, "ville")
    }));
    let index = OfferIndex::in_ram().unwrap();
    index.upsert(offers).unwrap();
    index.commit().unwrap();
    let full = Query {
        geo: Some(GeoFilter::Radius {
            center: GeoPoint::new(lat, lon).unwrap(),
            radius_m: 30_000.0,
        }),
        digital: DigitalMode::Exclude,
        sort: Some(SortBy::Distance),
        limit: 50,
        ..Query::default()
    };
    let (exact, nearest) = exact_and_nearest_first(&index, &full);
    let ids = |r: &indexer::SearchResults| r.hits.iter().map(|h| h.id).collect::<Vec<_>>();
    assert_eq!(ids(&nearest), ids(&exact));
    assert!(ids(&nearest).iter().all(|&id| id <= 150));
    assert_eq!(exact.total, 15_150);
    assert!(
        (50..=150).contains(&nearest.total),
        "the city was searched: total {}",
        nearest.total
    );
}

/// Compacting merges the segments a build left and changes no answer.
#[test]
fn compacting_keeps_every_answer() {
    let mut rng = rng(17);
    let (index, _offers) = build(&mut rng);
    let queries: Vec<Query> = (0..60)
        .map(|i| {
            let (lat, lon) = PLACES[i % PLACES.len()];
            let center = offset(
                lat,
                lon,
                rng.gen_range(0.0..5_000.0),
                rng.gen_range(0.0..6.3),
            );
            Query {
                facets: true,
                limit: 30,
                ..geo_query(
                    GeoFilter::Radius {
                        center,
                        radius_m: log_uniform(&mut rng, 1_000.0, 80_000.0),
                    },
                    DigitalMode::Include,
                )
            }
        })
        .collect();
    let answers = |index: &OfferIndex| -> Vec<_> {
        queries
            .iter()
            .map(|q| {
                let r = index.search(q).unwrap();
                let ids: Vec<u64> = r.hits.iter().map(|h| h.id).collect();
                (ids, r.total, r.facets)
            })
            .collect()
    };
    let before = answers(&index);
    assert!(index.segment_count() > 1, "one segment per commit");
    assert_eq!(index.compact(1, Reach::Full).unwrap().segments, 1);
    assert_eq!(index.segment_count(), 1, "searches see the merged segment");
    assert_eq!(
        index.compact(1, Reach::Full).unwrap(),
        Compacted {
            rewritten: 0,
            segments: 1,
            deferred: false
        },
        "nothing more to merge"
    );
    assert_eq!(index.doc_count(), 2_000);
    assert_eq!(answers(&index), before);
}
