//! Offset paging for list routes, with bounds: a client can neither ask for everything
//! at once nor scan ever deeper pages, which cost the database more each time.

use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use crate::problem::Problem;

/// Most items a page may have.
pub const MAX_LIMIT: i64 = 100;
/// Deepest offset a page may start at; past it, filter instead of scrolling.
pub const MAX_OFFSET: i64 = 100_000;

/// The `limit` and `offset` a paged list takes from its query string, unchecked.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// Items per page, 1 to 100.
    pub limit: Option<i64>,
    /// Items to skip, 0 to 100,000.
    pub offset: Option<i64>,
}

impl PageParams {
    /// The checked paging, `default_limit` items per page unless asked otherwise.
    pub fn paging(&self, default_limit: i64) -> Result<Paging, Problem> {
        Paging::new(self.limit, self.offset, default_limit)
    }
}

/// A checked `limit` and `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub limit: i64,
    pub offset: i64,
}

impl Paging {
    /// `limit` (default `default_limit`) within [1, [`MAX_LIMIT`]] and `offset` (default 0)
    /// within [0, [`MAX_OFFSET`]], or a 400 problem.
    pub fn new(
        limit: Option<i64>,
        offset: Option<i64>,
        default_limit: i64,
    ) -> Result<Paging, Problem> {
        let limit = limit.unwrap_or(default_limit);
        let offset = offset.unwrap_or(0);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Problem::bad_request(format!(
                "limit must be within [1, {MAX_LIMIT}]"
            )));
        }
        if !(0..=MAX_OFFSET).contains(&offset) {
            return Err(Problem::bad_request(format!(
                "offset must be within [0, {MAX_OFFSET}]"
            )));
        }
        Ok(Paging { limit, offset })
    }

    /// `items` as a page: `next_offset` is where the next page starts, `None` after the
    /// last one (a short page) or past [`MAX_OFFSET`].
    pub fn page<T: Serialize>(self, items: Vec<T>) -> OffsetPage<T> {
        let next = self.offset + self.limit;
        let full = items.len() as i64 == self.limit;
        OffsetPage {
            items,
            next_offset: (full && next <= MAX_OFFSET).then_some(next),
        }
    }
}

/// A page of a list paged by offset.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OffsetPage<T> {
    pub items: Vec<T>,
    pub next_offset: Option<i64>,
}
