//! The caller side of ATP: what an agent — the program that talks to an
//! LLM — uses to show the LLM a toolkit's tools and to run the calls the
//! LLM picks ([`LlmClient`]), and the providers' shapes of tools, tool
//! calls and results ([`Provider`]).
//!
//! ```no_run
//! use atp_sdk::llm::{LlmClient, Provider};
//! # async fn agent() -> Result<(), atp_sdk::llm::LlmError> {
//! let atp = LlmClient::builder("my-api-key").base_url("http://127.0.0.1:8787").build()?;
//! // What the model is shown:
//! let context = atp.context("my-toolkit", Provider::Anthropic, "File a ticket").await?;
//! let tools = context.tools_json(); // put these in the request to the model
//! // ... the model answers with tool_use blocks; run them all (at once):
//! let model_output = serde_json::json!({"role": "assistant", "content": [
//!     {"type": "tool_use", "id": "tu_1", "name": "echo", "input": {"text": "hi"}}
//! ]});
//! let messages = atp.call("my-toolkit", Provider::Anthropic, &model_output, None).await?;
//! // ... and append `messages` to the conversation.
//! # let _ = (tools, messages);
//! # Ok(()) }
//! ```

mod connection;
mod provider;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

pub use provider::{Provider, ToolCall, ToolSpec};
use provider::{read_tool_calls, shape_results};

use crate::protocol::{LLM_PROCESS_PATH, LlmRequest, TaskPayload, websocket_base};
use crate::secret::{ApiKey, AuthToken};

/// Why a request of the caller side failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// The server refused the key.
    #[error("the ATP server rejected the API key ({0})")]
    Unauthorized(String),
    /// The server could not be reached, or the connection was lost.
    #[error("could not reach the ATP server: {0}")]
    Connection(String),
    /// No answer in time.
    #[error("no answer from the ATP server within {0:?}")]
    Timeout(Duration),
    /// The server answered with an error (an unknown toolkit, an unknown
    /// provider, ...).
    #[error("{0}")]
    Server(String),
    /// The model's output holds a tool call that can't be read.
    #[error("could not read the tool calls: {0}")]
    ToolCalls(String),
    /// The configuration is not usable.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// How the client reaches the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LlmTransport {
    /// One WebSocket, requests matched to replies by id, kept alive by
    /// ping (a silent server is given up); reconnected with backoff after
    /// a drop. The default.
    #[default]
    WebSocket,
    /// One `POST .../llm-client/process/` per request.
    Http,
}

/// What an LLM is shown of a toolkit.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolkitContext {
    /// The toolkit asked for.
    pub toolkit_id: String,
    /// Its name.
    pub toolkit_name: String,
    /// A line about it, for a system prompt.
    pub caption: String,
    /// The provider its tools are shaped for.
    pub provider: Provider,
    /// Its tools.
    pub tools: Vec<ToolSpec>,
    /// The user's prompt, as given.
    pub user_prompt: String,
}

impl ToolkitContext {
    /// The tools in the provider's shape, ready for the model's request
    /// (`tools` of an OpenAI Responses or Anthropic Messages request, or
    /// Mistral's chat).
    pub fn tools_json(&self) -> Vec<Value> {
        self.tools.iter().map(|t| t.shaped(self.provider)).collect()
    }

    /// Reads the context the server sends.
    fn from_payload(payload: &Value, provider: Provider) -> Self {
        let text = |key: &str| {
            payload
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            toolkit_id: text("toolkit_id"),
            toolkit_name: text("toolkit_name"),
            caption: text("caption"),
            provider,
            tools: payload
                .get("tools")
                .and_then(Value::as_array)
                .map(|tools| tools.iter().filter_map(ToolSpec::from_shaped).collect())
                .unwrap_or_default(),
            user_prompt: text("user_prompt"),
        }
    }
}

impl Serialize for ToolkitContext {
    /// As the server sends it: the tools in the provider's shape.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        json!({
            "toolkit_id": self.toolkit_id,
            "toolkit_name": self.toolkit_name,
            "caption": self.caption,
            "provider": self.provider,
            "tools": self.tools_json(),
            "user_prompt": self.user_prompt,
        })
        .serialize(serializer)
    }
}

/// Builds an [`LlmClient`]; see [`LlmClient::builder`].
#[must_use = "call .build() to get a client"]
pub struct LlmClientBuilder {
    api_key: ApiKey,
    base_url: String,
    transport: LlmTransport,
    timeout: Duration,
    keepalive: connection::Keepalive,
    root_certificates: Vec<Vec<u8>>,
}

impl fmt::Debug for LlmClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmClientBuilder")
            .field("api_key", &self.api_key)
            .field("base_url", &self.base_url)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl LlmClientBuilder {
    /// The server's base URL; default `https://api.chat-atp.com`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// WebSocket (the default) or HTTP.
    pub fn transport(mut self, transport: LlmTransport) -> Self {
        self.transport = transport;
        self
    }

    /// How long a request may wait for its answer; default 120 s (a tool
    /// call runs for as long as the tool does).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = crate::config::clamp(timeout);
        self
    }

    /// How often the WebSocket pings the server; default 30 s (as the
    /// reference client). Clamped to 1 ms … 365 days.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.keepalive.interval = crate::config::clamp(interval);
        self
    }

    /// How long past a ping the server may stay silent before the
    /// connection is given up (its waiting requests fail, the next one
    /// connects anew); default 10 s. Clamped to 1 ms … 365 days.
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.keepalive.timeout = crate::config::clamp(timeout);
        self
    }

    /// Trusts the certificate(s) of a PEM document as roots, besides the
    /// Mozilla roots.
    pub fn add_root_certificate_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.root_certificates.push(pem.as_ref().to_vec());
        self
    }

    /// Checks the configuration. Nothing connects before the first request.
    pub fn build(self) -> Result<LlmClient, LlmError> {
        let base_url = self.base_url.trim_end_matches('/').to_owned();
        let Some(ws_base) = websocket_base(&base_url).filter(|_| base_url.starts_with("http"))
        else {
            return Err(LlmError::Config(format!(
                "the base URL must start with http:// or https:// (got {base_url:?})"
            )));
        };
        let mut roots = Vec::new();
        for pem in &self.root_certificates {
            roots.extend(crate::tls::parse_pem(pem).map_err(|e| LlmError::Config(e.to_string()))?);
        }
        let tls = crate::tls::client_config(&roots).map_err(|e| LlmError::Config(e.to_string()))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured((*tls).clone())
            .timeout(self.timeout)
            .build()
            .map_err(|err| LlmError::Config(format!("could not build the HTTP client: {err}")))?;
        let connection = connection::Connection::new(
            &ws_base,
            self.api_key.clone(),
            tls,
            self.timeout,
            self.keepalive,
        );
        Ok(LlmClient {
            inner: Arc::new(Inner {
                api_key: self.api_key,
                base_url,
                transport: self.transport,
                timeout: self.timeout,
                http,
                connection,
            }),
        })
    }
}

/// A client of the LLM-client API of an ATP server (the hosted platform,
/// or `atp-dev`): what to show a model, and running the tool calls it
/// makes. Cheap to clone; clones share one connection.
///
/// Unlike the reference Python `LLMClient`, it runs the calls of one turn
/// concurrently, keeps each result's call id, reads OpenAI Chat
/// Completions tool calls too, and hands a server's error to the model as
/// `{"error": "..."}` instead of `{}`.
#[derive(Clone)]
pub struct LlmClient {
    inner: Arc<Inner>,
}

struct Inner {
    api_key: ApiKey,
    base_url: String,
    transport: LlmTransport,
    timeout: Duration,
    http: reqwest::Client,
    connection: connection::Connection,
}

impl fmt::Debug for LlmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmClient")
            .field("api_key", &self.inner.api_key)
            .field("base_url", &self.inner.base_url)
            .field("transport", &self.inner.transport)
            .finish_non_exhaustive()
    }
}

impl LlmClient {
    /// Starts configuring a client with `api_key`.
    pub fn builder(api_key: impl Into<ApiKey>) -> LlmClientBuilder {
        LlmClientBuilder {
            api_key: api_key.into(),
            base_url: crate::protocol::DEFAULT_BASE_URL.to_owned(),
            transport: LlmTransport::WebSocket,
            timeout: Duration::from_secs(120),
            keepalive: connection::Keepalive {
                interval: Duration::from_secs(30),
                timeout: Duration::from_secs(10),
            },
            root_certificates: Vec::new(),
        }
    }

    /// What a model is shown of `toolkit`: its tools in `provider`'s shape.
    ///
    /// For [`Provider::Gemini`], which the platform's API does not speak,
    /// the server is asked for the tools' JSON Schemas as announced
    /// (Mistral's shape, which carries them unchanged) and each is rendered
    /// for Gemini here, by the same function the server and MCP use
    /// ([`crate::schema::render`]).
    pub async fn context(
        &self,
        toolkit: &str,
        provider: Provider,
        user_prompt: &str,
    ) -> Result<ToolkitContext, LlmError> {
        let asked = match provider {
            Provider::Gemini => Provider::Mistral,
            other => other,
        };
        let request = LlmRequest::GetToolkitContext {
            request_id: new_request_id(),
            toolkit_id: toolkit.to_owned(),
            provider: Some(asked.to_string()),
            user_prompt: Some(user_prompt.to_owned()),
            api_key: Some(self.inner.api_key.clone()),
        };
        let reply = self.send(request).await?;
        if let Some(message) = error_of(&reply) {
            return Err(LlmError::Server(message));
        }
        match reply.get("payload") {
            Some(payload) if payload.is_object() => {
                let mut context = ToolkitContext::from_payload(payload, asked);
                if provider != asked {
                    context.provider = provider;
                    for tool in &mut context.tools {
                        let (rendered, _) = ToolSpec::rendered(
                            std::mem::take(&mut tool.name),
                            std::mem::take(&mut tool.description),
                            &tool.parameters,
                            provider,
                        );
                        *tool = rendered;
                    }
                }
                Ok(context)
            }
            _ => Err(LlmError::Server(format!(
                "no context in the server's answer: {reply}"
            ))),
        }
    }

    /// Runs the tool calls in a model's output — a whole response, a
    /// message, or its list of calls, in `provider`'s shape — all at once,
    /// and returns their results as messages to append to the
    /// conversation, in the shape the calls came in (each under its call
    /// id). A call the server or the tool could not run — its arguments
    /// not JSON, its time limit passed, the connection lost — has
    /// `{"error": "..."}` as its result, for the model to see, and the
    /// other calls keep theirs. `Err` only when the output can't be read
    /// as tool calls at all, or the server refuses the key.
    pub async fn call(
        &self,
        toolkit: &str,
        provider: Provider,
        tool_calls: &Value,
        auth_token: Option<&str>,
    ) -> Result<Vec<Value>, LlmError> {
        let (calls, style) = read_tool_calls(provider, tool_calls).map_err(LlmError::ToolCalls)?;
        // Each call has its own outcome: one that can't be read or run
        // (its arguments cut off, its time limit passed, the connection
        // lost) is that call's `{"error": ...}`, and the others keep theirs.
        let runs = calls.iter().map(|(call, unreadable)| async move {
            match unreadable {
                Some(why) => Ok(crate::protocol::error_result(why.clone())),
                None => self.call_tool(toolkit, call, auth_token).await,
            }
        });
        let outcomes = futures_util::future::join_all(runs).await;
        let mut results = Vec::with_capacity(outcomes.len());
        for outcome in outcomes {
            results.push(match outcome {
                Ok(result) => result,
                // A refused key or a bad configuration is the caller's to
                // fix, not the model's: the turn fails.
                Err(err @ (LlmError::Unauthorized(_) | LlmError::Config(_))) => return Err(err),
                Err(err) => crate::protocol::error_result(err.to_string()),
            });
        }
        let pairs: Vec<(ToolCall, Value)> = calls
            .into_iter()
            .map(|(call, _)| call)
            .zip(results)
            .collect();
        Ok(shape_results(style, &pairs))
    }

    /// Runs one tool call; its result (`{"error": "..."}` when it could
    /// not run).
    pub async fn call_tool(
        &self,
        toolkit: &str,
        call: &ToolCall,
        auth_token: Option<&str>,
    ) -> Result<Value, LlmError> {
        let token = auth_token.map(AuthToken::new);
        let request = LlmRequest::TaskRequest {
            request_id: new_request_id(),
            toolkit_id: toolkit.to_owned(),
            auth_token: token.clone(),
            user_prompt: None,
            api_key: Some(self.inner.api_key.clone()),
            payload: TaskPayload {
                function: call.name.clone(),
                parameters: call.arguments.clone(),
                auth_token: token,
                tool_call_id: Some(call.id.clone()),
            },
        };
        let reply = self.send(request).await?;
        if let Some(message) = error_of(&reply) {
            return Ok(crate::protocol::error_result(message));
        }
        Ok(reply
            .pointer("/result/tool/result")
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Sends one request; the reply's fields (over HTTP, the body).
    async fn send(&self, request: LlmRequest) -> Result<Value, LlmError> {
        match self.inner.transport {
            LlmTransport::WebSocket => self.inner.connection.request(request).await,
            LlmTransport::Http => self.post(request).await,
        }
    }

    async fn post(&self, request: LlmRequest) -> Result<Value, LlmError> {
        let url = format!("{}{LLM_PROCESS_PATH}", self.inner.base_url);
        let response = self
            .inner
            .http
            .post(url)
            .header(
                reqwest::header::AUTHORIZATION,
                format!("ApiKey {}", self.inner.api_key.expose()),
            )
            .json(&request)
            .send()
            .await
            .map_err(|err| {
                if err.is_timeout() {
                    LlmError::Timeout(self.inner.timeout)
                } else {
                    LlmError::Connection(crate::error::describe_http(err))
                }
            })?;
        let status = response.status();
        if matches!(status.as_u16(), 401 | 403) {
            return Err(LlmError::Unauthorized(format!("HTTP {status}")));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|err| LlmError::Connection(crate::error::describe_http(err)))?;
        let body = serde_json::from_slice::<Value>(&bytes);
        if !status.is_success() {
            // A proxy's error page is no JSON: say the status.
            let message = body
                .ok()
                .and_then(|body| error_of(&body))
                .unwrap_or_else(|| format!("HTTP {status}"));
            return Err(LlmError::Server(message));
        }
        body.map_err(|err| LlmError::Server(format!("the server's answer is not JSON: {err}")))
    }
}

/// The error in a reply: `{"status": "error", "message"}` or
/// `{"error": ...}`.
fn error_of(reply: &Value) -> Option<String> {
    if reply.get("status").and_then(Value::as_str) == Some("error") {
        return Some(
            reply
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the server answered an error")
                .to_owned(),
        );
    }
    reply
        .get("error")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A request id: unique within this process and across runs.
fn new_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "rs-{:08x}-{}",
        fastrand::u32(..),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
