//! `GET /metrics`: runs by chain and status, and run durations, in the
//! Prometheus/OpenMetrics text format. The names are the ones `--metrics`
//! is to use, so dashboards work for both.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    chain: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChainLabel {
    chain: String,
}

type Durations = Family<ChainLabel, Histogram, fn() -> Histogram>;

/// The serve-level metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    runs: Family<RunLabels, Counter>,
    durations: Durations,
}

/// Seconds: from 50 ms to about 7 minutes.
fn duration_histogram() -> Histogram {
    Histogram::new([
        0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
    ])
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let runs = Family::<RunLabels, Counter>::default();
        let durations: Durations = Family::new_with_constructor(duration_histogram);
        registry.register(
            "pytopus_runs",
            "Chain runs by chain and final status (passed, failed, interrupted)",
            runs.clone(),
        );
        registry.register(
            "pytopus_run_duration_seconds",
            "How long chain runs took",
            durations.clone(),
        );
        Metrics {
            registry,
            runs,
            durations,
        }
    }
}

impl Metrics {
    /// Counts a finished run.
    pub fn run_finished(&self, chain: &str, status: &str, seconds: f64) {
        self.runs
            .get_or_create(&RunLabels {
                chain: chain.into(),
                status: status.into(),
            })
            .inc();
        self.durations
            .get_or_create(&ChainLabel {
                chain: chain.into(),
            })
            .observe(seconds);
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels() {
        let m = Metrics::default();
        m.run_finished("hook", "passed", 0.2);
        m.run_finished("hook", "failed", 1.5);
        let text = m.encode();
        assert!(
            text.contains("pytopus_runs_total{chain=\"hook\",status=\"passed\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("pytopus_runs_total{chain=\"hook\",status=\"failed\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("pytopus_run_duration_seconds_count{chain=\"hook\"} 2"),
            "{text}"
        );
    }
}
