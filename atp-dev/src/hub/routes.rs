//! Calls waiting for their answers, the app sessions they open, and the
//! links they travel on — under one lock, because a request is routed,
//! recorded as waiting and sent in one step, and forgotten in one step
//! ([`Routes::forget`], the only way a waiting call goes without an
//! answer: its frame is taken back wherever it still waits, so a call
//! whose caller gave up never reaches a toolkit later).

use std::collections::{HashMap, VecDeque};

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::links::{Links, Outbound};
use super::types::CallError;

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
    pub(super) links: Links,
    waiting: HashMap<String, Waiting>,
    sessions: HashMap<String, Session>,
    /// The latest sessions lost with their connection.
    lost: VecDeque<String>,
}

impl Routes {
    /// Records that `id` waits for an answer from `key`'s toolkit.
    pub(super) fn wait(&mut self, id: &str, key: &str, kind: Kind) -> oneshot::Receiver<Answer> {
        let (answer, rx) = oneshot::channel();
        self.waiting.insert(
            id.to_owned(),
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
    pub(super) fn sent_on(&mut self, id: &str, connection: Option<u64>) {
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
    pub(super) fn is_waiting(&self, id: &str) -> bool {
        self.waiting.contains_key(id)
    }

    pub(super) fn waiting_count(&self) -> usize {
        self.waiting.len()
    }

    /// Forgets a request whose caller gave up (timed out, or went away):
    /// its frame is taken back from the inbox or the parked frames, a
    /// queued one won't be written (see [`is_waiting`](Self::is_waiting)),
    /// and an app start's session is never opened. `false` if it was not
    /// waiting (answered meanwhile).
    pub(super) fn forget(&mut self, id: &str) -> bool {
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
        id: &str,
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
    fn lose(&mut self, id: &str, why: CallError) {
        if let Some(waiting) = self.waiting.remove(id) {
            let _ = waiting.answer.send(Answer::Lost(why));
        }
    }

    /// A connection closed with `frames` never written: tool calls and app
    /// starts go to another connection of the toolkit (or wait for its
    /// next one); what belongs to a session on this connection is lost,
    /// with the sessions it held. Returns how many requests written on it
    /// still wait: their toolkit may answer them once it reconnects, or
    /// never (see [`fail_orphans`](Self::fail_orphans)).
    pub(super) fn disconnect(&mut self, connection: u64, frames: Vec<(String, String)>) -> usize {
        self.links.remove(connection);
        for (id, text) in frames {
            let Some(waiting) = self.waiting.get(&id) else {
                continue; // forgotten: its caller gave up
            };
            if waiting.kind.bound_to_session() {
                self.lose(&id, CallError::SessionLost(id.clone()));
            } else {
                let key = waiting.key.clone();
                let sent = self.links.send(&key, id.clone(), text);
                self.sent_on(&id, sent);
            }
        }
        let lost: Vec<String> = self
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
                self.lose(&id, CallError::SessionLost(id.clone()));
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
        let orphans: Vec<String> = self
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

    fn mark_lost(&mut self, id: String) {
        if self.lost.len() == LOST_KEPT {
            self.lost.pop_front();
        }
        self.lost.push_back(id);
    }

    /// Why there is no session `id`: it was lost with its connection, or
    /// it is unknown (never opened, ended).
    pub(super) fn no_session(&self, id: &str) -> CallError {
        if self.lost.iter().any(|lost| lost == id) {
            CallError::SessionLost(id.to_owned())
        } else {
            CallError::UnknownSession(id.to_owned())
        }
    }

    /// Opens a session whose start is on its way.
    pub(super) fn open_session(&mut self, id: &str, key: &str, app: &str, inbox: bool) {
        self.sessions.insert(
            id.to_owned(),
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

    pub(super) fn session(&self, id: &str) -> Option<&Session> {
        self.sessions.get(id)
    }

    pub(super) fn close_session(&mut self, id: &str) -> Option<Session> {
        self.sessions.remove(id)
    }

    /// Closes a session whose connection turned out to be gone.
    pub(super) fn lose_session(&mut self, id: &str) {
        if self.sessions.remove(id).is_some() {
            self.mark_lost(id.to_owned());
        }
    }

    pub(super) fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Fails every waiting request (the server is closing): their callers
    /// see the server shutting down.
    pub(super) fn clear(&mut self) {
        self.waiting.clear();
        self.sessions.clear();
    }

    /// Takes every frame still queued for a connection that closed.
    pub(super) fn drain(queue: &mut mpsc::UnboundedReceiver<Outbound>) -> Vec<(String, String)> {
        queue.close();
        let mut frames = Vec::new();
        while let Ok(out) = queue.try_recv() {
            if let Outbound::Frame { request_id, text } = out {
                frames.push((request_id, text));
            }
        }
        frames
    }
}
