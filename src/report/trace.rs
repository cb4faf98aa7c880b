//! `-v`/`-vv`/`-vvv` and `PYTOPUS_LOG`: each request and response as
//! `tracing` events, after redaction. `-v` is the request and status lines
//! (INFO), `-vv` adds headers (DEBUG), `-vvv` bodies, cut at
//! [`BODY_SHOWN`] bytes with the full size (TRACE). All under the target
//! `pytopus::http`, so `PYTOPUS_LOG=pytopus::http=debug` works too.

use crate::engine::{Event, Observer, show_duration};
use crate::secret::Redactor;
use crate::transport::{Body, HttpRequest, HttpResponse};

/// How much of a body `-vvv` shows.
pub const BODY_SHOWN: usize = 2048;

/// Emits the exchanges of a run as tracing events.
pub struct TraceLog {
    redactor: Redactor,
}

impl TraceLog {
    pub fn new(redactor: Redactor) -> Self {
        TraceLog { redactor }
    }

    fn request(&self, step: &str, r: &HttpRequest) {
        let line = self.redactor.redact(&format!("> {} {}", r.method, r.url));
        tracing::info!(target: "pytopus::http", step, "{line}");
        if tracing::enabled!(target: "pytopus::http", tracing::Level::DEBUG) {
            for (k, v) in &r.headers {
                let v = crate::secret::header_value(k, v);
                let h = self.redactor.redact(&format!("> {k}: {v}"));
                tracing::debug!(target: "pytopus::http", "{h}");
            }
        }
        if let Some(body) = &r.body
            && tracing::enabled!(target: "pytopus::http", tracing::Level::TRACE)
        {
            // A streamed body shows as its parts and files (which say their
            // sizes), never the files' bytes.
            let bytes = body.shown();
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(BODY_SHOWN)]);
            let shown = match body {
                Body::Bytes(_) => excerpt(&text, bytes.len()),
                _ if bytes.len() > text.len() => format!("{text}… ({} bytes in all)", body.len()),
                _ => text.into_owned(),
            };
            let shown = self.redactor.redact(&shown);
            tracing::trace!(target: "pytopus::http", "> {shown}");
        }
    }

    fn response(&self, step: &str, r: &HttpResponse, elapsed: std::time::Duration) {
        let line = self.redactor.redact(&format!(
            "< {} {} ({})",
            crate::engine::check::status_text(r.status),
            r.url,
            show_duration(elapsed)
        ));
        tracing::info!(target: "pytopus::http", step, "{line}");
        if tracing::enabled!(target: "pytopus::http", tracing::Level::DEBUG) {
            for (k, v) in &r.headers {
                let v = crate::secret::header_value(k, v);
                let h = self.redactor.redact(&format!("< {k}: {v}"));
                tracing::debug!(target: "pytopus::http", "{h}");
            }
        }
        if tracing::enabled!(target: "pytopus::http", tracing::Level::TRACE) {
            let shown = match r.saved_bytes {
                Some(n) => format!("({n} bytes written to the save_to file)"),
                None => {
                    let text = String::from_utf8_lossy(&r.body[..r.body.len().min(BODY_SHOWN)]);
                    excerpt(&text, r.body.len())
                }
            };
            let shown = self.redactor.redact(&shown);
            tracing::trace!(target: "pytopus::http", "< {shown}");
        }
    }
}

/// The text, and how much of the body it is.
fn excerpt(text: &str, total: usize) -> String {
    if total > text.len() {
        let cut = if text.ends_with('…') { "" } else { "…" };
        format!("{text}{cut} ({total} bytes in all)")
    } else {
        format!("{text} ({total} bytes)")
    }
}

impl Observer for TraceLog {
    fn on_event(&mut self, event: &Event<'_>) {
        // One event per attempt: retries, `for_each` items and pages each
        // show the request as sent (credentials included, redacted).
        if let Event::Exchange {
            step,
            request,
            response,
            elapsed,
            ..
        } = event
        {
            self.request(&step.name, request);
            match response {
                Ok(r) => self.response(&step.name, r, *elapsed),
                Err(e) => {
                    let line = self.redactor.redact(&format!("< (no response) {e}"));
                    tracing::info!(target: "pytopus::http", step = step.name.as_str(), "{line}");
                }
            }
        }
    }
}

/// Installs the subscriber: `PYTOPUS_LOG` (a tracing filter such as
/// `pytopus=debug,reqwest=info`) wins; else `-v` counts. Nothing when neither.
pub fn init(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let from_env = std::env::var("PYTOPUS_LOG").ok().filter(|v| !v.is_empty());
    let filter = match (&from_env, verbose) {
        (Some(f), _) => match EnvFilter::try_new(f) {
            Ok(f) => f,
            Err(e) => {
                super::to_stderr(&format!(
                    "warning: PYTOPUS_LOG is not a valid filter ({e}); ignoring it\n"
                ));
                return;
            }
        },
        (None, 0) => return,
        (None, 1) => EnvFilter::new("pytopus=info"),
        (None, 2) => EnvFilter::new("pytopus=debug"),
        (None, _) => EnvFilter::new("pytopus=trace"),
    };
    // The AWS signer traces the requests it signs, session token included:
    // never shown, whatever the filter asks.
    let filter = match "aws_sigv4=off".parse() {
        Ok(off) => filter.add_directive(off),
        Err(_) => filter,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| Printable(std::io::stderr()))
        .with_ansi(false)
        .without_time();
    // With -v the lines read like curl's; a filter of one's own gets levels
    // and targets to tell sources apart.
    let _ = if from_env.is_some() {
        builder.try_init()
    } else {
        builder.with_target(false).with_level(false).try_init()
    };
}

/// Writes what tracing formats with control characters escaped: the lines
/// carry URLs, headers and bodies as servers sent them.
struct Printable<W>(W);

impl<W: std::io::Write> std::io::Write for Printable<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0
            .write_all(crate::diagnostic::printable(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
