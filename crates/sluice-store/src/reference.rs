//! The references a benchmark compares the store's write rate with, both into a database
//! opened exactly like the store's own (same connection options, WAL, `synchronous` level),
//! one transaction after the other: durable single-row inserts (one row per transaction), and
//! durable batched inserts (many rows per transaction in one multi-row statement), the
//! ceiling that group commit can approach.

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
    batched_inserts(path, durability, rows, 1, body_bytes).await
}

/// Like [`single_row_inserts`], with `batch` rows per transaction, written by one multi-row
/// `INSERT` (the last transaction takes the rest). Returns the time taken.
pub async fn batched_inserts(
    path: &Path,
    durability: Durability,
    rows: usize,
    batch: usize,
    body_bytes: usize,
) -> Result<Duration> {
    if path.exists() {
        return Err(Error::InvalidInput(format!(
            "{} exists; the reference needs a fresh file",
            path.display()
        )));
    }
    let batch = batch.max(1);
    let mut conn = SqliteConnection::connect_with(&writer_options(path, durability)).await?;
    sqlx::raw_sql(
        "CREATE TABLE rows (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL) STRICT",
    )
    .execute(&mut conn)
    .await?;
    let body = "x".repeat(body_bytes);
    let statement = |n: usize| {
        format!(
            "INSERT INTO rows (id, body) VALUES {}",
            vec!["(?, ?)"; n].join(", ")
        )
    };
    let full = statement(batch);
    let started = Instant::now();
    let mut next = 0;
    while next < rows {
        let n = batch.min(rows - next);
        let sql = if n == batch {
            full.clone()
        } else {
            statement(n)
        };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for i in next..next + n {
            q = q.bind(format!("row-{i}")).bind(&body);
        }
        sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut conn).await?;
        q.execute(&mut conn).await?;
        sqlx::raw_sql("COMMIT").execute(&mut conn).await?;
        next += n;
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

    #[tokio::test]
    async fn batched_inserts_write_every_row_including_a_short_last_batch() {
        let dir = TempDir::new("reference-batched");
        let path = dir.0.join("reference.db");
        batched_inserts(&path, Durability::ProcessCrash, 25, 10, 10)
            .await
            .unwrap();
        let mut conn =
            SqliteConnection::connect_with(&writer_options(&path, Durability::ProcessCrash))
                .await
                .unwrap();
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM rows ORDER BY seq")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        let want: Vec<String> = (0..25).map(|i| format!("row-{i}")).collect();
        assert_eq!(ids, want);
    }
}
