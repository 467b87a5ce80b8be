//! The MCP server: `tools/list` from the registry, `tools/call` through
//! the same dispatcher as ATP calls (validation, time limits, concurrency,
//! state, context), and each reply as an MCP tool result.

use std::sync::Arc;

#[allow(deprecated)] // logging/setLevel: see `talk.rs`
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeRequestParams, InitializeResult, ListToolsResult, PaginatedRequestParams,
    ServerCapabilities, ServerConfig, SetLevelRequestParams, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData, ServerHandler};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::cancel::Cancel;
use crate::context::TalkBack;
use crate::dispatch::{Caller, Dispatcher};
use crate::error::CallError;
#[cfg(feature = "mcp-http")]
use crate::oauth::Upstream;
use crate::principal::Principal;
use crate::protocol::{RequestId, ToolRequest};
use crate::secret::AuthToken;
use crate::tool::CallResult;

use super::rounds::{Rounds, Running, Step};
use super::talk::{Asking, McpTalk, SessionLevel};

/// Where a tool's token comes from.
#[derive(Debug, Clone)]
pub(crate) enum Tokens {
    /// The one the process was given (`ATP_AUTH_TOKEN`, over stdio).
    #[cfg(feature = "mcp-stdio")]
    Fixed(Option<AuthToken>),
    /// Over HTTP: none, the principal's from a [`TokenSource`](crate::oauth::TokenSource),
    /// or (loopback only, chosen) the client's bearer passed on.
    #[cfg(feature = "mcp-http")]
    Http(Upstream),
}

/// Serves the dispatcher's tools over MCP. Cheap to clone: one per MCP
/// session over HTTP.
#[derive(Clone)]
pub(crate) struct McpTools {
    dispatcher: Dispatcher,
    tools: Arc<[Tool]>,
    /// The same, for clients before 2026-07-28: only object output schemas.
    object_outputs: Arc<[Tool]>,
    token: Tokens,
    info: Arc<ServerConfig>,
    /// The session's `logging/setLevel`.
    level: SessionLevel,
    /// 2026-07-28 calls waiting for their client's answers, shared by the
    /// sessions.
    rounds: Arc<Rounds>,
    /// Served over HTTP without sessions: nothing to ask an older client on.
    sessionless: bool,
}

impl std::fmt::Debug for McpTools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpTools")
            .field("tools", &self.tools.len())
            .finish_non_exhaustive()
    }
}

impl McpTools {
    pub(crate) fn new(dispatcher: Dispatcher, app_name: &str, token: Tokens) -> Self {
        // Tools only: an interactive app is started as a session, which
        // MCP has no notion of.
        let tools: Vec<Tool> = dispatcher
            .registry()
            .announced()
            .iter()
            .filter(|a| dispatcher.registry().get(&a.name).is_some())
            .map(|a| {
                let schema = a
                    .metadata
                    .extra
                    .get("parameters")
                    .cloned()
                    .unwrap_or(Value::Null);
                let input =
                    match crate::schema::render(&schema, crate::schema::Consumer::Mcp).schema {
                        Value::Object(map) => map,
                        _ => serde_json::Map::new(),
                    };
                let mut tool = Tool::new(a.name.clone(), a.metadata.description.clone(), input);
                if let Some(Value::String(title)) = a.metadata.extra.get("title") {
                    tool = tool.with_title(title.clone());
                }
                if let Some(annotations) = a
                    .metadata
                    .extra
                    .get("annotations")
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                {
                    tool = tool.with_annotations(annotations);
                }
                if let Some(Value::Object(schema)) = &a.output_schema {
                    tool = tool.with_raw_output_schema(Arc::new(schema.clone()));
                }
                tool
            })
            .collect();
        // Before 2026-07-28 an output schema is an object's (and
        // `structuredContent` an object): the others are left out there.
        let object_outputs: Vec<Tool> = tools
            .iter()
            .cloned()
            .map(|mut tool| {
                if tool
                    .output_schema
                    .as_ref()
                    .is_some_and(|s| s.get("type") != Some(&Value::from("object")))
                {
                    tool.output_schema = None;
                }
                tool
            })
            .collect();
        #[allow(deprecated)] // logging: see `talk.rs`
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_logging()
            .build();
        let info = ServerConfig::new(capabilities)
            .with_server_info(Implementation::new(app_name, env!("CARGO_PKG_VERSION")));
        Self {
            dispatcher,
            tools: tools.into(),
            object_outputs: object_outputs.into(),
            token,
            info: Arc::new(info),
            level: SessionLevel::default(),
            rounds: Arc::default(),
            sessionless: false,
        }
    }

    /// The same tools, served without sessions (stateless HTTP).
    #[cfg(feature = "mcp-http")]
    pub(crate) fn sessionless(mut self, sessionless: bool) -> Self {
        self.sessionless = sessionless;
        self
    }

    /// The same tools for a new MCP session (its own log level).
    #[cfg(feature = "mcp-http")]
    pub(crate) fn session(&self) -> Self {
        Self {
            level: SessionLevel::default(),
            ..self.clone()
        }
    }

    /// The token `tool` gets for this request: `Err` with the text to
    /// answer the call with when the token source failed.
    async fn token(
        &self,
        context: &RequestContext<RoleServer>,
        tool: &str,
        principal: Option<&Principal>,
    ) -> Result<Option<AuthToken>, String> {
        let _ = (context, tool, principal);
        match &self.token {
            #[cfg(feature = "mcp-stdio")]
            Tokens::Fixed(token) => Ok(token.clone()),
            #[cfg(feature = "mcp-http")]
            Tokens::Http(Upstream::None) => Ok(None),
            #[cfg(feature = "mcp-http")]
            Tokens::Http(Upstream::BearerPassthrough) => Ok(context
                .extensions
                .get::<http::request::Parts>()
                .and_then(|p| super::auth::bearer(&p.headers))
                .map(AuthToken::new)),
            #[cfg(feature = "mcp-http")]
            Tokens::Http(Upstream::Source(source)) => {
                let provider = self
                    .dispatcher
                    .registry()
                    .get(tool)
                    .and_then(|t| t.auth_provider.clone());
                match (provider, principal) {
                    (Some(provider), Some(principal)) => source.token(principal, &provider).await,
                    _ => Ok(None),
                }
            }
        }
    }

    /// Runs one call through the dispatcher; `cancelled` resolving (the
    /// client's `notifications/cancelled`) cancels it.
    async fn run(
        &self,
        request: ToolRequest,
        principal: Option<Principal>,
        talk: Option<Arc<dyn TalkBack>>,
        cancelled: impl std::future::Future<Output = ()>,
    ) -> CallResult {
        let cancel = Cancel::new();
        let tool = request.tool_name.clone();
        let (tx, rx) = oneshot::channel();
        let deliver = move |out: crate::dispatch::Outgoing| {
            let _ = tx.send(out);
        };
        let caller = Caller {
            cancel: cancel.clone(),
            principal,
            talk,
        };
        if let Some(reply) = self.dispatcher.call(request, caller, deliver) {
            return reply.result;
        }
        // Fires the cancel if this future is dropped (the client went away).
        let _cancel_on_drop = FireOnDrop(cancel.clone());
        tokio::pin!(rx);
        tokio::select! {
            out = &mut rx => out.map_or(Err(CallError::ShuttingDown), |out| out.reply.result),
            () = cancelled => {
                tracing::info!(tool = %tool, "MCP call cancelled by the client");
                cancel.fire();
                // The dispatcher answers a cancelled call at once.
                rx.await.map_or(Err(CallError::Cancelled), |out| out.reply.result)
            }
        }
    }
}

struct FireOnDrop(Cancel);

impl Drop for FireOnDrop {
    fn drop(&mut self) {
        self.0.fire();
    }
}

/// A call's result as MCP has it: a JSON object also as
/// `structuredContent`; any value as text (its JSON, a string as itself);
/// an error — the tool's, or the call's (validation, time limit, panic) —
/// as `isError` with the same text ATP answers; an unknown tool as a
/// JSON-RPC error (-32602) with that text.
pub(crate) fn tool_result(
    result: CallResult,
    any_structured: bool,
) -> Result<CallToolResult, ErrorData> {
    // Decided in one place, which `TestClient` answers with too.
    let answer = crate::mcp_answer::McpAnswer::of(result, any_structured);
    if let Some(message) = answer.protocol_error {
        // An unknown tool: a JSON-RPC error (-32602), as the spec lists it.
        return Err(ErrorData::invalid_params(message, None));
    }
    // Every block is in MCP's JSON shape already (`content::Content`'s).
    let content: Vec<ContentBlock> = answer
        .content
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()
        .map_err(|err| {
            ErrorData::internal_error(format!("a content block MCP doesn't read: {err}"), None)
        })?;
    Ok(if answer.is_error {
        CallToolResult::error(content)
    } else {
        let mut result = CallToolResult::success(content);
        result.structured_content = answer.structured;
        result
    })
}

impl ServerHandler for McpTools {
    fn get_info(&self) -> ServerConfig {
        (*self.info).clone()
    }

    /// rmcp's own answer, and one line of ours in place of rmcp's INFO
    /// lines (off by default: `rmcp=warn`), which dump the whole request.
    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        context.peer.set_peer_info(request.clone());
        let answer = self.negotiate_initialize(&request);
        if let Ok(answer) = &answer {
            // The client's name as Debug: quoted, so it can't forge a line.
            tracing::info!(
                client = ?request.client_info.name,
                version = ?request.client_info.version,
                protocol = %answer.protocol_version,
                "MCP client connected"
            );
        }
        answer
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = if modern(&context) {
            &self.tools
        } else {
            &self.object_outputs
        };
        Ok(ListToolsResult::with_all_items(tools.to_vec()))
    }

    /// `logging/setLevel`: the session's calls send what is at or above it.
    #[allow(deprecated)] // see `talk.rs`
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.level.set(request.level);
        Ok(())
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        mut request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // Who the resource server authenticated, over HTTP.
        #[cfg(feature = "mcp-http")]
        let principal = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Principal>())
            .cloned();
        #[cfg(not(feature = "mcp-http"))]
        let principal: Option<Principal> = None;
        // A 2026-07-28 retry of a call that asked its client something.
        if let Some(state) = request.request_state.take() {
            let answers = request.input_responses.take().unwrap_or_default();
            let who = principal.as_ref().map(Principal::subject);
            let running = self
                .rounds
                .resume(&state, answers, who)
                .map_err(|why| ErrorData::invalid_params(why, None))?;
            if let Some(talk) = &running.talk {
                talk.rebind(&context, &self.level);
            }
            let step = self.rounds.drive(running, &context.ct).await;
            return self.answer(step, &request.name, &context);
        }
        let tool_name = request.name.into_owned();
        // The guard answered 403 already for a body it could read; this
        // covers any body it read otherwise than rmcp did.
        if let Some(principal) = &principal
            && let Some(tool) = self.dispatcher.registry().get(&tool_name)
            && let Some(missing) = tool.scopes.iter().find(|s| !principal.has_scope(s))
        {
            tracing::debug!(tool = %tool_name, "MCP call without the tool's scopes");
            let why =
                format!("the access token lacks the scope {missing} the tool {tool_name} needs");
            return tool_result(Err(CallError::Tool(why)), false).map(Into::into);
        }
        let auth_token = match self.token(&context, &tool_name, principal.as_ref()).await {
            Ok(token) => token,
            Err(why) => return tool_result(Err(CallError::Tool(why)), false).map(Into::into),
        };
        let tool_request = ToolRequest {
            request_id: RequestId::Str(format!("mcp-{}", context.id)),
            tool_name,
            params: request.arguments.map_or(Value::Null, Value::Object),
            auth_token,
        };
        let tool_name = tool_request.tool_name.clone();
        let step = self.start(tool_request, principal, &context).await;
        self.answer(step, &tool_name, &context)
    }
}

impl McpTools {
    /// Runs the call, with a way back to the client for a tool that can
    /// use it (it takes a Context): until it ends, or, from 2026-07-28,
    /// until it asks the client something.
    async fn start(
        &self,
        request: ToolRequest,
        principal: Option<Principal>,
        context: &RequestContext<RoleServer>,
    ) -> Step {
        let talks = self
            .dispatcher
            .registry()
            .get(&request.tool_name)
            .is_some_and(|t| t.uses_context);
        if talks && modern(context) {
            // In a task of its own, which may outlive this request.
            let (asks, asked) = tokio::sync::mpsc::unbounded_channel();
            let talk = McpTalk::start(
                context,
                &self.level,
                &request.tool_name,
                Asking::InRounds(asks),
            );
            let cancel = tokio_util::sync::CancellationToken::new();
            let owner = principal.as_ref().map(|p| p.subject().to_owned());
            let task = tokio::spawn({
                let this = self.clone();
                let given = talk.clone() as Arc<dyn TalkBack>;
                let cancelled = cancel.clone().cancelled_owned();
                async move { this.run(request, principal, Some(given), cancelled).await }
            });
            let running = Running {
                task,
                asks: asked,
                talk: Some(talk),
                cancel,
                owner,
            };
            return self.rounds.drive(running, &context.ct).await;
        }
        let asking = if self.sessionless {
            Asking::Nowhere
        } else {
            Asking::OnSession
        };
        let talk = talks.then(|| McpTalk::start(context, &self.level, &request.tool_name, asking));
        let given = talk.clone().map(|t| t as Arc<dyn TalkBack>);
        let result = self
            .run(request, principal, given, context.ct.cancelled())
            .await;
        if let Some(talk) = talk {
            // What the tool said goes out before its result.
            talk.flush().await;
        }
        Step::Done(result)
    }

    /// The answer to a round of `tool`'s call.
    fn answer(
        &self,
        step: Step,
        tool: &str,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let result = match step {
            Step::Done(result) => result,
            Step::Input(asked) => return Ok(CallToolResponse::InputRequired(asked)),
        };
        if matches!(result, Err(CallError::MissingAuthToken)) {
            // The answer keeps the protocol's text; the way to give a
            // token goes to the log, where the person running it reads.
            let how = match &self.token {
                #[cfg(feature = "mcp-stdio")]
                Tokens::Fixed(_) => "set ATP_AUTH_TOKEN for the process",
                #[cfg(feature = "mcp-http")]
                Tokens::Http(_) => "give the builder a TokenSource (mcp_token_source)",
            };
            tracing::warn!(tool = %tool, "the tool needs a token and has none: {how}");
        }
        tool_result(result, modern(context)).map(Into::into)
    }
}

/// Whether the negotiated version is 2026-07-28 or later: it takes any
/// JSON value as `structuredContent` and any schema as `outputSchema`
/// (SEP-2106), not only objects; it has no server-to-client requests
/// (`rounds.rs`), and a request opts in to log lines in its `_meta`.
pub(crate) fn modern(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|v| v.as_str() >= rmcp::model::ProtocolVersion::V_2026_07_28.as_str())
}
