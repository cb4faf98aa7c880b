//! Steps that call a connector: the library they come from, the endpoint
//! and its `params`, the connector's base URL, auth, headers and limits.

use std::sync::Arc;

use serde_json::Value;

use super::{Known, Validator};
use crate::chain::model::{Chain, Step};
use crate::chain::spans::join_key;
use crate::plan::{ConnectorUse, ValidStep};
use crate::template::Tmpl;

impl<'a> Validator<'a> {
    /// The connectors this chain can use, when it uses any (errors in its
    /// `connectors:` are reported here).
    pub(super) fn library(&mut self, _chain: &Chain) -> Option<&'a crate::connector::Library> {
        match self.resolved.library.as_ref()? {
            Ok(lib) => Some(lib),
            Err(errors) => {
                self.diags.extend(errors.iter().cloned());
                None
            }
        }
    }

    /// A step with `connector:`: expanded into the plain step it stands for,
    /// then validated like one, with its `params` compiled.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn connector_step(
        &mut self,
        chain: &Chain,
        step: &Step,
        name: &Value,
        library: Option<&crate::connector::Library>,
        i: usize,
        base: &str,
        known: &Known<'_>,
    ) -> Option<ValidStep> {
        let key = join_key(base, "connector");
        let Some(name) = name.as_str() else {
            self.error_value(&key, "`connector` must be a connector's name", None);
            return None;
        };
        library?;
        // Resolved with the library: every connector a step names.
        let connector = match self.resolved.connectors.get(name)?.clone() {
            Ok(c) => c,
            Err(errors) => {
                for d in errors {
                    // "No such connector" has no place of its own: the step's key is it.
                    if d.source.is_none() {
                        let mut d = d;
                        d.loc = self.spans.value(&key);
                        d.source = Some(Arc::clone(&self.source));
                        self.diags.push(d);
                    } else {
                        self.diags.push(d);
                    }
                }
                return None;
            }
        };
        let (expanded, params) = match crate::connector::expand_step(step, &connector) {
            Ok(x) => x,
            Err(problems) => {
                for p in problems {
                    let at = join_key(base, &p.key);
                    // A parameter's name is the mistake, not its value.
                    if self.spans.value(&at).is_some() && !p.key.starts_with("params.") {
                        self.error_value(&at, p.message, p.hint);
                    } else {
                        self.error(&at, p.message, p.hint);
                    }
                }
                return None;
            }
        };
        self.with_params.insert(i);
        let params_base = join_key(base, "params");
        let compiled: Vec<(String, Tmpl)> = params
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), self.compile(&join_key(&params_base, k), v, i)?)))
            .collect();
        let mut valid = self.step(chain, &expanded, i, base, known)?;
        valid.connector = Some(Box::new(ConnectorUse {
            name: connector.name.clone(),
            params: compiled,
            limiter: crate::connector::limiter(&connector),
            endpoint_body: step.body.is_none() && expanded.body.is_some(),
        }));
        Some(valid)
    }
}
