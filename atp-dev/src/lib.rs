//! A local Agent Tool Protocol (ATP) server: run, call, test and load-test
//! toolkits without the hosted platform.
//!
//! It speaks the server side of the protocol (the announce endpoints, the
//! toolkit WebSocket, the HTTP inbox) faithfully, and adds a call API for
//! people and programs:
//!
//! | route | what |
//! |---|---|
//! | `POST /api/v1/toolkit/verify_hash`, `/verify_tool_hash`, `/api/v1/register_tool` | announcing |
//! | `GET /ws/v1/atp/toolkit-client/{api_key}/` | the toolkit WebSocket |
//! | `GET /api/v1/toolkit/{api_key}/inbox`, `POST .../inbox/respond` | the HTTP inbox |
//! | `GET /` | the playground: the connected tools, a form for each (from its JSON Schema), results, and a live log of every call |
//! | `GET /api/dev/events` | the live log as Server-Sent Events: `call` ([`CallEvent`] JSON), `tools` (the tools changed), `lagged` |
//! | `GET /api/dev/calls` | the last 100 finished calls, as [`CallEvent`]s |
//! | `GET /api/dev/tools` | the tools of every connected toolkit |
//! | `GET /api/dev/ping` | `{"pong": true}`: a round trip with no toolkit (the load driver's ceiling) |
//! | `POST /api/dev/apps/{name}/start` | start an app session → `{"session_id", "result", "latency_ms"}` |
//! | `POST /api/dev/apps/sessions/{id}/action` | a user action `{"action_data"}` → `{"session_id", "result", "latency_ms"}`; 404 unknown, 409 busy, 410 lost |
//! | `DELETE /api/dev/apps/sessions/{id}` | end a session → `{"session_id", "result"}` |
//! | `POST /api/dev/tools/{name}/call` | call a tool: `{"params", "auth_token", "timeout_ms", "app_name"}` → `{"request_id", "result", "latency_ms"}`; 404 unknown tool, 503 not connected, 504 timeout, 400 bad body, 413 too large |
//!
//! Use it from tests through [`DevServer`], or from the shell with the
//! `atp-dev` binary (`atp-dev --help`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod announce;
mod api;
pub mod bench;
mod call_api;
mod call_log;
pub mod cli;
pub mod client;
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
