//! Success criteria and the `onSuccess` / `onFailure` actions, and where
//! each `goto` and `end` lands once every workflow is laid out.

use serde_json::{Value, json};

use super::expr::{self, Place, quote};
use super::{Pending, Scope, Target, Translator};
use crate::chain::spans::{join_index, join_key};

impl Translator {
    /// One criterion as a template expression.
    pub(super) fn criterion(&mut self, c: &Value, at: &str, scope: &Scope<'_>) -> Option<String> {
        let Some(cond) = c.get("condition").and_then(Value::as_str) else {
            self.error(at, "a criterion needs a `condition`");
            return None;
        };
        let kind = match c.get("type") {
            None => "simple",
            Some(Value::String(s)) => s.as_str(),
            Some(Value::Object(o)) => o.get("type").and_then(Value::as_str).unwrap_or(""),
            Some(_) => "",
        };
        let context = match c.get("context").and_then(Value::as_str) {
            Some(ctx) => match expr::expression(ctx, Place::Response, scope) {
                Ok(e) => Some(e),
                Err(msg) => {
                    self.error(&join_key(at, "context"), msg);
                    return None;
                }
            },
            None => None,
        };
        let cpath = join_key(at, "condition");
        let result = match (kind, &context) {
            ("simple", _) => expr::condition(cond, Place::Response, scope),
            ("regex", Some(ctx)) => match crate::chain::expect::regex(cond) {
                Ok(_) => Ok(format!("({ctx}) is matching({})", quote(cond))),
                Err(e) => Err(e),
            },
            ("jsonpath", Some(ctx)) => match crate::jsonpath::JsonPath::compile(cond) {
                // As in the specification's example (`$[?count(@.pets) > 0]`
                // on a body that is a map), the filter looks at the context
                // itself: the query runs over a list holding it.
                Ok(_) => Ok(format!("([{ctx}] | jsonpath({}))", quote(cond))),
                Err(e) => Err(e),
            },
            ("regex" | "jsonpath", None) => Err(format!("a `{kind}` criterion needs a `context`")),
            ("xpath", _) => {
                self.unsupported(&join_key(at, "type"), "an XPath criterion");
                return None;
            }
            (other, _) => Err(format!(
                "`type: {other}`: a criterion is simple, regex or jsonpath"
            )),
        };
        match result {
            Ok(e) => Some(e),
            Err(msg) => {
                self.error(&cpath, msg);
                None
            }
        }
    }

    /// One success or failure action as a chain action.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn action(
        &mut self,
        a: &Value,
        at: &str,
        list: &'static str,
        index: usize,
        entry: usize,
        block: usize,
        scope: &Scope<'_>,
    ) -> Option<Value> {
        let mut a = a.clone();
        let mut at = at.to_string();
        if let Some(r) = a
            .get("reference")
            .and_then(Value::as_str)
            .map(str::to_string)
        {
            let kind = if list == "on_success" {
                "successActions"
            } else {
                "failureActions"
            };
            let Some(name) = r.strip_prefix(&format!("$components.{kind}.")) else {
                self.error(
                    &join_key(&at, "reference"),
                    format!("`{r}` is not a `$components.{kind}` entry"),
                );
                return None;
            };
            match self.doc.pointer(&format!("/components/{kind}/{name}")) {
                Some(found) => {
                    a = found.clone();
                    at = format!("components.{kind}.{name}");
                }
                None => {
                    self.error(
                        &join_key(&at, "reference"),
                        format!("there is no `components.{kind}.{name}`"),
                    );
                    return None;
                }
            }
        }
        let kind = a.get("type").and_then(Value::as_str).unwrap_or("");
        let mut out = match kind {
            "end" if list == "on_success" => {
                self.pending.push(Pending {
                    step: index,
                    list,
                    entry,
                    target: Target::EndOf(block),
                });
                json!({"end": true})
            }
            "end" => json!({"end": true}),
            "goto" => {
                if a.get("workflowId").is_some() {
                    self.unsupported(&join_key(&at, "workflowId"), "`goto` to a workflow");
                    return None;
                }
                let Some(id) = a.get("stepId").and_then(Value::as_str) else {
                    self.error(&at, "a `goto` action needs `stepId`");
                    return None;
                };
                self.pending.push(Pending {
                    step: index,
                    list,
                    entry,
                    target: Target::Step {
                        block,
                        id: id.to_string(),
                        at: join_key(&at, "stepId"),
                    },
                });
                json!({"goto": ""})
            }
            "retry" if list == "on_failure" => {
                // Arazzo 1.0's schema has a retry name its step: this one.
                let this = self.steps[index]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let names_other = a
                    .get("stepId")
                    .and_then(Value::as_str)
                    .is_some_and(|id| self.blocks[block].0.get(id) != Some(&this));
                if names_other || a.get("workflowId").is_some() {
                    self.unsupported(&at, "`retry` that runs another step or workflow first");
                    return None;
                }
                if a.get("retryLimit").and_then(Value::as_u64) == Some(0) {
                    // Never retries: nothing to do.
                    return None;
                }
                let mut r =
                    json!({"limit": a.get("retryLimit").and_then(Value::as_u64).unwrap_or(1)});
                if let Some(after) = a.get("retryAfter").and_then(Value::as_f64) {
                    r["after"] = json!(after);
                }
                json!({"retry": r})
            }
            "retry" => {
                self.error(&join_key(&at, "type"), "`retry` is a failure action");
                return None;
            }
            other => {
                self.error(
                    &join_key(&at, "type"),
                    format!("`type: {other}`: an action is end, goto or retry"),
                );
                return None;
            }
        };
        let mut when = Vec::new();
        for (k, c) in a
            .get("criteria")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let cat = join_index(&join_key(&at, "criteria"), k);
            when.push(self.criterion(c, &cat, scope)?);
        }
        if !when.is_empty() {
            out["when"] = Value::String(format!(
                "{{{{ {} }}}}",
                when.iter()
                    .map(|w| format!("({w})"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ));
        }
        Some(out)
    }

    /// Points each `goto` and success `end` at its chain step.
    pub(super) fn resolve_pending(&mut self) {
        let total = self.steps.len();
        for p in std::mem::take(&mut self.pending) {
            let target = match &p.target {
                Target::Step { block, id, at } => match self.blocks[*block].0.get(id) {
                    Some(name) => Some(name.clone()),
                    None => {
                        let at = at.clone();
                        self.error(&at, format!("there is no step `{id}` in this workflow"));
                        continue;
                    }
                },
                Target::EndOf(block) => {
                    let end = self.blocks[*block].1;
                    (end < total)
                        .then(|| self.steps[end]["name"].as_str().unwrap_or("").to_string())
                }
            };
            let slot = &mut self.steps[p.step][p.list][p.entry];
            let when = slot.get("when").cloned();
            *slot = match target {
                Some(name) => json!({"goto": name}),
                None => json!({"end": true}),
            };
            if let Some(w) = when {
                slot["when"] = w;
            }
        }
    }
}
