//! JSON values in and out of templates: a step's result is shared with the
//! template context as an object that reads its fields on demand.

use std::sync::Arc;

use minijinja::value::{Object, ObjectRepr};
use minijinja::{Error, ErrorKind, Value as MjValue};
use serde_json::Value;

use super::functions::Placeholder;

/// minijinja value → JSON, refusing values JSON cannot hold.
pub fn to_json(v: &MjValue) -> Result<Value, Error> {
    if let Some(p) = v.downcast_object_ref::<Placeholder>() {
        return Ok(Value::String(p.to_string()));
    }
    serde_json::to_value(v).map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
}

/// JSON → minijinja value.
///
/// Built directly rather than through serde (`minijinja::value::Serde`),
/// which was most of the cost of binding a step's result; a test checks the
/// two give the same values.
pub fn from_json(v: &Value) -> MjValue {
    match v {
        Value::Null => MjValue::from(()),
        Value::Bool(b) => MjValue::from(*b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                MjValue::from(u)
            } else if let Some(i) = n.as_i64() {
                MjValue::from(i)
            } else {
                MjValue::from(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => MjValue::from(s.as_str()),
        Value::Array(items) => MjValue::from(items.iter().map(from_json).collect::<Vec<_>>()),
        Value::Object(map) => {
            let mut out = indexmap::IndexMap::with_capacity(map.len());
            for (k, v) in map {
                out.insert(MjValue::from(k.as_str()), from_json(v));
            }
            MjValue::from(out)
        }
    }
}

/// A step's decoded result as templates see it. An array or object is read
/// in place, through the `Arc` the step's outcome holds, instead of being
/// converted to minijinja values when the step ends: templates read a field
/// or two of most results, and converting whole trees (then dropping them)
/// was measurable on long chains (bench/README.md, session 9). Scalars are converted as [`from_json`] does.
pub fn from_shared_json(v: Arc<Value>) -> MjValue {
    if v.is_array() || v.is_object() {
        MjValue::from_object(JsonNode {
            root: v,
            path: Box::new([]),
        })
    } else {
        from_json(&v)
    }
}

/// One step from a container to a child.
#[derive(Clone)]
pub(super) enum Seg {
    Key(Box<str>),
    Index(usize),
}

/// An array or object inside a shared JSON tree: the root and the way down.
pub(super) struct JsonNode {
    root: Arc<Value>,
    path: Box<[Seg]>,
}

impl JsonNode {
    fn node(&self) -> &Value {
        static NULL: Value = Value::Null;
        let mut v = &*self.root;
        for seg in &*self.path {
            // The tree never changes, so the path always leads somewhere.
            v = match (seg, v) {
                (Seg::Key(k), Value::Object(m)) => m.get(&**k).unwrap_or(&NULL),
                (Seg::Index(i), Value::Array(a)) => a.get(*i).unwrap_or(&NULL),
                _ => &NULL,
            };
        }
        v
    }

    fn child(&self, seg: Seg, v: &Value) -> MjValue {
        if v.is_array() || v.is_object() {
            let mut path = Vec::with_capacity(self.path.len() + 1);
            path.extend_from_slice(&self.path);
            path.push(seg);
            MjValue::from_object(JsonNode {
                root: Arc::clone(&self.root),
                path: path.into_boxed_slice(),
            })
        } else {
            from_json(v)
        }
    }

    fn len(&self) -> usize {
        match self.node() {
            Value::Array(a) => a.len(),
            Value::Object(m) => m.len(),
            _ => 0,
        }
    }
}

/// Printed as the converted value prints, so messages do not change.
impl std::fmt::Debug for JsonNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&from_json(self.node()), f)
    }
}

impl Object for JsonNode {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.node() {
            Value::Array(_) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        match self.node() {
            Value::Object(_) => self.get_value_by_str(key.as_str()?),
            Value::Array(a) => {
                let i = key.as_usize()?;
                Some(self.child(Seg::Index(i), a.get(i)?))
            }
            _ => None,
        }
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<MjValue> {
        let Value::Object(m) = self.node() else {
            return None;
        };
        let v = m.get(key)?;
        Some(self.child(Seg::Key(key.into()), v))
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        use minijinja::value::Enumerator;
        match self.node() {
            Value::Array(a) => Enumerator::Seq(a.len()),
            Value::Object(m) => {
                Enumerator::Values(m.keys().map(|k| MjValue::from(k.as_str())).collect())
            }
            _ => Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.len())
    }
}
