//! What the block reader ([`super::block`]) builds: the document as data,
//! its map keys borrowed from the text where they are written plainly.
//!
//! A chain is deserialized straight from it. Going through a
//! `serde_json::Value` instead built a hash-indexed map for every step and
//! an owned string for every key, only to take them apart again (four
//! allocations and four hashes a step). Scalars are kept as the
//! `serde_json::Value`s the other readers make and deserialize exactly as
//! serde_json deserializes them; lists and maps follow serde_json's rules
//! too (an enum is a string or a one-entry map, leftover entries are an
//! error). The caller falls back to the `Value` path on any error, so
//! messages are worded there.

use std::borrow::Cow;

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, Visitor};
use serde_json::{Error, Map, Value};

/// A YAML document as data.
#[derive(Debug, Clone, PartialEq)]
pub enum Data<'a> {
    /// A scalar: null, a boolean, a number or a string.
    Value(Value),
    Seq(Vec<Data<'a>>),
    /// Entries in the order written; keys are unique.
    Map(Vec<(Cow<'a, str>, Data<'a>)>),
}

impl Data<'_> {
    /// The same document as a `serde_json::Value`.
    pub fn into_value(self) -> Value {
        match self {
            Data::Value(v) => v,
            Data::Seq(items) => Value::Array(items.into_iter().map(Data::into_value).collect()),
            Data::Map(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (k, v) in entries {
                    map.insert(k.into_owned(), v.into_value());
                }
                Value::Object(map)
            }
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self, Data::Map(_))
    }
}

impl<'a> IntoDeserializer<'a, Error> for Data<'a> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

fn visit_seq<'a, V: Visitor<'a>>(items: Vec<Data<'a>>, visitor: V) -> Result<V::Value, Error> {
    let mut seq = SeqDeserializer::new(items.into_iter());
    let value = visitor.visit_seq(&mut seq)?;
    seq.end()?;
    Ok(value)
}

fn visit_map<'a, V: Visitor<'a>>(
    entries: Vec<(Cow<'a, str>, Data<'a>)>,
    visitor: V,
) -> Result<V::Value, Error> {
    let mut map = MapDeserializer::new(entries.into_iter());
    let value = visitor.visit_map(&mut map)?;
    map.end()?;
    Ok(value)
}

/// Scalars go to serde_json's own deserializer, method for method.
macro_rules! scalar_or_any {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
                match self {
                    Data::Value(v) => v.$method(visitor),
                    other => other.deserialize_any(visitor),
                }
            }
        )*
    };
}

impl<'a> Deserializer<'a> for Data<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Data::Value(v) => v.deserialize_any(visitor),
            Data::Seq(items) => visit_seq(items, visitor),
            Data::Map(entries) => visit_map(entries, visitor),
        }
    }

    scalar_or_any! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_bytes deserialize_byte_buf deserialize_unit
        deserialize_seq deserialize_map deserialize_identifier
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Data::Value(Value::Null) => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Data::Value(v) => v.deserialize_unit_struct(name, visitor),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_tuple<V: Visitor<'a>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Data::Value(v) => v.deserialize_enum(name, variants, visitor),
            // `{variant: value}`, as serde_json reads an enum from a map.
            Data::Map(mut entries) if entries.len() == 1 => {
                let (variant, value) = entries.pop().expect("one entry");
                visitor.visit_enum(Variant { variant, value })
            }
            _ => Err(de::Error::invalid_type(
                de::Unexpected::Other("a list or a map of several keys"),
                &"a string or a map with one key",
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

/// An enum written as a one-entry map.
struct Variant<'a> {
    variant: Cow<'a, str>,
    value: Data<'a>,
}

impl<'a> de::EnumAccess<'a> for Variant<'a> {
    type Error = Error;
    type Variant = Data<'a>;

    fn variant_seed<S: DeserializeSeed<'a>>(self, seed: S) -> Result<(S::Value, Data<'a>), Error> {
        let name: de::value::CowStrDeserializer<'a, Error> = self.variant.into_deserializer();
        Ok((seed.deserialize(name)?, self.value))
    }
}

impl<'a> de::VariantAccess<'a> for Data<'a> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self {
            Data::Value(Value::Null) => Ok(()),
            other => serde::Deserialize::deserialize(other),
        }
    }

    fn newtype_variant_seed<S: DeserializeSeed<'a>>(self, seed: S) -> Result<S::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'a>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        match self {
            // serde_json reads `{variant: []}` as a unit.
            Data::Seq(items) if items.is_empty() => visitor.visit_unit(),
            Data::Seq(items) => visit_seq(items, visitor),
            _ => Err(de::Error::invalid_type(
                de::Unexpected::Other("not a list"),
                &"tuple variant",
            )),
        }
    }

    fn struct_variant<V: Visitor<'a>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Data::Map(entries) => visit_map(entries, visitor),
            _ => Err(de::Error::invalid_type(
                de::Unexpected::Other("not a map"),
                &"struct variant",
            )),
        }
    }
}
