//! Runs the generator into a store: generation on a blocking thread, writes on the
//! async side, a bounded channel between them so neither runs ahead of the other.

use indicatif::ProgressBar;
use tokio::sync::mpsc;

use crate::error::EngineError;
use crate::seed::{generate, Batch, SeedConfig, SeedSummary};
use crate::store::Store;
use crate::taxonomy::Taxonomy;

fn rows(batch: &Batch) -> u64 {
    match batch {
        Batch::Offers(v) => v.len() as u64,
        Batch::Users(v) => v.len() as u64,
        Batch::Bookings(v) => v.len() as u64,
        _ => 0,
    }
}

/// Generates the world of `config` into an empty `store`, with the big tables' secondary
/// indexes and constraints dropped during the load and rebuilt once at its end.
/// `progress` counts offers, users and bookings written (its length is set here); pass
/// `ProgressBar::hidden()` for none.
pub async fn seed_store(
    store: &Store,
    config: SeedConfig,
    progress: &ProgressBar,
) -> Result<SeedSummary, EngineError> {
    let offers = store.count(crate::store::Table::Offers).await?;
    if offers > 0 {
        return Err(EngineError::BadInput(format!(
            "the store already holds {offers} offers: seed into an empty database"
        )));
    }
    store.defer_indexes().await?;
    let sizes = config.profile.sizes();
    progress.set_length((sizes.offers + sizes.users + sizes.bookings) as u64);
    let (tx, mut rx) = mpsc::channel::<Batch>(4);
    let generator = tokio::task::spawn_blocking(move || {
        generate(&config, Taxonomy::shipped(), &mut |batch| {
            tx.blocking_send(batch)
                .map_err(|_| EngineError::Data("the store writer stopped".into()))
        })
    });
    let mut written = Ok(());
    while let Some(batch) = rx.recv().await {
        if let Err(e) = store.write_batch(&batch).await {
            written = Err(e);
            break;
        }
        progress.inc(rows(&batch));
    }
    // Dropping the receiver makes a still-running generator stop at its next batch.
    drop(rx);
    let generated = generator
        .await
        .map_err(|e| EngineError::Data(format!("generator panicked: {e}")))?;
    // Put the indexes back even when the load failed: a half-written world still needs them.
    progress.set_message("building indexes");
    let restored = store.restore_deferred().await;
    written?;
    let summary = generated?;
    restored?;
    progress.set_message("writing the ledger");
    store.derive_ledger(crate::now()).await?;
    store.reset_sequences().await?;
    progress.set_message("analysing");
    store.analyze().await?;
    progress.finish_with_message("done");
    Ok(summary)
}
