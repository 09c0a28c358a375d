//! An incremental server-sent-events decoder: bytes in (in arbitrary chunks), complete
//! messages out. Follows the WHATWG rules that matter here: `data:` lines are joined with
//! `\n`, one leading space after the colon is dropped, `:` lines are comments, `\r\n`, `\r`
//! and `\n` end lines, a blank line dispatches, a message without data is dropped.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseMessage {
    /// `event:` (empty when absent).
    pub event: String,
    /// `id:` of this message (empty when absent).
    pub id: String,
    /// The joined `data:` lines.
    pub data: String,
}

/// Decoder state between chunks.
#[derive(Debug, Default)]
pub struct SseDecoder {
    pending: Vec<u8>,
    last_was_cr: bool,
    event: String,
    id: String,
    data: Vec<String>,
}

impl SseDecoder {
    /// A fresh decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the messages completed by them.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseMessage> {
        let mut out = Vec::new();
        for &b in chunk {
            if self.last_was_cr {
                self.last_was_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' | b'\r' => {
                    self.last_was_cr = b == b'\r';
                    let line = std::mem::take(&mut self.pending);
                    self.line(&String::from_utf8_lossy(&line), &mut out);
                }
                _ => self.pending.push(b),
            }
        }
        out
    }

    fn line(&mut self, line: &str, out: &mut Vec<SseMessage>) {
        if line.is_empty() {
            if !self.data.is_empty() {
                out.push(SseMessage {
                    event: std::mem::take(&mut self.event),
                    id: self.id.clone(),
                    data: std::mem::take(&mut self.data).join("\n"),
                });
            }
            self.event.clear();
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => self.data.push(value.to_string()),
            "event" => self.event = value.to_string(),
            "id" if !value.contains('\0') => self.id = value.to_string(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_across_chunks() {
        let mut d = SseDecoder::new();
        let input = b": hello\nid: 1\ndata: {\"a\":\ndata:  1}\n\nevent: x\ndata: two\r\n\r\ndata:three\r\r";
        let mut got = Vec::new();
        for chunk in input.chunks(3) {
            got.extend(d.push(chunk));
        }
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].id, "1");
        assert_eq!(got[0].data, "{\"a\":\n 1}");
        assert_eq!(got[1].event, "x");
        assert_eq!(got[1].data, "two");
        assert_eq!(got[1].id, "1", "the last id carries over");
        assert_eq!(got[2].data, "three");
    }

    #[test]
    fn messages_without_data_and_incomplete_ones_are_not_dispatched() {
        let mut d = SseDecoder::new();
        assert!(d.push(b"id: 5\n\n: keep-alive\n\ndata: half").is_empty());
        let m = d.push(b"\n\n");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].data, "half");
    }

    #[test]
    fn multibyte_characters_split_between_chunks() {
        let mut d = SseDecoder::new();
        let text = "data: stage ü\n\n".as_bytes();
        let (a, b) = text.split_at(13);
        assert!(d.push(a).is_empty());
        assert_eq!(d.push(b)[0].data, "stage ü");
    }
}
