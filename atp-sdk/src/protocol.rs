//! The wire protocol between a toolkit and an ATP server, as serde types.
//!
//! Every frame and HTTP body of the ATP toolkit protocol, in both
//! directions. The SDK uses the toolkit side, `atp-dev` the server side; both
//! share these definitions so they can't drift apart. The contract they
//! implement, with the reference client's quirks and what we do instead, is
//! written down in the repository's
//! [`docs/PROTOCOL.md`](https://github.com/atp-sdk/atp-sdk/blob/main/docs/PROTOCOL.md).
//!
//! | step | direction | type |
//! |---|---|---|
//! | `POST /api/v1/toolkit/verify_hash` | toolkit → server | [`VerifyHashRequest`] → [`UpToDate`] |
//! | `POST /api/v1/toolkit/verify_tool_hash` | toolkit → server | [`VerifyToolHashRequest`] → [`UpToDate`] |
//! | `POST /api/v1/register_tool` | toolkit → server | [`RegisterToolRequest`] → [`RegisterToolResponse`] |
//! | WebSocket frame | server → toolkit | [`ServerMessage`] |
//! | WebSocket frame | toolkit → server | [`ToolkitMessage`] |
//! | `GET /api/v1/toolkit/{key}/inbox` | server → toolkit | [`InboxItem`] |
//! | `POST /api/v1/toolkit/{key}/inbox/respond` | toolkit → server | [`InboxResponse`] |
//!
//! ```
//! use atp_sdk::protocol::{ServerMessage, ToolkitMessage, RequestId};
//! use serde_json::json;
//!
//! let frame = r#"{"message_type": "atp_tool_request",
//!                 "payload": {"request_id": "r1", "tool_name": "echo",
//!                             "params": {"text": "hi"}, "auth_token": null}}"#;
//! let ServerMessage::ToolRequest(req) = serde_json::from_str(frame).unwrap() else { panic!() };
//! assert_eq!(req.tool_name, "echo");
//!
//! let reply = ToolkitMessage::ToolResponse { request_id: req.request_id, result: json!("hi") };
//! assert_eq!(
//!     serde_json::to_value(&reply).unwrap(),
//!     json!({"type": "tool_response", "request_id": "r1", "result": "hi"}),
//! );
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::secret::{ApiKey, AuthToken};

/// The default base URL of the hosted platform.
pub const DEFAULT_BASE_URL: &str = "https://api.chat-atp.com";

/// Path of the `verify_hash` endpoint, relative to the base URL.
pub const VERIFY_HASH_PATH: &str = "/api/v1/toolkit/verify_hash";
/// Path of the `verify_tool_hash` endpoint, relative to the base URL.
pub const VERIFY_TOOL_HASH_PATH: &str = "/api/v1/toolkit/verify_tool_hash";
/// Path of the `register_tool` endpoint, relative to the base URL.
pub const REGISTER_TOOL_PATH: &str = "/api/v1/register_tool";

/// The WebSocket path for a key: `/ws/v1/atp/toolkit-client/{api_key}/`.
///
/// The result contains the key: treat it as a secret.
pub fn websocket_path(api_key: &ApiKey) -> String {
    format!("/ws/v1/atp/toolkit-client/{}/", api_key.expose())
}

/// The inbox path for a key: `/api/v1/toolkit/{api_key}/inbox`.
pub fn inbox_path(api_key: &ApiKey) -> String {
    format!("/api/v1/toolkit/{}/inbox", api_key.expose())
}

/// The inbox answer path for a key: `/api/v1/toolkit/{api_key}/inbox/respond`.
pub fn inbox_respond_path(api_key: &ApiKey) -> String {
    format!("/api/v1/toolkit/{}/inbox/respond", api_key.expose())
}

/// The WebSocket base for an HTTP base URL: `https://` → `wss://`,
/// `http://` → `ws://`; `ws://` and `wss://` are kept; anything else is `None`.
///
/// ```
/// use atp_sdk::protocol::websocket_base;
/// assert_eq!(websocket_base("https://api.chat-atp.com/").as_deref(), Some("wss://api.chat-atp.com"));
/// assert_eq!(websocket_base("http://127.0.0.1:8787").as_deref(), Some("ws://127.0.0.1:8787"));
/// assert_eq!(websocket_base("ftp://x"), None);
/// ```
pub fn websocket_base(base_url: &str) -> Option<String> {
    let base = base_url.trim_end_matches('/');
    if let Some(rest) = base.strip_prefix("https://") {
        Some(format!("wss://{rest}"))
    } else if let Some(rest) = base.strip_prefix("http://") {
        Some(format!("ws://{rest}"))
    } else if base.starts_with("ws://") || base.starts_with("wss://") {
        Some(base.to_owned())
    } else {
        None
    }
}

// ---------------------------------------------------------------------------
// Announcing (section 1)
// ---------------------------------------------------------------------------

/// Body of `POST /api/v1/toolkit/verify_hash`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyHashRequest {
    /// The toolkit's API key.
    pub api_key: ApiKey,
    /// The toolkit's name.
    pub app_name: String,
    /// SHA-256 (hex) of all tools' source texts concatenated in name order.
    pub toolkit_hash: String,
}

/// Body of `POST /api/v1/toolkit/verify_tool_hash`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyToolHashRequest {
    /// The toolkit's API key.
    pub api_key: ApiKey,
    /// SHA-256 (hex) of the tool's source text.
    pub tool_hash: String,
    /// The tool's name.
    pub tool_name: String,
}

/// Answer of both verify endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UpToDate {
    /// `true` when the server already holds exactly this hash.
    #[serde(default)]
    pub up_to_date: bool,
}

/// Body of `POST /api/v1/register_tool`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterToolRequest {
    /// The tool's name (the platform calls it a function id).
    pub function_id: String,
    /// The toolkit's API key.
    pub api_key: ApiKey,
    /// The toolkit's name.
    pub app_name: String,
    /// `"Rust"` for this SDK, `"Python"` for the reference client.
    pub programming_language: String,
    /// SHA-256 (hex) of the tool's source text.
    pub code_hash: String,
    /// The toolkit hash at the time of registration.
    #[serde(default)]
    pub toolkit_hash: Option<String>,
    /// What the platform shows the agent.
    pub metadata: ToolMetadata,
}

/// A tool's metadata, as registered.
///
/// Fields the platform does not know (such as the JSON Schema of the
/// parameters, under `"parameters"`) ride along in [`extra`](Self::extra).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ToolMetadata {
    /// Parameter names, in declaration order.
    #[serde(default)]
    pub params: Vec<String>,
    /// The names of the required parameters.
    #[serde(default)]
    pub required_params: Vec<String>,
    /// What the tool does, for the agent.
    #[serde(default)]
    pub description: String,
    /// The auth provider (e.g. `"hubspot"`), if the tool needs a token.
    #[serde(default)]
    pub auth_provider: Option<String>,
    /// The auth type (e.g. `"OAuth2"`, `"API Key"`).
    #[serde(default)]
    pub auth_type: Option<String>,
    /// What the token is used as (e.g. `"access_token"`, `"api_key"`).
    #[serde(default)]
    pub auth_with: Option<String>,
    /// An example result; the reference client always sends `""`.
    #[serde(default)]
    pub sample_response: Value,
    /// The tool's source text.
    #[serde(default)]
    pub source_code: String,
    /// Any other field, kept as sent (e.g. `"parameters"`: a JSON Schema).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Answer of `register_tool`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterToolResponse {
    /// A token the platform hands out per registration.
    pub exchange_token: String,
}

// ---------------------------------------------------------------------------
// WebSocket frames (section 2)
// ---------------------------------------------------------------------------

/// A request id, echoed back unchanged in the response.
///
/// The platform sends strings; a number is accepted too and echoed byte for
/// byte, as it was written (`123456789012345678901234567890` stays that,
/// `1.50` stays `1.50`). A string and a number never equal each other: `7`
/// and `"7"` are two ids.
///
/// ```
/// use atp_sdk::protocol::RequestId;
/// let id: RequestId = serde_json::from_str("123456789012345678901234567890").unwrap();
/// assert_eq!(serde_json::to_string(&id).unwrap(), "123456789012345678901234567890");
/// assert_ne!(serde_json::from_str::<RequestId>("7").unwrap(), RequestId::from("7"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum RequestId {
    /// A string id (what the platform sends).
    Str(String),
    /// A numeric id, kept as its JSON text.
    Num(RawNumber),
}

/// A JSON number kept as the exact text it was written as.
#[derive(Clone)]
pub struct RawNumber(Box<serde_json::value::RawValue>);

impl RawNumber {
    /// The number's JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for RawNumber {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RawNumber {}

impl std::hash::Hash for RawNumber {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for RawNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RequestId {
    /// Reads an id from a JSON value: a string or a number, nothing else.
    pub fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::String(s) => Some(Self::Str(s.clone())),
            Value::Number(n) => serde_json::value::RawValue::from_string(n.to_string())
                .ok()
                .map(|raw| Self::Num(RawNumber(raw))),
            _ => None,
        }
    }

    /// Reads an id from its JSON text: a string or a number, nothing else.
    /// A number keeps its text exactly.
    pub fn from_raw(raw: &serde_json::value::RawValue) -> Option<Self> {
        let text = raw.get();
        match text.as_bytes().first()? {
            b'"' => serde_json::from_str(text).ok().map(Self::Str),
            b'-' | b'0'..=b'9' => Some(Self::Num(RawNumber(raw.to_owned()))),
            _ => None,
        }
    }
}

impl Serialize for RequestId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Str(s) => serializer.serialize_str(s),
            Self::Num(n) => n.0.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for RequestId {
    /// Straight from JSON text (or a `Value`), a number's text is kept
    /// exactly, as serde_json's `RawValue` does. Inside a value serde
    /// buffers first (an internally tagged or untagged enum), the number
    /// arrives already read, and is kept as serde_json writes it.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // serde_json's marker for a raw value: its deserializers hand the
        // value's text to a visitor asking for this newtype struct.
        const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";
        deserializer.deserialize_newtype_struct(RAW_VALUE_TOKEN, IdVisitor)
    }
}

struct IdVisitor;

impl IdVisitor {
    fn number<E: serde::de::Error>(text: String) -> Result<RequestId, E> {
        serde_json::value::RawValue::from_string(text)
            .map(|raw| RequestId::Num(RawNumber(raw)))
            .map_err(E::custom)
    }
}

impl<'de> serde::de::Visitor<'de> for IdVisitor {
    type Value = RequestId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a request id (a string or a number)")
    }

    /// serde_json's raw value: `{TOKEN: "<the value's JSON text>"}`.
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RequestId, A::Error> {
        let Some(_token) = map.next_key::<String>()? else {
            return Err(serde::de::Error::custom(
                "a request id is a string or a number",
            ));
        };
        let text: String = map.next_value()?;
        let raw =
            serde_json::value::RawValue::from_string(text).map_err(serde::de::Error::custom)?;
        RequestId::from_raw(&raw)
            .ok_or_else(|| serde::de::Error::custom("a request id is a string or a number"))
    }

    fn visit_newtype_struct<D: serde::Deserializer<'de>>(
        self,
        d: D,
    ) -> Result<RequestId, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RequestId, E> {
        Ok(RequestId::Str(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<RequestId, E> {
        Ok(RequestId::Str(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RequestId, E> {
        Self::number(v.to_string())
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RequestId, E> {
        Self::number(v.to_string())
    }

    fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<RequestId, E> {
        Self::number(v.to_string())
    }

    fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<RequestId, E> {
        Self::number(v.to_string())
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<RequestId, E> {
        match serde_json::Number::from_f64(v) {
            Some(n) => Self::number(n.to_string()),
            None => Err(E::custom("a request id is a finite number")),
        }
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Str(s) => fmt::Debug::fmt(s, f),
            Self::Num(n) => f.write_str(n.as_str()),
        }
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Str(s) => f.write_str(s),
            Self::Num(n) => f.write_str(n.as_str()),
        }
    }
}

impl From<&str> for RequestId {
    fn from(id: &str) -> Self {
        Self::Str(id.to_owned())
    }
}

impl From<String> for RequestId {
    fn from(id: String) -> Self {
        Self::Str(id)
    }
}

impl From<u64> for RequestId {
    fn from(id: u64) -> Self {
        let raw = serde_json::value::RawValue::from_string(id.to_string())
            .expect("an integer is valid JSON");
        Self::Num(RawNumber(raw))
    }
}

/// Payload of `atp_tool_request` and `atp_app_request` (and an inbox item).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolRequest {
    /// Echoed in the response.
    pub request_id: RequestId,
    /// The tool (or app) to run.
    pub tool_name: String,
    /// The arguments. The platform sends an object; some routers send `""`
    /// or `null`, which count as no arguments.
    #[serde(default)]
    pub params: Value,
    /// The user's token for the tool's `auth_provider`, if any. Anything
    /// but a string (`null`, a number) reads as none.
    #[serde(default, deserialize_with = "lenient::token")]
    pub auth_token: Option<AuthToken>,
}

/// Payload of `atp_app_action`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppAction {
    /// The session, i.e. the `request_id` of the `atp_app_request` that started it.
    pub request_id: RequestId,
    /// What the user did (button, form data, ...).
    #[serde(default)]
    pub action_data: Value,
}

/// Payload of `atp_app_terminate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppTerminate {
    /// The session to drop.
    pub request_id: RequestId,
}

/// Payload of `atp_client_connected`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientConnected {
    /// A greeting from the server (anything but a string reads as `""`).
    #[serde(default, deserialize_with = "lenient::text")]
    pub message: String,
}

/// A frame from the server to the toolkit: `{"message_type": ..., "payload": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "message_type", content = "payload")]
pub enum ServerMessage {
    /// `atp_client_connected`: the connection is accepted.
    #[serde(rename = "atp_client_connected")]
    ClientConnected(ClientConnected),
    /// `atp_tool_request`: run a tool and answer with a `tool_response`.
    #[serde(rename = "atp_tool_request")]
    ToolRequest(ToolRequest),
    /// `atp_app_request`: start an interactive app session.
    #[serde(rename = "atp_app_request")]
    AppRequest(ToolRequest),
    /// `atp_app_action`: a user action in an app session.
    #[serde(rename = "atp_app_action")]
    AppAction(AppAction),
    /// `atp_app_terminate`: end an app session.
    #[serde(rename = "atp_app_terminate")]
    AppTerminate(AppTerminate),
}

impl ServerMessage {
    /// The `message_type` that names this message on the wire.
    ///
    /// ```
    /// use atp_sdk::protocol::{AppTerminate, ServerMessage};
    /// let end = ServerMessage::AppTerminate(AppTerminate { request_id: "s1".into() });
    /// assert_eq!(end.message_type(), "atp_app_terminate");
    /// ```
    pub fn message_type(&self) -> &'static str {
        match self {
            Self::ClientConnected(_) => "atp_client_connected",
            Self::ToolRequest(_) => "atp_tool_request",
            Self::AppRequest(_) => "atp_app_request",
            Self::AppAction(_) => "atp_app_action",
            Self::AppTerminate(_) => "atp_app_terminate",
        }
    }

    /// Reads a message from its `message_type` and its payload's JSON text:
    /// a frame's `payload`, or an inbox item's fields (section 4). Fields a
    /// payload does not have are ignored.
    ///
    /// ```
    /// use atp_sdk::protocol::{MessageError, ServerMessage};
    /// let item = r#"{"message_type": "atp_app_action", "request_id": "s1", "action_data": {"n": 1}}"#;
    /// let ServerMessage::AppAction(action) = ServerMessage::from_parts("atp_app_action", item).unwrap()
    /// else { panic!() };
    /// assert_eq!(action.action_data, serde_json::json!({"n": 1}));
    /// assert!(matches!(ServerMessage::from_parts("atp_new", "{}"), Err(MessageError::UnknownType)));
    /// ```
    pub fn from_parts(message_type: &str, payload: &str) -> Result<Self, MessageError> {
        fn read<'a, T: Deserialize<'a>>(
            payload: &'a str,
            wrap: fn(T) -> ServerMessage,
        ) -> Result<ServerMessage, MessageError> {
            serde_json::from_str(payload)
                .map(wrap)
                .map_err(MessageError::Invalid)
        }
        // A payload is an object: serde would read a struct from an array.
        if payload.trim_start().as_bytes().first() != Some(&b'{') {
            return Err(MessageError::NotAnObject);
        }
        match message_type {
            "atp_client_connected" => read(payload, Self::ClientConnected),
            "atp_tool_request" => read(payload, Self::ToolRequest),
            "atp_app_request" => read(payload, Self::AppRequest),
            "atp_app_action" => read(payload, Self::AppAction),
            "atp_app_terminate" => read(payload, Self::AppTerminate),
            _ => Err(MessageError::UnknownType),
        }
    }

    /// The message as an inbox item (section 4): the payload's fields, with
    /// `message_type` among them unless it is a tool request.
    ///
    /// ```
    /// use atp_sdk::protocol::{AppTerminate, ServerMessage};
    /// use serde_json::json;
    /// let end = ServerMessage::AppTerminate(AppTerminate { request_id: "s1".into() });
    /// assert_eq!(end.to_inbox_item(), json!({"request_id": "s1", "message_type": "atp_app_terminate"}));
    /// ```
    pub fn to_inbox_item(&self) -> Value {
        let payload = match self {
            Self::ClientConnected(p) => serde_json::to_value(p),
            Self::ToolRequest(p) | Self::AppRequest(p) => serde_json::to_value(p),
            Self::AppAction(p) => serde_json::to_value(p),
            Self::AppTerminate(p) => serde_json::to_value(p),
        };
        let mut item = payload.expect("a protocol message always serializes");
        if !matches!(self, Self::ToolRequest(_))
            && let Value::Object(fields) = &mut item
        {
            fields.insert(
                "message_type".to_owned(),
                Value::String(self.message_type().to_owned()),
            );
        }
        item
    }
}

/// Why a payload could not be read as a [`ServerMessage`].
#[derive(Debug)]
#[non_exhaustive]
pub enum MessageError {
    /// A `message_type` this protocol does not have.
    UnknownType,
    /// The payload is not a JSON object.
    NotAnObject,
    /// The payload is not that message's (a field missing or of the wrong
    /// type, a number out of range, ...).
    Invalid(serde_json::Error),
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownType => f.write_str("unhandled message_type"),
            Self::NotAnObject => f.write_str("the payload is not a JSON object"),
            Self::Invalid(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for MessageError {}

/// Fields read leniently, as the platform's routers may send them.
mod lenient {
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    use crate::secret::AuthToken;

    /// A token: a string, else none.
    pub(super) fn token<'de, D: Deserializer<'de>>(d: D) -> Result<Option<AuthToken>, D::Error> {
        Ok(match Option::<Value>::deserialize(d)? {
            Some(Value::String(token)) => Some(AuthToken::new(token)),
            _ => None,
        })
    }

    /// A text: a string, else empty.
    pub(super) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(match Option::<Value>::deserialize(d)? {
            Some(Value::String(text)) => text,
            _ => String::new(),
        })
    }
}

/// A frame from the toolkit to the server: `{"type": ..., "request_id": ..., "result": ...}`.
///
/// [`ToolkitMessage::frame`] writes one from borrowed parts, as the SDK does.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type")]
pub enum ToolkitMessage {
    /// The answer to an `atp_tool_request`. A failure is
    /// `{"error": "<message>"}` in `result`.
    #[serde(rename = "tool_response")]
    ToolResponse {
        /// The request's id.
        request_id: RequestId,
        /// Whatever the tool returned.
        result: Value,
    },
    /// The answer to an app request or action.
    #[serde(rename = "app_response")]
    AppResponse {
        /// The session's id.
        request_id: RequestId,
        /// The UI content (or `{"error": ...}`).
        result: Value,
    },
}

/// Which response a [`ToolkitMessage`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseKind {
    /// `tool_response`.
    Tool,
    /// `app_response`.
    App,
}

/// The one layout of a toolkit's frame, for owned and borrowed parts.
#[derive(Serialize)]
struct ResponseFrame<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    request_id: &'a RequestId,
    result: &'a Value,
}

impl ToolkitMessage {
    /// The frame of a response, from borrowed parts (no copy of the result).
    ///
    /// ```
    /// use atp_sdk::protocol::{ResponseKind, ToolkitMessage};
    /// use serde_json::json;
    /// let frame = ToolkitMessage::frame(ResponseKind::Tool, &"r1".into(), &json!(2));
    /// assert_eq!(frame, r#"{"type":"tool_response","request_id":"r1","result":2}"#);
    /// ```
    pub fn frame(kind: ResponseKind, request_id: &RequestId, result: &Value) -> String {
        serde_json::to_string(&ResponseFrame::new(kind, request_id, result))
            .expect("a JSON value always serializes")
    }
}

impl<'a> ResponseFrame<'a> {
    fn new(kind: ResponseKind, request_id: &'a RequestId, result: &'a Value) -> Self {
        let kind = match kind {
            ResponseKind::Tool => "tool_response",
            ResponseKind::App => "app_response",
        };
        Self {
            kind,
            request_id,
            result,
        }
    }
}

impl Serialize for ToolkitMessage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let frame = match self {
            Self::ToolResponse { request_id, result } => {
                ResponseFrame::new(ResponseKind::Tool, request_id, result)
            }
            Self::AppResponse { request_id, result } => {
                ResponseFrame::new(ResponseKind::App, request_id, result)
            }
        };
        frame.serialize(serializer)
    }
}

// ---------------------------------------------------------------------------
// HTTP inbox (section 4)
// ---------------------------------------------------------------------------

/// Answer of `GET /api/v1/toolkit/{key}/inbox`: one pending tool request,
/// or `{}`. An app session's message comes as its payload's fields with
/// `message_type` among them: [`ServerMessage::to_inbox_item`] writes one,
/// [`ServerMessage::from_parts`] reads one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InboxItem {
    /// A pending request.
    Request(ToolRequest),
    /// Nothing pending (`{}`).
    Empty {},
}

/// Body of `POST /api/v1/toolkit/{key}/inbox/respond`.
///
/// [`InboxResponse::body`] writes one from borrowed parts, as the SDK does.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InboxResponse {
    /// The request's id.
    pub request_id: RequestId,
    /// Whatever the tool returned (or `{"error": ...}`).
    pub response: Value,
}

/// The one layout of an inbox answer, for owned and borrowed parts.
#[derive(Serialize)]
struct ResponseBody<'a> {
    request_id: &'a RequestId,
    response: &'a Value,
}

impl InboxResponse {
    /// The body of an answer, from borrowed parts (no copy of the result).
    ///
    /// ```
    /// use atp_sdk::protocol::InboxResponse;
    /// let body = InboxResponse::body(&"r1".into(), &serde_json::json!(2));
    /// assert_eq!(body, br#"{"request_id":"r1","response":2}"#);
    /// ```
    pub fn body(request_id: &RequestId, response: &Value) -> Vec<u8> {
        serde_json::to_vec(&ResponseBody {
            request_id,
            response,
        })
        .expect("a JSON value always serializes")
    }
}

impl Serialize for InboxResponse {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ResponseBody {
            request_id: &self.request_id,
            response: &self.response,
        }
        .serialize(serializer)
    }
}

/// An error result: `{"error": message}`.
///
/// ```
/// assert_eq!(atp_sdk::protocol::error_result("boom"), serde_json::json!({"error": "boom"}));
/// ```
pub fn error_result(message: impl Into<String>) -> Value {
    let mut map = Map::with_capacity(1);
    map.insert("error".to_owned(), Value::String(message.into()));
    Value::Object(map)
}

// ---------------------------------------------------------------------------
// The caller side: the LLM-client API (section 6)
// ---------------------------------------------------------------------------

/// WebSocket path of the LLM-client API for a key:
/// `/ws/v1/atp/llm-client/{api_key}/`. The result holds the key: a secret.
pub fn llm_client_path(api_key: &ApiKey) -> String {
    format!("/ws/v1/atp/llm-client/{}/", api_key.expose())
}

/// Path of the LLM-client API over HTTP, relative to the base URL.
pub const LLM_PROCESS_PATH: &str = "/api/v1/atp/llm-client/process/";

/// A message from an agent (the reference `LLMClient`) to the server: over
/// the WebSocket, or as the body of `POST /api/v1/atp/llm-client/process/`.
///
/// ```
/// use atp_sdk::protocol::LlmRequest;
/// let auth: LlmRequest = serde_json::from_str(r#"{"type": "auth", "api_key": "k"}"#).unwrap();
/// assert!(matches!(auth, LlmRequest::Auth { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum LlmRequest {
    /// The first message on the WebSocket.
    #[serde(rename = "auth")]
    Auth {
        /// The caller's key.
        api_key: ApiKey,
    },
    /// What an LLM is shown of a toolkit.
    #[serde(rename = "get_toolkit_context")]
    GetToolkitContext {
        /// Matches the reply.
        request_id: String,
        /// The toolkit (locally: its `app_name`).
        toolkit_id: String,
        /// `openai`, `anthropic`, `mistral` / `mistralai`.
        #[serde(default)]
        provider: Option<String>,
        /// The user's prompt, echoed in the context.
        #[serde(default)]
        user_prompt: Option<String>,
        /// The caller's key (the reference client repeats it).
        #[serde(default)]
        api_key: Option<ApiKey>,
    },
    /// Run one tool call.
    #[serde(rename = "task_request")]
    TaskRequest {
        /// Matches the reply.
        request_id: String,
        /// The toolkit (locally: its `app_name`).
        toolkit_id: String,
        /// The user's token for the tool's provider.
        #[serde(default)]
        auth_token: Option<AuthToken>,
        /// The user's prompt.
        #[serde(default)]
        user_prompt: Option<String>,
        /// The caller's key (the reference client repeats it).
        #[serde(default)]
        api_key: Option<ApiKey>,
        /// The call.
        payload: TaskPayload,
    },
}

/// The call of a `task_request`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskPayload {
    /// The tool's name.
    pub function: String,
    /// Its arguments.
    #[serde(default)]
    pub parameters: Value,
    /// The user's token (the reference client sends it here too).
    #[serde(default)]
    pub auth_token: Option<AuthToken>,
    /// The provider's id of this call.
    #[serde(default)]
    pub tool_call_id: Option<String>,
}

/// A message from the server to an agent over the WebSocket (over HTTP,
/// the same fields without `type` and `request_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum LlmReply {
    /// The answer to `auth`.
    #[serde(rename = "auth_response")]
    AuthResponse {
        /// Whether the key was accepted.
        success: bool,
        /// Why not.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The answer to `get_toolkit_context`.
    #[serde(rename = "toolkit_context")]
    ToolkitContext {
        /// The request's id.
        request_id: String,
        /// The context (absent with an error).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payload: Option<Value>,
        /// `"error"` when there is no context.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<String>,
        /// Why not.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// The answer to `task_request`.
    #[serde(rename = "task_response")]
    TaskResponse {
        /// The request's id.
        request_id: String,
        /// `{"tool": {"name", "result"}}`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<Value>,
        /// `"error"` when the server could not run the call at all.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<String>,
        /// Why not.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
}
