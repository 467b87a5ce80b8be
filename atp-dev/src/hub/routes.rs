//! Calls waiting for their answers, the app sessions they open, and the
//! links they travel on — under one lock, because a request is routed,
//! recorded as waiting and sent in one step, and forgotten in one step
//! ([`Routes::forget`], the only way a waiting call goes without an
//! answer: its frame is taken back wherever it still waits, so a call
//! whose caller gave up never reaches a toolkit later).

use std::collections::{HashMap, VecDeque};

use std::time::Duration;

use atp_sdk::protocol::{RequestId, ServerMessage};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::links::{Links, Outbound, Request};
use super::types::{CallError, RawFrame, ServerStats};

/// What a waiting request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A tool call: it may go to any connection of its toolkit.
    Call,
    /// An app start: it opens a session under its request id.
    AppStart,
    /// An action in a session: only the connection that holds the session
    /// can answer it.
    AppAction,
    /// The end of a session, likewise.
    AppEnd,
}

impl Kind {
    /// Whether only the session's own connection can take it.
    fn bound_to_session(self) -> bool {
        matches!(self, Kind::AppAction | Kind::AppEnd)
    }
}

/// What a waiting request gets.
#[derive(Debug)]
pub(super) enum Answer {
    /// The toolkit's answer.
    Value(Value),
    /// No answer can come.
    Lost(CallError),
}

#[derive(Debug)]
struct Waiting {
    key: String,
    kind: Kind,
    /// The connection the request went out on, once it did.
    connection: Option<u64>,
    answer: oneshot::Sender<Answer>,
}

/// Where a session's requests go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Holder {
    /// Its start is not answered yet.
    Starting,
    /// The connection that answered its start.
    Socket(u64),
    /// The toolkit's inbox.
    Inbox,
}

/// An open app session (under the id of the request that started it).
#[derive(Debug, Clone)]
pub(super) struct Session {
    pub(super) key: String,
    pub(super) app: String,
    pub(super) holder: Holder,
}

/// How many sessions lost with their connection are remembered as lost
/// (their next action is answered `SessionLost` rather than unknown).
const LOST_KEPT: usize = 1000;

/// The state requests travel through.
#[derive(Debug, Default)]
pub(super) struct Routes {
    links: Links,
    waiting: HashMap<RequestId, Waiting>,
    sessions: HashMap<RequestId, Session>,
    /// The latest sessions lost with their connection.
    lost: VecDeque<RequestId>,
}

impl Routes {
    /// Routes a tool call or an app start to the first of `keys` with an
    /// open connection, else the first with a live inbox, records that it
    /// waits for an answer and sends it. Returns which key took it and
    /// where its answer comes; `None` if no toolkit can be reached.
    pub(super) fn send_request(
        &mut self,
        keys: &[String],
        request: Request,
        kind: Kind,
        inbox_liveness: Duration,
    ) -> Option<(usize, oneshot::Receiver<Answer>)> {
        let socket = keys.iter().position(|k| self.links.connected(k));
        let (index, inbox) = match socket {
            Some(i) => (i, false),
            None => (
                keys.iter()
                    .position(|k| self.links.inbox_live(k, inbox_liveness))?,
                true,
            ),
        };
        let key = &keys[index];
        let rx = self.wait(&request.id, key, kind);
        if kind == Kind::AppStart {
            let ServerMessage::AppRequest(start) = &request.message else {
                unreachable!("an app start is an atp_app_request");
            };
            self.open_session(&request.id, key, &start.tool_name, inbox);
        }
        if inbox {
            self.links.push_inbox(key, request);
        } else {
            self.send(key, request);
        }
        Some((index, rx))
    }

    /// Sends a session's action or end to whatever holds the session (its
    /// connection, or its toolkit's inbox) and records that it waits for
    /// an answer; an end closes the session at once. Returns the session.
    pub(super) fn send_to_session(
        &mut self,
        request: Request,
        kind: Kind,
    ) -> Result<(Session, oneshot::Receiver<Answer>), CallError> {
        let id = request.id.clone();
        let Some(found) = self.sessions.get(&id).cloned() else {
            return Err(self.no_session(&id));
        };
        if self.is_waiting(&id) {
            return Err(CallError::SessionBusy(id.to_string()));
        }
        match found.holder {
            Holder::Socket(connection) => {
                if !self.links.send_to(connection, request) {
                    self.lose_session(&id);
                    return Err(CallError::SessionLost(id.to_string()));
                }
            }
            Holder::Inbox => self.links.push_inbox(&found.key, request),
            Holder::Starting => return Err(CallError::SessionBusy(id.to_string())),
        }
        if kind == Kind::AppEnd {
            self.sessions.remove(&id);
        }
        let rx = self.wait(&id, &found.key, kind);
        if let Holder::Socket(connection) = found.holder {
            self.sent_on(&id, Some(connection));
        }
        Ok((found, rx))
    }

    /// Sends a request to a connection of `key`, or parks it, and notes
    /// where it went.
    fn send(&mut self, key: &str, request: Request) {
        let id = request.id.clone();
        let sent = self.links.send(key, request);
        self.sent_on(&id, sent);
    }

    /// Records that `id` waits for an answer from `key`'s toolkit.
    fn wait(&mut self, id: &RequestId, key: &str, kind: Kind) -> oneshot::Receiver<Answer> {
        let (answer, rx) = oneshot::channel();
        self.waiting.insert(
            id.clone(),
            Waiting {
                key: key.to_owned(),
                kind,
                connection: None,
                answer,
            },
        );
        rx
    }

    /// Notes that `id` went out on `connection`.
    fn sent_on(&mut self, id: &RequestId, connection: Option<u64>) {
        if let Some(waiting) = self.waiting.get_mut(id) {
            waiting.connection = connection;
        }
    }

    /// Adds a connection of `key`; the frames parked for it go out on it.
    pub(super) fn connect(&mut self, id: u64, key: &str) -> mpsc::UnboundedReceiver<Outbound> {
        let mut delivered = Vec::new();
        let rx = self.links.connect(id, key, &mut delivered);
        for request in delivered {
            self.sent_on(&request, Some(id));
        }
        rx
    }

    /// Whether `id` still waits (a connection writes a request frame only
    /// then).
    pub(super) fn is_waiting(&self, id: &RequestId) -> bool {
        self.waiting.contains_key(id)
    }

    /// Forgets a request whose caller gave up (timed out, or went away):
    /// its frame is taken back from the inbox or the parked frames, a
    /// queued one won't be written (see [`is_waiting`](Self::is_waiting)),
    /// and an app start's session is never opened. `false` if it was not
    /// waiting (answered meanwhile).
    pub(super) fn forget(&mut self, id: &RequestId) -> bool {
        let Some(waiting) = self.waiting.remove(id) else {
            return false;
        };
        self.links.withdraw(&waiting.key, id);
        if waiting.kind == Kind::AppStart {
            self.sessions.remove(id);
        }
        true
    }

    /// An answer from `key` (over `connection`, or the inbox): resolves
    /// the request waiting for it, or gives it back (none waits).
    pub(super) fn resolve(
        &mut self,
        connection: Option<u64>,
        key: &str,
        id: &RequestId,
        result: Value,
    ) -> Result<(), Value> {
        match self.waiting.get(id) {
            Some(waiting) if waiting.key == key => {}
            _ => return Err(result),
        }
        let waiting = self.waiting.remove(id).expect("just seen");
        if waiting.kind == Kind::AppStart {
            if result.get("error").is_some() {
                // A start that failed opened no session.
                self.sessions.remove(id);
            } else if let Some(session) = self.sessions.get_mut(id) {
                session.holder = connection.map_or(Holder::Inbox, Holder::Socket);
            }
        }
        // Sent under the lock: a caller that timed out meanwhile either
        // forgets it first (and this answer is stray) or finds it here.
        match waiting.answer.send(Answer::Value(result)) {
            Ok(()) => Ok(()),
            Err(Answer::Value(result)) => Err(result),
            Err(Answer::Lost(_)) => Ok(()),
        }
    }

    /// Fails a waiting request: no answer can come.
    fn lose(&mut self, id: &RequestId, why: CallError) {
        if let Some(waiting) = self.waiting.remove(id) {
            let _ = waiting.answer.send(Answer::Lost(why));
        }
    }

    /// A connection closed with `unwritten` and what is still in its
    /// `queue` never written: tool calls and app starts go to another
    /// connection of the toolkit (or wait for its next one); what belongs
    /// to a session on this connection is lost, with the sessions it held.
    /// Returns how many requests written on it still wait: their toolkit
    /// may answer them once it reconnects, or never (see
    /// [`fail_orphans`](Self::fail_orphans)).
    pub(super) fn disconnect(
        &mut self,
        connection: u64,
        unwritten: Option<Request>,
        mut queue: mpsc::UnboundedReceiver<Outbound>,
    ) -> usize {
        self.links.remove(connection);
        queue.close();
        let queued = std::iter::from_fn(|| queue.try_recv().ok()).filter_map(|out| match out {
            Outbound::Request(request) => Some(request),
            _ => None,
        });
        let requests: Vec<Request> = unwritten.into_iter().chain(queued).collect();
        for request in requests {
            let Some(waiting) = self.waiting.get(&request.id) else {
                continue; // forgotten: its caller gave up
            };
            if waiting.kind.bound_to_session() {
                let id = request.id;
                self.lose(&id, CallError::SessionLost(id.to_string()));
            } else {
                let key = waiting.key.clone();
                self.send(&key, request);
            }
        }
        let lost: Vec<RequestId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.holder == Holder::Socket(connection))
            .map(|(id, _)| id.clone())
            .collect();
        for id in lost {
            self.sessions.remove(&id);
            if self
                .waiting
                .get(&id)
                .is_some_and(|w| w.kind.bound_to_session())
            {
                self.lose(&id, CallError::SessionLost(id.to_string()));
            }
            self.mark_lost(id);
        }
        self.waiting
            .values()
            .filter(|w| w.connection == Some(connection))
            .count()
    }

    /// Fails the requests still waiting for an answer that went out on
    /// `connection`, which closed a while ago: a toolkit that reconnected
    /// has delivered its answers by now; one that is gone never will.
    pub(super) fn fail_orphans(&mut self, connection: u64, grace: std::time::Duration) -> usize {
        let orphans: Vec<RequestId> = self
            .waiting
            .iter()
            .filter(|(_, w)| w.connection == Some(connection))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &orphans {
            self.lose(id, CallError::ToolkitGone { grace });
        }
        orphans.len()
    }

    fn mark_lost(&mut self, id: RequestId) {
        if self.lost.len() == LOST_KEPT {
            self.lost.pop_front();
        }
        self.lost.push_back(id);
    }

    /// Why there is no session `id`: it was lost with its connection, or
    /// it is unknown (never opened, ended).
    fn no_session(&self, id: &RequestId) -> CallError {
        if self.lost.contains(id) {
            CallError::SessionLost(id.to_string())
        } else {
            CallError::UnknownSession(id.to_string())
        }
    }

    /// Opens a session whose start is on its way.
    fn open_session(&mut self, id: &RequestId, key: &str, app: &str, inbox: bool) {
        self.sessions.insert(
            id.clone(),
            Session {
                key: key.to_owned(),
                app: app.to_owned(),
                holder: if inbox {
                    Holder::Inbox
                } else {
                    Holder::Starting
                },
            },
        );
    }

    /// Closes a session whose connection turned out to be gone.
    fn lose_session(&mut self, id: &RequestId) {
        if self.sessions.remove(id).is_some() {
            self.mark_lost(id.clone());
        }
    }

    /// An inbox poll: `key`'s oldest waiting request, and whether its
    /// inbox just came alive.
    pub(super) fn poll_inbox(
        &mut self,
        key: &str,
        liveness: Duration,
    ) -> (Option<ServerMessage>, bool) {
        self.links.poll(key, liveness)
    }

    /// How `key`'s toolkit is reached now: over its WebSockets (and how
    /// many), or its inbox; `None` if not at all.
    pub(super) fn reach(&self, key: &str, liveness: Duration) -> Option<(&'static str, usize)> {
        let connections = self.links.connections_of(key);
        if connections > 0 {
            Some(("websocket", connections))
        } else if self.links.inbox_live(key, liveness) {
            Some(("inbox", 0))
        } else {
            None
        }
    }

    /// Sends `frame` to every toolkit connection; returns how many.
    pub(super) fn send_raw(&self, frame: &RawFrame) -> usize {
        self.links.send_raw(frame)
    }

    /// Drops every connection abruptly; returns how many.
    pub(super) fn drop_all(&mut self) -> usize {
        self.links.drop_all(|| Outbound::Drop)
    }

    pub(super) fn connection_count(&self) -> usize {
        self.links.connection_count()
    }

    /// What the bounds hold down.
    pub(super) fn stats(&self, stray_answers: usize) -> ServerStats {
        ServerStats {
            waiting_calls: self.waiting.len(),
            app_sessions: self.sessions.len(),
            inboxes: self.links.inbox_count(),
            connections: self.links.connection_count(),
            stray_answers,
        }
    }

    /// The server is closing: every connection is told to close, and every
    /// waiting request fails (its caller sees the server shutting down).
    pub(super) fn close(&mut self) {
        self.links.tell_all(|| Outbound::Close);
        self.waiting.clear();
        self.sessions.clear();
    }
}
