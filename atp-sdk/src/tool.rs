//! What a tool is, however it was defined: the static [`ToolDef`] that
//! `#[atp_tool]` writes, the parameters ([`ParamSpec`]) of every kind of
//! tool and app, and the one place their JSON Schemas and the platform's
//! metadata are made.
//!
//! The macro emits one const [`ToolDef`] per tool into an `inventory`
//! collection; everything it points at (`fn` pointers for the JSON Schema of
//! each parameter and for the call) is generated next to the user's function.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::content::{IntoToolResult, ToolResult};
use crate::error::CallError;
use crate::params::CallArgs;
use crate::protocol::ToolMetadata;

/// What a call produced: the tool's answer, or why there is none.
pub type CallResult = Result<Output, CallError>;

/// What a tool answered: JSON (any `T: Serialize` it returned), or rich
/// content ([`crate::content`]).
///
/// ```
/// use atp_sdk::Output;
/// use atp_sdk::content::{Content, ToolResult};
///
/// let json = Output::from(serde_json::json!({"sum": 3}));
/// assert_eq!(json.to_json().into_owned(), serde_json::json!({"sum": 3}));
/// let rich = Output::from(ToolResult::new([Content::text("hi")]));
/// assert_eq!(rich.to_json()["content"][0]["text"], "hi");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Output {
    /// A JSON value.
    Json(Value),
    /// Content blocks, with structured data or not.
    Rich(ToolResult),
}

impl Output {
    /// The answer as ATP carries it: the JSON, or the rich result in the
    /// shape [`crate::content`] documents.
    pub fn to_json(&self) -> std::borrow::Cow<'_, Value> {
        match self {
            Self::Json(value) => std::borrow::Cow::Borrowed(value),
            Self::Rich(rich) => std::borrow::Cow::Owned(rich.to_json()),
        }
    }

    /// The JSON value, if the answer is JSON.
    pub fn as_json(&self) -> Option<&Value> {
        match self {
            Self::Json(value) => Some(value),
            Self::Rich(_) => None,
        }
    }
}

impl From<Value> for Output {
    fn from(value: Value) -> Self {
        Self::Json(value)
    }
}

impl From<ToolResult> for Output {
    fn from(value: ToolResult) -> Self {
        Self::Rich(value)
    }
}

/// The future of an `async fn` tool's call.
pub type CallFuture = Pin<Box<dyn Future<Output = CallResult> + Send + 'static>>;

/// A tool registered by `#[atp_tool]`.
///
/// All fields are filled in by the macro; the runtime reads them to
/// announce and call the tool. You don't build these by hand.
#[derive(Debug)]
pub struct ToolDef {
    /// The tool's name, as the agent sees it.
    pub name: &'static str,
    /// The Rust function's name.
    pub rust_name: &'static str,
    /// What the tool does (the doc comment, or `description = "..."`).
    pub description: &'static str,
    /// The JSON parameters, in declaration order (the arguments the
    /// toolkit makes, [`FromCall`](crate::FromCall)s, excluded).
    pub params: &'static [ParamDef],
    /// The auth the tool needs, if any.
    pub auth: Option<AuthDef>,
    /// The source text of the attribute and the function.
    pub source: &'static str,
    /// Where the tool is defined, for error messages.
    pub file: &'static str,
    /// The line of the `#[atp_tool]` attribute.
    pub line: u32,
    /// The module the tool is defined in.
    pub module_path: &'static str,
    /// The tool's time limit (`timeout = "..."`), if it sets one; else
    /// the client's [`call_timeout`](crate::ToolKitClientBuilder::call_timeout).
    pub timeout: Option<std::time::Duration>,
    /// The OAuth scopes an MCP caller's token needs for this tool
    /// (`scopes = [...]`; checked in resource-server mode).
    pub scopes: &'static [&'static str],
    /// How to call it.
    pub handler: Handler,
    /// The [`State`](crate::State) types the tool takes.
    pub states: &'static [StateDef],
    /// Whether the tool takes a [`Context`](crate::Context) (calls of
    /// tools that don't skip making one).
    pub context: bool,
    /// `#[atp_tool(strict_args)]`: arguments read as sent, without the
    /// lenient conversions ([`CallArgs::strict`]).
    pub strict_args: bool,
    /// `#[atp_tool(deny_unknown_fields)]`: a call with an argument the tool
    /// does not take is refused ([`CallError::UnknownParameters`]), not
    /// served with it ignored.
    pub deny_unknown_fields: bool,
    /// `title = "..."`: the name a client shows (MCP's `title`).
    pub title: Option<&'static str>,
    /// What the tool says of its effects (MCP's tool annotations).
    pub hints: ToolHints,
    /// The JSON Schema of what it answers, when its return type (`Ok`'s,
    /// for a `Result`) implements `JsonSchema` and isn't content: MCP's
    /// `outputSchema`.
    pub output_schema: fn() -> Option<Value>,
    /// The types its body asks the user for (`ctx.elicit::<T>(...)`, with
    /// `T` named where the tool is declared: one the body declares or
    /// imports itself is checked when it is asked for).
    pub elicits: &'static [ElicitDef],
}

/// What a tool says of its effects, for clients to decide how to treat
/// its calls (MCP's tool annotations, `readOnlyHint` and the others;
/// carried in the ATP announcement's metadata as `annotations` too). Set
/// with `#[atp_tool(read_only, destructive = false, idempotent,
/// open_world = false)]`; each is `None` unless the attribute says, and a
/// hint is no guarantee a client may rely on.
///
/// ```
/// use atp_sdk::ToolHints;
/// let hints = ToolHints { read_only: Some(true), ..ToolHints::default() };
/// assert_eq!(hints.to_annotations(), Some(serde_json::json!({"readOnlyHint": true})));
/// assert_eq!(ToolHints::default().to_annotations(), None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ToolHints {
    /// `read_only`: the tool changes nothing.
    pub read_only: Option<bool>,
    /// `destructive`: what it changes, it may destroy (meaningful when not
    /// read-only).
    pub destructive: Option<bool>,
    /// `idempotent`: calling it again with the same arguments changes
    /// nothing more.
    pub idempotent: Option<bool>,
    /// `open_world`: it reaches outside systems (the web, a third party).
    pub open_world: Option<bool>,
}

impl ToolHints {
    /// MCP's `annotations` object of the hints set; `None` if none is.
    pub fn to_annotations(&self) -> Option<Value> {
        let mut map = Map::new();
        for (key, hint) in [
            ("readOnlyHint", self.read_only),
            ("destructiveHint", self.destructive),
            ("idempotentHint", self.idempotent),
            ("openWorldHint", self.open_world),
        ] {
            if let Some(hint) = hint {
                map.insert(key.to_owned(), Value::Bool(hint));
            }
        }
        (!map.is_empty()).then_some(Value::Object(map))
    }
}

/// A [`State<T>`](crate::State) a tool takes, by its type.
#[derive(Debug, Clone, Copy)]
pub struct StateDef {
    /// `TypeId::of::<T>`.
    pub type_id: fn() -> std::any::TypeId,
    /// `std::any::type_name::<T>`, for the error when it is missing.
    pub type_name: fn() -> &'static str,
}

/// A type a tool asks the user for with
/// [`Context::elicit::<T>`](crate::Context::elicit), as its body spells
/// it: [`build`](crate::ToolKitClientBuilder::build) checks its schema is
/// one MCP lets a client ask for.
#[derive(Debug, Clone, Copy)]
pub struct ElicitDef {
    /// `std::any::type_name::<T>`.
    pub type_name: fn() -> &'static str,
    /// The schema `elicitation/create` would carry.
    pub schema: fn() -> Value,
}

/// One parameter of a [`ToolDef`].
#[derive(Debug, Clone, Copy)]
pub struct ParamDef {
    /// The parameter's name.
    pub name: &'static str,
    /// The `///` comment on the parameter.
    pub description: Option<&'static str>,
    /// Required, optional or defaulted.
    pub kind: ParamKind,
    /// The JSON Schema of the parameter's type (`T` for `Option<T>`).
    pub schema: fn(&mut SchemaGenerator) -> Schema,
}

/// How a parameter is filled from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Must be present and not null.
    Required,
    /// An `Option<T>`: absent or null is `None`.
    Optional,
    /// Left out of an explicit `required` list: absent or null is
    /// `Default::default()`.
    Defaulted,
}

impl ParamKind {
    /// Whether the parameter is in `required_params`.
    pub fn is_required(self) -> bool {
        self == Self::Required
    }
}

/// The auth a tool needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthDef {
    /// The provider, e.g. `"hubspot"`.
    pub provider: &'static str,
    /// The auth type, e.g. `"OAuth2"` (the default) or `"API Key"`.
    pub kind: &'static str,
    /// What the token is used as, e.g. `"access_token"`.
    pub with: Option<&'static str>,
}

/// How a tool is called.
#[derive(Clone, Copy)]
pub enum Handler {
    /// A plain `fn`: run on the SDK's worker threads.
    Blocking(fn(CallArgs) -> CallResult),
    /// An `async fn`: run as a task.
    Async(fn(CallArgs) -> CallFuture),
    /// A plain `fn` marked `#[atp_tool(inline)]`: run in the call's own
    /// task, where the connection's work runs too.
    Inline(fn(CallArgs) -> CallResult),
}

impl fmt::Debug for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Blocking(_) => "Handler::Blocking",
            Self::Async(_) => "Handler::Async",
            Self::Inline(_) => "Handler::Inline",
        })
    }
}

// ---------------------------------------------------------------------------
// What generated code calls: bounds that name the mistake, and the return
// value's conversion decided by its type
// ---------------------------------------------------------------------------

/// A type a tool parameter can have: one serde can deserialize.
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be a tool parameter: derive `serde::Deserialize` and `schemars::JsonSchema` for it",
    label = "can't be read from the call's JSON",
    note = "a tool parameter is read from JSON and described by a JSON Schema; `serde_json::Value` takes anything"
)]
pub trait ParamValue: serde::de::DeserializeOwned {}

impl<T: serde::de::DeserializeOwned> ParamValue for T {}

/// A type a tool parameter can have: one with a JSON Schema.
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be a tool parameter: derive `serde::Deserialize` and `schemars::JsonSchema` for it",
    label = "has no JSON Schema to show the agent",
    note = "a tool parameter is read from JSON and described by a JSON Schema; `serde_json::Value` takes anything"
)]
pub trait ParamSchema: JsonSchema {}

impl<T: JsonSchema> ParamSchema for T {}

/// A type a tool can return (or return in `Ok`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be a tool's result: derive `serde::Serialize` for it",
    label = "can't be sent as JSON",
    note = "a tool returns `T: serde::Serialize`, content (`atp_sdk::content`, or a type implementing `IntoToolResult`), or `Result<T, E>` of either with `E: Display` (`anyhow::Result<T>` included)"
)]
pub trait ToolOutput: Serialize {}

impl<T: Serialize> ToolOutput for T {}

/// A type a tool's `Err` can have.
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be a tool's error: implement `std::fmt::Display` for it",
    label = "its text is what the caller sees",
    note = "an `Err` is answered as `{{\"error\": \"<its Display text>\"}}`; `String`, `anyhow::Error` and every `std::error::Error` have one"
)]
pub trait ToolError: fmt::Display {}

impl<T: fmt::Display + ?Sized> ToolError for T {}

/// A type a [`State`](crate::State) can hold.
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be shared with tools as a `State`",
    label = "every call may run on another thread",
    note = "a `State<T>` needs `T: Send + Sync + 'static` (wrap what isn't in an `Arc<Mutex<...>>`)"
)]
pub trait SharedState: Send + Sync + 'static {}

impl<T: Send + Sync + 'static> SharedState for T {}

/// Checks, at compile time only, that `T` (an element inside a parameter's
/// container, like `Opaque` in `Vec<Opaque>`) can be read from JSON, so the
/// error names `T` with the SDK's message.
pub const fn check_value<T: ParamValue>() {}

/// Checks, at compile time only, that `T` (an element inside a parameter's
/// container) has a JSON Schema.
pub const fn check_schema<T: ParamSchema + ?Sized>() {}

/// Checks, at compile time only, that `T` (an element inside the returned
/// container, like `Report` in `Vec<Report>`) can be sent as a result.
pub const fn check_output<T: ToolOutput + ?Sized>() {}

/// The JSON Schema of `T`, for a [`ParamDef`].
pub fn schema_of<T: ParamSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// An `Option<T>` parameter.
pub fn optional<T: ParamValue>(args: &mut CallArgs, name: &str) -> Result<Option<T>, CallError> {
    args.optional(name)
}

/// Turns a plain return value into the call's result.
pub(crate) fn output<T: Serialize>(value: T) -> CallResult {
    serde_json::to_value(value)
        .map(Output::Json)
        .map_err(|err| CallError::InvalidOutput(err.to_string()))
}

/// A tool's return value, before it is known to be a `Result` or not.
///
/// `(&Out(value)).__atp_kind()` picks [`ResultTag`] when the value is a
/// `Result` (under any name: an alias, `io::Result`, `anyhow::Result`)
/// and [`PlainTag`] otherwise — the compiler decides, by the type. The
/// value inside (`Ok`'s, or the plain one) is then a `Val`, which is
/// content or JSON, decided the same way.
#[derive(Debug)]
pub struct Out<R>(pub R);

/// A tool's return type, without a value: what its output schema is
/// decided from, the same way as [`Out`].
pub struct Probe<R: ?Sized>(std::marker::PhantomData<fn() -> Box<R>>);

impl<R: ?Sized> Probe<R> {
    /// The probe of `R`.
    pub const fn new() -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<R: ?Sized> Default for Probe<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: ?Sized> fmt::Debug for Probe<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Probe")
    }
}

/// A `Result` return value.
#[derive(Debug)]
pub struct ResultKind;

/// Any other return value.
#[derive(Debug)]
pub struct PlainKind;

/// Picked for `Out<Result<T, E>>` (and `Probe<Result<T, E>>`).
pub trait ResultTag {
    /// The kind of the value.
    fn __atp_kind(&self) -> ResultKind {
        ResultKind
    }
}

impl<T, E> ResultTag for Out<Result<T, E>> {}
impl<T, E> ResultTag for Probe<Result<T, E>> {}

/// Picked for every other `Out<R>` (one auto-reference further away).
pub trait PlainTag {
    /// The kind of the value.
    fn __atp_kind(&self) -> PlainKind {
        PlainKind
    }
}

impl<R> PlainTag for &Out<R> {}
impl<R: ?Sized> PlainTag for &Probe<R> {}

impl ResultKind {
    /// `Ok(v)` → `v`; `Err(e)` → the tool's error, written with `{:#}` so
    /// that an `anyhow::Error` gives its whole chain (`outer: cause:
    /// root`): answered `{"error": "<e:#>"}`.
    pub fn split<T, E: ToolError>(self, out: Out<Result<T, E>>) -> Result<Val<T>, CallError> {
        match out.0 {
            Ok(value) => Ok(Val(value)),
            Err(err) => Err(CallError::Tool(format!("{err:#}"))),
        }
    }

    /// The probe of `Ok`'s type.
    pub fn ok<T, E>(self, _: Probe<Result<T, E>>) -> Probe<T> {
        Probe::new()
    }
}

impl PlainKind {
    /// The value itself.
    pub fn split<R>(self, out: Out<R>) -> Result<Val<R>, CallError> {
        Ok(Val(out.0))
    }

    /// The same probe.
    pub fn ok<R: ?Sized>(self, probe: Probe<R>) -> Probe<R> {
        probe
    }
}

/// The value a tool answers with (`Ok`'s, or a plain one), before it is
/// known to be content or JSON: `(&Val(v)).__atp_value()` picks
/// [`RichTag`] for an [`IntoToolResult`] and [`JsonTag`] otherwise.
#[derive(Debug)]
pub struct Val<T>(pub T);

/// Rich content.
#[derive(Debug)]
pub struct RichKind;

/// A JSON value.
#[derive(Debug)]
pub struct JsonKind;

/// Picked for a `Val<T>` whose `T` is [`IntoToolResult`].
pub trait RichTag {
    /// The kind of the value.
    fn __atp_value(&self) -> RichKind {
        RichKind
    }
}

impl<T: IntoToolResult> RichTag for Val<T> {}

/// Picked for every other `Val<T>` (one auto-reference further away).
pub trait JsonTag {
    /// The kind of the value.
    fn __atp_value(&self) -> JsonKind {
        JsonKind
    }
}

impl<T> JsonTag for &Val<T> {}

impl RichKind {
    /// The value's content blocks.
    pub fn output<T: IntoToolResult>(self, value: Val<T>) -> CallResult {
        crate::content::rich(value.0).map(Output::Rich)
    }
}

impl JsonKind {
    /// The value as JSON.
    pub fn output<T: ToolOutput>(self, value: Val<T>) -> CallResult {
        output(value.0)
    }
}

/// The output schema of a return type, decided by the compiler:
/// `(&&probe).__atp_output_schema()` picks, in order, [`ContentSchema`]
/// (content has none: what structured data a [`ToolResult`] carries, its
/// type doesn't say), [`TypedSchema`] (a `T: JsonSchema`: its serialized
/// form's) and [`NoSchema`].
pub trait ContentSchema {
    /// No schema.
    fn __atp_output_schema(&self) -> Option<Value> {
        None
    }
}

impl<T: IntoToolResult> ContentSchema for &Probe<T> {}

/// A return type with a JSON Schema: see [`ContentSchema`].
pub trait TypedSchema {
    /// The schema of its serialized form.
    fn __atp_output_schema(&self) -> Option<Value>;
}

impl<T: JsonSchema> TypedSchema for &&Probe<T> {
    fn __atp_output_schema(&self) -> Option<Value> {
        Some(output_schema_of::<T>())
    }
}

/// Any other return type: see [`ContentSchema`].
pub trait NoSchema {
    /// No schema.
    fn __atp_output_schema(&self) -> Option<Value> {
        None
    }
}

impl<T: ?Sized> NoSchema for Probe<T> {}

/// The JSON Schema (2020-12) of what `T` serializes to: an MCP tool's
/// `outputSchema`, which its `structuredContent` validates against.
pub(crate) fn output_schema_of<T: JsonSchema + ?Sized>() -> Value {
    let mut schema = SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    if let Value::Object(map) = &mut schema {
        // The type's own name and doc comment: noise beside the tool's.
        map.remove("title");
        map.remove("description");
    }
    schema
}

/// Boxes an `async fn` tool's future.
pub fn boxed<F>(future: F) -> CallFuture
where
    F: Future<Output = CallResult> + Send + 'static,
{
    Box::pin(future)
}

/// A future that is already done (an argument failed to extract).
pub fn ready(result: CallResult) -> CallFuture {
    Box::pin(std::future::ready(result))
}

// ---------------------------------------------------------------------------
// Parameters and schemas, for every kind of tool
// ---------------------------------------------------------------------------

/// Where a parameter's JSON Schema comes from.
#[derive(Clone)]
pub(crate) enum SchemaSource {
    /// Generated from a Rust type.
    Type(fn(&mut SchemaGenerator) -> Schema),
    /// Given as JSON.
    Json(Value),
}

/// A parameter, whichever way its tool was defined.
#[derive(Clone)]
pub(crate) struct ParamSpec {
    pub(crate) name: String,
    pub(crate) kind: ParamKind,
    pub(crate) description: Option<String>,
    pub(crate) schema: SchemaSource,
}

/// The schema generator every tool and app uses: draft 2020-12, subschemas
/// inlined where they can be, no `$schema`, deserialization's view.
fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .for_deserialize()
        .into_generator()
}

/// The JSON Schema (2020-12) of a tool's parameters: an object with
/// `properties` (each with its `description`, an optional one also taking
/// `null`, a required one never) and `required`, plus `$defs` when a type
/// needs them. The source of every rendering ([`crate::schema::render`]).
pub(crate) fn parameters_schema(params: &[ParamSpec]) -> Value {
    let mut generator = generator();
    let mut properties = Map::with_capacity(params.len());
    let mut carried = Map::new();
    for param in params {
        let mut schema = match &param.schema {
            SchemaSource::Type(schema) => schema(&mut generator).to_value(),
            SchemaSource::Json(schema) => schema.clone(),
        };
        // The definitions a struct's property refers to travel with it
        // (see `params_of`): they go to the root, where `$ref`s point.
        if let Some(Value::Object(defs)) = schema.as_object_mut().and_then(|m| m.remove("$defs")) {
            carried.extend(defs);
        }
        if schema == Value::Bool(true) {
            // Any value, as an object a description fits in.
            schema = json!({});
        }
        // What the tool accepts: a required parameter's `null` is
        // "Missing required parameter", an optional one's is `None` (or
        // the default).
        schema = if param.kind.is_required() {
            crate::schema::without_null(schema)
        } else {
            crate::schema::or_null(schema)
        };
        if let (Some(description), Value::Object(map)) = (&param.description, &mut schema) {
            map.insert("description".to_owned(), Value::from(description.as_str()));
        }
        properties.insert(param.name.clone(), schema);
    }
    let required: Vec<&str> = params
        .iter()
        .filter(|p| p.kind.is_required())
        .map(|p| p.name.as_str())
        .collect();
    let mut root = json!({ "type": "object", "properties": properties, "required": required });
    let mut definitions = generator.take_definitions(true);
    definitions.extend(carried);
    if !definitions.is_empty() {
        root["$defs"] = Value::Object(definitions);
    }
    root
}

/// The parameters of a struct: the properties of `P`'s JSON Schema, each
/// required as the schema says (an app's [`Params`](crate::App::Params)),
/// in name order (whatever order the JSON map keeps: serde_json's
/// `preserve_order`, turned on by any crate in a build, changes it).
pub(crate) fn params_of<P: JsonSchema>() -> Vec<ParamSpec> {
    let schema = generator().into_root_schema_for::<P>().to_value();
    let defs = schema.get("$defs").cloned();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema["properties"].as_object() else {
        return Vec::new();
    };
    let mut properties: Vec<(&String, &Value)> = properties.iter().collect();
    properties.sort_by(|a, b| a.0.cmp(b.0));
    properties
        .into_iter()
        .map(|(name, property)| {
            let mut property = property.clone();
            let description = property
                .as_object_mut()
                .and_then(|p| p.remove("description"))
                .and_then(|d| d.as_str().map(str::to_owned));
            // Its `$ref`s point at `P`'s definitions: carried along, for
            // `parameters_schema` to put at the root.
            if let (Some(defs), Value::Object(map)) = (&defs, &mut property)
                && property_refers(map)
            {
                map.insert("$defs".to_owned(), defs.clone());
            }
            ParamSpec {
                name: name.clone(),
                kind: if required.contains(&name.as_str()) {
                    ParamKind::Required
                } else {
                    ParamKind::Optional
                },
                description,
                schema: SchemaSource::Json(property),
            }
        })
        .collect()
}

/// Whether a schema holds a `$ref` anywhere.
fn property_refers(map: &Map<String, Value>) -> bool {
    fn refers(value: &Value) -> bool {
        match value {
            Value::Object(map) => map.contains_key("$ref") || map.values().any(refers),
            Value::Array(items) => items.iter().any(refers),
            _ => false,
        }
    }
    map.contains_key("$ref") || map.values().any(refers)
}

/// The auth of a tool or app, owned.
pub(crate) type OwnedAuth = (String, String, Option<String>);

/// The metadata registered with the platform: the fields of
/// `register_tool` plus the JSON Schema under `"parameters"`.
pub(crate) fn metadata(
    params: &[ParamSpec],
    description: &str,
    auth: Option<(&str, &str, Option<&str>)>,
    source: &str,
) -> ToolMetadata {
    let mut extra = Map::new();
    extra.insert("parameters".to_owned(), parameters_schema(params));
    ToolMetadata {
        params: params.iter().map(|p| p.name.clone()).collect(),
        required_params: params
            .iter()
            .filter(|p| p.kind.is_required())
            .map(|p| p.name.clone())
            .collect(),
        description: description.to_owned(),
        auth_provider: auth.map(|a| a.0.to_owned()),
        auth_type: auth.map(|a| a.1.to_owned()),
        auth_with: auth.and_then(|a| a.2.map(str::to_owned)),
        sample_response: Value::String(String::new()),
        source_code: source.to_owned(),
        extra,
    }
}

/// SHA-256 (hex) of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write;
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(digest.len() * 2);
    for byte in digest {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

impl ToolDef {
    /// `file:line` of the definition.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    pub(crate) fn param_specs(&self) -> Vec<ParamSpec> {
        self.params
            .iter()
            .map(|p| ParamSpec {
                name: p.name.to_owned(),
                kind: p.kind,
                description: p.description.map(str::to_owned),
                schema: SchemaSource::Type(p.schema),
            })
            .collect()
    }

    /// The JSON Schema (draft 2020-12) of the tool's parameters, as
    /// announced: an object with `properties` (each with its
    /// `description` when the parameter has a `///` comment; an optional
    /// one also takes `null`, a required one never) and `required`, plus
    /// `$defs` when a type needs them.
    pub fn parameters_schema(&self) -> Value {
        parameters_schema(&self.param_specs())
    }

    /// The tool's parameter schema as `consumer` is shown it: the same one
    /// MCP clients, `atp-dev context` and [`LlmClient`](crate::llm::LlmClient)
    /// show (see [`crate::schema`]).
    ///
    /// ```
    /// use atp_sdk::schema::Consumer;
    /// use atp_sdk::{atp_tool, registered_tools};
    ///
    /// /// Finds notes.
    /// #[atp_tool]
    /// fn find(query: String, limit: Option<u32>) -> Vec<String> {
    ///     vec![query; limit.unwrap_or(1) as usize]
    /// }
    ///
    /// fn main() {
    ///     let tool = registered_tools().find(|t| t.name == "find").unwrap();
    ///     let openai = tool.schema_for(Consumer::OpenAi);
    ///     assert!(openai.strict);
    ///     assert_eq!(openai.schema["properties"]["limit"]["type"], serde_json::json!(["integer", "null"]));
    /// }
    /// ```
    pub fn schema_for(&self, consumer: crate::schema::Consumer) -> crate::schema::Rendered {
        crate::schema::render(&self.parameters_schema(), consumer)
    }

    /// The names of the required parameters, in declaration order.
    pub fn required_params(&self) -> Vec<&'static str> {
        self.params
            .iter()
            .filter(|p| p.kind.is_required())
            .map(|p| p.name)
            .collect()
    }

    /// The metadata registered with the platform: the fields of
    /// `register_tool` plus the JSON Schema under `"parameters"`.
    pub fn metadata(&self) -> ToolMetadata {
        let mut metadata = metadata(
            &self.param_specs(),
            self.description,
            self.auth.map(|a| (a.provider, a.kind, a.with)),
            self.source,
        );
        if let Some(title) = self.title {
            metadata
                .extra
                .insert("title".to_owned(), Value::from(title));
        }
        if let Some(annotations) = self.hints.to_annotations() {
            metadata.extra.insert("annotations".to_owned(), annotations);
        }
        metadata
    }

    /// SHA-256 (hex) of the tool's source text: its `code_hash`.
    pub fn code_hash(&self) -> String {
        sha256_hex(self.source.as_bytes())
    }
}

/// What the platform is told about one tool or app.
#[derive(Debug, Clone)]
pub(crate) struct Announced {
    pub(crate) name: String,
    /// `file:line` of a macro tool, or how a run-time tool or app was added.
    pub(crate) location: String,
    pub(crate) metadata: ToolMetadata,
    pub(crate) code_hash: String,
    /// The JSON Schema of what it answers (MCP's `outputSchema`), if known.
    #[cfg_attr(
        not(any(feature = "mcp-stdio", feature = "mcp-http")),
        allow(dead_code)
    )]
    pub(crate) output_schema: Option<Value>,
}

/// The metadata and hash of a tool or app defined at run time. It has no
/// source text: its definition is what the platform is told, so that is
/// what the hashes cover.
pub(crate) fn announce_run_time(
    name: &str,
    location: String,
    mut metadata: ToolMetadata,
    app: bool,
) -> Announced {
    if app {
        metadata
            .extra
            .insert("app".to_owned(), serde_json::Value::Bool(true));
    }
    let source = serde_json::to_string(&serde_json::json!({
        "name": name,
        "metadata": metadata,
    }))
    .expect("JSON always serializes");
    metadata.source_code = source;
    Announced {
        name: name.to_owned(),
        location,
        code_hash: sha256_hex(metadata.source_code.as_bytes()),
        metadata,
        output_schema: None,
    }
}
