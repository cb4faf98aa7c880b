//! The server's log on stderr: one line per request and per run, as
//! `key=value` text or one JSON object a line, every value redacted.

use serde_json::{Map, Value};

use crate::secret::Redactor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Writes log lines. Cheap to clone.
#[derive(Clone)]
pub struct Log {
    format: LogFormat,
    redactor: Redactor,
    /// Where lines go; stderr unless a test collects them.
    sink: std::sync::Arc<dyn Fn(&str) + Send + Sync>,
}

impl Log {
    pub fn new(format: LogFormat, redactor: Redactor) -> Self {
        Log {
            format,
            redactor,
            sink: std::sync::Arc::new(crate::report::to_stderr),
        }
    }

    /// The same log, written to `sink` instead of stderr.
    pub fn with_sink(mut self, sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.sink = std::sync::Arc::new(sink);
        self
    }

    /// One line: `event` and its fields, in order.
    pub fn line(&self, event: &str, fields: &[(&str, Value)]) {
        let ts = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        let text = match self.format {
            LogFormat::Json => {
                let mut map = Map::new();
                map.insert("ts".into(), ts.into());
                map.insert("event".into(), event.into());
                for (k, v) in fields {
                    map.insert((*k).into(), self.redactor.redact_json(v));
                }
                Value::Object(map).to_string()
            }
            LogFormat::Text => {
                let mut out = format!("{ts} {event}");
                for (k, v) in fields {
                    let v = match self.redactor.redact_json(v) {
                        Value::Null => continue,
                        Value::String(s) if !s.is_empty() && !s.contains([' ', '"', '=']) => s,
                        Value::String(s) => Value::String(s).to_string(),
                        other => other.to_string(),
                    };
                    out.push_str(&format!(" {k}={v}"));
                }
                out
            }
        };
        (self.sink)(&format!("{text}\n"));
    }
}
