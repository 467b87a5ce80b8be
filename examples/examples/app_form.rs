//! An interactive app: a support ticket filed in three steps (a summary,
//! a priority, a confirmation), served next to an ordinary tool.
//!
//! ```text
//! cargo run -p atp-dev -- cargo run --example app_form
//! ```
//!
//! and in another terminal drive a session the way the platform would:
//!
//! ```text
//! cargo run -p atp-dev -- app start ticket product=atp-sdk
//! cargo run -p atp-dev -- app action SESSION summary="It crashes"
//! cargo run -p atp-dev -- app action SESSION priority=high
//! cargo run -p atp-dev -- app action SESSION confirm=true
//! ```
//!
//! `ATP_TRANSPORT=http` serves the same over the HTTP inbox.

use atp_sdk::{App, AppDef, AppStep, AuthToken, atp_tool};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Lists the products tickets can be filed for.
#[atp_tool]
fn products() -> Vec<&'static str> {
    vec!["atp-sdk", "atp-dev"]
}

/// Files a support ticket.
struct TicketForm;

/// How a ticket session starts.
#[derive(Debug, Deserialize, JsonSchema)]
struct Start {
    /// The product the ticket is about.
    product: String,
}

/// What the form keeps between steps.
#[derive(Debug, Serialize, Deserialize)]
struct Ticket {
    product: String,
    summary: Option<String>,
    priority: Option<String>,
}

/// What a user does on a screen: fill in the field it asks for.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Step {
    Summary { summary: String },
    Priority { priority: String },
    Confirm { confirm: bool },
}

const PRIORITIES: [&str; 3] = ["low", "normal", "high"];

fn ask_summary(product: &str) -> Value {
    json!({
        "title": format!("New ticket for {product}"),
        "fields": [{"name": "summary", "label": "What went wrong?", "type": "text"}],
    })
}

impl App for TicketForm {
    type Params = Start;
    type State = Ticket;
    type Action = Step;

    async fn start(
        &self,
        params: Start,
        _token: Option<AuthToken>,
    ) -> Result<AppStep<Ticket>, String> {
        if !["atp-sdk", "atp-dev"].contains(&params.product.as_str()) {
            return Err(format!("no such product: {}", params.product));
        }
        Ok(AppStep::show(
            ask_summary(&params.product),
            Ticket {
                product: params.product,
                summary: None,
                priority: None,
            },
        ))
    }

    async fn action(&self, step: Step, mut ticket: Ticket) -> Result<AppStep<Ticket>, String> {
        match step {
            Step::Summary { summary } if !summary.trim().is_empty() => {
                ticket.summary = Some(summary);
                Ok(AppStep::show(
                    json!({
                        "title": "How urgent is it?",
                        "fields": [{"name": "priority", "type": "choice", "options": PRIORITIES}],
                    }),
                    ticket,
                ))
            }
            Step::Summary { .. } => Err("the summary is empty".to_owned()),
            Step::Priority { priority } if PRIORITIES.contains(&priority.as_str()) => {
                ticket.priority = Some(priority);
                Ok(AppStep::show(
                    json!({
                        "title": "File this ticket?",
                        "ticket": &ticket,
                        "fields": [{"name": "confirm", "type": "boolean"}],
                    }),
                    ticket,
                ))
            }
            Step::Priority { priority } => Err(format!(
                "priority must be one of {PRIORITIES:?}, not {priority:?}"
            )),
            Step::Confirm { confirm: true } if ticket.priority.is_some() => {
                Ok(AppStep::finish(json!({
                    "title": "Ticket filed",
                    "ticket": ticket,
                    "number": 1042,
                })))
            }
            Step::Confirm { confirm: true } => {
                Err("fill in the summary and priority first".to_owned())
            }
            Step::Confirm { confirm: false } => {
                Ok(AppStep::finish(json!({"title": "Ticket dropped"})))
            }
        }
    }
}

fn main() -> Result<(), atp_sdk::Error> {
    let client = atp_sdk::ToolKitClient::builder_from_env()?
        .app(AppDef::new("ticket", TicketForm).description("Files a support ticket, step by step."))
        .build()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(atp_sdk::Error::Runtime)?;
    runtime.block_on(client.serve_until_signal())
}
