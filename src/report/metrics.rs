//! `--metrics F` and `--pushgateway URL`: Prometheus metrics of the run (or
//! of every `--data` row), in the text exposition format that the
//! node_exporter textfile collector, the Pushgateway and `promtool` read.

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::engine::{Event, Observer, StepStatus};
use crate::secret::Redactor;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    chain: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChainLabels {
    chain: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    chain: String,
    step: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    chain: String,
    step: String,
    method: String,
    /// The status code, or `none` when no response came (refused, timeout…).
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    chain: String,
    step: String,
    /// `StepError::kind()`: `expectation`, `timeout`, `connect`…
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    chain: String,
    connector: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// A step is an HTTP call or a few: from milliseconds to a long `for_each`.
fn step_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ])
}

/// A run is a few steps: from a tenth of a second to minutes.
fn run_histogram() -> Histogram {
    Histogram::new([
        0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
    ])
}

/// The metrics of one `pytopus run`, shared by the observers of its runs
/// (one per `--data` row), so the rows add up in one file. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    runs: Family<RunLabels, Counter>,
    run_seconds: Histograms<ChainLabels>,
    step_seconds: Histograms<StepLabels>,
    requests: Family<RequestLabels, Counter>,
    retries: Family<StepLabels, Counter>,
    limit_waits: Family<LimitLabels, Counter>,
    limit_seconds: Family<LimitLabels, Counter<f64, AtomicU64>>,
    failures: Family<FailureLabels, Counter>,
    /// The chain's name, from the first run (the grouping key of a push).
    chain: Arc<Mutex<Option<String>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let m = Metrics {
            registry: Arc::new(Mutex::new(Registry::with_prefix("pytopus"))),
            runs: Family::default(),
            run_seconds: Family::new_with_constructor(run_histogram as fn() -> Histogram),
            step_seconds: Family::new_with_constructor(step_histogram as fn() -> Histogram),
            requests: Family::default(),
            retries: Family::default(),
            limit_waits: Family::default(),
            limit_seconds: Family::default(),
            failures: Family::default(),
            chain: Arc::default(),
        };
        // Names as the exposition format wants them: counters get `_total`
        // and units a suffix from the registry; HELP texts get a final `.`.
        if let Ok(mut r) = m.registry.lock() {
            r.register(
                "runs",
                "Chain runs, by chain and how they ended (passed, failed, interrupted)",
                m.runs.clone(),
            );
            r.register_with_unit(
                "run_duration",
                "How long chain runs took",
                Unit::Seconds,
                m.run_seconds.clone(),
            );
            r.register_with_unit(
                "step_duration",
                "How long steps that ran took, retries and for_each items included",
                Unit::Seconds,
                m.step_seconds.clone(),
            );
            r.register(
                "http_requests",
                "HTTP requests sent (every attempt), by status code (none: no response came)",
                m.requests.clone(),
            );
            r.register(
                "retries",
                "Attempts that failed and were retried",
                m.retries.clone(),
            );
            r.register(
                "rate_limit_waits",
                "Requests that waited for their connector's rate limit",
                m.limit_waits.clone(),
            );
            r.register_with_unit(
                "rate_limit_wait",
                "Time requests spent waiting for their connector's rate limit",
                Unit::Seconds,
                m.limit_seconds.clone(),
            );
            r.register(
                "step_failures",
                "Steps that failed (on_error: continue included), by error kind",
                m.failures.clone(),
            );
        }
        m
    }

    /// An observer for one run, adding to these metrics.
    pub fn observer(&self) -> MetricsObserver {
        MetricsObserver {
            metrics: self.clone(),
            chain: String::new(),
            named: false,
        }
    }

    /// An observer whose runs are labelled `chain="<label>"` rather than
    /// with the chain's name: `serve` labels by the chain's route, which is
    /// what its users see in URLs.
    pub fn observer_labelled(&self, label: &str) -> MetricsObserver {
        MetricsObserver {
            metrics: self.clone(),
            chain: label.to_string(),
            named: true,
        }
    }

    /// The chain's name, once a run has started.
    pub fn chain(&self) -> Option<String> {
        self.chain.lock().ok().and_then(|c| c.clone())
    }

    /// The metrics in the Prometheus text format (version 0.0.4), every
    /// known secret redacted.
    pub fn text(&self, redactor: &Redactor) -> String {
        let mut open = String::new();
        if let Ok(r) = self.registry.lock() {
            // Writing to a String does not fail.
            let _ = prometheus_client::encoding::text::encode(&mut open, &r);
        }
        redactor.redact(&to_prometheus_text(&open))
    }

    /// Writes the metrics to `path` whole or not at all: a textfile
    /// collector reading the file mid-write must not see half of it.
    pub fn write(&self, path: &Path, redactor: &Redactor) -> std::io::Result<()> {
        crate::files::write(path, self.text(redactor).as_bytes())
    }
}

/// The Pushgateway URL of this chain's group:
/// `URL/metrics/job/pytopus/chain/<name>`, then each of `extra` as a
/// `label/value` pair (`shard/1-of-2`, `data/rows.csv`), so runs that split
/// the work (`--shard`, different `--data` files) each keep their own
/// group instead of replacing each other's. A value with a `/` (a chain
/// without `name:` is named by its file path) cannot be a path segment
/// even escaped, so it goes as `label@base64/<base64url>`, as the
/// Pushgateway documents; an empty one is `label@base64/=`.
pub fn push_url(base: &url::Url, chain: &str, extra: &[(&str, String)]) -> url::Url {
    use base64::Engine as _;
    let pair = |label: &str, value: &str| -> (String, String) {
        if value.contains('/') || value.is_empty() {
            let encoded = base64::engine::general_purpose::URL_SAFE.encode(value);
            let encoded = if encoded.is_empty() {
                "=".to_string()
            } else {
                encoded
            };
            (format!("{label}@base64"), encoded)
        } else {
            (label.to_string(), value.to_string())
        }
    };
    let mut url = base.clone();
    let mut segments = vec!["metrics".to_string(), "job".into(), "pytopus".into()];
    for (label, value) in
        std::iter::once(("chain", chain)).chain(extra.iter().map(|(l, v)| (*l, v.as_str())))
    {
        let (k, v) = pair(label, value);
        segments.push(k);
        segments.push(v);
    }
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(&segments);
    }
    url
}

/// Pushes the metrics to a Pushgateway with PUT, which replaces the
/// group's metrics: each `pytopus run` pushes its whole set. The error is a
/// sentence for a warning, redacted.
pub async fn push(
    metrics: &Metrics,
    base: &url::Url,
    extra: &[(&str, String)],
    redactor: &Redactor,
) -> Result<(), String> {
    use crate::transport::{
        Added, BodySink, Client, DEFAULT_BODY_LIMIT, HttpRequest, LiveOptions, LiveTransport,
    };
    let url = push_url(base, &metrics.chain().unwrap_or_default(), extra);
    let request = HttpRequest {
        method: "PUT".into(),
        url: url.to_string(),
        parsed_url: None,
        headers: vec![(
            "content-type".into(),
            "text/plain; version=0.0.4; charset=utf-8".into(),
        )],
        body: Some(crate::transport::Body::Bytes(
            metrics.text(redactor).into_bytes(),
        )),
        timeout: Duration::from_secs(10),
        follow_redirects: true,
        tls: None,
        body_limit: DEFAULT_BODY_LIMIT,
    };
    let fail = |why: String| redactor.redact(&format!("cannot push the metrics to {url}: {why}"));
    let route = LiveTransport::new(&LiveOptions::default()).map_err(|e| fail(e.to_string()))?;
    let client = Client::new(std::sync::Arc::new(route), redactor.clone());
    match client
        .send(&request, &BodySink::Memory, &Added::default())
        .await
    {
        Ok(r) if (200..300).contains(&r.status) => Ok(()),
        Ok(r) => {
            let body = String::from_utf8_lossy(&r.body);
            let body: String = body.trim().chars().take(300).collect();
            let status = crate::engine::check::status_text(r.status);
            Err(fail(if body.is_empty() {
                status
            } else {
                format!("{status}: {body}")
            }))
        }
        Err(e) => Err(fail(e.to_string())),
    }
}

/// prometheus-client writes OpenMetrics, where a counter's HELP and TYPE
/// lines name the family without `_total` and `# UNIT` and `# EOF` lines
/// appear. The Prometheus text format, which `promtool check metrics`, the
/// textfile collector and the Pushgateway parse, names them with `_total`
/// (prometheus/client_rust#51): rename those, drop the OpenMetrics-only lines.
fn to_prometheus_text(open: &str) -> String {
    let counters: Vec<&str> = open
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(open.len());
    for line in open.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|tag| {
            let rest = line.strip_prefix(tag)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{tag}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// Adds one run's events to [`Metrics`].
pub struct MetricsObserver {
    metrics: Metrics,
    chain: String,
    /// The label was given: keep it when the run starts.
    named: bool,
}

impl MetricsObserver {
    fn step(&self, name: &str) -> StepLabels {
        StepLabels {
            chain: self.chain.clone(),
            step: name.to_string(),
        }
    }
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl Observer for MetricsObserver {
    fn on_event(&mut self, event: &Event<'_>) {
        let m = &self.metrics;
        match event {
            Event::RunStarted { chain, .. } => {
                if !self.named {
                    self.chain = chain.name.clone();
                }
                if let Ok(mut c) = m.chain.lock() {
                    c.get_or_insert_with(|| chain.name.clone());
                }
            }
            Event::Exchange {
                step,
                request,
                response,
                ..
            } => {
                let code = match response {
                    Ok(r) => r.status.to_string(),
                    Err(_) => "none".to_string(),
                };
                m.requests
                    .get_or_create(&RequestLabels {
                        chain: self.chain.clone(),
                        step: step.name.clone(),
                        method: request.method.clone(),
                        code,
                    })
                    .inc();
            }
            Event::Retrying { step, .. } => {
                m.retries.get_or_create(&self.step(&step.name)).inc();
            }
            Event::RateLimited {
                connector, wait, ..
            } => {
                let labels = LimitLabels {
                    chain: self.chain.clone(),
                    connector: connector.to_string(),
                };
                m.limit_waits.get_or_create(&labels).inc();
                m.limit_seconds
                    .get_or_create(&labels)
                    .inc_by(seconds(*wait));
            }
            Event::StepFinished { step, outcome, .. } => {
                if matches!(outcome.status, StepStatus::Passed | StepStatus::Failed) {
                    m.step_seconds
                        .get_or_create(&self.step(&step.name))
                        .observe(seconds(outcome.elapsed));
                }
                if let Some(e) = &outcome.error {
                    m.failures
                        .get_or_create(&FailureLabels {
                            chain: self.chain.clone(),
                            step: step.name.clone(),
                            kind: e.kind().to_string(),
                        })
                        .inc();
                }
            }
            Event::RunFinished { report } => {
                m.runs
                    .get_or_create(&RunLabels {
                        chain: self.chain.clone(),
                        status: report.status.as_str().to_string(),
                    })
                    .inc();
                m.run_seconds
                    .get_or_create(&ChainLabels {
                        chain: self.chain.clone(),
                    })
                    .observe(seconds(report.elapsed));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_with_total_and_openmetrics_lines_go() {
        let open = "# HELP pytopus_runs Chain runs.\n# TYPE pytopus_runs counter\npytopus_runs_total{chain=\"a\"} 1\n# HELP pytopus_wait_seconds Wait.\n# TYPE pytopus_wait_seconds counter\n# UNIT pytopus_wait_seconds seconds\npytopus_wait_seconds_total 0.5\n# HELP pytopus_step_duration_seconds Steps.\n# TYPE pytopus_step_duration_seconds histogram\n# UNIT pytopus_step_duration_seconds seconds\npytopus_step_duration_seconds_sum 0.1\n# EOF\n";
        assert_eq!(
            to_prometheus_text(open),
            "# HELP pytopus_runs_total Chain runs.\n# TYPE pytopus_runs_total counter\npytopus_runs_total{chain=\"a\"} 1\n# HELP pytopus_wait_seconds_total Wait.\n# TYPE pytopus_wait_seconds_total counter\npytopus_wait_seconds_total 0.5\n# HELP pytopus_step_duration_seconds Steps.\n# TYPE pytopus_step_duration_seconds histogram\npytopus_step_duration_seconds_sum 0.1\n"
        );
    }

    #[test]
    fn push_urls_name_the_chain_or_its_base64() {
        let base = url::Url::parse("http://127.0.0.1:9091/").unwrap();
        assert_eq!(
            push_url(&base, "Get users", &[]).as_str(),
            "http://127.0.0.1:9091/metrics/job/pytopus/chain/Get%20users"
        );
        assert_eq!(
            push_url(&base, "chains/a.yaml", &[]).as_str(),
            "http://127.0.0.1:9091/metrics/job/pytopus/chain@base64/Y2hhaW5zL2EueWFtbA=="
        );
        assert_eq!(
            push_url(&base, "", &[]).as_str(),
            "http://127.0.0.1:9091/metrics/job/pytopus/chain@base64/="
        );
        let prefixed = url::Url::parse("https://gw.example/push").unwrap();
        assert_eq!(
            push_url(&prefixed, "x", &[]).as_str(),
            "https://gw.example/push/metrics/job/pytopus/chain/x"
        );
        let split = [
            ("shard", "2-of-3".to_string()),
            ("data", "rows/eu.csv".to_string()),
        ];
        assert_eq!(
            push_url(&base, "x", &split).as_str(),
            "http://127.0.0.1:9091/metrics/job/pytopus/chain/x/shard/2-of-3/data@base64/cm93cy9ldS5jc3Y="
        );
    }

    #[test]
    fn every_family_is_named_as_promtool_wants() {
        let m = Metrics::new();
        let step = StepLabels {
            chain: "c".into(),
            step: "s".into(),
        };
        let limit = LimitLabels {
            chain: "c".into(),
            connector: "github".into(),
        };
        m.runs
            .get_or_create(&RunLabels {
                chain: "c".into(),
                status: "passed".into(),
            })
            .inc();
        m.run_seconds
            .get_or_create(&ChainLabels { chain: "c".into() })
            .observe(0.2);
        m.step_seconds.get_or_create(&step).observe(0.1);
        m.requests
            .get_or_create(&RequestLabels {
                chain: "c".into(),
                step: "s".into(),
                method: "GET".into(),
                code: "200".into(),
            })
            .inc();
        m.retries.get_or_create(&step).inc();
        m.limit_waits.get_or_create(&limit).inc();
        m.limit_seconds.get_or_create(&limit).inc_by(1.5);
        m.failures
            .get_or_create(&FailureLabels {
                chain: "c".into(),
                step: "s".into(),
                kind: "timeout".into(),
            })
            .inc();
        let text = m.text(&Redactor::default());
        for (name, kind) in [
            ("pytopus_runs_total", "counter"),
            ("pytopus_run_duration_seconds", "histogram"),
            ("pytopus_step_duration_seconds", "histogram"),
            ("pytopus_http_requests_total", "counter"),
            ("pytopus_retries_total", "counter"),
            ("pytopus_rate_limit_waits_total", "counter"),
            ("pytopus_rate_limit_wait_seconds_total", "counter"),
            ("pytopus_step_failures_total", "counter"),
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n")),
                "{name}:\n{text}"
            );
            assert!(text.contains(&format!("# HELP {name} ")), "{name}:\n{text}");
        }
        assert!(
            text.contains(
                "pytopus_rate_limit_wait_seconds_total{chain=\"c\",connector=\"github\"} 1.5\n"
            ),
            "{text}"
        );
        assert!(
            !text.contains("# EOF") && !text.contains("# UNIT"),
            "{text}"
        );
        if let Ok(path) = std::env::var("PYTOPUS_METRICS_SAMPLE") {
            // For checking every family by hand: `promtool check metrics < $path`.
            std::fs::write(path, &text).unwrap();
        }
    }
}
