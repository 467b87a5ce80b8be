//! Rich results and output schemas: tools that return content (text,
//! images, audio, resources), a `ToolResult` pairing content with
//! structured data, a type of the user's own implementing
//! `IntoToolResult`, and types that merely share the SDK's names. Over ATP
//! through a real atp-dev (the documented JSON shape), and over MCP to
//! rmcp's client on 127.0.0.1 (content blocks, `structuredContent`,
//! `outputSchema`).
#![cfg(feature = "mcp")]

use atp_sdk::content::{Audio, Content, Image, IntoToolResult, Resource, ResourceLink, ToolResult};
use atp_sdk::{ToolKitClient, Transport, atp_tool, registered_tools};
use atp_tests::mcp_client::{HttpServed, http_client};
use atp_tests::{WAIT, builder, call, spawn, start_server};
use rmcp::model::{CallToolRequestParams, CallToolResult, Tool};
use serde_json::{Value, json};

const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];

/// Draws a chart of the series.
#[atp_tool(read_only)]
fn chart(points: u32) -> Vec<Content> {
    vec![
        Content::text(format!("{points} points:")),
        Image::new(PNG, "image/png").into(),
    ]
}

/// Every kind of block, or the error.
#[atp_tool]
async fn every_block(fail: bool) -> Result<Vec<Content>, String> {
    if fail {
        return Err("no blocks today".into());
    }
    Ok(vec![
        Content::text("hi"),
        Audio::new(vec![1u8, 2, 3], "audio/wav").into(),
        Resource::text("file:///notes.md", "# Notes")
            .with_mime_type("text/markdown")
            .into(),
        ResourceLink::new("file:///report.pdf", "report.pdf")
            .with_mime_type("application/pdf")
            .into(),
    ])
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Stats {
    points: u32,
    label: Option<String>,
}

/// An image, with what is in it.
#[atp_tool]
fn chart_with_stats(points: u32) -> ToolResult {
    ToolResult::new([Image::new(PNG, "image/png")]).with_structured(&Stats {
        points,
        label: None,
    })
}

/// Today's weather, as a type of the user's own chooses to show it.
struct Weather {
    city: String,
    celsius: f64,
}

impl IntoToolResult for Weather {
    fn into_tool_result(self) -> ToolResult {
        ToolResult::new([Content::text(format!("{}: {} °C", self.city, self.celsius))])
    }
}

/// The weather.
#[atp_tool]
fn weather(city: String) -> Weather {
    Weather {
        city,
        celsius: 21.5,
    }
}

/// A user's own types that share the SDK's names: plain JSON.
mod mine {
    #[derive(serde::Serialize, schemars::JsonSchema)]
    pub(crate) struct Image {
        pub(crate) width: u32,
    }

    #[derive(serde::Serialize, schemars::JsonSchema)]
    pub(crate) struct Content {
        pub(crate) body: String,
    }
}

/// The user's own `Image`.
#[atp_tool]
fn my_image(width: u32) -> mine::Image {
    mine::Image { width }
}

/// The user's own `Content`, in a `Result` and a `Vec`.
#[atp_tool]
fn my_contents(body: String) -> anyhow::Result<Vec<mine::Content>> {
    Ok(vec![mine::Content { body }])
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Report {
    /// What was counted.
    name: String,
    count: u64,
    tags: Vec<String>,
}

/// A structured report.
#[atp_tool]
async fn report(name: String) -> Result<Report, String> {
    if name.is_empty() {
        return Err("name the report".into());
    }
    Ok(Report {
        name,
        count: 3,
        tags: vec!["a".into()],
    })
}

/// A number: an output schema, but not an object's.
#[atp_tool]
fn count_words(text: String) -> usize {
    text.split_whitespace().count()
}

/// A value of no particular shape.
#[atp_tool]
fn anything() -> Value {
    json!({"any": true})
}

const TOOLS: [&str; 10] = [
    "chart",
    "every_block",
    "chart_with_stats",
    "weather",
    "my_image",
    "my_contents",
    "report",
    "count_words",
    "anything",
    "echo",
];

fn def(name: &str) -> &'static atp_sdk::ToolDef {
    registered_tools().find(|t| t.name == name).unwrap()
}

#[test]
fn output_schemas_are_decided_by_the_return_type() {
    // A struct (in a `Result`): its serialized form's schema.
    let report = (def("report").output_schema)().expect("Report has a schema");
    assert_eq!(report["type"], "object", "{report}");
    assert_eq!(
        report["required"],
        json!(["name", "count", "tags"]),
        "{report}"
    );
    assert_eq!(report["properties"]["tags"]["type"], "array", "{report}");
    assert!(
        report.get("title").is_none(),
        "the type's name is left out: {report}"
    );
    // A number has one too; content, `Value` and plain text have none
    // that says more than any.
    assert_eq!(
        (def("count_words").output_schema)().unwrap()["type"],
        "integer"
    );
    for content in ["chart", "every_block", "chart_with_stats", "weather"] {
        assert_eq!((def(content).output_schema)(), None, "{content}");
    }
    // The user's own `Image` is a struct with a schema, not content.
    assert_eq!(
        (def("my_image").output_schema)().unwrap()["properties"]["width"]["type"],
        "integer"
    );
}

#[tokio::test]
async fn over_atp_content_is_the_documented_json() {
    let server = start_server().await;
    let toolkit = spawn(builder(&server, "rich-kit", Some(&TOOLS)).build().unwrap());
    server.wait_for_tools(&TOOLS, WAIT).await.unwrap();

    assert_eq!(
        call(&server, "chart", json!({"points": 2})).await,
        json!({"content": [
            {"type": "text", "text": "2 points:"},
            {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"},
        ]})
    );
    assert_eq!(
        call(&server, "every_block", json!({"fail": false})).await,
        json!({"content": [
            {"type": "text", "text": "hi"},
            {"type": "audio", "data": "AQID", "mimeType": "audio/wav"},
            {"type": "resource", "resource": {"uri": "file:///notes.md", "mimeType": "text/markdown", "text": "# Notes"}},
            {"type": "resource_link", "uri": "file:///report.pdf", "name": "report.pdf", "mimeType": "application/pdf"},
        ]})
    );
    assert_eq!(
        call(&server, "every_block", json!({"fail": true})).await,
        json!({"error": "no blocks today"})
    );
    assert_eq!(
        call(&server, "chart_with_stats", json!({"points": 5})).await,
        json!({
            "content": [{"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"}],
            "structuredContent": {"points": 5, "label": null},
        })
    );
    assert_eq!(
        call(&server, "weather", json!({"city": "Oslo"})).await,
        json!({"content": [{"type": "text", "text": "Oslo: 21.5 °C"}]})
    );
    // The user's own `Image` and `Content` are JSON, as any struct.
    assert_eq!(
        call(&server, "my_image", json!({"width": 7})).await,
        json!({"width": 7})
    );
    assert_eq!(
        call(&server, "my_contents", json!({"body": "b"})).await,
        json!([{"body": "b"}])
    );
    toolkit.shutdown().await.unwrap();
}

fn listed<'a>(tools: &'a [Tool], name: &str) -> &'a Tool {
    tools.iter().find(|t| t.name == name).unwrap()
}

async fn call_mcp(
    client: &atp_tests::mcp_client::Client,
    tool: &str,
    args: Value,
) -> CallToolResult {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    tokio::time::timeout(WAIT, client.call_tool(params))
        .await
        .expect("answered in time")
        .expect("a tool result")
}

fn blocks(result: &CallToolResult) -> Value {
    serde_json::to_value(&result.content).unwrap()
}

#[tokio::test]
async fn over_mcp_content_is_content_blocks_and_structs_have_output_schemas() {
    let toolkit = ToolKitClient::builder("", "rich-mcp")
        .transport(Transport::McpHttp)
        .tools(TOOLS)
        .build()
        .unwrap();
    let served = HttpServed::start(toolkit).await;
    let client = http_client(&served.url, None).await;

    let chart = call_mcp(&client, "chart", json!({"points": 2})).await;
    assert_eq!(chart.is_error, Some(false));
    assert_eq!(
        blocks(&chart),
        json!([
            {"type": "text", "text": "2 points:"},
            {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"},
        ])
    );
    assert_eq!(chart.structured_content, None);
    let image = chart.content[1].as_image().expect("an image block");
    assert_eq!(image.mime_type, "image/png");

    let every = call_mcp(&client, "every_block", json!({"fail": false})).await;
    // rmcp read each block as its own kind (it would fail the call on
    // one it can't read); the kinds, as rmcp writes them back:
    let kinds: Vec<Value> = blocks(&every)
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].clone())
        .collect();
    assert_eq!(kinds, ["text", "audio", "resource", "resource_link"]);
    let failed = call_mcp(&client, "every_block", json!({"fail": true})).await;
    assert_eq!(failed.is_error, Some(true));
    assert_eq!(
        blocks(&failed),
        json!([{"type": "text", "text": "no blocks today"}])
    );

    let with_stats = call_mcp(&client, "chart_with_stats", json!({"points": 5})).await;
    assert_eq!(
        with_stats.structured_content,
        Some(json!({"points": 5, "label": null}))
    );
    assert_eq!(blocks(&with_stats)[0]["type"], "image");

    let weather = call_mcp(&client, "weather", json!({"city": "Oslo"})).await;
    assert_eq!(
        blocks(&weather),
        json!([{"type": "text", "text": "Oslo: 21.5 °C"}])
    );

    // A struct: structured content, and its schema listed.
    let report = call_mcp(&client, "report", json!({"name": "n"})).await;
    assert_eq!(
        report.structured_content,
        Some(json!({"name": "n", "count": 3, "tags": ["a"]}))
    );
    let tools = tokio::time::timeout(WAIT, client.list_all_tools())
        .await
        .unwrap()
        .unwrap();
    let schema = listed(&tools, "report")
        .output_schema
        .as_ref()
        .expect("listed");
    assert_eq!(schema["type"], "object");
    assert_eq!(
        schema["properties"]["name"]["description"],
        "What was counted."
    );
    let mine = listed(&tools, "my_image")
        .output_schema
        .as_ref()
        .expect("listed");
    assert_eq!(mine["properties"]["width"]["type"], "integer");
    // rmcp's client negotiates 2025-11-25 over `initialize`: a number's
    // schema is not an object's, so it is left out there, and the number
    // goes as text only.
    assert_eq!(listed(&tools, "count_words").output_schema, None);
    for name in ["chart", "weather", "anything", "echo"] {
        assert_eq!(listed(&tools, name).output_schema, None, "{name}");
    }
    let count = call_mcp(&client, "count_words", json!({"text": "a b c"})).await;
    assert_eq!(blocks(&count), json!([{"type": "text", "text": "3"}]));
    assert_eq!(count.structured_content, None);

    client.cancel().await.unwrap();
    served.stop().await;
}
