//! `notify:` (what `pytopus serve` and `run --every` read).

use super::Validator;
use crate::chain::model::{Chain, NotifyOn};
use crate::plan::{NOTIFY_TIMEOUT, NotifyTarget, ValidNotify};

impl Validator<'_> {
    /// `notify:`: one receiver, when to tell it, and how long it may take.
    pub(super) fn notify(&mut self, chain: &Chain) -> Option<ValidNotify> {
        let spec = chain.notify.as_ref()?;
        let target = match (&spec.url, &spec.slack) {
            (None, None) => {
                self.error(
                    "notify",
                    "`notify` needs `url` or `slack`: where the summary goes",
                    Some("help: `url:` gets the summary as JSON, `slack:` an incoming webhook's `{\"text\": …}`".into()),
                );
                None
            }
            (Some(_), Some(_)) => {
                self.error(
                    "notify.slack",
                    "`notify` takes one of `url` and `slack`, not both",
                    None,
                );
                None
            }
            (Some(url), None) => self
                .notify_url("notify.url", url)
                .map(NotifyTarget::Webhook),
            (None, Some(url)) => self
                .notify_url("notify.slack", url)
                .map(NotifyTarget::Slack),
        };
        let on = spec.on.clone().unwrap_or_else(|| vec![NotifyOn::Failure]);
        if on.is_empty() {
            self.error_value(
                "notify.on",
                "`notify.on` is empty: nothing would ever be sent",
                Some("help: `on: [failure]` or `on: [failure, recovery]`".into()),
            );
        }
        let timeout = match spec.timeout {
            Some(d) if d.0.is_zero() => {
                self.error_value(
                    "notify.timeout",
                    "`notify.timeout` must be more than 0",
                    None,
                );
                NOTIFY_TIMEOUT
            }
            Some(d) => d.0,
            None => NOTIFY_TIMEOUT,
        };
        Some(ValidNotify {
            target: target?,
            on_failure: on.contains(&NotifyOn::Failure),
            on_recovery: on.contains(&NotifyOn::Recovery),
            timeout,
        })
    }

    /// A receiver's URL: a template, or an `http(s)` URL as written.
    fn notify_url(&mut self, path: &str, url: &str) -> Option<crate::template::Tmpl> {
        if !url.contains("{{") && !url.contains("{%") {
            match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                Ok(u) => {
                    self.error_value(
                        path,
                        format!("`{}` is not an http or https URL", u.scheme()),
                        None,
                    );
                    return None;
                }
                Err(e) => {
                    self.error_value(path, format!("`{url}` is not a valid URL: {e}"), None);
                    return None;
                }
            }
        }
        // Rendered when a notification is sent, not by a run: `pytopus run`
        // must not ask for the receiver's secret.
        let before = self.secret_names.len();
        let tmpl = self.compile_text(path, url, 0);
        self.secret_names.truncate(before);
        tmpl
    }
}
