//! Secondary indexes and constraints set aside while a generated world is bulk-loaded.
//!
//! Maintaining a dozen B-trees and foreign-key checks row by row is what made seeding the
//! `bench` world take an hour on PostgreSQL, with `mosaic` itself idle at 4 % of a core;
//! building each index once from the finished table and validating each foreign key with
//! one join is far cheaper. The statements that put them back are kept in a table of their
//! own, written in the same transaction as the drops, so a seed that dies half-way leaves
//! a store that [`Store::connect`] puts back together: a store is never left without the
//! unique indexes that guard bookings.

use sqlx::Row;

use super::{in_tx, on_pool, Dialect, Store, Table};
use crate::error::EngineError;

/// The tables a seed loads by the million and whose secondary indexes it defers. Deposits
/// keep theirs: closing ended deposits looks successors up by user while the seed runs.
const BULK_TABLES: [Table; 4] = [
    Table::Offers,
    Table::Stocks,
    Table::Bookings,
    Table::Interactions,
];

/// Where the restore statements wait, in the order they must run.
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS mosaic_deferred \
     (position INTEGER PRIMARY KEY, drop_sql TEXT NOT NULL, restore_sql TEXT NOT NULL)";

/// One index or constraint: how to drop it and how to put it back.
struct Deferred {
    drop_sql: String,
    restore_sql: String,
}

fn table_list() -> String {
    BULK_TABLES
        .iter()
        .map(|t| format!("'{}'", t.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Drops the secondary indexes, unique constraints and foreign keys of the bulk-loaded
    /// tables, recording how to restore them; primary keys and checks stay. Returns how
    /// many were set aside. Call [`Store::restore_deferred`] when the load is done.
    pub(crate) async fn defer_indexes(&self) -> Result<usize, EngineError> {
        let deferred = self.deferrable().await?;
        let _writer = self.writer().await;
        on_pool!(self, p => in_tx!(p, tx => {
            sqlx::query(CREATE_TABLE).execute(&mut *tx).await?;
            for (position, d) in deferred.iter().enumerate() {
                sqlx::query("INSERT INTO mosaic_deferred (position, drop_sql, restore_sql) VALUES ($1, $2, $3)")
                    .bind(position as i64)
                    .bind(&d.drop_sql)
                    .bind(&d.restore_sql)
                    .execute(&mut *tx)
                    .await?;
            }
            // Foreign keys come last in the list and go first: nothing then depends on
            // what is dropped after them.
            for d in deferred.iter().rev() {
                sqlx::query(&d.drop_sql).execute(&mut *tx).await?;
            }
            Ok(())
        }))?;
        Ok(deferred.len())
    }

    /// Puts back what [`Store::defer_indexes`] set aside, in one transaction: a unique
    /// index the data breaks fails it and leaves the list in place. Returns how many were
    /// restored; 0 when nothing waits.
    pub(crate) async fn restore_deferred(&self) -> Result<usize, EngineError> {
        let exists = match self.dialect() {
            Dialect::Postgres => "SELECT CAST(COUNT(*) AS BIGINT) FROM pg_tables \
                                  WHERE schemaname = current_schema() AND tablename = 'mosaic_deferred'",
            Dialect::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'mosaic_deferred'"
            }
        };
        if self.scalar(exists).await? == 0 {
            return Ok(0);
        }
        let _writer = self.writer().await;
        on_pool!(self, p => in_tx!(p, tx => {
            if self.dialect() == Dialect::Postgres {
                // Index builds sort in memory up to this much instead of spilling to disk.
                sqlx::query("SET LOCAL maintenance_work_mem = '512MB'").execute(&mut *tx).await?;
            }
            let rows = sqlx::query("SELECT restore_sql FROM mosaic_deferred ORDER BY position")
                .fetch_all(&mut *tx)
                .await?;
            for row in &rows {
                let sql: String = row.try_get(0)?;
                sqlx::query(&sql).execute(&mut *tx).await?;
            }
            sqlx::query("DROP TABLE mosaic_deferred").execute(&mut *tx).await?;
            Ok(rows.len())
        }))
    }

    /// What [`Store::defer_indexes`] drops, indexes before foreign keys.
    async fn deferrable(&self) -> Result<Vec<Deferred>, EngineError> {
        let tables = table_list();
        let mut out = Vec::new();
        match &self.pool {
            super::Pool::Postgres(p) => {
                // Plain indexes, not those behind a primary key or unique constraint.
                let indexes = format!(
                    "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x \
                     JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
                     JOIN pg_namespace n ON n.oid = t.relnamespace \
                     WHERE n.nspname = current_schema() AND t.relname IN ({tables}) \
                     AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid \
                     AND c.conrelid = x.indrelid AND c.contype IN ('p', 'u', 'x')) ORDER BY i.relname"
                );
                for row in sqlx::query(&indexes).fetch_all(p).await? {
                    let (name, definition): (String, String) = (row.try_get(0)?, row.try_get(1)?);
                    out.push(Deferred {
                        drop_sql: format!("DROP INDEX \"{name}\""),
                        restore_sql: definition,
                    });
                }
                // Unique constraints before foreign keys ('u' sorts after 'f', hence DESC).
                let constraints = format!(
                    "SELECT c.conname, t.relname, pg_get_constraintdef(c.oid) FROM pg_constraint c \
                     JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
                     WHERE n.nspname = current_schema() AND t.relname IN ({tables}) \
                     AND c.contype IN ('u', 'f') ORDER BY c.contype DESC, c.conname"
                );
                for row in sqlx::query(&constraints).fetch_all(p).await? {
                    let (name, table, definition): (String, String, String) =
                        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                    out.push(Deferred {
                        drop_sql: format!("ALTER TABLE \"{table}\" DROP CONSTRAINT \"{name}\""),
                        restore_sql: format!(
                            "ALTER TABLE \"{table}\" ADD CONSTRAINT \"{name}\" {definition}"
                        ),
                    });
                }
            }
            // SQLite cannot drop a constraint; its foreign-key checks are primary-key
            // lookups, and the indexes it made for UNIQUE columns have no SQL and stay.
            super::Pool::Sqlite(p) => {
                let indexes = format!(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
                     AND tbl_name IN ({tables}) ORDER BY name"
                );
                for row in sqlx::query(&indexes).fetch_all(p).await? {
                    let (name, definition): (String, String) = (row.try_get(0)?, row.try_get(1)?);
                    out.push(Deferred {
                        drop_sql: format!("DROP INDEX \"{name}\""),
                        restore_sql: definition,
                    });
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestStore;

    /// A digest of the store's indexes and constraints: how many, and their definitions' length.
    async fn schema_digest(store: &Store) -> (i64, i64) {
        let (count, length) = match store.dialect() {
            Dialect::Postgres => (
                "SELECT CAST((SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema()) \
                 + (SELECT COUNT(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
                 WHERE n.nspname = current_schema()) AS BIGINT)",
                "SELECT CAST((SELECT SUM(LENGTH(indexdef)) FROM pg_indexes WHERE schemaname = current_schema()) \
                 + (SELECT SUM(LENGTH(pg_get_constraintdef(c.oid))) FROM pg_constraint c \
                 JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = current_schema()) AS BIGINT)",
            ),
            Dialect::Sqlite => (
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index'",
                "SELECT SUM(LENGTH(sql)) FROM sqlite_master WHERE type = 'index'",
            ),
        };
        (
            store.scalar(count).await.unwrap(),
            store.scalar(length).await.unwrap(),
        )
    }

    #[tokio::test]
    async fn deferred_indexes_come_back_on_restore_and_after_a_crash() {
        for t in TestStore::each().await {
            let store = &t.store;
            let full = schema_digest(store).await;

            let deferred = store.defer_indexes().await.unwrap();
            // bookings alone has six plain indexes on either store.
            assert!(deferred >= 6, "{deferred} set aside");
            assert!(schema_digest(store).await.0 < full.0);
            assert_eq!(store.restore_deferred().await.unwrap(), deferred);
            assert_eq!(schema_digest(store).await, full);
            assert_eq!(
                store.restore_deferred().await.unwrap(),
                0,
                "nothing waits twice"
            );

            // A seed killed mid-load: the next process to open the store restores them.
            assert_eq!(store.defer_indexes().await.unwrap(), deferred);
            let reopened = Store::connect(&t.url).await.unwrap();
            assert_eq!(schema_digest(&reopened).await, full);
            reopened.close().await;
        }
    }
}
