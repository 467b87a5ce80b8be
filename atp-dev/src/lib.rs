//! A local Agent Tool Protocol (ATP) server: run, call, test and load-test
//! toolkits without the hosted platform.
//!
//! It speaks the server side of the protocol (the announce endpoints, the
//! toolkit WebSocket, the HTTP inbox, the LLM-client API) faithfully, and
//! adds a call API for people and programs:
//!
//! | route | what |
//! |---|---|
//! | `POST /api/v1/toolkit/verify_hash`, `/verify_tool_hash`, `/api/v1/register_tool` | announcing |
//! | `GET /ws/v1/atp/toolkit-client/{api_key}/` | the toolkit WebSocket |
//! | `GET /api/v1/toolkit/{api_key}/inbox`, `POST .../inbox/respond` | the HTTP inbox |
//! | `GET /ws/v1/atp/llm-client/{api_key}/` | the LLM-client API (`auth`, `get_toolkit_context`, `task_request`; several in flight, matched by `request_id`) |
//! | `POST /api/v1/atp/llm-client/process/` | the same over HTTP, `Authorization: ApiKey K` |
//! | `GET /` | the playground: the connected tools, a form for each (from its JSON Schema), results, what an LLM is shown, and a live log of every call |
//! | `GET /api/dev/events/ws` | the live log over a WebSocket (the playground's; first message `{"key": K}` on a keyed server) |
//! | `GET /api/dev/events` | the live log as Server-Sent Events: `call` ([`CallEvent`] JSON), `tools` (the tools changed), `lagged` |
//! | `GET /api/dev/calls` | the last 100 finished calls, as [`CallEvent`]s |
//! | `GET /api/dev/tools` | the tools of every connected toolkit |
//! | `GET /api/dev/toolkits/{name}/context?provider=` | what an LLM is shown of a toolkit (`openai`, `anthropic`, `mistral`) |
//! | `GET /api/dev/ping` | `{"pong": true}`: a round trip with no toolkit (the load driver's ceiling) |
//! | `POST /api/dev/apps/{name}/start` | start an app session → `{"session_id", "result", "latency_ms"}` |
//! | `POST /api/dev/apps/sessions/{id}/action` | a user action `{"action_data"}` → `{"session_id", "result", "latency_ms"}`; 404 unknown, 409 busy, 410 lost |
//! | `DELETE /api/dev/apps/sessions/{id}` | end a session → `{"session_id", "result"}` |
//! | `POST /api/dev/tools/{name}/call` | call a tool: `{"params", "auth_token", "timeout_ms", "app_name"}` → `{"request_id", "result", "latency_ms"}`; 404 unknown tool, 503 not connected, 504 timeout, 502 the toolkit's connection closed with the call, 400 bad body, 413 too large, 415 not JSON |
//!
//! Every route answers only requests for `localhost`, an IP address or a
//! name given with [`DevServerBuilder::allow_host`]; the `/api/dev/*`
//! routes, the event stream and the WebSockets refuse a foreign `Origin`;
//! with [`DevServerBuilder::api_key`], `/api/dev/*` needs `Authorization:
//! Bearer K`. The protocol the server side speaks is written down in the
//! repository's `docs/PROTOCOL.md`.
//!
//! Use it from tests through [`DevServer`], or from the shell with the
//! `atp-dev` binary (`atp-dev --help`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod announce;
mod api;
mod api_error;
pub mod bench;
mod call_api;
mod call_log;
pub mod cli;
pub mod client;
mod credentials;
mod guard;
mod http;
mod hub;
mod inbox;
mod listener;
mod llm_api;
mod playground;
mod server;
mod toolkit_ws;
mod ws_upgrade;

pub use call_log::{CallEvent, CallStatus};
pub use hub::{
    AnnounceRecord, CallError, CallOptions, CallOutcome, RawFrame, ServerStats, ToolInfo,
};
pub use server::{DevServer, DevServerBuilder, WaitError};
