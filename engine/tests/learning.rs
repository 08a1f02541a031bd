//! The taste model, the offline evaluation and the feedback-loop simulation over a
//! generated world in a real store (and an external CSV dataset in a temporary folder).

use engine::seed::{Profile, SeedConfig};
use engine::seed_store;
use engine::taste::{build_taste_model, cohort_keys, load_model, save_model, ModelParams};
use engine::testing::TestStore;
use indicatif::ProgressBar;

async fn seeded(t: &TestStore) -> chrono::NaiveDate {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    seed_store(
        &t.store,
        SeedConfig {
            profile: Profile::Ci,
            seed: 11,
            today,
        },
        &ProgressBar::hidden(),
    )
    .await
    .unwrap();
    today
}

#[tokio::test]
async fn the_taste_model_is_learned_from_the_store_and_survives_its_file() {
    for t in TestStore::each().await {
        let today = seeded(&t).await;
        let now = today.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
        let (model, summary) = build_taste_model(
            &t.store,
            now,
            &ModelParams::default(),
            &ProgressBar::hidden(),
        )
        .await
        .unwrap();
        assert!(summary.events > 1_000, "{summary:?}");
        assert_eq!(summary.dim, 32);
        assert!(summary.items > 500, "{summary:?}");
        assert!(model.prior(["*"]).is_some(), "everyone's prior");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.bin");
        save_model(&model, &path).unwrap();
        let back = load_model(&path).unwrap();
        assert_eq!(back.item_ids, model.item_ids);
        assert_eq!(back.item_factors, model.item_factors);
        let id = model.item_ids[0];
        assert_eq!(back.item(id), model.item(id));
        // A user folded in from one offer leans toward it more than toward offers at large.
        let user = back.fold_in([(id, 1.0)]).unwrap();
        let own = ranking::embedding::cosine(&user, &back.item(id).unwrap());
        let mean = back
            .item_ids
            .iter()
            .map(|&i| ranking::embedding::cosine(&user, &back.item(i).unwrap()))
            .sum::<f64>()
            / back.items() as f64;
        assert!(own > 0.3 && own > mean + 0.2, "own {own}, mean {mean}");
        std::fs::write(&path, b"garbage").unwrap();
        assert!(load_model(&path).is_err());
    }
}

#[test]
fn cohort_keys_go_from_specific_to_everyone() {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    assert_eq!(
        cohort_keys("2009-06-01", "75", today),
        vec!["age=17|dept=75", "dept=75", "age=17", "*"]
    );
    assert_eq!(cohort_keys("not a date", "13", today), vec!["dept=13", "*"]);
}
