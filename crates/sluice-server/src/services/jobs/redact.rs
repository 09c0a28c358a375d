//! Hiding secret values in everything a task leaves: its output, its artifacts (including
//! the finished data merged into its `.finished` event), its record and its messages. The one
//! redaction mechanism of the job executor; everything that leaves a task (events, `sluice
//! logs`, the event stream, the web UI, the SLI providers reading artifacts) reads what it
//! has already redacted.
//!
//! Each secret value is hidden in the forms a task is likely to print it in: as is, JSON
//! string-escaped, URL-encoded (percent-encoding of every byte but the unreserved ones, upper-
//! and lower-case hex, and the form encoding's `+` for a space), and base64 (standard and
//! URL-safe alphabets, with and without padding). Base64 inside a longer blob is caught too:
//! for each of the three byte offsets a value can start at, the run of base64 characters that
//! depends on the value's bytes alone is hidden (the one or two characters at each end that
//! mix in neighbouring bytes stay). Derived forms shorter than [`MIN_DERIVED_LEN`] characters
//! are not used (they would hide unrelated text); the value itself always is.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

/// What a hidden value becomes.
pub const MASK: &str = "***";

/// The shortest derived form (encoding) that is hidden.
pub const MIN_DERIVED_LEN: usize = 4;

/// Replaces secret values, and their encodings, with [`MASK`] (longest first, so a form
/// containing another is hidden whole).
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    forms: Vec<Vec<u8>>,
}

impl Redactor {
    /// Adds values to hide (empty ones are ignored).
    pub fn add(&mut self, values: &[String]) {
        for v in values.iter().filter(|v| !v.is_empty()) {
            self.push(v.as_bytes().to_vec());
            for form in derived_forms(v) {
                if form.len() >= MIN_DERIVED_LEN {
                    self.push(form.into_bytes());
                }
            }
        }
        self.forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    }

    fn push(&mut self, form: Vec<u8>) {
        if !self.forms.contains(&form) {
            self.forms.push(form);
        }
    }

    /// Whether there is nothing to hide.
    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// The text with every form replaced.
    pub fn redact(&self, text: &str) -> String {
        if self.is_empty() {
            return text.to_owned();
        }
        let out = self.redact_bytes(text.as_bytes());
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// The bytes with every form replaced (for files of any content).
    pub fn redact_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for form in &self.forms {
            if find(&out, form).is_some() {
                out = replace_all(&out, form, MASK.as_bytes());
            }
        }
        out
    }

    /// Redacts a file in place; returns whether it changed.
    pub fn redact_file(&self, path: &std::path::Path) -> std::io::Result<bool> {
        if self.is_empty() {
            return Ok(false);
        }
        let bytes = std::fs::read(path)?;
        let redacted = self.redact_bytes(&bytes);
        if redacted == bytes {
            return Ok(false);
        }
        std::fs::write(path, redacted)?;
        Ok(true)
    }
}

impl Redactor {
    /// A JSON value with every string (keys included, compared decoded) redacted.
    pub fn redact_json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) => Value::String(self.redact(s)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.redact_json(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.redact(k), self.redact_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(i) = find(rest, needle) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(with);
        rest = &rest[i + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// The encodings of a value that are hidden with it.
fn derived_forms(value: &str) -> Vec<String> {
    let mut forms = Vec::new();
    // JSON string escaping (what a finished-data.json file holds).
    if let Ok(json) = serde_json::to_string(value) {
        forms.push(json[1..json.len() - 1].to_owned());
    }
    // URL encoding.
    let upper = percent_encode(value.as_bytes(), false);
    forms.push(upper.clone());
    forms.push(upper.replace("%20", "+"));
    forms.push(percent_encode(value.as_bytes(), true));
    // Base64: the whole value, padded and not, in both alphabets ...
    let bytes = value.as_bytes();
    let whole = STANDARD_NO_PAD.encode(bytes);
    let padded = base64::engine::general_purpose::STANDARD.encode(bytes);
    for f in [&whole, &padded] {
        forms.push(f.clone());
        forms.push(f.replace('+', "-").replace('/', "_"));
    }
    // ... and the characters that depend on the value alone, at each of the three offsets
    // it can have in a longer blob.
    for offset in 0..3usize {
        let mut framed = vec![0u8; offset];
        framed.extend_from_slice(bytes);
        framed.extend_from_slice(&[0u8; 3]);
        let encoded = STANDARD_NO_PAD.encode(&framed);
        let first = (8 * offset).div_ceil(6);
        let end = (8 * (offset + bytes.len())) / 6;
        if end > first
            && let Some(core) = encoded.get(first..end)
        {
            forms.push(core.to_owned());
            forms.push(core.replace('+', "-").replace('/', "_"));
        }
    }
    forms.retain(|f| f != value);
    forms.sort();
    forms.dedup();
    forms
}

fn percent_encode(bytes: &[u8], lower: bool) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else if lower {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    fn redactor(values: &[&str]) -> Redactor {
        let mut r = Redactor::default();
        r.add(&values.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>());
        r
    }

    #[test]
    fn redaction_hides_longest_first() {
        let r = redactor(&["abc", "abcdef", ""]);
        assert_eq!(r.redact("x abcdef y abc"), "x *** y ***");
        assert_eq!(Redactor::default().redact("same"), "same");
    }

    #[test]
    fn secret_base64_in_every_alphabet_padding_and_offset_is_hidden() {
        let secret = "s3cr3t?/+value>>";
        let r = redactor(&[secret]);
        for engine in [&STANDARD, &URL_SAFE] {
            let alone = engine.encode(secret);
            assert!(
                !r.redact(&alone).contains(&alone[..alone.len() - 2]),
                "{alone}"
            );
            for prefix in ["", "a", "ab", "abc", "abcd"] {
                for suffix in ["", "z", "zz"] {
                    let blob = engine.encode(format!("{prefix}{secret}{suffix}"));
                    let out = r.redact(&blob);
                    assert!(out.contains(MASK), "{prefix:?} {suffix:?}: {blob} -> {out}");
                    // At most two characters at each end of the secret's part remain.
                    assert!(
                        out.len() <= blob.len() - (secret.len() * 4 / 3) + 8,
                        "{out}"
                    );
                }
            }
        }
    }

    #[test]
    fn secret_url_and_json_encodings_are_hidden() {
        let secret = "p@ss word/\"x\"&y=1";
        let r = redactor(&[secret]);
        for text in [
            "p%40ss%20word%2F%22x%22%26y%3D1",
            "p%40ss+word%2F%22x%22%26y%3D1",
            "p%40ss%20word%2f%22x%22%26y%3d1",
            r#"{"token":"p@ss word/\"x\"&y=1"}"#,
        ] {
            let out = r.redact(text);
            assert!(
                out.contains(MASK) && !out.contains("word"),
                "{text} -> {out}"
            );
        }
    }

    #[test]
    fn short_derived_forms_do_not_hide_unrelated_text() {
        let r = redactor(&["ab"]);
        // base64 of "ab" is "YWI": too short to be hidden on its own.
        assert_eq!(r.redact("YWI and ab"), "YWI and ***");
    }

    #[test]
    fn files_are_redacted_in_place_whatever_their_content() {
        let dir =
            std::env::temp_dir().join(format!("sluice-redact-{}", crate::runtime::ids::fresh()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("blob.bin");
        std::fs::write(&file, b"\x00\xffTOPSECRET\x01").unwrap();
        let r = redactor(&["TOPSECRET"]);
        assert!(r.redact_file(&file).unwrap());
        assert_eq!(std::fs::read(&file).unwrap(), b"\x00\xff***\x01");
        assert!(!r.redact_file(&file).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
