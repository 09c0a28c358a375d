//! Scoped tokens: their text, the hash that is stored instead of the secret, and expiries.
//!
//! A token reads `slc_<id>_<secret>`: a 12-character base32 id (looked up in the store) and
//! 32 random bytes in hex. The `slc_` prefix lets secret scanners recognise it. Only
//! SHA-256 of the secret part is stored: the secret has 256 bits of entropy, so a fast hash
//! is enough (a slow password hash such as Argon2 protects low-entropy secrets against
//! guessing, which 2^256 candidates already rule out), and it keeps the check to one hash per
//! request. The stored hash is compared in constant time.

use sha2::{Digest, Sha256};
use sluice_model::duration::GoDuration;

/// The prefix of every scoped token.
pub const PREFIX: &str = "slc_";

/// The longest allowed lifetime of a token (a year).
pub const MAX_LIFETIME_DAYS: i64 = 366;

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operating system gave no randomness.
    #[error("cannot generate a random token: {0}")]
    Random(String),
}

/// A freshly generated token: its id, the text shown once, and the hash to store.
#[derive(Debug)]
pub struct NewToken {
    /// The public id.
    pub id: String,
    /// The whole token, shown once.
    pub text: String,
    /// SHA-256 of the secret part.
    pub hash: Vec<u8>,
}

/// Generates a token.
pub fn generate() -> Result<NewToken, Error> {
    const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut id_bytes = [0u8; 12];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id_bytes).map_err(|e| Error::Random(e.to_string()))?;
    getrandom::fill(&mut secret).map_err(|e| Error::Random(e.to_string()))?;
    // 256 is a multiple of 32, so `b % 32` is uniform.
    let id: String = id_bytes
        .iter()
        .map(|b| char::from(BASE32[usize::from(b % 32)]))
        .collect();
    let secret: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    Ok(NewToken {
        text: format!("{PREFIX}{id}_{secret}"),
        hash: hash(&secret),
        id,
    })
}

/// SHA-256 of a token's secret part.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The id and secret of a presented scoped token; `None` when it does not look like one.
pub fn parse(presented: &str) -> Option<(&str, &str)> {
    let rest = presented.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 12 && !secret.is_empty()).then_some((id, secret))
}

/// A lifetime such as `30d`, `12h`, `90m` or a Go duration (`720h`): at least a minute, at
/// most [`MAX_LIFETIME_DAYS`].
pub fn parse_lifetime(text: &str) -> Result<GoDuration, String> {
    let text = text.trim();
    let duration = match text.strip_suffix('d') {
        Some(days) => {
            let days: i64 = days
                .parse()
                .map_err(|_| format!("invalid expiry {text:?}: expected e.g. 30d, 12h or 90m"))?;
            GoDuration::from_nanos(days.saturating_mul(86_400).saturating_mul(1_000_000_000))
        }
        None => GoDuration::parse(text)
            .map_err(|_| format!("invalid expiry {text:?}: expected e.g. 30d, 12h or 90m"))?,
    };
    let nanos = duration.as_nanos();
    if nanos < 60 * 1_000_000_000 {
        return Err(format!(
            "invalid expiry {text:?}: a token must live at least a minute"
        ));
    }
    if nanos > MAX_LIFETIME_DAYS * 86_400 * 1_000_000_000 {
        return Err(format!(
            "invalid expiry {text:?}: a token may live at most {MAX_LIFETIME_DAYS} days"
        ));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_back_and_hash_their_secret() {
        let t = generate().unwrap();
        let (id, secret) = parse(&t.text).unwrap();
        assert_eq!(id, t.id);
        assert_eq!(secret.len(), 64);
        assert_eq!(hash(secret), t.hash);
        assert_ne!(generate().unwrap().text, t.text);
        assert_eq!(parse("slc_short_x"), None);
        assert_eq!(parse("0123456789abcdef0123"), None);
    }

    #[test]
    fn lifetimes() {
        assert_eq!(
            parse_lifetime("30d").unwrap().as_nanos(),
            30 * 86_400 * 1_000_000_000
        );
        assert_eq!(
            parse_lifetime("12h").unwrap().as_nanos(),
            12 * 3600 * 1_000_000_000
        );
        assert!(parse_lifetime("30s").is_err());
        assert!(parse_lifetime("400d").is_err());
        assert!(parse_lifetime("forever").is_err());
        assert!(parse_lifetime("-3d").is_err());
    }
}
