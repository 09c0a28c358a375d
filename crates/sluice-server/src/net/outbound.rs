//! Where the server may connect to: the outbound rules every outgoing request passes
//! (webhooks, the Prometheus SLI provider), applied by [`crate::net::http`].
//!
//! By default only public addresses are allowed: everything in [`is_public`]'s list of
//! special-purpose ranges (loopback, private, link-local and cloud metadata, CGNAT,
//! multicast, unspecified, documentation and benchmarking ranges, IPv4-mapped and
//! IPv4-compatible IPv6, NAT64, 6to4, Teredo, unique-local, ...) is refused. An
//! administrator opens internal targets explicitly with an allowlist ([`Outbound::parse`],
//! `--outbound-allow` / `SLUICE_OUTBOUND_ALLOW`): CIDR ranges or single addresses (any port),
//! `address:port`, or `host` / `host:port` names whose resolved addresses are then not
//! checked.
//!
//! Pure: no IO. The resolver that applies these rules lives in [`crate::net::http`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The environment variable read when `--outbound-allow` is not given.
pub const ALLOW_ENV: &str = "SLUICE_OUTBOUND_ALLOW";

/// An allowlist entry that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid outbound allowlist entry `{entry}`: {reason} (expected a CIDR range such as 10.0.0.0/8, an address, address:port, host or host:port)"
)]
pub struct AllowError {
    /// The entry as written.
    pub entry: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// One allowlist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// Addresses in `addr/prefix`, any port.
    Range { addr: IpAddr, prefix: u8 },
    /// Exactly this address literal in a URL, at this port.
    AddrPort { addr: IpAddr, port: u16 },
    /// This host name (lowercase), at this port or any; its addresses are not checked.
    Host { name: String, port: Option<u16> },
}

/// The outbound rules: public addresses plus an explicit allowlist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outbound {
    entries: Vec<Entry>,
}

impl Outbound {
    /// Only public addresses (the default).
    pub fn public_only() -> Outbound {
        Outbound::default()
    }

    /// Public addresses plus the comma-separated `spec` (empty entries are skipped).
    pub fn parse(spec: &str) -> Result<Outbound, AllowError> {
        let mut entries = Vec::new();
        for raw in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            entries.push(parse_entry(raw)?);
        }
        Ok(Outbound { entries })
    }

    /// `--outbound-allow` when given, else `SLUICE_OUTBOUND_ALLOW`, else public only.
    pub fn from_setting(flag: Option<&str>) -> Result<Outbound, AllowError> {
        match flag {
            Some(spec) => Outbound::parse(spec),
            None => match std::env::var(ALLOW_ENV) {
                Ok(spec) => Outbound::parse(&spec),
                Err(_) => Ok(Outbound::public_only()),
            },
        }
    }

    /// Adds the entries of `spec` to these rules.
    pub fn with(mut self, spec: &str) -> Result<Outbound, AllowError> {
        self.entries.extend(Outbound::parse(spec)?.entries);
        Ok(self)
    }

    /// Whether nothing beyond public addresses is allowed.
    pub fn is_public_only(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a resolved (or literal) address may be connected to, whatever the port: public,
    /// or in an allowed range.
    pub fn allows_addr(&self, ip: IpAddr) -> bool {
        is_public(ip)
            || self.entries.iter().any(|e| match e {
                Entry::Range { addr, prefix } => in_range(ip, *addr, *prefix),
                _ => false,
            })
    }

    /// Whether an address literal written in a URL may be connected to at `port`.
    pub fn allows_literal(&self, ip: IpAddr, port: u16) -> bool {
        self.allows_addr(ip)
            || self.entries.iter().any(|e| match e {
                Entry::AddrPort { addr, port: p } => {
                    canonical(*addr) == canonical(ip) && *p == port
                }
                _ => false,
            })
    }

    /// Whether the host name `host` at `port` is allowed by name (its addresses unchecked).
    pub fn allows_name(&self, host: &str, port: u16) -> bool {
        self.entries.iter().any(|e| match e {
            Entry::Host { name, port: p } => {
                name.eq_ignore_ascii_case(host) && p.is_none_or(|p| p == port)
            }
            _ => false,
        })
    }

    /// Whether `host` (any port) is named by an entry.
    pub fn names(&self, host: &str) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e, Entry::Host { name, .. } if name.eq_ignore_ascii_case(host)))
    }
}

impl fmt::Display for Outbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.entries.is_empty() {
            return f.write_str("public addresses only");
        }
        f.write_str("public addresses and ")?;
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match e {
                Entry::Range { addr, prefix } => write!(f, "{addr}/{prefix}")?,
                Entry::AddrPort { addr, port } => {
                    write!(f, "{}", std::net::SocketAddr::new(*addr, *port))?
                }
                Entry::Host { name, port: None } => write!(f, "{name}")?,
                Entry::Host {
                    name,
                    port: Some(p),
                } => write!(f, "{name}:{p}")?,
            }
        }
        Ok(())
    }
}

fn parse_entry(raw: &str) -> Result<Entry, AllowError> {
    let fail = |reason| AllowError {
        entry: raw.to_owned(),
        reason,
    };
    if let Some((addr, prefix)) = raw.split_once('/') {
        let addr: IpAddr = addr.parse().map_err(|_| fail("not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| fail("the prefix length is out of range"))?;
        return Ok(Entry::Range { addr, prefix });
    }
    if let Ok(addr) = raw.parse::<IpAddr>() {
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        return Ok(Entry::Range { addr, prefix });
    }
    if let Ok(sa) = raw.parse::<std::net::SocketAddr>() {
        return Ok(Entry::AddrPort {
            addr: sa.ip(),
            port: sa.port(),
        });
    }
    let (name, port) = match raw.rsplit_once(':') {
        Some((name, port)) => (
            name,
            Some(
                port.parse::<u16>()
                    .map_err(|_| fail("the port is not a number"))?,
            ),
        ),
        None => (raw, None),
    };
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
    if !valid {
        return Err(fail("not a host name"));
    }
    Ok(Entry::Host {
        name: name.to_ascii_lowercase(),
        port,
    })
}

/// An IPv4-mapped IPv6 address as the IPv4 address it maps (for comparisons only: such an
/// address is never public itself).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_range(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// IPv4 ranges that are not public (IANA special-purpose registry, plus multicast).
const V4_SPECIAL: [(Ipv4Addr, u8); 17] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network", unspecified
    (Ipv4Addr::new(10, 0, 0, 0), 8),      // private
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // CGNAT
    (Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local, cloud metadata
    (Ipv4Addr::new(172, 16, 0, 0), 12),   // private
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation
    (Ipv4Addr::new(192, 31, 196, 0), 24), // AS112
    (Ipv4Addr::new(192, 52, 193, 0), 24), // AMT
    (Ipv4Addr::new(192, 88, 99, 0), 24),  // 6to4 relay anycast
    (Ipv4Addr::new(192, 168, 0, 0), 16),  // private
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation
    (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, broadcast
];

/// Ranges inside 2000::/3 (global unicast) that are not public.
const V6_SPECIAL: [(Ipv6Addr, u8); 5] = [
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23), // IETF protocol assignments, Teredo, ORCHID
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16), // 6to4 (embeds IPv4)
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20), // documentation
    (Ipv6Addr::new(0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0), 48), // AS112
];

/// Whether `ip` is a public unicast address. IPv6 must be in 2000::/3 outside the
/// special-purpose ranges: this refuses loopback, unspecified, IPv4-mapped (`::ffff:0:0/96`)
/// and IPv4-compatible (`::/96`) addresses, NAT64 (`64:ff9b::/96`, `64:ff9b:1::/48`),
/// discard-only, unique-local, link-local, site-local and multicast addresses.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !V4_SPECIAL
            .iter()
            .any(|(net, p)| in_range(IpAddr::V4(v4), IpAddr::V4(*net), *p)),
        IpAddr::V6(v6) => {
            let global_unicast = v6.segments()[0] & 0xe000 == 0x2000;
            global_unicast
                && !V6_SPECIAL
                    .iter()
                    .any(|(net, p)| in_range(IpAddr::V6(v6), IpAddr::V6(*net), *p))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn special_purpose_addresses_are_not_public() {
        for s in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.10",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "192.0.0.8",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "::8.8.8.8",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "100::1",
            "fe80::1",
            "fec0::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "2002:7f00:1::1",
            "3fff::1",
        ] {
            assert!(!is_public(ip(s)), "{s} must not count as public");
            assert!(
                !Outbound::public_only().allows_addr(ip(s)),
                "{s} must be refused by default"
            );
        }
    }

    #[test]
    fn ordinary_addresses_are_public() {
        for s in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
        ] {
            assert!(is_public(ip(s)), "{s} is public");
        }
    }

    #[test]
    fn the_allowlist_opens_exactly_what_it_names() {
        let o =
            Outbound::parse("127.0.0.1/32, 10.0.0.0/8,[::1]:9090,prometheus.internal:9090,alerts")
                .unwrap();
        assert!(o.allows_addr(ip("127.0.0.1")));
        assert!(!o.allows_addr(ip("127.0.0.2")));
        assert!(o.allows_addr(ip("10.200.3.4")));
        assert!(!o.allows_addr(ip("192.168.0.1")));
        assert!(
            !o.allows_addr(ip("::1")),
            "[::1]:9090 names a literal and a port"
        );
        assert!(o.allows_literal(ip("::1"), 9090));
        assert!(!o.allows_literal(ip("::1"), 9091));
        assert!(o.allows_name("Prometheus.Internal", 9090));
        assert!(!o.allows_name("prometheus.internal", 80));
        assert!(o.allows_name("alerts", 1234));
        assert!(!o.allows_name("other", 9090));
        assert_eq!(
            o.to_string(),
            "public addresses and 127.0.0.1/32,10.0.0.0/8,[::1]:9090,prometheus.internal:9090,alerts"
        );
        assert!(Outbound::parse("").unwrap().is_public_only());
        let single = Outbound::parse("::1").unwrap();
        assert!(single.allows_addr(ip("::1")));
    }

    #[test]
    fn bad_allowlist_entries_are_refused_with_the_entry() {
        for (spec, reason) in [
            ("10.0.0.0/33", "the prefix length is out of range"),
            ("10.0.0/8", "not an IP address"),
            ("host:port", "the port is not a number"),
            ("a b", "not a host name"),
            ("http://x", "not an IP address"),
        ] {
            let e = Outbound::parse(spec).unwrap_err();
            assert_eq!(e.reason, reason, "{spec}");
            assert_eq!(e.entry, spec);
        }
    }
}
