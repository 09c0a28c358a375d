//! Offset paging as Keptn's APIs do it (`pageSize`, decimal `nextPageKey`, `totalCount`).

use crate::error::{Error, Result};

/// Default page size of Keptn's list endpoints.
pub const DEFAULT_PAGE_SIZE: u32 = 20;

/// A page request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paging {
    /// Requested size; `None` or 0 means [`DEFAULT_PAGE_SIZE`]; larger than the query's
    /// maximum means the maximum.
    pub page_size: Option<u32>,
    /// The `nextPageKey` of the previous page (a decimal offset); `None` starts at the top.
    pub next_page_key: Option<String>,
}

impl Paging {
    /// The first page of the given size.
    pub fn first(page_size: u32) -> Paging {
        Paging {
            page_size: Some(page_size),
            next_page_key: None,
        }
    }

    /// `(limit, offset)` for a query whose largest page is `max`.
    pub(crate) fn resolve(&self, max: u32) -> Result<(u32, u64)> {
        let size = match self.page_size {
            None | Some(0) => DEFAULT_PAGE_SIZE,
            Some(n) => n,
        }
        .min(max.max(1));
        let offset = match self.next_page_key.as_deref() {
            None | Some("") => 0,
            Some(k) => k.parse::<u64>().map_err(|_| {
                Error::InvalidInput(format!("nextPageKey {k:?} is not a decimal offset"))
            })?,
        };
        Ok((size, offset))
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// The key of the next page; `None` when this is the last one (Keptn then omits the key).
    pub next_page_key: Option<String>,
    /// The page size used.
    pub page_size: u32,
    /// The number of matching items on all pages.
    pub total_count: u64,
}

impl<T> Page<T> {
    pub(crate) fn new(items: Vec<T>, size: u32, offset: u64, total_count: u64) -> Page<T> {
        let next = offset + u64::from(size);
        Page {
            items,
            next_page_key: (next < total_count).then(|| next.to_string()),
            page_size: size,
            total_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_defaults_and_limits() {
        assert_eq!(Paging::default().resolve(100).unwrap(), (20, 0));
        let p = Paging {
            page_size: Some(500),
            next_page_key: Some("40".into()),
        };
        assert_eq!(p.resolve(100).unwrap(), (100, 40));
        let bad = Paging {
            page_size: None,
            next_page_key: Some("abc".into()),
        };
        assert!(matches!(bad.resolve(100), Err(Error::InvalidInput(_))));
        let page = Page::new(vec![1, 2], 2, 0, 3);
        assert_eq!(page.next_page_key.as_deref(), Some("2"));
        let last = Page::new(vec![3], 2, 2, 3);
        assert_eq!(last.next_page_key, None);
    }
}
