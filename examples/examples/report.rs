//! A tool that talks back: a slow plain `fn` that reports its progress and
//! logs to the client, an `async fn` that asks the user to confirm before a
//! destructive step, and a chart returned as an image. Over MCP (any
//! client: Claude, Cursor, the MCP Inspector) each is what the client
//! shows; over ATP the progress and logs are the toolkit's own log lines,
//! asking answers that MCP is needed, and the image is base64 JSON.
//!
//! ```text
//! cargo run -p atp-examples --features mcp --example report            # MCP over stdio
//! cargo run -p atp-examples --features mcp --example report -- --http  # http://127.0.0.1:8788/mcp
//! ```

use std::time::Duration;

use atp_sdk::content::{Content, Image};
use atp_sdk::{Context, Elicitation, LogLevel, ToolKitClient, Transport, atp_tool};
use schemars::JsonSchema;
use serde::Deserialize;

/// Adds up the sales of each month and draws them as a bar chart.
#[atp_tool(title = "Monthly sales chart", read_only)]
fn sales_chart(
    /// How many months, counting back from this one.
    months: u32,
    ctx: Context,
) -> Vec<Content> {
    let months = months.clamp(1, 24);
    let mut totals = Vec::new();
    for month in 0..months {
        if ctx.is_cancelled() {
            break;
        }
        // The slow part: a real tool reads a database here.
        std::thread::sleep(Duration::from_millis(50));
        totals.push(u32::from(u8::try_from(month * 37 % 200).unwrap_or(0)) + 40);
        ctx.progress(
            f64::from(month + 1),
            Some(f64::from(months)),
            Some("adding up"),
        );
        ctx.log(LogLevel::Debug, format!("month {month} added up"));
    }
    ctx.log(LogLevel::Info, format!("{} months charted", totals.len()));
    vec![
        Content::text(format!("Sales of the last {} months:", totals.len())),
        Image::new(bar_chart_png(&totals), "image/png").into(),
    ]
}

/// What the user types to confirm.
#[derive(Deserialize, JsonSchema)]
struct Confirm {
    /// Type the report's name to delete it.
    name: String,
}

/// Deletes a saved report, once the user confirms.
#[atp_tool(destructive, idempotent)]
async fn delete_report(name: String, ctx: Context) -> Result<String, atp_sdk::CallError> {
    let message = format!("Delete the report {name:?}? This can't be undone.");
    Ok(match ctx.elicit::<Confirm>(&message).await? {
        Elicitation::Accept(confirm) if confirm.name == name => format!("deleted {name}"),
        Elicitation::Accept(_) => "the names differ: kept".to_owned(),
        Elicitation::Decline | Elicitation::Cancel => "kept".to_owned(),
    })
}

/// A PNG of one bar per value (heights in pixels, up to 255), 8 pixels
/// wide each, grey on white: an uncompressed PNG, so no image crate is
/// needed for the example.
fn bar_chart_png(heights: &[u32]) -> Vec<u8> {
    let width = (heights.len() as u32 * 8).max(1);
    let height = heights.iter().copied().max().unwrap_or(1).clamp(1, 255);
    // Rows of 8-bit greyscale pixels, each after its filter byte (0: none).
    let mut raw = Vec::with_capacity(((width + 1) * height) as usize);
    for y in 0..height {
        raw.push(0);
        for x in 0..width {
            let bar = heights[(x / 8) as usize];
            let inside = height - y <= bar && x % 8 != 7;
            raw.push(if inside { 0x60 } else { 0xff });
        }
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 0, 0, 0, 0]); // 8 bits, greyscale
    chunk(&mut png, b"IHDR", &header);
    chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = png.len();
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32(&png[start..]);
    png.extend_from_slice(&crc.to_be_bytes());
}

/// `data` as a zlib stream of stored (uncompressed) deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = data.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in data {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn main() -> Result<(), atp_sdk::Error> {
    let http = std::env::args().any(|a| a == "--http");
    ToolKitClient::builder("", "reports")
        .transport(if http {
            Transport::McpHttp
        } else {
            Transport::Mcp
        })
        .tools(["sales_chart", "delete_report"])
        .run()
}

#[cfg(test)]
mod tests {
    use atp_sdk::testing::TestClient;
    use serde_json::json;

    use super::*;

    fn client() -> ToolKitClient {
        ToolKitClient::builder("test-key", "reports")
            .tools(["sales_chart", "delete_report"])
            .build()
            .unwrap()
    }

    #[test]
    fn the_chart_is_a_png_with_a_good_checksum() {
        let png = bar_chart_png(&[10, 20, 5]);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        // The IHDR chunk's CRC, as every PNG reader checks it.
        let ihdr = &png[12..12 + 4 + 13];
        assert_eq!(crc32(ihdr).to_be_bytes(), png[29..33]);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926, "the standard check value");
    }

    #[tokio::test]
    async fn the_chart_comes_back_as_an_image_and_asking_needs_mcp() {
        let client = TestClient::new(client());
        let answer = client.call("sales_chart", json!({"months": 3})).await;
        assert_eq!(
            answer.atp["content"][0]["text"],
            "Sales of the last 3 months:"
        );
        assert_eq!(answer.atp["content"][1]["mimeType"], "image/png");
        assert_eq!(answer.mcp.content[1]["type"], "image");
        // Over ATP (the test client's protocol), asking the user answers
        // that MCP is needed.
        let asked = client.call("delete_report", json!({"name": "q3"})).await;
        assert!(
            asked.result().unwrap_err().contains("needs MCP"),
            "{:?}",
            asked.atp
        );
    }
}
