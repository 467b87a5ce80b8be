//! Announcing the tools (protocol section 1): `verify_hash`, then for each
//! tool `verify_tool_hash` and, when the server does not have it,
//! `register_tool`. The per-tool requests go out concurrently, a bounded
//! number at a time.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backoff::Backoff;
use crate::protocol::{
    REGISTER_TOOL_PATH, RegisterToolRequest, RegisterToolResponse, ToolMetadata, UpToDate,
    VERIFY_HASH_PATH, VERIFY_TOOL_HASH_PATH, VerifyHashRequest, VerifyToolHashRequest,
};
use crate::registry::Registry;
use crate::secret::ApiKey;
use crate::tool::Announced;

/// Tools announced at once (each a request or two).
const CONCURRENT: usize = 32;

/// How many times a request is sent while the server answers 429 or 408.
const THROTTLED_TRIES: u32 = 5;
/// The first wait after a 429 or 408 without `Retry-After`; it doubles
/// (with jitter) up to [`THROTTLED_CAP`].
const THROTTLED_BASE: Duration = Duration::from_millis(250);
const THROTTLED_CAP: Duration = Duration::from_secs(8);
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A `Retry-After` given in seconds, at most [`MAX_RETRY_AFTER`] (an HTTP
/// date is left to the backoff).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// Why an announce did not complete.
#[derive(Debug)]
pub(crate) enum AnnounceError {
    /// The key was refused (401/403): stop.
    Rejected(String),
    /// A network error or a 5xx: try again later.
    Retry(String),
}

/// What an announce did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AnnounceReport {
    /// The server already had the whole toolkit.
    pub(crate) up_to_date: bool,
    /// Tools registered now.
    pub(crate) registered: usize,
    /// Tools the server already had.
    pub(crate) unchanged: usize,
    /// Tools the server refused (a 4xx other than 401/403, or a 429/408
    /// still answered after every try).
    pub(crate) refused: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Announcer {
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: String,
    pub(crate) api_key: ApiKey,
    pub(crate) app_name: String,
    /// Whether `register_tool` carries each tool's source text.
    pub(crate) send_source: bool,
}

enum Outcome {
    Registered,
    Unchanged,
    Refused,
}

impl Announcer {
    /// Announces every tool of `registry`.
    pub(crate) async fn announce(
        &self,
        registry: &Registry,
    ) -> Result<AnnounceReport, AnnounceError> {
        let verify = VerifyHashRequest {
            api_key: self.api_key.clone(),
            app_name: self.app_name.clone(),
            toolkit_hash: registry.toolkit_hash().to_owned(),
        };
        if self.post_verify(VERIFY_HASH_PATH, &verify).await? {
            return Ok(AnnounceReport {
                up_to_date: true,
                unchanged: registry.announced().len(),
                ..AnnounceReport::default()
            });
        }
        // A bounded number at a time (written without a closure over the
        // tools, which would make this future's `Send` depend on a
        // higher-ranked lifetime).
        let mut tools = registry.announced().iter();
        let mut pending = futures_util::stream::FuturesUnordered::new();
        let mut outcomes = Vec::with_capacity(registry.announced().len());
        loop {
            while pending.len() < CONCURRENT {
                let Some(tool) = tools.next() else { break };
                pending.push(self.announce_tool(registry, tool));
            }
            match pending.next().await {
                Some(outcome) => outcomes.push(outcome),
                None => break,
            }
        }
        let mut report = AnnounceReport::default();
        for outcome in outcomes {
            match outcome? {
                Outcome::Registered => report.registered += 1,
                Outcome::Unchanged => report.unchanged += 1,
                Outcome::Refused => report.refused += 1,
            }
        }
        Ok(report)
    }

    async fn announce_tool(
        &self,
        registry: &Registry,
        tool: &Announced,
    ) -> Result<Outcome, AnnounceError> {
        let verify = VerifyToolHashRequest {
            api_key: self.api_key.clone(),
            tool_hash: tool.code_hash.clone(),
            tool_name: tool.name.clone(),
        };
        if self.post_verify(VERIFY_TOOL_HASH_PATH, &verify).await? {
            return Ok(Outcome::Unchanged);
        }
        let body = RegisterToolRequest {
            function_id: tool.name.clone(),
            api_key: self.api_key.clone(),
            app_name: self.app_name.clone(),
            programming_language: "Rust".to_owned(),
            code_hash: tool.code_hash.clone(),
            toolkit_hash: Some(registry.toolkit_hash().to_owned()),
            metadata: if self.send_source {
                tool.metadata.clone()
            } else {
                ToolMetadata {
                    source_code: String::new(),
                    ..tool.metadata.clone()
                }
            },
        };
        match self
            .post::<_, RegisterToolResponse>(REGISTER_TOOL_PATH, &body)
            .await?
        {
            Ok(_) => {
                tracing::debug!(tool = %tool.name, "tool registered");
                Ok(Outcome::Registered)
            }
            Err(status) => {
                tracing::error!(tool = %tool.name, %status, "the ATP server refused the tool's registration");
                Ok(Outcome::Refused)
            }
        }
    }

    /// A verify request: `true` only for a 200 that says `up_to_date`.
    async fn post_verify<B: Serialize>(&self, path: &str, body: &B) -> Result<bool, AnnounceError> {
        Ok(matches!(
            self.post::<_, UpToDate>(path, body).await?,
            Ok(UpToDate { up_to_date: true })
        ))
    }

    /// POSTs JSON; `Ok(Err(status))` for a 4xx other than 401/403 (or an
    /// undecodable 200), which the caller decides about. A 429 (too many
    /// requests) or 408 (request timeout) is tried again, after the
    /// server's `Retry-After` or a growing backoff, up to
    /// [`THROTTLED_TRIES`] times in all; then it is such a 4xx.
    async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Result<R, StatusCode>, AnnounceError> {
        let url = format!("{}{}", self.base_url, path);
        let mut backoff = Backoff::new(THROTTLED_BASE, THROTTLED_CAP);
        let mut tries = 0;
        let response = loop {
            let response = self
                .http
                .post(&url)
                .json(body)
                .send()
                .await
                .map_err(|err| AnnounceError::Retry(format!("{path}: {}", err.without_url())))?;
            let status = response.status();
            tries += 1;
            if !matches!(status.as_u16(), 408 | 429) || tries >= THROTTLED_TRIES {
                break response;
            }
            let wait = retry_after(response.headers()).unwrap_or_else(|| backoff.next_delay());
            tracing::debug!(path, %status, ?wait, "throttled; trying again");
            tokio::time::sleep(wait).await;
        };
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(AnnounceError::Rejected(format!(
                "HTTP {status} from {path}"
            )));
        }
        if status.is_server_error() {
            return Err(AnnounceError::Retry(format!("HTTP {status} from {path}")));
        }
        if !status.is_success() {
            return Ok(Err(status));
        }
        match response.json::<R>().await {
            Ok(value) => Ok(Ok(value)),
            Err(err) if err.is_decode() => Ok(Err(status)),
            Err(err) => Err(AnnounceError::Retry(format!(
                "{path}: {}",
                err.without_url()
            ))),
        }
    }
}
