//! The connection state of a toolkit, watched by readiness probes and
//! mirrored in the `atp_connected` gauge.

use tokio::sync::watch;

/// Where a toolkit stands with its server; see
/// [`ToolKitClient::status`](crate::ToolKitClient::status).
///
/// ```
/// use atp_sdk::Status;
/// assert!(Status::Connected.is_connected());
/// assert!(!Status::Connecting.is_connected());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Built, not serving yet.
    Idle,
    /// Announcing the tools or opening a connection.
    Connecting,
    /// Connected (a WebSocket open, or the inbox answering polls): calls
    /// can arrive.
    Connected,
    /// The connection was lost; backing off before the next attempt.
    Disconnected,
    /// `serve()` returned.
    Stopped,
}

impl Status {
    /// Whether calls can arrive now (a readiness probe's answer).
    pub fn is_connected(self) -> bool {
        self == Self::Connected
    }
}

/// The sending side: one per client.
#[derive(Debug, Clone)]
pub(crate) struct StatusTx(watch::Sender<Status>);

impl StatusTx {
    pub(crate) fn new() -> Self {
        Self(watch::channel(Status::Idle).0)
    }

    pub(crate) fn set(&self, status: Status) {
        let changed = self.0.send_if_modified(|now| {
            let changed = *now != status;
            *now = status;
            changed
        });
        if changed {
            metrics::gauge!("atp_connected").set(if status.is_connected() { 1.0 } else { 0.0 });
        }
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Status> {
        self.0.subscribe()
    }
}
