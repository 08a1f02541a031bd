//! PostgreSQL's side: the same offers in a table with a French `tsvector` (GIN) and an
//! earthdistance (GiST) index, and the same searches in SQL.
//!
//! Radius tests use the indexer's own haversine (mean Earth radius 6,371,008.8 m),
//! written so that PostgreSQL computes bit-for-bit the same floating-point operations:
//! `earth_box` (whose sphere is earthdistance's 6,378,168 m) only fetches candidates,
//! over a radius enlarged accordingly. Geo hit sets must then be equal.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indexer::{DigitalMode, OfferDoc, EARTH_RADIUS_M};
use sqlx::postgres::{PgArguments, PgConnection, PgPoolOptions};
use sqlx::{Executor, PgPool, Postgres, Row};

use crate::mix::{BenchQuery, PAGE};
use crate::stats::Outcome;

/// Settings of every benchmark connection: no JIT (it costs tens of milliseconds on
/// short queries), room for the sorts and hashes, plans for the actual parameters.
pub const SESSION: &str = "SET jit = off; SET work_mem = '64MB'; \
     SET plan_cache_mode = force_custom_plan; SET statement_timeout = '120s'";

/// A pool of up to `max` connections with [`SESSION`] settings, all opened now.
pub async fn connect(url: &str, max: u32) -> Result<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(max)
        .min_connections(max)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(SESSION).await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .context("connecting to PostgreSQL")?;
    Ok(pool)
}

/// The auxiliary table: as built now or as found.
pub struct PgTable {
    /// Seconds to build it (COPY with the generated tsvector, then indexes, then
    /// ANALYZE), when it was (re)built.
    pub build_secs: f64,
    pub built_now: bool,
    pub table_bytes: i64,
    pub index_bytes: i64,
}

const COLUMNS: &str = "id, title, description, venue_name, artist, subcategory_label, category, \
     subcategory, lat, lon, price_cents, is_duo, is_event, next_beginning_at, sold_out, popularity";

const CREATE: &str = "CREATE TABLE bench_offers (
    id BIGINT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    venue_name TEXT,
    artist TEXT,
    subcategory_label TEXT NOT NULL,
    category TEXT NOT NULL,
    subcategory TEXT NOT NULL,
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    price_cents BIGINT NOT NULL,
    is_duo BOOLEAN NOT NULL,
    is_event BOOLEAN NOT NULL,
    next_beginning_at BIGINT,
    sold_out BOOLEAN NOT NULL,
    popularity BIGINT NOT NULL,
    tsv TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('french', title), 'A')
        || setweight(to_tsvector('french', coalesce(artist, '')), 'B')
        || setweight(to_tsvector('french', coalesce(venue_name, '') || ' ' || subcategory_label), 'C')
        || setweight(to_tsvector('french', description), 'D')
    ) STORED
)";

const INDEXES: &[&str] = &[
    "ALTER TABLE bench_offers ADD PRIMARY KEY (id)",
    "CREATE INDEX bench_offers_tsv ON bench_offers USING gin (tsv)",
    "CREATE INDEX bench_offers_earth ON bench_offers USING gist (ll_to_earth(lat, lon))",
    "CREATE INDEX bench_offers_category ON bench_offers (category)",
    "CREATE INDEX bench_offers_digital ON bench_offers (id) WHERE lat IS NULL",
    "ANALYZE bench_offers",
];

fn copy_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn copy_row(out: &mut String, d: &OfferDoc) {
    use std::fmt::Write;
    let opt = |out: &mut String, s: &Option<String>| match s {
        Some(s) => copy_text(out, s),
        None => out.push_str("\\N"),
    };
    let _ = write!(out, "{}\t", d.id);
    copy_text(out, &d.title);
    out.push('\t');
    copy_text(out, &d.description);
    out.push('\t');
    opt(out, &d.venue_name);
    out.push('\t');
    opt(out, &d.artist);
    out.push('\t');
    copy_text(out, &d.subcategory_label);
    out.push('\t');
    copy_text(out, &d.category);
    out.push('\t');
    copy_text(out, &d.subcategory);
    out.push('\t');
    // `{}` prints the shortest string that reads back as the same f64.
    match d.location {
        Some(p) => {
            let _ = write!(out, "{}\t{}\t", p.lat(), p.lon());
        }
        None => out.push_str("\\N\t\\N\t"),
    }
    let b = |v: bool| if v { 't' } else { 'f' };
    let _ = write!(
        out,
        "{}\t{}\t{}\t",
        d.price_cents,
        b(d.is_duo),
        b(d.is_event)
    );
    match d.next_beginning_at {
        Some(t) => {
            let _ = write!(out, "{t}\t");
        }
        None => out.push_str("\\N\t"),
    }
    let _ = writeln!(out, "{}\t{}", b(d.sold_out), d.popularity);
}

/// Makes sure `bench_offers` holds exactly `docs` (recognised by `fingerprint`),
/// rebuilding it when it does not or when `force` is set.
pub async fn ensure_table(
    pool: &PgPool,
    docs: &[OfferDoc],
    fingerprint: &str,
    force: bool,
) -> Result<PgTable> {
    let mut conn = pool.acquire().await?;
    conn.execute(
        "CREATE EXTENSION IF NOT EXISTS cube; CREATE EXTENSION IF NOT EXISTS earthdistance; \
         CREATE TABLE IF NOT EXISTS bench_offers_meta (id INT PRIMARY KEY, fingerprint TEXT NOT NULL, \
         docs BIGINT NOT NULL, build_secs DOUBLE PRECISION NOT NULL, built_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await
    .context("creating the earthdistance extension (run benches/search.sh, which installs it)")?;
    let found: Option<(String, f64)> = sqlx::query_as(
        "SELECT m.fingerprint, m.build_secs FROM bench_offers_meta m \
         WHERE m.id = 1 AND to_regclass('bench_offers') IS NOT NULL",
    )
    .fetch_optional(&mut *conn)
    .await?;
    let (build_secs, built_now) = match found {
        Some((f, secs)) if f == fingerprint && !force => (secs, false),
        _ => {
            eprintln!(
                "building the PostgreSQL table bench_offers ({} offers)…",
                docs.len()
            );
            let started = Instant::now();
            conn.execute(
                "DELETE FROM bench_offers_meta; DROP TABLE IF EXISTS bench_offers; \
                 SET maintenance_work_mem = '256MB'",
            )
            .await?;
            conn.execute(CREATE).await?;
            let mut copy = conn
                .copy_in_raw(&format!("COPY bench_offers ({COLUMNS}) FROM STDIN"))
                .await?;
            let mut buf = String::with_capacity(1 << 22);
            for d in docs {
                copy_row(&mut buf, d);
                if buf.len() >= 1 << 22 {
                    copy.send(std::mem::take(&mut buf).into_bytes()).await?;
                    buf.reserve(1 << 22);
                }
            }
            if !buf.is_empty() {
                copy.send(buf.into_bytes()).await?;
            }
            copy.finish().await?;
            for sql in INDEXES {
                conn.execute(*sql).await?;
            }
            let secs = started.elapsed().as_secs_f64();
            sqlx::query(
                "INSERT INTO bench_offers_meta (id, fingerprint, docs, build_secs) VALUES (1, $1, $2, $3)",
            )
            .bind(fingerprint)
            .bind(docs.len() as i64)
            .bind(secs)
            .execute(&mut *conn)
            .await?;
            (secs, true)
        }
    };
    let (table_bytes, index_bytes): (i64, i64) =
        sqlx::query_as("SELECT pg_table_size('bench_offers'), pg_indexes_size('bench_offers')")
            .fetch_one(&mut *conn)
            .await?;
    Ok(PgTable {
        build_secs,
        built_now,
        table_bytes,
        index_bytes,
    })
}

enum Bind {
    F64(f64),
    I64(i64),
    Text(String),
    Texts(Vec<String>),
}

/// The indexer's haversine, operation for operation (see `indexer::haversine_m`):
/// $1, $2 the centre, $4 degrees→radians, $5 twice the Earth radius.
const HAVERSINE: &str = "($5 * asin(sqrt(least(greatest(\
     sin((o.lat * $4 - $1 * $4) * 0.5::float8) * sin((o.lat * $4 - $1 * $4) * 0.5::float8) \
     + cos($1 * $4) * cos(o.lat * $4) * sin((o.lon - $2) * $4 * 0.5::float8) * sin((o.lon - $2) * $4 * 0.5::float8), \
     0::float8), 1::float8))))";

/// Candidates from the GiST index: earthdistance's sphere is larger than the
/// indexer's, so the box radius is scaled up (plus a margin).
const EARTH_BOX: &str =
    "earth_box(ll_to_earth($1, $2), $3 * earth() / $6 * 1.001::float8 + 1::float8) \
     @> ll_to_earth(o.lat, o.lon)";

/// Words of the text, for the any-word retry.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// FROM, WHERE and ORDER key of a query; `any_word`: accept any word of the text.
fn parts(q: &BenchQuery, any_word: bool) -> (String, Vec<String>, String, Vec<Bind>) {
    let mut binds = vec![
        Bind::F64(q.center.lat()),
        Bind::F64(q.center.lon()),
        Bind::F64(q.radius_m),
        Bind::F64(std::f64::consts::PI / 180.0),
        Bind::F64(2.0 * EARTH_RADIUS_M),
        Bind::F64(EARTH_RADIUS_M),
    ];
    let mut from = String::from("bench_offers o");
    let mut conds = vec!["NOT o.sold_out".to_string()];
    let key = match &q.text {
        Some(text) => {
            if any_word {
                binds.push(Bind::Text(words(text).join(" | ")));
                from.push_str(&format!(
                    " CROSS JOIN to_tsquery('french', ${}) AS tq",
                    binds.len()
                ));
            } else {
                binds.push(Bind::Text(text.clone()));
                from.push_str(&format!(
                    " CROSS JOIN plainto_tsquery('french', ${}) AS tq",
                    binds.len()
                ));
            }
            conds.push("o.tsv @@ tq".into());
            "(0::real - ts_rank(o.tsv, tq))".to_string()
        }
        None => HAVERSINE.to_string(),
    };
    let within = format!("{EARTH_BOX} AND {HAVERSINE} <= $3");
    conds.push(match q.digital {
        DigitalMode::Include => format!("(o.lat IS NULL OR ({within}))"),
        DigitalMode::Exclude => within,
        DigitalMode::Only => "o.lat IS NULL".into(),
    });
    if !q.categories.is_empty() {
        binds.push(Bind::Texts(q.categories.clone()));
        conds.push(format!("o.category = ANY(${})", binds.len()));
    }
    if let Some(max) = q.max_price_cents {
        binds.push(Bind::I64(max as i64));
        conds.push(format!("o.price_cents <= ${}", binds.len()));
    }
    if let Some((a, b)) = q.begins {
        binds.push(Bind::I64(a));
        binds.push(Bind::I64(b));
        conds.push(format!(
            "o.next_beginning_at BETWEEN ${} AND ${}",
            binds.len() - 1,
            binds.len()
        ));
    }
    (from, conds, key, binds)
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, Postgres, PgArguments>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, Postgres, PgArguments> {
    for b in binds {
        query = match b {
            Bind::F64(v) => query.bind(*v),
            Bind::I64(v) => query.bind(*v),
            Bind::Text(v) => query.bind(v.as_str()),
            Bind::Texts(v) => query.bind(v.as_slice()),
        };
    }
    query
}

/// The SQL of a timed search: the first page with titles and venue names, the total
/// and the category facets, as `GET /v1/search` answers.
fn timed_sql(q: &BenchQuery, any_word: bool) -> (String, Vec<Bind>) {
    let (from, conds, key, binds) = parts(q, any_word);
    let sql = format!(
        "WITH m AS MATERIALIZED (SELECT o.id, o.category, {key} AS k FROM {from} WHERE {conds}) \
         SELECT p.ids, p.titles, p.venues, (SELECT count(*) FROM m) AS total, f.cats, f.counts \
         FROM (SELECT coalesce(array_agg(t.id ORDER BY t.k, t.id), '{{}}') AS ids, \
                      coalesce(array_agg(b.title ORDER BY t.k, t.id), '{{}}') AS titles, \
                      coalesce(array_agg(coalesce(b.venue_name, '') ORDER BY t.k, t.id), '{{}}') AS venues \
               FROM (SELECT id, k FROM m ORDER BY k, id LIMIT {PAGE}) t JOIN bench_offers b ON b.id = t.id) p, \
              (SELECT coalesce(array_agg(g.category ORDER BY g.n DESC, g.category), '{{}}') AS cats, \
                      coalesce(array_agg(g.n ORDER BY g.n DESC, g.category), '{{}}') AS counts \
               FROM (SELECT category, count(*) AS n FROM m GROUP BY category) g) f",
        conds = conds.join(" AND ")
    );
    (sql, binds)
}

async fn page(conn: &mut PgConnection, q: &BenchQuery, any_word: bool) -> Result<Outcome> {
    let (sql, binds) = timed_sql(q, any_word);
    let row = bind_all(sqlx::query(&sql), &binds)
        .fetch_one(&mut *conn)
        .await?;
    let ids: Vec<i64> = row.try_get("ids")?;
    let titles: Vec<String> = row.try_get("titles")?;
    let venues: Vec<String> = row.try_get("venues")?;
    let cats: Vec<String> = row.try_get("cats")?;
    let counts: Vec<i64> = row.try_get("counts")?;
    std::hint::black_box((&titles, &venues, &cats, &counts));
    Ok(Outcome {
        total: row.try_get("total")?,
        page: ids,
    })
}

/// One timed search; like the index, retries with any word when all words match nothing.
pub async fn search(conn: &mut PgConnection, q: &BenchQuery) -> Result<Outcome> {
    let first = page(conn, q, false).await?;
    if first.total == 0 && q.text.as_deref().is_some_and(|t| words(t).len() > 1) {
        return page(conn, q, true).await;
    }
    Ok(first)
}

/// Runs `queries` on `clients` connections (query i on client i mod clients).
pub async fn run(
    pool: &PgPool,
    queries: Arc<Vec<BenchQuery>>,
    clients: usize,
) -> Result<(Duration, Vec<(Duration, Outcome)>)> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let pool = pool.clone();
        let queries = queries.clone();
        tasks.spawn(async move {
            let mut conn = pool.acquire().await?;
            let mut out = Vec::new();
            for (i, q) in queries.iter().enumerate().skip(c).step_by(clients) {
                let t0 = Instant::now();
                let outcome = search(&mut conn, q).await?;
                out.push((i, t0.elapsed(), outcome));
            }
            anyhow::Ok(out)
        });
    }
    let mut all = Vec::with_capacity(queries.len());
    while let Some(part) = tasks.join_next().await {
        all.extend(part??);
    }
    let wall = started.elapsed();
    all.sort_by_key(|r| r.0);
    Ok((wall, all.into_iter().map(|(_, d, o)| (d, o)).collect()))
}

/// Every offer a (text-free) query matches, sorted by id.
pub async fn hit_set(pool: &PgPool, q: &BenchQuery) -> Result<Vec<i64>> {
    let (from, conds, _, binds) = parts(q, false);
    let sql = format!(
        "SELECT coalesce(array_agg(o.id ORDER BY o.id), '{{}}') FROM {from} WHERE {}",
        conds.join(" AND ")
    );
    let ids: Vec<i64> = bind_all(sqlx::query(&sql), &binds)
        .fetch_one(pool)
        .await?
        .try_get(0)?;
    Ok(ids)
}

/// Freshness: append a new word to an offer's title (one autocommitted UPDATE, which
/// recomputes its tsvector) and search for it until it comes back; the titles are
/// restored afterwards. Returns (update, visible) durations.
pub async fn freshness(
    pool: &PgPool,
    docs: &[OfferDoc],
    tokens: &[String],
) -> Result<Vec<(Duration, Duration)>> {
    // While titles differ from the documents, the table must not be reused.
    sqlx::query("UPDATE bench_offers_meta SET fingerprint = 'changing' WHERE id = 1")
        .execute(pool)
        .await?;
    let mut conn = pool.acquire().await?;
    let mut out = Vec::new();
    for (doc, token) in docs.iter().zip(tokens) {
        let t0 = Instant::now();
        sqlx::query("UPDATE bench_offers SET title = title || ' ' || $2 WHERE id = $1")
            .bind(doc.id as i64)
            .bind(token)
            .execute(&mut *conn)
            .await?;
        let updated = t0.elapsed();
        loop {
            let seen: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM bench_offers WHERE tsv @@ plainto_tsquery('french', $1) AND id = $2",
            )
            .bind(token)
            .bind(doc.id as i64)
            .fetch_optional(&mut *conn)
            .await?;
            if seen.is_some() {
                break;
            }
            anyhow::ensure!(
                t0.elapsed() < Duration::from_secs(30),
                "offer {} not visible 30 s after its update",
                doc.id
            );
        }
        out.push((updated, t0.elapsed()));
    }
    for doc in docs.iter().take(tokens.len()) {
        sqlx::query("UPDATE bench_offers SET title = $2 WHERE id = $1")
            .bind(doc.id as i64)
            .bind(&doc.title)
            .execute(&mut *conn)
            .await?;
    }
    Ok(out)
}

/// Restores the table's fingerprint once its rows equal the documents again.
pub async fn set_fingerprint(pool: &PgPool, fingerprint: &str) -> Result<()> {
    sqlx::query("UPDATE bench_offers_meta SET fingerprint = $1 WHERE id = 1")
        .bind(fingerprint)
        .execute(pool)
        .await?;
    Ok(())
}

/// "PostgreSQL 15.20".
pub async fn version(pool: &PgPool) -> Result<String> {
    let v: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(pool)
        .await?;
    Ok(format!(
        "PostgreSQL {}",
        v.split_whitespace().next().unwrap_or(&v)
    ))
}

/// Server settings worth reporting.
pub async fn settings(pool: &PgPool) -> Result<String> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, current_setting(name) FROM pg_settings \
         WHERE name IN ('shared_buffers', 'effective_cache_size', 'max_parallel_workers_per_gather') ORDER BY name",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|(n, v)| format!("{n} {v}"))
        .collect::<Vec<_>>()
        .join(", "))
}
