//! Helpers shared by the HTTP test suites: a real server on 127.0.0.1 over a real store.
//!
//! Each suite that needs them says `mod support;`; not every suite uses every helper.
#![allow(dead_code)]

use std::sync::Arc;

use engine::seed::{Profile, SeedConfig};
use engine::store::Store;
use engine::testing::TestStore;
use engine::Engine;
use indicatif::ProgressBar;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::oneshot;

/// A server on an ephemeral port, stopped when dropped.
pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

impl Server {
    pub async fn start(store: Store) -> Server {
        let engine: Arc<Engine> = Engine::open(store, None).await.unwrap();
        Server::start_router(api::router(engine)).await
    }

    /// Serves `router` itself, e.g. one built with other settings than `api::serve`'s.
    pub async fn start_router(router: axum::Router) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Server {
            base,
            client: reqwest::Client::new(),
            _stop: stop,
        }
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let ctype = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, r.json().await.unwrap_or(Value::Null), ctype)
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }
}

pub async fn seeded_sqlite() -> TestStore {
    let t = TestStore::sqlite().await;
    let today = chrono::Utc::now().date_naive();
    engine::seed_store(
        &t.store,
        SeedConfig {
            profile: Profile::Ci,
            seed: 3,
            today,
        },
        &ProgressBar::hidden(),
    )
    .await
    .unwrap();
    t
}
