//! A call's progress and log lines to its MCP client, as
//! `notifications/progress` and `notifications/message`: queued by the
//! tool without waiting, sent in order by one task per call, and flushed
//! before the call's result goes out (a client stops listening for a
//! request's progress once it has the result).
//!
//! Its questions (elicitation, sampling) go out as server-to-client
//! requests on a session (before 2026-07-28), or, from 2026-07-28, as
//! [`Ask`]s that `rounds.rs` answers the call with (an
//! `InputRequiredResult`) and resolves when the client retries it.
//!
//! rmcp marks MCP logging deprecated (SEP-2577, a revision after the ones
//! this server speaks); the spec revisions we serve have it, and the
//! conformance suite checks it.
#![allow(deprecated)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use rmcp::model::{
    ClientCapabilities, ClientResult, CreateMessageRequest, CreateMessageRequestParams,
    CreateMessageResult, ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction,
    ElicitationSchema, InputRequest, LoggingLevel, LoggingMessageNotificationParam,
    ProgressNotificationParam, ProgressToken, ServerRequest,
};
use rmcp::service::{Peer, RequestContext, RoleServer};
use tokio::sync::{mpsc, oneshot};

use serde_json::Value;

use crate::asking::{Answer, Sampling};
use crate::context::{Asked, LogLevel, TalkBack};
use crate::error::CallError;

/// How long a result waits for the notifications before it to go out.
const FLUSH: Duration = Duration::from_secs(2);

/// The least severe level an MCP session sends, as `logging/setLevel`
/// set it (`info` until then). Shared by the session's calls.
#[derive(Debug, Clone)]
pub(crate) struct SessionLevel(Arc<AtomicU8>);

impl Default for SessionLevel {
    fn default() -> Self {
        Self(Arc::new(AtomicU8::new(LogLevel::Info as u8)))
    }
}

impl SessionLevel {
    /// `logging/setLevel`.
    pub(crate) fn set(&self, level: LoggingLevel) {
        self.0.store(ours(level) as u8, Ordering::Relaxed);
    }

    fn lets_through(&self, level: LogLevel) -> bool {
        level as u8 >= self.0.load(Ordering::Relaxed)
    }
}

/// One notification to send (to the peer of the request it belongs to),
/// or a mark that all before it are sent.
enum Note {
    Progress(Peer<RoleServer>, ProgressNotificationParam),
    Log(Peer<RoleServer>, LoggingMessageNotificationParam),
    Flushed(oneshot::Sender<()>),
}

/// A question for the client from a 2026-07-28 call, which can't send
/// requests of its own: the call is answered with it (an
/// `InputRequiredResult`), and `answer` gets the client's response when
/// it retries the call.
pub(crate) struct Ask {
    pub(crate) request: InputRequest,
    pub(crate) answer: oneshot::Sender<Value>,
}

/// What the tool's lines are filtered by.
#[derive(Clone)]
enum Level {
    /// The session's `logging/setLevel` (before 2026-07-28).
    Session(SessionLevel),
    /// The request's `_meta` `io.modelcontextprotocol/logLevel` (from
    /// 2026-07-28): nothing without it.
    Request(Option<LogLevel>),
}

/// The request a call talks back through: the first, then each retry of
/// a 2026-07-28 call.
struct Link {
    peer: Peer<RoleServer>,
    /// The request's `_meta.progressToken`: no progress is sent without.
    progress_token: Option<ProgressToken>,
    level: Level,
    /// What the client said it can do (at `initialize`, or in the
    /// request's `_meta` from 2026-07-28).
    capabilities: Option<ClientCapabilities>,
}

impl Link {
    fn of(context: &RequestContext<RoleServer>, session: &SessionLevel) -> Self {
        let level = if super::handler::modern(context) {
            Level::Request(context.meta.log_level().map(ours))
        } else {
            Level::Session(session.clone())
        };
        Self {
            peer: context.peer.clone(),
            progress_token: context.meta.get_progress_token(),
            level,
            capabilities: context.client_capabilities(),
        }
    }

    fn lets_through(&self, level: LogLevel) -> bool {
        match &self.level {
            Level::Session(session) => session.lets_through(level),
            Level::Request(least) => least.is_some_and(|least| level >= least),
        }
    }
}

/// How a call's questions reach its client.
pub(crate) enum Asking {
    /// Before 2026-07-28, with a session: requests on it.
    OnSession,
    /// From 2026-07-28: the call parks and the client retries with the
    /// answers (see [`Ask`]).
    InRounds(mpsc::UnboundedSender<Ask>),
    /// Before 2026-07-28 without a session (stateless HTTP): the client's
    /// answer would come in a request of its own, to any replica.
    Nowhere,
}

/// The answer to a question asked where nobody can answer.
fn no_session(what: &str) -> CallError {
    CallError::Unsupported(format!(
        "{what}, and this server runs MCP over HTTP without sessions, where a client before \
         MCP 2026-07-28 can't be asked anything: serve with sessions (without \
         ATP_MCP_STATELESS), or call from a 2026-07-28 client"
    ))
}

/// One call's way back to its client.
pub(crate) struct McpTalk {
    link: std::sync::Mutex<Link>,
    notes: mpsc::UnboundedSender<Note>,
    /// Where the questions go.
    asks: Asking,
    /// The logger the lines carry: the tool's name.
    logger: String,
}

impl McpTalk {
    /// Starts the task that sends one call's notifications to its client,
    /// the one that sent `context`'s request.
    pub(crate) fn start(
        context: &RequestContext<RoleServer>,
        session: &SessionLevel,
        tool: &str,
        asks: Asking,
    ) -> Arc<Self> {
        let (notes, rx) = mpsc::unbounded_channel();
        tokio::spawn(send_all(rx));
        Arc::new(Self {
            link: std::sync::Mutex::new(Link::of(context, session)),
            notes,
            asks,
            logger: tool.to_owned(),
        })
    }

    /// The call goes on as the answer to `context`'s request (a
    /// 2026-07-28 retry): its notifications go there, with its progress
    /// token and log level.
    pub(crate) fn rebind(&self, context: &RequestContext<RoleServer>, session: &SessionLevel) {
        *self.link.lock().unwrap_or_else(|e| e.into_inner()) = Link::of(context, session);
    }

    fn link<R>(&self, read: impl FnOnce(&Link) -> R) -> R {
        read(&self.link.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Sends `request` to the client, on the session or as an [`Ask`];
    /// its answer as `T`.
    async fn request<T: serde::de::DeserializeOwned>(
        &self,
        request: InputRequest,
        what: &str,
    ) -> Result<T, CallError> {
        let answer = match &self.asks {
            Asking::Nowhere => return Err(no_session(what)),
            Asking::InRounds(asks) => {
                let (answer, answered) = oneshot::channel();
                asks.send(Ask { request, answer })
                    .map_err(|_| CallError::Tool(format!("{what}, and the call has ended")))?;
                answered.await.map_err(|_| {
                    CallError::Tool(format!(
                        "{what}, and the client did not answer (it did not retry the call \
                         with a response)"
                    ))
                })?
            }
            Asking::OnSession => {
                let peer = self.link(|link| link.peer.clone());
                // As rmcp's `create_elicitation` and `create_message` send
                // them (the first needs its `elicitation` feature, which
                // links a URL parser this server has no use for).
                let request = match request {
                    InputRequest::Elicitation(request) => ServerRequest::ElicitRequest(request),
                    InputRequest::CreateMessage(request) => {
                        ServerRequest::CreateMessageRequest(request)
                    }
                    _ => unreachable!("a call asks only for elicitation or sampling"),
                };
                let answer = peer.send_request(request).await.map_err(|err| {
                    CallError::Tool(format!("{what}, and the request failed: {err}"))
                })?;
                match answer {
                    ClientResult::ElicitResult(answer) => serde_json::to_value(answer),
                    ClientResult::CreateMessageResult(answer) => serde_json::to_value(answer),
                    _ => {
                        return Err(CallError::Tool(format!(
                            "{what}, and the client answered something else"
                        )));
                    }
                }
                .unwrap_or(Value::Null)
            }
        };
        serde_json::from_value(answer).map_err(|err| {
            CallError::Tool(format!("{what}, and the client's answer is not one: {err}"))
        })
    }

    /// Resolves once every notification queued so far is sent (or after
    /// [`FLUSH`], should the client stop reading).
    pub(crate) async fn flush(&self) {
        let (done, sent) = oneshot::channel();
        if self.notes.send(Note::Flushed(done)).is_ok() {
            let _ = tokio::time::timeout(FLUSH, sent).await;
        }
    }
}

impl TalkBack for McpTalk {
    fn progress(&self, progress: f64, total: Option<f64>, message: Option<String>) {
        let Some((peer, token)) =
            self.link(|link| Some((link.peer.clone(), link.progress_token.clone()?)))
        else {
            return;
        };
        let mut note = ProgressNotificationParam::new(token, progress);
        note.total = total;
        note.message = message;
        let _ = self.notes.send(Note::Progress(peer, note));
    }

    fn log(&self, level: LogLevel, message: String) {
        let Some(peer) = self.link(|link| link.lets_through(level).then(|| link.peer.clone()))
        else {
            return;
        };
        let note = LoggingMessageNotificationParam::new(theirs(level), message.into())
            .with_logger(self.logger.clone());
        let _ = self.notes.send(Note::Log(peer, note));
    }

    fn elicit(&self, message: String, schema: Value, what: String) -> Asked<'_, Answer> {
        Box::pin(async move {
            if matches!(self.asks, Asking::Nowhere) {
                return Err(no_session(&what));
            }
            let declared = self.link(|link| {
                link.capabilities
                    .as_ref()
                    .is_some_and(|c| c.elicitation.is_some())
            });
            if !declared {
                return Err(CallError::Unsupported(format!(
                    "{what}, and this MCP client can't ask the user (it declared no \
                     `elicitation` capability)"
                )));
            }
            let requested_schema = elicitation_schema(schema).map_err(|err| {
                CallError::Tool(format!(
                    "{what}, whose schema is outside what MCP lets a client ask for (a flat \
                     object of strings, numbers, booleans, enums and arrays of enums): {err}"
                ))
            })?;
            let params = ElicitRequestParams::FormElicitationParams {
                meta: None,
                message,
                requested_schema,
            };
            let request = InputRequest::Elicitation(ElicitRequest::new(params));
            let answer: ElicitResult = self.request(request, &what).await?;
            Ok(match answer.action {
                ElicitationAction::Accept => Answer::Accept(answer.content.unwrap_or(Value::Null)),
                ElicitationAction::Decline => Answer::Decline,
                _ => Answer::Cancel,
            })
        })
    }

    fn sample(&self, request: &Sampling) -> Asked<'_, String> {
        let params = request.to_params();
        Box::pin(async move {
            if matches!(self.asks, Asking::Nowhere) {
                return Err(no_session("sampling"));
            }
            let declared = self.link(|link| {
                link.capabilities
                    .as_ref()
                    .is_some_and(|c| c.sampling.is_some())
            });
            if !declared {
                return Err(CallError::Unsupported(
                    "this MCP client can't be asked for a completion from its model (it declared \
                     no `sampling` capability)"
                        .to_owned(),
                ));
            }
            let params: CreateMessageRequestParams =
                serde_json::from_value(params).map_err(|err| {
                    CallError::Tool(format!("the sampling request is invalid: {err}"))
                })?;
            let request = InputRequest::CreateMessage(CreateMessageRequest::new(params));
            let answer: CreateMessageResult = self.request(request, "sampling").await?;
            let answer = serde_json::to_value(&answer).unwrap_or(Value::Null);
            text_of(&answer["content"])
                .ok_or_else(|| CallError::Tool("the model's answer holds no text".to_owned()))
        })
    }
}

/// `schema` as the elicitation schema MCP allows: rmcp's type is that
/// subset, so what does not read as it is outside. `build()` checks a
/// tool's `elicit::<T>` types with it too.
/// The error names the first property that is outside, when one is.
pub(crate) fn elicitation_schema(schema: Value) -> Result<ElicitationSchema, String> {
    serde_json::from_value(schema.clone()).map_err(|err| {
        let properties = schema.get("properties").and_then(Value::as_object);
        let outside = properties.into_iter().flatten().find(|(name, property)| {
            let alone = serde_json::json!({
                "type": "object",
                "properties": { name.as_str(): property },
            });
            serde_json::from_value::<ElicitationSchema>(alone).is_err()
        });
        match outside {
            Some((name, property)) => format!(
                "its property `{name}` is none of them ({})",
                shorten(&property.to_string())
            ),
            None => err.to_string(),
        }
    })
}

/// `text`, cut to about 120 characters.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(120) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

/// The text of a sampling answer's content: one block, or several.
fn text_of(content: &Value) -> Option<String> {
    match content {
        Value::Array(blocks) => {
            let texts: Vec<&str> = blocks
                .iter()
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect();
            (!texts.is_empty()).then(|| texts.join(""))
        }
        block => block.get("text").and_then(Value::as_str).map(str::to_owned),
    }
}

/// Sends the notes in order until the call's talk is gone.
async fn send_all(mut notes: mpsc::UnboundedReceiver<Note>) {
    while let Some(note) = notes.recv().await {
        let sent = match note {
            Note::Progress(peer, note) => peer.notify_progress(note).await,
            Note::Log(peer, note) => peer.notify_logging_message(note).await,
            Note::Flushed(done) => {
                let _ = done.send(());
                Ok(())
            }
        };
        if let Err(err) = sent {
            tracing::debug!(%err, "MCP notification not sent");
        }
    }
}

fn theirs(level: LogLevel) -> LoggingLevel {
    match level {
        LogLevel::Debug => LoggingLevel::Debug,
        LogLevel::Info => LoggingLevel::Info,
        LogLevel::Notice => LoggingLevel::Notice,
        LogLevel::Warning => LoggingLevel::Warning,
        LogLevel::Error => LoggingLevel::Error,
        LogLevel::Critical => LoggingLevel::Critical,
        LogLevel::Alert => LoggingLevel::Alert,
        LogLevel::Emergency => LoggingLevel::Emergency,
    }
}

fn ours(level: LoggingLevel) -> LogLevel {
    match level {
        LoggingLevel::Debug => LogLevel::Debug,
        LoggingLevel::Info => LogLevel::Info,
        LoggingLevel::Notice => LogLevel::Notice,
        LoggingLevel::Warning => LogLevel::Warning,
        LoggingLevel::Error => LogLevel::Error,
        LoggingLevel::Critical => LogLevel::Critical,
        LoggingLevel::Alert => LogLevel::Alert,
        LoggingLevel::Emergency => LogLevel::Emergency,
    }
}
