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
