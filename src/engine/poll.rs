//! `poll:`: the step's request again, at a growing interval, until a
//! condition over the latest response holds — or the deadline or the count
//! runs out, which fails the step with the last response shown.

use std::time::{Duration, Instant, SystemTime};

use super::check;
use super::context;
use super::event::{Emitter, Event};
use super::exchange::Exchange;
use super::outcome::StepError;
use super::step::StepRunner;
use super::{Cancel, truthy};
use crate::auth::Credentials;
use crate::plan::Poll;
use crate::transport::{BodySink, HttpRequest, HttpResponse};

/// How polling ended.
pub(super) enum Polled {
    /// The condition held, or a response failed (the step's checks say
    /// why): this is the exchange to check, and how many requests polled.
    Done(Exchange, u32),
    /// The condition never held: the last exchange, the count, the error.
    RanOut(Exchange, u32, StepError),
}

impl StepRunner<'_> {
    /// Polls after `first`: sends `request` again until `poll.until` holds.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn poll(
        &self,
        poll: &Poll,
        first: Exchange,
        request: &HttpRequest,
        creds: &Credentials,
        sink: &BodySink,
        ctx_value: &minijinja::Value,
        status_ok: &dyn Fn(u16) -> bool,
        emitter: &Emitter<'_>,
        cancel: &mut Cancel,
        item: Option<usize>,
    ) -> Polled {
        let clock = Instant::now();
        let mut ex = first;
        let mut count: u32 = 1;
        let mut attempts = ex.attempts;
        let mut wait = poll.interval;
        loop {
            let resp = match &ex.response {
                Ok(r) if status_ok(r.status) => r,
                // A failed request or an unexpected status: not a poll's
                // answer; the step's own checks report it.
                _ => break,
            };
            match self.condition(poll, resp, ctx_value, count, clock.elapsed()) {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    ex.attempts = attempts;
                    return Polled::RanOut(ex, count, e);
                }
            }
            let elapsed = clock.elapsed();
            let delay = retry_after(resp).map_or(wait, |d| d.min(poll.max_interval));
            let past_deadline = poll.timeout.is_some_and(|t| elapsed + delay > t);
            if count >= poll.max_polls || past_deadline {
                let limit = if past_deadline {
                    format!(
                        "the {} `timeout`",
                        super::show_duration(poll.timeout.unwrap_or_default())
                    )
                } else {
                    format!("`max_polls: {}`", poll.max_polls)
                };
                let error = StepError::Poll {
                    condition: poll.until_text.clone(),
                    polls: count,
                    elapsed,
                    limit,
                };
                ex.attempts = attempts;
                return Polled::RanOut(ex, count, error);
            }
            emitter.emit(&Event::Polling {
                index: self.index,
                step: self.step,
                count,
                delay,
            });
            if !self.pause(delay, cancel).await {
                ex.response = Err(StepError::Interrupted);
                ex.attempts = attempts;
                return Polled::Done(ex, count);
            }
            wait = wait.mul_f64(poll.backoff).min(poll.max_interval);
            count += 1;
            ex = self
                .exchange(request.clone(), creds, sink, emitter, cancel, item)
                .await;
            attempts += ex.attempts;
        }
        ex.attempts = attempts;
        Polled::Done(ex, count)
    }

    /// Whether `poll.until` holds over `resp`.
    fn condition(
        &self,
        poll: &Poll,
        resp: &HttpResponse,
        ctx_value: &minijinja::Value,
        count: u32,
        elapsed: Duration,
    ) -> Result<bool, StepError> {
        let decoded = check::decode(resp, None);
        let headers = check::headers_json(&resp.headers);
        let meta = serde_json::json!({
            "count": count,
            "status": resp.status,
            "headers": headers,
            "elapsed_ms": elapsed.as_millis() as u64,
        });
        let scope = context::with_poll(
            ctx_value,
            &self.step.name,
            crate::template::from_json(&decoded.value),
            crate::template::from_json(&meta),
        );
        match self.templates.render(&poll.until, &scope) {
            Ok(v) => Ok(truthy(&v)),
            Err(error) => Err(StepError::Render {
                field: "poll.until".into(),
                error,
            }),
        }
    }
}

/// The wait a `Retry-After` header asks for, if any.
fn retry_after(resp: &HttpResponse) -> Option<Duration> {
    let value = resp.header_joined("retry-after")?;
    crate::plan::retry::parse_retry_after(&value, SystemTime::now())
}
