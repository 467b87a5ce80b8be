//! The typed seam between a link and the dispatcher: what the server asks
//! ([`Inbound`]) and what the toolkit answers ([`Reply`]), decoded from and
//! encoded to each link's framing.
//!
//! Decoding is lenient: every request that carries a usable `request_id`
//! yields something to answer, whatever else is wrong with it. Ids are
//! kept exactly as sent (see [`RequestId`]).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::CallError;
use crate::protocol::{RequestId, ToolRequest};
use crate::secret::AuthToken;
use crate::tool::CallResult;

/// What an inbound message asks for.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// `atp_client_connected`.
    Connected(String),
    /// A tool call to run.
    Call(ToolRequest),
    /// `atp_app_request`: start an app session (the request's id is the
    /// session's).
    AppStart(ToolRequest),
    /// `atp_app_action`: a user action in a session.
    AppAction(RequestId, Value),
    /// `atp_app_terminate`: end a session.
    AppTerminate(RequestId),
    /// A request that can't be served: answer with this error.
    Reject(RequestId, CallError, ReplyKind),
    /// Anything else: nothing to answer.
    Ignore(&'static str),
}

/// Which kind of response answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplyKind {
    /// `tool_response`.
    Tool,
    /// `app_response`.
    App,
}

/// The answer to one request.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) kind: ReplyKind,
    pub(crate) request_id: RequestId,
    pub(crate) result: CallResult,
}

impl Reply {
    pub(crate) fn new(kind: ReplyKind, request_id: RequestId, result: CallResult) -> Self {
        Self {
            kind,
            request_id,
            result,
        }
    }

    /// The result as sent: the tool's value, or `{"error": "..."}`.
    fn result_value(&self) -> Cow<'_, Value> {
        match &self.result {
            Ok(value) => Cow::Borrowed(value),
            Err(err) => Cow::Owned(err.to_result()),
        }
    }

    /// The WebSocket frame: `{"type": "tool_response" | "app_response",
    /// "request_id", "result"}`.
    pub(crate) fn to_frame(&self) -> String {
        #[derive(Serialize)]
        struct Frame<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            request_id: &'a RequestId,
            result: &'a Value,
        }
        let frame = Frame {
            kind: match self.kind {
                ReplyKind::Tool => "tool_response",
                ReplyKind::App => "app_response",
            },
            request_id: &self.request_id,
            result: &self.result_value(),
        };
        serde_json::to_string(&frame).expect("a JSON value always serializes")
    }

    /// The inbox answer's body: `{"request_id", "response"}`.
    pub(crate) fn to_inbox_body(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Body<'a> {
            request_id: &'a RequestId,
            response: &'a Value,
        }
        let body = Body {
            request_id: &self.request_id,
            response: &self.result_value(),
        };
        serde_json::to_vec(&body).expect("a JSON value always serializes")
    }
}

/// A WebSocket frame: `{"message_type", "payload"}`, the payload kept as
/// text until its kind is known.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(default, borrow)]
    message_type: Option<&'a RawValue>,
    #[serde(default, borrow)]
    payload: Option<&'a RawValue>,
}

/// A request's fields, wherever they come from (a frame's payload or an
/// inbox item). Every field is optional here; what is missing or of the
/// wrong type is decided below.
#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(default, borrow)]
    request_id: Option<&'a RawValue>,
    #[serde(default)]
    tool_name: Option<Value>,
    #[serde(default)]
    params: Option<Value>,
    #[serde(default)]
    auth_token: Option<Value>,
    #[serde(default)]
    action_data: Option<Value>,
    #[serde(default)]
    message: Option<Value>,
    /// Inbox items only: the kind of message (default: a tool request).
    #[serde(default)]
    message_type: Option<Value>,
}

/// Just the id of a payload that does not decode as a whole (a number out
/// of range in its params, say): enough to answer it.
#[derive(Deserialize)]
struct IdOnly<'a> {
    #[serde(default, borrow)]
    request_id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    message_type: Option<&'a RawValue>,
}

/// Decodes a WebSocket frame from the server.
pub(crate) fn decode_frame(bytes: &[u8]) -> Inbound {
    let Ok(frame) = serde_json::from_slice::<Frame<'_>>(bytes) else {
        return Inbound::Ignore("not a JSON object");
    };
    let Some(Ok(message_type)) = frame
        .message_type
        .map(|raw| serde_json::from_str::<String>(raw.get()))
    else {
        return Inbound::Ignore("no message_type");
    };
    let Some(payload) = frame.payload.filter(|raw| is_object(raw.get().as_bytes())) else {
        return Inbound::Ignore("no payload object");
    };
    match serde_json::from_str::<Payload<'_>>(payload.get()) {
        Ok(payload) => decode_payload(&message_type, payload),
        Err(err) => malformed(&message_type, payload.get(), &err),
    }
}

/// What one inbox poll brought.
pub(crate) enum Item {
    /// Nothing waiting (`{}` or `null`).
    Empty,
    /// Something to handle.
    Message(Inbound),
}

/// Decodes an inbox item: a request's fields, with `message_type` when it
/// is not a tool request.
pub(crate) fn decode_item(bytes: &[u8]) -> Item {
    if !is_object(bytes) {
        return match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Null) => Item::Empty,
            _ => Item::Message(Inbound::Ignore("inbox item is not a JSON object")),
        };
    }
    match serde_json::from_slice::<Option<Payload<'_>>>(bytes) {
        Ok(None) => Item::Empty,
        Ok(Some(payload)) if payload.request_id.is_none() && payload.message_type.is_none() => {
            Item::Empty
        }
        Ok(Some(mut payload)) => {
            let message_type = match payload.message_type.take() {
                Some(Value::String(kind)) => kind,
                _ => "atp_tool_request".to_owned(),
            };
            Item::Message(decode_payload(&message_type, payload))
        }
        Err(err) => {
            let text = String::from_utf8_lossy(bytes);
            let message_type = serde_json::from_str::<IdOnly<'_>>(&text)
                .ok()
                .and_then(|item| item.message_type)
                .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
                .unwrap_or_else(|| "atp_tool_request".to_owned());
            Item::Message(malformed(&message_type, &text, &err))
        }
    }
}

/// Whether JSON text is an object (serde would read a struct from an
/// array too).
fn is_object(text: &[u8]) -> bool {
    text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// A payload that did not decode: answered under its id if it has one.
fn malformed(message_type: &str, payload: &str, err: &serde_json::Error) -> Inbound {
    let kind = match message_type {
        "atp_tool_request" => ReplyKind::Tool,
        "atp_app_request" | "atp_app_action" | "atp_app_terminate" => ReplyKind::App,
        _ => return Inbound::Ignore("unhandled message_type"),
    };
    let id = serde_json::from_str::<IdOnly<'_>>(payload)
        .ok()
        .and_then(|p| p.request_id)
        .and_then(RequestId::from_raw);
    match id {
        Some(id) if message_type == "atp_app_terminate" => Inbound::AppTerminate(id),
        Some(id) => Inbound::Reject(id, CallError::MalformedRequest(err.to_string()), kind),
        None => Inbound::Ignore("request without a usable request_id"),
    }
}

fn decode_payload(message_type: &str, payload: Payload<'_>) -> Inbound {
    let request_id = payload.request_id.and_then(RequestId::from_raw);
    match message_type {
        "atp_client_connected" => {
            let message = match payload.message {
                Some(Value::String(message)) => message,
                _ => String::new(),
            };
            Inbound::Connected(message)
        }
        "atp_tool_request" => request(request_id, payload, ReplyKind::Tool, Inbound::Call),
        "atp_app_request" => request(request_id, payload, ReplyKind::App, Inbound::AppStart),
        "atp_app_action" => match request_id {
            Some(id) => Inbound::AppAction(id, payload.action_data.unwrap_or(Value::Null)),
            None => Inbound::Ignore("app action without a request_id"),
        },
        "atp_app_terminate" => match request_id {
            Some(id) => Inbound::AppTerminate(id),
            None => Inbound::Ignore("app terminate without a request_id"),
        },
        _ => Inbound::Ignore("unhandled message_type"),
    }
}

/// The request in a tool or app request, as `wrap` makes it inbound; what
/// to answer instead when it can't be one.
fn request(
    request_id: Option<RequestId>,
    payload: Payload<'_>,
    kind: ReplyKind,
    wrap: fn(ToolRequest) -> Inbound,
) -> Inbound {
    let Some(request_id) = request_id else {
        return Inbound::Ignore("request without a request_id");
    };
    let tool_name = match payload.tool_name {
        Some(Value::String(name)) => name,
        _ => {
            let missing = String::from("<missing tool_name>");
            let err = match kind {
                ReplyKind::Tool => CallError::UnknownTool(missing),
                ReplyKind::App => CallError::UnknownApp(missing),
            };
            return Inbound::Reject(request_id, err, kind);
        }
    };
    let auth_token = match payload.auth_token {
        Some(Value::String(token)) => Some(AuthToken::new(token)),
        _ => None,
    };
    wrap(ToolRequest {
        request_id,
        tool_name,
        params: payload.params.unwrap_or(Value::Null),
        auth_token,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn frame(payload: Value) -> Vec<u8> {
        json!({"message_type": "atp_tool_request", "payload": payload})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn decodes_a_tool_request() {
        let Inbound::Call(req) = decode_frame(&frame(
            json!({"request_id": "r1", "tool_name": "echo", "params": {"a": 1}, "auth_token": "t"}),
        )) else {
            panic!("a call")
        };
        assert_eq!(req.request_id, RequestId::from("r1"));
        assert_eq!(req.tool_name, "echo");
        assert_eq!(req.params, json!({"a": 1}));
        assert_eq!(req.auth_token.unwrap().as_str(), "t");
    }

    #[test]
    fn numeric_ids_and_odd_fields_are_tolerated() {
        let Inbound::Call(req) = decode_frame(&frame(
            json!({"request_id": 7, "tool_name": "x", "auth_token": 5}),
        )) else {
            panic!("a call")
        };
        assert_eq!(serde_json::to_value(&req.request_id).unwrap(), json!(7));
        assert!(req.auth_token.is_none());
        assert_eq!(req.params, Value::Null);
    }

    #[test]
    fn numeric_ids_are_echoed_byte_for_byte() {
        for id in ["123456789012345678901234567890", "1.50", "-0", "1e999", "7"] {
            let text = format!(
                r#"{{"message_type":"atp_tool_request","payload":{{"request_id":{id},"tool_name":"x"}}}}"#
            );
            let Inbound::Call(req) = decode_frame(text.as_bytes()) else {
                panic!("a call for {id}")
            };
            let answer = Reply::new(ReplyKind::Tool, req.request_id, Ok(json!(1))).to_frame();
            assert!(
                answer.contains(&format!(r#""request_id":{id},"#)),
                "{id} echoed exactly: {answer}"
            );
        }
    }

    #[test]
    fn a_string_id_and_a_number_id_differ() {
        let number: RequestId = serde_json::from_str("7").unwrap();
        assert_ne!(number, RequestId::from("7"));
    }

    #[test]
    fn a_request_without_a_tool_name_is_rejected_not_dropped() {
        assert!(matches!(
            decode_frame(&frame(json!({"request_id": "r", "tool_name": 3}))),
            Inbound::Reject(_, CallError::UnknownTool(_), ReplyKind::Tool)
        ));
    }

    #[test]
    fn frames_without_an_id_or_type_are_ignored() {
        for text in [
            b"not json".to_vec(),
            b"[]".to_vec(),
            br#"{"payload": {}}"#.to_vec(),
            br#"{"message_type": "something_new", "payload": {"request_id": "r"}}"#.to_vec(),
            frame(json!({"tool_name": "echo"})),
            frame(json!({"request_id": [1], "tool_name": "echo"})),
        ] {
            assert!(
                matches!(decode_frame(&text), Inbound::Ignore(_)),
                "{}",
                String::from_utf8_lossy(&text)
            );
        }
        assert!(matches!(
            decode_frame(br#"{"message_type": "atp_client_connected", "payload": {"message": "hi"}}"#),
            Inbound::Connected(m) if m == "hi"
        ));
    }

    #[test]
    fn inbox_items_decode_like_frames() {
        let item =
            br#"{"request_id": "r1", "tool_name": "t", "params": {"a": 1}, "auth_token": "tok"}"#;
        let Item::Message(Inbound::Call(request)) = decode_item(item) else {
            panic!("a call")
        };
        assert_eq!(request.request_id.to_string(), "r1");
        assert_eq!(request.auth_token.unwrap().as_str(), "tok");
        assert!(matches!(decode_item(b"{}"), Item::Empty));
        assert!(matches!(decode_item(b"null"), Item::Empty));
        let action =
            br#"{"message_type": "atp_app_action", "request_id": 5, "action_data": {"x": 1}}"#;
        assert!(matches!(
            decode_item(action),
            Item::Message(Inbound::AppAction(_, data)) if data == json!({"x": 1})
        ));
    }

    #[test]
    fn replies_encode_for_each_link() {
        let reply = Reply::new(ReplyKind::Tool, "r".into(), Ok(json!([1])));
        assert_eq!(
            serde_json::from_str::<Value>(&reply.to_frame()).unwrap(),
            json!({"type": "tool_response", "request_id": "r", "result": [1]})
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&reply.to_inbox_body()).unwrap(),
            json!({"request_id": "r", "response": [1]})
        );
        let reply = Reply::new(ReplyKind::App, "r".into(), Err(CallError::MissingAuthToken));
        assert_eq!(
            serde_json::from_str::<Value>(&reply.to_frame()).unwrap(),
            json!({"type": "app_response", "request_id": "r", "result": {"error": "Missing auth_token for authenticated tool"}})
        );
    }
}
