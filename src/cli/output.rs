//! What a run prints on stdout: its result in the chosen format, or a dry
//! run's requests.

use serde_json::Value;

use super::args::OutputFormat;
use super::fail::{Fail, Outcome};
use super::{Exit, print_stdout};
use crate::engine::{RunReport, StepStatus};

/// The result as `--output` asks.
/// Prints the run's result on stdout. JSON is written straight into a
/// buffered stdout rather than built as a string first: a 100 MB result
/// would otherwise be in memory twice.
pub(super) fn print_output(value: &Value, format: OutputFormat) -> Outcome {
    use std::io::{IsTerminal as _, Write as _};
    // On a terminal, the text goes through `print_stdout`, which shows
    // control characters instead of sending them.
    if format != OutputFormat::Json || std::io::stdout().is_terminal() {
        let text = format_output(value, format)
            .map_err(|e| Fail::failed(format!("cannot print the result: {e}")))?;
        return print_stdout(&text);
    }
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(Exit::Success),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Exit::Success),
        Err(e) => Err(Fail::failed(format!("cannot write to stdout: {e}"))),
    }
}

pub fn format_output(value: &Value, format: OutputFormat) -> Result<String, String> {
    Ok(match format {
        OutputFormat::Json => {
            serde_json::to_string_pretty(value).map_err(|e| e.to_string())? + "\n"
        }
        OutputFormat::Yaml => serde_saphyr::to_string(value).map_err(|e| e.to_string())?,
        OutputFormat::Raw => match value {
            Value::String(s) => format!("{s}\n"),
            Value::Null => String::new(),
            other => serde_json::to_string(other).map_err(|e| e.to_string())? + "\n",
        },
    })
}

/// Percent-escapes of printable ASCII undone, for showing a URL to a person.
pub(super) fn unescape_for_display(url: &str) -> String {
    let bytes = url.as_bytes();
    let mut out = String::with_capacity(url.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = url.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
            && (b' '..=b'~').contains(&b)
        {
            out.push(b as char);
            i += 3;
            continue;
        }
        out.push(bytes[i] as char);
        i += 1;
    }
    out
}

/// `--dry-run` prints every request it would have sent, as HTTP messages;
/// each title starts with `label` (a `--data` row's `[row 3] `).
pub(super) fn dry_run_text(report: &RunReport, label: &str) -> String {
    let mut out = String::new();
    for step in report.steps.iter().chain(&report.teardown) {
        if step.status != StepStatus::DryRun {
            continue;
        }
        let requests: Vec<(String, &crate::transport::HttpRequest)> =
            if step.dry_requests.is_empty() {
                step.request
                    .iter()
                    .map(|r| (step.name.clone(), r))
                    .collect()
            } else {
                step.dry_requests
                    .iter()
                    .map(|(what, r)| (format!("{}{what}", step.name), r))
                    .collect()
            };
        let label = if step.teardown {
            format!("{label}finally ")
        } else {
            label.to_string()
        };
        for (title, req) in requests {
            if !out.is_empty() {
                out.push('\n');
            }
            // Placeholders (`<GetUser.id>`, `{{ … }}`) read better unescaped.
            let url = unescape_for_display(&req.url);
            out.push_str(&format!("# {label}{title}\n{} {url}\n", req.method));
            for (k, v) in &req.headers {
                out.push_str(&format!("{k}: {}\n", crate::secret::header_value(k, v)));
            }
            if let Some(body) = &req.body {
                out.push('\n');
                out.push_str(&body.shown_text());
                out.push('\n');
            }
        }
        for note in &step.dry_notes {
            out.push_str(&format!("# {label}{}: {note}\n", step.name));
        }
    }
    out
}
