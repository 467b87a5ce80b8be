//! Tools defined at run time, without the macro.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde_json::Value;

use crate::error::{CallError, Error};
use crate::params::CallArgs;
use crate::tool::{
    CallFuture, Output, OwnedAuth, ParamKind, ParamSpec, SchemaSource, StateDef, schema_of,
};

/// Parameter names the platform reserves for the token it injects.
const RESERVED: &[&str] = &["auth_token", "access_token", "api_key"];

/// A tool defined at run time, for tools whose set or shape is only known
/// when the program runs (loaded from a config file, generated from an
/// API description, ...). Add it with [`ToolKitClientBuilder::tool`].
///
/// The handler receives the call's [`CallArgs`] (take each parameter with
/// [`CallArgs::required`], [`CallArgs::optional`], ... and the token with
/// [`CallArgs::take_token`]) and returns the result as JSON, or a
/// [`CallError`](crate::CallError) (use [`CallError::tool`](crate::CallError::tool)
/// for the tool's own failures). It runs as a task, like an `async fn` tool,
/// with the same validation before it: required parameters present, a
/// token when an auth provider is set.
///
/// ```
/// use atp_sdk::{CallError, DynamicTool, ToolKitClient};
/// use serde_json::json;
///
/// let prices = std::collections::HashMap::from([("apple", 3), ("pear", 4)]);
/// let lookup = DynamicTool::new("price", move |mut args| {
///     let item: Result<String, _> = args.required("item");
///     let price = item.map(|item| prices.get(item.as_str()).copied());
///     async move {
///         match price? {
///             Some(price) => Ok(json!({ "price": price })),
///             None => Err(CallError::tool("no such item")),
///         }
///     }
/// })
/// .description("Looks up the price of an item.")
/// .param::<String>("item", "The item's name.");
///
/// let client = ToolKitClient::builder("key", "shop").tool(lookup).build();
/// # let _ = client;
/// ```
///
/// [`ToolKitClientBuilder::tool`]: crate::ToolKitClientBuilder::tool
#[must_use = "add the tool with ToolKitClientBuilder::tool"]
pub struct DynamicTool {
    name: String,
    description: String,
    params: Vec<ParamSpec>,
    auth: Option<OwnedAuth>,
    timeout: Option<Duration>,
    scopes: Vec<String>,
    strict_args: bool,
    deny_unknown_fields: bool,
    handler: Arc<dyn Fn(CallArgs) -> CallFuture + Send + Sync>,
    states: Vec<StateDef>,
    output_schema: Option<Value>,
}

impl fmt::Debug for DynamicTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicTool")
            .field("name", &self.name)
            .field("description", &self.description)
            .field(
                "params",
                &self.params.iter().map(|p| &p.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// The pieces of a [`DynamicTool`], for the registry.
pub(crate) struct DynamicParts {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) params: Vec<ParamSpec>,
    pub(crate) auth: Option<OwnedAuth>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) scopes: Vec<String>,
    pub(crate) strict_args: bool,
    pub(crate) deny_unknown_fields: bool,
    pub(crate) handler: Arc<dyn Fn(CallArgs) -> CallFuture + Send + Sync>,
    pub(crate) states: Vec<StateDef>,
    pub(crate) output_schema: Option<Value>,
}

impl DynamicTool {
    /// A tool named `name` whose calls run `handler`, which answers
    /// JSON (`Ok(json!(...))`) or rich content (`Ok(ToolResult::new(..))`,
    /// see [`crate::content`]).
    pub fn new<F, Fut, O>(name: impl Into<String>, handler: F) -> Self
    where
        F: Fn(CallArgs) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, CallError>> + Send + 'static,
        O: Into<Output> + 'static,
    {
        Self {
            name: name.into(),
            description: String::new(),
            params: Vec::new(),
            auth: None,
            timeout: None,
            scopes: Vec::new(),
            strict_args: false,
            deny_unknown_fields: false,
            handler: Arc::new(move |args| {
                let answer = handler(args);
                Box::pin(async move { answer.await.map(Into::into) })
            }),
            states: Vec::new(),
            output_schema: None,
        }
    }

    /// Declares that the handler reads [`State<T>`](crate::State) (with
    /// [`CallArgs::state`]): `build()` then fails, naming the tool and the
    /// type, unless the builder was given a `T` with
    /// [`state`](crate::ToolKitClientBuilder::state).
    pub fn needs_state<T: Send + Sync + 'static>(mut self) -> Self {
        self.states.push(StateDef {
            type_id: std::any::TypeId::of::<T>,
            type_name: std::any::type_name::<T>,
        });
        self
    }

    /// What the tool does, for the agent.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// A required parameter of type `T` (its JSON Schema comes from `T`).
    pub fn param<T: JsonSchema>(self, name: impl Into<String>, description: &str) -> Self {
        self.push(
            name.into(),
            ParamKind::Required,
            description,
            SchemaSource::Type(schema_of::<T>),
        )
    }

    /// An optional parameter of type `T`.
    pub fn optional_param<T: JsonSchema>(self, name: impl Into<String>, description: &str) -> Self {
        self.push(
            name.into(),
            ParamKind::Optional,
            description,
            SchemaSource::Type(schema_of::<T>),
        )
    }

    /// A parameter described by a JSON Schema you give.
    pub fn param_schema(
        self,
        name: impl Into<String>,
        schema: Value,
        required: bool,
        description: &str,
    ) -> Self {
        let kind = if required {
            ParamKind::Required
        } else {
            ParamKind::Optional
        };
        self.push(name.into(), kind, description, SchemaSource::Json(schema))
    }

    fn push(
        mut self,
        name: String,
        kind: ParamKind,
        description: &str,
        schema: SchemaSource,
    ) -> Self {
        self.params.push(ParamSpec {
            name,
            kind,
            description: (!description.is_empty()).then(|| description.to_owned()),
            schema,
        });
        self
    }

    /// The tool needs a token from `provider` (`auth_type` e.g. `"OAuth2"`,
    /// `auth_with` what the token is used as, e.g. `"access_token"`).
    pub fn auth(
        mut self,
        provider: impl Into<String>,
        auth_type: impl Into<String>,
        auth_with: Option<&str>,
    ) -> Self {
        self.auth = Some((
            provider.into(),
            auth_type.into(),
            auth_with.map(str::to_owned),
        ));
        self
    }

    /// The OAuth scopes an MCP caller's token needs for this tool, as
    /// `#[atp_tool(scopes = [...])]` (checked when MCP over HTTP runs as
    /// a resource server: without them the call is answered `403
    /// insufficient_scope`). Each is one OAuth scope token (visible ASCII,
    /// no spaces, quotes or backslashes), listed once: `build()` fails
    /// otherwise, as the macro does at compile time.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Reads the handler's arguments as sent, without the lenient
    /// conversions (`"3"` for an integer, a JSON-encoded array...), as
    /// `#[atp_tool(strict_args)]` does: see [`CallArgs::strict`].
    pub fn strict_args(mut self, strict: bool) -> Self {
        self.strict_args = strict;
        self
    }

    /// Refuses a call with an argument the tool does not take
    /// ([`CallError::UnknownParameters`]), as
    /// `#[atp_tool(deny_unknown_fields)]` does; by default such an argument
    /// is ignored.
    pub fn deny_unknown_fields(mut self, deny: bool) -> Self {
        self.deny_unknown_fields = deny;
        self
    }

    /// The tool's time limit, instead of the client's
    /// [`call_timeout`](crate::ToolKitClientBuilder::call_timeout): a call
    /// that runs longer is answered `{"error": "Tool timed out after ..."}`
    /// and its future is dropped. Clamped to 1 ms … 365 days, like the
    /// builder's limits (`Duration::MAX` means "no limit" in practice).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(crate::config::clamp(limit));
        self
    }

    /// The JSON Schema of what the tool answers: MCP's `outputSchema`
    /// (an object schema; other ones only to clients of MCP 2026-07-28 on).
    /// The answers' structured data should validate against it: clients
    /// check.
    ///
    /// ```
    /// use atp_sdk::DynamicTool;
    /// let tool = DynamicTool::new("sum", |_| async { Ok(serde_json::json!({"sum": 3})) })
    ///     .output_schema(serde_json::json!({
    ///         "type": "object",
    ///         "properties": {"sum": {"type": "integer"}},
    ///         "required": ["sum"],
    ///     }));
    /// # let _ = tool;
    /// ```
    pub fn output_schema(mut self, schema: Value) -> Self {
        self.output_schema = Some(schema);
        self
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks what the macro checks at compile time.
    pub(crate) fn check(&self) -> Result<(), Error> {
        let bad = |why: String| Err(Error::Config(format!("tool `{}`: {why}", self.name)));
        // The names OpenAI, Anthropic and Gemini all take.
        let valid_name = |n: &str| {
            (1..=64).contains(&n.len())
                && n.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !valid_name(&self.name) {
            return bad(
                "a tool name must be 1 to 64 characters among `a-z A-Z 0-9 _ -`, \
                 starting with a letter or `_` (the names OpenAI, Anthropic and Gemini all take)"
                    .to_owned(),
            );
        }
        for (i, param) in self.params.iter().enumerate() {
            if RESERVED.contains(&param.name.as_str()) {
                return bad(format!(
                    "a parameter can't be named `{}`: the platform injects the token (see DynamicTool::auth)",
                    param.name
                ));
            }
            if param.name.is_empty() {
                return bad("a parameter name is empty".to_owned());
            }
            if self.params[..i].iter().any(|p| p.name == param.name) {
                return bad(format!("the parameter `{}` is declared twice", param.name));
            }
        }
        for (i, scope) in self.scopes.iter().enumerate() {
            if !crate::principal::valid_scope(scope) {
                return bad(format!(
                    "the scope {scope:?}: {}",
                    crate::principal::SCOPE_RULE
                ));
            }
            if self.scopes[..i].contains(scope) {
                return bad(format!("the scope {scope:?} is listed twice"));
            }
        }
        Ok(())
    }

    pub(crate) fn into_parts(self) -> DynamicParts {
        DynamicParts {
            name: self.name,
            description: self.description,
            params: self.params,
            auth: self.auth,
            timeout: self.timeout,
            scopes: self.scopes,
            strict_args: self.strict_args,
            deny_unknown_fields: self.deny_unknown_fields,
            handler: self.handler,
            states: self.states,
            output_schema: self.output_schema,
        }
    }
}
