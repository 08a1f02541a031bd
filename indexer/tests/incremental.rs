//! Upserts, deletes and commits; on-disk persistence.

mod common;

use common::*;
use indexer::{
    Compacted, Filters, GeoFilter, GeoPoint, IndexError, OfferDoc, OfferIndex, Query, Reach,
};

fn text(t: &str) -> Query {
    Query {
        text: Some(t.into()),
        ..Query::default()
    }
}

fn ids(index: &OfferIndex, q: &Query) -> Vec<u64> {
    index.search(q).unwrap().hits.iter().map(|h| h.id).collect()
}

fn near(p: (f64, f64)) -> Query {
    Query {
        geo: Some(GeoFilter::Radius {
            center: GeoPoint::new(p.0, p.1).unwrap(),
            radius_m: 5_000.0,
        }),
        ..Query::default()
    }
}

#[test]
fn changes_are_visible_right_after_commit() {
    let index = OfferIndex::in_ram().unwrap();
    assert!(index.is_empty());
    let original = offer(1, "Concert de jazz");
    index
        .upsert([original.clone(), offer(2, "Théâtre")])
        .unwrap();
    assert_eq!(index.doc_count(), 0, "not visible before commit");
    index.commit().unwrap();
    assert_eq!(index.doc_count(), 2);
    assert_eq!(index.get(1).unwrap(), Some(original.clone()));
    assert_eq!(index.get(3).unwrap(), None);

    let cheap = Query {
        filters: Filters {
            max_price_cents: Some(500),
            ..Filters::default()
        },
        ..Query::default()
    };
    assert_eq!(ids(&index, &cheap), Vec::<u64>::new());

    // Price change.
    let mut changed = original.clone();
    changed.price_cents = 300;
    index.upsert([changed.clone()]).unwrap();
    index.commit().unwrap();
    assert_eq!(ids(&index, &cheap), vec![1]);
    assert_eq!(index.doc_count(), 2, "upsert replaces, never duplicates");

    // Sold out.
    changed.sold_out = true;
    index.upsert([changed.clone()]).unwrap();
    index.commit().unwrap();
    assert_eq!(ids(&index, &cheap), Vec::<u64>::new());
    changed.sold_out = false;
    index.upsert([changed.clone()]).unwrap();
    index.commit().unwrap();
    assert_eq!(ids(&index, &cheap), vec![1]);

    // Moved from Paris to Ajaccio.
    assert_eq!(ids(&index, &near(PARIS)), vec![1, 2]);
    changed.location = Some(GeoPoint::new(AJACCIO.0, AJACCIO.1).unwrap());
    index.upsert([changed.clone()]).unwrap();
    index.commit().unwrap();
    assert_eq!(ids(&index, &near(PARIS)), vec![2]);
    let hits = index.search(&near(AJACCIO)).unwrap().hits;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].id, 1);
    assert!(hits[0].distance_m.unwrap() < 1e-6);

    // Title change.
    changed.title = "Récital de piano".into();
    index.upsert([changed.clone()]).unwrap();
    index.commit().unwrap();
    assert_eq!(ids(&index, &text("jazz")), Vec::<u64>::new());
    assert_eq!(ids(&index, &text("piano")), vec![1]);
    assert_eq!(index.get(1).unwrap(), Some(changed.clone()));

    // Becomes digital.
    changed.location = None;
    index.upsert([changed.clone()]).unwrap();
    index.commit().unwrap();
    assert_eq!(ids(&index, &near(AJACCIO)), vec![1]);
    assert_eq!(
        index.search(&near(AJACCIO)).unwrap().hits[0].distance_m,
        None
    );

    // Delete.
    index.delete(1).unwrap();
    index.delete(12345).unwrap();
    assert_eq!(index.doc_count(), 2, "not visible before commit");
    index.commit().unwrap();
    assert_eq!(index.doc_count(), 1);
    assert_eq!(index.get(1).unwrap(), None);
    assert_eq!(ids(&index, &text("piano")), Vec::<u64>::new());
}

#[test]
fn a_lookup_reads_the_state_it_was_made_at() {
    let index = OfferIndex::in_ram().unwrap();
    let before = offer(1, "Concert de jazz");
    index.upsert([before.clone(), offer(2, "Théâtre")]).unwrap();
    index.commit().unwrap();
    let old = index.lookup();

    let mut after = before.clone();
    after.sold_out = true;
    index.upsert([after.clone()]).unwrap();
    index.delete(2).unwrap();
    index.upsert([offer(3, "Cirque")]).unwrap();
    index.commit().unwrap();

    // The replaced document is still in the index, deleted: each lookup finds the live one.
    let new = index.lookup();
    assert_eq!(new.get(1).unwrap(), Some(after));
    assert_eq!(new.get(2).unwrap(), None);
    assert_eq!(new.get(3).unwrap().unwrap().title, "Cirque");
    assert_eq!(old.get(1).unwrap(), Some(before));
    assert_eq!(old.get(2).unwrap().unwrap().title, "Théâtre");
    assert_eq!(old.get(3).unwrap(), None);
}

/// The order the engine lays the taste model out in holds each live offer once: neither
/// a deleted one nor the copy an upsert replaced.
#[test]
fn doc_order_holds_each_live_offer_once() {
    let index = OfferIndex::in_ram().unwrap();
    index
        .upsert((1..=300).map(|id| offer(id, "Concert")))
        .unwrap();
    index.commit().unwrap();
    index.upsert([offer(7, "Théâtre")]).unwrap();
    index.delete(9).unwrap();
    index.commit().unwrap();
    let mut order = index.doc_order().unwrap();
    order.sort_unstable();
    let live: Vec<u64> = (1..=300).filter(|&id| id != 9).collect();
    assert_eq!(order, live);
}

#[test]
fn last_upsert_of_a_batch_wins() {
    let index = OfferIndex::in_ram().unwrap();
    index
        .upsert([offer(1, "Avant"), offer(1, "Après")])
        .unwrap();
    index.commit().unwrap();
    assert_eq!(index.doc_count(), 1);
    assert_eq!(index.get(1).unwrap().unwrap().title, "Après");
}

#[test]
fn stored_documents_round_trip() {
    let offers = random_offers(&mut rng(8), 300);
    let index = OfferIndex::in_ram().unwrap();
    index.upsert(offers.iter().cloned()).unwrap();
    index.commit().unwrap();
    for o in &offers {
        assert_eq!(index.get(o.id).unwrap().as_ref(), Some(o));
    }
}

#[test]
fn on_disk_index_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let offers = random_offers(&mut rng(9), 500);
    let query = near(PARIS);
    let before = {
        let index = OfferIndex::open_or_create(dir.path()).unwrap();
        assert!(index.is_empty());
        index.upsert(offers.iter().cloned()).unwrap();
        index.commit().unwrap();
        index.delete(offers[0].id).unwrap();
        index.commit().unwrap();
        assert_eq!(index.doc_count(), 499);
        index.search(&query).unwrap()
    };
    let index = OfferIndex::open_or_create(dir.path()).unwrap();
    assert_eq!(index.doc_count(), 499);
    assert_eq!(index.search(&query).unwrap(), before);
    assert_eq!(index.get(offers[1].id).unwrap().as_ref(), Some(&offers[1]));
    assert_eq!(index.get(offers[0].id).unwrap(), None);
    // Still writable after reopening.
    index.upsert([offer(10_000, "Nouvelle offre")]).unwrap();
    index.commit().unwrap();
    assert_eq!(index.doc_count(), 500);
}

/// A folder holding an index of 50 random offers (seeded), closed.
fn written_index(seed: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let index = OfferIndex::open_or_create(dir.path()).unwrap();
    index.upsert(random_offers(&mut rng(seed), 50)).unwrap();
    index.commit().unwrap();
    dir
}

#[test]
fn corrupt_directory_is_an_error() {
    let dir = written_index(10);
    std::fs::write(dir.path().join("meta.json"), b"{ not json").unwrap();
    let err = OfferIndex::open_or_create(dir.path()).unwrap_err();
    assert!(!err.is_bad_input());

    // Damaged segment files are caught by their checksums.
    let dir = written_index(10);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "store") {
            let mut bytes = std::fs::read(&path).unwrap();
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0xFF;
            std::fs::write(&path, bytes).unwrap();
        }
    }
    assert!(OfferIndex::open_or_create(dir.path()).is_err());
}

#[test]
fn an_index_with_other_settings_is_refused_for_a_rebuild() {
    let dir = written_index(13);
    let path = dir.path().join("meta.json");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let blocksize = &mut meta["index_settings"]["docstore_blocksize"];
    // Cards read one document each: a new index compresses them in small blocks.
    assert!(blocksize.as_u64().unwrap() < 16_384, "{blocksize}");
    // An index written before, with tantivy's default blocks.
    *blocksize = 16_384.into();
    std::fs::write(&path, serde_json::to_vec(&meta).unwrap()).unwrap();
    let err = OfferIndex::open_or_create(dir.path()).err().unwrap();
    assert!(matches!(err, IndexError::SettingsMismatch), "{err}");
}

#[test]
fn concurrent_searches_during_writes() {
    let index = std::sync::Arc::new(OfferIndex::in_ram().unwrap());
    let offers = random_offers(&mut rng(12), 400);
    std::thread::scope(|s| {
        let writer = {
            let index = index.clone();
            let offers = offers.clone();
            s.spawn(move || {
                for chunk in offers.chunks(50) {
                    index.upsert(chunk.iter().cloned()).unwrap();
                    index.commit().unwrap();
                }
            })
        };
        for _ in 0..2 {
            let index = index.clone();
            s.spawn(move || {
                let mut last = 0;
                for _ in 0..50 {
                    let n = index
                        .search(&Query {
                            limit: 0,
                            ..Query::default()
                        })
                        .unwrap()
                        .total;
                    assert!(n >= last, "visible offers never decrease");
                    last = n;
                }
            });
        }
        writer.join().unwrap();
    });
    assert_eq!(index.doc_count(), 400);
}

/// Offers re-added a batch at a time, as refreshes leave them, are merged among
/// themselves while they are few, and folded into the large segment once they are worth
/// its rewrite. 20,000 offers, because tantivy's own merges take every segment under
/// 10,000 documents for a small one and would fold a smaller catalogue by themselves.
#[test]
fn compaction_rewrites_the_large_segment_only_once_changes_are_worth_it() {
    let offers = random_offers(&mut rng(23), 20_000);
    let index = OfferIndex::in_ram().unwrap();
    index.upsert(offers.iter().cloned()).unwrap();
    index.commit().unwrap();
    assert_eq!(
        index.compact(1, Reach::Full).unwrap().segments,
        1,
        "a build is compacted"
    );
    let readd = |offers: &[OfferDoc]| {
        for chunk in offers.chunks(25) {
            index.upsert(chunk.iter().cloned()).unwrap();
            index.commit().unwrap();
        }
    };
    let all = Query {
        filters: Filters {
            include_sold_out: true,
            ..Filters::default()
        },
        ..text("offre")
    };
    let unchanged = |index: &OfferIndex| {
        assert_eq!(index.search(&all).unwrap().total, 20_000);
        for offer in offers.iter().step_by(97) {
            assert_eq!(index.get(offer.id).unwrap().as_ref(), Some(offer));
        }
    };

    readd(&offers[..100]);
    let tail = index.compact(1, Reach::Full).unwrap();
    assert_eq!(tail.segments, 2, "the large segment and one small one");
    // Background merges may have grouped the batches already; the large segment's
    // 19,900 documents were not rewritten.
    assert!(tail.rewritten <= 100, "{tail:?}");
    unchanged(&index);

    // 1,300 re-added and as many deleted from the large segment's 18,700: over an eighth.
    readd(&offers[100..1_300]);
    // What a restart does before it serves: the small segments merged, the rewrite left.
    let tail = index.compact(1, Reach::Tail).unwrap();
    assert!(tail.deferred, "{tail:?}");
    assert_eq!(tail.segments, 2, "{tail:?}");
    assert!(tail.rewritten <= 1_300, "{tail:?}");
    unchanged(&index);
    assert_eq!(
        index.compact(1, Reach::Full).unwrap(),
        Compacted {
            rewritten: 20_000,
            segments: 1,
            deferred: false
        }
    );
    unchanged(&index);
    assert!(
        !index.compact(1, Reach::Tail).unwrap().deferred,
        "nothing is due after the rewrite"
    );
}
