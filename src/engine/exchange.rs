//! One request of a step, sent: credentials applied, the rate limit waited
//! for, retried by the step's policy, an OAuth2 token renewed once on 401.

use std::time::{Duration, Instant, SystemTime};

use super::event::{Emitter, Event};
use super::outcome::StepError;
use super::step::StepRunner;
use super::{Cancel, check};
use crate::auth::Credentials;
use crate::plan::retry;
use crate::plan::retry::{Attempt, Decision};
use crate::transport::{BodySink, HttpRequest, HttpResponse, TransportError};

impl StepRunner<'_> {
    /// Waits `delay` before a request goes again (none when replaying: a
    /// tape answers at once); `false` when Ctrl-C came first.
    pub(super) async fn pause(&self, delay: Duration, cancel: &mut Cancel) -> bool {
        let wait = if self.client.is_replay() {
            Duration::ZERO
        } else {
            delay
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => true,
            () = cancel.cancelled() => false,
        }
    }

    /// Sends one request: credentials applied, redirects followed safely,
    /// retried per the step's policy, an OAuth2 token renewed once on 401.
    pub(super) async fn exchange(
        &self,
        base_request: HttpRequest,
        creds: &Credentials,
        sink: &BodySink,
        emitter: &Emitter<'_>,
        cancel: &mut Cancel,
        item: Option<usize>,
    ) -> Exchange {
        let step = self.step;
        // Only an OAuth2 token that may be renewed, and a signature made
        // afresh for each attempt, need the request as it was before
        // credentials were added.
        let oauth2 = matches!(creds, Credentials::OAuth2(_));
        let signed = matches!(creds, Credentials::AwsSigV4(_));
        let pristine = (oauth2 || signed).then(|| base_request.clone());
        let mut request = base_request;
        let mut added = match self
            .session
            .apply(creds, &mut request, self.client, false)
            .await
        {
            Ok(a) => a,
            Err(e) => return Exchange::failed(request, 0, StepError::Auth(e)),
        };
        self.notices.unverified(&request);
        let mut attempt = 0u32;
        let mut renewed = false;
        let limiter = step
            .connector
            .as_ref()
            .and_then(|c| Some((c.name.as_str(), c.limiter.as_ref()?)))
            .filter(|_| !self.client.is_replay());
        loop {
            attempt += 1;
            // A retry is signed again, with the time it is sent at.
            if let (true, true, Some(pristine)) = (signed, attempt > 1, &pristine) {
                let mut fresh = pristine.clone();
                match self
                    .session
                    .apply(creds, &mut fresh, self.client, false)
                    .await
                {
                    Ok(a) => {
                        added = a;
                        request = fresh;
                    }
                    Err(e) => return Exchange::failed(request, attempt, StepError::Auth(e)),
                }
            }
            if let Some((connector, limiter)) = limiter {
                let wait = limiter.acquire(|wait| {
                    emitter.emit(&Event::RateLimited {
                        index: self.index,
                        step,
                        connector,
                        wait,
                    });
                });
                tokio::select! {
                    _ = wait => {}
                    () = cancel.cancelled() => return Exchange::failed(request, attempt, StepError::Interrupted),
                }
            }
            let send = async {
                // Credentials pytopus added leave the request at a redirect
                // to another origin.
                self.client.send(&request, sink, &added).await
            };
            let started = SystemTime::now();
            let clock = Instant::now();
            let sent = tokio::select! {
                r = send => r,
                () = cancel.cancelled() => return Exchange::failed(request, attempt, StepError::Interrupted),
            };
            if let (Some((_, limiter)), Ok(resp)) = (limiter, &sent) {
                limiter.observe(resp.status, |h| resp.header(h).map(str::to_string));
            }
            emitter.emit(&Event::Exchange {
                index: self.index,
                step,
                item,
                attempt,
                request: &request,
                response: sent.as_ref(),
                started,
                elapsed: clock.elapsed(),
            });
            // An OAuth2 token the server rejects is fetched again, once.
            if let (Ok(resp), Some(pristine), true) = (&sent, &pristine, oauth2)
                && resp.status == 401
                && !renewed
                && !check::status_expected(&step.expect, 401)
            {
                renewed = true;
                let mut fresh = pristine.clone();
                match self
                    .session
                    .apply(creds, &mut fresh, self.client, true)
                    .await
                {
                    Ok(a) => {
                        added = a;
                        request = fresh;
                        continue;
                    }
                    Err(e) => return Exchange::failed(request, attempt, StepError::Auth(e)),
                }
            }
            let outcome_kind = match &sent {
                // A status the step expects is an answer, not a failure to retry.
                Ok(resp) if check::status_expected(&step.expect, resp.status) => Attempt::Fatal,
                Ok(resp) => Attempt::Status {
                    code: resp.status,
                    retry_after: resp.header("retry-after"),
                },
                Err(e) if e.is_network() => Attempt::Connect,
                Err(TransportError::Timeout(_)) => Attempt::Timeout,
                Err(_) => Attempt::Fatal,
            };
            let decision = retry::decide(
                &step.retry,
                &step.method,
                attempt,
                outcome_kind,
                SystemTime::now(),
                fastrand::f64(),
            );
            match decision {
                Decision::Retry(delay) => {
                    let reason = match &sent {
                        Ok(resp) => check::status_text(resp.status),
                        Err(e) => e.to_string(),
                    };
                    emitter.emit(&Event::Retrying {
                        index: self.index,
                        step,
                        attempt,
                        reason,
                        delay,
                    });
                    if !self.pause(delay, cancel).await {
                        return Exchange::failed(request, attempt, StepError::Interrupted);
                    }
                }
                Decision::Stop(note) => {
                    let response = sent.map_err(|error| StepError::Transport {
                        error,
                        note: note.clone(),
                    });
                    return Exchange {
                        request,
                        attempts: attempt,
                        response,
                        note,
                    };
                }
            }
        }
    }
}

/// What [`StepRunner::exchange`] got: the request as last sent, how many
/// attempts it took, and the response or why there is none.
pub(super) struct Exchange {
    pub(super) request: HttpRequest,
    pub(super) attempts: u32,
    pub(super) response: Result<HttpResponse, StepError>,
    /// Why a failing answer was not retried (e.g. a POST), for the error.
    pub(super) note: Option<String>,
}

impl Exchange {
    fn failed(request: HttpRequest, attempts: u32, error: StepError) -> Self {
        Exchange {
            request,
            attempts,
            response: Err(error),
            note: None,
        }
    }
}
