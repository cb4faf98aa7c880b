//! `notify:` (what `pytopus serve` and `run --every` read).

use super::Validator;
use crate::chain::model::{Chain, NotifyOn};
use indexmap::IndexMap;
use serde_json::Value;

use crate::plan::{NOTIFY_FIELDS, NOTIFY_TIMEOUT, NotifyTarget, ValidNotify};

impl Validator<'_> {
    /// `notify:`: one receiver, when to tell it, and how long it may take.
    pub(super) fn notify(&mut self, chain: &Chain) -> Option<ValidNotify> {
        let spec = chain.notify.as_ref()?;
        let given = [&spec.url, &spec.slack, &spec.chain]
            .iter()
            .filter(|t| t.is_some())
            .count();
        let target = match (&spec.url, &spec.slack, &spec.chain) {
            _ if given == 0 => {
                self.error(
                    "notify",
                    "`notify` needs `url`, `slack` or `chain`: where the summary goes",
                    Some("help: `url:` gets the summary as JSON, `slack:` an incoming webhook's `{\"text\": …}`, `chain:` runs a chain file with it".into()),
                );
                None
            }
            _ if given > 1 => {
                self.error(
                    "notify",
                    "`notify` takes one of `url`, `slack` and `chain`, not more",
                    None,
                );
                None
            }
            (Some(url), _, _) => self
                .notify_url("notify.url", url)
                .map(NotifyTarget::Webhook),
            (_, Some(url), _) => self
                .notify_url("notify.slack", url)
                .map(NotifyTarget::Slack),
            (_, _, Some(file)) => {
                // Compiled as a sub-chain whose `with:` gives the summary's fields.
                let with: IndexMap<String, Value> = NOTIFY_FIELDS
                    .iter()
                    .map(|f| (f.to_string(), Value::Null))
                    .collect();
                self.sub_chain(file, Some(&with), "notify", 0)
                    .map(|sub| NotifyTarget::Chain(sub.chain))
            }
            (None, None, None) => None,
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
