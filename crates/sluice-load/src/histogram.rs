//! Latency histograms: an HDR histogram of microseconds (1 µs..60 s, 3 significant digits),
//! its percentile summary in milliseconds, and its portable encoding.
//!
//! The encoding is HdrHistogram's standard uncompressed "V2" format (cookie `0x1c849313`,
//! 40-byte big-endian header, counts as ZigZag LEB128 varints where a negative number is a run
//! of empty buckets) in standard base64. Any HdrHistogram implementation can read it, and
//! several load runs merge exactly by adding their decoded histograms. We write the codec
//! ourselves so that `hdrhistogram` runs without its `serialization` feature (which would pull
//! in `nom`, `flate2` and a second `base64`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Smallest latency the histogram distinguishes, in microseconds.
pub const LOWEST_US: u64 = 1;
/// Largest latency the histogram tracks, in microseconds (60 s); larger values are clamped.
pub const HIGHEST_US: u64 = 60_000_000;
/// Significant decimal digits kept for every value.
pub const SIGNIFICANT_DIGITS: u8 = 3;

const V2_COOKIE: u32 = 0x1c84_9303 | 0x10;
const V2_HEADER_SIZE: usize = 40;

/// Why an encoded histogram could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistogramError {
    /// The text is not valid base64.
    #[error("the latency histogram is not valid base64: {0}")]
    Base64(String),
    /// The bytes are not an uncompressed HdrHistogram V2 encoding.
    #[error("the latency histogram is not an uncompressed HdrHistogram V2 encoding: {0}")]
    Format(&'static str),
    /// The histogram's bounds differ from ours (1 µs..60 s, 3 digits), so it cannot be merged.
    #[error(
        "the latency histogram has bounds {low}..{high} with {digits} digits; expected {LOWEST_US}..{HIGHEST_US} with {SIGNIFICANT_DIGITS}"
    )]
    Bounds {
        /// Lowest discernible value found.
        low: u64,
        /// Highest trackable value found.
        high: u64,
        /// Significant digits found.
        digits: u32,
    },
}

/// Latency percentiles of a load run, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencyMs {
    /// Fastest response.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest response.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

/// An HDR histogram of response times in microseconds with sluice's fixed bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyHistogram {
    inner: Histogram<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram (1 µs..60 s, 3 significant digits).
    pub fn new() -> LatencyHistogram {
        // The bounds are constants that satisfy hdrhistogram's rules (low >= 1, high >= 2 * low,
        // digits <= 5), so creation cannot fail.
        let inner = Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
            .unwrap_or_else(|_| unreachable!("constant histogram bounds are valid"));
        LatencyHistogram { inner }
    }

    /// Records one response time in microseconds (clamped to the tracked range).
    pub fn record_us(&mut self, micros: u64) {
        self.inner
            .saturating_record(micros.clamp(LOWEST_US, HIGHEST_US));
    }

    /// Records `count` response times of `micros` microseconds each.
    pub fn record_us_n(&mut self, micros: u64, count: u64) {
        self.inner
            .saturating_record_n(micros.clamp(LOWEST_US, HIGHEST_US), count);
    }

    /// Adds every value of `other` to this histogram (exact: both have the same bounds).
    pub fn merge(&mut self, other: &LatencyHistogram) {
        // Same bounds on both sides, so `add` cannot fail.
        let _ = self.inner.add(&other.inner);
    }

    /// How many response times were recorded.
    pub fn count(&self) -> u64 {
        self.inner.len()
    }

    /// The value at `quantile` (0..=1) in microseconds (the highest value equivalent to the
    /// bucket, as HdrHistogram reports it); 0 when empty.
    pub fn value_at_quantile_us(&self, quantile: f64) -> u64 {
        self.inner.value_at_quantile(quantile)
    }

    /// The recorded response times in milliseconds, sorted, for statistical criteria: every
    /// one when there are at most `max`, else the `max` quantiles at `(i + 0.5) / max`
    /// (which keep the distribution's shape, tails included). Each value is its bucket's
    /// highest equivalent value, as the percentiles are.
    pub fn samples_ms(&self, max: usize) -> Vec<f64> {
        let ms = |us: u64| round3(us as f64 / 1000.0);
        let count = self.inner.len();
        if count as usize <= max {
            let mut out = Vec::with_capacity(count as usize);
            for v in self.inner.iter_recorded() {
                let value = ms(v.value_iterated_to());
                out.extend(std::iter::repeat_n(value, v.count_at_value() as usize));
            }
            return out;
        }
        (0..max)
            .map(|i| ms(self.inner.value_at_quantile((i as f64 + 0.5) / max as f64)))
            .collect()
    }

    /// The percentile summary in milliseconds, or `None` when nothing was recorded.
    pub fn latency_ms(&self) -> Option<LatencyMs> {
        if self.inner.is_empty() {
            return None;
        }
        let ms = |us: u64| round3(us as f64 / 1000.0);
        Some(LatencyMs {
            min: ms(self.inner.min()),
            p50: ms(self.inner.value_at_quantile(0.50)),
            p90: ms(self.inner.value_at_quantile(0.90)),
            p95: ms(self.inner.value_at_quantile(0.95)),
            p99: ms(self.inner.value_at_quantile(0.99)),
            max: ms(self.inner.max()),
            mean: round3(self.inner.mean() / 1000.0),
        })
    }

    /// The histogram as base64 of the uncompressed HdrHistogram V2 encoding.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.to_v2_bytes())
    }

    /// Reads a histogram written by [`LatencyHistogram::to_base64`] (or any HdrHistogram V2
    /// uncompressed encoding with our bounds).
    pub fn from_base64(text: &str) -> Result<LatencyHistogram, HistogramError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| HistogramError::Base64(e.to_string()))?;
        Self::from_v2_bytes(&bytes)
    }

    fn to_v2_bytes(&self) -> Vec<u8> {
        let h = &self.inner;
        let mut out = Vec::with_capacity(V2_HEADER_SIZE + 64);
        out.extend_from_slice(&V2_COOKIE.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes()); // payload length, patched below
        out.extend_from_slice(&0u32.to_be_bytes()); // normalizing index offset
        out.extend_from_slice(&u32::from(h.sigfig()).to_be_bytes());
        out.extend_from_slice(&h.low().to_be_bytes());
        out.extend_from_slice(&h.high().to_be_bytes());
        out.extend_from_slice(&1.0f64.to_be_bytes()); // integer-to-double ratio
        if !h.is_empty() {
            // `iter_all` visits every bucket index in order; stop at the bucket holding max.
            let max = h.max();
            let mut zeros: i64 = 0;
            for v in h.iter_all() {
                let count = v.count_at_value();
                if count == 0 {
                    zeros += 1;
                } else {
                    flush_zeros(&mut out, &mut zeros);
                    write_varint(&mut out, zig_zag(i64::try_from(count).unwrap_or(i64::MAX)));
                }
                if v.value_iterated_to() >= max {
                    break;
                }
            }
            flush_zeros(&mut out, &mut zeros);
        }
        let payload = u32::try_from(out.len() - V2_HEADER_SIZE).unwrap_or(u32::MAX);
        out[4..8].copy_from_slice(&payload.to_be_bytes());
        out
    }

    fn from_v2_bytes(bytes: &[u8]) -> Result<LatencyHistogram, HistogramError> {
        if bytes.len() < V2_HEADER_SIZE {
            return Err(HistogramError::Format("shorter than the 40-byte header"));
        }
        let u32_at =
            |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[i..i + 8]);
            u64::from_be_bytes(b)
        };
        if u32_at(0) != V2_COOKIE {
            return Err(HistogramError::Format(
                "wrong cookie (compressed or not a V2 histogram)",
            ));
        }
        let payload = u32_at(4) as usize;
        if u32_at(8) != 0 {
            return Err(HistogramError::Format(
                "a normalizing index offset is not supported",
            ));
        }
        let (digits, low, high) = (u32_at(12), u64_at(16), u64_at(24));
        if digits != u32::from(SIGNIFICANT_DIGITS) || low != LOWEST_US || high != HIGHEST_US {
            return Err(HistogramError::Bounds { low, high, digits });
        }
        let body =
            bytes
                .get(V2_HEADER_SIZE..V2_HEADER_SIZE + payload)
                .ok_or(HistogramError::Format(
                    "the payload is shorter than its header says",
                ))?;

        let mut counts: Vec<(u64, u64)> = Vec::new(); // (bucket index, count)
        let mut index: u64 = 0;
        let mut pos = 0;
        while pos < body.len() {
            let (raw, used) =
                read_varint(&body[pos..]).ok_or(HistogramError::Format("a count is cut off"))?;
            pos += used;
            let n = unzig_zag(raw);
            if n < 0 {
                index = index.saturating_add(n.unsigned_abs());
            } else {
                if n > 0 {
                    counts.push((index, n as u64));
                }
                index += 1;
            }
        }
        let mut out = LatencyHistogram::new();
        let mut wanted = counts.into_iter().peekable();
        // Map bucket indices to values by walking an empty histogram with the same bounds.
        for (i, v) in out.inner.clone().iter_all().enumerate() {
            let Some(&(want, count)) = wanted.peek() else {
                break;
            };
            if want == i as u64 {
                out.record_us_n(v.value_iterated_to(), count);
                wanted.next();
            }
        }
        if wanted.next().is_some() {
            return Err(HistogramError::Format("more buckets than the bounds allow"));
        }
        Ok(out)
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn flush_zeros(out: &mut Vec<u8>, zeros: &mut i64) {
    match *zeros {
        0 => {}
        1 => write_varint(out, 0),
        n => write_varint(out, zig_zag(-n)),
    }
    *zeros = 0;
}

fn zig_zag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzig_zag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

/// HdrHistogram's LEB128 variant: at most 9 bytes, the 9th carrying 8 full bits.
fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    for _ in 0..8 {
        if v < 0x80 {
            out.push(v as u8);
            return;
        }
        out.push(0x80 | (v & 0x7f) as u8);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for i in 0..8 {
        let byte = *b.get(i)?;
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    let last = *b.get(8)?;
    Some((v | (u64::from(last) << 56), 9))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniform_1_to_1000_ms() -> LatencyHistogram {
        let mut h = LatencyHistogram::new();
        for ms in 1..=1000u64 {
            h.record_us(ms * 1000);
        }
        h
    }

    fn close(actual: f64, expected: f64) -> bool {
        // 3 significant digits: relative error at most 0.1 %.
        (actual - expected).abs() <= expected * 0.001 + 1e-9
    }

    #[test]
    fn uniform_percentiles_are_within_hdr_precision() {
        let l = uniform_1_to_1000_ms().latency_ms().unwrap();
        assert!(close(l.p50, 500.0), "p50 {}", l.p50);
        assert!(close(l.p90, 900.0), "p90 {}", l.p90);
        assert!(close(l.p95, 950.0), "p95 {}", l.p95);
        assert!(close(l.p99, 990.0), "p99 {}", l.p99);
        assert!(close(l.min, 1.0), "min {}", l.min);
        assert!(close(l.max, 1000.0), "max {}", l.max);
        assert!(close(l.mean, 500.5), "mean {}", l.mean);
    }

    #[test]
    fn bimodal_percentiles_pick_the_right_mode() {
        // 90 % fast (2 ms), 10 % slow (400 ms, the tutorial's slow build).
        let mut h = LatencyHistogram::new();
        h.record_us_n(2_000, 900);
        h.record_us_n(400_000, 100);
        let l = h.latency_ms().unwrap();
        assert!(close(l.p50, 2.0), "p50 {}", l.p50);
        assert!(close(l.p90, 2.0), "p90 {}", l.p90);
        assert!(close(l.p95, 400.0), "p95 {}", l.p95);
        assert!(close(l.p99, 400.0), "p99 {}", l.p99);
        assert!(close(l.mean, 0.9 * 2.0 + 0.1 * 400.0), "mean {}", l.mean);
    }

    #[test]
    fn empty_histogram_has_no_summary() {
        assert!(LatencyHistogram::new().latency_ms().is_none());
    }

    #[test]
    fn out_of_range_values_are_clamped() {
        let mut h = LatencyHistogram::new();
        h.record_us(0);
        h.record_us(10 * HIGHEST_US);
        assert_eq!(h.count(), 2);
        let l = h.latency_ms().unwrap();
        assert!(l.min <= 0.002);
        assert!(close(l.max, 60_000.0), "max {}", l.max);
    }

    #[test]
    fn v2_round_trip_is_exact() {
        let mut h = uniform_1_to_1000_ms();
        h.record_us_n(37, 5);
        h.record_us_n(59_000_000, 2);
        let text = h.to_base64();
        let back = LatencyHistogram::from_base64(&text).unwrap();
        assert_eq!(back.count(), h.count());
        assert_eq!(back.latency_ms(), h.latency_ms());
        for q in [0.0, 0.1, 0.5, 0.77, 0.999, 1.0] {
            assert_eq!(back.value_at_quantile_us(q), h.value_at_quantile_us(q));
        }
        // Empty histograms round-trip too.
        let empty = LatencyHistogram::from_base64(&LatencyHistogram::new().to_base64()).unwrap();
        assert_eq!(empty.count(), 0);
    }

    #[test]
    fn v2_encoding_matches_the_reference_layout() {
        // Values 1 µs (bucket index 1) x3 and 3 µs (index 3) x1: counts [0, 3, 0, 1].
        let mut h = LatencyHistogram::new();
        h.record_us_n(1, 3);
        h.record_us(3);
        let bytes = h.to_v2_bytes();
        assert_eq!(&bytes[0..4], &[0x1c, 0x84, 0x93, 0x13]);
        assert_eq!(&bytes[4..8], &4u32.to_be_bytes());
        assert_eq!(&bytes[12..16], &3u32.to_be_bytes());
        assert_eq!(&bytes[16..24], &1u64.to_be_bytes());
        assert_eq!(&bytes[24..32], &60_000_000u64.to_be_bytes());
        assert_eq!(&bytes[32..40], &1.0f64.to_be_bytes());
        // zigzag: 0 -> 0, 3 -> 6, 0 -> 0, 1 -> 2 (a single zero is written as a count of 0).
        assert_eq!(&bytes[40..], &[0, 6, 0, 2]);
    }

    #[test]
    fn varints_round_trip_at_every_length() {
        for v in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            1 << 35,
            u64::MAX >> 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            write_varint(&mut out, v);
            assert!(out.len() <= 9);
            assert_eq!(read_varint(&out), Some((v, out.len())));
        }
        for n in [0i64, 1, -1, 63, -64, i64::MAX, i64::MIN] {
            assert_eq!(unzig_zag(zig_zag(n)), n);
        }
    }

    #[test]
    fn bad_encodings_are_rejected_without_panicking() {
        assert!(matches!(
            LatencyHistogram::from_base64("***"),
            Err(HistogramError::Base64(_))
        ));
        assert!(matches!(
            LatencyHistogram::from_base64(&STANDARD.encode([0u8; 10])),
            Err(HistogramError::Format(_))
        ));
        let mut bytes = uniform_1_to_1000_ms().to_v2_bytes();
        bytes[27] ^= 1; // highest trackable value
        assert!(matches!(
            LatencyHistogram::from_base64(&STANDARD.encode(&bytes)),
            Err(HistogramError::Bounds { .. })
        ));
        let mut bytes = uniform_1_to_1000_ms().to_v2_bytes();
        bytes.truncate(bytes.len() - 3);
        assert!(LatencyHistogram::from_base64(&STANDARD.encode(&bytes)).is_err());
        // A run of zeros far beyond the last bucket.
        let mut bytes = LatencyHistogram::new().to_v2_bytes();
        let mut tail = Vec::new();
        write_varint(&mut tail, zig_zag(-1_000_000_000));
        write_varint(&mut tail, 2);
        bytes[4..8].copy_from_slice(&(tail.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&tail);
        assert!(LatencyHistogram::from_base64(&STANDARD.encode(&bytes)).is_err());
    }
}
