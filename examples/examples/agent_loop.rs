//! The caller half of ATP in one command, no network and no key: a local
//! ATP server (atp-dev, embedded), a toolkit served to it, and an agent
//! loop that shows a model the toolkit's tools and runs the calls it
//! picks, through [`atp_sdk::llm::LlmClient`]:
//!
//! ```text
//! cargo run --example agent_loop                 # all three providers
//! cargo run --example agent_loop -- anthropic    # one of them
//! ```
//!
//! The model is a scripted stand-in (no LLM is called): it reads the tool
//! definitions in the context it is given and answers in its provider's
//! own JSON — OpenAI Responses `function_call` items, Anthropic `tool_use`
//! blocks, Mistral `tool_calls` — the way a real model's response would
//! come back. Swap [`ScriptedModel::respond`] for a request to a real
//! provider and the loop stays the same.

use std::time::Duration;

use atp_sdk::llm::{LlmClient, Provider};
use atp_sdk::{AuthToken, ToolKitClient, atp_tool};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// The toolkit
// ---------------------------------------------------------------------------

/// Today's weather in a city (made-up numbers, always the same per city).
#[atp_tool]
async fn weather(
    /// The city, e.g. "Paris".
    city: String,
) -> Result<Value, String> {
    let known = [("Paris", 14.0, "cloudy"), ("Tokyo", 19.5, "clear")];
    match known
        .iter()
        .find(|(name, ..)| name.eq_ignore_ascii_case(&city))
    {
        Some((name, celsius, sky)) => Ok(json!({ "city": name, "celsius": celsius, "sky": sky })),
        None => Err(format!("no weather station in {city}")),
    }
}

/// Converts degrees Celsius to Fahrenheit.
#[atp_tool]
fn to_fahrenheit(celsius: f64) -> f64 {
    ((celsius * 9.0 / 5.0 + 32.0) * 10.0).round() / 10.0
}

/// Notes the result in the user's notebook (needs the user's token).
#[atp_tool(auth_provider = "notebook", auth_type = "API Key")]
async fn save_note(
    token: AuthToken,
    /// What to write down.
    text: String,
) -> Value {
    json!({ "saved": text, "account_token_length": token.as_str().len() })
}

// ---------------------------------------------------------------------------
// A scripted stand-in for an LLM
// ---------------------------------------------------------------------------

/// Plays a model's part for three turns: ask for the weather in two cities
/// at once, convert the warmer one, save a note, then answer in text.
struct ScriptedModel {
    provider: Provider,
    turn: usize,
}

impl ScriptedModel {
    /// The model's response to the conversation so far, in its provider's
    /// shape. `tools` are the definitions from the context; the script only
    /// calls tools it finds there.
    fn respond(&mut self, tools: &[Value], conversation: &[Value]) -> Value {
        self.turn += 1;
        let offered = |name: &str| {
            tools.iter().any(|t| {
                t.get("name").or_else(|| t.pointer("/function/name")) == Some(&json!(name))
            })
        };
        let calls: Vec<(&str, Value)> = match self.turn {
            1 if offered("weather") => vec![
                ("weather", json!({ "city": "Paris" })),
                ("weather", json!({ "city": "Tokyo" })),
            ],
            2 if offered("to_fahrenheit") => {
                let (_, celsius) = warmest(conversation);
                vec![("to_fahrenheit", json!({ "celsius": celsius }))]
            }
            3 if offered("save_note") => {
                let (city, _) = warmest(conversation);
                vec![(
                    "save_note",
                    json!({ "text": format!("{city} is the warmer one today") }),
                )]
            }
            _ => Vec::new(),
        };
        if calls.is_empty() {
            let (city, celsius) = warmest(conversation);
            let fahrenheit = results(conversation)
                .into_iter()
                .find(|text| text.parse::<f64>().is_ok())
                .unwrap_or_default();
            return self.text(&format!(
                "{city} is warmer today: {celsius} °C ({fahrenheit} °F). I noted it for you."
            ));
        }
        let id = |i: usize| format!("call_{}_{i}", self.turn);
        match self.provider {
            Provider::Anthropic => json!({
                "role": "assistant",
                "stop_reason": "tool_use",
                "content": calls.iter().enumerate().map(|(i, (name, input))| json!({
                    "type": "tool_use", "id": id(i), "name": name, "input": input,
                })).collect::<Vec<_>>(),
            }),
            Provider::Mistral => json!({
                "choices": [{ "message": {
                    "role": "assistant",
                    "tool_calls": calls.iter().enumerate().map(|(i, (name, args))| json!({
                        "id": id(i), "type": "function",
                        "function": { "name": name, "arguments": args.to_string() },
                    })).collect::<Vec<_>>(),
                }}],
            }),
            // OpenAI, Responses API.
            _ => json!({
                "output": calls.iter().enumerate().map(|(i, (name, args))| json!({
                    "type": "function_call", "call_id": id(i), "name": name,
                    "arguments": args.to_string(),
                })).collect::<Vec<_>>(),
            }),
        }
    }

    /// A final text answer, in the provider's shape.
    fn text(&self, text: &str) -> Value {
        match self.provider {
            Provider::Anthropic => json!({
                "role": "assistant", "stop_reason": "end_turn",
                "content": [{ "type": "text", "text": text }],
            }),
            Provider::Mistral => json!({
                "choices": [{ "message": { "role": "assistant", "content": text } }],
            }),
            _ => json!({
                "output": [{ "type": "message", "role": "assistant",
                             "content": [{ "type": "output_text", "text": text }] }],
            }),
        }
    }
}

/// The warmest city among the weather results in the conversation.
fn warmest(conversation: &[Value]) -> (String, f64) {
    results(conversation)
        .iter()
        .filter_map(|text| serde_json::from_str::<Value>(text).ok())
        .filter_map(|r| {
            Some((
                r.get("city")?.as_str()?.to_owned(),
                r.get("celsius")?.as_f64()?,
            ))
        })
        .fold((String::new(), f64::MIN), |best, next| {
            if next.1 > best.1 { next } else { best }
        })
}

/// The tool results in the conversation, as the text the model reads:
/// OpenAI `function_call_output.output`, Mistral's `content`, and
/// Anthropic's `tool_result` blocks.
fn results(conversation: &[Value]) -> Vec<String> {
    let mut texts = Vec::new();
    for message in conversation.iter().skip(1) {
        match (message.get("output"), message.get("content")) {
            (Some(Value::String(text)), _) if message.get("call_id").is_some() => {
                texts.push(text.clone());
            }
            (_, Some(Value::String(text))) if message.get("role") == Some(&json!("tool")) => {
                texts.push(text.clone());
            }
            (_, Some(Value::Array(blocks))) => texts.extend(
                blocks
                    .iter()
                    .filter(|b| b.get("type") == Some(&json!("tool_result")))
                    .filter_map(|b| b.get("content").and_then(Value::as_str))
                    .map(str::to_owned),
            ),
            _ => {}
        }
    }
    texts
}

/// The tool calls in a model response (for printing).
fn describe_calls(response: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut items: Vec<&Value> = Vec::new();
    if let Some(output) = response.get("output").and_then(Value::as_array) {
        items.extend(output);
    }
    if let Some(content) = response.get("content").and_then(Value::as_array) {
        items.extend(content);
    }
    if let Some(calls) = response
        .pointer("/choices/0/message/tool_calls")
        .and_then(Value::as_array)
    {
        items.extend(calls);
    }
    for item in items {
        let name = item
            .get("name")
            .or_else(|| item.pointer("/function/name"))
            .and_then(Value::as_str);
        let args = item
            .get("input")
            .map(Value::to_string)
            .or_else(|| {
                item.get("arguments")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .or_else(|| {
                item.pointer("/function/arguments")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
        if let (Some(name), Some(args)) = (name, args) {
            out.push(format!("{name}({args})"));
        }
    }
    out
}

/// The final text of a model response.
fn final_text(response: &Value) -> Option<&str> {
    response
        .pointer("/output/0/content/0/text")
        .or_else(|| response.pointer("/content/0/text"))
        .or_else(|| response.pointer("/choices/0/message/content"))
        .and_then(Value::as_str)
}

// ---------------------------------------------------------------------------
// The loop
// ---------------------------------------------------------------------------

async fn agent_loop(atp: &LlmClient, provider: Provider) -> Result<(), Box<dyn std::error::Error>> {
    println!("== {provider}");
    let prompt = "Which is warmer today, Paris or Tokyo? Note it down for me.";
    let context = atp.context("weather-desk", provider, prompt).await?;
    let tools = context.tools_json();
    println!(
        "context: {} — {} tools: {}",
        context.toolkit_name,
        tools.len(),
        serde_json::to_string(&tools[0])?
    );
    let mut model = ScriptedModel { provider, turn: 0 };
    let mut conversation = vec![json!({ "role": "user", "content": prompt })];
    for step in 1..=5 {
        let response = model.respond(&tools, &conversation);
        let calls = describe_calls(&response);
        if calls.is_empty() {
            println!("model:  {}", final_text(&response).unwrap_or("(no text)"));
            return Ok(());
        }
        println!("step {step}: the model calls {}", calls.join(", "));
        // Every call of the turn runs at once; the user's token goes with
        // them (only tools that declare an auth provider get it).
        let results = atp
            .call(
                "weather-desk",
                provider,
                &response,
                Some("user-notebook-token"),
            )
            .await?;
        for result in &results {
            println!("        <- {result}");
        }
        conversation.push(response);
        conversation.extend(results);
    }
    Err("the model did not finish in 5 steps".into())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let only: Option<Provider> = match std::env::args().nth(1) {
        Some(name) => Some(name.parse()?),
        None => None,
    };

    // The server and the toolkit, in this process.
    let server = atp_dev::DevServer::start().await?;
    let client = ToolKitClient::builder("dev", "weather-desk")
        .base_url(server.base_url())
        .tools(["weather", "to_fahrenheit", "save_note"])
        .build()?;
    let stop = client.stop_handle();
    let toolkit = tokio::spawn(client.serve());
    server
        .wait_for_tools(
            &["weather", "to_fahrenheit", "save_note"],
            Duration::from_secs(10),
        )
        .await?;

    // The agent's side: the LLM-client API of the same server.
    let atp = LlmClient::builder("dev")
        .base_url(server.base_url())
        .build()?;
    let providers = [Provider::OpenAi, Provider::Anthropic, Provider::Mistral];
    for provider in providers
        .into_iter()
        .filter(|p| only.is_none_or(|o| o == *p))
    {
        agent_loop(&atp, provider).await?;
    }

    stop.stop();
    toolkit.await??;
    server.shutdown().await;
    Ok(())
}
