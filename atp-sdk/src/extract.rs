//! What a tool takes besides its JSON parameters: [`FromCall`], the one
//! trait the macro asks the compiler about for every argument.
//!
//! A type with a JSON Schema that serde can read (`String`, `u32`, your
//! `#[derive(Deserialize, JsonSchema)]` struct) is a parameter, through the
//! blanket implementation. Anything else an argument can be implements
//! [`FromCall`] itself: [`AuthToken`], [`Context`], [`State<T>`] here, and
//! your own types (a tenant read from the token, a connection drawn from a
//! pool). The macro never looks at a type's name.

use schemars::{Schema, SchemaGenerator};

use crate::context::Context;
use crate::error::CallError;
use crate::params::CallArgs;
use crate::secret::AuthToken;
use crate::state::State;
use crate::tool::{ParamDef, ParamKind, ParamSchema, ParamValue, SharedState, StateDef};

/// A tool argument the toolkit fills in from the call, not from the
/// arguments the agent sent: axum's `FromRequestParts`, rmcp's
/// `FromContextPart`.
///
/// [`AuthToken`], [`Context`] and [`State<T>`] implement it; so can your
/// own types. An `#[atp_tool]` function takes any mix of these and of JSON
/// parameters, in any order; what is which is decided by this trait, not
/// by the type's name (your own type called `State` is a parameter like
/// any other).
///
/// Every type that serde can read and that has a JSON Schema implements it
/// too, as a parameter, so a type of yours is one or the other: derive
/// `Deserialize` and `JsonSchema` for a parameter, or implement
/// `FromCall` for an argument the toolkit makes.
///
/// An error ([`Rejection`](FromCall::Rejection)) is the call's answer,
/// as a tool's `Err` would be; the tool doesn't run.
///
/// # Example
///
/// A tenant read from the caller's token, and a connection drawn from a
/// pool shared as a [`State`]:
///
/// ```
/// use atp_sdk::{CallError, CallParts, FromCall, State, atp_tool};
///
/// /// The tenant a call acts for: the part of the token before the first `.`.
/// struct Tenant(String);
///
/// impl FromCall for Tenant {
///     type Rejection = CallError;
///
///     fn from_call(call: &CallParts<'_>) -> Result<Self, CallError> {
///         let token = call.token().ok_or(CallError::MissingAuthToken)?;
///         match token.as_str().split_once('.') {
///             Some((tenant, _)) => Ok(Tenant(tenant.to_owned())),
///             None => Err(CallError::Tool("the token names no tenant".into())),
///         }
///     }
/// }
///
/// /// A pool of connections (here, numbered ones).
/// #[derive(Default)]
/// struct Pool(std::sync::atomic::AtomicU32);
///
/// /// One connection, drawn from the `State<Pool>` for the call.
/// struct Conn(u32);
///
/// impl FromCall for Conn {
///     type Rejection = CallError;
///
///     fn from_call(call: &CallParts<'_>) -> Result<Self, CallError> {
///         let pool: State<Pool> = call.state()?;
///         Ok(Conn(pool.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed)))
///     }
/// }
///
/// /// Lists the deals at a stage.
/// #[atp_tool(auth_provider = "crm")]
/// fn list_deals(stage: String, tenant: Tenant, conn: Conn) -> String {
///     format!("{stage} deals of {} on connection {}", tenant.0, conn.0)
/// }
///
/// # fn main() {
/// let tool = atp_sdk::registered_tools().find(|t| t.name == "list_deals").unwrap();
/// // Only `stage` is a parameter the agent sees.
/// assert_eq!(tool.required_params(), ["stage"]);
/// # }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be a tool argument: derive `serde::Deserialize` and `schemars::JsonSchema` for a parameter, or implement `atp_sdk::FromCall` for a value the toolkit makes",
    label = "neither a parameter nor made by the toolkit",
    note = "a parameter is read from JSON and described by a JSON Schema (`serde_json::Value` takes anything); a `State<T>` needs `T: Send + Sync + 'static`"
)]
pub trait FromCall: Sized {
    /// Why the value could not be made; the call's answer.
    type Rejection: Into<CallError>;

    /// Makes the value for one call.
    ///
    /// # Errors
    ///
    /// The [`Rejection`](FromCall::Rejection), answered instead of calling
    /// the tool.
    fn from_call(call: &CallParts<'_>) -> Result<Self, Self::Rejection>;

    /// `Some` for a JSON parameter: its JSON Schema. Not public API.
    #[doc(hidden)]
    const __SCHEMA: Option<fn(&mut SchemaGenerator) -> Schema> = None;

    /// The [`State<T>`] this argument is (checked by `build()`). Not public API.
    #[doc(hidden)]
    const __STATE: Option<StateDef> = None;

    /// Whether the call's [`Context`] must be made for this argument (the
    /// SDK's own arguments that don't read it say no). Not public API.
    #[doc(hidden)]
    const __CONTEXT: bool = true;

    /// Said when a tool takes two of this type. Not public API.
    #[doc(hidden)]
    const __ONLY_ONE: Option<&'static str> = None;

    /// Whether this argument reads the request's token (a tool that takes
    /// one needs `auth_provider`). Not public API.
    #[doc(hidden)]
    const __TOKEN: bool = false;

    /// The argument named `name`: a parameter read from the arguments, or
    /// [`from_call`](FromCall::from_call). Not public API.
    #[doc(hidden)]
    fn __from_argument(args: &mut CallArgs, name: &str) -> Result<Self, CallError> {
        let _ = name;
        Self::from_call(&CallParts { args }).map_err(Into::into)
    }
}

/// What a [`FromCall`] type can read of a call: the request's token, the
/// call's [`Context`] and the toolkit's [`State`]s.
///
/// ```
/// use atp_sdk::{AuthToken, CallArgs, CallParts};
///
/// let args = CallArgs::new(Default::default(), Some(AuthToken::new("acme.secret")));
/// let call = CallParts::of(&args);
/// assert_eq!(call.token().map(AuthToken::as_str), Some("acme.secret"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CallParts<'a> {
    args: &'a CallArgs,
}

impl<'a> CallParts<'a> {
    /// The parts of a call's arguments (handy to test a [`FromCall`]).
    pub fn of(args: &'a CallArgs) -> Self {
        Self { args }
    }

    /// The request's token, if it has one that is not empty.
    pub fn token(&self) -> Option<&'a AuthToken> {
        self.args.token()
    }

    /// The call's [`Context`] (a [detached](Context::detached) one outside
    /// a toolkit).
    pub fn context(&self) -> Context {
        self.args.context()
    }

    /// The toolkit's [`State<T>`].
    ///
    /// # Errors
    ///
    /// When the toolkit was given no `T` with
    /// [`state`](crate::ToolKitClientBuilder::state).
    pub fn state<T: Send + Sync + 'static>(&self) -> Result<State<T>, CallError> {
        self.args.state()
    }
}

/// A JSON parameter: read from the arguments by name.
impl<T: ParamValue + ParamSchema> FromCall for T {
    type Rejection = CallError;

    fn from_call(_: &CallParts<'_>) -> Result<Self, CallError> {
        Err(CallError::Tool(format!(
            "{} is a parameter: it is read from the arguments by name",
            std::any::type_name::<T>()
        )))
    }

    const __SCHEMA: Option<fn(&mut SchemaGenerator) -> Schema> = Some(crate::tool::schema_of::<T>);
    const __CONTEXT: bool = false;

    fn __from_argument(args: &mut CallArgs, name: &str) -> Result<Self, CallError> {
        args.required(name)
    }
}

/// The request's token (the tool needs `auth_provider = "..."`).
impl FromCall for AuthToken {
    type Rejection = CallError;

    fn from_call(call: &CallParts<'_>) -> Result<Self, CallError> {
        call.token().cloned().ok_or(CallError::MissingAuthToken)
    }

    const __CONTEXT: bool = false;
    const __ONLY_ONE: Option<&'static str> =
        Some("only one `AuthToken` parameter is allowed: it receives the request's token");
    const __TOKEN: bool = true;
}

/// The call's [`Context`].
impl FromCall for Context {
    type Rejection = CallError;

    fn from_call(call: &CallParts<'_>) -> Result<Self, CallError> {
        Ok(call.context())
    }

    const __ONLY_ONE: Option<&'static str> =
        Some("only one `Context` parameter is allowed: it describes the call");
}

/// The toolkit's shared `T`, checked by `build()` to have been given.
impl<T: SharedState> FromCall for State<T> {
    type Rejection = CallError;

    fn from_call(call: &CallParts<'_>) -> Result<Self, CallError> {
        call.state()
    }

    const __STATE: Option<StateDef> = Some(StateDef {
        type_id: std::any::TypeId::of::<T>,
        type_name: std::any::type_name::<T>,
    });
    const __CONTEXT: bool = false;
}

/// A parameter left out of an explicit `required` list: for a JSON
/// parameter, absent or null is `Default::default()`; anything else is
/// made as always. `PARAM` is the argument's `FromCall::__SCHEMA.is_some()`.
#[doc(hidden)]
pub trait Defaulted<const PARAM: bool>: Sized {
    /// The argument named `name`.
    fn take(args: &mut CallArgs, name: &str) -> Result<Self, CallError>;
}

impl<T: FromCall> Defaulted<false> for T {
    fn take(args: &mut CallArgs, name: &str) -> Result<Self, CallError> {
        T::__from_argument(args, name)
    }
}

impl<T: ParamValue + ParamSchema + ParamDefault> Defaulted<true> for T {
    fn take(args: &mut CallArgs, name: &str) -> Result<Self, CallError> {
        args.or_default(name)
    }
}

/// A type a parameter left out of `required` can have.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is left out of `required`, so it needs a `Default`",
    label = "absent or null means `Default::default()`",
    note = "derive or implement `Default`, list the parameter in `required`, or make it an `Option`"
)]
pub trait ParamDefault: Default {}

impl<T: Default> ParamDefault for T {}

/// One argument of a tool function, as the registration sees it.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct ArgDef {
    /// `Some` for a JSON parameter.
    pub param: Option<ParamDef>,
    /// `Some` for a `State<T>`.
    pub state: Option<StateDef>,
    /// Whether the call's `Context` must be made.
    pub context: bool,
    /// Whether it reads the request's token.
    pub token: bool,
    /// Said when a tool takes two of its type.
    pub only_one: Option<&'static str>,
}

/// How one argument of type `T` is taken from a call's arguments.
#[doc(hidden)]
pub type Take<T> = fn(&mut CallArgs, &str) -> Result<T, CallError>;

/// A tool's arguments, for the registration (`defs`) and the extraction
/// (`take`, a tuple of [`Take`]s), written as one const so that the
/// compiler, asked once per argument type whether it is a `FromCall`,
/// reports a type that is not once.
#[doc(hidden)]
#[derive(Debug)]
pub struct Args<T: 'static> {
    /// One [`ArgDef`] per argument.
    pub defs: &'static [ArgDef],
    /// One [`Take`] per argument.
    pub take: T,
}

/// The [`ArgDef`] of an argument of type `T` (not an `Option<_>`).
#[doc(hidden)]
pub const fn arg<T: FromCall>(
    name: &'static str,
    description: Option<&'static str>,
    kind: ParamKind,
) -> ArgDef {
    ArgDef {
        param: match T::__SCHEMA {
            Some(schema) => Some(ParamDef {
                name,
                description,
                kind,
                schema,
            }),
            None => None,
        },
        state: T::__STATE,
        context: T::__CONTEXT,
        token: T::__TOKEN,
        only_one: T::__ONLY_ONE,
    }
}

/// The [`ArgDef`] of an `Option<T>` parameter.
#[doc(hidden)]
pub const fn optional_arg<T: ParamSchema>(
    name: &'static str,
    description: Option<&'static str>,
) -> ArgDef {
    ArgDef {
        param: Some(ParamDef {
            name,
            description,
            kind: ParamKind::Optional,
            schema: crate::tool::schema_of::<T>,
        }),
        state: None,
        context: false,
        token: false,
        only_one: None,
    }
}

/// How many of `args` are JSON parameters.
#[doc(hidden)]
pub const fn param_count(args: &[ArgDef]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < args.len() {
        if args[i].param.is_some() {
            n += 1;
        }
        i += 1;
    }
    n
}

/// How many of `args` are `State<T>`s.
#[doc(hidden)]
pub const fn state_count(args: &[ArgDef]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < args.len() {
        if args[i].state.is_some() {
            n += 1;
        }
        i += 1;
    }
    n
}

/// Whether any of `args` needs the call's `Context`.
#[doc(hidden)]
pub const fn takes_context(args: &[ArgDef]) -> bool {
    let mut i = 0;
    while i < args.len() {
        if args[i].context {
            return true;
        }
        i += 1;
    }
    false
}

/// The JSON parameters among `args`, in order (`N` is their
/// [`param_count`]).
#[doc(hidden)]
pub const fn params<const N: usize>(args: &[ArgDef]) -> [ParamDef; N] {
    const NONE: ParamDef = ParamDef {
        name: "",
        description: None,
        kind: ParamKind::Required,
        schema: crate::tool::schema_of::<()>,
    };
    let mut out = [NONE; N];
    let mut n = 0;
    let mut i = 0;
    while i < args.len() {
        if let Some(param) = args[i].param {
            out[n] = param;
            n += 1;
        }
        i += 1;
    }
    out
}

/// The `State<T>`s among `args`, in order (`N` is their [`state_count`]).
#[doc(hidden)]
pub const fn states<const N: usize>(args: &[ArgDef]) -> [StateDef; N] {
    const NONE: StateDef = StateDef {
        type_id: std::any::TypeId::of::<()>,
        type_name: std::any::type_name::<()>,
    };
    let mut out = [NONE; N];
    let mut n = 0;
    let mut i = 0;
    while i < args.len() {
        if let Some(state) = args[i].state {
            out[n] = state;
            n += 1;
        }
        i += 1;
    }
    out
}
