//! Mosaic's engine: the domain, the store, the dataset generator, and the facade that
//! composes the index ([`indexer`]), the ranking ([`ranking`]) and the store.
//!
//! Start at [`Engine`]: every use case of the app (feed, search, offer, wallet,
//! booking) is one method of it.

pub mod auth;
pub mod booking;
pub mod boost;
pub mod campaign;
pub mod credit;
pub mod curation;
pub mod domain;
mod engine;
pub mod error;
pub mod eval;

mod cpu_gate;
mod feed;
pub mod ids;
mod index_sync;
pub mod indexing;
pub mod me;
pub mod money;
pub mod partner;
pub(crate) mod profile;
mod ranked_feeds;
mod search;
pub mod seed;
pub mod simulate;

mod seeding;
pub mod settings;
pub mod store;
pub mod taste;
pub mod taxonomy;
pub mod testing;
pub mod views;

pub use engine::{now, Compactions, Engine};
pub use error::EngineError;
pub use feed::{FeedRequest, FeedTimings};
pub use indexer::DigitalMode;
pub use search::SearchRequest;
pub use seeding::seed_store;
