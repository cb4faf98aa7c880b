//! `trigger:` and `schedule:` (what `pytopus serve` reads).

use super::{Validator, reqwest_free_header_name_ok};
use crate::chain::model::{Chain, SignatureScheme};
use crate::plan::{ValidSchedule, ValidTrigger};

impl Validator<'_> {
    /// `trigger:`, `schedule:`, `timezone:` and `overlap:`.
    pub(super) fn triggers(
        &mut self,
        chain: &Chain,
    ) -> (Option<ValidTrigger>, Option<ValidSchedule>) {
        let trigger = chain.trigger.as_ref().map(|t| {
            let mut out = ValidTrigger::default();
            if let Some(secret) = &t.secret {
                // Read by `serve` when it starts, not by a run: `pytopus run`
                // must not ask for the webhook's secret.
                let before = self.secret_names.len();
                out.secret = self.compile_text("trigger.secret", secret, 0);
                self.secret_names.truncate(before);
            }
            out.signature = t.signature;
            match (t.signature, &t.secret) {
                (Some(_), None) => self.error(
                    "trigger.signature",
                    "`trigger.signature` needs `trigger.secret`, the key the sender signs with",
                    Some("help: add `secret: \"{{ secret('NAME') }}\"` and store it with `pytopus auth set NAME`".into()),
                ),
                (None, Some(_)) => self.error(
                    "trigger.secret",
                    "`trigger.secret` needs `trigger.signature`: say how requests are signed",
                    Some("help: `signature:` is `github`, `stripe`, `slack` or `hmac-sha256`".into()),
                ),
                _ => {}
            }
            match (t.signature, &t.header) {
                (Some(SignatureScheme::HmacSha256), None) => self.error(
                    "trigger.signature",
                    "`signature: hmac-sha256` needs `header`, the request header holding the signature",
                    None,
                ),
                (Some(SignatureScheme::HmacSha256), Some(h)) => {
                    if reqwest_free_header_name_ok(h).is_err() {
                        self.error_value("trigger.header", format!("`{h}` is not a valid header name"), None);
                    }
                    out.header = Some(h.to_ascii_lowercase());
                }
                (_, Some(_)) => self.error(
                    "trigger.header",
                    "`trigger.header` is only for `signature: hmac-sha256`",
                    Some("help: the other schemes have their own headers".into()),
                ),
                (_, None) => {}
            }
            if let Some(d) = t.tolerance {
                out.tolerance = d.0;
            }
            out.origin_vars = t.origin_vars.clone();
            if let Some(d) = t.timeout {
                if d.0.is_zero() {
                    self.error_value("trigger.timeout", "`trigger.timeout` must be more than 0", None);
                }
                out.timeout = d.0;
            }
            match t.max_concurrent {
                Some(0) => self.error_value(
                    "trigger.max_concurrent",
                    "`max_concurrent` must be at least 1",
                    None,
                ),
                Some(n) => out.max_concurrent = n as usize,
                None => {}
            }
            out
        });

        let tz = match &chain.timezone {
            None => None,
            Some(name) => match crate::plan::schedule::parse_timezone(name) {
                Ok(tz) => Some(tz),
                Err(msg) => {
                    let hint = crate::plan::schedule::suggest_timezone(name)
                        .map(|b| format!("help: did you mean `{b}`?"))
                        .or_else(|| Some("help: write an IANA time zone name such as `Europe/Paris` or `UTC`".into()));
                    self.error_value("timezone", msg, hint);
                    None
                }
            },
        };
        let schedule = match &chain.schedule {
            None => {
                for key in ["timezone", "overlap"] {
                    if self.spans.key(key).is_some() {
                        self.error(
                            key,
                            format!("`{key}` is only used with `schedule`"),
                            Some("help: add `schedule: \"*/15 * * * *\"` or remove it".into()),
                        );
                    }
                }
                None
            }
            Some(expr) => match crate::plan::schedule::Schedule::parse(expr, tz) {
                Ok(cron) => Some(ValidSchedule {
                    cron,
                    overlap: chain.overlap.unwrap_or_default(),
                }),
                Err(msg) => {
                    self.error_value(
                        "schedule",
                        format!("`{expr}` is not a valid cron expression: {msg}"),
                        Some("help: five fields: minute hour day-of-month month day-of-week, e.g. `*/15 * * * *`".into()),
                    );
                    None
                }
            },
        };
        (trigger, schedule)
    }
}
