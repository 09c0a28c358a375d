//! Keptn time: UTC instants, Keptn's timestamp format, Go durations and the evaluation window.
//!
//! Keptn writes timestamps as `2006-01-02T15:04:05.000Z` (UTC, milliseconds) and reads
//! RFC 3339 (any fraction, `Z` or `±hh:mm`) or `2006-01-02T15:04:05` (no zone, taken as UTC)
//! (`G:pkg/common/timeutils`). Timeframes (`5m`, `1h30m`) are Go durations parsed with
//! `time.ParseDuration` (no days unit). Nothing here reads the clock: callers pass `now`.
//!
//! Instants are a small [`Timestamp`] (Unix seconds + nanoseconds, UTC) with our own civil
//! calendar conversion (Howard Hinnant's days-from-civil algorithm), so no date crate is needed.

use std::fmt;

/// Why a time or duration could not be read, or an evaluation window is invalid.
///
/// Messages for the window rules are Keptn's own, so an API can answer with them verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The text is not a timestamp in any format Keptn accepts.
    #[error(
        "could not parse time {text:?}: {reason} (expected e.g. 2006-01-02T15:04:05.000Z, RFC 3339, or 2006-01-02T15:04:05)"
    )]
    BadTimestamp {
        /// The offending text.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The timeframe of an evaluation could not be parsed (Keptn's message).
    #[error("could not parse provided timeframe: {0}")]
    BadTimeframe(String),
    /// `start` is set without `end` and without `timeframe`.
    #[error("no timeframe or end date provided")]
    StartWithoutTimeframe,
    /// Both `end` and `timeframe` were given.
    #[error("'end' and 'timeframe' are mutually exclusive")]
    EndAndTimeframe,
    /// `end` was given without `start`.
    #[error("start date is required when using an end date")]
    EndWithoutStart,
    /// The window is shorter than one minute (or ends before it starts).
    #[error("end date must be at least 1 minute after start date")]
    WindowTooShort,
    /// The instant is outside the range we can represent.
    #[error("time out of range")]
    OutOfRange,
}

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// An instant in UTC with nanosecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Nanoseconds since 1970-01-01T00:00:00Z (negative before).
    nanos: i128,
}

pub use crate::duration::GoDuration;

impl Timestamp {
    /// The instant `secs` seconds and `nanos` nanoseconds after the Unix epoch.
    pub fn from_unix(secs: i64, nanos: u32) -> Timestamp {
        Timestamp {
            nanos: i128::from(secs) * NANOS_PER_SEC + i128::from(nanos.min(999_999_999)),
        }
    }

    /// The instant this many nanoseconds after the Unix epoch.
    pub fn from_unix_nanos(nanos: i128) -> Timestamp {
        Timestamp { nanos }
    }

    /// Whether this is Go's zero `time.Time` (`0001-01-01T00:00:00Z`), which Go clients send
    /// for a time they did not set (go-utils' `LogEntry.Time`, for one).
    pub fn is_go_zero(self) -> bool {
        self == Timestamp::from_civil(1, 1, 1, 0, 0, 0, 0)
    }

    /// Nanoseconds since the Unix epoch (Keptn stores some times as this, as a decimal string).
    pub fn unix_nanos(self) -> i128 {
        self.nanos
    }

    /// Whole seconds since the Unix epoch (rounded down).
    pub fn unix_seconds(self) -> i64 {
        // Range: constructed from i64 seconds plus durations; saturate rather than panic.
        let s = self.nanos.div_euclid(NANOS_PER_SEC);
        i64::try_from(s).unwrap_or(if s < 0 { i64::MIN } else { i64::MAX })
    }

    /// A UTC instant from calendar fields (no range checks beyond the arithmetic).
    pub fn from_civil(
        year: i64,
        month: u32,
        day: u32,
        hour: u32,
        min: u32,
        sec: u32,
        nanos: u32,
    ) -> Timestamp {
        let days = days_from_civil(year, month, day);
        let secs = i128::from(days) * 86_400
            + i128::from(hour) * 3600
            + i128::from(min) * 60
            + i128::from(sec);
        Timestamp {
            nanos: secs * NANOS_PER_SEC + i128::from(nanos),
        }
    }

    /// The calendar fields (year, month, day, hour, minute, second, nanosecond) in UTC.
    pub fn to_civil(self) -> (i64, u32, u32, u32, u32, u32, u32) {
        let secs = self.nanos.div_euclid(NANOS_PER_SEC);
        let sub = self.nanos.rem_euclid(NANOS_PER_SEC) as u32;
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u32;
        let days = i64::try_from(days).unwrap_or(0);
        let (y, m, d) = civil_from_days(days);
        (y, m, d, rem / 3600, (rem % 3600) / 60, rem % 60, sub)
    }

    /// This instant moved by a Go duration.
    pub fn plus(self, d: GoDuration) -> Timestamp {
        Timestamp {
            nanos: self.nanos + i128::from(d.as_nanos()),
        }
    }

    /// This instant moved back by a Go duration.
    pub fn minus(self, d: GoDuration) -> Timestamp {
        Timestamp {
            nanos: self.nanos - i128::from(d.as_nanos()),
        }
    }

    /// Nanoseconds from `earlier` to `self` (negative if `earlier` is later).
    pub fn nanos_since(self, earlier: Timestamp) -> i128 {
        self.nanos - earlier.nanos
    }

    /// Parses any timestamp format Keptn accepts (see the module docs).
    pub fn parse(text: &str) -> Result<Timestamp, TimeError> {
        parse_timestamp(text)
    }

    /// Parses strict RFC 3339 (a zone is required), as Go's `time.Time` JSON decoding does for
    /// the envelope's `time` attribute.
    pub fn parse_rfc3339(text: &str) -> Result<Timestamp, TimeError> {
        let b = text.as_bytes();
        let has_zone = b.len() > 19 && matches!(b[b.len() - 1], b'Z')
            || (b.len() > 25 && matches!(b[b.len() - 6], b'+' | b'-'));
        if !has_zone {
            return Err(TimeError::BadTimestamp {
                text: text.to_string(),
                reason: "an RFC 3339 time needs a zone (Z or ±hh:mm)",
            });
        }
        parse_timestamp(text)
    }

    /// Formats in Keptn's format `2006-01-02T15:04:05.000Z` (UTC; fraction truncated to
    /// milliseconds, as Go's `Format` does).
    pub fn to_keptn_string(self) -> String {
        let (y, mo, d, h, mi, s, ns) = self.to_civil();
        let Some(mut out) = date_time(y, mo, d, h, mi, s) else {
            return format!(
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z",
                ns / 1_000_000
            );
        };
        out.push('.');
        push_digits(&mut out, ns / 1_000_000, 3);
        out.push('Z');
        out
    }

    /// Formats as RFC 3339 with nanoseconds, trailing zeros dropped (Go's `RFC3339Nano` in UTC).
    pub fn to_rfc3339_nano(self) -> String {
        let (y, mo, d, h, mi, s, ns) = self.to_civil();
        let mut out = date_time(y, mo, d, h, mi, s)
            .unwrap_or_else(|| format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}"));
        if ns != 0 {
            let (mut frac, mut width) = (ns, 9);
            while frac % 10 == 0 {
                frac /= 10;
                width -= 1;
            }
            out.push('.');
            push_digits(&mut out, frac, width);
        }
        out.push('Z');
        out
    }
}

/// `YYYY-MM-DDThh:mm:ss` for a year of four digits (`None` otherwise), written digit by digit:
/// every stored event's time goes through here, and `format!` costs several times more.
fn date_time(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<String> {
    let year = u32::try_from(y).ok().filter(|y| *y <= 9999)?;
    let mut out = String::with_capacity(30);
    push_digits(&mut out, year, 4);
    out.push('-');
    push_digits(&mut out, mo, 2);
    out.push('-');
    push_digits(&mut out, d, 2);
    out.push('T');
    push_digits(&mut out, h, 2);
    out.push(':');
    push_digits(&mut out, mi, 2);
    out.push(':');
    push_digits(&mut out, s, 2);
    Some(out)
}

/// Appends the `width` lowest decimal digits of `value`, zero-padded.
fn push_digits(out: &mut String, value: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10u32.pow(place)) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_keptn_string())
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 }; // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`] (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        _ => 28,
    }
}

/// A cursor over ASCII digits and punctuation of a timestamp.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let chunk = self.b.get(self.i..self.i + n)?;
        let mut v = 0u32;
        for &c in chunk {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        self.i += n;
        Some(v)
    }

    fn byte(&mut self, want: u8) -> bool {
        if self.b.get(self.i) == Some(&want) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
}

fn parse_timestamp(text: &str) -> Result<Timestamp, TimeError> {
    let bad = |reason: &'static str| TimeError::BadTimestamp {
        text: text.to_string(),
        reason,
    };
    let mut c = Cursor {
        b: text.as_bytes(),
        i: 0,
    };
    let year = c.digits(4).ok_or_else(|| bad("year must be 4 digits"))?;
    if !c.byte(b'-') {
        return Err(bad("expected '-' after the year"));
    }
    let month = c.digits(2).ok_or_else(|| bad("month must be 2 digits"))?;
    if !c.byte(b'-') {
        return Err(bad("expected '-' after the month"));
    }
    let day = c.digits(2).ok_or_else(|| bad("day must be 2 digits"))?;
    if !c.byte(b'T') {
        return Err(bad("expected 'T' between date and time"));
    }
    let hour = c.digits(2).ok_or_else(|| bad("hour must be 2 digits"))?;
    if !c.byte(b':') {
        return Err(bad("expected ':' after the hour"));
    }
    let min = c.digits(2).ok_or_else(|| bad("minute must be 2 digits"))?;
    if !c.byte(b':') {
        return Err(bad("expected ':' after the minute"));
    }
    let sec = c.digits(2).ok_or_else(|| bad("second must be 2 digits"))?;
    // Go accepts a fraction of any length after the seconds when parsing; digits beyond
    // nanoseconds are dropped.
    let mut nanos = 0u32;
    if c.byte(b'.') {
        let start = c.i;
        let mut scale = 100_000_000u32;
        while let Some(d) = c.peek().filter(u8::is_ascii_digit) {
            nanos += u32::from(d - b'0') * scale;
            scale /= 10;
            c.i += 1;
        }
        if c.i == start {
            return Err(bad("expected digits after '.'"));
        }
    }
    let offset_secs: i64 = match c.peek() {
        None => 0,
        Some(b'Z') => {
            c.i += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let oh = c
                .digits(2)
                .ok_or_else(|| bad("zone offset hour must be 2 digits"))?;
            if !c.byte(b':') {
                return Err(bad("zone offset must be ±hh:mm"));
            }
            let om = c
                .digits(2)
                .ok_or_else(|| bad("zone offset minute must be 2 digits"))?;
            if oh >= 24 || om >= 60 {
                return Err(bad("zone offset out of range"));
            }
            let o = i64::from(oh * 3600 + om * 60);
            if sign == b'-' { -o } else { o }
        }
        Some(_) => return Err(bad("unexpected text after the seconds")),
    };
    if c.i != c.b.len() {
        return Err(bad("extra text after the time zone"));
    }
    if !(1..=12).contains(&month) {
        return Err(bad("month out of range"));
    }
    if day < 1 || day > days_in_month(i64::from(year), month) {
        return Err(bad("day out of range"));
    }
    if hour >= 24 || min >= 60 || sec >= 60 {
        return Err(bad("hour, minute or second out of range"));
    }
    let local = Timestamp::from_civil(i64::from(year), month, day, hour, min, sec, nanos);
    Ok(Timestamp {
        nanos: local.nanos - i128::from(offset_secs) * NANOS_PER_SEC,
    })
}

/// Default evaluation timeframe when neither `end` nor `timeframe` is given.
pub const DEFAULT_EVALUATION_TIMEFRAME: &str = "5m";

/// Computes the evaluation window from the optional `start`, `end` and `timeframe` strings
/// (empty means "not given"), implementing Keptn's `GetStartEndTime` rules:
///
/// 1. `start` without `end` needs `timeframe` ("no timeframe or end date provided");
/// 2. `end` and `timeframe` are mutually exclusive;
/// 3. `end` needs `start`;
/// 4. timeframe defaults to `5m`; only a timeframe (or nothing) gives `[now - timeframe, now]`;
///    `start` + `timeframe` gives `[start, start + timeframe]`; `start` + `end` is taken as is;
/// 5. the window must be at least one minute long.
///
/// Timestamps are read with [`Timestamp::parse`] (every format Keptn accepts).
pub fn evaluation_window(
    start: &str,
    end: &str,
    timeframe: &str,
    now: Timestamp,
) -> Result<(Timestamp, Timestamp), TimeError> {
    if !start.is_empty() && end.is_empty() && timeframe.is_empty() {
        return Err(TimeError::StartWithoutTimeframe);
    }
    if !end.is_empty() && !timeframe.is_empty() {
        return Err(TimeError::EndAndTimeframe);
    }
    if !end.is_empty() && start.is_empty() {
        return Err(TimeError::EndWithoutStart);
    }
    let tf_text = if timeframe.is_empty() {
        DEFAULT_EVALUATION_TIMEFRAME
    } else {
        timeframe
    };
    let tf = crate::duration::parse(tf_text).map_err(|e| TimeError::BadTimeframe(e.to_string()))?;
    let mut from = now.minus(tf);
    let mut to = now;
    if !start.is_empty() {
        from = Timestamp::parse(start)?;
    }
    if !end.is_empty() {
        to = Timestamp::parse(end)?;
    }
    if !start.is_empty() && end.is_empty() && !timeframe.is_empty() {
        to = from.plus(tf);
    }
    if to.nanos_since(from) < i128::from(GoDuration::MINUTE.as_nanos()) {
        return Err(TimeError::WindowTooShort);
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// The digit-by-digit formatting writes what `format!` writes, fraction rules included.
        #[test]
        fn formatting_matches_the_format_macro(nanos in -70_000_000_000_000_000_000i128..300_000_000_000_000_000_000i128) {
            let t = super::Timestamp { nanos };
            let (y, mo, d, h, mi, s, ns) = t.to_civil();
            let mut nano = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
            if ns != 0 {
                nano.push('.');
                nano.push_str(format!("{ns:09}").trim_end_matches('0'));
            }
            nano.push('Z');
            prop_assert_eq!(t.to_rfc3339_nano(), nano);
            let keptn = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z", ns / 1_000_000);
            prop_assert_eq!(t.to_keptn_string(), keptn);
        }
    }
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn civil_round_trip_over_many_days() {
        for days in (-800_000i64..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
            assert!(d <= days_in_month(y, m));
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn go_zero_time_is_recognised() {
        assert!(ts("0001-01-01T00:00:00Z").is_go_zero());
        assert!(!ts("0001-01-01T00:00:00.000000001Z").is_go_zero());
        assert!(!Timestamp::from_unix(0, 0).is_go_zero());
    }

    #[test]
    fn parses_keptn_rfc3339_and_zoneless() {
        let a = ts("2021-01-02T15:00:00.000Z");
        assert_eq!(a.to_keptn_string(), "2021-01-02T15:00:00.000Z");
        assert_eq!(ts("2021-01-02T15:00:00"), a);
        assert_eq!(ts("2021-01-02T15:00:00Z"), a);
        assert_eq!(ts("2021-01-02T16:30:00+01:30"), a);
        assert_eq!(ts("2021-01-02T10:00:00-05:00"), a);
        let b = ts("2019-06-07T07:02:15.64489Z");
        assert_eq!(b.to_keptn_string(), "2019-06-07T07:02:15.644Z");
        assert_eq!(b.to_rfc3339_nano(), "2019-06-07T07:02:15.64489Z");
        let c = ts("2020-01-01T00:00:00.123456789123Z");
        assert_eq!(c.unix_nanos() % 1_000_000_000, 123_456_789);
        assert_eq!(ts("1970-01-01T00:00:00Z").unix_nanos(), 0);
    }

    #[test]
    fn rfc3339_needs_a_zone() {
        assert!(Timestamp::parse_rfc3339("2021-01-02T15:00:00Z").is_ok());
        assert!(Timestamp::parse_rfc3339("2021-01-02T15:00:00.5-01:00").is_ok());
        assert!(Timestamp::parse_rfc3339("2021-01-02T15:00:00").is_err());
        assert!(Timestamp::parse_rfc3339("2021-01-02T15:00:00.123456").is_err());
    }

    #[test]
    fn negative_offset_crosses_midnight_and_year() {
        let t = ts("2020-12-31T23:30:00-02:00");
        assert_eq!(t.to_keptn_string(), "2021-01-01T01:30:00.000Z");
        let t = ts("2021-03-01T00:30:00+01:00");
        assert_eq!(t.to_keptn_string(), "2021-02-28T23:30:00.000Z");
    }

    #[test]
    fn leap_years_and_month_ends() {
        assert!(Timestamp::parse("2020-02-29T00:00:00Z").is_ok());
        assert!(Timestamp::parse("2000-02-29T00:00:00Z").is_ok());
        assert!(Timestamp::parse("1900-02-29T00:00:00Z").is_err());
        assert!(Timestamp::parse("2021-02-29T00:00:00Z").is_err());
        assert!(Timestamp::parse("2021-04-31T00:00:00Z").is_err());
        assert!(Timestamp::parse("2021-12-31T23:59:59Z").is_ok());
        assert_eq!(
            ts("2020-02-28T23:59:59Z")
                .plus(GoDuration::from_nanos(1_000_000_000))
                .to_keptn_string(),
            "2020-02-29T00:00:00.000Z"
        );
        assert_eq!(
            ts("2021-02-28T23:59:59Z")
                .plus(GoDuration::from_nanos(1_000_000_000))
                .to_keptn_string(),
            "2021-03-01T00:00:00.000Z"
        );
    }

    #[test]
    fn rejects_malformed_timestamps() {
        for bad in [
            "",
            "2021-1-02T15:00:00Z",
            "2021-01-02 15:00:00Z",
            "2021-01-02T24:00:00Z",
            "2021-01-02T15:60:00Z",
            "2021-01-02T15:00:60Z",
            "2021-13-02T15:00:00Z",
            "2021-01-00T15:00:00Z",
            "2021-01-02T15:00:00.Z",
            "2021-01-02T15:00:00+0100",
            "2021-01-02T15:00:00+01:00x",
            "2021-01-02T15:00:00z",
            "2021-01-02",
            "２０２１-01-02T15:00:00Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn go_durations() {
        let d = |s: &str| crate::duration::parse(s).map(|d| d.as_nanos());
        assert_eq!(d("2m"), Ok(120_000_000_000));
        assert_eq!(d("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(d("300ms"), Ok(300_000_000));
        assert_eq!(d("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(d(".5s"), Ok(500_000_000));
        assert_eq!(d("1.s"), Ok(1_000_000_000));
        assert_eq!(d("-1m"), Ok(-60_000_000_000));
        assert_eq!(d("+1m"), Ok(60_000_000_000));
        assert_eq!(d("0"), Ok(0));
        assert_eq!(d("1µs"), Ok(1_000));
        assert_eq!(d("1μs"), Ok(1_000));
        assert_eq!(d("1us2ns"), Ok(1_002));
        assert_eq!(d("2562047h47m16.854775807s"), Ok(i64::MAX));
        assert_eq!(d("-2562047h47m16.854775808s"), Ok(i64::MIN));
        assert!(d("2562047h47m16.854775808s").is_err());
        assert_eq!(
            crate::duration::parse("1d").unwrap_err().to_string(),
            "time: unknown unit \"d\" in duration \"1d\""
        );
        assert_eq!(
            crate::duration::parse("5").unwrap_err().to_string(),
            "time: missing unit in duration \"5\""
        );
        assert_eq!(
            crate::duration::parse("").unwrap_err().to_string(),
            "time: invalid duration \"\""
        );
        for bad in [
            "-",
            ".",
            "m",
            "1..5s",
            "1h-5m",
            " 1m",
            "1M",
            "99999999999999999999h",
        ] {
            assert!(d(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn evaluation_window_rules() {
        let now = ts("2021-01-02T15:10:00.000Z");
        let w = |s, e, t| evaluation_window(s, e, t, now);
        // Nothing: default 5m ending now.
        let (a, b) = w("", "", "").unwrap();
        assert_eq!(a.to_keptn_string(), "2021-01-02T15:05:00.000Z");
        assert_eq!(b, now);
        // Only timeframe.
        let (a, _) = w("", "", "2m").unwrap();
        assert_eq!(a.to_keptn_string(), "2021-01-02T15:08:00.000Z");
        // start + timeframe.
        let (a, b) = w("2021-01-02T15:00:00", "", "10m").unwrap();
        assert_eq!(a.to_keptn_string(), "2021-01-02T15:00:00.000Z");
        assert_eq!(b.to_keptn_string(), "2021-01-02T15:10:00.000Z");
        // start + end.
        let (a, b) = w("2021-01-02T15:00:00.000Z", "2021-01-02T15:01:00.000Z", "").unwrap();
        assert_eq!(b.nanos_since(a), 60_000_000_000);
        // Errors with Keptn's messages.
        let msg = |s, e, t| w(s, e, t).unwrap_err().to_string();
        assert_eq!(
            msg("2021-01-02T15:00:00", "", ""),
            "no timeframe or end date provided"
        );
        assert_eq!(
            msg("2021-01-02T15:00:00", "2021-01-02T15:05:00", "5m"),
            "'end' and 'timeframe' are mutually exclusive"
        );
        assert_eq!(
            msg("", "2021-01-02T15:05:00", ""),
            "start date is required when using an end date"
        );
        assert_eq!(
            msg("2021-01-02T15:00:00", "2021-01-02T15:00:59.999", ""),
            "end date must be at least 1 minute after start date"
        );
        assert_eq!(
            msg("2021-01-02T15:05:00", "2021-01-02T15:00:00", ""),
            "end date must be at least 1 minute after start date"
        );
        assert_eq!(
            msg("", "", "30s"),
            "end date must be at least 1 minute after start date"
        );
        assert_eq!(
            msg("", "", "1d"),
            "could not parse provided timeframe: time: unknown unit \"d\" in duration \"1d\""
        );
        assert!(matches!(
            w("yesterday", "", "5m"),
            Err(TimeError::BadTimestamp { .. })
        ));
    }
}
