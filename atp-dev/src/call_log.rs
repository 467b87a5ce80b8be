//! The live call log: every call that goes through the server, from any
//! client (the call API, the CLI, the playground, a test), as events the
//! playground's page receives as they happen.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::broadcast;

/// How many past calls a new watcher is shown.
pub(crate) const RECENT_KEPT: usize = 100;

/// How far a watcher may fall behind before it misses events.
const CHANNEL_CAPACITY: usize = 1024;

/// Keys whose values the log never shows, at any depth of the params,
/// compared without case and without `_` or `-`.
const SECRET_KEYS: [&str; 10] = [
    "authtoken",
    "accesstoken",
    "refreshtoken",
    "apikey",
    "token",
    "password",
    "secret",
    "clientsecret",
    "authorization",
    "cookie",
];

/// The largest params or result the log keeps whole (about, in bytes of
/// JSON); a bigger one is replaced by a note of its size.
const KEPT_BYTES: usize = 16 * 1024;

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CallStatus {
    /// Sent to a toolkit; no answer yet.
    Running,
    /// The toolkit answered with a result.
    Ok,
    /// The toolkit answered `{"error": ...}`.
    ToolError,
    /// No answer: unknown tool, toolkit not connected, timed out, or the
    /// server is shutting down (see [`CallEvent::error`]).
    Failed,
}

/// One step of one call: sent (`running`), then answered or failed. Both
/// events of a call share its `seq`.
///
/// The request's token is never in it (it shows only as `with_token`);
/// in the params, the values of keys that look secret (`token`,
/// `password`, `secret`, `api_key`, `authorization`, ... at any depth,
/// whatever their case) are replaced by `"<redacted>"`. Results are kept
/// as the toolkit sent them. Params or a result bigger than about 16 KiB
/// of JSON are replaced by `{"truncated": true, "bytes": N}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CallEvent {
    /// The call's number on this server (1, 2, ...).
    pub seq: u64,
    /// The id the request was sent with (empty if it was never sent).
    pub request_id: String,
    /// The tool called.
    pub tool: String,
    /// The toolkit that got the request, when one did.
    pub app_name: Option<String>,
    /// The parameters, as sent (secrets redacted).
    pub params: Value,
    /// The ones the tool did not announce (it ignores them), sorted.
    pub ignored_params: Vec<String>,
    /// Whether the call carried an auth token.
    pub with_token: bool,
    /// Where the call stands.
    pub status: CallStatus,
    /// The toolkit's answer, once there is one.
    pub result: Option<Value>,
    /// Why there is no answer (status `failed`).
    pub error: Option<String>,
    /// From sending to answer, in milliseconds, once answered.
    pub latency_ms: Option<f64>,
    /// When the call started, in milliseconds since the Unix epoch.
    pub started_at_ms: u64,
}

impl CallEvent {
    pub(crate) fn started(seq: u64, tool: &str, params: &Value, with_token: bool) -> Self {
        Self {
            seq,
            request_id: String::new(),
            tool: tool.to_owned(),
            app_name: None,
            params: bounded(redact(params)),
            ignored_params: Vec::new(),
            with_token,
            status: CallStatus::Running,
            result: None,
            error: None,
            latency_ms: None,
            started_at_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }

    /// The final event for an answer.
    pub(crate) fn answered(mut self, result: Value, latency: Duration) -> Self {
        self.status = if is_error(&result) {
            CallStatus::ToolError
        } else {
            CallStatus::Ok
        };
        self.result = Some(bounded(result));
        self.latency_ms = Some(latency.as_secs_f64() * 1000.0);
        self
    }

    /// The final event for a call with no answer.
    pub(crate) fn failed(mut self, error: String) -> Self {
        self.status = CallStatus::Failed;
        self.error = Some(error);
        self
    }
}

/// Whether a result is the protocol's error shape, `{"error": ...}`.
/// Whether a result is ATP's `{"error": ...}` (the tool's error, refused
/// arguments, a missing token, an unknown tool).
pub(crate) fn is_error(result: &Value) -> bool {
    result.as_object().is_some_and(|o| o.contains_key("error"))
}

fn is_secret(key: &str) -> bool {
    let key: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SECRET_KEYS.contains(&key.as_str())
}

/// The params with every secret-looking key's value replaced, at any
/// depth.
fn redact(params: &Value) -> Value {
    match params {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret(k) {
                        Value::String("<redacted>".into())
                    } else {
                        redact(v)
                    };
                    (k.clone(), v)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// Whether a value's JSON is longer than `budget` bytes (roughly), found
/// without writing it out and stopping as soon as it is.
fn exceeds(value: &Value, budget: &mut isize) -> bool {
    *budget -= match value {
        Value::String(s) => s.len() as isize + 2,
        Value::Object(map) => 2 + map.keys().map(|k| k.len() as isize + 4).sum::<isize>(),
        Value::Array(items) => 2 + items.len() as isize,
        _ => 8,
    };
    if *budget < 0 {
        return true;
    }
    match value {
        Value::Object(map) => map.values().any(|v| exceeds(v, budget)),
        Value::Array(items) => items.iter().any(|v| exceeds(v, budget)),
        _ => false,
    }
}

/// The value, or a note in its place when it is too big to keep.
fn bounded(value: Value) -> Value {
    let mut budget = KEPT_BYTES as isize;
    if exceeds(&value, &mut budget) {
        let bytes = serde_json::to_vec(&value).map_or(0, |v| v.len());
        serde_json::json!({ "truncated": true, "bytes": bytes })
    } else {
        value
    }
}

/// The log: a broadcast to live watchers and the last [`RECENT_KEPT`]
/// final events for new ones.
#[derive(Debug)]
pub(crate) struct CallLog {
    tx: broadcast::Sender<CallEvent>,
    recent: Mutex<VecDeque<CallEvent>>,
}

impl Default for CallLog {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(CHANNEL_CAPACITY).0,
            recent: Mutex::new(VecDeque::with_capacity(RECENT_KEPT)),
        }
    }
}

impl CallLog {
    /// Records an event and sends it to the watchers.
    pub(crate) fn publish(&self, event: CallEvent) {
        if event.status != CallStatus::Running {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            if recent.len() == RECENT_KEPT {
                recent.pop_front();
            }
            recent.push_back(event.clone());
        }
        // No watcher is fine: the event is in `recent`.
        let _ = self.tx.send(event);
    }

    /// Whether anyone watches live (a `running` event is only worth
    /// making then).
    pub(crate) fn watched(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// The live events from now on, and the finished calls before.
    /// Subscribing first means no event falls between the two.
    pub(crate) fn watch(&self) -> (broadcast::Receiver<CallEvent>, Vec<CallEvent>) {
        let rx = self.tx.subscribe();
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        (rx, recent.iter().cloned().collect())
    }

    /// The last [`RECENT_KEPT`] finished calls, oldest first.
    pub(crate) fn recent(&self) -> Vec<CallEvent> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_in_params_are_redacted() {
        let event = CallEvent::started(
            1,
            "t",
            &json!({"q": "x", "auth_token": "s3cret", "api_key": "k"}),
            true,
        );
        let text = serde_json::to_string(&event).unwrap();
        assert!(
            !text.contains("s3cret") && !text.contains("\"k\""),
            "{text}"
        );
        assert_eq!(event.params["q"], "x");
    }

    #[test]
    fn error_results_are_tool_errors() {
        let e = CallEvent::started(1, "t", &json!({}), false);
        let ok = e
            .clone()
            .answered(json!({"v": 1}), Duration::from_millis(2));
        let err = e.answered(json!({"error": "no"}), Duration::from_millis(2));
        assert_eq!(ok.status, CallStatus::Ok);
        assert_eq!(err.status, CallStatus::ToolError);
    }

    #[test]
    fn recent_is_bounded() {
        let log = CallLog::default();
        for seq in 0..(RECENT_KEPT as u64 + 10) {
            log.publish(CallEvent::started(seq, "t", &json!({}), false).failed("x".into()));
        }
        let recent = log.recent();
        assert_eq!(recent.len(), RECENT_KEPT);
        assert_eq!(recent[0].seq, 10);
    }
}
