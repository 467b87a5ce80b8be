//! JSON params → typed arguments, with the contract's error texts.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::context::Context;
use crate::error::CallError;
use crate::secret::AuthToken;
use crate::state::{State, States};

/// The arguments of one call: the request's `params` object, its token,
/// the call's [`Context`] and the toolkit's shared [`State`]s.
///
/// Generated code takes each parameter out of it with the method that fits
/// the parameter's kind; the runtime has already checked that required
/// parameters are present and that a tool with an auth provider has a
/// token.
#[derive(Debug, Default)]
pub struct CallArgs {
    params: Map<String, Value>,
    token: Option<AuthToken>,
    context: Option<Context>,
    states: Option<Arc<States>>,
    /// Values read as sent (`#[atp_tool(strict_args)]`), without the
    /// lenient conversions.
    strict: bool,
}

impl CallArgs {
    /// Arguments from a params object and an optional token (handy to
    /// test a [`DynamicTool`](crate::DynamicTool)'s handler).
    pub fn new(params: Map<String, Value>, token: Option<AuthToken>) -> Self {
        Self {
            params,
            token,
            context: None,
            states: None,
            strict: false,
        }
    }

    /// Reads values as sent, without the lenient conversions (`"3"` for
    /// an integer, a JSON-encoded array...): what
    /// `#[atp_tool(strict_args)]` asks for. A whole float for an integer
    /// (`7.0`) is taken either way, as JSON Schema's `integer` allows it.
    ///
    /// ```
    /// use atp_sdk::CallArgs;
    /// use serde_json::json;
    ///
    /// let params = json!({"limit": "3"}).as_object().unwrap().clone();
    /// assert_eq!(CallArgs::new(params.clone(), None).required::<u32>("limit").unwrap(), 3);
    /// let err = CallArgs::new(params, None).strict(true).required::<u32>("limit").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "Invalid parameter 'limit': expected an integer from 0 to 4294967295, got \"3\""
    /// );
    /// ```
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// The same, for a call with this context (if the tool takes one)
    /// and these states.
    pub(crate) fn attach(&mut self, context: Option<Context>, states: Arc<States>, strict: bool) {
        self.context = context;
        self.states = Some(states);
        self.strict = strict;
    }

    /// Reads the request's `params`: an object, or nothing (absent, `null`
    /// or `""`, which some LLM routers send). A string holding a JSON
    /// object is accepted too.
    pub(crate) fn from_request(params: Value, token: Option<AuthToken>) -> Result<Self, CallError> {
        let params = match params {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            Value::String(text) if text.trim().is_empty() => Map::new(),
            Value::String(text) => match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(map)) => map,
                _ => return Err(CallError::InvalidParams("a string".to_owned())),
            },
            Value::Array(_) => return Err(CallError::InvalidParams("an array".to_owned())),
            Value::Bool(_) => return Err(CallError::InvalidParams("a boolean".to_owned())),
            Value::Number(_) => return Err(CallError::InvalidParams("a number".to_owned())),
        };
        let token = token.filter(|t| !t.is_empty());
        Ok(Self::new(params, token))
    }

    /// The params and the token, taken apart.
    pub(crate) fn into_parts(self) -> (Map<String, Value>, Option<AuthToken>) {
        (self.params, self.token)
    }

    /// Checks what can be checked before the call: every required
    /// parameter present and not null (in declaration order), and a token
    /// for a tool with an auth provider.
    pub(crate) fn validate(&self, required: &[String], needs_token: bool) -> Result<(), CallError> {
        if let Some(missing) = required.iter().find(|name| self.is_absent(name)) {
            return Err(CallError::MissingParameter(missing.clone()));
        }
        if needs_token && self.token.is_none() {
            return Err(CallError::MissingAuthToken);
        }
        Ok(())
    }

    /// The names of the arguments sent.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.params.keys().map(String::as_str)
    }

    fn is_absent(&self, name: &str) -> bool {
        matches!(self.params.get(name), None | Some(Value::Null))
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        match self.params.remove(name) {
            None | Some(Value::Null) => None,
            Some(value) => Some(value),
        }
    }

    /// Reads a parameter's value (leniently unless [`strict`](Self::strict));
    /// an error names the path inside it: `filter.tags[2]`.
    fn decode<T: DeserializeOwned>(&self, name: &str, value: Value) -> Result<T, CallError> {
        crate::lenient::decode(value, self.strict).map_err(|(path, reason)| {
            let name = match path.chars().next() {
                None => name.to_owned(),
                Some('[') => format!("{name}{path}"),
                Some(_) => format!("{name}.{path}"),
            };
            CallError::InvalidParameter { name, reason }
        })
    }

    /// A required parameter.
    pub fn required<T: DeserializeOwned>(&mut self, name: &str) -> Result<T, CallError> {
        match self.take(name) {
            Some(value) => self.decode(name, value),
            None => Err(CallError::MissingParameter(name.to_owned())),
        }
    }

    /// An `Option<T>` parameter: absent or null is `None`.
    pub fn optional<T: DeserializeOwned>(&mut self, name: &str) -> Result<Option<T>, CallError> {
        self.take(name).map(|v| self.decode(name, v)).transpose()
    }

    /// A parameter left out of `required`: absent or null is the default.
    pub fn or_default<T: DeserializeOwned + Default>(
        &mut self,
        name: &str,
    ) -> Result<T, CallError> {
        match self.take(name) {
            Some(value) => self.decode(name, value),
            None => Ok(T::default()),
        }
    }

    /// The request's token, if it has one that is not empty.
    pub(crate) fn token(&self) -> Option<&AuthToken> {
        self.token.as_ref()
    }

    /// The request's token (present and not empty).
    pub fn take_token(&mut self) -> Result<AuthToken, CallError> {
        self.token.take().ok_or(CallError::MissingAuthToken)
    }

    /// The call's [`Context`]; outside a toolkit (arguments made with
    /// [`CallArgs::new`]), a [detached](Context::detached) one.
    pub fn context(&self) -> Context {
        self.context
            .clone()
            .unwrap_or_else(|| Context::detached("<detached>"))
    }

    /// The toolkit's [`State<T>`], given to the builder with
    /// [`state`](crate::ToolKitClientBuilder::state).
    ///
    /// # Errors
    ///
    /// When no `T` was given (a [`DynamicTool`](crate::DynamicTool) that
    /// declares it with [`needs_state`](crate::DynamicTool::needs_state)
    /// can't get here: `build()` refuses to start without it).
    pub fn state<T: Send + Sync + 'static>(&self) -> Result<State<T>, CallError> {
        self.states
            .as_ref()
            .and_then(|states| states.get::<T>())
            .ok_or_else(|| {
                CallError::Tool(format!(
                    "State<{}> was not given to the toolkit: add it with .state(...)",
                    std::any::type_name::<T>()
                ))
            })
    }
}
