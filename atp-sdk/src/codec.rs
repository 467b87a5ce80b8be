//! The typed seam between a link and the dispatcher: what the server asks
//! ([`Inbound`]) and what the toolkit answers ([`Reply`]), read and written
//! through [`protocol`](crate::protocol)'s types, the ones atp-dev and the
//! tests use too.
//!
//! Reading is lenient: every request that carries a usable `request_id`
//! yields something to answer, whatever else is wrong with it; for that
//! the envelope and the id are looked at before the payload is read
//! ([`Probe`]). Ids are kept exactly as sent (see [`RequestId`]).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::CallError;
use crate::protocol::{
    InboxResponse, MessageError, RequestId, ResponseKind, ServerMessage, ToolRequest,
    ToolkitMessage,
};
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
    Reject(RequestId, CallError, ResponseKind),
    /// Anything else: nothing to answer.
    Ignore(&'static str),
}

/// The answer to one request.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) kind: ResponseKind,
    pub(crate) request_id: RequestId,
    pub(crate) result: CallResult,
}

impl Reply {
    pub(crate) fn new(kind: ResponseKind, request_id: RequestId, result: CallResult) -> Self {
        Self {
            kind,
            request_id,
            result,
        }
    }

    /// The result as sent: the tool's value, or `{"error": "..."}`.
    fn result_value(&self) -> Cow<'_, Value> {
        match &self.result {
            Ok(output) => output.to_json(),
            Err(err) => Cow::Owned(err.to_result()),
        }
    }

    /// The WebSocket frame: a [`ToolkitMessage`].
    pub(crate) fn to_frame(&self) -> String {
        ToolkitMessage::frame(self.kind, &self.request_id, &self.result_value())
    }

    /// The inbox answer's body: an [`InboxResponse`].
    pub(crate) fn to_inbox_body(&self) -> Vec<u8> {
        InboxResponse::body(&self.request_id, &self.result_value())
    }
}

/// What is looked at before a payload is read: a frame's envelope, an
/// inbox item's kind and id, or a payload that did not read, for the id to
/// answer it under. Values stay JSON text (a numeric id byte for byte).
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(default, borrow)]
    message_type: Option<&'a RawValue>,
    #[serde(default, borrow)]
    payload: Option<&'a RawValue>,
    #[serde(default, borrow)]
    request_id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    tool_name: Option<&'a RawValue>,
}

impl<'a> Probe<'a> {
    fn of(text: &'a str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// `message_type`, if it is a string.
    fn message_type(&self) -> Option<String> {
        self.message_type
            .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
    }
}

/// Decodes a WebSocket frame from the server: a [`ServerMessage`].
pub(crate) fn decode_frame(bytes: &[u8]) -> Inbound {
    let Some(text) = std::str::from_utf8(bytes).ok().filter(|t| is_object(t)) else {
        return Inbound::Ignore("not a JSON object");
    };
    let Some(frame) = Probe::of(text) else {
        return Inbound::Ignore("not a JSON object");
    };
    let Some(message_type) = frame.message_type() else {
        return Inbound::Ignore("no message_type");
    };
    let Some(payload) = frame.payload.filter(|raw| is_object(raw.get())) else {
        return Inbound::Ignore("no payload object");
    };
    read(&message_type, payload.get())
}

/// What one inbox poll brought.
pub(crate) enum Item {
    /// Nothing waiting (`{}` or `null`).
    Empty,
    /// Something to handle.
    Message(Inbound),
}

/// Decodes an inbox item: a request's fields, with `message_type` when it
/// is not a tool request ([`ServerMessage::to_inbox_item`]).
pub(crate) fn decode_item(bytes: &[u8]) -> Item {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        // Not UTF-8: answered under its id if one can still be read.
        Err(_) => {
            let err = serde_json::from_slice::<Value>(bytes)
                .expect_err("JSON text is UTF-8, so this can't read");
            let text = String::from_utf8_lossy(bytes);
            let message_type = Probe::of(&text)
                .and_then(|p| p.message_type())
                .unwrap_or_else(|| "atp_tool_request".to_owned());
            return Item::Message(malformed(&message_type, &text, &err));
        }
    };
    if !is_object(text) {
        return match serde_json::from_str::<Value>(text) {
            Ok(Value::Null) => Item::Empty,
            _ => Item::Message(Inbound::Ignore("inbox item is not a JSON object")),
        };
    }
    let probe = Probe::of(text);
    if probe
        .as_ref()
        .is_some_and(|p| p.request_id.is_none() && p.message_type.is_none())
    {
        return Item::Empty;
    }
    let message_type = probe
        .and_then(|p| p.message_type())
        .unwrap_or_else(|| "atp_tool_request".to_owned());
    Item::Message(read(&message_type, text))
}

/// Whether JSON text is an object.
fn is_object(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// Reads a payload as its message, or says what to answer instead.
fn read(message_type: &str, payload: &str) -> Inbound {
    match ServerMessage::from_parts(message_type, payload) {
        Ok(ServerMessage::ClientConnected(hello)) => Inbound::Connected(hello.message),
        Ok(ServerMessage::ToolRequest(request)) => Inbound::Call(request),
        Ok(ServerMessage::AppRequest(request)) => Inbound::AppStart(request),
        Ok(ServerMessage::AppAction(action)) => {
            Inbound::AppAction(action.request_id, action.action_data)
        }
        Ok(ServerMessage::AppTerminate(end)) => Inbound::AppTerminate(end.request_id),
        Err(MessageError::Invalid(err)) => malformed(message_type, payload, &err),
        Err(MessageError::NotAnObject) => Inbound::Ignore("no payload object"),
        Err(_) => Inbound::Ignore("unhandled message_type"),
    }
}

/// A payload that did not read as its message: answered under its id if
/// it has one; a request without a string `tool_name` as an unknown tool.
fn malformed(message_type: &str, payload: &str, err: &serde_json::Error) -> Inbound {
    let kind = match message_type {
        "atp_tool_request" => ResponseKind::Tool,
        "atp_app_request" | "atp_app_action" | "atp_app_terminate" => ResponseKind::App,
        _ => return Inbound::Ignore("unhandled message_type"),
    };
    let probe = Probe::of(payload);
    let Some(id) = probe
        .as_ref()
        .and_then(|p| p.request_id)
        .and_then(RequestId::from_raw)
    else {
        return Inbound::Ignore("request without a usable request_id");
    };
    let named = probe
        .and_then(|p| p.tool_name)
        .is_some_and(|raw| raw.get().starts_with('"'));
    match message_type {
        "atp_app_terminate" => Inbound::AppTerminate(id),
        "atp_tool_request" if !named => {
            Inbound::Reject(id, CallError::UnknownTool(MISSING_NAME.to_owned()), kind)
        }
        "atp_app_request" if !named => {
            Inbound::Reject(id, CallError::UnknownApp(MISSING_NAME.to_owned()), kind)
        }
        _ => Inbound::Reject(id, CallError::MalformedRequest(err.to_string()), kind),
    }
}

/// The name an unknown-tool answer gives a request without one.
const MISSING_NAME: &str = "<missing tool_name>";

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
            let answer =
                Reply::new(ResponseKind::Tool, req.request_id, Ok(json!(1).into())).to_frame();
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
            Inbound::Reject(_, CallError::UnknownTool(_), ResponseKind::Tool)
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
        let reply = Reply::new(ResponseKind::Tool, "r".into(), Ok(json!([1]).into()));
        assert_eq!(
            serde_json::from_str::<Value>(&reply.to_frame()).unwrap(),
            json!({"type": "tool_response", "request_id": "r", "result": [1]})
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&reply.to_inbox_body()).unwrap(),
            json!({"request_id": "r", "response": [1]})
        );
        let reply = Reply::new(
            ResponseKind::App,
            "r".into(),
            Err(CallError::MissingAuthToken),
        );
        assert_eq!(
            serde_json::from_str::<Value>(&reply.to_frame()).unwrap(),
            json!({"type": "app_response", "request_id": "r", "result": {"error": "Missing auth_token for authenticated tool"}})
        );
    }
}
