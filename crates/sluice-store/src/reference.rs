//! The reference a benchmark compares the store's write rate with: durable single-row
//! inserts into a database opened exactly like the store's own (same connection options,
//! WAL, `synchronous` level), one row per transaction, one after the other.

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::SqliteConnection;

use crate::error::{Error, Result};
use crate::{Durability, writer_options};

/// Inserts `rows` rows of `body_bytes` bytes each into a fresh database file at `path`, each
/// in its own `BEGIN IMMEDIATE` … `COMMIT`, and returns the time taken (set-up excluded).
/// The file (and its WAL) must not exist; the caller removes them afterwards.
pub async fn single_row_inserts(
    path: &Path,
    durability: Durability,
    rows: usize,
    body_bytes: usize,
) -> Result<Duration> {
    if path.exists() {
        return Err(Error::InvalidInput(format!(
            "{} exists; the reference needs a fresh file",
            path.display()
        )));
    }
    let mut conn = SqliteConnection::connect_with(&writer_options(path, durability)).await?;
    sqlx::raw_sql(
        "CREATE TABLE rows (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL) STRICT",
    )
    .execute(&mut conn)
    .await?;
    let body = "x".repeat(body_bytes);
    let started = Instant::now();
    for i in 0..rows {
        sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut conn).await?;
        sqlx::query("INSERT INTO rows (id, body) VALUES (?, ?)")
            .bind(format!("row-{i}"))
            .bind(&body)
            .execute(&mut conn)
            .await?;
        sqlx::raw_sql("COMMIT").execute(&mut conn).await?;
    }
    let elapsed = started.elapsed();
    conn.close().await?;
    Ok(elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[tokio::test]
    async fn inserts_every_row_and_refuses_an_existing_file() {
        let dir = TempDir::new("reference");
        let path = dir.0.join("reference.db");
        single_row_inserts(&path, Durability::ProcessCrash, 20, 10)
            .await
            .unwrap();
        let mut conn =
            SqliteConnection::connect_with(&writer_options(&path, Durability::ProcessCrash))
                .await
                .unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rows")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 20);
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        assert!(
            single_row_inserts(&path, Durability::ProcessCrash, 1, 1)
                .await
                .is_err()
        );
    }
}
