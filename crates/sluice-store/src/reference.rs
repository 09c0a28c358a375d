//! The references a benchmark compares the store's write rate with, both into a database
//! opened exactly like the store's own (same connection options, WAL, `synchronous` level),
//! one transaction after the other: durable single-row inserts (one row per transaction), and
//! durable batched inserts (many rows per transaction in one multi-row statement), the
//! ceiling that group commit can approach. [`postgres_batched_inserts`] measures the same on
//! a PostgreSQL database, for the cluster figures.

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection, SqliteConnection};

use crate::backend::Dialect;
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
    let started = Instant::now();
    for (next, n) in batches(rows, batch) {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(insert_statement(n)));
        for i in next..next + n {
            q = q.bind(format!("row-{i}")).bind(&body);
        }
        sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut conn).await?;
        q.execute(&mut conn).await?;
        sqlx::raw_sql("COMMIT").execute(&mut conn).await?;
    }
    let elapsed = started.elapsed();
    conn.close().await?;
    Ok(elapsed)
}

/// [`batched_inserts`] into the PostgreSQL database at `url` (a fresh one: the table it
/// creates must not exist), with the server's own durability (`synchronous_commit` as the
/// server says, `on` by default: each `COMMIT` waits for its WAL flush). `batch` 1 gives the
/// single-row reference. Returns the time taken.
pub async fn postgres_batched_inserts(
    url: &str,
    rows: usize,
    batch: usize,
    body_bytes: usize,
) -> Result<Duration> {
    let mut conn = PgConnection::connect(url).await?;
    sqlx::raw_sql(
        "CREATE TABLE reference_rows (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
         id TEXT COLLATE \"C\" NOT NULL UNIQUE, body TEXT NOT NULL)",
    )
    .execute(&mut conn)
    .await
    .map_err(|e| {
        Error::InvalidInput(format!(
            "the reference needs a fresh database: cannot create its table: {e}"
        ))
    })?;
    let body = "x".repeat(body_bytes);
    let started = Instant::now();
    for (next, n) in batches(rows, batch) {
        let sql =
            Dialect::Postgres.sql_owned(insert_statement(n).replacen("rows", "reference_rows", 1));
        let mut q = sqlx::query(sql);
        for i in next..next + n {
            q = q.bind(format!("row-{i}")).bind(&body);
        }
        let mut tx = conn.begin().await?;
        q.execute(&mut *tx).await?;
        tx.commit().await?;
    }
    let elapsed = started.elapsed();
    conn.close().await?;
    Ok(elapsed)
}

/// The transactions of a run: (first row, rows) for `rows` rows in transactions of `batch`
/// (the last one takes the rest).
fn batches(rows: usize, batch: usize) -> impl Iterator<Item = (usize, usize)> {
    let batch = batch.max(1);
    (0..rows)
        .step_by(batch)
        .map(move |next| (next, batch.min(rows - next)))
}

/// `INSERT INTO rows (id, body) VALUES (?, ?), …` for `n` rows.
fn insert_statement(n: usize) -> String {
    format!(
        "INSERT INTO rows (id, body) VALUES {}",
        vec!["(?, ?)"; n].join(", ")
    )
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

    #[test]
    fn batches_cover_every_row_once() {
        let all: Vec<(usize, usize)> = batches(25, 10).collect();
        assert_eq!(all, [(0, 10), (10, 10), (20, 5)]);
        assert_eq!(batches(3, 0).count(), 3, "a batch holds at least one row");
        assert_eq!(batches(0, 10).count(), 0);
    }

    #[tokio::test]
    async fn postgres_inserts_write_every_row_and_need_a_fresh_database() {
        let Some(url) = crate::test_cluster::fresh_database("reference").await else {
            return;
        };
        postgres_batched_inserts(&url, 25, 10, 10).await.unwrap();
        postgres_batched_inserts(&url, 3, 1, 10)
            .await
            .expect_err("the table exists");
        let mut conn = PgConnection::connect(&url).await.unwrap();
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM reference_rows ORDER BY seq")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        let want: Vec<String> = (0..25).map(|i| format!("row-{i}")).collect();
        assert_eq!(ids, want);
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
