//! A client of the call API, for the CLI and for programs that drive a
//! running `atp-dev` over HTTP.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::hub::ToolInfo;

/// The default server of the client subcommands.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8787";

/// Why a request to the call API failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server could not be reached.
    #[error("could not reach atp-dev at {server}: {reason}")]
    Unreachable {
        /// The server's base URL.
        server: String,
        /// Why.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("{message} (HTTP {status})")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The server's `error` message.
        message: String,
    },
    /// The answer was not what the call API sends.
    #[error("unexpected answer from atp-dev: {0}")]
    Decode(String),
}

/// A tool's answer through the call API.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CallReply {
    /// The request's id.
    pub request_id: String,
    /// What the tool answered (an `{"error": ...}` result included).
    pub result: Value,
    /// The server-measured latency.
    pub latency_ms: f64,
}

/// An app session's answer through the call API.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AppReply {
    /// The session's id (the id of the request that started it).
    pub session_id: String,
    /// The UI content the app answered (or `{"error": ...}`); `null` for
    /// an end the toolkit did not answer.
    pub result: Value,
    /// The server-measured latency (absent for an end).
    #[serde(default)]
    pub latency_ms: Option<f64>,
}

/// An error with its sources: reqwest's own text ("error sending request")
/// says little without them ("Connection refused").
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A client of a running `atp-dev`.
///
/// ```no_run
/// # async fn demo() -> Result<(), atp_dev::client::ClientError> {
/// let client = atp_dev::client::DevClient::new("http://127.0.0.1:8787");
/// for tool in client.tools().await? {
///     println!("{}: {}", tool.name, tool.metadata.description);
/// }
/// let reply = client.call("echo", serde_json::json!({"text": "hi"}), None, None, None).await?;
/// println!("{}", reply.result);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DevClient {
    http: reqwest::Client,
    server: String,
    /// The server's key, sent as `Authorization: Bearer <key>`.
    key: Option<String>,
}

// Not derived: the key is a secret.
impl std::fmt::Debug for DevClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevClient")
            .field("server", &self.server)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl DevClient {
    /// A client of the server at `base_url`.
    pub fn new(base_url: impl Into<String>) -> Self {
        // The workspace builds rustls on `ring`; make it the default so
        // reqwest finds a provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            http: reqwest::Client::new(),
            server: base_url.into().trim_end_matches('/').to_owned(),
            key: None,
        }
    }

    /// Sends `key` with every request, as a server started with
    /// `--api-key` (or one that generated its key) requires.
    pub fn with_key(mut self, key: Option<String>) -> Self {
        self.key = key.filter(|k| !k.is_empty());
        self
    }

    /// The server's base URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The tools of every connected toolkit.
    pub async fn tools(&self) -> Result<Vec<ToolInfo>, ClientError> {
        #[derive(Deserialize)]
        struct Tools {
            tools: Vec<ToolInfo>,
        }
        let request = self.http.get(format!("{}/api/dev/tools", self.server));
        let tools: Tools = self.send(request).await?;
        Ok(tools.tools)
    }

    /// Asks the no-op route, `GET /api/dev/ping`: what a round trip to
    /// atp-dev costs with no toolkit involved.
    pub async fn ping(&self) -> Result<(), ClientError> {
        let request = self.http.get(format!("{}/api/dev/ping", self.server));
        let _: Value = self.send(request).await?;
        Ok(())
    }

    /// Calls a tool.
    pub async fn call(
        &self,
        tool: &str,
        params: Value,
        auth_token: Option<&str>,
        timeout: Option<Duration>,
        app_name: Option<&str>,
    ) -> Result<CallReply, ClientError> {
        let mut body = json!({ "params": params });
        if let Some(token) = auth_token {
            body["auth_token"] = json!(token);
        }
        if let Some(timeout) = timeout {
            body["timeout_ms"] = json!(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        }
        if let Some(app) = app_name {
            body["app_name"] = json!(app);
        }
        let mut request = self
            .http
            .post(format!("{}/api/dev/tools/{tool}/call", self.server))
            .json(&body);
        if let Some(timeout) = timeout {
            request = request.timeout(timeout + Duration::from_secs(5));
        }
        self.send(request).await
    }

    /// What an LLM is shown of `toolkit` (a connected toolkit's app name)
    /// for `provider` (`openai`, `anthropic`, `mistral` or `gemini`): the
    /// same context the LLM-client API answers, its `tools` in the
    /// provider's shape, plus `not_strict` (for each tool that can't be
    /// strict, why).
    pub async fn context(
        &self,
        toolkit: &str,
        provider: &str,
        user_prompt: &str,
    ) -> Result<Value, ClientError> {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/dev/toolkits/{toolkit}/context", self.server),
            [("provider", provider), ("user_prompt", user_prompt)],
        )
        .map_err(|err| ClientError::Unreachable {
            server: self.server.clone(),
            reason: format!("not a URL: {err}"),
        })?;
        self.send(self.http.get(url)).await
    }

    /// Starts an app session (`atp_app_request`) with `params`.
    pub async fn app_start(
        &self,
        app: &str,
        params: Value,
        auth_token: Option<&str>,
        app_name: Option<&str>,
    ) -> Result<AppReply, ClientError> {
        let mut body = json!({ "params": params });
        if let Some(token) = auth_token {
            body["auth_token"] = json!(token);
        }
        if let Some(toolkit) = app_name {
            body["app_name"] = json!(toolkit);
        }
        let request = self
            .http
            .post(format!("{}/api/dev/apps/{app}/start", self.server))
            .json(&body);
        self.send(request).await
    }

    /// Sends a user action to a session (`atp_app_action`).
    pub async fn app_action(
        &self,
        session: &str,
        action_data: Value,
    ) -> Result<AppReply, ClientError> {
        let request = self
            .http
            .post(format!(
                "{}/api/dev/apps/sessions/{session}/action",
                self.server
            ))
            .json(&json!({ "action_data": action_data }));
        self.send(request).await
    }

    /// Ends a session (`atp_app_terminate`).
    pub async fn app_end(&self, session: &str) -> Result<AppReply, ClientError> {
        let request = self
            .http
            .delete(format!("{}/api/dev/apps/sessions/{session}", self.server));
        self.send(request).await
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let request = match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        };
        let response = request
            .send()
            .await
            .map_err(|err| ClientError::Unreachable {
                server: self.server.clone(),
                reason: error_chain(&err.without_url()),
            })?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|err| ClientError::Decode(err.without_url().to_string()))?;
        if !status.is_success() {
            let message = body
                .get("error")
                .and_then(Value::as_str)
                .map_or_else(|| body.to_string(), str::to_owned);
            return Err(ClientError::Status {
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_value(body).map_err(|err| ClientError::Decode(err.to_string()))
    }
}
