//! Failed logins per client address, with exponential backoff: after [`FREE_FAILURES`]
//! wrong tokens from one address, each further failure makes that address wait twice as long
//! as the previous one before it may try again ([`FIRST_DELAY`], doubling up to
//! [`MAX_DELAY`]). A success resets the address. Memory is bounded: at most [`MAX_CLIENTS`]
//! addresses are remembered (quiet ones are forgotten after [`FORGET_AFTER`], else the one
//! that failed longest ago makes room).
//!
//! An IPv6 address counts by its /64 network (one host usually owns a whole /64). Pure: the
//! caller passes the time.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Wrong tokens an address may present before it has to wait.
pub const FREE_FAILURES: u32 = 5;

/// The wait after the last free failure; it doubles with each further failure.
pub const FIRST_DELAY: Duration = Duration::from_secs(1);

/// The longest wait.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

/// An address without failures for this long starts afresh.
pub const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);

/// At most this many addresses are remembered.
pub const MAX_CLIENTS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

impl Failures {
    fn forgotten(&self, now: Instant) -> bool {
        self.blocked_until.is_none_or(|t| t <= now)
            && now.saturating_duration_since(self.last) >= FORGET_AFTER
    }
}

/// The failed logins of one server.
#[derive(Debug, Default)]
pub struct LoginBackoff {
    clients: Mutex<HashMap<IpAddr, Failures>>,
    /// Whether any address is remembered (successful requests skip the lock when none is).
    any: AtomicBool,
}

/// The key an address counts under.
fn client_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The wait after `count` failures.
fn delay(count: u32) -> Option<Duration> {
    let extra = count.checked_sub(FREE_FAILURES)?;
    let factor = 1u32.checked_shl(extra.min(31)).unwrap_or(u32::MAX);
    Some(FIRST_DELAY.saturating_mul(factor).min(MAX_DELAY))
}

impl LoginBackoff {
    /// `Err(wait)` while `client` has to wait before trying again.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        if !self.any.load(Ordering::Relaxed) {
            return Ok(());
        }
        match self
            .lock()
            .get(&client_key(client))
            .and_then(|f| f.blocked_until)
        {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Records a wrong token from `client`; answers how long it now has to wait, if at all.
    pub fn failed(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        let key = client_key(client);
        let mut clients = self.lock();
        if !clients.contains_key(&key) && clients.len() >= MAX_CLIENTS {
            clients.retain(|_, f| !f.forgotten(now));
            if clients.len() >= MAX_CLIENTS
                && let Some(oldest) = clients.iter().min_by_key(|(_, f)| f.last).map(|(k, _)| *k)
            {
                clients.remove(&oldest);
            }
        }
        let entry = clients.entry(key).or_insert(Failures {
            count: 0,
            last: now,
            blocked_until: None,
        });
        if entry.forgotten(now) {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        let wait = delay(entry.count);
        entry.blocked_until = wait.map(|w| now + w);
        self.any.store(true, Ordering::Relaxed);
        wait
    }

    /// Records a right token from `client`: its failures are forgotten.
    pub fn succeeded(&self, client: IpAddr) {
        if !self.any.load(Ordering::Relaxed) {
            return;
        }
        let mut clients = self.lock();
        clients.remove(&client_key(client));
        self.any.store(!clients.is_empty(), Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Failures>> {
        // A panic while holding the lock cannot leave the map inconsistent: keep using it.
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn failures_beyond_the_free_ones_wait_twice_as_long_each_time() {
        let backoff = LoginBackoff::default();
        let a = ip("192.0.2.1");
        let mut now = Instant::now();
        for _ in 0..FREE_FAILURES - 1 {
            assert_eq!(backoff.failed(a, now), None);
            assert_eq!(backoff.check(a, now), Ok(()));
        }
        let mut expected = FIRST_DELAY;
        for _ in 0..12 {
            assert_eq!(backoff.failed(a, now), Some(expected));
            assert_eq!(backoff.check(a, now), Err(expected));
            assert_eq!(
                backoff.check(a, now + expected / 2),
                Err(expected - expected / 2)
            );
            now += expected;
            assert_eq!(backoff.check(a, now), Ok(()), "the wait is over");
            expected = (expected * 2).min(MAX_DELAY);
        }
        assert_eq!(backoff.failed(a, now), Some(MAX_DELAY), "capped");
        // Other addresses are not affected.
        assert_eq!(backoff.check(ip("192.0.2.2"), now), Ok(()));
    }

    #[test]
    fn a_success_resets_and_quiet_addresses_start_afresh() {
        let backoff = LoginBackoff::default();
        let a = ip("192.0.2.1");
        let now = Instant::now();
        for _ in 0..FREE_FAILURES {
            backoff.failed(a, now);
        }
        assert!(backoff.check(a, now).is_err());
        backoff.succeeded(a);
        assert_eq!(backoff.check(a, now), Ok(()));
        assert_eq!(backoff.failed(a, now), None, "counting starts again");

        for _ in 1..FREE_FAILURES {
            backoff.failed(a, now);
        }
        let later = now + FORGET_AFTER;
        assert_eq!(backoff.failed(a, later), None, "forgotten after an hour");
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_network() {
        let backoff = LoginBackoff::default();
        let now = Instant::now();
        for i in 0..FREE_FAILURES {
            backoff.failed(ip(&format!("2001:db8:1:2::{i:x}")), now);
        }
        assert!(backoff.check(ip("2001:db8:1:2::ffff"), now).is_err());
        assert_eq!(backoff.check(ip("2001:db8:1:3::1"), now), Ok(()));
        for _ in 0..FREE_FAILURES {
            backoff.failed(ip("::ffff:192.0.2.9"), now);
        }
        assert!(backoff.check(ip("192.0.2.9"), now).is_err(), "v4-mapped");
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_failure_makes_room() {
        let backoff = LoginBackoff::default();
        let t0 = Instant::now();
        let first = ip("10.0.0.0");
        for _ in 0..FREE_FAILURES {
            backoff.failed(first, t0);
        }
        for i in 1..=MAX_CLIENTS as u32 {
            let addr = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            backoff.failed(addr, t0 + Duration::from_millis(u64::from(i)));
        }
        assert!(backoff.lock().len() <= MAX_CLIENTS);
        assert_eq!(backoff.check(first, t0), Ok(()), "the oldest made room");
    }
}
