//! 2026-07-28's multi round-trip requests (SEP-2322): a server may not
//! send requests of its own, so a call that asks its client something
//! (`ctx.elicit`, `ctx.sample`) is answered with an `InputRequiredResult`
//! holding the questions, and goes on when the client retries the call
//! with their answers and the result's `requestState`.
//!
//! The tool does not start over: it keeps running here, parked at its
//! question, under a `requestState` that is a random handle (128 bits,
//! unguessable, meaningless to anyone else), for at most [`PARKED_FOR`].
//! A retry resumes it, in this process; replicas behind a load balancer
//! need the client's retries to reach the same one. Behind the resource
//! server, only a retry by the principal who made the call does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use rmcp::model::{InputRequests, InputRequiredResult, InputResponses};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::CallError;
use crate::tool::CallResult;

use super::talk::{Ask, McpTalk};

/// How long a parked call waits for the client to retry it; then it is
/// cancelled, and its question answered "the client did not answer".
pub(crate) const PARKED_FOR: Duration = Duration::from_secs(600);

/// A 2026-07-28 call that talks back, running in its own task.
pub(crate) struct Running {
    pub(crate) task: JoinHandle<CallResult>,
    pub(crate) asks: mpsc::UnboundedReceiver<Ask>,
    /// Its way back to the client (`None` only in this module's tests).
    pub(crate) talk: Option<Arc<McpTalk>>,
    /// Cancels the call (the client's `notifications/cancelled`, a
    /// dropped request, or [`PARKED_FOR`] passed).
    pub(crate) cancel: CancellationToken,
    /// Who made the call (the principal's subject, behind the resource
    /// server): only they may resume it.
    pub(crate) owner: Option<String>,
}

impl Running {
    async fn flush(&self) {
        if let Some(talk) = &self.talk {
            talk.flush().await;
        }
    }
}

/// Where a call is, when a round ends.
pub(crate) enum Step {
    Done(CallResult),
    Input(InputRequiredResult),
}

struct Parked {
    running: Running,
    /// The questions asked, by their key in `inputRequests`.
    waiting: Vec<(String, oneshot::Sender<serde_json::Value>)>,
}

/// The parked calls, shared by every session of a server.
#[derive(Default)]
pub(crate) struct Rounds {
    parked: Mutex<HashMap<String, Parked>>,
}

impl std::fmt::Debug for Rounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rounds")
            .field("parked", &self.lock().len())
            .finish()
    }
}

impl Rounds {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Parked>> {
        self.parked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs the call until it ends (its result) or asks (the
    /// `InputRequiredResult` to answer this round with). `ct` is the
    /// round's request: cancelled, it cancels the call; dropped unanswered
    /// (the client went away), too.
    pub(crate) async fn drive(
        self: &Arc<Self>,
        mut running: Running,
        ct: &CancellationToken,
    ) -> Step {
        let guard = running.cancel.clone().drop_guard();
        let mut cancelled = false;
        loop {
            tokio::select! {
                ended = &mut running.task => {
                    guard.disarm();
                    running.flush().await;
                    return Step::Done(ended.unwrap_or_else(|_| {
                        Err(CallError::Tool("the call's task ended without a result".to_owned()))
                    }));
                }
                Some(ask) = running.asks.recv() => {
                    guard.disarm();
                    // What the tool said goes out before its questions.
                    running.flush().await;
                    return Step::Input(self.park(running, ask));
                }
                () = ct.cancelled(), if !cancelled => {
                    cancelled = true;
                    running.cancel.cancel();
                }
            }
        }
    }

    /// Parks `running` at `ask` (and any other question it asked at the
    /// same time), for [`PARKED_FOR`].
    fn park(self: &Arc<Self>, mut running: Running, ask: Ask) -> InputRequiredResult {
        let mut requests = InputRequests::new();
        let mut waiting = Vec::new();
        let mut next = Some(ask);
        while let Some(ask) = next {
            let key = format!("ask-{}", waiting.len() + 1);
            requests.insert(key.clone(), ask.request);
            waiting.push((key, ask.answer));
            next = running.asks.try_recv().ok();
        }
        let handle = uuid::Uuid::new_v4().simple().to_string();
        self.lock()
            .insert(handle.clone(), Parked { running, waiting });
        tokio::spawn(expire(Arc::downgrade(self), handle.clone()));
        InputRequiredResult::new(Some(requests), Some(handle))
    }

    /// The call parked under `state`, given the client's answers: each
    /// question without one is answered "the client did not answer".
    /// `who` is the retry's principal: another's is told the same as for
    /// a handle that names nothing.
    pub(crate) fn resume(
        &self,
        state: &str,
        mut responses: InputResponses,
        who: Option<&str>,
    ) -> Result<Running, String> {
        let parked = {
            let mut parked = self.lock();
            match parked.get(state) {
                Some(p) if p.running.owner.as_deref() == who => parked.remove(state),
                _ => None,
            }
        };
        let Some(parked) = parked else {
            return Err(
                "the requestState names no call waiting here (it ended, waited longer than \
                 allowed, or was made by another server)"
                    .to_owned(),
            );
        };
        for (key, answer) in parked.waiting {
            if let Some(response) = responses.remove(&key) {
                let _ = answer.send(response);
            }
        }
        Ok(parked.running)
    }
}

/// Cancels the call parked under `handle` if it is still there after
/// [`PARKED_FOR`].
async fn expire(rounds: Weak<Rounds>, handle: String) {
    tokio::time::sleep(PARKED_FOR).await;
    let parked = rounds.upgrade().and_then(|r| r.lock().remove(&handle));
    if let Some(parked) = parked {
        tracing::info!("a call waited {PARKED_FOR:?} for its client's answer: cancelled");
        parked.running.cancel.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{ElicitRequest, ElicitRequestParams, ElicitationSchema, InputRequest};
    use serde_json::{Value, json};

    /// A call that asks one question and answers with what it got.
    fn asking_call() -> Running {
        let (tx, asks) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let schema: ElicitationSchema =
                serde_json::from_value(json!({"type": "object", "properties": {}})).unwrap();
            let params = ElicitRequestParams::FormElicitationParams {
                meta: None,
                message: "Go on?".to_owned(),
                requested_schema: schema,
            };
            let (answer, answered) = oneshot::channel();
            let request = InputRequest::Elicitation(ElicitRequest::new(params));
            tx.send(Ask { request, answer }).unwrap();
            match answered.await {
                Ok(value) => Ok(value.into()),
                Err(_) => Err(CallError::Tool("no answer".to_owned())),
            }
        });
        Running {
            task,
            asks,
            talk: None,
            cancel: CancellationToken::new(),
            owner: Some("alice".to_owned()),
        }
    }

    fn done(step: Step) -> Value {
        match step {
            Step::Done(result) => match result {
                Ok(output) => output.to_json().into_owned(),
                Err(err) => json!({ "error": err.to_string() }),
            },
            Step::Input(_) => panic!("asked again"),
        }
    }

    #[tokio::test]
    async fn a_call_that_asks_is_parked_and_resumed_with_the_answer() {
        let rounds = Arc::new(Rounds::default());
        let ct = CancellationToken::new();
        let Step::Input(asked) = rounds.drive(asking_call(), &ct).await else {
            panic!("the call did not ask");
        };
        let requests = asked.input_requests.expect("its question");
        assert_eq!(requests.keys().collect::<Vec<_>>(), ["ask-1"]);
        let state = asked.request_state.expect("a requestState");
        assert_eq!(state.len(), 32, "{state}");
        assert!(state.chars().all(|c| c.is_ascii_hexdigit()), "{state}");
        let responses = InputResponses::from([("ask-1".to_owned(), json!({"action": "accept"}))]);
        // Not by someone else, nor by nobody; it stays for its owner.
        for who in [Some("mallory"), None] {
            let refused = rounds.resume(&state, responses.clone(), who).err();
            assert!(
                refused
                    .expect("refused")
                    .starts_with("the requestState names no call")
            );
        }
        let running = rounds
            .resume(&state, responses, Some("alice"))
            .expect("parked");
        assert_eq!(
            done(rounds.drive(running, &ct).await),
            json!({"action": "accept"})
        );
        // Once resumed, the handle is gone.
        let again = rounds
            .resume(&state, InputResponses::new(), Some("alice"))
            .err();
        assert!(
            again
                .expect("gone")
                .starts_with("the requestState names no call")
        );
    }

    #[tokio::test]
    async fn a_retry_without_the_answer_ends_the_question_unanswered() {
        let rounds = Arc::new(Rounds::default());
        let ct = CancellationToken::new();
        let Step::Input(asked) = rounds.drive(asking_call(), &ct).await else {
            panic!("the call did not ask");
        };
        let state = asked.request_state.unwrap();
        let running = rounds
            .resume(&state, InputResponses::new(), Some("alice"))
            .unwrap();
        assert_eq!(
            done(rounds.drive(running, &ct).await),
            json!({"error": "no answer"})
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_never_resumed_is_cancelled_after_its_time() {
        let rounds = Arc::new(Rounds::default());
        let ct = CancellationToken::new();
        let running = asking_call();
        let cancel = running.cancel.clone();
        let Step::Input(asked) = rounds.drive(running, &ct).await else {
            panic!("the call did not ask");
        };
        let state = asked.request_state.unwrap();
        tokio::time::sleep(PARKED_FOR - Duration::from_secs(1)).await;
        assert!(!cancel.is_cancelled());
        assert_eq!(rounds.lock().len(), 1);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(cancel.is_cancelled());
        assert!(
            rounds
                .resume(&state, InputResponses::new(), Some("alice"))
                .is_err()
        );
    }

    #[tokio::test]
    async fn an_unknown_request_state_is_refused() {
        let rounds = Rounds::default();
        let why = rounds
            .resume("nope", InputResponses::new(), None)
            .err()
            .unwrap();
        assert_eq!(
            why,
            "the requestState names no call waiting here (it ended, waited longer than \
             allowed, or was made by another server)"
        );
    }
}
