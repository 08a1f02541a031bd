//! French text search: accents, case, stemming, elision, fields and boosts.

mod common;

use common::offer;
use indexer::{OfferDoc, OfferIndex, Query, SortBy};

fn catalogue() -> OfferIndex {
    let mut docs: Vec<OfferDoc> = vec![
        offer(1, "Théâtre de la Ville : Hamlet"),
        offer(2, "Opéra Garnier, visite guidée"),
        offer(3, "Concert de jazz au Sunset"),
        offer(4, "Livre : Les Misérables"),
        offer(5, "Soirée spéciale"),
        offer(6, "Séance : Dune, deuxième partie"),
        offer(7, "Atelier d'écriture"),
        offer(8, "Exposition Monet"),
    ];
    docs[0].description = "Une pièce de Shakespeare en cinq actes.".into();
    docs[2].artist = Some("Miles Quartet".into());
    docs[3].artist = Some("Victor Hugo".into());
    docs[4].description = "Une soirée avec un concert surprise et des jeux.".into();
    docs[5].venue_name = Some("Cinéma Le Grand Rex".into());
    docs[5].subcategory_label = "Séance de cinéma".into();
    docs[6].description = "Écrire l'opéra de demain".into();
    docs[7].venue_name = Some("Musée de l'Orangerie".into());
    let index = OfferIndex::in_ram().unwrap();
    index.upsert(docs).unwrap();
    index.commit().unwrap();
    index
}

fn ids(index: &OfferIndex, text: &str) -> Vec<u64> {
    let q = Query {
        text: Some(text.into()),
        ..Query::default()
    };
    index
        .search(&q)
        .unwrap()
        .hits
        .iter()
        .map(|h| h.id)
        .collect()
}

#[test]
fn french_queries_find_expected_offers() {
    let index = catalogue();
    let table: &[(&str, &[u64])] = &[
        ("theatre", &[1]),
        ("THÉÂTRE", &[1]),
        ("théatre", &[1]),
        ("opera", &[2, 7]),
        ("l'opéra", &[2, 7]),
        ("l’Opéra", &[2, 7]),
        ("OPÉRA", &[2, 7]),
        ("concerts", &[3, 5]),
        ("concert", &[3, 5]),
        ("livres", &[4]),
        ("misérables", &[4]),
        ("miserable", &[4]),
        ("victor hugo", &[4]),
        ("hugo", &[4]),
        ("miles", &[3]),
        ("grand rex", &[6]),
        ("orangerie", &[8]),
        ("l'orangerie", &[8]),
        ("shakespeare", &[1]),
        ("cinéma", &[6]),
        ("écriture", &[7]),
        ("ecriture", &[7]),
        ("guidées", &[2]),
    ];
    for (text, expected) in table {
        let mut got = ids(&index, text);
        got.sort();
        assert_eq!(&got, expected, "query {text:?}");
    }
}

#[test]
fn title_ranks_above_description() {
    let index = catalogue();
    // Offer 3 has "concert" in its title, offer 5 only in its description.
    assert_eq!(ids(&index, "concert"), vec![3, 5]);
    // Offer 2's title beats offer 7's description.
    assert_eq!(ids(&index, "opéra"), vec![2, 7]);
    let hits = index
        .search(&Query {
            text: Some("opéra".into()),
            ..Query::default()
        })
        .unwrap()
        .hits;
    assert!(hits[0].score > hits[1].score && hits[1].score > 0.0);
}

#[test]
fn all_words_required_unless_none_matches_all() {
    let index = catalogue();
    // Both offers 2 and 7 match "opéra"; only 2 matches "garnier" too.
    assert_eq!(ids(&index, "opéra garnier"), vec![2]);
    // No offer has both words: any word is enough.
    let mut got = ids(&index, "hamlet monet");
    got.sort();
    assert_eq!(got, vec![1, 8]);
    // Function words are not required.
    assert_eq!(ids(&index, "concert de jazz"), vec![3]);
}

#[test]
fn no_text_means_no_text_constraint() {
    let index = catalogue();
    for text in ["", "   ", "\t\n", "de la", "🎭"] {
        let q = Query {
            text: Some(text.into()),
            ..Query::default()
        };
        assert_eq!(index.search(&q).unwrap().total, 8, "{text:?}");
    }
}

#[test]
fn relevance_ties_break_by_id_and_pages_are_stable() {
    let index = OfferIndex::in_ram().unwrap();
    index
        .upsert((1..=50).rev().map(|id| offer(id, "Concert")))
        .unwrap();
    index.commit().unwrap();
    let page = |offset| {
        let q = Query {
            text: Some("concert".into()),
            sort: Some(SortBy::Relevance),
            offset,
            limit: 20,
            ..Query::default()
        };
        index
            .search(&q)
            .unwrap()
            .hits
            .iter()
            .map(|h| h.id)
            .collect::<Vec<_>>()
    };
    let all: Vec<u64> = [page(0), page(20), page(40)].concat();
    assert_eq!(all, (1..=50).collect::<Vec<_>>());
}
