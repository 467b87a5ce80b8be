//! How requests reach toolkits: their open WebSocket connections (round
//! robin per key), their HTTP inboxes, and the frames parked for a key
//! whose connection dropped before writing them.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use atp_sdk::protocol::{RequestId, ServerMessage};
use tokio::sync::mpsc;

use super::types::RawFrame;

/// A request on its way to a toolkit, under the id its answer will carry.
/// The route that delivers it writes it in its own framing (a WebSocket
/// frame in `toolkit_ws.rs`, an inbox item in `inbox.rs`).
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) id: RequestId,
    pub(crate) message: ServerMessage,
}

/// What a connection task is told to do.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// Send a request (unless its call was forgotten meanwhile).
    Request(Request),
    /// Send this frame as it is (fault injection).
    Raw(RawFrame),
    /// Drop the connection at once, without a close frame (fault injection).
    Drop,
    /// Close the connection properly (server shutdown).
    Close,
}

#[derive(Debug)]
struct Connection {
    key: String,
    tx: mpsc::UnboundedSender<Outbound>,
}

#[derive(Debug, Default)]
struct Inbox {
    /// Requests in the order polls return them.
    queue: VecDeque<Request>,
    last_poll: Option<Instant>,
}

/// The toolkits' ways in.
#[derive(Debug, Default)]
pub(super) struct Links {
    connections: BTreeMap<u64, Connection>,
    round_robin: HashMap<String, usize>,
    inboxes: HashMap<String, Inbox>,
    /// Request frames for a key with no open connection (its connection
    /// dropped before writing them), sent to its next connection.
    parked: HashMap<String, Vec<Request>>,
}

impl Links {
    /// Adds a connection; frames parked for its key are sent on it first
    /// (their ids are added to `delivered`).
    pub(super) fn connect(
        &mut self,
        id: u64,
        key: &str,
        delivered: &mut Vec<RequestId>,
    ) -> mpsc::UnboundedReceiver<Outbound> {
        let (tx, rx) = mpsc::unbounded_channel();
        for request in self.parked.remove(key).unwrap_or_default() {
            delivered.push(request.id.clone());
            let _ = tx.send(Outbound::Request(request));
        }
        self.connections.insert(
            id,
            Connection {
                key: key.to_owned(),
                tx,
            },
        );
        rx
    }

    /// Removes a connection; `true` if it was there.
    pub(super) fn remove(&mut self, id: u64) -> bool {
        self.connections.remove(&id).is_some()
    }

    /// Sends a request to a connection of `key` (round robin), or parks it
    /// for the key's next connection. Returns the connection used.
    pub(super) fn send(&mut self, key: &str, request: Request) -> Option<u64> {
        let ids: Vec<u64> = self
            .connections
            .iter()
            .filter(|(_, c)| c.key == key)
            .map(|(id, _)| *id)
            .collect();
        let mut out = Outbound::Request(request);
        if !ids.is_empty() {
            let next = self.round_robin.entry(key.to_owned()).or_insert(0);
            let start = *next;
            *next = next.wrapping_add(1);
            for offset in 0..ids.len() {
                let id = ids[(start + offset) % ids.len()];
                match self.connections[&id].tx.send(out) {
                    Ok(()) => return Some(id),
                    Err(mpsc::error::SendError(back)) => out = back,
                }
            }
        }
        if let Outbound::Request(request) = out {
            self.parked.entry(key.to_owned()).or_default().push(request);
        }
        None
    }

    /// Sends a request to one connection; `false` if it is gone.
    pub(super) fn send_to(&self, connection: u64, request: Request) -> bool {
        self.connections
            .get(&connection)
            .is_some_and(|c| c.tx.send(Outbound::Request(request)).is_ok())
    }

    /// Queues a request in `key`'s inbox.
    pub(super) fn push_inbox(&mut self, key: &str, request: Request) {
        self.inboxes
            .entry(key.to_owned())
            .or_default()
            .queue
            .push_back(request);
    }

    /// Takes back a request not yet handed to its toolkit (from `key`'s
    /// inbox or parked frames).
    pub(super) fn withdraw(&mut self, key: &str, request_id: &RequestId) {
        if let Some(inbox) = self.inboxes.get_mut(key) {
            inbox.queue.retain(|request| request.id != *request_id);
        }
        if let Some(parked) = self.parked.get_mut(key) {
            parked.retain(|request| request.id != *request_id);
            if parked.is_empty() {
                self.parked.remove(key);
            }
        }
    }

    /// A poll of `key`'s inbox: the oldest waiting request, and whether the
    /// inbox had been idle past `liveness` (it just came alive). Inboxes
    /// idle past `liveness` with nothing waiting are forgotten.
    pub(super) fn poll(&mut self, key: &str, liveness: Duration) -> (Option<ServerMessage>, bool) {
        self.inboxes.retain(|k, inbox| {
            k == key
                || !inbox.queue.is_empty()
                || inbox.last_poll.is_some_and(|at| at.elapsed() <= liveness)
        });
        let inbox = self.inboxes.entry(key.to_owned()).or_default();
        let came_alive = inbox.last_poll.is_none_or(|at| at.elapsed() > liveness);
        inbox.last_poll = Some(Instant::now());
        (
            inbox.queue.pop_front().map(|request| request.message),
            came_alive,
        )
    }

    /// Whether `key` has an open connection.
    pub(super) fn connected(&self, key: &str) -> bool {
        self.connections.values().any(|c| c.key == key)
    }

    /// How many open connections `key` has.
    pub(super) fn connections_of(&self, key: &str) -> usize {
        self.connections.values().filter(|c| c.key == key).count()
    }

    /// Whether `key`'s inbox was polled within `liveness`.
    pub(super) fn inbox_live(&self, key: &str, liveness: Duration) -> bool {
        self.inboxes
            .get(key)
            .and_then(|i| i.last_poll)
            .is_some_and(|at| at.elapsed() <= liveness)
    }

    pub(super) fn connection_count(&self) -> usize {
        self.connections.len()
    }

    /// Inboxes remembered now.
    pub(super) fn inbox_count(&self) -> usize {
        self.inboxes.len()
    }

    /// Sends `frame` to every connection; returns how many.
    pub(super) fn send_raw(&self, frame: &RawFrame) -> usize {
        self.connections
            .values()
            .filter(|c| c.tx.send(Outbound::Raw(frame.clone())).is_ok())
            .count()
    }

    /// Tells every connection to do `what` and forgets them all; returns
    /// how many there were.
    pub(super) fn drop_all(&mut self, what: fn() -> Outbound) -> usize {
        let connections = std::mem::take(&mut self.connections);
        for connection in connections.values() {
            let _ = connection.tx.send(what());
        }
        connections.len()
    }

    /// Tells every connection to do `what`, keeping them.
    pub(super) fn tell_all(&self, what: fn() -> Outbound) {
        for connection in self.connections.values() {
            let _ = connection.tx.send(what());
        }
    }
}
