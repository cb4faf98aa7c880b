//! `--dry-run`'s requests as text: what `pytopus run --dry-run` prints and
//! what an MCP tool called with `dry_run` answers.

use crate::engine::{RunReport, StepStatus};

/// Percent-escapes of printable ASCII undone, for showing a URL to a person.
fn unescape_for_display(url: &str) -> String {
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
pub fn dry_run_text(report: &RunReport, label: &str) -> String {
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
