//! Go duration strings (`"10m"`, `"1h30m"`, `"1.5h"`, `"300ms"`), parsed exactly like Go's
//! `time.ParseDuration`, which is what Keptn used for `triggeredAfter` and similar fields.
//!
//! Grammar: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` with units `ns`, `us`, `µs` (U+00B5), `μs`
//! (U+03BC), `ms`, `s`, `m`, `h`; the bare string `0` (optionally signed) is also valid. Every
//! number needs a unit, `""` is invalid, and values beyond ±2^63-1 nanoseconds overflow.

use std::fmt;

/// Why a string is not a Go duration. Messages match Go's `time.ParseDuration` errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Malformed or out of range.
    #[error("time: invalid duration \"{0}\"")]
    Invalid(String),
    /// A number without a unit (`"10"`).
    #[error("time: missing unit in duration \"{0}\"")]
    MissingUnit(String),
    /// A unit Go does not know (`"10min"`, `"2d"`).
    #[error("time: unknown unit \"{unit}\" in duration \"{input}\"")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole input.
        input: String,
    },
}

/// A signed Go duration in nanoseconds (Go's `time.Duration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GoDuration {
    nanos: i64,
}

impl GoDuration {
    /// One minute.
    pub const MINUTE: GoDuration = GoDuration::from_nanos(60 * 1_000_000_000);

    /// Parses like Go's `time.ParseDuration` (see [`parse`]).
    pub fn parse(input: &str) -> Result<GoDuration, DurationError> {
        parse(input)
    }

    /// A duration from nanoseconds.
    pub const fn from_nanos(nanos: i64) -> Self {
        GoDuration { nanos }
    }

    /// The signed number of nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.nanos
    }

    /// Whether the duration is below zero (Go allows `-1s`).
    pub const fn is_negative(self) -> bool {
        self.nanos < 0
    }

    /// As a `std::time::Duration`; negative durations become zero (a wait of `-1s` is no wait).
    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_nanos(u64::try_from(self.nanos).unwrap_or(0))
    }
}

impl fmt::Display for GoDuration {
    /// Formats like Go's `Duration.String`: `1h30m0s`, `1.5s`, `300ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.nanos < 0;
        let mut u = self.nanos.unsigned_abs();
        if neg {
            f.write_str("-")?;
        }
        if u == 0 {
            return f.write_str("0s");
        }
        if u < 1_000_000_000 {
            // Go prints sub-second durations with the largest fitting unit.
            let (unit, div) = if u < 1_000 {
                ("ns", 1)
            } else if u < 1_000_000 {
                ("µs", 1_000)
            } else {
                ("ms", 1_000_000)
            };
            return write!(f, "{}{unit}", frac(u, div));
        }
        let h = u / 3_600_000_000_000;
        u %= 3_600_000_000_000;
        let m = u / 60_000_000_000;
        u %= 60_000_000_000;
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if h > 0 || m > 0 {
            write!(f, "{m}m")?;
        }
        write!(f, "{}s", frac(u, 1_000_000_000))
    }
}

/// `v / div` printed with the fraction trimmed of trailing zeros, like Go.
fn frac(v: u64, div: u64) -> String {
    let whole = v / div;
    let rest = v % div;
    if rest == 0 {
        return whole.to_string();
    }
    let width = div.ilog10() as usize;
    let digits = format!("{rest:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

const LIMIT: u64 = 1 << 63;

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{00b5}s" | "\u{03bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Parses a Go duration string, with Go's exact rules and error messages.
pub fn parse(input: &str) -> Result<GoDuration, DurationError> {
    let invalid = || DurationError::Invalid(input.to_owned());
    let mut s = input.as_bytes();
    let mut neg = false;
    if let Some((&c, rest)) = s.split_first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = rest;
    }
    if s == b"0" {
        return Ok(GoDuration::from_nanos(0));
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // Integer part.
        let mut v: u64 = 0;
        let mut i = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(s[i] - b'0');
            if v > LIMIT {
                return Err(invalid());
            }
            i += 1;
        }
        let pre = i > 0;
        s = &s[i..];
        // Fraction.
        let mut f: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut post = false;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let mut j = 0;
            let mut overflow = false;
            while j < s.len() && s[j].is_ascii_digit() {
                if !overflow {
                    if f > (LIMIT - 1) / 10 {
                        overflow = true;
                    } else {
                        let y = f * 10 + u64::from(s[j] - b'0');
                        if y > LIMIT {
                            overflow = true;
                        } else {
                            f = y;
                            scale *= 10.0;
                        }
                    }
                }
                j += 1;
            }
            post = j > 0;
            s = &s[j..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        // Unit: everything up to the next digit or dot.
        let end = s
            .iter()
            .position(|c| *c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if end == 0 {
            return Err(DurationError::MissingUnit(input.to_owned()));
        }
        let unit_bytes = &s[..end];
        s = &s[end..];
        let unit_text = String::from_utf8_lossy(unit_bytes);
        let Some(unit) = unit_nanos(&unit_text) else {
            return Err(DurationError::UnknownUnit {
                unit: unit_text.into_owned(),
                input: input.to_owned(),
            });
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            // Go uses float64 here to stay nanosecond-accurate for fractions of hours.
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total += v;
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        // total <= 2^63, so the negation fits (2^63 gives i64::MIN).
        return Ok(GoDuration::from_nanos((total as i128).wrapping_neg() as i64));
    }
    i64::try_from(total)
        .map(GoDuration::from_nanos)
        .map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> i64 {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}")).as_nanos()
    }

    #[test]
    fn valid_durations() {
        const S: i64 = 1_000_000_000;
        assert_eq!(ns("2m"), 120 * S);
        assert_eq!(ns("10m"), 600 * S);
        assert_eq!(ns("1h30m"), 5400 * S);
        assert_eq!(ns("1.5h"), 5400 * S);
        assert_eq!(ns("300ms"), 300_000_000);
        assert_eq!(ns("-1s"), -S);
        assert_eq!(ns("+5s"), 5 * S);
        assert_eq!(ns("0"), 0);
        assert_eq!(ns("-0"), 0);
        assert_eq!(ns("0s"), 0);
        assert_eq!(ns("1ns"), 1);
        assert_eq!(ns("1us"), 1_000);
        assert_eq!(ns("1µs"), 1_000);
        assert_eq!(ns("1μs"), 1_000);
        assert_eq!(ns(".5s"), S / 2);
        assert_eq!(ns("1.s"), S);
        assert_eq!(ns("1h1m1s1ms1us1ns"), 3_661_001_001_001);
        assert_eq!(ns("2h45m"), 9900 * S);
        assert_eq!(ns("9223372036854775807ns"), i64::MAX);
        assert_eq!(ns("-9223372036854775808ns"), i64::MIN);
    }

    #[test]
    fn invalid_durations_with_go_messages() {
        assert_eq!(
            parse("").unwrap_err().to_string(),
            "time: invalid duration \"\""
        );
        assert_eq!(
            parse("ten minutes").unwrap_err().to_string(),
            "time: invalid duration \"ten minutes\""
        );
        assert_eq!(
            parse("10").unwrap_err().to_string(),
            "time: missing unit in duration \"10\""
        );
        assert_eq!(
            parse("2d").unwrap_err().to_string(),
            "time: unknown unit \"d\" in duration \"2d\""
        );
        for bad in [
            "-",
            "+",
            ".",
            ".s",
            "-.s",
            "1h ",
            " 1h",
            "1 h",
            "s",
            "1hh",
            "10min",
            "9223372036854775808ns",
            "3000000h",
            "1e3s",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn to_std_clamps_negative() {
        assert_eq!(parse("-1s").unwrap().to_std(), std::time::Duration::ZERO);
        assert_eq!(
            parse("1m").unwrap().to_std(),
            std::time::Duration::from_secs(60)
        );
    }

    #[test]
    fn display_like_go() {
        let show = |s: &str| parse(s).unwrap().to_string();
        assert_eq!(show("1h30m"), "1h30m0s");
        assert_eq!(show("90s"), "1m30s");
        assert_eq!(show("1.5s"), "1.5s");
        assert_eq!(show("300ms"), "300ms");
        assert_eq!(show("0"), "0s");
        assert_eq!(show("-2m"), "-2m0s");
        assert_eq!(show("1500us"), "1.5ms");
    }
}
