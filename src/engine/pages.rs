//! `paginate:`: the pages after the first, followed by the Link header, a
//! next URL or cursor in the body, or a counter, their items gathered.

use serde_json::Value;

use super::event::Emitter;
use super::outcome::StepError;
use super::step::StepRunner;
use super::{Cancel, check, context, truthy};
use crate::auth::Credentials;
use crate::plan::{NextPage, Pager};
use crate::template as render;
use crate::template::value_to_text;
use crate::transport::{BodySink, HttpRequest, HttpResponse};

impl StepRunner<'_> {
    /// Follows the next pages after `first_resp`; returns every page's items
    /// as one list, and how many attempts the later pages took.
    pub(super) async fn follow_pages(
        &self,
        p: &Pages<'_>,
        first_resp: &HttpResponse,
        first_value: Value,
        emitter: &Emitter<'_>,
        cancel: &mut Cancel,
        item: Option<usize>,
    ) -> Result<(Value, u32, u32), StepError> {
        let pager = p.pager;
        let mut items: Vec<Value> = Vec::new();
        let mut page = first_value;
        let mut resp_url = first_resp.url.clone();
        let mut headers = first_resp.headers.clone();
        let mut pages: u32 = 1;
        let mut attempts = 0;
        let mut counter = match &pager.next {
            NextPage::Counter { start, .. } => *start,
            _ => 0,
        };
        loop {
            let got = collect_items(pager.collect.as_ref(), &page)?;
            let got_none = got.is_empty();
            items.extend(got);
            let header = |name: &str| {
                headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
            };
            if let Some(h) = &pager.total_header
                && let Some(total) = header(h).and_then(|v| v.trim().parse::<usize>().ok())
                && items.len() >= total
            {
                break;
            }
            if let Some(until) = &pager.until {
                let scope = context::with_page(p.ctx, render::from_json(&page), pages);
                let stop =
                    self.templates
                        .render(until, &scope)
                        .map_err(|error| StepError::Render {
                            field: "paginate.until".into(),
                            error,
                        })?;
                if truthy(&stop) {
                    break;
                }
            }
            let next_url = match &pager.next {
                NextPage::Link => header("link")
                    .and_then(|l| next_link(&l))
                    .and_then(|u| join_url(&resp_url, &u)),
                NextPage::Url(path) => match path.extract(&page) {
                    Ok(Value::String(u)) if !u.is_empty() => join_url(&resp_url, &u),
                    _ => None,
                },
                NextPage::Cursor { path, param } => match path.extract(&page) {
                    Ok(Value::Null) | Err(_) => None,
                    Ok(Value::String(c)) if c.is_empty() => None,
                    Ok(c) => Some(with_param(&p.first_request.url, param, &value_to_text(&c))),
                },
                NextPage::Counter { param, step, .. } => {
                    if got_none {
                        None
                    } else {
                        counter += step;
                        Some(with_param(
                            &p.first_request.url,
                            param,
                            &counter.to_string(),
                        ))
                    }
                }
            };
            let Some(url) = next_url else { break };
            if pages >= pager.max_pages {
                return Err(StepError::Request(format!(
                    "stopped after `max_pages` ({}) pages, with more to come (next: {url}); raise `max_pages` or narrow the query",
                    pager.max_pages
                )));
            }
            let mut req = p.first_request.clone();
            req.url = url;
            let ex = self
                .exchange(req, p.creds, &BodySink::Memory, emitter, cancel, item)
                .await;
            attempts += ex.attempts;
            let resp = ex.response?;
            let decoded = check::decode(&resp, None);
            check::expect(p.expect, &resp, &decoded)?;
            pages += 1;
            resp_url = resp.url.clone();
            headers = resp.headers.clone();
            page = decoded.value;
        }
        Ok((Value::Array(items), attempts, pages))
    }
}

/// What pagination needs besides the first page.
pub(super) struct Pages<'a> {
    pub(super) pager: &'a Pager,
    pub(super) first_request: &'a HttpRequest,
    pub(super) creds: &'a Credentials,
    pub(super) expect: &'a check::RenderedExpect<'a>,
    pub(super) ctx: &'a minijinja::Value,
}

/// The items of one page: what `collect` selects (a singular path to a list
/// gives the list's elements), else the page's elements when it is a list,
/// else the page itself.
pub(super) fn collect_items(
    collect: Option<&crate::jsonpath::JsonPath>,
    page: &Value,
) -> Result<Vec<Value>, StepError> {
    match collect {
        Some(path) => {
            let found = path.select(page).map_err(|message| StepError::Extract {
                name: "paginate.collect".into(),
                message,
            })?;
            Ok(match found.as_slice() {
                [Value::Array(list)] if path.is_singular() => list.clone(),
                _ => found.into_iter().cloned().collect(),
            })
        }
        None => Ok(match page {
            Value::Array(list) => list.clone(),
            Value::Null => Vec::new(),
            other => vec![other.clone()],
        }),
    }
}

/// The `rel="next"` target of a `Link` header (RFC 8288).
pub(super) fn next_link(header: &str) -> Option<String> {
    for part in header.split(',') {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let is_next = pieces.any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=")
                .map(|r| {
                    r.trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
                })
                .unwrap_or(false)
        });
        if is_next {
            return target
                .strip_prefix('<')?
                .strip_suffix('>')
                .map(str::to_string);
        }
    }
    None
}

pub(super) fn join_url(base: &str, next: &str) -> Option<String> {
    url::Url::parse(base)
        .ok()?
        .join(next)
        .ok()
        .map(|u| u.to_string())
}

/// `url` with the query parameter `name` set to `value` (replacing it).
pub(super) fn with_param(url: &str, name: &str, value: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return url.to_string();
    };
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    u.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair(name, value);
    u.to_string()
}
