//! A call's progress and log lines to its MCP client, as
//! `notifications/progress` and `notifications/message`: queued by the
//! tool without waiting, sent in order by one task per call, and flushed
//! before the call's result goes out (a client stops listening for a
//! request's progress once it has the result).
//!
//! rmcp marks MCP logging deprecated (SEP-2577, a revision after the ones
//! this server speaks); the spec revisions we serve have it, and the
//! conformance suite checks it.
#![allow(deprecated)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use rmcp::model::{
    CreateMessageRequestParams, ElicitRequestParams, ElicitationAction, ElicitationSchema,
    LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken,
};
use rmcp::service::{Peer, RoleServer};
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

/// One notification to send, or a mark that all before it are sent.
enum Note {
    Progress(ProgressNotificationParam),
    Log(LoggingMessageNotificationParam),
    Flushed(oneshot::Sender<()>),
}

/// One call's way back to its client.
pub(crate) struct McpTalk {
    /// The client, for the requests (elicitation, sampling).
    peer: Peer<RoleServer>,
    notes: mpsc::UnboundedSender<Note>,
    /// The request's `_meta.progressToken`: no progress is sent without.
    progress_token: Option<ProgressToken>,
    level: SessionLevel,
    /// The logger the lines carry: the tool's name.
    logger: String,
}

impl McpTalk {
    /// Starts the task that sends one call's notifications to `peer`.
    pub(crate) fn start(
        peer: Peer<RoleServer>,
        progress_token: Option<ProgressToken>,
        level: SessionLevel,
        tool: &str,
    ) -> Arc<Self> {
        let (notes, rx) = mpsc::unbounded_channel();
        tokio::spawn(send_all(peer.clone(), rx));
        Arc::new(Self {
            peer,
            notes,
            progress_token,
            level,
            logger: tool.to_owned(),
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
        let Some(token) = &self.progress_token else {
            return;
        };
        let mut note = ProgressNotificationParam::new(token.clone(), progress);
        note.total = total;
        note.message = message;
        let _ = self.notes.send(Note::Progress(note));
    }

    fn log(&self, level: LogLevel, message: String) {
        if !self.level.lets_through(level) {
            return;
        }
        let note = LoggingMessageNotificationParam::new(theirs(level), message.into())
            .with_logger(self.logger.clone());
        let _ = self.notes.send(Note::Log(note));
    }

    fn elicit(&self, message: String, schema: Value, what: String) -> Asked<Answer> {
        let peer = self.peer.clone();
        Box::pin(async move {
            let declared = peer
                .peer_info()
                .is_some_and(|info| info.capabilities.elicitation.is_some());
            if !declared {
                return Err(CallError::Unsupported(format!(
                    "{what}, and this MCP client can't ask the user (it declared no \
                     `elicitation` capability)"
                )));
            }
            // rmcp's type is the subset MCP allows: what does not read as
            // it is outside.
            let schema: ElicitationSchema = serde_json::from_value(schema).map_err(|err| {
                CallError::Tool(format!(
                    "{what}, whose schema is outside what MCP lets a client ask for (a flat \
                     object of strings, numbers, booleans, enums and arrays of enums): {err}"
                ))
            })?;
            let params = ElicitRequestParams::FormElicitationParams {
                meta: None,
                message,
                requested_schema: schema,
            };
            let answer = peer
                .create_elicitation(params)
                .await
                .map_err(|err| CallError::Tool(format!("{what}, and the request failed: {err}")))?;
            Ok(match answer.action {
                ElicitationAction::Accept => Answer::Accept(answer.content.unwrap_or(Value::Null)),
                ElicitationAction::Decline => Answer::Decline,
                _ => Answer::Cancel,
            })
        })
    }

    fn sample(&self, request: &Sampling) -> Asked<String> {
        let peer = self.peer.clone();
        let params = request.to_params();
        Box::pin(async move {
            let declared = peer
                .peer_info()
                .is_some_and(|info| info.capabilities.sampling.is_some());
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
            let answer = peer
                .create_message(params)
                .await
                .map_err(|err| CallError::Tool(format!("sampling failed: {err}")))?;
            let answer = serde_json::to_value(&answer).unwrap_or(Value::Null);
            text_of(&answer["content"])
                .ok_or_else(|| CallError::Tool("the model's answer holds no text".to_owned()))
        })
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
async fn send_all(peer: Peer<RoleServer>, mut notes: mpsc::UnboundedReceiver<Note>) {
    while let Some(note) = notes.recv().await {
        let sent = match note {
            Note::Progress(note) => peer.notify_progress(note).await,
            Note::Log(note) => peer.notify_logging_message(note).await,
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
