//! [`Context`]: what a tool may know about the call it serves, and whether
//! anybody still waits for it.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::asking::{Answer, Elicitation, Sampling};
use crate::cancel::Cancel;
use crate::error::CallError;
use crate::principal::Principal;
use crate::protocol::RequestId;

/// The call a tool serves: take one as a parameter of an `#[atp_tool]`
/// function (it is not a tool parameter the agent sees).
///
/// A call is *cancelled* when nobody waits for its result any more: it ran
/// past its time limit (the caller was already answered `Tool timed out
/// after ...`), the toolkit is stopping and its shutdown deadline passed,
/// or (over MCP) the client cancelled the request. An `async fn` tool is
/// dropped at that point anyway; a plain `fn` can't be, so a long one
/// should poll [`is_cancelled`](Self::is_cancelled) and return early: its
/// running slot is released when it returns.
///
/// Each call also runs inside a `tracing` span named `call` with the
/// fields `tool` and `request_id`, so the tool's own log lines are tied to
/// the call.
///
/// A tool can also *talk to its caller* while it runs:
/// [`progress`](Self::progress) and [`log`](Self::log). Over MCP they are
/// the client's `notifications/progress` (when the request carried a
/// progress token) and `notifications/message` (at or above the level the
/// client set with `logging/setLevel`; `info` until it sets one); over ATP,
/// which has neither, they are `tracing` events of the call. Both are
/// cheap and never block, from a plain `fn` as from an `async fn`.
///
/// ```
/// use atp_sdk::{atp_tool, Context};
///
/// /// Counts to `n`, slowly, as long as somebody waits.
/// #[atp_tool(timeout = "30s")]
/// fn count(n: u64, ctx: Context) -> Result<u64, String> {
///     for i in 0..n {
///         if ctx.is_cancelled() {
///             return Err(format!("gave up at {i}"));
///         }
///         std::thread::sleep(std::time::Duration::from_millis(10));
///     }
///     tracing::info!(n, "counted"); // logged with tool=count and the request id
///     Ok(n)
/// }
///
/// fn main() {
///     // Outside a toolkit (say, in a unit test), a detached context:
///     let ctx = Context::detached("count");
///     assert_eq!(count(3, ctx.clone()), Ok(3));
///     assert_eq!(ctx.tool(), "count");
///     assert!(!ctx.is_cancelled());
/// }
/// ```
#[derive(Clone)]
pub struct Context(Arc<Inner>);

struct Inner {
    request_id: RequestId,
    tool: Arc<str>,
    app_name: Arc<str>,
    deadline: Instant,
    /// This call's own cancellation (its time limit, an MCP cancel).
    call: Cancel,
    /// The toolkit's: its shutdown deadline passed.
    shutdown: Cancel,
    /// Who the call was made for (MCP over HTTP as a resource server).
    principal: Option<Principal>,
    /// Where progress and log lines go besides `tracing` (MCP).
    talk: Option<Arc<dyn TalkBack>>,
    /// The last progress sent: a value that does not increase is dropped.
    progress: Mutex<Option<f64>>,
}

/// What a [`Context`] is made of (see [`Inner`]).
pub(crate) struct ContextParts {
    pub(crate) request_id: RequestId,
    pub(crate) tool: Arc<str>,
    pub(crate) app_name: Arc<str>,
    pub(crate) deadline: Instant,
    pub(crate) call: Cancel,
    pub(crate) shutdown: Cancel,
    pub(crate) principal: Option<Principal>,
    pub(crate) talk: Option<Arc<dyn TalkBack>>,
}

/// A request to the caller, answered later.
pub(crate) type Asked<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, CallError>> + Send + 'a>>;

/// How a link carries what a call says and asks to its caller (MCP's
/// notifications and server-to-client requests). Saying never blocks and
/// keeps its order.
pub(crate) trait TalkBack: Send + Sync {
    /// `notifications/progress`, if the request asked for progress.
    fn progress(&self, progress: f64, total: Option<f64>, message: Option<String>);
    /// `notifications/message`, if the caller's level lets it through.
    fn log(&self, level: LogLevel, message: String);
    /// `elicitation/create` with `schema` (checked against the subset MCP
    /// allows here), for the tool `tool` asking for `what`.
    fn elicit(&self, message: String, schema: Value, what: String) -> Asked<'_, Answer>;
    /// `sampling/createMessage`: the text of the model's answer.
    fn sample(&self, request: &Sampling) -> Asked<'_, String>;
}

/// The severity of a line a tool logs to its caller with
/// [`Context::log`]: MCP's levels (the syslog ones, RFC 5424), least
/// severe first.
///
/// ```
/// use atp_sdk::LogLevel;
/// assert!(LogLevel::Warning > LogLevel::Info);
/// assert_eq!(LogLevel::Notice.as_str(), "notice");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum LogLevel {
    /// Detailed information for debugging.
    Debug,
    /// Progress and the normal course of things.
    Info,
    /// Normal but significant.
    Notice,
    /// Something may be wrong.
    Warning,
    /// Something failed.
    Error,
    /// A critical condition.
    Critical,
    /// Action must be taken at once.
    Alert,
    /// The system is unusable.
    Emergency,
}

impl LogLevel {
    /// The level's name on the wire (`"debug"` ... `"emergency"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Notice => "notice",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
            Self::Alert => "alert",
            Self::Emergency => "emergency",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Context {
    pub(crate) fn new(parts: ContextParts) -> Self {
        let ContextParts {
            request_id,
            tool,
            app_name,
            deadline,
            call,
            shutdown,
            principal,
            talk,
        } = parts;
        Self(Arc::new(Inner {
            request_id,
            tool,
            app_name,
            deadline,
            call,
            shutdown,
            principal,
            talk,
            progress: Mutex::new(None),
        }))
    }

    /// A context for calling a tool function outside a toolkit (tests,
    /// your own code): request id `"detached"`, no time limit to speak of,
    /// never cancelled.
    pub fn detached(tool: &str) -> Self {
        Self::new(ContextParts {
            request_id: RequestId::from("detached"),
            tool: Arc::from(tool),
            app_name: Arc::from(""),
            deadline: Instant::now() + crate::config::MAX_DURATION,
            call: Cancel::new(),
            shutdown: Cancel::new(),
            principal: None,
            talk: None,
        })
    }

    /// Who the call was made for: the subject and claims of the access
    /// token an MCP client presented, when MCP over HTTP runs as an OAuth
    /// resource server (see [`oauth`](crate::oauth), feature `mcp-http`).
    /// `None` over ATP, over MCP stdio, and without a resource server.
    pub fn principal(&self) -> Option<&Principal> {
        self.0.principal.as_ref()
    }

    /// The request's id, as the server sent it.
    pub fn request_id(&self) -> &RequestId {
        &self.0.request_id
    }

    /// The tool's name.
    pub fn tool(&self) -> &str {
        &self.0.tool
    }

    /// The toolkit's name (its `app_name`).
    pub fn app_name(&self) -> &str {
        &self.0.app_name
    }

    /// When the call's time limit ends (the wait for a running slot
    /// counted in).
    pub fn deadline(&self) -> Instant {
        self.0.deadline
    }

    /// Whether nobody waits for this call's result any more.
    pub fn is_cancelled(&self) -> bool {
        self.0.call.is_fired() || self.0.shutdown.is_fired()
    }

    /// Reports how far the call has come: `progress` of `total` (when
    /// known), with an optional message. Over MCP it is a
    /// `notifications/progress` to the client, if its request carried a
    /// `progressToken` (nothing is sent without one); over ATP a DEBUG
    /// `tracing` event of the call. A value that does not increase on the
    /// last one is dropped, as MCP requires. Never blocks.
    ///
    /// ```
    /// use atp_sdk::{atp_tool, Context};
    ///
    /// /// Imports the rows, reporting each tenth.
    /// #[atp_tool]
    /// fn import(rows: Vec<String>, ctx: Context) -> usize {
    ///     let total = rows.len() as f64;
    ///     for (i, _row) in rows.iter().enumerate() {
    ///         if i % 10 == 0 {
    ///             ctx.progress(i as f64, Some(total), Some("importing"));
    ///         }
    ///     }
    ///     ctx.progress(total, Some(total), None);
    ///     rows.len()
    /// }
    /// # fn main() { assert_eq!(import(vec!["a".into()], Context::detached("import")), 1); }
    /// ```
    pub fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        {
            let mut last = self
                .0
                .progress
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if !progress.is_finite() || last.is_some_and(|last| progress <= last) {
                return;
            }
            *last = Some(progress);
        }
        tracing::debug!(progress, total, message, "progress");
        if let Some(talk) = &self.0.talk {
            talk.progress(progress, total, message.map(str::to_owned));
        }
    }

    /// Logs a line to the caller. Over MCP it is a `notifications/message`
    /// (logger: the tool's name) when `level` is at or above the one the
    /// client set with `logging/setLevel` (`info` until it sets one); it
    /// is always a `tracing` event of the call too (DEBUG as `debug`, INFO
    /// as `info` and `notice`, WARN as `warning`, ERROR above), which is
    /// all it is over ATP. Never blocks.
    ///
    /// ```
    /// use atp_sdk::{atp_tool, Context, LogLevel};
    ///
    /// /// Cleans the cache.
    /// #[atp_tool]
    /// async fn clean(ctx: Context) -> String {
    ///     ctx.log(LogLevel::Notice, "cache cleaned: 3 entries");
    ///     "cleaned".into()
    /// }
    /// # fn main() {}
    /// ```
    pub fn log(&self, level: LogLevel, message: impl Into<String>) {
        let message = message.into();
        match level {
            LogLevel::Debug => tracing::debug!(level = %level, "{message}"),
            LogLevel::Info | LogLevel::Notice => tracing::info!(level = %level, "{message}"),
            LogLevel::Warning => tracing::warn!(level = %level, "{message}"),
            _ => tracing::error!(level = %level, "{message}"),
        }
        if let Some(talk) = &self.0.talk {
            talk.log(level, message);
        }
    }

    /// Asks the user for a `T` (MCP's `elicitation/create`, with `T`'s
    /// schema), and waits for the answer: [`Elicitation::Accept`] with
    /// what they gave, `Decline` or `Cancel`. `T` is a flat object of
    /// strings, numbers, booleans, enums and arrays of enums (what MCP
    /// allows a client to ask for); its doc comments, defaults
    /// (`#[serde(default = ...)]`) and titled variants carry over.
    ///
    /// # Errors
    ///
    /// [`CallError::Unsupported`] over ATP, which can't ask the user, and
    /// from an MCP client without the `elicitation` capability;
    /// [`CallError::Tool`] when `T`'s schema is outside the subset (the
    /// text names the tool and `T`), the client's answer does not read as
    /// a `T`, or the request failed. `?` makes any of them the call's
    /// answer. See [`Elicitation`] for an example.
    pub async fn elicit<T: DeserializeOwned + schemars::JsonSchema>(
        &self,
        message: &str,
    ) -> Result<Elicitation<T>, CallError> {
        let what = format!("`{}`", std::any::type_name::<T>());
        let answer = self
            .ask(message, crate::asking::schema_for::<T>(), what.clone())
            .await?;
        Ok(match answer {
            Elicitation::Accept(value) => {
                Elicitation::Accept(serde_json::from_value(value).map_err(|err| {
                    CallError::Tool(format!("the user's answer does not read as {what}: {err}"))
                })?)
            }
            Elicitation::Decline => Elicitation::Decline,
            Elicitation::Cancel => Elicitation::Cancel,
        })
    }

    /// [`elicit`](Self::elicit) with a schema written by hand (a JSON
    /// Schema object of the subset MCP allows); the answer as JSON.
    ///
    /// # Errors
    ///
    /// As for [`elicit`](Self::elicit).
    pub async fn elicit_with_schema(
        &self,
        message: &str,
        schema: Value,
    ) -> Result<Elicitation<Value>, CallError> {
        self.ask(message, schema, "its schema".to_owned()).await
    }

    async fn ask(
        &self,
        message: &str,
        schema: Value,
        what: String,
    ) -> Result<Elicitation<Value>, CallError> {
        let Some(talk) = &self.0.talk else {
            return Err(CallError::Unsupported(format!(
                "the tool {} asked the user for input, which needs MCP (elicitation): this call \
                 came over ATP",
                self.0.tool
            )));
        };
        let what = format!("the tool {} asks the user for {what}", self.0.tool);
        Ok(match talk.elicit(message.to_owned(), schema, what).await? {
            Answer::Accept(value) => Elicitation::Accept(value),
            Answer::Decline => Elicitation::Decline,
            Answer::Cancel => Elicitation::Cancel,
        })
    }

    /// Asks the caller's model for a completion (MCP's
    /// `sampling/createMessage`) and returns the text of its answer. A
    /// `&str` is a prompt with the defaults; a [`Sampling`] says more.
    ///
    /// ```
    /// use atp_sdk::{atp_tool, CallError, Context, Sampling};
    ///
    /// /// Names a release.
    /// #[atp_tool]
    /// async fn release_name(version: String, ctx: Context) -> Result<String, CallError> {
    ///     let request = Sampling::new(format!("One word to name release {version}")).max_tokens(10);
    ///     ctx.sample(request).await
    /// }
    /// # fn main() {}
    /// ```
    ///
    /// # Errors
    ///
    /// [`CallError::Unsupported`] over ATP, and from an MCP client
    /// without the `sampling` capability; [`CallError::Tool`] when the
    /// request failed or the answer holds no text.
    pub async fn sample(&self, request: impl Into<Sampling>) -> Result<String, CallError> {
        let request = request.into();
        match &self.0.talk {
            Some(talk) => talk.sample(&request).await,
            None => Err(CallError::Unsupported(format!(
                "the tool {} asked for a completion from the caller's model, which needs MCP \
                 (sampling): this call came over ATP",
                self.0.tool
            ))),
        }
    }

    /// Resolves when the call is cancelled (see the type's docs). An
    /// `async fn` tool rarely needs it: its future is dropped then anyway.
    /// Useful to stop work handed to other tasks.
    pub async fn cancelled(&self) {
        tokio::select! {
            () = self.0.call.fired() => {}
            () = self.0.shutdown.fired() => {}
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("request_id", &self.0.request_id)
            .field("tool", &self.0.tool)
            .field("app_name", &self.0.app_name)
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}
