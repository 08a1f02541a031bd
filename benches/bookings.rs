//! Bookings per second with many concurrent clients, on SQLite and on PostgreSQL, and
//! the latency of validating a token at the door; checked for invariant violations and
//! written to `benches/RESULTS.md` (section "Bookings").
//!
//! Run: `cargo bench -p api --bench bookings` (PostgreSQL from TEST_DATABASE_URL, default
//! postgres://postgres@127.0.0.1:5432/test; a fresh database is created and dropped).
//! Sizes: BOOKINGS (default 20000), CLIENTS (default 64).

use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::auth::Principal;
use engine::ids::{OffererId, StockId, UserId};
use engine::money::Cents;
use engine::testing::{Fixture, OfferSpec, TestStore};
use engine::Engine;
use futures::StreamExt;
use rand::SeedableRng;
use serde_json::{json, Value};

/// The service runs on mimalloc (api/src/main.rs); so does its benchmark, to measure
/// the same thing.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Offers and (at least) users of the benchmark's world.
const OFFERS: usize = 1_000;
const USERS: usize = 4_000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Figures {
    store: &'static str,
    attempts: usize,
    booked: usize,
    errors: usize,
    wall: Duration,
    latency: Vec<Duration>,
    door: Vec<Duration>,
    violations: usize,
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1_000.0
}

async fn run(t: TestStore, store_name: &'static str, bookings: usize, clients: usize) -> Figures {
    // Enough users and offers that every attempt is a distinct (user, offer) pair with credit,
    // spread like real bookings over many offers rather than queued on a few stock rows.
    let users_n = USERS.max(bookings.div_ceil(OFFERS));
    let offers_n = OFFERS;
    let mut f = Fixture::new(1);
    let stocks: Vec<StockId> = (0..offers_n)
        .map(|_| {
            f.offer(OfferSpec {
                price: Cents(100),
                quantity: Some(1_000_000),
                ..OfferSpec::default()
            })
            .1
        })
        .collect();
    let users: Vec<UserId> = (0..users_n)
        .map(|_| f.user(Some(Cents(1_000_000)), None))
        .collect();
    f.write(&t.store).await;
    let partner = t
        .store
        .create_token(Principal::Partner(OffererId(1)), engine::now())
        .await
        .unwrap();

    let engine: Arc<Engine> = Engine::open(t.store.clone(), None).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(api::serve(listener, engine, async {
        let _ = stopped.await;
    }));

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let pairs: Vec<(UserId, StockId)> =
        rand::seq::index::sample(&mut rng, users_n * offers_n, bookings)
            .into_iter()
            .map(|i| (users[i / offers_n], stocks[i % offers_n]))
            .collect();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap();
    let started = Instant::now();
    let answers: Vec<(u16, Duration, Value)> = futures::stream::iter(pairs)
        .map(|(u, s)| {
            let (client, url) = (client.clone(), format!("{base}/v1/bookings"));
            async move {
                let t0 = Instant::now();
                let r = client
                    .post(url)
                    .json(&json!({"user_id": u.0, "stock_id": s.0}))
                    .send()
                    .await;
                let status = r.as_ref().map_or(0, |r| r.status().as_u16());
                let body = match r {
                    Ok(r) => r.json().await.unwrap_or(Value::Null),
                    Err(_) => Value::Null,
                };
                (status, t0.elapsed(), body)
            }
        })
        .buffer_unordered(clients)
        .collect()
        .await;
    let wall = started.elapsed();
    let booked: Vec<&Value> = answers
        .iter()
        .filter(|a| a.0 == 201)
        .map(|a| &a.2)
        .collect();
    let errors = answers.len() - booked.len();
    let mut latency: Vec<Duration> = answers.iter().map(|a| a.1).collect();
    latency.sort();

    // Door validation: 2,000 tokens, 16 at a time.
    let tokens: Vec<String> = booked
        .iter()
        .take(2_000)
        .map(|b| b["token"].as_str().unwrap_or_default().to_owned())
        .collect();
    let mut door: Vec<Duration> = futures::stream::iter(tokens)
        .map(|token| {
            let (client, url, partner) = (
                client.clone(),
                format!("{base}/v1/partner/bookings/{token}/use"),
                partner.clone(),
            );
            async move {
                let t0 = Instant::now();
                let ok = client
                    .post(url)
                    .bearer_auth(partner)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                assert!(ok, "validation failed");
                t0.elapsed()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    door.sort();

    let rows = t
        .store
        .scalar("SELECT COUNT(*) FROM bookings")
        .await
        .unwrap() as usize;
    let violations =
        t.store.ledger_check().await.unwrap().len() + usize::from(rows != booked.len());
    let _ = stop.send(());
    Figures {
        store: store_name,
        attempts: answers.len(),
        booked: booked.len(),
        errors,
        wall,
        latency,
        door,
        violations,
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0);
    format!(
        "{} cores ({cpu}), {:.0} GiB RAM",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        mem as f64 / 1048576.0
    )
}

/// Replaces the section titled `title` in RESULTS.md (or appends it).
fn write_section(title: &str, body: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../benches/RESULTS.md");
    let old = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmark results\n".into());
    let heading = format!("## {title}");
    let mut out = String::new();
    let mut skipping = false;
    for line in old.lines() {
        if line.starts_with("## ") {
            skipping = line == heading;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(&format!("{heading}\n\n{body}\n"));
    std::fs::write(path, out).expect("write RESULTS.md");
}

#[tokio::main]
async fn main() {
    let bookings = env_usize("BOOKINGS", 20_000);
    let clients = env_usize("CLIENTS", 64);
    let mut rows = Vec::new();
    rows.push(
        run(
            TestStore::sqlite().await,
            "SQLite (file, WAL)",
            bookings,
            clients,
        )
        .await,
    );
    match TestStore::postgres().await {
        Some(t) => rows.push(run(t, "PostgreSQL 15", bookings, clients).await),
        None => eprintln!("PostgreSQL unreachable: its row is missing"),
    }
    let mut body = format!(
        "Measured {} on {} by `cargo bench -p api --bench bookings`: {bookings} booking requests from {clients} \
         concurrent HTTP clients against `mosaic serve` (in-process, release build, same machine), spread over \
         {OFFERS} offers and {USERS} users, then 2,000 validations at the door by 16 clients. Every attempt is a \
         distinct (user, offer) pair with enough credit, so each should succeed; violations count ledger \
         mismatches plus rows ≠ 201s. Contention on a few hot stocks is what the concurrency tests exercise.\n\n\
         | store | attempts | booked | errors | bookings/s | p50 ms | p90 ms | p99 ms | door p50 ms | door p99 ms | invariant violations |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        machine()
    );
    for r in &rows {
        body.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} |\n",
            r.store,
            r.attempts,
            r.booked,
            r.errors,
            r.booked as f64 / r.wall.as_secs_f64(),
            pct(&r.latency, 0.5),
            pct(&r.latency, 0.9),
            pct(&r.latency, 0.99),
            pct(&r.door, 0.5),
            pct(&r.door, 0.99),
            r.violations
        ));
    }
    body.push_str("\nTargets (ledger issue): ≥ 2,000 bookings/s on PostgreSQL with 0 violations; door validation p99 ≤ 50 ms.\n");
    print!("{body}");
    write_section("Bookings (ledger issue)", &body);
}
