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

mod allocator;

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
        /// The taste model written by `mosaic profiles build`; the feed runs on
        /// affinities alone when the file is missing.
        #[arg(long, default_value = engine::taste::DEFAULT_MODEL_PATH)]
        model: PathBuf,
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
    /// Diversification analytics: Parquet, CSV and XLSX tables for analysts.
    Analytics {
        /// The folder to write into (created if missing).
        #[arg(long, default_value = "data/analytics")]
        out: PathBuf,
        /// Also write what was read from the store as a Parquet snapshot into this folder.
        #[arg(long, conflicts_with = "from_snapshot")]
        snapshot: Option<PathBuf>,
        /// Read a snapshot written by --snapshot instead of the store.
        #[arg(long)]
        from_snapshot: Option<PathBuf>,
    },
    /// Push campaigns for offers with 50+ places.
    #[command(subcommand)]
    Campaigns(CampaignsCommand),
    /// User profiles and the taste model.
    #[command(subcommand)]
    Profiles(ProfilesCommand),
    /// Offline evaluation: hold out the latest 10 % of events, rank with popularity,
    /// relevance, MMR, DPP and the default pipeline, write DIR/eval.md and DIR/eval.csv.
    Eval {
        /// External interactions CSV `user_id,item_id,timestamp[,rating]` (with --items);
        /// without it, the world in the store.
        #[arg(long, requires = "items")]
        interactions: Option<PathBuf>,
        /// External items CSV `item_id,categories` (categories separated by `|`).
        #[arg(long, requires = "interactions")]
        items: Option<PathBuf>,
        #[arg(long, default_value = "data/eval")]
        out: PathBuf,
        /// Users evaluated at most.
        #[arg(long, default_value_t = 1000)]
        max_users: usize,
        /// Physical candidates per user, nearest first (the feed's count by default):
        /// how few keep the lists' quality is what this measures.
        #[arg(long)]
        max_physical: Option<usize>,
        /// θ of the `default` pipeline's DPP, in [0, 1) (the shipped one by default):
        /// what a retune of the feed's diversification would give.
        #[arg(long, value_parser = theta_in_range)]
        theta: Option<f64>,
        /// Exploration noise of the `default` pipeline, ≥ 0 (the shipped one by default).
        #[arg(long, value_parser = non_negative)]
        exploration: Option<f64>,
    },
    /// Closed-loop simulation: users see a feed each week and book from it; writes the
    /// monthly diversity series of relevance-only vs the default pipeline (CSV and SVG).
    Simulate {
        #[arg(long, default_value_t = 12)]
        months: usize,
        #[arg(long, default_value = "data/simulation")]
        out: PathBuf,
        /// Simulated users.
        #[arg(long, default_value_t = 300)]
        users: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum CampaignsCommand {
    /// Request a campaign for an offer (what a partner does over HTTP).
    Request {
        #[arg(long)]
        offer: i64,
    },
    /// Target the requested campaigns and send what is pending, with a progress bar.
    Run {
        /// Print each requested campaign's audience size and make-up; write and send nothing.
        #[arg(long)]
        dry_run: bool,
        /// Only this campaign.
        #[arg(long)]
        campaign: Option<i64>,
        /// The push provider's webhook (http://…); without it messages are appended to OUT_DIR/outbox.jsonl.
        #[arg(long, env = "MOSAIC_PUSH_WEBHOOK")]
        webhook: Option<String>,
        #[command(flatten)]
        knobs: CampaignKnobs,
    },
    /// Every campaign with its counts (targeted, sent, failed, bookings attributed).
    Status {
        #[command(flatten)]
        knobs: CampaignKnobs,
    },
}

/// The tunable rules of campaigns (defaults in `engine::campaign::CampaignConfig`).
#[derive(clap::Args)]
struct CampaignKnobs {
    /// Folder of the payload files (campaign-ID.jsonl).
    #[arg(long, default_value = "data/campaigns")]
    out_dir: PathBuf,
    /// Users farther from the venue are not notified.
    #[arg(long, default_value_t = 30.0)]
    radius_km: f64,
    /// A user is notified at most once per this many days.
    #[arg(long, default_value_t = 3)]
    frequency_cap_days: i64,
    /// The audience is at most this multiple of the places left.
    #[arg(long, default_value_t = 3.0)]
    audience_multiple: f64,
    /// Share of the audience kept for users new to the offer's category.
    #[arg(long, default_value_t = 0.3)]
    new_to_category_share: f64,
    /// Local hours with no push, START-END (e.g. 21-8), or `none`.
    #[arg(long, default_value = "21-8")]
    quiet_hours: String,
    /// Messages per request to the push provider.
    #[arg(long, default_value_t = 500)]
    batch_size: usize,
}

impl CampaignKnobs {
    fn config(&self) -> anyhow::Result<engine::campaign::CampaignConfig> {
        let quiet_hours = if self.quiet_hours == "none" {
            None
        } else {
            let (a, b) = self
                .quiet_hours
                .split_once('-')
                .context("--quiet-hours is START-END (e.g. 21-8) or none")?;
            Some((a.trim().parse()?, b.trim().parse()?))
        };
        Ok(engine::campaign::CampaignConfig {
            radius_km: self.radius_km,
            frequency_cap_days: self.frequency_cap_days,
            audience_multiple: self.audience_multiple,
            new_to_category_share: self.new_to_category_share,
            quiet_hours,
            batch_size: self.batch_size,
            out_dir: self.out_dir.clone(),
            ..engine::campaign::CampaignConfig::default()
        })
    }
}

#[derive(Subcommand)]
enum ProfilesCommand {
    /// Learn offer embeddings and cold-start taste clusters from every booking and
    /// interaction, and write the model file `mosaic serve` loads.
    Build {
        #[arg(long, default_value = engine::taste::DEFAULT_MODEL_PATH)]
        out: PathBuf,
        /// Embedding dimension.
        #[arg(long, default_value_t = 32)]
        dim: usize,
        /// Taste clusters for cold start.
        #[arg(long, default_value_t = 12)]
        clusters: usize,
    },
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
    allocator::tune();
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
        Command::Serve {
            addr,
            index_dir,
            model,
        } => serve(store, addr, index_dir, Some(&model), false).await?,
        Command::Eval {
            interactions,
            items,
            out,
            max_users,
            max_physical,
            theta,
            exploration,
        } => {
            let bar = progress_bar("reading", "rows")?;
            let (data, source) = match (interactions, items) {
                (Some(i), Some(it)) => (
                    engine::eval::Dataset::from_csv(&i, &it)?,
                    format!("{} and {}", i.display(), it.display()),
                ),
                _ => (
                    engine::eval::Dataset::from_store(
                        &store,
                        engine::taxonomy::Taxonomy::shipped(),
                        &bar,
                    )
                    .await?,
                    "the world in the store".to_string(),
                ),
            };
            bar.finish_and_clear();
            let defaults = engine::eval::EvalOptions::default();
            let options = engine::eval::EvalOptions {
                max_users,
                max_physical: max_physical.unwrap_or(defaults.max_physical),
                ..defaults
            }
            .retuned(theta, exploration);
            let bar = progress_bar("evaluating", "users")?;
            let report =
                tokio::task::block_in_place(|| engine::eval::evaluate(&data, &options, &bar))?;
            bar.finish_and_clear();
            report.write(&out, &source)?;
            println!("{}", report.to_table());
            if let Some(t) = report.target() {
                println!(
                    "default keeps {:.1} % of relevance-only Recall@{} with {:+.1} % category entropy (target ≥ 95 %, ≥ +30 %: {})",
                    t.recall_ratio * 100.0,
                    report.k,
                    t.entropy_gain * 100.0,
                    if t.met() { "met" } else { "not met" }
                );
            }
            println!("wrote {0}/eval.md and {0}/eval.csv", out.display());
        }
        Command::Simulate {
            months,
            out,
            users,
            seed,
        } => {
            let bar = progress_bar("reading", "rows")?;
            let data = engine::eval::Dataset::from_store(
                &store,
                engine::taxonomy::Taxonomy::shipped(),
                &bar,
            )
            .await?;
            bar.finish_and_clear();
            let options = engine::simulate::SimOptions {
                months,
                users,
                seed,
                ..Default::default()
            };
            let bar = progress_bar("simulating", "user-weeks")?;
            let sim =
                tokio::task::block_in_place(|| engine::simulate::simulate(&data, &options, &bar))?;
            bar.finish_and_clear();
            sim.write(&out)?;
            print!("{}", sim.to_csv());
            println!(
                "wrote {0}/simulation.csv and {0}/simulation.svg",
                out.display()
            );
        }
        Command::Profiles(ProfilesCommand::Build { out, dim, clusters }) => {
            build_profiles(&store, &out, dim, clusters).await?;
        }
        Command::Index { index_dir } => {
            let started = std::time::Instant::now();
            let progress = progress_bar("indexing", "offers")?;
            let engine = Engine::rebuild_with_progress(store, &index_dir, &progress).await?;
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
            let model = std::path::Path::new(engine::taste::DEFAULT_MODEL_PATH);
            if !model.exists() {
                build_profiles(&store, model, 32, 12).await?;
            }
            serve(store, addr, None, Some(model), true).await?;
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
        Command::Analytics {
            out,
            snapshot,
            from_snapshot,
        } => {
            let started = std::time::Instant::now();
            let bar = ProgressBar::new(0).with_style(
                ProgressStyle::with_template(
                    "{spinner} {msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})",
                )?
                .progress_chars("=> "),
            );
            let inputs = match from_snapshot {
                Some(dir) => analytics::Inputs::read_snapshot(&dir)?,
                None => analytics::load(&store, &bar).await?,
            };
            if let Some(dir) = snapshot {
                inputs.write_snapshot(&dir)?;
            }
            let summary = analytics::run_on(&inputs, &out, engine::now(), &bar)?;
            bar.finish_and_clear();
            println!(
                "analysed {} bookings of {} users in {:.1?}: {} files in {}",
                summary.bookings,
                summary.users,
                started.elapsed(),
                summary.files.len(),
                out.display()
            );
        }
        Command::Campaigns(command) => campaigns(&store, command).await?,
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

async fn campaigns(store: &Store, command: CampaignsCommand) -> anyhow::Result<()> {
    use engine::campaign::{self, JsonlSink, WebhookSink};
    match command {
        CampaignsCommand::Request { offer } => {
            let config = engine::campaign::CampaignConfig::default();
            let c = campaign::request(
                store,
                None,
                engine::ids::OfferId(offer),
                &config,
                engine::now(),
            )
            .await?;
            println!("campaign {} requested for offer {}", c.id, c.offer_id);
        }
        CampaignsCommand::Run {
            dry_run,
            campaign: only,
            webhook,
            knobs,
        } => {
            let config = knobs.config()?;
            let bar = ProgressBar::new(0).with_style(
                ProgressStyle::with_template(
                    "{spinner} {msg} [{bar:40}] {pos}/{len} users ({per_sec}, eta {eta})",
                )?
                .progress_chars("=> "),
            );
            let only = only.map(engine::ids::CampaignId);
            let now = engine::now();
            let runs = match webhook {
                Some(url) => {
                    campaign::run(
                        store,
                        &WebhookSink::new(&url)?,
                        &config,
                        only,
                        dry_run,
                        now,
                        &bar,
                    )
                    .await?
                }
                None => {
                    let sink = JsonlSink::new(config.out_dir.join("outbox.jsonl"));
                    campaign::run(store, &sink, &config, only, dry_run, now, &bar).await?
                }
            };
            bar.finish_and_clear();
            let mut failed = 0;
            for r in &runs {
                failed += r.failed;
                match &r.audience {
                    Some(a) => println!(
                        "campaign {} (offer {}): audience {} of {} eligible (bound {}), {:.0} % new to the category; \
                         by age {:?}; by department {:?}",
                        r.campaign,
                        r.offer_id,
                        a.size,
                        a.eligible,
                        a.bound,
                        100.0 * a.new_to_category_share,
                        a.by_age,
                        a.by_department
                    ),
                    None => println!("campaign {} (offer {})", r.campaign, r.offer_id),
                }
                println!(
                    "  {}: sent {}, failed {}{}",
                    r.status.as_str(),
                    r.sent,
                    r.failed,
                    r.note
                        .as_ref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default()
                );
            }
            if runs.is_empty() {
                println!("no campaign has work left");
            }
            if failed > 0 {
                anyhow::bail!("{failed} deliveries failed and stay pending: run again to resume");
            }
        }
        CampaignsCommand::Status { knobs } => {
            for v in campaign::views(store, None, &knobs.config()?).await? {
                println!(
                    "campaign {} offer {} {}: targeted {}, sent {}, failed {}, skipped {}, new to category {}, \
                     bookings within 7 days {}",
                    v.campaign.id,
                    v.campaign.offer_id,
                    v.campaign.status.as_str(),
                    v.counts.targeted,
                    v.counts.sent,
                    v.counts.failed,
                    v.counts.skipped,
                    v.counts.new_to_category,
                    v.counts.bookings_attributed
                );
            }
        }
    }
    Ok(())
}

/// Learns the taste model from the store and writes it to `out`.
async fn build_profiles(
    store: &Store,
    out: &std::path::Path,
    dim: usize,
    clusters: usize,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let bar = progress_bar("reading activity", "rows")?;
    let params = engine::taste::ModelParams {
        svd: engine::taste::SvdParams {
            dim,
            ..Default::default()
        },
        clusters,
        ..Default::default()
    };
    let (model, s) = engine::taste::build_taste_model(store, engine::now(), &params, &bar).await?;
    bar.finish_and_clear();
    engine::taste::save_model(&model, out)?;
    println!(
        "learned {}-dimensional embeddings of {} offers from {} events of {} users, \
         {} taste clusters, priors for {} cohorts, in {:.1?}; wrote {}",
        s.dim,
        s.items,
        s.events,
        s.users,
        s.clusters,
        s.cohorts_with_prior,
        started.elapsed(),
        out.display()
    );
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
            "{spinner} seeding [{bar:40}] {pos}/{len} rows ({per_sec}, eta {eta}) {msg}",
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
    model: Option<&std::path::Path>,
    examples: bool,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let engine: Arc<Engine> = Engine::open(store, index_dir.as_deref()).await?;
    match model {
        Some(path) if path.exists() => {
            let model = engine::taste::load_model(path)
                .with_context(|| format!("loading the taste model {}", path.display()))?;
            tracing::info!(path = %path.display(), offers = model.items(), "loaded the taste model");
            engine.use_model(model);
        }
        Some(path) => tracing::warn!(
            path = %path.display(),
            "no taste model: the feed ranks on affinities alone (run `mosaic profiles build`)"
        ),
        None => {}
    }
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

/// A DPP θ, in `[0, 1)`.
fn theta_in_range(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if (0.0..1.0).contains(&t) => Ok(t),
        _ => Err(format!("{s:?} is not a number in [0, 1)")),
    }
}

/// A finite number ≥ 0.
fn non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("{s:?} is not a finite number ≥ 0")),
    }
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
            Ok(s) => {
                api::metrics::booking("expired", s.expired.len() as u64);
                api::metrics::booking("used", s.marked_used);
                tracing::info!(
                    expired = s.expired.len(),
                    marked_used = s.marked_used,
                    "booking lifecycle"
                )
            }
            Err(_) if engine.store().is_closed() => return,
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
