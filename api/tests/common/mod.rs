//! What the HTTP test files share: a real server on 127.0.0.1 and a client for it.
//! Each test file compiles this module on its own and uses part of it.
#![allow(dead_code)]

use std::sync::Arc;

use engine::auth::Principal;
use engine::store::Store;
use engine::Engine;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;

/// A server on an ephemeral port, stopped when dropped.
pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

/// An answer read whole: status, content type and body bytes.
pub struct Raw {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Raw {
    /// The body as JSON, or `Null`.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl Server {
    /// Serves `store` on 127.0.0.1 with an in-memory index.
    pub async fn start(store: Store) -> Server {
        let engine: Arc<Engine> = Engine::open(store, None).await.unwrap();
        Server::serve(api::router(engine)).await
    }

    /// Serves any `router` (the service with other settings, a fake webhook…) on 127.0.0.1.
    pub async fn serve(router: axum::Router) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap()
        });
        Server {
            base,
            client: reqwest::Client::new(),
            _stop: stop,
        }
    }

    /// GET without a token: status, JSON body (or `Null`) and content type.
    pub async fn get(&self, path: &str) -> (StatusCode, Value, String) {
        let r = self.raw(Method::GET, path, None, None).await;
        (r.status, r.json(), r.content_type)
    }

    /// POST a JSON body without a token.
    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let r = self.raw(Method::POST, path, None, Some(body)).await;
        (r.status, r.json())
    }

    /// Any method, with an optional bearer token and JSON body: status and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let r = self.raw(method, path, token, body).await;
        (r.status, r.json())
    }

    /// Any method, answered whole.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Raw {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let content_type = headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = r.bytes().await.unwrap().to_vec();
        Raw {
            status,
            content_type,
            headers,
            body,
        }
    }
}

/// A bearer token for `who`, created in `store`.
pub async fn token(store: &Store, who: Principal) -> String {
    store.create_token(who, engine::now()).await.unwrap()
}
