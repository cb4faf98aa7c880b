//! Run history: every `pytopus run` is recorded in a local SQLite database
//! (the platform's data directory, or `PYTOPUS_HISTORY_DIR`), redacted like
//! every other output, so `pytopus history` can list runs and `--resume` can
//! rerun the last failed one from where it stopped. Secrets are never
//! stored. History is best effort: a locked or corrupt database is a warning,
//! never a failed run.

use std::path::PathBuf;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::engine::{RunReport, StepOutcome, StepStatus};
use crate::secret::Redactor;

/// Results larger than this (as JSON) are not kept; `--resume` reruns
/// their step instead of reusing it.
const MAX_RESULT_BYTES: usize = 1 << 20;

/// Runs kept at most, and for how long (`PYTOPUS_HISTORY_KEEP`,
/// `PYTOPUS_HISTORY_DAYS` change them).
const KEEP_RUNS: i64 = 1000;
const KEEP_DAYS: i64 = 90;

/// Whether history is on: not with `PYTOPUS_HISTORY=off` (or `0`, `false`).
pub fn enabled_by_env() -> bool {
    !std::env::var("PYTOPUS_HISTORY").is_ok_and(|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "off" | "0" | "false" | "no"
        )
    })
}

/// Where the database lives.
pub fn path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PYTOPUS_HISTORY_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("history.sqlite"));
    }
    directories::ProjectDirs::from("", "", "pytopus").map(|d| d.data_dir().join("history.sqlite"))
}

/// One run as listed by `pytopus history`.
#[derive(Debug, Clone)]
pub struct Summary {
    pub id: i64,
    pub chain: String,
    pub path: String,
    pub started: String,
    pub duration_ms: i64,
    pub status: String,
}

/// One run as stored.
#[derive(Debug, Clone)]
pub struct Stored {
    pub summary: Summary,
    pub content_hash: String,
    pub report: Value,
    /// Each step's result, `null` where it was not kept.
    pub results: Vec<Value>,
}

pub struct History {
    conn: Connection,
}

fn env_number(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

impl History {
    pub fn open() -> Result<History, String> {
        let path = path().ok_or("no data directory for the history")?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let conn = Connection::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        // Several runs may finish at once (CI matrix on one runner, `serve`).
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        let _ = conn.pragma_update(None, "journal_mode", "WAL");
        // One insert and two indexed deletes per run need few cached pages;
        // SQLite's default 2 MiB cache was a sixth of a 1000-step run's heap.
        let _ = conn.pragma_update(None, "cache_size", -256);
        // Pruned runs give their pages back to the file system (set before
        // the table exists, so only new databases get it).
        let _ = conn.pragma_update(None, "auto_vacuum", "INCREMENTAL");
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                chain TEXT NOT NULL,
                path TEXT NOT NULL,
                content_hash TEXT NOT NULL,
                started TEXT NOT NULL,
                duration_ms INTEGER NOT NULL,
                status TEXT NOT NULL,
                report TEXT NOT NULL,
                results TEXT NOT NULL,
                recorded_at INTEGER NOT NULL
            );
            CREATE INDEX IF NOT EXISTS runs_by_path ON runs (path, id);
            CREATE INDEX IF NOT EXISTS runs_by_time ON runs (recorded_at);",
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(History { conn })
    }

    /// Records a finished run (everything redacted) and prunes old runs.
    pub fn record(
        &self,
        report: &RunReport,
        path: &str,
        content_hash: &str,
        redactor: &Redactor,
    ) -> Result<i64, String> {
        // Measured without copying, stopping at the limit: a 100 MB body is
        // neither copied nor serialised whole here, as a step's result or as
        // the run's output. Without an `output:` template the output is the
        // last step's result, the same value: measured once.
        let output_fit: std::cell::Cell<Option<(*const Value, bool)>> = Default::default();
        let keep = |v: &Value| match output_fit.get() {
            Some((at, fit)) if std::ptr::eq(at, v) => fit,
            _ => fits(v, MAX_RESULT_BYTES),
        };
        let output = report.output.as_deref().filter(|o| {
            let fit = keep(o);
            output_fit.set(Some((*o, fit)));
            fit
        });
        let json = report_text(report, output, redactor);
        let null = Value::Null;
        let results: Vec<std::borrow::Cow<'_, Value>> = report
            .steps
            .iter()
            .map(|s| {
                if keep(&s.result) {
                    redactor.redact_json_cow(&s.result)
                } else {
                    std::borrow::Cow::Borrowed(&null)
                }
            })
            .collect();
        let results = serde_json::to_string(&results).unwrap_or_else(|_| "[]".into());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.conn
            .execute(
                "INSERT INTO runs (chain, path, content_hash, started, duration_ms, status, report, results, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    report.chain,
                    path,
                    content_hash,
                    humantime::format_rfc3339_seconds(report.started).to_string(),
                    report.elapsed.as_millis() as i64,
                    report.status.as_str(),
                    json,
                    results,
                    now,
                ],
            )
            .map_err(|e| e.to_string())?;
        let id = self.conn.last_insert_rowid();
        let keep = env_number("PYTOPUS_HISTORY_KEEP", KEEP_RUNS);
        let days = env_number("PYTOPUS_HISTORY_DAYS", KEEP_DAYS);
        // Two statements, each on an index: with `OR`, SQLite scanned the
        // table, reading every stored report to reach `recorded_at` (300 ms
        // a run with a 900 MB database).
        let _ = self.conn.execute(
            "DELETE FROM runs WHERE id <= (SELECT MAX(id) FROM runs) - ?1",
            params![keep],
        );
        let _ = self.conn.execute(
            "DELETE FROM runs WHERE recorded_at < ?1",
            params![now - days * 86_400],
        );
        let _ = self.conn.execute_batch("PRAGMA incremental_vacuum;");
        Ok(id)
    }

    pub fn list(&self, limit: usize) -> Result<Vec<Summary>, String> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, chain, path, started, duration_ms, status FROM runs ORDER BY id DESC LIMIT ?1",
            )
            .map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map(params![limit as i64], |r| {
                Ok(Summary {
                    id: r.get(0)?,
                    chain: r.get(1)?,
                    path: r.get(2)?,
                    started: r.get(3)?,
                    duration_ms: r.get(4)?,
                    status: r.get(5)?,
                })
            })
            .map_err(|e| e.to_string())?;
        rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
    }

    fn one(&self, sql: &str, arg: &dyn rusqlite::ToSql) -> Result<Option<Stored>, String> {
        self.conn
            .query_row(sql, [arg], |r| {
                let report: String = r.get(7)?;
                let results: String = r.get(8)?;
                Ok(Stored {
                    summary: Summary {
                        id: r.get(0)?,
                        chain: r.get(1)?,
                        path: r.get(2)?,
                        started: r.get(4)?,
                        duration_ms: r.get(5)?,
                        status: r.get(6)?,
                    },
                    content_hash: r.get(3)?,
                    report: serde_json::from_str(&report).unwrap_or(Value::Null),
                    results: serde_json::from_str(&results).unwrap_or_default(),
                })
            })
            .optional()
            .map_err(|e| e.to_string())
    }

    pub fn get(&self, id: i64) -> Result<Option<Stored>, String> {
        self.one(
            "SELECT id, chain, path, content_hash, started, duration_ms, status, report, results FROM runs WHERE id = ?1",
            &id,
        )
    }

    /// The newest run of the chain at `path`, if it failed.
    pub fn last_failed(&self, path: &str) -> Result<Option<Stored>, String> {
        let last = self.one(
            "SELECT id, chain, path, content_hash, started, duration_ms, status, report, results FROM runs WHERE path = ?1 ORDER BY id DESC LIMIT 1",
            &path,
        )?;
        Ok(last.filter(|s| s.summary.status == "failed"))
    }
}

/// SHA-256 of a chain file's text, as the history compares it.
pub fn content_hash(text: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The steps of a stored run that `--resume` reuses: those that passed or
/// were skipped, with their results kept (by index; `None` = run it again).
pub fn reusable(stored: &Stored) -> Vec<Option<StepOutcome>> {
    let steps = stored.report["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let status = match s["status"].as_str() {
                Some("passed") => StepStatus::Passed,
                Some("skipped") => StepStatus::Skipped,
                _ => return None,
            };
            let result = stored.results.get(i).cloned().unwrap_or(Value::Null);
            let too_big = status == StepStatus::Passed
                && result.is_null()
                && s["response"]["body_bytes"].as_u64().unwrap_or(0) > 0;
            if too_big {
                return None;
            }
            let mut o = StepOutcome::not_run(s["name"].as_str().unwrap_or_default());
            o.status = status;
            o.result = std::sync::Arc::new(result);
            o.attempts = 0;
            o.outputs = s["outputs"]
                .as_object()
                .map(|m| m.clone().into_iter().collect())
                .unwrap_or_default();
            o.response = s["response"]
                .as_object()
                .map(|r| crate::engine::ResponseInfo {
                    status: r.get("status").and_then(Value::as_u64).unwrap_or(0) as u16,
                    headers: r
                        .get("headers")
                        .and_then(Value::as_array)
                        .map(|h| {
                            h.iter()
                                .filter_map(|p| {
                                    Some((p[0].as_str()?.to_string(), p[1].as_str()?.to_string()))
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    body_excerpt: String::new(),
                    body_len: r.get("body_bytes").and_then(Value::as_u64).unwrap_or(0),
                    url: r
                        .get("url")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    json_error: None,
                });
            o.reused = true;
            Some(o)
        })
        .collect()
}

/// Whether `v` serialises to at most `limit` bytes of JSON. Serialising
/// stops as soon as the limit is passed.
fn fits(v: &Value, limit: usize) -> bool {
    struct Counter {
        left: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.left = self
                .left
                .checked_sub(buf.len())
                .ok_or_else(|| std::io::Error::other("over the limit"))?;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    serde_json::to_writer(&mut Counter { left: limit }, v).is_ok()
}

/// The largest report stored as it is, as JSON.
const MAX_REPORT_BYTES: usize = 4 << 20;

/// The report to store: as it is when it fits [`MAX_REPORT_BYTES`], else
/// without the details of the steps that passed, which a 10,000-step run
/// would otherwise repeat 10,000 times in every record: first their
/// requests and body excerpts, then their response headers too. Failed
/// steps keep everything. `history_trimmed` says it happened.
///
/// With no secret known (most runs) the report is written straight to text;
/// else through a `Value`, redacted string by string. Each level is written
/// from the run's own records, never by editing a bigger report.
fn report_text(report: &RunReport, output: Option<&Value>, redactor: &Redactor) -> String {
    use crate::report::json::{Detail, estimate_steps_bytes, to_json_detail, to_json_text};
    let levels = [Detail::Full, Detail::NoRequests, Detail::NoHeaders];
    let mut text = String::new();
    for (i, &detail) in levels.iter().enumerate() {
        let last = i + 1 == levels.len();
        // In a long run, a level its sampled size already puts well over
        // the limit is not written at all (a short run is written whole:
        // sampling it would cost as much).
        if !last
            && report.steps.len() > 64
            && estimate_steps_bytes(report, detail) > MAX_REPORT_BYTES + MAX_REPORT_BYTES / 8
        {
            continue;
        }
        text = if redactor.is_empty() {
            to_json_text(report, output, detail)
        } else {
            let value = to_json_detail(report, output, detail);
            redactor.redact_json_cow(&value).to_string()
        };
        if text.len() <= MAX_REPORT_BYTES {
            break;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report_of(steps: usize) -> RunReport {
        use crate::engine::{ResponseInfo, StepOutcome, StepStatus};
        let step = |name: String, status: StepStatus| {
            let mut o = StepOutcome::not_run(&name);
            o.status = status;
            o.request = Some(crate::transport::HttpRequest {
                method: "GET".into(),
                url: "http://x/".into(),
                parsed_url: None,
                headers: vec![("a".into(), "b".repeat(200))],
                body: None,
                timeout: Duration::from_secs(1),
                follow_redirects: true,
                tls: None,
            });
            o.response = Some(ResponseInfo {
                status: 200,
                headers: vec![("h".into(), "v".repeat(100))],
                body_excerpt: "e".repeat(300),
                body_len: 10,
                url: "http://x/".into(),
                json_error: None,
            });
            o
        };
        let mut outcomes: Vec<StepOutcome> = (0..steps)
            .map(|i| step(format!("s{i}"), StepStatus::Passed))
            .collect();
        outcomes.push(step("Broken".into(), StepStatus::Failed));
        RunReport {
            chain: "c".into(),
            file: "c.yaml".into(),
            status: crate::engine::RunStatus::Failed,
            dry_run: false,
            steps: outcomes,
            output: None,
            output_error: None,
            started: std::time::SystemTime::UNIX_EPOCH,
            elapsed: Duration::from_secs(1),
        }
    }

    #[test]
    fn large_reports_lose_the_details_of_passed_steps_first() {
        let none = Redactor::default();
        let small = report_of(1);
        assert_eq!(
            report_text(&small, None, &none),
            crate::report::json::to_json_with(&small, None).to_string()
        );

        let big = report_of(12_000);
        let with_secret = Redactor::default();
        with_secret.add("s3cr3t-value");
        for redactor in [none, with_secret] {
            let text = report_text(&big, None, &redactor);
            assert!(text.len() <= MAX_REPORT_BYTES);
            let stored: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(stored["history_trimmed"], true);
            let steps = stored["steps"].as_array().unwrap();
            assert_eq!(steps.len(), 12_001);
            assert!(steps[0].get("request").is_none());
            assert!(steps[0]["response"].get("body_excerpt").is_none());
            assert_eq!(steps[0]["response"]["status"], 200);
            // The failed step keeps everything.
            assert!(steps[12_000]["request"].is_object());
            assert!(steps[12_000]["response"]["body_excerpt"].is_string());
        }
    }

    #[test]
    fn fits_counts_serialised_bytes_up_to_the_limit() {
        let v = serde_json::json!({"a": [1, 2, 3]}); // {"a":[1,2,3]} = 13 bytes
        assert!(fits(&v, 13));
        assert!(!fits(&v, 12));
        let big = Value::String("x".repeat(10_000));
        assert!(!fits(&big, 100));
        assert!(fits(&big, 10_002));
    }
}
