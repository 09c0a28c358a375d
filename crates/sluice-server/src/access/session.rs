//! Browser sessions of the web UI: a random session id (the `sluice_session` cookie) with a
//! per-session CSRF token and an expiry, held in memory (a restart logs everyone out).
//!
//! A session is created by logging in with a token and stands for it: the API accepts the
//! cookie wherever it accepts the token, with the token's role and scope (a scoped token is
//! looked up again on every request, so revoking it or its expiry ends its sessions too). Requests that change something must also carry
//! the session's CSRF token in a header (see `api/mod.rs`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::access::rbac::Principal;

/// Name of the session cookie.
pub const COOKIE: &str = "sluice_session";

/// How long a session lives after login.
pub const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// At most this many sessions are kept; the oldest is dropped to make room.
const MAX_SESSIONS: usize = 1000;

/// Why a session could not be created.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operating system gave no randomness.
    #[error("cannot generate a random session id: {0}")]
    Random(String),
}

/// A logged-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The cookie value.
    pub id: String,
    /// What the page must send in `x-sluice-csrf` with every change.
    pub csrf: String,
    /// When it ends.
    pub expires: Instant,
    /// The token it logged in with.
    pub principal: Principal,
}

/// The sessions of one server.
#[derive(Debug, Default)]
pub struct Sessions {
    open: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Opens a session for `principal` that ends [`LIFETIME`] after `now`.
    pub fn create(&self, now: Instant, principal: Principal) -> Result<Session, Error> {
        let session = Session {
            id: random_hex()?,
            csrf: random_hex()?,
            expires: now + LIFETIME,
            principal,
        };
        let mut open = self.lock();
        open.retain(|_, s| s.expires > now);
        if open.len() >= MAX_SESSIONS
            && let Some(oldest) = open
                .values()
                .min_by_key(|s| s.expires)
                .map(|s| s.id.clone())
        {
            open.remove(&oldest);
        }
        open.insert(session.id.clone(), session.clone());
        Ok(session)
    }

    /// The open session with this id, if it has not expired at `now`.
    pub fn get(&self, id: &str, now: Instant) -> Option<Session> {
        let mut open = self.lock();
        match open.get(id) {
            Some(s) if s.expires > now => Some(s.clone()),
            Some(_) => {
                open.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends a session (logout); `false` when there was none.
    pub fn remove(&self, id: &str) -> bool {
        self.lock().remove(id).is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock cannot leave the map inconsistent: keep using it.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn random_hex() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The value of the session cookie in a `Cookie` header, if present.
pub fn cookie_value(header: &str) -> Option<&str> {
    header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name.trim() == COOKIE).then(|| value.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_random_expire_and_can_be_ended() {
        let sessions = Sessions::default();
        let t0 = Instant::now();
        let a = sessions.create(t0, Principal::instance_admin()).unwrap();
        let b = sessions.create(t0, Principal::instance_admin()).unwrap();
        assert_ne!(a.id, b.id);
        assert_ne!(a.id, a.csrf);
        assert_eq!(a.id.len(), 64);
        assert_eq!(sessions.get(&a.id, t0), Some(a.clone()));
        assert_eq!(sessions.get("nope", t0), None);
        assert_eq!(sessions.get(&a.id, t0 + LIFETIME), None, "expired");
        assert_eq!(sessions.get(&a.id, t0), None, "an expired session is gone");
        assert!(sessions.remove(&b.id));
        assert!(!sessions.remove(&b.id));
        assert_eq!(sessions.get(&b.id, t0), None);
    }

    #[test]
    fn the_number_of_sessions_is_bounded() {
        let sessions = Sessions::default();
        let t0 = Instant::now();
        let first = sessions.create(t0, Principal::instance_admin()).unwrap();
        for i in 1..=MAX_SESSIONS {
            sessions
                .create(
                    t0 + Duration::from_secs(i as u64),
                    Principal::instance_admin(),
                )
                .unwrap();
        }
        assert!(sessions.lock().len() <= MAX_SESSIONS);
        assert_eq!(sessions.get(&first.id, t0), None, "the oldest made room");
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        assert_eq!(cookie_value("a=1; sluice_session=abc; b=2"), Some("abc"));
        assert_eq!(cookie_value("sluice_session=xyz"), Some("xyz"));
        assert_eq!(cookie_value("sluice_sessionx=1; other=2"), None);
        assert_eq!(cookie_value(""), None);
    }
}
