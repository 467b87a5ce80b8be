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
//! `serde_json::Value`) gets the value as sent. Everything a value already
//! of the right kind is read as by `serde_json::from_value`.

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
    let rules = Rules {
        strict,
        decoded: false,
    };
    serde_path_to_error::deserialize(Lenient { value, rules }).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        (path, err.into_inner().0)
    })
}

/// Below this magnitude every whole `f64` is exactly one integer.
const EXACT_IN_F64: f64 = 9_007_199_254_740_992.0; // 2^53

/// serde_json's name for its raw value, which only its own deserializers
/// can make.
const RAW_VALUE: &str = "$serde_json::private::RawValue";

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
        if expected.is_empty() {
            return Error(format!(
                "unknown field {}: there are no fields",
                quote(field)
            ));
        }
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
        Error(format!("expected {expected}, got {len}"))
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

/// How values are read.
#[derive(Debug, Clone, Copy)]
struct Rules {
    /// As sent: no conversion but a whole float for an integer.
    strict: bool,
    /// Inside a value that came JSON-encoded in a string: strings are not
    /// decoded again (models wrap once; each layer would start the
    /// parser's depth limit anew).
    decoded: bool,
}

/// One JSON value being read.
struct Lenient {
    value: Value,
    rules: Rules,
}

impl Lenient {
    /// The value a JSON-encoded string (`[` or `{` first) holds: `None`
    /// when it is no such string (or the rules say not to), an error when
    /// it is one that does not parse.
    fn encoded(&self, open: char, what: &str) -> Option<Result<Lenient, Error>> {
        let Value::String(text) = &self.value else {
            return None;
        };
        if self.rules.strict || self.rules.decoded || !text.trim_start().starts_with(open) {
            return None;
        }
        Some(match serde_json::from_str(text) {
            Ok(value) => Ok(Lenient {
                value,
                rules: Rules {
                    decoded: true,
                    ..self.rules
                },
            }),
            Err(err) => Err(Error(format!(
                "expected {what}, got {} (not JSON: {err})",
                got(&self.value)
            ))),
        })
    }

    /// The value as an integer in `min..=max`: a number, a whole float, or
    /// (lenient) a string holding one.
    fn integer(&self, min: i128, max: i128) -> Result<i128, Error> {
        let number = match &self.value {
            Value::Number(n) => whole(n),
            Value::String(text) if !self.rules.strict => {
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
            _ => Err(expected(&integer_range(min, max), &self.value)),
        }
    }

    fn float(&self, max: f64) -> Result<f64, Error> {
        let number = match &self.value {
            Value::Number(n) => n.as_f64(),
            Value::String(text) if !self.rules.strict => {
                text.trim().parse::<f64>().ok().filter(|f| f.is_finite())
            }
            _ => None,
        };
        match number {
            Some(f) if f.abs() <= max => Ok(f),
            Some(_) => Err(expected(
                &format!("a number from -{max:.1e} to {max:.1e}"),
                &self.value,
            )),
            None => Err(expected("a number", &self.value)),
        }
    }

    fn boolean(&self) -> Result<bool, Error> {
        match &self.value {
            Value::Bool(b) => Ok(*b),
            Value::String(text) if !self.rules.strict => match text.trim() {
                "true" | "True" | "TRUE" => Ok(true),
                "false" | "False" | "FALSE" => Ok(false),
                _ => Err(expected("a boolean", &self.value)),
            },
            _ => Err(expected("a boolean", &self.value)),
        }
    }
}

/// "an integer from 0 to 255", in the words a model reads.
fn integer_range(min: i128, max: i128) -> String {
    if min == 0 && max >= i128::from(u64::MAX) {
        "an integer ≥ 0".to_owned()
    } else if max > i128::from(u64::MAX) {
        "an integer".to_owned()
    } else {
        format!("an integer from {min} to {max}")
    }
}

/// A number's value as a whole number, if it is exactly one (`7`, `7.0`,
/// `-2e3`; not a float too large to be exact).
fn whole(n: &Number) -> Option<i128> {
    if let Some(i) = n.as_i64() {
        return Some(i.into());
    }
    if let Some(u) = n.as_u64() {
        return Some(u.into());
    }
    let f = n.as_f64()?;
    (f.fract() == 0.0 && f.abs() < EXACT_IN_F64).then_some(f as i128)
}

/// Reads `items` as a sequence; items left over are an error, as
/// serde_json says for a fixed-length type.
fn visit_array<'de, V: Visitor<'de>>(
    items: Vec<Value>,
    rules: Rules,
    visitor: V,
) -> Result<V::Value, Error> {
    let len = items.len();
    let mut seq = Items {
        items: items.into_iter(),
        rules,
    };
    let value = visitor.visit_seq(&mut seq)?;
    match seq.items.len() {
        0 => Ok(value),
        left => Err(Error(format!(
            "expected an array of {} items, got {len}",
            len - left
        ))),
    }
}

fn visit_object<'de, V: Visitor<'de>>(
    map: Map<String, Value>,
    rules: Rules,
    visitor: V,
) -> Result<V::Value, Error> {
    let len = map.len();
    let mut entries = Entries {
        entries: map.into_iter(),
        value: None,
        rules,
    };
    let value = visitor.visit_map(&mut entries)?;
    match entries.entries.len() {
        0 => Ok(value),
        left => Err(Error(format!(
            "expected an object of {} entries, got {len}",
            len - left
        ))),
    }
}

/// The number methods of a deserializer whose type has `integer(min,
/// max)` and `float(max)`: each reads its range, then visits.
macro_rules! numbers {
    () => {
        numbers! {
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
            visitor.visit_f32(self.float(f64::from(f32::MAX))? as f32)
        }

        fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.visit_f64(self.float(f64::MAX)?)
        }
    };
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
            Value::Array(items) => visit_array(items, self.rules, visitor),
            Value::Object(map) => visit_object(map, self.rules, visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_bool(self.boolean()?)
    }

    numbers!();

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
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == RAW_VALUE {
            // `Box<RawValue>`: only serde_json can make one.
            return de::Deserializer::deserialize_newtype_struct(self.value, name, visitor)
                .map_err(|err| Error(err.to_string()));
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if let Some(decoded) = self.encoded('[', "an array") {
            return decoded?.deserialize_seq(visitor);
        }
        match self.value {
            Value::Array(items) => visit_array(items, self.rules, visitor),
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
        if let Some(decoded) = self.encoded('{', "an object") {
            return decoded?.deserialize_map(visitor);
        }
        match self.value {
            Value::Object(map) => visit_object(map, self.rules, visitor),
            other => Err(expected("an object", &other)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        // serde_json takes a struct's fields as an array too, in order.
        match self.value {
            Value::Array(items) => visit_array(items, self.rules, visitor),
            _ => self.deserialize_map(visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if let Some(decoded) = self.encoded('{', "an object") {
            return decoded?.deserialize_enum(name, variants, visitor);
        }
        let rules = self.rules;
        match self.value {
            Value::String(variant) => visitor.visit_enum(Variant {
                variant,
                value: None,
                rules,
            }),
            Value::Object(map) if map.len() == 1 => {
                let (variant, value) = map.into_iter().next().expect("one entry");
                visitor.visit_enum(Variant {
                    variant,
                    value: Some(value),
                    rules,
                })
            }
            other @ Value::Object(_) => Err(expected(
                &format!(
                    "one of {} (or an object with one of them as its only key)",
                    list(variants)
                ),
                &other,
            )),
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

/// An array's items, each read by the same rules.
struct Items {
    items: std::vec::IntoIter<Value>,
    rules: Rules,
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
                    rules: self.rules,
                })
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// An object's entries: keys as strings (a number or boolean key type
/// parses them), values read by the same rules.
struct Entries {
    entries: serde_json::map::IntoIter,
    value: Option<Value>,
    rules: Rules,
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
                seed.deserialize(Key {
                    key,
                    rules: self.rules,
                })
                .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self.value.take().unwrap_or(Value::Null);
        seed.deserialize(Lenient {
            value,
            rules: self.rules,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An object key: a string, which a number or boolean key type parses (as
/// serde_json does; leniently, trimmed and `7.0` or `True` too, unless
/// strict).
struct Key {
    key: String,
    rules: Rules,
}

impl Key {
    fn as_value(&self) -> Lenient {
        Lenient {
            value: Value::String(self.key.clone()),
            rules: self.rules,
        }
    }

    fn integer(&self, min: i128, max: i128) -> Result<i128, Error> {
        if self.rules.strict {
            return match self.key.parse::<i128>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(expected(
                    &integer_range(min, max),
                    &Value::String(self.key.clone()),
                )),
            };
        }
        self.as_value().integer(min, max)
    }

    fn float(&self, max: f64) -> Result<f64, Error> {
        if self.rules.strict {
            return match self.key.parse::<f64>() {
                Ok(f) if f.is_finite() && f.abs() <= max => Ok(f),
                _ => Err(expected("a number", &Value::String(self.key.clone()))),
            };
        }
        self.as_value().float(max)
    }
}

impl<'de> de::Deserializer<'de> for Key {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_string(self.key)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.rules.strict {
            return match self.key.as_str() {
                "true" => visitor.visit_bool(true),
                "false" => visitor.visit_bool(false),
                _ => Err(expected("a boolean", &Value::String(self.key))),
            };
        }
        visitor.visit_bool(self.as_value().boolean()?)
    }

    numbers!();

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
        visitor.visit_enum(self.key.into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

/// An enum's variant: its name, and its content when sent as
/// `{"Variant": content}`.
struct Variant {
    variant: String,
    value: Option<Value>,
    rules: Rules,
}

impl<'de> EnumAccess<'de> for Variant {
    type Error = Error;
    type Variant = Content;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Content), Error> {
        let variant = seed.deserialize(Key {
            key: self.variant,
            rules: self.rules,
        })?;
        Ok((
            variant,
            Content {
                value: self.value,
                rules: self.rules,
            },
        ))
    }
}

/// What follows a variant's name.
struct Content {
    value: Option<Value>,
    rules: Rules,
}

impl Content {
    fn lenient(self, what: &str) -> Result<Lenient, Error> {
        match self.value {
            Some(value) => Ok(Lenient {
                value,
                rules: self.rules,
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
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_struct(self.lenient("an object")?, "", fields, visitor)
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
            Err(
                ": expected an integer from -9223372036854775808 to 9223372036854775807, got \"x\""
                    .into()
            )
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
    fn what_is_already_of_its_kind_reads_as_serde_json_reads_it() {
        // A raw value is serde_json's own.
        let raw = lenient::<Box<serde_json::value::RawValue>>(json!({"a": [1]})).unwrap();
        assert_eq!(raw.get(), r#"{"a":[1]}"#);
        // Items left over in a fixed-length array are an error.
        assert_eq!(
            lenient::<(u8, u8)>(json!([1, 2, 3])),
            Err(": expected an array of 2 items, got 3".into())
        );
        assert_eq!(lenient::<[u8; 2]>(json!([1, 2])), Ok([1, 2]));
        assert_eq!(
            lenient::<(u8, u8)>(json!([1])),
            Err(": expected a tuple of size 2, got 1".into())
        );
        // A struct sent as an array of its fields.
        assert_eq!(
            lenient::<Filter>(json!([["open"], 3, true])),
            Ok(Filter {
                tags: vec![Status::Open],
                limit: Some(3),
                exact: true
            })
        );
        // Keys of every number type.
        assert_eq!(
            lenient::<HashMap<u128, u8>>(json!({"5": 1})),
            Ok(HashMap::from([(5, 1)]))
        );
        assert_eq!(
            strict::<BTreeMap<i64, u8>>(json!({"-5": 1})),
            Ok(BTreeMap::from([(-5, 1)]))
        );
        assert!(lenient::<HashMap<String, u8>>(json!({"1.5": 1})).is_ok());
        // Strict keys are as serde_json reads them.
        assert!(strict::<HashMap<u32, u8>>(json!({"7.0": 1})).is_err());
        assert!(strict::<HashMap<bool, u8>>(json!({"True": 1})).is_err());
        assert_eq!(
            lenient::<HashMap<u32, u8>>(json!({" 7.0": 1})),
            Ok(HashMap::from([(7, 1)]))
        );
    }

    #[test]
    fn floats_too_large_to_be_exact_are_no_integers() {
        // 2^53 + 1.5 is stored as 2^53 + 2: not a whole number as sent.
        assert!(strict::<u64>(json!(9_007_199_254_740_993.5_f64)).is_err());
        assert!(lenient::<u64>(json!("9007199254740993.0")).is_err());
        assert_eq!(
            strict::<u64>(json!(9_007_199_254_740_991.0_f64)),
            Ok(9_007_199_254_740_991)
        );
        // Integers sent as integers are exact at any size.
        assert_eq!(strict::<u64>(json!(u64::MAX)), Ok(u64::MAX));
        assert_eq!(
            strict::<i64>(json!(1e19)),
            Err(
                ": expected an integer from -9223372036854775808 to 9223372036854775807, got 1e+19"
                    .into()
            )
        );
        assert_eq!(
            strict::<f32>(json!(1e39)),
            Err(": expected a number from -3.4e38 to 3.4e38, got 1e+39".into())
        );
    }

    #[test]
    fn a_string_is_decoded_once_and_a_bad_one_says_why() {
        // An encoded array holding an encoded array: the inner one stays a
        // string, as the model sent it.
        assert_eq!(
            lenient::<Vec<Vec<u8>>>(json!("[\"[1]\"]")),
            Err("[0]: expected an array, got \"[1]\"".into())
        );
        assert_eq!(
            lenient::<Vec<String>>(json!("[\"[1]\"]")),
            Ok(vec!["[1]".to_owned()])
        );
        let err = lenient::<Vec<u8>>(json!("[1, 2")).unwrap_err();
        assert!(
            err.starts_with(": expected an array, got \"[1, 2\" (not JSON: "),
            "{err}"
        );
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Empty {}
        assert_eq!(
            lenient::<Empty>(json!({"x": 1})).unwrap_err(),
            "x: unknown field \"x\": there are no fields"
        );
        assert_eq!(
            lenient::<Status>(json!({"open": null, "closed": null})),
            Err(": expected one of \"open\", \"closed\" (or an object with one of them as its only key), got an object".into())
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
