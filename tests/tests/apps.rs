//! App sessions (protocol section 5) end to end, over both transports: a
//! real toolkit serving a real app to a real atp-dev, which starts
//! sessions, sends actions and ends them.

use std::time::Duration;

use atp_dev::{CallError, CallOptions, DevServer};
use atp_sdk::Transport;
use atp_tests::*;
use serde_json::{Value, json};

const TRANSPORTS: [Transport; 2] = [Transport::WebSocket, Transport::Http];

async fn start_apps(server: &DevServer, transport: Transport, app: &str, max: usize) -> Toolkit {
    let client = builder(server, app, Some(&["echo"]))
        .transport(transport)
        .app(signup_app(false))
        .app(signup_app(true))
        .app_sessions(max, Duration::from_secs(3600))
        .build()
        .unwrap();
    let toolkit = spawn(client);
    server
        .wait_for_tools(&["echo", "signup", "signup_auth"], WAIT)
        .await
        .unwrap();
    toolkit
}

async fn start(server: &DevServer, params: Value) -> (String, Value) {
    let outcome = server
        .app_start("signup", params, CallOptions::default())
        .await
        .expect("the start is answered");
    (outcome.request_id, outcome.result)
}

async fn act(server: &DevServer, session: &str, action: Value) -> Value {
    server
        .app_action(session, action, None)
        .await
        .expect("the action is answered")
        .result
}

#[tokio::test]
async fn a_session_goes_from_start_through_actions_to_its_end() {
    for transport in TRANSPORTS {
        let server = start_server().await;
        let toolkit = start_apps(&server, transport, "apps-flow", 100).await;

        let (session, ui) = start(&server, json!({"title": "Beta"})).await;
        assert_eq!(
            ui,
            json!({"screen": "name", "title": "Beta"}),
            "{transport}"
        );
        assert_eq!(
            act(&server, &session, json!({"action": "name", "name": "Ada"})).await,
            json!({"screen": "email", "hello": "Ada", "steps": 1})
        );
        // An app error is answered and leaves the state as it was.
        assert_eq!(
            act(
                &server,
                &session,
                json!({"action": "email", "email": "nope"})
            )
            .await,
            json!({"error": "\"nope\" is not an e-mail address"})
        );
        // An action that does not fit the app's type.
        let invalid = act(&server, &session, json!({"action": "dance"})).await;
        assert!(
            invalid["error"]
                .as_str()
                .unwrap()
                .starts_with("Invalid app action: "),
            "{invalid}"
        );
        // A panic is answered too; the session survives it.
        let panicked = act(&server, &session, json!({"action": "panic"})).await;
        assert_eq!(panicked, json!({"error": "Tool panicked: the form broke"}));
        // The state kept the name: the steps count every action that ran.
        assert_eq!(
            act(
                &server,
                &session,
                json!({"action": "email", "email": "ada@example.com"})
            )
            .await,
            json!({"screen": "done", "title": "Beta", "name": "Ada",
                   "email": "ada@example.com", "steps": 2})
        );
        // The app finished the session: the toolkit no longer knows it.
        assert_eq!(
            act(
                &server,
                &session,
                json!({"action": "name", "name": "again"})
            )
            .await,
            json!({"error": format!("Unknown app session: {session}")}),
            "{transport}"
        );

        toolkit.shutdown().await.unwrap();
        server.shutdown().await;
    }
}

#[tokio::test]
async fn starts_are_validated_like_tool_calls() {
    for transport in TRANSPORTS {
        let server = start_server().await;
        let toolkit = start_apps(&server, transport, "apps-start", 100).await;

        let (session, ui) = start(&server, json!({})).await;
        assert_eq!(ui, json!({"error": "Missing required parameter: title"}));
        assert_eq!(
            server
                .app_action(&session, json!({}), None)
                .await
                .unwrap_err(),
            CallError::UnknownSession(session.clone()),
            "a failed start opens no session"
        );
        let (_, ui) = start(&server, json!({"title": "x", "fail": true})).await;
        assert_eq!(ui, json!({"error": "the form is closed"}));

        let missing = server
            .app_start("signup_auth", json!({"title": "t"}), CallOptions::default())
            .await
            .unwrap();
        assert_eq!(
            missing.result,
            json!({"error": "Missing auth_token for authenticated tool"})
        );
        let with_token = server
            .app_start(
                "signup_auth",
                json!({"title": "t"}),
                CallOptions {
                    auth_token: Some("tok".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(with_token.result["screen"], "name", "{transport}");

        // The app is announced like a tool, marked as an app; a tool call
        // to it is answered with a pointer to sessions.
        let registration = server
            .registrations()
            .into_iter()
            .find(|r| r.function_id == "signup")
            .unwrap();
        assert_eq!(registration.metadata.extra["app"], true);
        assert_eq!(registration.metadata.required_params, ["title"]);
        assert_eq!(
            registration.metadata.extra["parameters"]["properties"]["title"]["description"],
            "The form's title."
        );
        let as_tool = call(&server, "signup", json!({"title": "t"})).await;
        assert_eq!(
            as_tool,
            json!({"error": "`signup` is an interactive app: start a session with atp_app_request"})
        );

        toolkit.shutdown().await.unwrap();
        server.shutdown().await;
    }
}

#[tokio::test]
async fn the_server_can_end_a_session() {
    for transport in TRANSPORTS {
        let server = start_server().await;
        let toolkit = start_apps(&server, transport, "apps-end", 100).await;
        let (session, _) = start(&server, json!({"title": "t"})).await;
        let ended = server
            .app_end(&session, WAIT)
            .await
            .expect("the end is sent");
        assert_eq!(ended, Some(json!({"terminated": true})), "{transport}");
        assert_eq!(
            server
                .app_action(&session, json!({}), None)
                .await
                .unwrap_err(),
            CallError::UnknownSession(session.clone())
        );
        assert_eq!(
            server.app_end(&session, WAIT).await.unwrap_err(),
            CallError::UnknownSession(session)
        );
        toolkit.shutdown().await.unwrap();
        server.shutdown().await;
    }
}

#[tokio::test]
async fn sessions_are_bounded_in_number() {
    for transport in TRANSPORTS {
        let server = start_server().await;
        let toolkit = start_apps(&server, transport, "apps-bounded", 2).await;
        let (first, _) = start(&server, json!({"title": "1"})).await;
        let (second, _) = start(&server, json!({"title": "2"})).await;
        let (third, _) = start(&server, json!({"title": "3"})).await;
        // The least recently used one made room for the third.
        assert_eq!(
            act(&server, &first, json!({"action": "name", "name": "a"})).await,
            json!({"error": format!("Unknown app session: {first}")}),
            "{transport}"
        );
        for session in [&second, &third] {
            assert_eq!(
                act(&server, session, json!({"action": "name", "name": "b"})).await["screen"],
                "email"
            );
        }
        toolkit.shutdown().await.unwrap();
        server.shutdown().await;
    }
}

#[tokio::test]
async fn tools_and_app_sessions_interleave_on_one_toolkit() {
    for transport in TRANSPORTS {
        let server = start_server().await;
        let toolkit = start_apps(&server, transport, "apps-mixed", 100).await;
        let sessions = futures_util::future::join_all(
            (0..10).map(|i| start(&server, json!({"title": format!("t{i}")}))),
        )
        .await;
        let calls = (0..10).map(|i| call(&server, "echo", json!({"text": format!("e{i}")})));
        let actions = sessions.iter().enumerate().map(|(i, (session, _))| {
            act(
                &server,
                session,
                json!({"action": "name", "name": format!("n{i}")}),
            )
        });
        let (echoes, uis) = tokio::join!(
            futures_util::future::join_all(calls),
            futures_util::future::join_all(actions)
        );
        for (i, echo) in echoes.iter().enumerate() {
            assert_eq!(echo, &json!({"echo": format!("e{i}")}));
        }
        for (i, ui) in uis.iter().enumerate() {
            assert_eq!(ui["hello"], format!("n{i}"), "{transport}");
        }
        toolkit.shutdown().await.unwrap();
        server.shutdown().await;
    }
}
