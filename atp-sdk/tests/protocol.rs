//! The protocol types decode the literal examples of PROTOCOL.md and the
//! exact bodies the reference client (AgentToolProtocol 0.2.5) sends, and
//! encode what the platform expects.

use atp_sdk::protocol::*;
use serde_json::{Value, json};

#[test]
fn register_tool_example_of_the_protocol_page() {
    // Verbatim from PROTOCOL.md, section 1.
    let text = r#"{"function_id": "create_company", "api_key": "K", "app_name": "A",
    "programming_language": "Python", "code_hash": "h", "toolkit_hash": "H",
    "metadata": {"params": ["name", "domain", "industry"],
                 "required_params": ["name", "domain", "industry"],
                 "description": "Creates a company in HubSpot.",
                 "auth_provider": "hubspot", "auth_type": "OAuth2",
                 "auth_with": "access_token",
                 "sample_response": "", "source_code": "<the function's source>"}}"#;
    let body: RegisterToolRequest = serde_json::from_str(text).unwrap();
    assert_eq!(body.function_id, "create_company");
    assert_eq!(body.api_key.expose(), "K");
    assert_eq!(body.app_name, "A");
    assert_eq!(body.programming_language, "Python");
    assert_eq!(body.code_hash, "h");
    assert_eq!(body.toolkit_hash.as_deref(), Some("H"));
    assert_eq!(body.metadata.params, ["name", "domain", "industry"]);
    assert_eq!(
        body.metadata.required_params,
        ["name", "domain", "industry"]
    );
    assert_eq!(body.metadata.auth_provider.as_deref(), Some("hubspot"));
    assert_eq!(body.metadata.auth_type.as_deref(), Some("OAuth2"));
    assert_eq!(body.metadata.auth_with.as_deref(), Some("access_token"));
    assert_eq!(body.metadata.sample_response, json!(""));
    assert!(body.metadata.extra.is_empty());
    // And back to the same JSON.
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        serde_json::from_str::<Value>(text).unwrap()
    );
}

#[test]
fn reference_client_bodies() {
    // json.dumps of the reference client's payloads (Python None -> null,
    // toolkit_hash may be None when registering before any hash exists).
    let verify: VerifyHashRequest =
        serde_json::from_str(r#"{"api_key": "k", "app_name": "demo", "toolkit_hash": "abc"}"#)
            .unwrap();
    assert_eq!(verify.toolkit_hash, "abc");
    let verify_tool: VerifyToolHashRequest =
        serde_json::from_str(r#"{"api_key": "k", "tool_hash": "h1", "tool_name": "add"}"#).unwrap();
    assert_eq!(verify_tool.tool_name, "add");
    let register: RegisterToolRequest = serde_json::from_str(
        r#"{"function_id": "add", "api_key": "k", "app_name": "demo", "programming_language": "Python",
            "code_hash": "h1", "toolkit_hash": null,
            "metadata": {"params": ["a", "b"], "required_params": ["a", "b"], "description": "Adds",
                         "auth_provider": null, "auth_type": null, "auth_with": null,
                         "sample_response": "", "source_code": "def add(a, b):\n    return a + b\n"}}"#,
    )
    .unwrap();
    assert_eq!(register.toolkit_hash, None);
    assert_eq!(register.metadata.auth_provider, None);
    // The reference client's frames.
    let response: ToolkitMessage = serde_json::from_str(
        r#"{"type": "tool_response", "request_id": "r1", "result": {"sum": 3}}"#,
    )
    .unwrap();
    assert_eq!(
        response,
        ToolkitMessage::ToolResponse {
            request_id: "r1".into(),
            result: json!({"sum": 3})
        }
    );
    let app: ToolkitMessage = serde_json::from_str(
        r#"{"type": "app_response", "request_id": "s1", "result": {"view": "form"}}"#,
    )
    .unwrap();
    assert!(matches!(app, ToolkitMessage::AppResponse { .. }));
    let respond: InboxResponse =
        serde_json::from_str(r#"{"request_id": "r2", "response": {"error": "boom"}}"#).unwrap();
    assert_eq!(respond.response, json!({"error": "boom"}));
}

#[test]
fn server_frames_of_every_type() {
    let connected: ServerMessage = serde_json::from_str(
        r#"{"message_type": "atp_client_connected", "payload": {"message": "welcome"}}"#,
    )
    .unwrap();
    assert_eq!(
        connected,
        ServerMessage::ClientConnected(ClientConnected {
            message: "welcome".into()
        })
    );

    let request: ServerMessage = serde_json::from_str(
        r#"{"message_type": "atp_tool_request",
            "payload": {"request_id": "r1", "tool_name": "create_company",
                        "params": {"name": "Acme"}, "auth_token": "secret"}}"#,
    )
    .unwrap();
    let ServerMessage::ToolRequest(request) = request else {
        panic!()
    };
    assert_eq!(request.auth_token.as_ref().unwrap().as_str(), "secret");
    assert!(
        !format!("{request:?}").contains("secret"),
        "Debug redacts the token"
    );

    let no_token: ServerMessage = serde_json::from_str(
        r#"{"message_type": "atp_tool_request", "payload": {"request_id": "r2", "tool_name": "t", "params": {}, "auth_token": null}}"#,
    )
    .unwrap();
    assert!(matches!(
        no_token,
        ServerMessage::ToolRequest(ToolRequest {
            auth_token: None,
            ..
        })
    ));

    let app: ServerMessage = serde_json::from_str(
        r#"{"message_type": "atp_app_request", "payload": {"request_id": "s1", "tool_name": "form", "params": {}, "auth_token": null}}"#,
    )
    .unwrap();
    assert!(matches!(app, ServerMessage::AppRequest(_)));
    let action: ServerMessage = serde_json::from_str(
        r#"{"message_type": "atp_app_action", "payload": {"request_id": "s1", "action_data": {"button": "next"}}}"#,
    )
    .unwrap();
    assert_eq!(
        action,
        ServerMessage::AppAction(AppAction {
            request_id: "s1".into(),
            action_data: json!({"button": "next"})
        })
    );
    let end: ServerMessage = serde_json::from_str(
        r#"{"message_type": "atp_app_terminate", "payload": {"request_id": "s1"}}"#,
    )
    .unwrap();
    assert_eq!(
        end,
        ServerMessage::AppTerminate(AppTerminate {
            request_id: "s1".into()
        })
    );

    // Encoding gives the platform's shape.
    assert_eq!(
        serde_json::to_value(ServerMessage::ClientConnected(ClientConnected {
            message: "m".into()
        }))
        .unwrap(),
        json!({"message_type": "atp_client_connected", "payload": {"message": "m"}})
    );
}

#[test]
fn inbox_items() {
    let empty: InboxItem = serde_json::from_str("{}").unwrap();
    assert_eq!(empty, InboxItem::Empty {});
    assert_eq!(serde_json::to_string(&InboxItem::Empty {}).unwrap(), "{}");
    let item: InboxItem = serde_json::from_str(
        r#"{"request_id": "r", "tool_name": "add", "params": {"a": 1}, "auth_token": null}"#,
    )
    .unwrap();
    assert!(
        matches!(item, InboxItem::Request(ToolRequest { ref tool_name, .. }) if tool_name == "add")
    );
}

#[test]
fn answers_and_paths() {
    assert_eq!(
        serde_json::from_str::<UpToDate>(r#"{"up_to_date": true}"#).unwrap(),
        UpToDate { up_to_date: true }
    );
    assert_eq!(
        serde_json::from_str::<UpToDate>("{}").unwrap(),
        UpToDate { up_to_date: false }
    );
    assert_eq!(
        serde_json::from_str::<RegisterToolResponse>(r#"{"exchange_token": "x"}"#)
            .unwrap()
            .exchange_token,
        "x"
    );
    let key = atp_sdk::ApiKey::new("k1");
    assert_eq!(websocket_path(&key), "/ws/v1/atp/toolkit-client/k1/");
    assert_eq!(inbox_path(&key), "/api/v1/toolkit/k1/inbox");
    assert_eq!(inbox_respond_path(&key), "/api/v1/toolkit/k1/inbox/respond");
    assert!(!format!("{key:?} {key}").contains("k1"));
}

#[test]
fn request_ids_keep_their_exact_text_wherever_they_are_read() {
    use atp_sdk::protocol::RequestId;
    let big = "123456789012345678901234567890";
    // Straight from text, from a Value, and inside the enums serde buffers.
    let id: RequestId = serde_json::from_str(big).unwrap();
    assert_eq!(serde_json::to_string(&id).unwrap(), big);
    let frame = format!(r#"{{"type": "tool_response", "request_id": {big}, "result": 1}}"#);
    let ToolkitMessage::ToolResponse { request_id, .. } = serde_json::from_str(&frame).unwrap()
    else {
        panic!("a tool response")
    };
    assert_eq!(
        request_id.to_string(),
        "1.2345678901234568e+29",
        "buffered: as serde_json reads it"
    );
    let exact: RequestId = serde_json::from_value(json!("r7")).unwrap();
    assert_eq!(exact, RequestId::from("r7"));
    let number: RequestId = serde_json::from_value(json!(7)).unwrap();
    assert_eq!(serde_json::to_string(&number).unwrap(), "7");
    assert_ne!(
        number,
        RequestId::from("7"),
        "a number and a string are two ids"
    );
    assert!(serde_json::from_str::<RequestId>("[1]").is_err());
    assert!(serde_json::from_str::<RequestId>("null").is_err());
}

/// One set of names: each message's `message_type()` is its tag on the
/// wire, `from_parts` reads back what serde wrote (as a frame's payload
/// and as an inbox item), and the borrowed writers write what the owned
/// types serialize to.
#[test]
fn frames_items_and_parts_agree() {
    use atp_sdk::protocol::{
        AppAction, AppTerminate, ClientConnected, InboxResponse, ResponseKind, ToolkitMessage,
    };
    let request = ToolRequest {
        request_id: RequestId::from(7),
        tool_name: "add".to_owned(),
        params: json!({"a": 1}),
        auth_token: Some(atp_sdk::AuthToken::new("tok")),
    };
    let messages = [
        ServerMessage::ClientConnected(ClientConnected {
            message: "hi".to_owned(),
        }),
        ServerMessage::ToolRequest(request.clone()),
        ServerMessage::AppRequest(request),
        ServerMessage::AppAction(AppAction {
            request_id: "s".into(),
            action_data: json!({"click": 1}),
        }),
        ServerMessage::AppTerminate(AppTerminate {
            request_id: "s".into(),
        }),
    ];
    for message in messages {
        let frame = serde_json::to_value(&message).unwrap();
        assert_eq!(frame["message_type"], message.message_type());
        let payload = frame["payload"].to_string();
        let read = ServerMessage::from_parts(message.message_type(), &payload).unwrap();
        assert_eq!(read, message);
        let item = message.to_inbox_item();
        let tagged = item.get("message_type").is_some();
        assert_eq!(tagged, !matches!(message, ServerMessage::ToolRequest(_)));
        let read = ServerMessage::from_parts(message.message_type(), &item.to_string()).unwrap();
        assert_eq!(read, message);
    }
    let id = RequestId::from("r");
    for (kind, owned) in [
        (
            ResponseKind::Tool,
            ToolkitMessage::ToolResponse {
                request_id: id.clone(),
                result: json!([1]),
            },
        ),
        (
            ResponseKind::App,
            ToolkitMessage::AppResponse {
                request_id: id.clone(),
                result: json!([1]),
            },
        ),
    ] {
        let written = ToolkitMessage::frame(kind, &id, &json!([1]));
        assert_eq!(written, serde_json::to_string(&owned).unwrap());
        assert_eq!(
            serde_json::from_str::<ToolkitMessage>(&written).unwrap(),
            owned
        );
    }
    let owned = InboxResponse {
        request_id: id.clone(),
        response: json!({"x": 1}),
    };
    let written = InboxResponse::body(&id, &json!({"x": 1}));
    assert_eq!(written, serde_json::to_vec(&owned).unwrap());
    assert_eq!(
        serde_json::from_slice::<InboxResponse>(&written).unwrap(),
        owned
    );
}

/// Read leniently, as routers send them: a token that is not a string is
/// none, a greeting that is not a string is empty; a payload that is not
/// an object is refused (serde would read a struct from an array).
#[test]
fn lenient_fields_and_payloads_that_are_not_objects() {
    use atp_sdk::protocol::MessageError;
    let ServerMessage::ToolRequest(request) = ServerMessage::from_parts(
        "atp_tool_request",
        r#"{"request_id": "r", "tool_name": "t", "auth_token": 5}"#,
    )
    .unwrap() else {
        panic!("a tool request")
    };
    assert!(request.auth_token.is_none());
    assert_eq!(request.params, serde_json::Value::Null);
    let ServerMessage::ClientConnected(hello) =
        ServerMessage::from_parts("atp_client_connected", r#"{"message": [1]}"#).unwrap()
    else {
        panic!("a greeting")
    };
    assert_eq!(hello.message, "");
    assert!(matches!(
        ServerMessage::from_parts("atp_tool_request", r#"["r", "t"]"#),
        Err(MessageError::NotAnObject)
    ));
    assert!(matches!(
        ServerMessage::from_parts("atp_tool_request", r#"{"request_id": "r"}"#),
        Err(MessageError::Invalid(_))
    ));
}
