//! Editorial boosts on a real store and index: stored, applied to the feed, previewed.

use engine::boost::{BoostDraft, BoostStatus, BoostTarget};
use engine::curation::PreviewRequest;
use engine::money::Cents;
use engine::testing::{Fixture, OfferSpec, TestStore};
use engine::{Engine, FeedRequest};

#[tokio::test]
async fn a_boost_lifts_its_offer_previews_first_and_expires() {
    for t in TestStore::each().await {
        let mut f = Fixture::new(1);
        let subs = ["LIVRE_PAPIER", "SEANCE_CINE", "CONCERT", "VISITE"];
        let offers: Vec<_> = (0..40)
            .map(|i| {
                f.offer(OfferSpec {
                    subcategory: subs[i % subs.len()],
                    price: Cents(500),
                    ..OfferSpec::default()
                })
                .0
            })
            .collect();
        let user = f.user(Some(Cents(10_000)), None);
        f.write(&t.store).await;
        let engine = Engine::open(t.store.clone(), None).await.unwrap();
        let req = FeedRequest {
            user_id: user,
            at: None,
            radius_km: None,
            limit: 20,
            cursor: None,
        };
        let before = engine.feed(&req).await.unwrap();
        // The offer least favoured by the ranking: off the first page.
        let target = *offers
            .iter()
            .find(|o| !before.items.iter().any(|c| c.offer_id == **o))
            .expect("an offer off the first page");
        let now = engine::now();
        let draft = BoostDraft {
            target: BoostTarget::Offer(target),
            weight: 1.0,
            starts_at: now - 60,
            ends_at: now + 86_400,
            note: "Coup de cœur".into(),
        };
        let preview = engine
            .preview_boost(&PreviewRequest {
                draft: draft.clone(),
                replaces: None,
                users: vec![user],
                sample: 12,
                personas: Default::default(),
            })
            .await
            .unwrap();
        assert_eq!(preview.reached_offers, 1);
        assert_eq!(preview.changed_feeds, 1);
        let moved = &preview.personas[0].moves;
        let m = moved
            .iter()
            .find(|m| m.offer_id == target)
            .expect("the boosted offer moves");
        assert_eq!((m.before, m.boosted), (None, true));
        assert!(m.after.is_some());
        assert_eq!(preview.personas[0].boosted_after, 1);
        // Nothing is stored by a preview: the feed is unchanged.
        assert_eq!(engine.feed(&req).await.unwrap(), before);

        let boost = engine.create_boost(&draft).await.unwrap();
        assert_eq!(boost.status(engine::now()), BoostStatus::Active);
        let boosted = engine.feed(&req).await.unwrap();
        assert!(boosted.items.iter().any(|c| c.offer_id == target));

        let expired = engine.expire_boost(boost.id).await.unwrap();
        assert_eq!(expired.status(engine::now()), BoostStatus::Expired);
        assert_eq!(engine.feed(&req).await.unwrap(), before);
        // An expired boost cannot be edited; a bad draft is refused.
        assert!(engine.update_boost(boost.id, &draft).await.is_err());
        let bad = BoostDraft {
            weight: 3.0,
            ..draft.clone()
        };
        assert!(engine.create_boost(&bad).await.is_err());
        let unknown = BoostDraft {
            target: BoostTarget::Subcategory("NOPE".into()),
            ..draft
        };
        assert!(engine.create_boost(&unknown).await.is_err());
    }
}

/// The SQL behind persona filters and the department map, on SQLite and PostgreSQL.
#[tokio::test]
async fn personas_filter_and_boosted_offers_per_department() {
    use engine::curation::{DepartmentCount, PersonaFilter};
    use engine::testing::{book_one, UserSpec};

    for t in TestStore::each().await {
        let mut f = Fixture::new(1);
        let (cinema, cinema_stock) = f.offer(OfferSpec {
            subcategory: "SEANCE_CINE",
            ..OfferSpec::default()
        });
        let books: Vec<_> = (0..5).map(|_| f.offer(OfferSpec::default()).0).collect();
        let digital = f
            .offer(OfferSpec {
                subcategory: "ABO_PLATEFORME_VIDEO",
                digital: true,
                ..OfferSpec::default()
            })
            .0;
        let today = chrono::Utc::now().date_naive();
        let born = |years: u32| {
            today
                .checked_sub_months(chrono::Months::new(12 * years))
                .unwrap()
        };
        let cinephile = f.user_with(UserSpec {
            birth: born(17),
            ..UserSpec::default()
        });
        let younger = f.user_with(UserSpec {
            birth: born(15),
            ..UserSpec::default()
        });
        let lyonnais = f.user_with(UserSpec {
            birth: born(16),
            department: "69",
            ..UserSpec::default()
        });
        f.write(&t.store).await;
        book_one(&t.store, cinephile, cinema_stock, engine::now()).await;
        let pick = |filter: PersonaFilter, taste: Option<Vec<String>>| {
            let store = t.store.clone();
            async move {
                let users = store
                    .sample_personas(&filter, taste.as_deref(), today, 10)
                    .await
                    .unwrap();
                users.into_iter().map(|u| u.id).collect::<Vec<_>>()
            }
        };
        assert_eq!(
            pick(PersonaFilter::default(), None).await,
            vec![cinephile, younger, lyonnais]
        );
        let paris = || PersonaFilter {
            department: Some("75".into()),
            ..PersonaFilter::default()
        };
        assert_eq!(pick(paris(), None).await, vec![cinephile, younger]);
        let sixteen_plus = PersonaFilter {
            min_age: Some(16),
            max_age: Some(17),
            ..paris()
        };
        assert_eq!(pick(sixteen_plus, None).await, vec![cinephile]);
        let cinema_lovers = PersonaFilter {
            taste: Some("CINEMA".into()),
            ..PersonaFilter::default()
        };
        let subs = vec!["SEANCE_CINE".to_owned(), "CINE_PLEIN_AIR".to_owned()];
        assert_eq!(
            pick(cinema_lovers.clone(), Some(subs)).await,
            vec![cinephile]
        );
        assert_eq!(pick(cinema_lovers, Some(vec![])).await, vec![]);

        let engine = Engine::open(t.store.clone(), None).await.unwrap();
        assert_eq!(engine.boosted_departments().await.unwrap(), vec![]);
        let now = engine::now();
        for (target, weight) in [
            (BoostTarget::Offer(cinema), 0.5),
            (BoostTarget::Subcategory("LIVRE_PAPIER".into()), 0.5),
            (BoostTarget::Offer(books[0]), 0.5), // counted once with its subcategory
            (BoostTarget::Offer(digital), 0.5),
            (BoostTarget::Offer(books[1]), -0.5), // lowered, counted by the subcategory only
        ] {
            engine
                .create_boost(&BoostDraft {
                    target,
                    weight,
                    starts_at: now - 10,
                    ends_at: now + 3_600,
                    note: String::new(),
                })
                .await
                .unwrap();
        }
        let count = |department: &str, offers| DepartmentCount {
            department: department.into(),
            offers,
        };
        assert_eq!(
            engine.boosted_departments().await.unwrap(),
            vec![count("75", 6), count("", 1)]
        );
    }
}
