//! A parameter's JSON value → its Rust type, the way models send values.
//!
//! Models send `"3"` for an integer, `"true"` for a boolean, `3.0` for a
//! `u32`, and an array or object as a JSON-encoded string. Reading a value
//! through [`Lenient`] converts each of these where the type asks for a
//! number, a boolean, a sequence or a map (as pydantic's lax mode does);
//! with `strict` set (`#[atp_tool(strict_args)]`) only a whole float for
//! an integer is taken, which the JSON Schema `integer` allows too. What
//! still fails is described in JSON's words with the path inside the
//! parameter: `Invalid parameter 'filter.tags[2]': expected one of "open",
//! "closed", got "done"`.
//!
//! The conversions happen where the type's `Deserialize` asks for a kind
//! of value. A type that reads "any value" and decides afterwards
//! (`#[serde(untagged)]` and internally tagged enums, `#[serde(flatten)]`,
//! `serde_json::Value`) gets the value as sent.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde_json::{Map, Number, Value};

/// Reads `value` as a `T`; the error names the path inside the value
/// (`""` at its root, `tags[2]`, `filter.status`) and what was wrong.
pub(crate) fn decode<T: DeserializeOwned>(
    value: Value,
    strict: bool,
) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(Lenient { value, strict }).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        (path, err.into_inner().0)
    })
}

/// A failure, in words a model reads.
#[derive(Debug)]
pub(crate) struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        Error(msg.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        Error(format!("missing field \"{field}\""))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Error(format!(
            "unknown field {}, expected one of {}",
            quote(field),
            list(expected)
        ))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Error(format!(
            "expected one of {}, got {}",
            list(expected),
            quote(variant)
        ))
    }

    fn invalid_length(len: usize, expected: &dyn de::Expected) -> Self {
        Error(format!("expected {expected}, got an array of {len}"))
    }
}

fn quote(text: &str) -> String {
    const MAX: usize = 40;
    let cut: String = text.chars().take(MAX).collect();
    let more = if cut.len() < text.len() { "…" } else { "" };
    format!("{}{more}", Value::String(cut))
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| quote(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a value is, for "got ...": short values as sent, containers by kind.
fn got(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote(s),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

fn expected(what: &str, value: &Value) -> Error {
    Error(format!("expected {what}, got {}", got(value)))
}

/// One JSON value being read.
struct Lenient {
    value: Value,
    strict: bool,
}

impl Lenient {
    fn child(&self, value: Value) -> Lenient {
        Lenient {
            value,
            strict: self.strict,
        }
    }

    /// A string holding JSON of the kind wanted (`[` or `{` first), read.
    fn encoded(&self, open: char) -> Option<Value> {
        match &self.value {
            Value::String(text) if !self.strict && text.trim_start().starts_with(open) => {
                serde_json::from_str(text).ok()
            }
            _ => None,
        }
    }

    /// The value as an integer in `min..=max`: a number, a whole float, or
    /// (lenient) a string holding one.
    fn integer(&self, min: i128, max: i128) -> Result<i128, Error> {
        let what = || {
            if max == i128::from(u64::MAX) && min == 0 {
                "an integer ≥ 0".to_owned()
            } else if max >= i128::from(i64::MAX) {
                "an integer".to_owned()
            } else {
                format!("an integer from {min} to {max}")
            }
        };
        let number = match &self.value {
            Value::Number(n) => whole(n),
            Value::String(text) if !self.strict => {
                let text = text.trim();
                text.parse::<i128>().ok().or_else(|| {
                    text.parse::<f64>()
                        .ok()
                        .and_then(|f| Number::from_f64(f).and_then(|n| whole(&n)))
                })
            }
            _ => None,
        };
        match number {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(expected(&what(), &self.value)),
        }
    }

    fn float(&self) -> Result<f64, Error> {
        let number = match &self.value {
            Value::Number(n) => n.as_f64(),
            Value::String(text) if !self.strict => {
                text.trim().parse::<f64>().ok().filter(|f| f.is_finite())
            }
            _ => None,
        };
        number.ok_or_else(|| expected("a number", &self.value))
    }
}

/// A number's value as a whole number, if it is one (`7`, `7.0`, `-2e3`).
fn whole(n: &Number) -> Option<i128> {
    if let Some(i) = n.as_i64() {
        return Some(i.into());
    }
    if let Some(u) = n.as_u64() {
        return Some(u.into());
    }
    let f = n.as_f64()?;
    // Below 2^64 in magnitude every f64 that is whole converts exactly.
    (f.fract() == 0.0 && f.abs() < 18_446_744_073_709_551_616.0).then_some(f as i128)
}

macro_rules! integers {
    ($($method:ident $visit:ident $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let n = self.integer(<$ty>::MIN as i128, <$ty>::MAX as i128)?;
            visitor.$visit(n as $ty)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Lenient {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => visitor.visit_seq(Items::new(items, self.strict)),
            Value::Object(map) => visitor.visit_map(Entries::new(map, self.strict)),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.value {
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::String(text) if !self.strict => match text.trim() {
                "true" | "True" | "TRUE" => visitor.visit_bool(true),
                "false" | "False" | "FALSE" => visitor.visit_bool(false),
                _ => Err(expected("a boolean", &self.value)),
            },
            _ => Err(expected("a boolean", &self.value)),
        }
    }

    integers! {
        deserialize_i8 visit_i8 i8,
        deserialize_i16 visit_i16 i16,
        deserialize_i32 visit_i32 i32,
        deserialize_i64 visit_i64 i64,
        deserialize_i128 visit_i128 i128,
        deserialize_u8 visit_u8 u8,
        deserialize_u16 visit_u16 u16,
        deserialize_u32 visit_u32 u32,
        deserialize_u64 visit_u64 u64,
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let n = self.integer(0, i128::MAX)?;
        visitor.visit_u128(n as u128)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_f32(self.float()? as f32)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_f64(self.float()?)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.value {
            Value::String(s) if s.chars().count() == 1 => visitor.visit_string(s.clone()),
            _ => Err(expected("a string of one character", &self.value)),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::String(s) => visitor.visit_string(s),
            other => Err(expected("a string", &other)),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            other => Err(expected("null", &other)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if let Some(decoded) = self.encoded('[') {
            return self.child(decoded).deserialize_seq(visitor);
        }
        match self.value {
            Value::Array(items) => visitor.visit_seq(Items::new(items, self.strict)),
            other => Err(expected("an array", &other)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if let Some(decoded) = self.encoded('{') {
            return self.child(decoded).deserialize_map(visitor);
        }
        match self.value {
            Value::Object(map) => visitor.visit_map(Entries::new(map, self.strict)),
            other => Err(expected("an object", &other)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if let Some(decoded) = self.encoded('{') {
            return self
                .child(decoded)
                .deserialize_enum(_name, variants, visitor);
        }
        let strict = self.strict;
        match self.value {
            Value::String(variant) => visitor.visit_enum(Variant {
                variant,
                value: None,
                strict,
            }),
            Value::Object(map) if map.len() == 1 => {
                let (variant, value) = map.into_iter().next().expect("one entry");
                visitor.visit_enum(Variant {
                    variant,
                    value: Some(value),
                    strict,
                })
            }
            other => Err(expected(&format!("one of {}", list(variants)), &other)),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

/// An array's items, each read leniently.
struct Items {
    items: std::vec::IntoIter<Value>,
    strict: bool,
}

impl Items {
    fn new(items: Vec<Value>, strict: bool) -> Self {
        Self {
            items: items.into_iter(),
            strict,
        }
    }
}

impl<'de> SeqAccess<'de> for Items {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            Some(value) => seed
                .deserialize(Lenient {
                    value,
                    strict: self.strict,
                })
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// An object's entries: keys as strings, values read leniently. A map
/// with number keys (`HashMap<u32, _>`) reads its keys leniently too.
struct Entries {
    entries: serde_json::map::IntoIter,
    value: Option<Value>,
    strict: bool,
}

impl Entries {
    fn new(map: Map<String, Value>, strict: bool) -> Self {
        Self {
            entries: map.into_iter(),
            value: None,
            strict,
        }
    }
}

impl<'de> MapAccess<'de> for Entries {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(Key(key)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self.value.take().unwrap_or(Value::Null);
        seed.deserialize(Lenient {
            value,
            strict: self.strict,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An object key: a string, which a number or boolean key type parses.
struct Key(String);

impl<'de> de::Deserializer<'de> for Key {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_string(self.0)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        Lenient {
            value: Value::String(self.0),
            strict: false,
        }
        .deserialize_bool(visitor)
    }

    integers! {
        deserialize_i8 visit_i8 i8,
        deserialize_i16 visit_i16 i16,
        deserialize_i32 visit_i32 i32,
        deserialize_i64 visit_i64 i64,
        deserialize_i128 visit_i128 i128,
        deserialize_u8 visit_u8 u8,
        deserialize_u16 visit_u16 u16,
        deserialize_u32 visit_u32 u32,
        deserialize_u64 visit_u64 u64,
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_enum(self.0.into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        u128 f32 f64 char str string bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

impl Key {
    fn integer(&self, min: i128, max: i128) -> Result<i128, Error> {
        Lenient {
            value: Value::String(self.0.clone()),
            strict: false,
        }
        .integer(min, max)
    }
}

/// An enum's variant: its name, and its content when sent as
/// `{"Variant": content}`.
struct Variant {
    variant: String,
    value: Option<Value>,
    strict: bool,
}

impl<'de> EnumAccess<'de> for Variant {
    type Error = Error;
    type Variant = Content;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Content), Error> {
        let variant = seed.deserialize(Key(self.variant))?;
        Ok((
            variant,
            Content {
                value: self.value,
                strict: self.strict,
            },
        ))
    }
}

/// What follows a variant's name.
struct Content {
    value: Option<Value>,
    strict: bool,
}

impl Content {
    fn lenient(self, what: &str) -> Result<Lenient, Error> {
        match self.value {
            Some(value) => Ok(Lenient {
                value,
                strict: self.strict,
            }),
            None => Err(Error(format!("expected {what} for this variant"))),
        }
    }
}

impl<'de> VariantAccess<'de> for Content {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.value {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(expected("no content for this variant", &other)),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self.lenient("a value")?)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self.lenient("an array")?, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_map(self.lenient("an object")?, visitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Deserialize;
    use serde_json::json;

    use super::decode;

    fn lenient<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
        decode(value, false).map_err(|(path, why)| format!("{path}: {why}"))
    }

    fn strict<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
        decode(value, true).map_err(|(path, why)| format!("{path}: {why}"))
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Status {
        Open,
        Closed,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Filter {
        tags: Vec<Status>,
        limit: Option<u32>,
        #[serde(default)]
        exact: bool,
    }

    #[test]
    fn numbers_and_booleans_sent_as_strings_are_read() {
        assert_eq!(lenient::<u32>(json!("3")), Ok(3));
        assert_eq!(lenient::<i64>(json!(" -12 ")), Ok(-12));
        assert_eq!(lenient::<u8>(json!("7.0")), Ok(7));
        assert_eq!(lenient::<f64>(json!("2.5")), Ok(2.5));
        assert_eq!(lenient::<bool>(json!("true")), Ok(true));
        assert_eq!(lenient::<bool>(json!("False")), Ok(false));
        assert_eq!(
            strict::<u32>(json!("3")),
            Err(": expected an integer from 0 to 4294967295, got \"3\"".into())
        );
        assert_eq!(
            strict::<bool>(json!("true")),
            Err(": expected a boolean, got \"true\"".into())
        );
    }

    #[test]
    fn a_whole_float_is_an_integer_in_both_modes() {
        assert_eq!(lenient::<u32>(json!(3.0)), Ok(3));
        assert_eq!(strict::<u32>(json!(3.0)), Ok(3));
        assert_eq!(strict::<i16>(json!(-2e3)), Ok(-2000));
        assert_eq!(
            strict::<u32>(json!(7.5)),
            Err(": expected an integer from 0 to 4294967295, got 7.5".into())
        );
        assert_eq!(
            strict::<u8>(json!(300)),
            Err(": expected an integer from 0 to 255, got 300".into())
        );
        assert_eq!(
            strict::<u64>(json!(-1)),
            Err(": expected an integer ≥ 0, got -1".into())
        );
        assert_eq!(
            strict::<i64>(json!("x")),
            Err(": expected an integer, got \"x\"".into())
        );
    }

    #[test]
    fn arrays_and_objects_sent_as_json_strings_are_read() {
        assert_eq!(
            lenient::<Vec<u32>>(json!("[1, \"2\", 3.0]")),
            Ok(vec![1, 2, 3])
        );
        assert_eq!(
            lenient::<Filter>(json!("{\"tags\": [\"open\"], \"limit\": \"5\"}")),
            Ok(Filter {
                tags: vec![Status::Open],
                limit: Some(5),
                exact: false
            })
        );
        assert_eq!(
            lenient::<BTreeMap<String, u8>>(json!("{\"a\": 1}")),
            Ok(BTreeMap::from([("a".to_owned(), 1)]))
        );
        assert_eq!(
            strict::<Vec<u32>>(json!("[1]")),
            Err(": expected an array, got \"[1]\"".into())
        );
        assert_eq!(
            lenient::<Vec<u32>>(json!("nope")),
            Err(": expected an array, got \"nope\"".into())
        );
        // A string that is wanted as a string stays one.
        assert_eq!(lenient::<String>(json!("[1]")), Ok("[1]".to_owned()));
    }

    #[test]
    fn what_still_fails_names_its_path_and_the_expected_json() {
        assert_eq!(
            lenient::<Filter>(json!({"tags": ["open", "closed", "done"]})),
            Err("tags[2]: expected one of \"open\", \"closed\", got \"done\"".into())
        );
        assert_eq!(
            lenient::<Filter>(json!({"tags": [], "limit": "lots"})),
            Err("limit: expected an integer from 0 to 4294967295, got \"lots\"".into())
        );
        assert_eq!(
            lenient::<Filter>(json!({"limit": 1})),
            Err(": missing field \"tags\"".into())
        );
        assert_eq!(
            lenient::<Vec<Filter>>(json!([{"tags": 3}])),
            Err("[0].tags: expected an array, got 3".into())
        );
        assert_eq!(
            lenient::<String>(json!(12)),
            Err(": expected a string, got 12".into())
        );
        assert_eq!(
            lenient::<Status>(json!(1)),
            Err(": expected one of \"open\", \"closed\", got 1".into())
        );
    }

    #[test]
    fn null_options_keys_and_any_values_read_as_serde_json_reads_them() {
        assert_eq!(lenient::<Option<u8>>(json!(null)), Ok(None));
        assert_eq!(
            lenient::<Vec<Option<u8>>>(json!([null, "2"])),
            Ok(vec![None, Some(2)])
        );
        assert_eq!(
            lenient::<HashMap<u32, bool>>(json!({"7": "true"})),
            Ok(HashMap::from([(7, true)]))
        );
        assert_eq!(
            lenient::<serde_json::Value>(json!({"a": [1, "x"]})),
            Ok(json!({"a": [1, "x"]}))
        );
        assert_eq!(
            lenient::<(u8, String)>(json!([1, "a"])),
            Ok((1, "a".to_owned()))
        );
        #[derive(Debug, PartialEq, Deserialize)]
        enum Shape {
            Circle { r: f64 },
            Square(u32),
            Dot,
        }
        assert_eq!(
            lenient::<Shape>(json!({"Circle": {"r": "1.5"}})),
            Ok(Shape::Circle { r: 1.5 })
        );
        assert_eq!(lenient::<Shape>(json!({"Square": 2})), Ok(Shape::Square(2)));
        assert_eq!(lenient::<Shape>(json!("Dot")), Ok(Shape::Dot));
        #[derive(Debug, PartialEq, Deserialize)]
        #[serde(tag = "kind")]
        enum Tagged {
            A { n: u8 },
        }
        assert_eq!(
            lenient::<Tagged>(json!({"kind": "A", "n": 4})),
            Ok(Tagged::A { n: 4 })
        );
    }
}
