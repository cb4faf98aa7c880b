//! Failure notifications (`notify:`): after each run a driver that runs
//! chains again and again (`serve`'s schedules, webhooks and API runs,
//! `run --every`) hands [`Notifier::after`] the run's report. The notifier
//! keeps, per chain, whether it is failing, and tells the chain's receiver
//! once when a streak of failed runs starts and (if asked) once when it
//! ends. The summary is built from the redacted report, is redacted again
//! as a whole, and goes through the one HTTP pipeline ([`Client`]); a
//! notification that cannot be sent is a warning, never a failed run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::Session;
use crate::engine::context::Context;
use crate::engine::{RunReport, RunStatus};
use crate::plan::{NotifyTarget, ValidChain, ValidNotify};
use crate::secret::Redactor;
use crate::transport::{Added, Body, BodySink, Client, HttpRequest, Transport};

/// The most of a receiver's answer read (and never shown: only its status is).
const ANSWER_LIMIT: u64 = 64 << 10;

/// Where a driver says a notification could not be sent: stderr, `serve`'s log.
pub type Warn = Arc<dyn Fn(&str) + Send + Sync>;

/// What a run changed in its chain's streak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The first failed run after runs that passed (or none at all).
    Failure,
    /// The first passed run after failed ones; how many failed.
    Recovery { failed_runs: u64 },
}

/// A driver's notifier: one per `serve` process or `run --every` loop.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    route: Arc<dyn Transport>,
    /// Per chain (the driver's key for it): the failed runs of its current
    /// streak; absent when it is not failing.
    failing: Mutex<HashMap<String, u64>>,
    warn: Warn,
}

impl Notifier {
    /// Notifications go through `route` (a client of their own, no
    /// cookies); what cannot be sent is told to `warn`.
    pub fn new(route: Arc<dyn Transport>, warn: Warn) -> Notifier {
        Notifier {
            inner: Arc::new(Inner {
                route,
                failing: Mutex::new(HashMap::new()),
                warn,
            }),
        }
    }

    /// Records how a run of the chain the driver calls `key` ended, and
    /// what that changed. An interrupted run changes nothing.
    pub fn record(&self, key: &str, status: RunStatus) -> Option<Change> {
        let mut failing = self.inner.failing.lock().unwrap_or_else(|p| p.into_inner());
        match status {
            RunStatus::Interrupted => None,
            RunStatus::Failed => {
                let n = failing.entry(key.to_string()).or_default();
                *n += 1;
                (*n == 1).then_some(Change::Failure)
            }
            RunStatus::Passed => failing
                .remove(key)
                .map(|failed_runs| Change::Recovery { failed_runs }),
        }
    }

    /// After a run of `chain` in `session` (called `key` by the driver;
    /// `run_id`: its id in `serve`): notifies the chain's receiver if the
    /// run started or ended a failing streak and `notify.on` asks for it.
    /// The URL reads the session's secrets; every text is redacted with its
    /// redactor, which knows every secret the run read. Never fails: a
    /// notification not sent is a warning.
    pub async fn after(
        &self,
        session: &Session,
        key: &str,
        chain: &ValidChain,
        report: &RunReport,
        run_id: Option<&str>,
    ) {
        let Some(notify) = &chain.notify else {
            return;
        };
        let wanted = match self.record(key, report.status) {
            Some(change @ Change::Failure) if notify.on_failure => change,
            Some(change @ Change::Recovery { .. }) if notify.on_recovery => change,
            _ => return,
        };
        let redactor = session.redactor();
        let summary = summary(chain, report, run_id, wanted, redactor);
        if let Err(why) = self.send(session, chain, notify, &summary).await {
            (self.inner.warn)(&redactor.redact(&format!(
                "warning: the `{}` notification of chain `{}` was not sent: {why}",
                summary["status"].as_str().unwrap_or_default(),
                chain.name
            )));
        }
    }

    async fn send(
        &self,
        session: &Session,
        chain: &ValidChain,
        notify: &ValidNotify,
        summary: &Value,
    ) -> Result<(), String> {
        let (tmpl, body) = match &notify.target {
            NotifyTarget::Webhook(url) => (url, summary.clone()),
            NotifyTarget::Slack(url) => (url, json!({"text": summary["summary"]})),
            NotifyTarget::Chain(target) => return run_chain(session, target, summary).await,
        };
        chain.templates.set_secrets(session.secrets().clone());
        let ctx = Arc::new(Context::new(&chain.vars));
        let url = chain
            .templates
            .render_string(tmpl, &ctx.value())
            .map_err(|e| format!("cannot render its URL: {e}"))?;
        let request = HttpRequest {
            method: "POST".into(),
            url: url.clone(),
            parsed_url: None,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(Body::Bytes(serde_json::to_vec(&body).unwrap_or_default())),
            timeout: notify.timeout,
            follow_redirects: true,
            tls: None,
            body_limit: ANSWER_LIMIT,
        };
        let client = Client::new(Arc::clone(&self.inner.route), session.redactor().clone());
        // The client keeps to the request's timeout; this bounds the rest.
        let sent = tokio::time::timeout(
            notify.timeout + Duration::from_secs(1),
            client.send(&request, &BodySink::Memory, &Added::default()),
        )
        .await;
        match sent {
            Err(_) => Err(format!("{url}: no answer within {:?}", notify.timeout)),
            Ok(Err(e)) => Err(format!("{url}: {e}")),
            // The receiver's body is not shown: it is not ours to print.
            Ok(Ok(r)) if !(200..300).contains(&r.status) => Err(format!(
                "{url} answered {}",
                crate::engine::check::status_text(r.status)
            )),
            Ok(Ok(_)) => Ok(()),
        }
    }
}

/// `notify.chain`: the target runs in the same session, with its own
/// variables and the summary's fields over them. Its own `notify` is not
/// read: only the drivers notify.
async fn run_chain(session: &Session, target: &ValidChain, summary: &Value) -> Result<(), String> {
    let mut vars = target.vars.clone();
    if let Some(fields) = summary.as_object() {
        vars.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let mut run = super::Run::new(target);
    run.vars = Some(&vars);
    let finished = session.run(run).await;
    match finished.report.status {
        RunStatus::Passed => Ok(()),
        _ => Err(
            match crate::report::failure(target, &finished.report, session.redactor()) {
                Some(d) => format!("chain {} failed: {}", target.source.name, d.message),
                None => format!("chain {} did not pass", target.source.name),
            },
        ),
    }
}

/// The notification's JSON (see docs/serve.md, "Notifications"), redacted.
pub fn summary(
    chain: &ValidChain,
    report: &RunReport,
    run_id: Option<&str>,
    change: Change,
    redactor: &Redactor,
) -> Value {
    let elapsed_ms = report.elapsed.as_millis() as u64;
    let started = humantime::format_rfc3339_seconds(report.started).to_string();
    let run = run_id.map(|id| format!(" (run {id})")).unwrap_or_default();
    let (status, failed_step, error, line, failed_runs) = match change {
        Change::Failure => {
            let error = crate::report::failure(chain, report, redactor).map(|d| d.message);
            let step = report.failed_step().map(|s| s.name.clone());
            let line = format!(
                "pytopus: chain `{}` failed{run}: {}",
                chain.name,
                error.as_deref().unwrap_or("the run failed")
            );
            ("failed", step, error, line, None)
        }
        Change::Recovery { failed_runs } => {
            let runs = if failed_runs == 1 { "run" } else { "runs" };
            let line = format!(
                "pytopus: chain `{}` recovered{run}: passed in {elapsed_ms} ms after {failed_runs} failed {runs}",
                chain.name
            );
            ("recovered", None, None, line, Some(failed_runs))
        }
    };
    redactor.redact_json(&json!({
        "chain": chain.name,
        "file": report.file,
        "run_id": run_id,
        "status": status,
        "failed_step": failed_step,
        "error": error,
        "failed_runs": failed_runs,
        "started": started,
        "elapsed_ms": elapsed_ms,
        "summary": redactor.redact(&line),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notifier() -> Notifier {
        struct Never;
        impl Transport for Never {
            fn send<'a>(
                &'a self,
                _req: &'a HttpRequest,
                _left: Duration,
            ) -> crate::transport::SendFuture<'a> {
                unreachable!("record sends nothing")
            }
        }
        Notifier::new(Arc::new(Never), Arc::new(|_: &str| {}))
    }

    /// A streak is told when it starts and when it ends, per chain; an
    /// interrupted run neither starts nor ends one.
    #[test]
    fn a_streak_changes_twice_and_chains_keep_their_own() {
        use RunStatus::{Failed, Interrupted, Passed};
        let n = notifier();
        let seen: Vec<_> = [Passed, Failed, Interrupted, Failed, Failed, Passed, Passed]
            .into_iter()
            .map(|s| n.record("a", s))
            .collect();
        assert_eq!(
            seen,
            [
                None,
                Some(Change::Failure),
                None,
                None,
                None,
                Some(Change::Recovery { failed_runs: 3 }),
                None
            ]
        );
        assert_eq!(n.record("a", Failed), Some(Change::Failure));
        assert_eq!(n.record("b", Failed), Some(Change::Failure));
        assert_eq!(n.record("a", Failed), None);
        assert_eq!(
            n.record("b", Passed),
            Some(Change::Recovery { failed_runs: 1 })
        );
    }
}
