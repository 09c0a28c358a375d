//! Leadership among processes sharing a PostgreSQL store: [`Store::campaign`] waits for a
//! session-level advisory lock on a connection of its own (asking every
//! [`CAMPAIGN_POLL`], never queueing for it), then starts a new term
//! (`cluster.epoch + 1`). The lock lives as long as that connection: when the leader
//! process dies, is partitioned away or pauses past the session timeouts, PostgreSQL ends
//! the session and the next candidate that asks gets the lock.
//!
//! The leader's connection has short timeouts (PostgreSQL 14 or later), so a paused or cut-off
//! leader loses the lock in about ten seconds: `idle_session_timeout` and
//! `idle_in_transaction_session_timeout` of 10 s, `statement_timeout` of 30 s once the lock is
//! held, `tcp_user_timeout` of 10 s, and TCP keep-alives. A heartbeat (`SELECT 1` every 2 s)
//! keeps the session busy while the leader lives and notices when the connection fails:
//! [`Leadership::lost`] then resolves, and the holder must stop acting as leader.

use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::{Db, Store};

/// The advisory lock key of the engine leader (any fixed number; one lock per database).
const LEADER_LOCK: i64 = 0x736c_7569_6365_4c31; // "sluiceL1"

/// How often a candidate asks for the leader lock while another process holds it.
pub const CAMPAIGN_POLL: Duration = Duration::from_millis(200);

/// How often the leader's session proves it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(2);

/// The session settings of a candidate's connection (all have context `user`).
const SESSION_SETTINGS: &[(&str, &str)] = &[
    ("idle_session_timeout", "10s"),
    ("idle_in_transaction_session_timeout", "10s"),
    ("tcp_user_timeout", "10000"),
    ("tcp_keepalives_idle", "5"),
    ("tcp_keepalives_interval", "2"),
    ("tcp_keepalives_count", "3"),
];

/// The session settings of every pooled connection to PostgreSQL. A process that is paused
/// (SIGSTOP, a VM freeze) or cut off in the middle of a transaction would otherwise hold its
/// row locks for as long as its socket stays open, which for a stopped process is forever:
/// a leader's commit holds `cluster` `FOR SHARE`, so the next term's `UPDATE cluster` would
/// wait behind it, and any replica's ingestion holds the `commit_seq` row, so every other
/// replica's would. The server ends such a transaction after 10 s of silence; sluice never
/// waits on anything but the database inside one.
pub(crate) const POOL_SESSION_SETTINGS: &[(&str, &str)] =
    &[("idle_in_transaction_session_timeout", "10s")];

/// A term of leadership won by [`Store::campaign`]. Dropping it ends the term (its
/// connection closes, the lock is released).
#[derive(Debug)]
pub struct Leadership {
    epoch: u64,
    lost: watch::Receiver<Option<String>>,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Leadership {
    /// The term's number: larger than every earlier leader's.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Why leadership was lost, once it was (the connection holding the lock failed).
    pub fn lost_reason(&self) -> Option<String> {
        self.lost.borrow().clone()
    }

    /// Waits until leadership is lost and says why.
    pub async fn lost(&mut self) -> String {
        loop {
            if let Some(why) = self.lost.borrow_and_update().clone() {
                return why;
            }
            if self.lost.changed().await.is_err() {
                return "the heartbeat stopped".to_owned();
            }
        }
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        // The task owns the connection: aborting it closes the session and frees the lock.
        self.heartbeat.abort();
    }
}

impl Store {
    /// The cluster's current term and the node that started it (`None` on SQLite, and on
    /// PostgreSQL before any campaign).
    pub async fn cluster_term(&self) -> Result<Option<(u64, String)>> {
        let Db::Postgres(pool) = &self.db else {
            return Ok(None);
        };
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT epoch, leader FROM cluster WHERE id = 1")
                .fetch_optional(pool)
                .await?;
        Ok(row
            .filter(|(epoch, _)| *epoch > 0)
            .map(|(epoch, leader)| (epoch as u64, leader)))
    }

    /// Waits until this process holds the leader lock of the PostgreSQL database, then
    /// starts a new term: `UPDATE cluster SET epoch = epoch + 1, leader = node_id`. Returns
    /// the term's handle; it reports loss when the lock's connection fails. A SQLite store
    /// refuses ([`Error::InvalidInput`]): it has one process by construction.
    pub async fn campaign(&self, node_id: &str) -> Result<Leadership> {
        let Db::Postgres(pool) = &self.db else {
            return Err(Error::InvalidInput(
                "leadership needs a PostgreSQL store".into(),
            ));
        };
        let options = (*pool.connect_options())
            .clone()
            .application_name(&format!("sluice leader {node_id}"))
            .options(SESSION_SETTINGS.iter().copied());
        let mut conn = PgConnection::connect_with(&options).await?;
        // Followers ask again and again rather than queue in `pg_advisory_lock`: a queued
        // candidate that is paused (SIGSTOP, a frozen VM) would be granted the lock while it
        // cannot use it, and every live candidate would wait for its session to time out.
        // Only a candidate that is running when the lock is free can take it.
        loop {
            let won: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(LEADER_LOCK)
                .fetch_one(&mut conn)
                .await?;
            if won {
                break;
            }
            tokio::time::sleep(CAMPAIGN_POLL).await;
        }
        sqlx::raw_sql("SET statement_timeout = '30s'")
            .execute(&mut conn)
            .await?;
        let epoch: i64 = sqlx::query_scalar(
            "UPDATE cluster SET epoch = epoch + 1, leader = $1 WHERE id = 1 RETURNING epoch",
        )
        .bind(node_id)
        .fetch_one(&mut conn)
        .await?;
        let (report, lost) = watch::channel(None);
        let heartbeat = tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = sqlx::raw_sql("SELECT 1").execute(&mut conn).await {
                    let _ = report.send(Some(format!("the leader's connection failed: {e}")));
                    return;
                }
            }
        });
        Ok(Leadership {
            epoch: epoch as u64,
            lost,
            heartbeat,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::backends;

    /// Two stores (two processes later) on one database: the second waits while the first
    /// leads and wins with the next epoch once the first's term is dropped; a leader whose
    /// connection is killed learns it lost, and a third candidate then wins.
    #[tokio::test]
    async fn the_second_candidate_wins_when_the_first_leader_goes() {
        for backend in backends("campaign").await {
            let first = backend.open().await;
            let crate::StoreLocation::Postgres(_) = backend.location else {
                assert!(matches!(
                    first.campaign("a").await,
                    Err(Error::InvalidInput(_))
                ));
                continue;
            };
            let second = backend.open().await;
            let a = first.campaign("a").await.unwrap();
            assert_eq!(a.epoch(), 1);
            let waiting = tokio::spawn({
                let second = second.clone();
                async move { second.campaign("b").await }
            });
            // Readiness: b's session has asked for the lock (and was refused).
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                let asked: i64 = with_pool(&first, |pool| async move {
                    sqlx::query_scalar(
                        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
                         AND application_name = 'sluice leader b' \
                         AND query LIKE '%pg_try_advisory_lock%'",
                    )
                    .fetch_one(&pool)
                    .await
                    .unwrap()
                })
                .await;
                if asked == 1 {
                    break;
                }
                assert!(tokio::time::Instant::now() < deadline, "b never asked");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert!(!waiting.is_finished(), "b cannot win while a leads");
            assert_eq!(a.lost_reason(), None);
            drop(a);
            let mut b = waiting.await.unwrap().unwrap();
            assert_eq!(b.epoch(), 2);
            let leader: String = with_pool(&second, |pool| async move {
                sqlx::query_scalar("SELECT leader FROM cluster")
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            })
            .await;
            assert_eq!(leader, "b");

            // Kill b's session from outside, as a failed network or server would.
            let killed: i64 = with_pool(&first, |pool| async move {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = 'sluice leader b' AND datname = current_database()) t",
                )
                .fetch_one(&pool)
                .await
                .unwrap()
            })
            .await;
            assert_eq!(killed, 1);
            let why = tokio::time::timeout(HEARTBEAT * 5, b.lost())
                .await
                .expect("the heartbeat notices the lost connection");
            assert!(why.contains("connection failed"), "{why}");
            let c = first.campaign("c").await.unwrap();
            assert_eq!(c.epoch(), 3);
        }
    }

    /// A leader fenced with its term commits while it holds it; once a newer term started,
    /// its commits are refused and write nothing, even on connections it already had.
    #[tokio::test]
    async fn a_stale_leader_cannot_commit() {
        use crate::executions::{Changes, NewEvent};
        use crate::testutil::event;
        for backend in backends("fence").await {
            let old = backend.open().await;
            let crate::StoreLocation::Postgres(_) = backend.location else {
                // SQLite: one process by construction; the fence has no effect.
                old.fence(7);
                old.commit(Changes::default()).await.unwrap();
                continue;
            };
            let new = backend.open().await;
            let change = |id: &str| Changes {
                events: vec![NewEvent {
                    event: std::sync::Arc::new(event(
                        id,
                        "c1",
                        "sh.keptn.event.dev.delivery.triggered",
                        ("p", "dev", "s"),
                        0,
                    )),
                    outgoing: true,
                }],
                ..Changes::default()
            };
            let a = old.campaign("a").await.unwrap();
            old.fence(a.epoch());
            old.commit(change("e1")).await.unwrap();
            drop(a);
            let b = new.campaign("b").await.unwrap();
            new.fence(b.epoch());
            match old.commit(change("e2")).await {
                Err(Error::Fenced { held, current }) => {
                    assert_eq!((held, current), (1, 2));
                }
                other => panic!("a stale leader committed: {other:?}"),
            }
            assert!(
                new.event("e2").await.unwrap().is_none(),
                "nothing was written"
            );
            new.commit(change("e3")).await.unwrap();
            assert!(new.event("e3").await.unwrap().is_some());
        }
    }

    /// A replica paused in the middle of a commit (its pooled connection idle in a
    /// transaction that holds `cluster` `FOR SHARE`) does not keep the next leader from
    /// starting its term: PostgreSQL ends the silent transaction.
    #[tokio::test]
    async fn a_paused_commit_does_not_block_the_next_term() {
        for backend in backends("paused-commit").await {
            let crate::StoreLocation::Postgres(_) = backend.location else {
                continue;
            };
            let old = backend.open().await;
            let new = backend.open().await;
            let a = old.campaign("paused-a").await.unwrap();
            let mut paused =
                with_pool(&old, |pool| async move { pool.begin().await.unwrap() }).await;
            let _: i64 = sqlx::query_scalar("SELECT epoch FROM cluster WHERE id = 1 FOR SHARE")
                .fetch_one(&mut *paused)
                .await
                .unwrap();
            // The leader's own session ends (as it would after its idle timeout); the
            // transaction on the pooled connection stays open and silent.
            drop(a);
            let b = new
                .campaign("paused-b")
                .await
                .expect("the next term starts once the silent transaction is ended");
            assert_eq!(b.epoch(), 2);
            assert!(
                sqlx::query("SELECT 1").execute(&mut *paused).await.is_err(),
                "the paused transaction was ended by the server"
            );
        }
    }

    /// Runs `f` with the store's PostgreSQL pool.
    async fn with_pool<T, F: std::future::Future<Output = T>>(
        store: &Store,
        f: impl FnOnce(sqlx::PgPool) -> F,
    ) -> T {
        match &store.db {
            Db::Postgres(pool) => f(pool.clone()).await,
            Db::Sqlite { .. } => panic!("not a PostgreSQL store"),
        }
    }
}
