//! `mosaic`: seed a store, serve the API, or both for a demo.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use engine::auth::{Principal, Role};
use engine::ids::{OffererId, UserId};
use engine::seed::{Profile, SeedConfig};
use engine::store::{Store, DEFAULT_SQLITE_URL};
use engine::Engine;
use indicatif::{ProgressBar, ProgressStyle};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "mosaic",
    version,
    about = "Recommendation and discovery engine for a cultural pass"
)]
struct Cli {
    /// The store: sqlite://PATH (default) or postgres://…
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_SQLITE_URL, global = true)]
    database_url: String,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "MOSAIC_LOG_JSON", global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a deterministic world into an empty store.
    Seed {
        /// ci (≈2k offers), demo (≈20k offers, 10k users) or bench (1M offers, 1M users, 10M bookings).
        #[arg(long, default_value = "demo")]
        profile: Profile,
        /// The random seed: the same seed gives the same world.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// The reference day (history ends, upcoming events start after it). Default: today.
        #[arg(long)]
        today: Option<NaiveDate>,
    },
    /// Serve the HTTP API.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Keep the offer index on disk here instead of in memory.
        #[arg(long)]
        index_dir: Option<PathBuf>,
    },
    /// Rebuild the on-disk offer index from the store.
    Index {
        #[arg(long, default_value = "data/index")]
        index_dir: PathBuf,
    },
    /// Seed the demo world if the store is empty, then serve it.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
    },
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The credit ledger.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Credit deposits.
    #[command(subcommand)]
    Credit(CreditCommand),
    /// Booking lifecycle.
    #[command(subcommand)]
    Bookings(BookingsCommand),
}

#[derive(Subcommand)]
enum CreditCommand {
    /// Grant the deposits due at each birthday (idempotent), then close the deposits that ended.
    Grant {
        /// The day to grant for. Default: today.
        #[arg(long)]
        today: Option<NaiveDate>,
    },
}

#[derive(Subcommand)]
enum BookingsCommand {
    /// Cancel and refund uncollected physical goods; mark past events used.
    Expire {
        /// Days a paper book waits to be collected.
        #[arg(long, default_value_t = 10)]
        paper_book_days: i64,
        /// Days other goods wait to be collected.
        #[arg(long, default_value_t = 30)]
        other_days: i64,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once, as the last word of the output.
    Create {
        #[arg(long)]
        role: Role,
        /// The user a `user` token acts for.
        #[arg(long, required_if_eq("role", "user"))]
        user: Option<i64>,
        /// The offerer a `partner` token acts for.
        #[arg(long, required_if_eq("role", "partner"))]
        offerer: Option<i64>,
    },
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Reconcile every wallet, stock and booking with the ledger; exit 1 on any difference.
    Check,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tantivy=warn"));
    if cli.log_json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let store = Store::connect(&cli.database_url)
        .await
        .with_context(|| format!("opening the store at {}", cli.database_url))?;
    match cli.command {
        Command::Seed {
            profile,
            seed,
            today,
        } => {
            seed_into(&store, profile, seed, today).await?;
        }
        Command::Serve { addr, index_dir } => serve(store, addr, index_dir, false).await?,
        Command::Index { index_dir } => {
            // Without its sync marker the directory is wiped and rebuilt by Engine::open.
            let _ = std::fs::remove_dir_all(&index_dir);
            std::fs::create_dir_all(&index_dir)?;
            let started = std::time::Instant::now();
            let engine =
                Engine::open_with_progress(store, &index_dir, &progress_bar("indexing", "offers")?)
                    .await?;
            println!(
                "indexed {} offers into {} in {:.1?}",
                engine.indexed_offers(),
                index_dir.display(),
                started.elapsed()
            );
        }
        Command::Demo { addr } => {
            if store.is_empty().await? {
                seed_into(&store, Profile::Demo, 42, None).await?;
            } else {
                tracing::info!("the store already holds a world; serving it");
            }
            serve(store, addr, None, true).await?;
        }
        Command::Token(TokenCommand::Create {
            role,
            user,
            offerer,
        }) => {
            let principal = match (role, user, offerer) {
                (Role::User, Some(u), None) => Principal::User(UserId(u)),
                (Role::Partner, None, Some(o)) => Principal::Partner(OffererId(o)),
                (Role::Curator, None, None) => Principal::Curator,
                (Role::Analyst, None, None) => Principal::Analyst,
                (Role::Admin, None, None) => Principal::Admin,
                _ => anyhow::bail!(
                    "--user goes with --role user only, --offerer with --role partner only"
                ),
            };
            let token = store.create_token(principal, engine::now()).await?;
            println!("created a {} token: {token}", role.as_str());
        }
        Command::Credit(CreditCommand::Grant { today }) => {
            let today = today.unwrap_or_else(|| chrono::Utc::now().date_naive());
            let bar = progress_bar("granting", "users")?;
            let s = store.grant_due(today, &bar).await?;
            println!(
                "granted {} deposits ({} carried over), closed {} ended deposits",
                s.granted,
                engine::money::Cents(s.carried_cents),
                s.closed
            );
        }
        Command::Bookings(BookingsCommand::Expire {
            paper_book_days,
            other_days,
        }) => {
            let s = store
                .expire_bookings(engine::now(), paper_book_days, other_days)
                .await?;
            println!(
                "expired {} uncollected bookings, marked {} event bookings used",
                s.expired.len(),
                s.marked_used
            );
        }
        Command::Ledger(LedgerCommand::Check) => {
            let mismatches = store.ledger_check().await?;
            if mismatches.is_empty() {
                println!("ledger check: every wallet, stock and booking reconciles");
            } else {
                for m in &mismatches {
                    eprintln!(
                        "MISMATCH {}: {} rows (first id {:?})",
                        m.check, m.rows, m.example_id
                    );
                }
                std::process::exit(1);
            }
        }
    }
    Ok(())
}

async fn seed_into(
    store: &Store,
    profile: Profile,
    seed: u64,
    today: Option<NaiveDate>,
) -> anyhow::Result<()> {
    let today = today.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{spinner} seeding [{bar:40}] {pos}/{len} rows ({per_sec}, eta {eta})",
        )?
        .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let summary = engine::seed_store(
        store,
        SeedConfig {
            profile,
            seed,
            today,
        },
        &bar,
    )
    .await?;
    println!(
        "seeded {:?} (seed {seed}, today {today}) in {:.1?}: {} offerers, {} venues, {} offers, {} stocks, {} users, \
         {} deposits, {} bookings, {} interactions",
        profile,
        started.elapsed(),
        summary.offerers,
        summary.venues,
        summary.offers,
        summary.stocks,
        summary.users,
        summary.deposits,
        summary.bookings,
        summary.interactions
    );
    Ok(())
}

async fn serve(
    store: Store,
    addr: SocketAddr,
    index_dir: Option<PathBuf>,
    examples: bool,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let engine: Arc<Engine> = Engine::open(store, index_dir.as_deref()).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(%addr, offers = engine.indexed_offers(), ready_in = ?started.elapsed(), "mosaic is serving");
    if examples {
        println!("Mosaic is serving on http://{addr}. Try:");
        println!("  curl 'http://{addr}/v1/feed?user_id=1&limit=20'");
        println!("  curl 'http://{addr}/v1/search?q=concert&lat=48.8566&lon=2.3522&radius_km=20'");
        println!("  curl 'http://{addr}/v1/users/1/wallet'");
    }
    tokio::spawn(lifecycle_loop(Arc::downgrade(&engine)));
    api::serve(listener, engine.clone(), shutdown_signal()).await?;
    engine.store().close().await;
    Ok(())
}

/// A progress bar for a long job counting `unit`s.
fn progress_bar(job: &str, unit: &str) -> anyhow::Result<ProgressBar> {
    let template =
        format!("{{spinner}} {job} [{{bar:40}}] {{pos}}/{{len}} {unit} ({{per_sec}}, eta {{eta}})");
    Ok(ProgressBar::new(0)
        .with_style(ProgressStyle::with_template(&template)?.progress_chars("=> ")))
}

/// Expires uncollected goods and marks past events used every ten minutes while serving.
async fn lifecycle_loop(engine: std::sync::Weak<Engine>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        let Some(engine) = engine.upgrade() else {
            return;
        };
        match engine.expire_bookings().await {
            Ok(s) => tracing::info!(
                expired = s.expired.len(),
                marked_used = s.marked_used,
                "booking lifecycle"
            ),
            Err(e) => tracing::warn!(error = %e, "booking lifecycle failed; will retry"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
