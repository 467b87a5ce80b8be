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
    LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken,
};
use rmcp::service::{Peer, RoleServer};
use tokio::sync::{mpsc, oneshot};

use crate::context::{LogLevel, TalkBack};

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
        tokio::spawn(send_all(peer, rx));
        Arc::new(Self {
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
