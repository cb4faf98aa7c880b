//! The template context: step results, `steps.<name>` metadata, variables and
//! `env`. Templates see it through a minijinja object that looks names up on
//! demand, so starting a step never copies what earlier steps produced.

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;
use minijinja::Value as MjValue;
use minijinja::value::Object;
use serde_json::Value;

use crate::template::{EnvVars, Placeholder, from_json};

/// Everything templates can read, as of the step about to run.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Bare names: variables, extract outputs and step results.
    names: HashMap<String, MjValue>,
    /// `steps.<name>`: metadata of each finished step.
    steps: HashMap<String, MjValue>,
}

/// What `steps.<name>` holds for a finished step.
pub struct StepMeta<'a> {
    pub status: Option<u16>,
    pub headers: &'a [(String, String)],
    pub result: &'a MjValue,
    pub outputs: &'a IndexMap<String, Value>,
    pub elapsed_ms: u64,
    pub attempts: u32,
    pub url: &'a str,
    pub method: &'a str,
    pub skipped: bool,
    /// `{kind, message, status}` of a failure the chain continued past.
    pub error: Option<Value>,
}

impl Context {
    pub fn new(vars: &IndexMap<String, Value>) -> Self {
        let mut c = Context::default();
        for (k, v) in vars {
            c.names.insert(k.clone(), from_json(v));
        }
        c
    }

    /// The value templates render against. Cheap: it shares this context.
    pub fn value(self: &Arc<Self>) -> MjValue {
        MjValue::from_object(Scope(Arc::clone(self)))
    }

    pub fn set_var(&mut self, name: &str, value: &Value) {
        self.names.insert(name.to_string(), from_json(value));
    }

    /// Binds a finished step's result under its name.
    pub fn set_result(&mut self, name: &str, result: MjValue) {
        self.names.insert(name.to_string(), result);
    }

    /// Binds a finished step: its result by name and its metadata under `steps`.
    pub fn set_step(&mut self, name: &str, meta: StepMeta<'_>) {
        self.names.insert(name.to_string(), meta.result.clone());
        self.set_meta(name, meta);
    }

    /// Binds a finished step's metadata under `steps.<name>` only.
    pub fn set_meta(&mut self, name: &str, meta: StepMeta<'_>) {
        let mut headers: IndexMap<String, String> = IndexMap::new();
        for (k, v) in meta.headers {
            headers
                .entry(k.to_ascii_lowercase())
                .and_modify(|e| {
                    e.push_str(", ");
                    e.push_str(v);
                })
                .or_insert_with(|| v.clone());
        }
        let entries: Vec<(&str, MjValue)> = vec![
            (
                "status",
                meta.status.map_or(MjValue::from(()), MjValue::from),
            ),
            ("headers", MjValue::from(minijinja::value::Serde(&headers))),
            ("body", meta.result.clone()),
            (
                "outputs",
                MjValue::from(minijinja::value::Serde(meta.outputs)),
            ),
            ("elapsed_ms", MjValue::from(meta.elapsed_ms)),
            ("attempts", MjValue::from(meta.attempts)),
            ("url", MjValue::from(meta.url)),
            ("method", MjValue::from(meta.method)),
            ("skipped", MjValue::from(meta.skipped)),
            (
                "error",
                meta.error.as_ref().map_or(MjValue::from(()), from_json),
            ),
        ];
        self.steps
            .insert(name.to_string(), MjValue::from_pairs(entries));
    }

    /// Whether a step is bound, by name or under `steps`.
    pub fn binds(&self, step: &str) -> bool {
        self.names.contains_key(step) || self.steps.contains_key(step)
    }

    /// Unbinds a step no later template reads (its extracted variables stay).
    pub fn forget(&mut self, step: &str) {
        self.names.remove(step);
        self.steps.remove(step);
    }

    /// `--dry-run`: a step that was not sent; reading its result gives placeholders.
    pub fn set_placeholder_step(&mut self, name: &str, extracted: &[String]) {
        self.names.insert(
            name.to_string(),
            MjValue::from_object(Placeholder(name.to_string())),
        );
        self.steps.insert(
            name.to_string(),
            MjValue::from_object(Placeholder(format!("steps.{name}"))),
        );
        for var in extracted {
            self.names
                .insert(var.clone(), MjValue::from_object(Placeholder(var.clone())));
        }
    }
}

/// The scope of `paginate.until`: `page` (the last page) and `pages` (how many so far).
pub fn with_page(base: &MjValue, page: MjValue, pages: u32) -> MjValue {
    MjValue::from_object(PageScope {
        base: base.clone(),
        page,
        pages,
    })
}

#[derive(Debug)]
struct PageScope {
    base: MjValue,
    page: MjValue,
    pages: u32,
}

impl Object for PageScope {
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        match key.as_str()? {
            "page" => Some(self.page.clone()),
            "pages" => Some(MjValue::from(self.pages)),
            _ => self
                .base
                .get_attr(key.as_str()?)
                .ok()
                .filter(|v| !v.is_undefined()),
        }
    }
}

/// The scope of `poll.until`: the step's own name (the latest response's
/// body) and `poll`, then everything else.
pub fn with_poll(base: &MjValue, name: &str, result: MjValue, meta: MjValue) -> MjValue {
    MjValue::from_object(PollScope {
        base: base.clone(),
        name: name.to_string(),
        result,
        meta,
    })
}

#[derive(Debug)]
struct PollScope {
    base: MjValue,
    name: String,
    result: MjValue,
    meta: MjValue,
}

impl Object for PollScope {
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        match key.as_str()? {
            "poll" => Some(self.meta.clone()),
            k if k == self.name => Some(self.result.clone()),
            k => self.base.get_attr(k).ok().filter(|v| !v.is_undefined()),
        }
    }
}

/// The scope of `expect.that` and of the actions' `when`: `response`,
/// then everything else.
pub fn with_response(base: &MjValue, response: MjValue) -> MjValue {
    MjValue::from_object(ResponseScope {
        base: base.clone(),
        response,
    })
}

#[derive(Debug)]
struct ResponseScope {
    base: MjValue,
    response: MjValue,
}

impl Object for ResponseScope {
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        match key.as_str()? {
            "response" => Some(self.response.clone()),
            k => self.base.get_attr(k).ok().filter(|v| !v.is_undefined()),
        }
    }
}

/// The scope of one `for_each` item: `item` and `index`, then everything else.
pub fn with_item(base: &MjValue, item: MjValue, index: usize) -> MjValue {
    MjValue::from_object(ItemScope {
        base: base.clone(),
        item,
        index,
    })
}

#[derive(Debug)]
struct ItemScope {
    base: MjValue,
    item: MjValue,
    index: usize,
}

impl Object for ItemScope {
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        match key.as_str()? {
            "item" => Some(self.item.clone()),
            "index" => Some(MjValue::from(self.index)),
            _ => self
                .base
                .get_attr(key.as_str()?)
                .ok()
                .filter(|v| !v.is_undefined()),
        }
    }
}

/// The scope of a connector step: its rendered `params`, then everything else.
pub fn with_params(base: &MjValue, params: MjValue) -> MjValue {
    MjValue::from_object(ParamsScope {
        base: base.clone(),
        params,
    })
}

#[derive(Debug)]
struct ParamsScope {
    base: MjValue,
    params: MjValue,
}

impl Object for ParamsScope {
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        match key.as_str()? {
            "params" => Some(self.params.clone()),
            k => self.base.get_attr(k).ok().filter(|v| !v.is_undefined()),
        }
    }
}

/// The root object templates see.
#[derive(Debug)]
struct Scope(Arc<Context>);

impl Object for Scope {
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        let key = key.as_str()?;
        match key {
            "steps" => Some(MjValue::from_object(Steps(Arc::clone(&self.0)))),
            "env" => self
                .0
                .names
                .get("env")
                .cloned()
                .or_else(|| Some(MjValue::from_object(EnvVars))),
            _ => self.0.names.get(key).cloned(),
        }
    }
}

/// `steps`: step metadata by name.
#[derive(Debug)]
struct Steps(Arc<Context>);

impl Object for Steps {
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        self.0.steps.get(key.as_str()?).cloned()
    }
}
