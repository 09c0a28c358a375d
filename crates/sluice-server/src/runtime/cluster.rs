//! Replicas on one PostgreSQL store: every `sluice server --store postgres://…` is a replica.
//! Each campaigns for the leader lock ([`sluice_store::Store::campaign`]); the winner fences
//! its store with its term, publishes its address, and only then starts the sequence engine,
//! the built-in services and the relays. The others are hot standbys that serve the whole API
//! by forwarding every request to the leader (streams included) and answer 503 with
//! `Retry-After` while there is none, so a client can talk to any replica.
//!
//! A leader whose term ends (its lock connection failed: it was cut off or paused past the
//! session timeouts) stops serving: [`Error::LostLeadership`] ends the process, whose
//! supervisor starts it again as a follower. Its commits fail from the moment a newer term
//! began ([`sluice_store::Error::Fenced`]), so a stale leader never changes sequence state.
//!
//! Every replica records itself every [`HEARTBEAT`] in the store's settings (address, role,
//! the newest event position it saw), which `GET /api/sluice/v1/cluster` and
//! `sluice cluster status` show.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sluice_store::{Changes, Store};

use crate::access::auth::ApiToken;
use crate::runtime::clock;

/// The setting holding the current leader's address.
pub const LEADER_SETTING: &str = "cluster.leader";
/// How often a replica records itself.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// A follower not heard from for this long (five heartbeats) is shown as `gone`: it is
/// stopped, paused, or cut off from the database.
const GONE_AFTER_SECONDS: i64 = 5 * HEARTBEAT.as_secs() as i64;
/// How long the proxy waits for the leader to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a follower forwards to the leader it last read without reading the store again
/// (a forward that fails forgets it at once). Forwarding to a leader whose term just ended
/// is safe: its commits are fenced off.
const LEADER_CACHE: Duration = Duration::from_millis(500);

/// Why a replica stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The leader's term ended.
    #[error("this replica's term as leader ended: {0}")]
    LostLeadership(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] sluice_store::Error),
}

/// The setting key of a replica's record.
pub fn replica_setting(node: &str) -> String {
    format!("cluster.replica.{node}")
}

/// The leader's address, written by the leader in its first fenced commit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LeaderRecord {
    /// Node id.
    pub node: String,
    /// Where other replicas reach it.
    pub url: String,
    /// Its term.
    pub epoch: u64,
    /// When it took over (RFC 3339).
    pub since: String,
}

/// What a replica records about itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReplicaRecord {
    /// Node id.
    pub node: String,
    /// Where it is reached.
    pub url: String,
    /// `leader` or `follower`.
    pub role: String,
    /// The newest event position it saw in the store.
    pub position: i64,
    /// When it recorded this (Unix seconds).
    pub at: i64,
}

/// One replica of the cluster.
#[derive(Debug)]
pub struct Replica {
    /// The shared store.
    pub store: Arc<Store>,
    /// This replica's node id.
    pub node: String,
    /// This replica's address for the others.
    pub url: String,
    pub(crate) token: ApiToken,
    pub(crate) proxy: reqwest::Client,
    /// The full API once this replica leads.
    leading: RwLock<Option<Router>>,
    /// The leader last read from the store, and when.
    known_leader: Mutex<Option<(Instant, LeaderRecord)>>,
    /// Set once this replica announced its term, before it restored the engine and started
    /// serving the full API.
    elected: std::sync::atomic::AtomicBool,
}

impl Replica {
    /// A replica that does not lead yet.
    pub fn new(store: Arc<Store>, node: String, url: String, token: ApiToken) -> Replica {
        crate::net::http::install_crypto_provider();
        // The replica-to-leader client: it streams answers (server-sent events) unbuffered
        // and follows no redirects; it is not the outgoing client for external systems.
        let proxy = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Replica {
            store,
            node,
            url,
            token,
            proxy,
            leading: RwLock::new(None),
            known_leader: Mutex::new(None),
            elected: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether this replica leads.
    pub fn is_leader(&self) -> bool {
        self.leading
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some()
    }

    /// True once this replica announced its term as leader (it may still be restoring the
    /// engine before it serves the API).
    pub fn elected(&self) -> bool {
        self.elected.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The full API when this replica leads.
    pub fn leading_api(&self) -> Option<Router> {
        self.leading
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Starts serving the full API: called once this replica won and restored the engine.
    pub fn lead(&self, api: Router) {
        *self
            .leading
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(api);
    }

    /// Records this replica's term as the leader's address (a fenced commit: a stale
    /// leader cannot overwrite a newer one's).
    pub async fn announce(&self, epoch: u64) -> Result<(), Error> {
        let record = LeaderRecord {
            node: self.node.clone(),
            url: self.url.clone(),
            epoch,
            since: clock::now().to_rfc3339_nano(),
        };
        let value = serde_json::to_value(&record).unwrap_or(Value::Null);
        self.store
            .commit(Changes {
                settings_set: vec![(LEADER_SETTING.to_owned(), value)],
                ..Changes::default()
            })
            .await?;
        self.elected
            .store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// Records this replica every [`HEARTBEAT`] until the process ends.
    pub async fn heartbeat(self: Arc<Self>) {
        let mut tick = tokio::time::interval(HEARTBEAT);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let position = self.store.last_event_position().await.unwrap_or(-1);
            let record = ReplicaRecord {
                node: self.node.clone(),
                url: self.url.clone(),
                role: if self.is_leader() {
                    "leader"
                } else {
                    "follower"
                }
                .to_owned(),
                position,
                at: (clock::now().unix_nanos() / 1_000_000_000) as i64,
            };
            let value = serde_json::to_value(&record).unwrap_or(Value::Null);
            let changes = Changes {
                settings_set: vec![(replica_setting(&self.node), value)],
                ..Changes::default()
            };
            if let Err(e) = self.store.commit(changes).await {
                tracing::warn!("cannot record this replica: {e}");
            }
        }
    }

    /// The leader's address when there is a live leader other than this replica (read from
    /// the store at most every [`LEADER_CACHE`]).
    pub(crate) async fn leader(&self) -> Result<Option<LeaderRecord>, sluice_store::Error> {
        if let Some((read, record)) = self.known_leader().as_ref()
            && read.elapsed() < LEADER_CACHE
        {
            return Ok(Some(record.clone()));
        }
        let Some((epoch, _)) = self.store.cluster_term().await? else {
            return Ok(None);
        };
        let record = self
            .store
            .setting(LEADER_SETTING)
            .await?
            .and_then(|v| serde_json::from_value::<LeaderRecord>(v).ok())
            .filter(|r| r.epoch == epoch && r.node != self.node);
        *self.known_leader() = record.clone().map(|r| (Instant::now(), r));
        Ok(record)
    }

    /// Returns once `leader` no longer leads as far as this replica can tell: another term
    /// began (another replica, this one included, or none yet), or nobody leads. Checked
    /// every [`LEADER_CACHE`], first after one interval, so a short request costs nothing.
    /// While the store cannot be read it keeps waiting: that tells nothing about the leader.
    pub(crate) async fn leader_changed(&self, leader: &LeaderRecord) {
        loop {
            tokio::time::sleep(LEADER_CACHE).await;
            // A replica announces its term before it leads.
            if self.elected() {
                return;
            }
            match self.leader().await {
                Ok(Some(now)) if now.node == leader.node && now.epoch == leader.epoch => {}
                Ok(_) => return,
                Err(_) => {}
            }
        }
    }

    /// Forgets the leader read last (it did not answer): the next request reads the store.
    pub(crate) fn forget_leader(&self) {
        *self.known_leader() = None;
    }

    fn known_leader(&self) -> std::sync::MutexGuard<'_, Option<(Instant, LeaderRecord)>> {
        self.known_leader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cluster as this replica sees it.
    pub async fn status(&self) -> Result<Value, sluice_store::Error> {
        let term = self.store.cluster_term().await?;
        let leader = self
            .store
            .setting(LEADER_SETTING)
            .await?
            .and_then(|v| serde_json::from_value::<LeaderRecord>(v).ok())
            .filter(|r| term.as_ref().is_some_and(|(e, _)| *e == r.epoch));
        let newest = self.store.last_event_position().await?;
        let now = (clock::now().unix_nanos() / 1_000_000_000) as i64;
        let mut replicas = Vec::new();
        for (key, value) in self.store.settings_with_prefix("cluster.replica.").await? {
            let Ok(r) = serde_json::from_value::<ReplicaRecord>(value) else {
                tracing::warn!("unreadable replica record {key}");
                continue;
            };
            let is_leader = leader.as_ref().is_some_and(|l| l.node == r.node);
            let last_seen = (now - r.at).max(0);
            replicas.push(json!({
                "node": r.node,
                "url": r.url,
                "role": role(is_leader, last_seen),
                "lastSeenSeconds": last_seen,
                "position": r.position,
                "lag": (newest - r.position).max(0),
            }));
        }
        Ok(json!({
            "store": "postgres",
            "epoch": term.as_ref().map_or(0, |(e, _)| *e),
            "leader": leader,
            "self": self.node,
            "position": newest,
            "replicas": replicas,
        }))
    }
}

/// A replica's role as `status` shows it: the leader of the current term, a follower, or a
/// follower that has not recorded itself for [`GONE_AFTER_SECONDS`] (its record stays, so
/// a replica that comes back is a follower again).
fn role(is_leader: bool, last_seen_seconds: i64) -> &'static str {
    if is_leader {
        "leader"
    } else if last_seen_seconds >= GONE_AFTER_SECONDS {
        "gone"
    } else {
        "follower"
    }
}

/// A node id for this process when none is given: host name and listening port.
pub fn default_node_id(port: u16) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sluice".to_owned());
    format!("{host}-{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_follower_silent_for_five_heartbeats_is_gone_but_the_leader_stays_leader() {
        assert_eq!(role(false, 0), "follower");
        assert_eq!(role(false, GONE_AFTER_SECONDS - 1), "follower");
        assert_eq!(role(false, GONE_AFTER_SECONDS), "gone");
        // The term decides who leads; a paused leader loses it with its session.
        assert_eq!(role(true, GONE_AFTER_SECONDS * 10), "leader");
    }
}
