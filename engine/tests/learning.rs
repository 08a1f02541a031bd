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
        let own = ranking::embedding::cosine(&user, back.item(id).unwrap());
        let mean = back
            .item_ids
            .iter()
            .map(|&i| ranking::embedding::cosine(&user, back.item(i).unwrap()))
            .sum::<f64>()
            / back.items() as f64;
        assert!(own > 0.3 && own > mean + 0.2, "own {own}, mean {mean}");
        std::fs::write(&path, b"garbage").unwrap();
        assert!(load_model(&path).is_err());

        // The feed runs on the model: the same page twice, full, with embeddings in play.
        let engine = engine::Engine::open(t.store.clone(), None).await.unwrap();
        engine.use_model(back);
        // Its rows are laid out in the index's order, the offers it knows first.
        let model = engine.model().unwrap();
        let known: Vec<u64> = engine
            .index()
            .doc_order()
            .unwrap()
            .into_iter()
            .filter(|&id| model.item(id).is_some())
            .collect();
        assert!(known.len() > 500, "{}", known.len());
        assert_eq!(&model.item_ids[..known.len()], known.as_slice());
        for user in [1, 2, 3] {
            let req = engine::FeedRequest {
                user_id: engine::ids::UserId(user),
                at: None,
                radius_km: None,
                limit: 20,
                cursor: None,
            };
            let a = engine.feed(&req).await.unwrap();
            let b = engine.feed(&req).await.unwrap();
            assert_eq!(a.items.len(), 20);
            let ids = |p: &engine::views::Page<engine::views::OfferCard>| {
                p.items.iter().map(|c| c.offer_id).collect::<Vec<_>>()
            };
            assert_eq!(ids(&a), ids(&b));
        }
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

/// A tiny external dataset: 30 users, 80 items in 5 categories, users loyal to one
/// category (a new item of it each time) with an excursion every fourth round.
fn write_external(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::fmt::Write as _;
    let genres = ["Drama", "Comedy", "Action", "Horror", "Documentary"];
    let mut items = String::from("item_id,categories\n");
    for i in 0..80 {
        let second = genres[(i + 1) % 5];
        let _ = writeln!(items, "{i},{}|{second}", genres[i % 5]);
    }
    let mut rows = String::from("user_id,item_id,timestamp,rating\n");
    let mut t = 1_600_000_000i64;
    for round in 0..12 {
        for u in 0..30usize {
            let item = if round % 4 == 1 {
                (u * 7 + round) % 80
            } else {
                (u % 5) + 5 * ((u + round) % 16)
            };
            t += 3_600;
            let _ = writeln!(rows, "{u},{item},{t},{}", 3 + (u + round) % 3);
        }
    }
    let (i, it) = (dir.join("interactions.csv"), dir.join("items.csv"));
    std::fs::write(&i, rows).unwrap();
    std::fs::write(&it, items).unwrap();
    (i, it)
}

#[test]
fn eval_runs_on_an_external_csv_and_writes_its_tables() {
    let dir = tempfile::tempdir().unwrap();
    let (interactions, items) = write_external(dir.path());
    let data = engine::eval::Dataset::from_csv(&interactions, &items).unwrap();
    assert_eq!(data.items.len(), 80);
    assert_eq!(data.events.len(), 360);
    let options = engine::eval::EvalOptions {
        model: ModelParams {
            svd: engine::taste::SvdParams {
                dim: 4,
                ..Default::default()
            },
            clusters: 3,
            ..Default::default()
        },
        ..Default::default()
    };
    let report = engine::eval::evaluate(&data, &options, &ProgressBar::hidden()).unwrap();
    assert!(report.users >= 10, "{} users", report.users);
    assert_eq!(report.test_events, 36);
    let out = dir.path().join("out");
    report.write(&out, "a tiny test set").unwrap();
    let csv = std::fs::read_to_string(out.join("eval.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "method,recall_at_20,ndcg_at_20,ild,category_entropy,coverage,exposure_gini,calibration_kl"
    );
    let methods: Vec<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(
        methods,
        ["popularity", "relevance", "mmr", "dpp", "default"]
    );
    for line in csv.lines().skip(1) {
        for v in line.split(',').skip(1) {
            let v: f64 = v.parse().unwrap();
            assert!(v.is_finite() && v >= 0.0, "{line}");
        }
    }
    // Relevance finds held-out items of the user's loyal category; diversifying spreads
    // the lists over more categories.
    let relevance = report.headline("relevance").unwrap();
    let dpp = report
        .results
        .iter()
        .find(|r| r.method == "dpp" && r.param == Some(0.3))
        .unwrap();
    assert!(relevance.recall_at_k > 0.0);
    assert!(
        dpp.category_entropy > relevance.category_entropy,
        "{dpp:?} vs {relevance:?}"
    );
    let md = std::fs::read_to_string(out.join("eval.md")).unwrap();
    assert!(md.contains("| default |") && md.contains("θ=0.3"), "{md}");
    // Bad input is refused with the line that is wrong.
    std::fs::write(&interactions, "user_id,item_id,timestamp\n1,2,someday\n").unwrap();
    let err = engine::eval::Dataset::from_csv(&interactions, &items).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[tokio::test]
async fn a_small_simulation_runs_and_writes_its_series_and_plot() {
    let t = TestStore::sqlite().await;
    seeded(&t).await;
    let data = engine::eval::Dataset::from_store(
        &t.store,
        engine::taxonomy::Taxonomy::shipped(),
        &ProgressBar::hidden(),
    )
    .await
    .unwrap();
    let options = engine::simulate::SimOptions {
        months: 2,
        users: 12,
        max_physical: 80,
        max_placeless: 20,
        ..Default::default()
    };
    let sim = engine::simulate::simulate(&data, &options, &ProgressBar::hidden()).unwrap();
    assert_eq!(sim.users, 12);
    assert_eq!(sim.series("relevance").len(), 3);
    assert_eq!(sim.series("default").len(), 3);
    let booked: f64 = sim.points.iter().map(|p| p.bookings_per_user).sum();
    assert!(booked > 0.0, "simulated users book something");
    let dir = tempfile::tempdir().unwrap();
    sim.write(dir.path()).unwrap();
    let csv = std::fs::read_to_string(dir.path().join("simulation.csv")).unwrap();
    assert!(csv.starts_with(engine::simulate::SIM_CSV_HEADER));
    assert_eq!(csv.lines().count(), 1 + 6);
    let svg = std::fs::read_to_string(dir.path().join("simulation.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("polyline"),
        "{}",
        &svg[..200.min(svg.len())]
    );
}
