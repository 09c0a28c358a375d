//! Query parameters of the read APIs: lenient reading like Keptn's handlers (unknown keys are
//! ignored, empty values count as absent) but with clear 400 answers for malformed times,
//! numbers and paging keys, and the mapping of store errors to API errors.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Value, json};
use sluice_model::event::Timestamp;
use sluice_store::Paging;

use crate::error::ApiError;

/// The query string of one request, as key → value (the last value of a repeated key wins).
#[derive(Debug, Clone, Default)]
pub struct Params(HashMap<String, String>);

impl From<HashMap<String, String>> for Params {
    fn from(map: HashMap<String, String>) -> Self {
        Params(map)
    }
}

impl Params {
    /// The value of `key`, `None` when absent or empty.
    pub fn text(&self, key: &str) -> Option<String> {
        self.0.get(key).filter(|v| !v.is_empty()).cloned()
    }

    /// A timestamp in any format Keptn accepts (`2006-01-02T15:04:05.000Z`, RFC 3339,
    /// `2006-01-02T15:04:05`).
    pub fn time(&self, key: &str) -> Result<Option<Timestamp>, ApiError> {
        let Some(text) = self.text(key) else {
            return Ok(None);
        };
        Timestamp::parse(&text)
            .map(Some)
            .map_err(|e| ApiError::bad_request(format!("invalid {key}: {e}")))
    }

    /// A non-negative integer.
    pub fn number(&self, key: &str) -> Result<Option<u32>, ApiError> {
        let Some(text) = self.text(key) else {
            return Ok(None);
        };
        text.parse::<u32>().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "invalid {key} {text:?}: expected a non-negative whole number"
            ))
        })
    }

    /// `true`/`false` (absent: `false`).
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.text(key).as_deref() {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(ApiError::bad_request(format!(
                "invalid {key} {v:?}: expected true or false"
            ))),
        }
    }

    /// `pageSize` ([`page_size`]'s rule, the store caps it at its maximum) and `nextPageKey`,
    /// checked (the key must be a decimal offset as returned in the previous page's
    /// `nextPageKey`).
    pub fn paging(&self) -> Result<Paging, ApiError> {
        let page_size = Some(page_size(self.text("pageSize").as_deref(), u32::MAX)?);
        let next_page_key = self.text("nextPageKey");
        if let Some(key) = &next_page_key
            && key.parse::<u64>().is_err()
        {
            return Err(ApiError::bad_request(format!(
                "invalid nextPageKey {key:?}: pass the nextPageKey of the previous page (a decimal offset)"
            )));
        }
        Ok(Paging {
            page_size,
            next_page_key,
        })
    }

    /// One page cut out of a whole list ([`page_window`](Self::page_window)'s size and offset,
    /// Keptn's `common.Paginate`): `nextPageKey` is the next offset, `"0"` on the last page.
    pub fn page<T>(&self, items: Vec<T>, max: u32) -> Result<Page<T>, ApiError> {
        let (size, offset) = self.page_window(max)?;
        let total_count = items.len();
        let end = offset.saturating_add(size).min(total_count);
        let items: Vec<T> = items
            .into_iter()
            .skip(offset)
            .take(end.saturating_sub(offset))
            .collect();
        Ok(Page {
            items,
            next_page_key: if end < total_count {
                end.to_string()
            } else {
                "0".to_owned()
            },
            total_count,
        })
    }

    /// `(page size, offset)` for lists paged here rather than in the store: [`page_size`]'s
    /// rule with the list's `max`.
    pub fn page_window(&self, max: u32) -> Result<(usize, usize), ApiError> {
        let paging = self.paging()?;
        let size = page_size(self.text("pageSize").as_deref(), max)?;
        let offset = paging
            .next_page_key
            .as_deref()
            .and_then(|k| k.parse::<usize>().ok())
            .unwrap_or(0);
        Ok((size as usize, offset))
    }
}

/// One page of a list, with Keptn's paging fields.
#[derive(Debug, PartialEq)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The offset of the next page, `"0"` on the last one.
    pub next_page_key: String,
    /// Number of items in all pages.
    pub total_count: usize,
}

impl<T: Serialize> Page<T> {
    /// The page as Keptn's JSON, with the items under `key`.
    pub fn to_json(&self, key: &str) -> Value {
        json!({
            key: self.items,
            "nextPageKey": self.next_page_key,
            "pageSize": self.items.len(),
            "totalCount": self.total_count,
        })
    }
}

/// Default page size of Keptn's list endpoints.
pub const DEFAULT_PAGE_SIZE: u32 = 20;

/// The largest page of a list (Keptn's datastore spec: `maximum: 100`); a list whose items are
/// costly to build may have a smaller one.
pub const MAX_PAGE_SIZE: u32 = 100;

/// The one `pageSize` rule of every list (Keptn's specs: an integer, default 20): absent,
/// empty or 0 is [`DEFAULT_PAGE_SIZE`] (the shipyard-controller's lists took 0 as "not
/// given"); anything but a non-negative whole number is a 400; a larger size than the list's
/// `max` gives pages of `max`.
pub fn page_size(text: Option<&str>, max: u32) -> Result<u32, ApiError> {
    let text = text.map(str::trim).unwrap_or("");
    if text.is_empty() {
        return Ok(DEFAULT_PAGE_SIZE.min(max));
    }
    match text.parse::<u64>() {
        Ok(0) => Ok(DEFAULT_PAGE_SIZE.min(max)),
        Ok(n) => Ok(u32::try_from(n).unwrap_or(u32::MAX).min(max)),
        Err(_) => Err(ApiError::bad_request(format!(
            "invalid pageSize {text:?}: expected a whole number (0 or none: {DEFAULT_PAGE_SIZE}; at most {} items are returned per page)",
            max.min(MAX_PAGE_SIZE)
        ))),
    }
}

/// The `nextPageKey` after a page starting at `offset` of `size` items out of `total`.
pub fn next_offset(offset: usize, size: usize, total: usize) -> Option<usize> {
    let next = offset.saturating_add(size);
    (next < total).then_some(next)
}

/// Maps a store error: bad input is the client's fault (400), a missing thing 404, the rest
/// is ours (500, logged).
pub fn store_error(context: &str, error: sluice_store::Error) -> ApiError {
    match error {
        sluice_store::Error::InvalidInput(message) => ApiError::bad_request(message),
        sluice_store::Error::NotFound { what } => ApiError::not_found(format!("{what} not found")),
        other => ApiError::internal(context, &other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_is_one_rule_default_twenty_capped_at_the_lists_maximum() {
        assert_eq!(page_size(None, 100).unwrap(), 20);
        assert_eq!(page_size(Some(" "), 100).unwrap(), 20);
        assert_eq!(page_size(Some("0"), 100).unwrap(), 20);
        assert_eq!(page_size(Some("1"), 100).unwrap(), 1);
        assert_eq!(page_size(Some("100"), 100).unwrap(), 100);
        assert_eq!(page_size(Some("101"), 100).unwrap(), 100);
        assert_eq!(page_size(Some("99999999999999"), 50).unwrap(), 50);
        for bad in ["-1", "1.5", "ten", "1e3"] {
            let e = page_size(Some(bad), 100).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{bad}");
            assert!(
                e.message
                    .starts_with(&format!("invalid pageSize \"{bad}\"")),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn paging_follows_keptn() {
        let q = |size: Option<&str>, key: Option<&str>| {
            let mut pairs = Vec::new();
            pairs.extend(size.map(|s| ("pageSize", s)));
            pairs.extend(key.map(|k| ("nextPageKey", k)));
            params(&pairs)
        };
        let items: Vec<u32> = (0..25).collect();
        let p = q(None, None).page(items.clone(), MAX_PAGE_SIZE).unwrap();
        assert_eq!(
            (p.items.len(), p.next_page_key.as_str(), p.total_count),
            (20, "20", 25)
        );
        let p = q(None, Some("20"))
            .page(items.clone(), MAX_PAGE_SIZE)
            .unwrap();
        assert_eq!(
            (p.items, p.next_page_key.as_str()),
            ((20..25).collect(), "0")
        );
        let p = q(Some("5"), Some("100"))
            .page(items.clone(), MAX_PAGE_SIZE)
            .unwrap();
        assert!(p.items.is_empty());
        assert_eq!(p.next_page_key, "0");
        assert!(
            q(Some("-1"), None)
                .page(items.clone(), MAX_PAGE_SIZE)
                .is_err()
        );
        assert!(q(None, Some("x1")).page(items, MAX_PAGE_SIZE).is_err());
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn reads_and_rejects_clearly() {
        let p = params(&[
            ("a", ""),
            ("t", "2021-01-02T15:00:00"),
            ("bad", "yesterday"),
            ("n", "-1"),
        ]);
        assert_eq!(p.text("a"), None);
        assert!(p.time("t").unwrap().is_some());
        let e = p.time("bad").unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        assert!(e.message.starts_with("invalid bad: could not parse time"));
        assert!(p.number("n").is_err());
        assert!(params(&[("nextPageKey", "x1")]).paging().is_err());
        assert_eq!(
            params(&[("pageSize", "500"), ("nextPageKey", "40")])
                .page_window(50)
                .unwrap(),
            (50, 40)
        );
        assert_eq!(params(&[]).page_window(50).unwrap(), (20, 0));
        assert_eq!(
            params(&[("pageSize", "")]).page_window(50).unwrap(),
            (20, 0)
        );
        assert_eq!(next_offset(0, 20, 20), None);
        assert_eq!(next_offset(0, 20, 21), Some(20));
        assert!(params(&[("root", "yes")]).flag("root").is_err());
    }
}
